"""Where a result came from: code version, configuration, packages and hardware.

Every table and figure under ``results/`` records :func:`provenance` (see
``analysis/output.py``): a CSV in a sidecar ``results/provenance/<name>.csv.json`` (with the
SHA-256 of the table it describes), a PDF in its own metadata (the ``Keywords`` entry).
``python -m petmad.provenance results/<file>...`` prints the record of each file.

The facts only the workflow knows (the hash of the validated, merged configuration, the
master seed, the reference engine) reach the jobs through the environment variable
:data:`ENVIRONMENT_VARIABLE`, which ``rules/common.smk`` sets once for every job; a script
run by hand without it records them as ``"unknown"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from petmad.io import atomic_path, digest

ENVIRONMENT_VARIABLE = "PETMAD_PROVENANCE"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Distributions whose versions can change a result; those not installed are left out.
PACKAGES = ("torch", "metatrain", "metatomic-torch", "metatomic-ase", "ase", "ipi", "sevenn",
            "gpaw", "phonopy", "featomic", "numpy", "scipy", "pandas", "matplotlib",
            "pydantic", "snakemake")
UNKNOWN = "unknown"
PDF_KEYWORDS_PREFIX = "petmad-provenance "


def workflow_facts(config) -> dict[str, Any]:
    """What the workflow exports to its jobs, from a validated :class:`petmad.config.Config`:
    the hash of the whole configuration, the master seed every stochastic step derives from,
    the device, and the reference engine with its settings."""
    engine = config.reference.engine
    settings = getattr(config.reference, engine, None)  # 'emt' has no settings section
    return {
        "config_hash": digest(config.model_dump(mode="json")),
        "seed": config.seed,
        "device": config.device,
        "reference_engine": engine,
        "reference_settings": settings.model_dump(mode="json") if settings else {},
    }


def git_commit(root: str | Path = PROJECT_ROOT) -> str:
    """The commit checked out at ``root``, with ``-dirty`` when tracked or untracked
    (not ignored) files differ from it; ``"unknown"`` outside a git checkout or without git."""
    if shutil.which("git") is None:
        return UNKNOWN

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], check=False,
                                  capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "HEAD")
    if not commit:
        return UNKNOWN
    status = git("status", "--porcelain")  # None (git failed): cannot vouch it is clean
    return commit if status == "" else f"{commit}-dirty"


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def cpu_model() -> str:
    """The CPU's marketing name (``platform.processor()`` is empty on most Linux systems)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """The GPUs of this machine, without importing torch (seconds, for a table writer):
    torch's view when it is already loaded, else ``nvidia-smi``; empty when there are none."""
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            return []
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def hardware() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": int(os.environ.get("OMP_NUM_THREADS") or 0) or None,
        "gpus": gpu_names(),
        "platform": platform.platform(),
    }


