"""Force filter and the per-subset train/validation/test split (paper IV.A and IV.D)."""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

SPLITS = ("train", "val", "test")


@dataclass
class SplitResult:
    parts: dict[str, list[Atoms]]
    filtered: list[dict] = field(default_factory=list)


def max_force(atoms: Atoms) -> float:
    return float(np.linalg.norm(atoms.get_forces(), axis=1).max()) if len(atoms) else 0.0


def force_threshold(subset: str, thresholds: dict[str, float]) -> float:
    return thresholds.get(subset, thresholds.get("default", np.inf))


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Sizes of the three parts; what rounding leaves over goes to train.  A subset of three
    or more structures gives at least one to each part with a non-zero fraction, so small
    presets still validate and test on every subset."""
    def share(fraction: float) -> int:
        count = int(np.floor(n * fraction))
        return max(count, 1) if fraction > 0 and n >= 3 else count

    n_val, n_test = share(fractions[1]), share(fractions[2])
    return n - n_val - n_test, n_val, n_test


def filter_and_split(
    frames: list[Atoms],
    fractions: tuple[float, float, float],
    thresholds: dict[str, float],
    seed: int,
) -> SplitResult:
    """Drop structures whose largest force exceeds their subset's threshold, then shuffle
    each subset separately and cut it 80/10/10 (fractions from config); merge the subsets
    in order of first appearance."""
    by_subset: dict[str, list[Atoms]] = defaultdict(list)
    filtered = []
    for atoms in frames:
        subset = str(atoms.info.get("subset", "all"))
        force = max_force(atoms)
        limit = force_threshold(subset, thresholds)
        if force > limit:
            filtered.append({"structure_index": atoms.info.get("structure_index"),
                             "subset": subset, "max_force_eV_A": force, "threshold_eV_A": limit})
            continue
        by_subset[subset].append(atoms)

    parts: dict[str, list[Atoms]] = {name: [] for name in SPLITS}
    for subset, members in by_subset.items():
        # Seeded by the subset's name, so adding a subset leaves the others' splits alone.
        rng = np.random.default_rng([seed, zlib.crc32(subset.encode())])
        order = rng.permutation(len(members))
        n_train, n_val, _ = split_counts(len(members), fractions)
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val),
                  "test": (n_train + n_val, len(members))}
        for name, (start, stop) in bounds.items():
            parts[name].extend(members[i] for i in order[start:stop])
    return SplitResult(parts, filtered)
