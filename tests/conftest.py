import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Tests run on whatever cores the machine has; keep each process single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def root() -> Path:
    return ROOT


def snakemake(root, workdir, *args, configfiles=("config.yaml", "presets/smoke.yaml")):
    """Run the workflow in ``workdir`` with the given config files (relative to the project
    root unless absolute)."""
    command = [sys.executable, "-m", "snakemake", *args, "--directory", str(workdir),
               "--snakefile", str(root / "Snakefile"), "--cores", "2",
               "--configfile", *[str(root / c) for c in configfiles]]
    return subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke preset's whole DAG, built once per test session (several minutes); tests
    read it, and those that need to change something work on copies."""
    workdir = tmp_path_factory.mktemp("smoke")
    result = snakemake(ROOT, workdir, "all")
    assert result.returncode == 0, result.stderr[-3000:]
    return ROOT, workdir
