"""NMR shieldings: the GIAO engine against a published value, the cluster cutter on the
α-succinic acid crystal, and the linear SOAP model on synthetic targets."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

from petmad.data.crystals import load_crystal
from petmad.shielding.clusters import cut_cluster, molecules
from petmad.shielding.model import ridge_fit, soap_features, train_shielding_model
from petmad.shielding.reference import LABEL, hydrogen_sites, read_reference_set

MODEL_SETTINGS = {"cutoff_A": 2.5, "max_radial": 3, "max_angular": 3, "atomic_width_A": 0.3,
                  "regularizers": [1e-10], "test_fraction": 0.25}


@pytest.fixture(scope="module")
def crystal():
    return load_crystal("succinic_alpha")


# ----------------------------------------------------------------------------- GIAO


def test_giao_reproduces_the_published_hf_molecule_shieldings():
    from petmad.shielding.giao import shielding_tensors

    # pyscf-properties' test suite (pyscf/prop/nmr/test/test_hf_msc.py, test_nr_giao_cpscf):
    # H-F at 0.917 Å, RHF/cc-pVDZ, GIAO with coupled perturbed HF: the sum of the absolute
    # tensor elements of both atoms is 1358.9826 ppm.  Uncoupled HF would give 1488.09.
    hf = Atoms("HF", positions=[[0, 0, 0.917], [0, 0, 0]])
    tensors = shielding_tensors(hf, basis="cc-pvdz")
    assert np.abs(tensors).sum() == pytest.approx(1358.9826, abs=2e-3)


def test_giao_water_is_gauge_and_translation_invariant():
    from petmad.shielding.giao import isotropic_shieldings

    water = molecule("H2O")
    values = isotropic_shieldings(water, basis="6-31g*")
    moved = water.copy()
    moved.rotate(37, "x", center=(0, 0, 0))
    moved.translate([7.0, -3.0, 11.0])  # a common gauge origin would change; GIAO does not
    np.testing.assert_allclose(isotropic_shieldings(moved, basis="6-31g*"), values, atol=5e-3)
    assert values[1] == pytest.approx(values[2], abs=1e-3)  # the two equivalent protons
    assert 29.0 < values[1] < 34.0 and 300.0 < values[0] < 345.0  # HF 1H and 17O of water


# ----------------------------------------------------------------------------- clusters


def test_crystal_molecules_are_whole_succinic_acid(crystal):
    groups = molecules(crystal)
    assert [crystal[g].get_chemical_formula() for g in groups] == ["C4H6O4"] * 2
    sites = hydrogen_sites(crystal)
    assert (sites == "H3 (COOH)").sum() == 4 and (sites == "H1/H2 (CH2)").sum() == 8


@pytest.mark.parametrize("shift", [0.0, 0.37])
def test_cluster_holds_whole_molecules_across_periodic_boundaries(crystal, shift):
    atoms = crystal.copy()
    atoms.positions += shift * atoms.cell.array.sum(axis=0)  # molecules now cross the cell
    atoms.wrap()
    target = int(np.flatnonzero(hydrogen_sites(atoms) == "H3 (COOH)")[0])
    cluster = cut_cluster(atoms, target, radius=2.5, cutoff=2.5)
    assert cluster.crystal_index[0] == target and cluster.complete[0]
    assert len(cluster.atoms) % 14 == 0
    # Seen as a free cluster (no periodicity), it falls apart into whole molecules, each
    # hydrogen within a bond length of its heavy atom.
    free = cluster.atoms.copy()
    free.set_cell(np.eye(3) * 500.0)
    groups = molecules(free)
    assert [free[g].get_chemical_formula() for g in groups] == ["C4H6O4"] * (len(free) // 14)
    hydrogens = free.numbers == 1
    nearest = free.get_all_distances()[np.ix_(hydrogens, ~hydrogens)].min(axis=1)
    assert np.all(nearest < 1.2)


def test_cluster_flags_hydrogens_with_incomplete_environments(crystal):
    target = int(np.flatnonzero(hydrogen_sites(crystal) == "H1/H2 (CH2)")[0])
    cutoff = 3.5
    cluster = cut_cluster(crystal, target, radius=2.0, cutoff=cutoff)
    # Brute force: the crystal atoms within the cutoff of each cluster H (all images).
    images = np.array([[i, j, k] for i in range(-2, 3) for j in range(-2, 3)
                       for k in range(-2, 3)]) @ crystal.cell.array
    everything = (crystal.positions[None] + images[:, None]).reshape(-1, 3)
    flags = []
    for k in np.flatnonzero(cluster.atoms.numbers == 1):
        position = cluster.atoms.positions[k]
        near = everything[np.linalg.norm(everything - position, axis=1) < cutoff]
        inside = [np.min(np.linalg.norm(cluster.atoms.positions - p, axis=1)) < 1e-6
                  for p in near]
        assert cluster.complete[k] == all(inside)
        flags.append(cluster.complete[k])
    assert not all(flags)  # a 2 Å cluster cannot hold every 3.5 Å environment


# ----------------------------------------------------------------------------- model


def test_ridge_recovers_the_coefficients_of_a_linear_target():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 12))
    weights = rng.normal(size=12)
    targets = features @ weights + 3.5
    fitted, intercept = ridge_fit(features, targets, regularizer=1e-12)
    np.testing.assert_allclose(fitted, weights, atol=1e-8)
    assert intercept == pytest.approx(3.5, abs=1e-8)


def rattled_frames(crystal, count, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = crystal.copy()
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        frames.append(atoms)
    return frames


def test_shielding_model_fits_a_synthetic_linear_target_exactly(crystal):
    # More labelled hydrogens in the training frames than features: the target, linear in
    # the features, is then determined and must be reproduced on held-out frames.
    frames = rattled_frames(crystal, 64)
    features, samples = soap_features(frames, 2.5, 3, 3, 0.3)
    assert 0.75 * len(samples) > features.shape[1]
    signal = features @ np.random.default_rng(1).normal(size=features.shape[1])
    for atoms in frames:
        atoms.arrays[LABEL] = np.full(len(atoms), np.nan)
    for row, (frame, atom) in enumerate(samples):
        frames[frame].arrays[LABEL][atom] = 25.0 + 2.0 * signal[row] / signal.std()
    model, test = train_shielding_model(frames, MODEL_SETTINGS, seed=0)
    assert model.metrics["test_rmse_ppm"] < 1e-3 * model.metrics["label_std_ppm"]
    np.testing.assert_allclose(test["predicted"], test["reference"], atol=1e-3)
    predicted, index = model.predict(frames[:2])
    assert len(predicted) == 2 * 12 and set(index[:, 0]) == {0, 1}


def test_reference_set_without_labels_is_refused(tmp_path, crystal):
    from ase.io import write

    path = tmp_path / "set.extxyz"
    write(path, [crystal], format="extxyz")
    with pytest.raises(ValueError, match="lack the per-atom array"):
        read_reference_set(path)
    with pytest.raises(FileNotFoundError):
        read_reference_set(tmp_path / "missing.extxyz")
