"""Energies of structures rotated over a Lebedev grid (paper Fig. 2, right).

PET is not rotationally invariant by construction; it learns invariance from augmented
data.  Rotating each structure so that its z axis points along every direction of a
Lebedev grid, and about that direction by ``per_axis`` equally spaced angles, samples
SO(3) evenly; the weighted spread of the energies is the rotational discrepancy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from tqdm import tqdm

from petmad.io import atomic_path


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit ``axis`` by ``angle`` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _z_to(direction: np.ndarray) -> np.ndarray:
    """A rotation taking the z axis onto ``direction``."""
    z = np.array([0.0, 0.0, 1.0])
    cross = np.cross(z, direction)
    sine, cosine = np.linalg.norm(cross), float(z @ direction)
    if sine < 1e-12:
        return np.eye(3) if cosine > 0 else np.diag([1.0, -1.0, -1.0])
    return _axis_angle(cross / sine, np.arctan2(sine, cosine))


def lebedev_rotations(order: int, per_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotation matrices (n, 3, 3) and their quadrature weights (summing to one)."""
    from scipy.integrate import lebedev_rule

    directions, weights = lebedev_rule(order)
    rotations, rotation_weights = [], []
    for direction, weight in zip(directions.T, weights):
        base = _z_to(direction)
        for k in range(per_axis):
            rotations.append(_axis_angle(direction, 2 * np.pi * k / per_axis) @ base)
            rotation_weights.append(weight / per_axis)
    rotation_weights = np.array(rotation_weights)
    return np.array(rotations), rotation_weights / rotation_weights.sum()


def rotate(atoms: Atoms, rotation: np.ndarray) -> Atoms:
    rotated = Atoms(atoms.numbers, atoms.positions @ rotation.T, cell=atoms.cell.array @ rotation.T,
                    pbc=atoms.pbc)
    return rotated


def rotated_energies(
    calculator: Calculator, frames: list[Atoms], order: int, per_axis: int, progress: bool = False
) -> np.ndarray:
    """Energy of every structure (rows) in every rotation of the grid (columns)."""
    rotations, _ = lebedev_rotations(order, per_axis)
    energies = np.empty((len(frames), len(rotations)))
    for i, atoms in enumerate(tqdm(frames, disable=not progress, desc="rotations")):
        for j, rotation in enumerate(rotations):
            rotated = rotate(atoms, rotation)
            rotated.calc = calculator
            energies[i, j] = rotated.get_potential_energy()
    return energies


def write_rotated_energies(
    path: str | Path, energies: np.ndarray, frames: list[Atoms], order: int, per_axis: int
) -> None:
    _, weights = lebedev_rotations(order, per_axis)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, energies=energies, weights=weights,
                n_atoms=np.array([len(a) for a in frames]),
                subset=np.array([str(a.info.get("subset", "all")) for a in frames]),
            )
