"""Homonuclear dimer curves (paper S5, Fig. S4): the energy of two atoms of one element in
vacuum on a logarithmic grid of distances from ``min_factor`` to ``max_factor`` times the
element's covalent radius (ASE's table), relative to twice the isolated atom.

A model without data at short distances can make two atoms merge ("artificial dimers");
the curve shows whether it is repulsive where the reference engine is.  Dimers are
non-periodic clusters, as in the paper, where they share the cluster subset's protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from petmad.config import DimerSettings
from petmad.io import RowLog, reading

BOX_A = 20.0  # vacuum cell for engines that need one; the dimers are not periodic


def distance_grid(element: str, settings: DimerSettings) -> np.ndarray:
    """Distances (Å): a geometric grid of ``points`` between the two multiples of r_cov."""
    radius = covalent_radii[atomic_numbers[element]]
    return radius * np.geomspace(settings.min_factor, settings.max_factor, settings.points)


def cluster(element: str, count: int, distance: float = 0.0) -> Atoms:
    positions = [[0.0, 0.0, 0.0], [distance, 0.0, 0.0]][:count]
    atoms = Atoms([element] * count, positions=positions, cell=[BOX_A] * 3, pbc=False)
    atoms.center()
    return atoms


def logged(energy: Callable[[Atoms], float], log: RowLog) -> Callable[[Atoms], float]:
    """``energy`` remembering every result (and failure) in ``log``, so a killed job
    restarted does not recompute them (reference engines may be DFT)."""

    def energy_once(atoms: Atoms) -> float:
        key = (atoms.get_chemical_formula(), atoms.get_all_distances().max())
        done = log.get(*key)
        if done is None:
            try:
                done = {"energy": energy(atoms)}
            except Exception as exc:  # remembered, then raised as the caller expects
                done = {"error": str(exc)}
            log.add(done, *key)
        if "error" in done:
            raise RuntimeError(done["error"])
        return done["energy"]

    return energy_once


def dimer_curves(energy: Callable[[Atoms], float], settings: DimerSettings,
                 progress: bool = False) -> list[dict]:
    """One row per (element, distance): E_dimer, E_atom and the binding energy
    E_dimer - 2 E_atom (eV).  A failed evaluation is a NaN with its reason."""
    from tqdm import tqdm

    rows = []
    for element in tqdm(settings.elements, desc="dimers", disable=not progress):
        try:
            atom = energy(cluster(element, 1))
        except Exception as exc:  # an engine failing on one structure must not sink the rest
            atom, atom_error = np.nan, f"isolated atom: {exc}"
        else:
            atom_error = ""
        radius = covalent_radii[atomic_numbers[element]]
        for distance in distance_grid(element, settings):
            try:
                value, error = energy(cluster(element, 2, distance)), atom_error
            except Exception as exc:
                value, error = np.nan, str(exc)
            rows.append({"element": element, "distance_A": float(distance),
                         "distance_over_covalent_radius": float(distance / radius),
                         "energy_eV": float(value), "atom_energy_eV": float(atom),
                         "binding_energy_eV": float(value - 2 * atom), "error": error})
    return rows


def model_energy(model: str, device: str = "cpu") -> Callable[[Atoms], float]:
    """Energies from an exported model (.pt) or a SevenNet name."""
    from petmad.models.evaluate import load_calculator

    with reading(model, "model"):
        calculator = load_calculator(model, device)

    def energy(atoms: Atoms) -> float:
        atoms = atoms.copy()
        atoms.calc = calculator
        return float(atoms.get_potential_energy())

    return energy


def reference_energy(reference: dict, elements: list[str]) -> Callable[[Atoms], float]:
    """Energies from the reference engine, through the labeling path itself."""
    from petmad.reference import make_engine

    engine = make_engine(reference)
    engine.check_available()
    engine.prepare(set(elements))  # e.g. PAW setups

    def energy(atoms: Atoms) -> float:
        return float(engine.compute(atoms).get_potential_energy())

    return energy
