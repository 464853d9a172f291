"""A repulsive wall below the closest contacts of a system's training data.

A briefly trained PET knows nothing about pairs closer than its training data bring them,
and it is nearly flat there: the default BaTiO3 bespoke PET charges 0.5 eV for pushing an
O-O pair from 2.7 to 0.8 Å, the reference 45 eV.  Its MD then lets atoms merge.  The wall
adds, for every pair of species a and b closer than their onset r_ab,

    E = k (r_ab - r)^3,

zero with its first two derivatives at the onset.  The onset is ``onset_fraction`` times
the closest a-b distance in the system's training set (the reference's rattles and MD at
the study's conditions): closer than the reference data ever came, where no trained model
has been told anything.  Species pairs the training set never brings within 4.5 Å get the
smallest onset-to-covalent-radii ratio of the pairs it does.  One table per system
(``data/<system>/contact_wall.json``, rule ``contact_wall``), the same for every trained
model of its case study, so the models stay comparable.  Benchmarks of a model itself
(accuracy, dimer curves, direct forces) never add it.

The frames of an active-learning round (subset ``model_md``) do not move the wall: they
are where a model strayed (water's molecules dissociated, or O-H-O bridges holding two O
2.0 Å apart), kept so that the final models learn what those states cost, not as
contacts a study should reach.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols, covalent_radii
from ase.neighborlist import neighbor_list

# Pairs beyond this are never closest contacts worth a wall (the PETs' cutoff is 4.5 Å).
SEARCH_CUTOFF_A = 4.5


def pair_key(a: int, b: int) -> str:
    """'O-Ti' for (8, 22) or (22, 8): species pairs in the order of atomic number."""
    low, high = sorted((int(a), int(b)))
    return f"{chemical_symbols[low]}-{chemical_symbols[high]}"


def closest_contacts(frames: list[Atoms], cutoff: float = SEARCH_CUTOFF_A) -> dict[str, float]:
    """The smallest distance (Å) between atoms of each pair of species over ``frames``,
    periodic images included; pairs never within ``cutoff`` are absent."""
    closest: dict[str, float] = {}
    for atoms in frames:
        first, second, distances = neighbor_list("ijd", atoms, cutoff)
        for a, b in {(int(x), int(y)) for x, y in zip(atoms.numbers[first],
                                                     atoms.numbers[second])}:
            mask = (atoms.numbers[first] == a) & (atoms.numbers[second] == b)
            key = pair_key(a, b)
            closest[key] = min(closest.get(key, np.inf), float(distances[mask].min()))
    return dict(sorted(closest.items()))


def wall_table(frames: list[Atoms], onset_fraction: float,
               stiffness_eV_A3: float) -> dict[str, Any]:
    """The contents of a ``contact_wall.json``: the training set's closest contacts, the
    wall's onsets and its stiffness (the active-learning round's frames left out)."""
    from petmad.data.md_sampling import MODEL_MD_SUBSET

    sampled = [atoms for atoms in frames if atoms.info.get("subset") != MODEL_MD_SUBSET]
    closest = closest_contacts(sampled)
    ratios = [distance / _covalent_sum(key) for key, distance in closest.items()]
    return {
        "onset_fraction": float(onset_fraction),
        "stiffness_eV_A3": float(stiffness_eV_A3),
        "closest_contacts_A": closest,
        "onsets_A": {key: onset_fraction * distance for key, distance in closest.items()},
        # for species pairs the training set has no contact of: onset = ratio × (r_a + r_b)
        "default_onset_ratio": onset_fraction * min(ratios) if ratios else None,
        "frames": len(sampled),
        "active_learning_frames_left_out": len(frames) - len(sampled),
    }


def _covalent_sum(key: str) -> float:
    a, b = (chemical_symbols.index(symbol) for symbol in key.split("-"))
    return float(covalent_radii[a] + covalent_radii[b])


def read_wall(path: str | Path) -> dict[str, Any]:
    """The wall table in ``path``, or one error naming the file."""
    from petmad.io import reading

    with reading(path, "contact wall"):
        return json.loads(Path(path).read_text())


class ContactWall(Calculator):
    """E = Σ_pairs k (r_ab − r)³ for r < r_ab (see the module doc); forces and stress
    analytic."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, table: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.onsets = dict(table["onsets_A"])
        self.default_ratio = table.get("default_onset_ratio")
        self.stiffness = float(table["stiffness_eV_A3"])
        self._onset_matrix: tuple[tuple[int, ...], np.ndarray] | None = None

    def _onsets_for(self, numbers: np.ndarray) -> np.ndarray:
        """Onset per (Z_i, Z_j), as a 119 × 119 table over the species present."""
        species = tuple(sorted(set(int(z) for z in numbers)))
        if self._onset_matrix is None or self._onset_matrix[0] != species:
            matrix = np.zeros((119, 119))
            for a in species:
                for b in species:
                    key = pair_key(a, b)
                    if key in self.onsets:
                        matrix[a, b] = self.onsets[key]
                    elif self.default_ratio is not None:
                        matrix[a, b] = self.default_ratio * _covalent_sum(key)
            self._onset_matrix = (species, matrix)
        return self._onset_matrix[1]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        onsets = self._onsets_for(atoms.numbers)
        reach = float(onsets.max()) if onsets.size else 0.0
        energy, forces, virial = 0.0, np.zeros((len(atoms), 3)), np.zeros((3, 3))
        if reach > 0:
            # Full neighbour list: every pair twice, (i, j, D) and (j, i, -D).
            first, second, distances, vectors = neighbor_list("ijdD", atoms, reach)
            depth = onsets[atoms.numbers[first], atoms.numbers[second]] - distances
            inside = depth > 0
            first, depth = first[inside], depth[inside]
            distances, vectors = distances[inside], vectors[inside]
            energy = 0.5 * self.stiffness * float(np.sum(depth**3))
            # dE/dr per pair; the force on i from j is dE/dr · D_ij / r (D from i to j).
            slope = -3.0 * self.stiffness * depth**2
            pair_forces = (slope / distances)[:, None] * vectors
            np.add.at(forces, first, pair_forces)
            virial = 0.5 * np.einsum("p,pa,pb->ab", slope / distances, vectors, vectors)
        self.results["energy"] = self.results["free_energy"] = energy
        self.results["forces"] = forces
        if atoms.pbc.all():
            self.results["stress"] = _voigt(virial / atoms.get_volume())
        else:
            self.results["stress"] = np.zeros(6)


def _voigt(tensor: np.ndarray) -> np.ndarray:
    return np.array([tensor[0, 0], tensor[1, 1], tensor[2, 2],
                     tensor[1, 2], tensor[0, 2], tensor[0, 1]])


class WalledCalculator(Calculator):
    """A model's calculator with the contact wall added to its energy, forces and stress;
    the model's extra outputs (LLPR ensemble) pass through, and the wall's energy is
    reported as ``contact_wall_eV``."""

    def __init__(self, model: Calculator, wall: ContactWall):
        super().__init__()
        self.model = model
        self.wall = wall
        self.implemented_properties = list(model.implemented_properties)

    @property
    def additional_outputs(self):
        return getattr(self.model, "additional_outputs", None)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        wanted = [name for name in ("energy", "forces", "stress")
                  if name in self.implemented_properties
                  and (name != "stress" or self.atoms.pbc.all())]
        self.model.calculate(self.atoms, wanted, system_changes)
        self.wall.calculate(self.atoms, wanted, system_changes)
        wall_energy = float(self.wall.results["energy"])
        self.results = {"contact_wall_eV": wall_energy}
        for name in wanted:
            self.results[name] = self.model.results[name] + self.wall.results[name]
        self.results["free_energy"] = self.results["energy"]
