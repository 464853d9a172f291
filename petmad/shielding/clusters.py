"""Finite clusters of whole molecules cut from a periodic molecular crystal.

A molecule is a set of heavy atoms joined by bonds shorter than ``HEAVY_BOND_A``, plus the
hydrogens whose nearest heavy atom belongs to it (so that a proton displaced along a
hydrogen bond, as in path-integral frames, still belongs to exactly one molecule).  Each
molecule is made whole across periodic boundaries; a cluster around a target atom is every
periodic image of a whole molecule having an atom within ``radius`` of the target.  A
hydrogen of the cluster can serve as a training label only when every crystal atom within
the shielding model's cutoff of it is in the cluster.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np
from ase import Atoms

HEAVY_BOND_A = 1.8  # C–C, C–O bonds are < 1.6 Å; the O···O of a hydrogen bond is ~2.6 Å


@dataclass
class Cluster:
    atoms: Atoms  # the cluster, non-periodic, the target atom first
    crystal_index: np.ndarray  # for every cluster atom, its index in the crystal frame
    complete: np.ndarray  # per cluster atom: its environment within the cutoff is inside


def _minimum_image(vectors: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Vectors wrapped to their nearest image by rounding fractional coordinates (exact for
    vectors shorter than half the smallest cell height: bonds, not general distances)."""
    fractional = np.asarray(vectors) @ np.linalg.inv(cell)
    return (fractional - np.round(fractional)) @ cell


def molecules(atoms: Atoms) -> list[np.ndarray]:
    """Indices of the atoms of every molecule (heavy-atom bonds, H to the nearest heavy)."""
    cell = atoms.cell.array
    heavy = np.flatnonzero(atoms.numbers > 1)
    hydrogens = np.flatnonzero(atoms.numbers == 1)
    positions = atoms.positions
    pair = _minimum_image(positions[heavy][:, None] - positions[heavy][None], cell)
    bonded = np.linalg.norm(pair, axis=-1) < HEAVY_BOND_A
    label = -np.ones(len(heavy), dtype=int)
    for start in range(len(heavy)):
        if label[start] >= 0:
            continue
        label[start] = start
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for other in np.flatnonzero(bonded[current] & (label < 0)):
                label[other] = start
                queue.append(other)
    owner = {int(h): int(heavy[np.argmin(np.linalg.norm(
        _minimum_image(positions[heavy] - positions[h], cell), axis=1))]) for h in hydrogens}
    groups = []
    for root in np.unique(label):
        members = heavy[label == root]
        groups.append(np.sort(np.concatenate(
            [members, [h for h, o in owner.items() if o in set(members.tolist())]]
        ).astype(int)))
    return groups


def whole_positions(atoms: Atoms, members: np.ndarray) -> np.ndarray:
    """Positions of one molecule made whole across periodic boundaries: walking along its
    bonds from the first atom, each atom goes to the image nearest the atom it is bonded to
    (a molecule may be longer than half the cell, so the walk must follow bonds)."""
    cell = atoms.cell.array
    positions = atoms.positions[members]
    heavy = atoms.numbers[members] > 1
    offsets = _minimum_image(positions[:, None] - positions[None], cell)
    lengths = np.linalg.norm(offsets, axis=-1)
    bonded = (lengths < HEAVY_BOND_A) & heavy[:, None] & heavy[None]
    whole = np.full_like(positions, np.nan)
    root = int(np.flatnonzero(heavy)[0])
    whole[root] = positions[root]
    queue = deque([root])
    while queue:
        current = queue.popleft()
        for other in np.flatnonzero(bonded[current] & np.isnan(whole[:, 0])):
            whole[other] = whole[current] - offsets[current, other]
            queue.append(other)
    for h in np.flatnonzero(~heavy):  # each H beside its nearest heavy atom
        nearest = np.flatnonzero(heavy)[np.argmin(lengths[h, heavy])]
        whole[h] = whole[nearest] - offsets[nearest, h]
    return whole


def _images(cell: np.ndarray, reach: float) -> np.ndarray:
    """Lattice translations covering ``reach`` Å in every direction."""
    heights = np.abs(np.linalg.det(cell)) / np.linalg.norm(
        np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    counts = np.ceil(reach / heights).astype(int)
    ranges = [range(-n, n + 1) for n in counts]
    return np.array(list(itertools.product(*ranges))) @ cell


def cut_cluster(atoms: Atoms, target: int, radius: float, cutoff: float) -> Cluster:
    """Whole molecules (every periodic image) with an atom within ``radius`` Å of atom
    ``target``, which comes first; ``complete`` flags atoms whose crystal environment within
    ``cutoff`` Å lies entirely inside the cluster (needs ``radius >= cutoff`` for the target)."""
    groups = molecules(atoms)
    centre = atoms.positions[target]
    # Whole molecules, each around its minimum image nearest the target.
    whole = []
    for members in groups:
        positions = whole_positions(atoms, members)
        shift = _minimum_image(positions[0] - centre, atoms.cell.array) - (positions[0] - centre)
        whole.append((members, positions + shift))
    extent = max(np.ptp(p, axis=0).max() for _, p in whole)
    translations = _images(atoms.cell.array, radius + cutoff + extent)
    indices, positions = [], []
    for members, base in whole:
        for translation in translations:
            moved = base + translation
            if np.linalg.norm(moved - centre, axis=1).min() < radius:
                indices.append(members)
                positions.append(moved)
    indices, positions = np.concatenate(indices), np.concatenate(positions)
    first = int(np.flatnonzero((indices == target)
                               & (np.linalg.norm(positions - centre, axis=1) < 1e-8))[0])
    order = np.r_[first, np.delete(np.arange(len(indices)), first)]
    indices, positions = indices[order], positions[order]
    complete = _complete(atoms, positions, cutoff)
    cluster = Atoms(atoms.numbers[indices], positions)
    return Cluster(cluster, indices, complete)


def _complete(atoms: Atoms, cluster_positions: np.ndarray, cutoff: float) -> np.ndarray:
    """Per cluster atom: every crystal atom (any image) within ``cutoff`` is in the cluster."""
    translations = _images(atoms.cell.array, cutoff)
    crystal = (atoms.positions[None] + translations[:, None]).reshape(-1, 3)
    complete = np.zeros(len(cluster_positions), dtype=bool)
    for k, position in enumerate(cluster_positions):
        near = crystal[np.linalg.norm(crystal - position, axis=1) < cutoff]
        gaps = np.linalg.norm(near[:, None] - cluster_positions[None], axis=-1).min(axis=1)
        complete[k] = bool(np.all(gaps < 1e-6))
    return complete
