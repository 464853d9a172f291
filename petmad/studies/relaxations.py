"""Geometry optimisation speed and robustness (paper S6, Fig. S5): per crystal, ``runs``
copies with every atomic position and every cell-vector component displaced by a normal
deviate of standard deviation ``displacement_A``, relaxed (positions and cell, ASE's LBFGS
on a Fréchet cell filter) to ``fmax`` in at most ``max_steps`` steps.  Each run's wall time
counts the optimisation only (the calculator is built and warmed up before); a run that
does not reach ``fmax`` is counted as not converged.  The perturbed structures depend only
on the seed, so every model relaxes the same ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from petmad.config import RelaxationSettings
from petmad.io import RowLog

# The paper takes these from phononDB; offline, the prototypes are built with experimental
# room-temperature lattice constants (Wyckoff, Crystal Structures, vol. 1).
CRYSTALS: dict[str, Callable[[], Atoms]] = {
    "beo_wurtzite": lambda: bulk("BeO", "wurtzite", a=2.698, c=4.377),
    "bete_zincblende": lambda: bulk("BeTe", "zincblende", a=5.627),
    "libr_rocksalt": lambda: bulk("LiBr", "rocksalt", a=5.501),
}


def perturbed(crystal: str, displacement: float, seed: int) -> Atoms:
    atoms = CRYSTALS[crystal]()
    rng = np.random.default_rng(seed)
    atoms.positions += rng.normal(0.0, displacement, atoms.positions.shape)
    atoms.set_cell(atoms.cell.array + rng.normal(0.0, displacement, (3, 3)), scale_atoms=False)
    return atoms


def relax_once(atoms: Atoms, calculator: Calculator, fmax: float, max_steps: int) -> dict:
    from ase.filters import FrechetCellFilter
    from ase.optimize import LBFGS

    atoms = atoms.copy()
    atoms.calc = calculator
    start = time.perf_counter()
    try:
        optimizer = LBFGS(FrechetCellFilter(atoms), logfile=None)
        converged = bool(optimizer.run(fmax=fmax, steps=max_steps))
        steps, error = optimizer.nsteps, ""
    except Exception as exc:  # a model failing on one structure must not sink the rest
        converged, steps, error = False, -1, str(exc)
    return {"wall_s": time.perf_counter() - start, "steps": steps, "converged": converged,
            "error": error}


def relaxation_runs(calculator: Calculator, settings: RelaxationSettings, seed: int,
                    log: RowLog | None = None, progress: bool = True) -> list[dict]:
    """One row per (crystal, run); runs already in ``log`` (a killed job's) are not redone,
    and every new one is added to it."""
    from tqdm import tqdm

    rows = []
    for c, crystal in enumerate(settings.crystals):
        warmed = False
        for run in tqdm(range(settings.runs), desc=crystal, disable=not progress):
            row = log.get(crystal, run) if log is not None else None
            if row is None:
                if not warmed:  # the first call of a model pays for compilation
                    warm = CRYSTALS[crystal]()
                    warm.calc = calculator
                    warm.get_forces()
                    warmed = True
                atoms = perturbed(crystal, settings.displacement_A, seed + 1000 * c + run)
                row = {"crystal": crystal, "run": run,
                       **relax_once(atoms, calculator, settings.fmax_eV_A, settings.max_steps)}
                if log is not None:
                    log.add(row, crystal, run)
            rows.append(row)
    return rows
