"""Dimer curves (paper S5): the grid and the binding energies against an analytic pair
potential."""

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from ase.data import covalent_radii

from petmad.config import Config, DimerSettings
from petmad.studies.dimers import cluster, dimer_curves, distance_grid


def lj_energy(epsilon, sigma):
    calculator = LennardJones(epsilon=epsilon, sigma=sigma, rc=1e3, smooth=False)

    def energy(atoms):
        atoms = atoms.copy()
        atoms.calc = calculator
        return atoms.get_potential_energy()

    return energy


def test_grid_is_geometric_between_the_covalent_radius_multiples():
    settings = DimerSettings(elements=["O"], points=10)
    grid = distance_grid("O", settings)
    radius = covalent_radii[8]
    assert grid[0] == pytest.approx(0.9 * radius) and grid[-1] == pytest.approx(5.0 * radius)
    assert np.allclose(np.diff(np.log(grid)), np.log(5.0 / 0.9) / 9)


def test_binding_energies_match_the_lennard_jones_pair_potential():
    epsilon, sigma = 0.2, 2.5
    settings = DimerSettings(elements=["Ar", "O"], points=7)
    rows = dimer_curves(lj_energy(epsilon, sigma), settings)
    assert len(rows) == 14
    for row in rows:
        ratio = sigma / row["distance_A"]
        expected = 4 * epsilon * (ratio ** 12 - ratio ** 6)  # ASE's shift at rc=1e3 is ~1e-19
        assert row["binding_energy_eV"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert row["atom_energy_eV"] == pytest.approx(0.0, abs=1e-12)


def test_a_failing_evaluation_becomes_a_nan_with_its_reason():
    def fragile(atoms):
        if len(atoms) == 2 and atoms.get_distance(0, 1) < 1.0:
            raise RuntimeError("SCF did not converge")
        return -1.0 * len(atoms)

    rows = dimer_curves(fragile, DimerSettings(elements=["H"], points=4))
    short = [r for r in rows if r["distance_A"] < 1.0]
    assert short and all(np.isnan(r["binding_energy_eV"]) for r in short)
    assert all("SCF" in r["error"] for r in short)
    assert all(r["binding_energy_eV"] == 0.0 for r in rows if r["distance_A"] >= 1.0)


def test_dimers_are_vacuum_clusters():
    atoms = cluster("Fe", 2, 2.2)
    assert not atoms.pbc.any() and atoms.get_distance(0, 1) == pytest.approx(2.2)


def test_dimer_elements_must_be_known_to_the_universal_model():
    with pytest.raises(ValueError, match="dimers.elements"):
        Config.model_validate({"studies": {"dimers": {"elements": ["Og"]}}})


def test_logged_energies_are_not_recomputed(tmp_path):
    from petmad.io import RowLog
    from petmad.studies.dimers import logged

    settings = DimerSettings(elements=["Ar"], points=3)
    first = dimer_curves(logged(lj_energy(0.2, 2.5), RowLog(tmp_path / "e.jsonl")), settings)

    def unusable(atoms):
        raise AssertionError("a logged energy was recomputed")

    again = dimer_curves(logged(unusable, RowLog(tmp_path / "e.jsonl")), settings)
    assert again == first
