"""File helpers shared by every stage: atomic writes and checked extxyz I/O."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ase import Atoms


class StructureFileError(ValueError):
    """A structure file is missing or malformed."""


class UnreadableFileError(ValueError):
    """An input file exists but cannot be read as what it should be (a corrupt model)."""


class OutputError(OSError):
    """An output cannot be written (no permission, disk full); the message names it."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (torch's run to dozens of lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Turn any failure of the block that reads ``path`` into one
    :class:`UnreadableFileError` naming the file: the libraries that load models and
    checkpoints (torch, metatomic) raise errors that do not say which file they read."""
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise UnreadableFileError(f"{what} '{path}' cannot be read: {first_line(exc)}") from exc


def _temporary_names(path: Path) -> re.Pattern:
    # mkstemp's random part is 8 characters of [a-z0-9_]
    return re.compile(rf"\.{re.escape(path.stem)}\.tmp\.[a-z0-9_]{{8}}{re.escape(path.suffix)}")


def sweep_temporaries(path: str | Path) -> None:
    """Remove what a killed :func:`atomic_path` left beside ``path`` (a kill -9 runs no
    clean-up): its temporary files, full size or empty."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    pattern = _temporary_names(path)
    for stale in path.parent.iterdir():
        if pattern.fullmatch(stale.name):
            stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    An exception leaves no half-written ``path`` and no temporary file behind; the
    temporaries of a killed process are swept here on the next write.  The temporary name
    keeps the suffix, so writers that infer the format from it (matplotlib) still work.
    Failing to write (permission, disk space) raises :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp.", suffix=path.suffix,
                                   dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        # Only failures on the temporary or the target are the output's: an input the
        # block could not read keeps its own error.
        if getattr(exc, "filename", None) in (None, tmp, str(path)):
            raise _output_error(path, exc) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _output_error(path: Path, exc: OSError) -> OutputError:
    error = OutputError(f"cannot write '{path}': {exc.strerror or exc}")
    error.errno = exc.errno
    return error


def write_extxyz(path: str | Path, frames: list[Atoms]) -> None:
    from ase.io import write

    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")


def read_extxyz(path: str | Path, index: str = ":") -> list[Atoms]:
    """The frames of an extxyz file (``index``: ASE's, e.g. ``"100:200"``; default all), or
    one clear error naming the file and the problem."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"structure file '{path}' does not exist")
    if path.stat().st_size == 0:
        return []
    try:
        frames = read(path, index=index, format="extxyz")
    except Exception as exc:  # ASE raises many exception types on malformed input
        raise StructureFileError(f"'{path}' is not a valid extxyz file: {exc}") from exc
    return frames


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def resumable_directory(directory: str | Path, signature: str) -> Path:
    """A work directory whose partial results a rerun may reuse, provided the work is the
    same: when ``signature`` (a digest of inputs and settings) differs from the one stored
    there, the stale contents are wiped first."""
    directory = Path(directory)
    marker = directory / "signature"
    if directory.exists() and (not marker.exists() or marker.read_text() != signature):
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        marker.write_text(signature)
    return directory


def digest(*parts: Any) -> str:
    """A stable digest of JSON-serialisable values and file contents (Path objects)."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            hasher.update(part.read_bytes())
        else:
            hasher.update(json.dumps(part, sort_keys=True, default=str).encode())
    return hasher.hexdigest()


class RowLog:
    """The finished items of a long job, one JSON line each, appended (and flushed to disk)
    as they finish, so that a killed job started again skips them.  Keep it in a
    :func:`resumable_directory`, so a change of settings starts a fresh log."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: dict[str, Any] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # the line a kill cut short
                    continue
                self.rows[entry["key"]] = entry["row"]

    @staticmethod
    def _key(key: tuple) -> str:
        return json.dumps(list(key))

    def get(self, *key: Any) -> Any:
        return self.rows.get(self._key(key))

    def add(self, row: Any, *key: Any) -> None:
        self.rows[self._key(key)] = row
        with open(self.path, "a") as handle:
            handle.write(json.dumps({"key": self._key(key), "row": row}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def remembered(cache: str | Path, path: str | Path, compute: Any, *context: Any) -> Any:
    """``compute()``, remembered in the JSON file ``cache`` under the identity of ``path``
    (resolved path, size, modification time) and ``context``: checks the workflow makes on
    user files when it starts cost nothing on a rerun with nothing changed.  Only a value
    that ``compute`` returns is remembered; an exception propagates and is retried next time."""
    path, cache = Path(path), Path(cache)
    stat = path.stat()
    key = digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns, *context)
    try:
        known = read_json(cache)
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = compute()
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_json(cache, known)
    return known[key]
