"""Estimators of the models stage, validated on synthetic data with known answers."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from analysis.accuracy import errors
from analysis.metrics import (
    calibration_curve,
    mae,
    offset,
    offset_free_mae,
    rmse,
    weighted_std,
    z_score_rms,
)
from analysis.rotations import discrepancy_table
from petmad.models.rotations import lebedev_rotations, rotated_energies, rotate


def test_mae_and_rmse_on_known_values():
    assert mae(np.array([1.0, -3.0, np.nan])) == pytest.approx(2.0)
    assert rmse(np.array([3.0, -4.0])) == pytest.approx(np.sqrt(12.5))


def test_offset_free_mae_separates_a_constant_offset_from_the_scatter():
    # errors = 40 + Laplace(scale 5): the offset is 40 and the scatter's MAE is the
    # Laplace scale, 5; the plain MAE is dominated by the offset.
    rng = np.random.default_rng(3)
    errors = 40.0 + rng.laplace(scale=5.0, size=200_000)
    assert offset(errors) == pytest.approx(40.0, abs=0.05)
    assert offset_free_mae(errors) == pytest.approx(5.0, rel=0.01)
    assert mae(errors) == pytest.approx(40.0, rel=0.01)
    # no offset: both MAEs agree; NaNs are skipped like mae's
    centred = np.array([1.0, -1.0, 3.0, -3.0, np.nan])
    assert offset(centred) == 0.0 and offset_free_mae(centred) == pytest.approx(2.0)


def test_errors_are_per_atom_and_in_mev():
    pred = {"energy": np.array([1.0, 2.0]), "energy_ref": np.array([0.0, 2.5]),
            "n_atoms": np.array([2, 1]), "forces": np.ones((3, 3)), "forces_ref": np.zeros((3, 3)),
            "stress": np.zeros((2, 6)), "stress_ref": np.full((2, 6), np.nan)}
    errs = errors(pred)
    np.testing.assert_allclose(errs["energy"], [500.0, -500.0])
    assert errs["forces"].shape == (9,) and np.all(errs["forces"] == 1000.0)


def test_calibration_of_gaussian_errors_lies_on_the_diagonal():
    rng = np.random.default_rng(0)
    sigma = np.exp(rng.uniform(np.log(0.01), np.log(1.0), size=40_000))
    error = rng.normal(0.0, sigma)
    rms_sigma, rms_error, counts = calibration_curve(sigma, error, n_bins=10)
    assert counts.sum() == sigma.size
    # 4 000 errors per bin: the relative spread of their RMS is ~1.1 %.
    np.testing.assert_allclose(rms_error / rms_sigma, 1.0, atol=0.05)
    assert z_score_rms(sigma, error) == pytest.approx(1.0, abs=0.02)
    assert z_score_rms(sigma, 2 * error) == pytest.approx(2.0, abs=0.04)
    _, doubled, _ = calibration_curve(sigma, 2 * error, n_bins=10)
    assert np.all(doubled / rms_sigma > 1.8)


def test_lebedev_rotations_are_proper_and_sample_so3_evenly():
    rotations, weights = lebedev_rotations(9, 4)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), rotations.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-12)
    # <R_ij R_kl> over SO(3) = δ_ik δ_jl / 3: the grid reproduces second moments exactly.
    second = np.einsum("n,nij,nkl->ijkl", weights, rotations, rotations)
    expected = np.einsum("ik,jl->ijkl", np.eye(3), np.eye(3)) / 3
    np.testing.assert_allclose(second, expected, atol=1e-12)


class Orientational(Calculator):
    """EMT plus a term that depends on orientation: not rotationally invariant."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        reference = atoms.copy()
        reference.calc = EMT()
        centred = atoms.positions - atoms.positions.mean(axis=0)
        self.results["energy"] = reference.get_potential_energy() + 0.05 * np.sum(centred[:, 0] ** 2)
        self.results["forces"] = reference.get_forces()


def test_rotation_benchmark_flags_non_invariant_models():
    frames = [molecule("CH4"), Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0.4, 2.3, 0.2]])]
    for atoms in frames:
        atoms.info["subset"] = "molfrag"
    rotations, weights = lebedev_rotations(5, 3)
    invariant = rotated_energies(EMT(), frames, 5, 3)
    table = discrepancy_table(invariant, weights, np.array([5, 3]), np.array(["molfrag"] * 2))
    assert table["rotationally_invariant"].all()
    assert (table["std_max [meV/atom]"] < 1e-6).all()

    skewed = rotated_energies(Orientational(), frames, 5, 3)
    table = discrepancy_table(skewed, weights, np.array([5, 3]), np.array(["molfrag"] * 2))
    assert not table.loc[table["level"] == "subset", "rotationally_invariant"].any()
    # rotating a structure really moves it
    assert not np.allclose(rotate(frames[1], rotations[1]).positions, frames[1].positions)


def test_weighted_std_matches_numpy_for_equal_weights():
    values = np.random.default_rng(3).normal(size=(4, 10))
    np.testing.assert_allclose(weighted_std(values, np.ones(10), axis=1), values.std(axis=1))
