"""Label structures with a reference engine: parallel, checkpointed in chunks, resumable.

Work is cut into chunks of ``chunk_size`` structures.  Each finished chunk is written
atomically to ``<output>.chunks/``; a rerun after a kill skips finished chunks, so the
final file is byte-identical to an uninterrupted run.  Failed structures are kept in the
chunk records with the engine's message and reported, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase import Atoms
from tqdm import tqdm

from petmad.io import (
    atomic_path,
    read_extxyz,
    read_json,
    remembered,
    resumable_directory,
    write_extxyz,
    write_json,
)
from petmad.reference.engines import ReferenceEngine


class LabelingError(RuntimeError):
    """Too many structures failed, or the engine cannot run at all."""


@dataclass
class Failure:
    index: int
    subset: str
    error: str


def _run_one(engine: ReferenceEngine, index: int, atoms: Atoms) -> tuple[int, Atoms | Failure]:
    try:
        labeled = engine.compute(atoms)
    except Exception as exc:  # the engine's own message is what the user needs
        return index, Failure(index, str(atoms.info.get("subset", "")), f"{type(exc).__name__}: {exc}")
    labeled.info["structure_index"] = index
    return index, labeled


_worker_engine: ReferenceEngine | None = None
MIN_ITEMS_PER_WORKER = 32


def _init_worker(engine: ReferenceEngine) -> None:
    global _worker_engine
    import torch

    torch.set_num_threads(1)
    _worker_engine = engine


def _run_in_worker(item: tuple[int, Atoms]) -> tuple[int, Atoms | Failure]:
    assert _worker_engine is not None
    return _run_one(_worker_engine, *item)


def _signature(engine: ReferenceEngine, frames: list[Atoms], chunk_size: int,
               first_index: int) -> str:
    """Identifies the work so stale chunks from other inputs or settings are never reused."""
    digest = hashlib.sha256()
    digest.update(json.dumps(engine.describe(), sort_keys=True, default=str).encode())
    digest.update(f"{chunk_size} {first_index}".encode())
    for atoms in frames:
        digest.update(atoms.numbers.tobytes())
        digest.update(atoms.positions.tobytes())
        digest.update(atoms.cell.array.tobytes())
    return digest.hexdigest()


class ChunkStore:
    """Finished chunks on disk: ``NNNNN.extxyz`` (labeled) and ``NNNNN.failed.json``."""

    def __init__(self, directory: Path, signature: str):
        self.directory = resumable_directory(directory, signature)

    def _paths(self, chunk: int) -> tuple[Path, Path]:
        return self.directory / f"{chunk:05d}.extxyz", self.directory / f"{chunk:05d}.failed.json"

    def done(self, chunk: int) -> bool:
        # The failure record is written last, so its presence marks a complete chunk.
        return self._paths(chunk)[1].exists()

    def save(self, chunk: int, labeled: list[Atoms], failures: list[Failure]) -> None:
        frames_path, failed_path = self._paths(chunk)
        if labeled:
            write_extxyz(frames_path, labeled)
        else:
            with atomic_path(frames_path):
                pass  # an empty chunk: every structure in it failed
        write_json(failed_path, [f.__dict__ for f in failures])

    def load_failures(self, chunk: int) -> list[Failure]:
        return [Failure(**record) for record in read_json(self._paths(chunk)[1])]

    def frames_path(self, chunk: int) -> Path:
        return self._paths(chunk)[0]


def _results(
    engine: ReferenceEngine, items: list[tuple[int, Atoms]], workers: int
) -> Iterator[tuple[int, Atoms | Failure]]:
    # Each worker pays ~10 s to start (imports, model load): small jobs run in-process.
    if workers <= 1 or len(items) < MIN_ITEMS_PER_WORKER * workers:
        for item in items:
            yield _run_one(engine, *item)
        return
    # spawn: torch and OpenMP state do not survive fork reliably.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(items)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(engine,),
    ) as pool:
        yield from pool.map(_run_in_worker, items)


def label_structures(
    frames: list[Atoms],
    engine: ReferenceEngine,
    output: str | Path,
    *,
    workers: int = 1,
    chunk_size: int = 16,
    max_failed_fraction: float = 0.5,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    first_index: int = 0,
) -> dict[str, Any]:
    """Label ``frames`` into ``output`` (extxyz) and ``output`` + ``.json`` (what labeled it,
    which structures failed and why).  Returns that summary.

    ``frames`` may be one shard of a dataset, starting at structure ``first_index`` of it:
    structures and failures are then numbered as in the whole dataset, so that
    :func:`gather_shards` writes what one job labeling everything writes.
    """
    output = Path(output)
    engine.check_available()
    engine.prepare({symbol for atoms in frames for symbol in atoms.get_chemical_symbols()})
    end = first_index + len(frames)
    chunks = [list(range(start, min(start + chunk_size, end)))
              for start in range(first_index, end, chunk_size)]
    store = ChunkStore(output.parent / f"{output.name}.chunks",
                       _signature(engine, frames, chunk_size, first_index))
    pending = [c for c in range(len(chunks)) if not store.done(c)]
    items = [(i, frames[i - first_index]) for c in pending for i in chunks[c]]

    bar = tqdm(total=len(frames), initial=len(frames) - len(items), desc=f"labeling ({engine.name})",
               unit="structure", disable=not progress, mininterval=2.0)
    buffer: dict[int, Atoms | Failure] = {}
    pending_iter = iter(pending)
    current = next(pending_iter, None)
    for index, result in _results(engine, items, workers):
        buffer[index] = result
        bar.update(1)
        while current is not None and all(i in buffer for i in chunks[current]):
            results = [buffer.pop(i) for i in chunks[current]]
            store.save(current,
                       [r for r in results if isinstance(r, Atoms)],
                       [r for r in results if isinstance(r, Failure)])
            if on_chunk is not None:
                on_chunk(current)
            current = next(pending_iter, None)
    bar.close()

    failures = [f for c in range(len(chunks)) for f in store.load_failures(c)]
    summary = _summary(engine.describe(), len(frames), [f.__dict__ for f in failures],
                       max_failed_fraction)
    _write_labeled(output, summary, [store.frames_path(c) for c in range(len(chunks))])
    shutil.rmtree(store.directory)
    return summary


def _summary(description: dict[str, Any], n_input: int, failures: list[dict[str, Any]],
             max_failed_fraction: float) -> dict[str, Any]:
    """What labeled the structures and which failed; raises when too many did."""
    if n_input and len(failures) > max_failed_fraction * n_input:
        shown = "; ".join(f"structure {f['index']} ({f['subset']}): {f['error']}"
                          for f in failures[:3])
        raise LabelingError(
            f"{len(failures)} of {n_input} structures failed with engine "
            f"'{description['engine']}' (more than labeling.max_failed_fraction="
            f"{max_failed_fraction}); first: {shown}")
    return {**description, "n_input": n_input, "n_labeled": n_input - len(failures),
            "n_failed": len(failures), "failures": failures}


def _write_labeled(output: Path, summary: dict[str, Any], parts: list[Path]) -> None:
    """``output`` as the concatenation of ``parts`` (extxyz frames are independent blocks),
    with its summary beside it."""
    write_json(output.with_name(output.name + ".json"), summary)
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as sink:
            for part in parts:
                sink.write(part.read_bytes())


def gather_shards(shards: list[str | Path], output: str | Path,
                  max_failed_fraction: float) -> dict[str, Any]:
    """One dataset's labels from its shards (in order), as one job would have written them:
    the same frames, bytes and summary.  The failed fraction is checked over the dataset."""
    summaries = [read_json(f"{shard}.json") for shard in shards]
    if not summaries:
        raise LabelingError("no labeling shards to gather")
    description = {key: value for key, value in summaries[0].items()
                   if key not in ("n_input", "n_labeled", "n_failed", "failures")}
    summary = _summary(description, sum(s["n_input"] for s in summaries),
                       [failure for s in summaries for failure in s["failures"]],
                       max_failed_fraction)
    _write_labeled(Path(output), summary, [Path(shard) for shard in shards])
    return summary


SPLIT_NAMES = ("train", "val", "test")


def read_label_files(engine: ReferenceEngine, sources: list[str | Path]) -> list[Atoms]:
    """The ``file`` engine's structures from one file, or from pre-split train/val/test
    files (each structure then carries its ``split``, which the split step keeps)."""
    if len(sources) not in (1, len(SPLIT_NAMES)):
        raise ValueError(f"give one labels file or one per split {SPLIT_NAMES}, got {len(sources)}")
    frames = []
    for position, source in enumerate(sources):
        for atoms in engine.read_labeled(source):
            if len(sources) > 1:
                atoms.info["split"] = SPLIT_NAMES[position]
            # A file written by this workflow keeps its own indices (they name the
            # structures of its dataset report); other files are numbered in order.
            atoms.info.setdefault("structure_index", len(frames))
            frames.append(atoms)
    return frames


def import_labeled(engine: ReferenceEngine, sources: list[str | Path], output: str | Path) -> dict[str, Any]:
    """The ``file`` engine: check a user's labeled file(s) and copy them in the workflow's
    layout.  Everything is read and checked before anything is written."""
    frames = read_label_files(engine, sources)
    summary = {**engine.describe(), "source": [str(s) for s in sources], "n_input": len(frames),
               "n_labeled": len(frames), "n_failed": 0, "failures": []}
    write_extxyz(output, frames)
    write_json(Path(output).with_name(Path(output).name + ".json"), summary)
    return summary


def check_label_files(engine: ReferenceEngine, paths: list[str | Path], cache: str | Path) -> None:
    """Read and check every existing labels file when the workflow starts, before any job
    replaces a file in ``data/``.  A file checked before with the same settings is not read
    again while it is unchanged (``cache``).  Missing files are left to Snakemake, which
    names them."""
    for path in map(Path, paths):
        if path.is_file():
            remembered(cache, path, lambda path=path: len(engine.read_labeled(path)),
                       engine.settings)


def read_labeled(path: str | Path) -> list[Atoms]:
    return read_extxyz(path)
