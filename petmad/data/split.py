"""Force filter and the per-subset train/validation/test split (paper IV.A and IV.D)."""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from petmad.io import StructureFileError

SPLITS = ("train", "val", "test")


@dataclass
class SplitResult:
    parts: dict[str, list[Atoms]]
    filtered: list[dict] = field(default_factory=list)
    # structures past a subset's wanted count (max_per_subset), per subset: labeled and
    # valid, but the subset was full
    surplus: dict[str, int] = field(default_factory=dict)


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


def composition_residuals(frames: list[Atoms], keep: np.ndarray) -> np.ndarray:
    """Energy per atom minus a least-squares fit of per-species energies (fitted on
    ``keep``), for every structure."""
    species = sorted({int(z) for atoms in frames for z in atoms.numbers})
    counts = np.array([[np.count_nonzero(atoms.numbers == z) for z in species] for atoms in frames],
                      dtype=float)
    energies = np.array([atoms.get_potential_energy() for atoms in frames])
    mu, *_ = np.linalg.lstsq(counts[keep], energies[keep], rcond=None)
    return (energies - counts @ mu) / counts.sum(axis=1)


def energy_outliers(frames: list[Atoms], threshold: float, max_rounds: int = 5) -> np.ndarray:
    """Structures whose energy a composition fit misses by more than ``threshold`` eV/atom.

    Such labels are failures of the reference engine (a potential extrapolating far out
    of its domain gave +1000 eV/atom with small forces), not chemistry.  The fit is
    repeated without the outliers until the set is stable."""
    outlier = np.zeros(len(frames), dtype=bool)
    if not frames:
        return outlier
    for _ in range(max_rounds):
        updated = np.abs(composition_residuals(frames, ~outlier)) > threshold
        if np.array_equal(updated, outlier):
            break
        outlier = updated
    return outlier


def filter_and_split(
    frames: list[Atoms],
    fractions: tuple[float, float, float],
    thresholds: dict[str, float],
    seed: int,
    energy_threshold: float | None = None,
    max_per_subset: dict[str, int] | None = None,
) -> SplitResult:
    """Drop structures whose largest force exceeds their subset's threshold (paper II.A)
    or whose energy is an outlier (``energy_threshold`` eV/atom), then shuffle each subset
    separately and cut it 80/10/10 (fractions from config); merge the subsets in order of
    first appearance.  Structures that carry a ``split`` (pre-split labels files) keep it,
    in file order.  ``max_per_subset`` keeps at most that many structures of a subset that
    pass the filters, the first in input order (a set generated with room for failures and
    outliers then has exactly the wanted sizes, as the paper's MAD counts are)."""
    by_subset: dict[str, list[Atoms]] = defaultdict(list)
    filtered = []
    kept = []
    for atoms in frames:
        subset = str(atoms.info.get("subset", "all"))
        force = max_force(atoms)
        limit = force_threshold(subset, thresholds)
        if force > limit:
            filtered.append({"structure_index": atoms.info.get("structure_index"), "subset": subset,
                             "reason": f"max force {force:.4g} eV/Å > {limit:g}"})
        else:
            kept.append(atoms)
    outliers = energy_outliers(kept, energy_threshold) if energy_threshold else np.zeros(len(kept), bool)
    accepted = []
    surplus: dict[str, int] = {}
    for atoms, outlier in zip(kept, outliers):
        subset = str(atoms.info.get("subset", "all"))
        if outlier:
            filtered.append({"structure_index": atoms.info.get("structure_index"), "subset": subset,
                             "reason": f"energy off a composition fit by > {energy_threshold:g} eV/atom"})
        elif max_per_subset and len(by_subset[subset]) >= max_per_subset.get(subset, np.inf):
            surplus[subset] = surplus.get(subset, 0) + 1
        else:
            by_subset[subset].append(atoms)
            accepted.append(atoms)

    parts: dict[str, list[Atoms]] = {name: [] for name in SPLITS}
    if any("split" in atoms.info for atoms in accepted):
        # Pre-split labels (a published set's train/val/test files) keep their split.
        for atoms in accepted:
            parts[_assigned_split(atoms)].append(atoms)
        return SplitResult(_cover_species(parts), filtered, surplus)
    for subset, members in by_subset.items():
        # Seeded by the subset's name, so adding a subset leaves the others' splits alone.
        rng = np.random.default_rng([seed, zlib.crc32(subset.encode())])
        order = rng.permutation(len(members))
        n_train, n_val, _ = split_counts(len(members), fractions)
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val),
                  "test": (n_train + n_val, len(members))}
        for name, (start, stop) in bounds.items():
            parts[name].extend(members[i] for i in order[start:stop])
    return SplitResult(_cover_species(parts), filtered, surplus)


def _assigned_split(atoms: Atoms) -> str:
    split = str(atoms.info.get("split"))
    if split not in SPLITS:
        raise StructureFileError(
            f"structure {atoms.info.get('structure_index')} has split {split!r}; "
            f"a pre-split dataset gives every structure one of {SPLITS}")
    return split


def _cover_species(parts: dict[str, list[Atoms]]) -> dict[str, list[Atoms]]:
    """Move validation/test structures with a species absent from training into training:
    a model cannot predict (nor be fine-tuned to) species it never saw."""
    known = {z for atoms in parts["train"] for z in atoms.numbers}
    for name in ("val", "test"):
        for atoms in list(parts[name]):
            if not set(atoms.numbers) <= known:
                parts[name].remove(atoms)
                parts["train"].append(atoms)
                known |= set(atoms.numbers)
    return parts
