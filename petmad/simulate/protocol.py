"""Chains of runs (equilibrate, then produce), each starting where the previous ended.

A stage starts from the last frame of the stage before, with fresh Maxwell-Boltzmann
velocities; ``average_cell`` first puts the structure in the mean cell of the second half
of the previous (NPT) stage, scaling the positions with it, which is how an NVT production
at the equilibrium volume is set up.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import read

from petmad.simulate.potentials import SimulationStopped
from petmad.simulate.runner import run_dynamics
from petmad.simulate.settings import DynamicsSettings, PotentialSpec

CELL_COLUMNS = ("cell_xx_A", "cell_yy_A", "cell_zz_A", "cell_xy_A", "cell_xz_A", "cell_yz_A")


@dataclass(frozen=True)
class Stage:
    name: str
    settings: DynamicsSettings
    average_cell: bool = False


def mean_cell(properties: pd.DataFrame) -> np.ndarray:
    """The mean cell (rows = vectors, Å) over the second half of a run's properties."""
    half = properties.iloc[len(properties) // 2:]
    xx, yy, zz, xy, xz, yz = (half[c].mean() for c in CELL_COLUMNS)
    # i-PI's cell matrix h is upper triangular with the vectors as columns.
    h = np.array([[xx, xy, xz], [0.0, yy, yz], [0.0, 0.0, zz]])
    return h.T


def relax(atoms: Atoms, potential: PotentialSpec, steps: int, cell: bool = False) -> Atoms:
    """``atoms`` relaxed with ``potential`` by at most ``steps`` FIRE steps (fmax 0.05 eV/Å):
    positions, and the cell too when ``cell`` (Frechet cell filter)."""
    if steps == 0:
        return atoms.copy()
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    from petmad.simulate.potentials import build_calculator

    relaxed = atoms.copy()
    relaxed.calc = build_calculator(potential, relaxed)
    FIRE(FrechetCellFilter(relaxed) if cell else relaxed, logfile=None).run(fmax=0.05,
                                                                             steps=steps)
    return Atoms(relaxed.numbers, relaxed.positions, cell=relaxed.cell, pbc=relaxed.pbc)


def last_frame(directory: Path) -> Atoms:
    atoms = read(directory / "trajectory.extxyz", index=-1)
    return Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)


def run_stages(directory: str | Path, atoms: Atoms, potentials: list[PotentialSpec],
               stages: list[Stage], progress: bool = True, label: str = "") -> Atoms:
    """Run ``stages`` in ``directory/<stage name>``; return the final structure."""
    directory = Path(directory)
    current = atoms
    previous: Path | None = None
    for index, stage in enumerate(stages):
        if stage.average_cell and previous is not None:
            cell = mean_cell(pd.read_csv(previous / "properties.csv"))
            current = current.copy()
            current.set_cell(cell, scale_atoms=True)
        try:
            run_dynamics(directory / stage.name, current, potentials, stage.settings,
                         progress=progress, description=f"{label} {stage.name}".strip())
        except SimulationStopped:
            # Later stages of an earlier attempt did not start from this one: drop them,
            # so that no reader takes their records for this chain's.
            for later in stages[index + 1:]:
                shutil.rmtree(directory / later.name, ignore_errors=True)
            raise
        previous = directory / stage.name
        current = last_frame(previous)
    return current
