import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Tests run on whatever cores the machine has; keep each process single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (pytest.ini: ``-n 2``), the modules that read the session's smoke
    run go to one process as one unit, so that it is built once; every other test goes to
    whichever process is free.  The single-threaded unit tests then use the core a
    Snakemake run leaves idle."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SmokeRunApart(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return "smoke run" if reads_the_smoke_run(config.rootpath / module) else nodeid

    return SmokeRunApart(config, log)


@functools.cache
def reads_the_smoke_run(module: Path) -> bool:
    return "smoke_run" in module.read_text()


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
