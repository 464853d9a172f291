"""File helpers shared by every stage: atomic writes and checked extxyz I/O."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ase import Atoms


class StructureFileError(ValueError):
    """A structure file is missing or malformed."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A kill or an exception leaves no half-written ``path`` behind.  The temporary name
    keeps the suffix, so writers that infer the format from it (matplotlib) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.tmp.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_extxyz(path: str | Path, frames: list[Atoms]) -> None:
    from ase.io import write

    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")


def read_extxyz(path: str | Path) -> list[Atoms]:
    """All frames of an extxyz file, or one clear error naming the file and the problem."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"structure file '{path}' does not exist")
    if path.stat().st_size == 0:
        return []
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many exception types on malformed input
        raise StructureFileError(f"'{path}' is not a valid extxyz file: {exc}") from exc
    return frames


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
