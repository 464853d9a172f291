#!/usr/bin/env bash
# Create (or bring up to date) the project's virtual environment in .venv.
#   ./install.sh            Python packages, plus GPAW when its system libraries can be had
#   PETMAD_GPAW=0 ./install.sh   skip GPAW (the optional real-DFT reference engine)
# Idempotent: a second run with unchanged requirements returns in seconds.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv
stamp="$VENV/.installed-$(cat requirements.txt install.sh | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip
# torch first and pinned: any other version pulls a multi-GB CUDA build.
pip install "torch==2.13.0"
pip install -r requirements.txt

# GPAW (real DFT reference) builds against libxc and OpenBLAS and needs PAW setups.
if [ "${PETMAD_GPAW:-1}" != "0" ] && ! "$VENV/bin/python" -c "import gpaw" 2>/dev/null; then
  if ! dpkg -s libxc-dev libopenblas-dev gpaw-data >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        libxc-dev libopenblas-dev gpaw-data >/dev/null
    else
      echo "install.sh: GPAW skipped (needs: apt-get install libxc-dev libopenblas-dev gpaw-data)" >&2
    fi
  fi
  if dpkg -s libxc-dev libopenblas-dev gpaw-data >/dev/null 2>&1; then
    CC=g++ pip install "gpaw==26.7.0"
  fi
fi
rm -f "$VENV"/.installed-*
touch "$stamp"