def producer() -> str:
    """The module or script this process runs (``analysis.accuracy``, ...)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else UNKNOWN


def provenance(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance record of a result written now by this process.  ``extra`` adds
    fields (e.g. the seed of a job)."""
    try:
        facts = json.loads(os.environ.get(ENVIRONMENT_VARIABLE) or "{}")
    except json.JSONDecodeError:
        facts = {}
    record = {
        "git_commit": git_commit(),
        "config_hash": facts.get("config_hash", UNKNOWN),
        "seed": facts.get("seed", UNKNOWN),
        "device": facts.get("device", UNKNOWN),
        "reference_engine": facts.get("reference_engine", UNKNOWN),
        "reference_settings": facts.get("reference_settings", {}),
        "packages": package_versions(),
        "python": platform.python_version(),
        "hardware": hardware(),
        "producer": producer(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    record.update(extra or {})
    return record


# --------------------------------------------------------------------------- result files


def sidecar_path(path: str | Path) -> Path:
    """Where the provenance of a table lives: ``results/x.csv`` ->
    ``results/provenance/x.csv.json``."""
    path = Path(path)
    return path.parent / "provenance" / f"{path.name}.json"


@contextlib.contextmanager
def recorded_result(path: str | Path, extra: dict[str, Any] | None = None) -> Iterator[Path]:
    """Like :func:`petmad.io.atomic_path`, and the finished file's provenance (with its
    SHA-256) goes to :func:`sidecar_path`.  Both are written to temporary files first, and
    only a block that succeeds moves them into place (the table first), so a kill or an
    exception leaves neither; a kill between the two moves leaves the new table with the
    previous record or none, which ``python -m petmad.provenance`` reports (the ``sha256``
    differs) and the next write mends.  The record of a table that is gone (Snakemake
    deletes a job's outputs before running it) describes nothing and is removed first, so
    a failed write leaves no record without its table."""
    path = Path(path)
    if not path.exists():
        # (a directory that cannot be written fails below, naming the output)
        with contextlib.suppress(OSError):
            sidecar_path(path).unlink(missing_ok=True)
    with atomic_path(sidecar_path(path)) as sidecar, atomic_path(path) as tmp:
        yield tmp
        record = provenance({"file": path.name, "sha256": digest(tmp), **(extra or {})})
        sidecar.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def pdf_metadata(path: str | Path, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """PDF document-information entries for matplotlib's ``savefig(metadata=...)``: the
    whole record as JSON in ``Keywords`` (matplotlib warns about non-standard keys), a
    one-line summary in ``Subject``."""
    record = provenance({"file": Path(path).name, **(extra or {})})
    return {
        "Title": Path(path).stem,
        "Subject": (f"petmad-bench result; git {record['git_commit']}; "
                    f"config {str(record['config_hash'])[:12]}"),
        "Keywords": PDF_KEYWORDS_PREFIX + json.dumps(record, sort_keys=True,
                                                     separators=(",", ":")),
    }


def write_configuration(path: str | Path, html: str | Path, config) -> None:
    """The validated configuration (every default filled in) as YAML, headed by its hash and
    usable as a ``--configfile``, and as an HTML page for the report; each with a provenance
    sidecar like every table."""
    import html as markup

    import yaml

    config_hash = workflow_facts(config)["config_hash"]
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    header = (
        "# The configuration this petmad-bench run used: config.yaml, the --configfile presets\n"
        "# and --config overrides merged and validated, with every default filled in.\n"
        f"# config_hash: {config_hash}\n"
        "# (the config_hash that each result's provenance records; see petmad/provenance.py)\n"
    )
    made_here = {"producer": "petmad.provenance.write_configuration"}
    with recorded_result(path, made_here) as tmp:
        tmp.write_text(header + text)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        "<title>petmad-bench configuration</title>\n"
        "<style>body{font-family:sans-serif;margin:1em} pre{font-size:90%;"
        "background:#f6f6f6;padding:1em}</style></head>\n<body>\n"
        "<h2>Configuration of this run</h2>\n"
        f"<p>config_hash <code>{config_hash}</code>, also in <code>{Path(path).name}</code> "
        "(usable as a <code>--configfile</code>) and in the provenance of each result.</p>\n"
        f"<pre>{markup.escape(text)}</pre>\n</body>\n</html>\n"
    )
    with recorded_result(html, made_here) as tmp:
        tmp.write_text(page)


_PDF_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _pdf_literal_string(data: str, start: int) -> str:
    """The PDF literal string whose opening parenthesis is at ``start``, unescaped."""
    out, depth, i = [], 0, start
    while i < len(data):
        char = data[i]
        if char == "\\":
            following = data[i + 1]
            octal = re.match(r"[0-7]{1,3}", data[i + 1:i + 4])
            if octal:
                out.append(chr(int(octal.group(), 8)))
                i += 1 + len(octal.group())
                continue
            out.append(_PDF_ESCAPES.get(following, following))
            i += 2
            continue
        if char == "(":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out)
        out.append(char)
        i += 1
    raise ValueError("unterminated PDF string")


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance recorded for a result file (its sidecar, or a PDF's metadata); None
    when there is none."""
    path = Path(path)
    if path.suffix == ".pdf":
        # matplotlib writes the document information uncompressed, ASCII as a literal string
        data = path.read_bytes().decode("latin-1")
        found = re.search(r"/Keywords\s*\(", data)
        if not found:
            return None
        keywords = _pdf_literal_string(data, found.end() - 1)
        if not keywords.startswith(PDF_KEYWORDS_PREFIX):
            return None
        return json.loads(keywords[len(PDF_KEYWORDS_PREFIX):])
    sidecar = sidecar_path(path)
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """Print the provenance of result files; exit status 1 when one has none or its table
    changed since it was recorded."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.split(";")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        record = read_provenance(path) if path.is_file() else None
        if record is None:
            print(f"{path}: no provenance recorded", file=sys.stderr)
            status = 1
            continue
        if "sha256" in record and record["sha256"] != digest(path):
            print(f"{path}: changed since its provenance was recorded", file=sys.stderr)
            status = 1
        print(json.dumps({str(path): record}, indent=2, sort_keys=True))
    return status


if __name__ == "__main__":
    sys.exit(main())
