"""The contact wall simulations add below a model's closest training contacts."""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from ase.calculators.lj import LennardJones
from ase.data import covalent_radii

from petmad.simulate.contact_wall import (
    ContactWall,
    WalledCalculator,
    closest_contacts,
    read_wall,
    wall_table,
)


def rocksalt() -> Atoms:
    return bulk("NaCl", "rocksalt", a=5.64)


def test_closest_contacts_of_rocksalt_are_its_shells():
    contacts = closest_contacts([rocksalt()])
    # Na-Cl at a/2, like ions at a/sqrt(2); pairs in order of atomic number
    assert contacts == pytest.approx({"Na-Na": 5.64 / 2**0.5, "Na-Cl": 2.82,
                                      "Cl-Cl": 5.64 / 2**0.5})


def test_the_wall_of_a_dimer_is_k_times_the_cubed_depth_and_zero_beyond_the_onset():
    table = {"onsets_A": {"H-H": 1.0}, "stiffness_eV_A3": 50.0, "default_onset_ratio": None}
    for distance, expected in ((0.7, 50.0 * 0.3**3), (0.99, 50.0 * 0.01**3), (1.2, 0.0)):
        dimer = Atoms("H2", positions=[[0, 0, 0], [0, 0, distance]])
        dimer.calc = ContactWall(table)
        assert dimer.get_potential_energy() == pytest.approx(expected)
        # -dE/dr = 3k(r_on - r)^2, pushing the atoms apart
        push = 3 * 50.0 * max(1.0 - distance, 0) ** 2
        assert dimer.get_forces()[1] == pytest.approx([0, 0, push])
        assert dimer.get_forces()[0] == pytest.approx([0, 0, -push])


def test_wall_forces_and_stress_are_the_derivatives_of_its_energy():
    crystal = rocksalt().repeat(2)
    crystal.set_cell(crystal.cell * 0.93, scale_atoms=True)
    crystal.rattle(0.15, seed=3)
    table = wall_table([rocksalt()], onset_fraction=0.9, stiffness_eV_A3=100.0)
    crystal.calc = ContactWall(table)
    assert crystal.get_potential_energy() > 0.1  # the compression pushes pairs inside
    np.testing.assert_allclose(crystal.get_forces(),
                               calculate_numerical_forces(crystal, 1e-5), atol=1e-6)
    np.testing.assert_allclose(crystal.get_stress(),
                               calculate_numerical_stress(crystal, 1e-6), atol=1e-8)


def test_pairs_the_training_set_never_brought_together_get_the_smallest_seen_ratio():
    table = wall_table([rocksalt()], onset_fraction=0.9, stiffness_eV_A3=100.0)
    ratios = [0.9 * 2.82 / (covalent_radii[11] + covalent_radii[17]),
              0.9 * 5.64 / 2**0.5 / (2 * covalent_radii[11]),
              0.9 * 5.64 / 2**0.5 / (2 * covalent_radii[17])]
    assert table["default_onset_ratio"] == pytest.approx(min(ratios))
    onset_kk = table["default_onset_ratio"] * 2 * covalent_radii[19]
    pair = Atoms("K2", positions=[[0, 0, 0], [0, 0, onset_kk - 0.1]])
    pair.calc = ContactWall(table)
    assert pair.get_potential_energy() == pytest.approx(100.0 * 0.1**3)


def test_the_active_learning_rounds_frames_do_not_move_the_wall():
    """Frames of a first model's MD (subset 'model_md') are where a model strayed, not
    contacts the reference's own sampling reached: the onsets ignore them."""
    squeezed = rocksalt()
    squeezed.set_cell(squeezed.cell * 0.8, scale_atoms=True)
    squeezed.info["subset"] = "model_md"
    sampled = rocksalt()
    sampled.info["subset"] = "md"
    table = wall_table([sampled, squeezed], onset_fraction=0.9, stiffness_eV_A3=100.0)
    assert table["onsets_A"]["Na-Cl"] == pytest.approx(0.9 * 2.82)
    assert table["frames"] == 1 and table["active_learning_frames_left_out"] == 1
    # the same squeezed frame from the reference's own sampling does move it
    squeezed.info["subset"] = "md"
    moved = wall_table([sampled, squeezed], onset_fraction=0.9, stiffness_eV_A3=100.0)
    assert moved["onsets_A"]["Na-Cl"] == pytest.approx(0.9 * 0.8 * 2.82)


def test_a_walled_model_is_the_sum_and_reports_the_wall(tmp_path):
    crystal = Atoms("Ar3", positions=[[0, 0, 0], [0, 0, 2.8], [6, 6, 6]], cell=[12, 12, 12],
                    pbc=True)  # one pair 0.5 Å inside the onset
    table = {"onsets_A": {"Ar-Ar": 3.3}, "stiffness_eV_A3": 100.0, "default_onset_ratio": None}
    plain, wall = crystal.copy(), crystal.copy()
    plain.calc, wall.calc = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0), ContactWall(table)
    crystal.calc = WalledCalculator(LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0),
                                    ContactWall(table))
    assert crystal.get_potential_energy() == pytest.approx(
        plain.get_potential_energy() + wall.get_potential_energy())
    np.testing.assert_allclose(crystal.get_forces(), plain.get_forces() + wall.get_forces())
    np.testing.assert_allclose(crystal.get_stress(), plain.get_stress() + wall.get_stress())
    assert crystal.calc.results["contact_wall_eV"] == pytest.approx(100.0 * 0.5**3)


def test_a_table_reads_back_and_a_corrupt_one_is_named(tmp_path):
    from petmad.io import UnreadableFileError

    path = tmp_path / "contact_wall.json"
    path.write_text(json.dumps(wall_table([rocksalt()], 0.9, 100.0)))
    assert read_wall(path)["onsets_A"]["Na-Cl"] == pytest.approx(0.9 * 2.82)
    path.write_text("{not json")
    with pytest.raises(UnreadableFileError, match="contact wall .*contact_wall.json"):
        read_wall(path)
