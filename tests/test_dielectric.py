"""BaTiO3 dielectric study: Born-charge dipoles, the λ-SOAP dipole model, Eqs. 8-11."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from analysis.dielectric import (
    EPSILON_0_E_PER_V_A,
    BOLTZMANN_EV_K,
    dielectric_summary,
    dielectric_tensor,
    parallel_perpendicular,
)
from analysis.phases import (
    PhaseLandscape,
    chemical_potential_difference,
    phase_mixture,
    polar_invariants,
    transition_temperature,
    transitions,
)
from petmad.config import BornCharges
from petmad.data.systems import bto_pseudocubic_cell
from petmad.dipoles.born_charges import NotPerovskiteError, born_charge_dipole, label_dipoles
from petmad.dipoles.model import fit_dipole_model, lambda_soap_cell_features

CHARGES = BornCharges().model_dump()
E_PER_A2_TO_C_PER_M2 = 1.602176634e-19 / 1e-20


# --------------------------------------------------------------------------- Eq. 9-11


def test_dielectric_tensor_recovers_the_covariance_of_gaussian_dipoles():
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(3, 3))
    covariance = factor @ factor.T + np.eye(3)  # e²Å², symmetric positive definite
    dipoles = rng.multivariate_normal([3.0, -1.0, 0.5], covariance, size=200_000)
    volume, temperature = 500.0, 300.0
    expected = np.eye(3) + covariance / (EPSILON_0_E_PER_V_A * volume * BOLTZMANN_EV_K * temperature)
    tensor = dielectric_tensor(dipoles, volume, temperature)
    # sampling error of a covariance element ~ sqrt(2/n) ≈ 0.3 % of the diagonal
    np.testing.assert_allclose(tensor, expected, atol=0.02 * np.abs(expected).max())
    # about zero, the non-zero mean adds its outer product
    about_zero = dielectric_tensor(dipoles, volume, temperature, zero_mean=True)
    shift = np.outer([3.0, -1.0, 0.5], [3.0, -1.0, 0.5])
    np.testing.assert_allclose(
        about_zero - tensor, shift / (EPSILON_0_E_PER_V_A * volume * BOLTZMANN_EV_K * temperature),
        rtol=0.05)


def test_epsilon_zero_in_electron_per_volt_angstrom():
    # Coulomb's constant e²/(4πε₀) = 14.399645 eV Å, the value in every MD unit table
    assert 1 / (4 * np.pi * EPSILON_0_E_PER_V_A) == pytest.approx(14.399645, rel=1e-7)


def test_parallel_and_perpendicular_projections_are_rotation_invariant():
    tensor = np.diag([10.0, 4.0, 4.0])
    assert parallel_perpendicular(tensor, [2.0, 0, 0]) == pytest.approx((10.0, 8.0))
    rotation = Rotation.random(random_state=1).as_matrix()
    rotated = rotation @ tensor @ rotation.T
    assert parallel_perpendicular(rotated, rotation @ [1.0, 0, 0]) == pytest.approx((10.0, 8.0))


def test_summary_uses_the_centrosymmetric_treatment_in_the_cubic_phase():
    rng = np.random.default_rng(2)
    dipoles = rng.normal(size=(4000, 3)) * [1.0, 2.0, 3.0]
    cubic = dielectric_summary(dipoles, np.full(4000, 400.0), 200.0, cubic=True)
    scale = 1 / (EPSILON_0_E_PER_V_A * 400.0 * BOLTZMANN_EV_K * 200.0)
    assert cubic["eps_iso"] == pytest.approx(1 + scale * 14 / 3, rel=0.05)
    assert cubic["eps_parallel"] == cubic["eps_perpendicular"] == cubic["eps_iso"]
    polar = dielectric_summary(dipoles + [50.0, 0, 0], np.full(4000, 400.0), 200.0,
                               cubic=False)
    assert polar["eps_parallel"] == pytest.approx(1 + scale * 1.0, rel=0.1)
    assert polar["eps_perpendicular"] == pytest.approx(1 + scale * 6.5, rel=0.1)
    assert 0 < polar["eps_parallel_error"] < 0.1 * polar["eps_parallel"]
    assert polar["eps_parallel_n_eff"] == pytest.approx(4000, rel=0.2)  # independent frames
    assert np.isnan(polar["eps_parallel_model_uncertainty"])  # no ensemble given
    assert polar["converged"] == "yes"


def test_epsilon_errors_cover_the_truth_on_correlated_dipoles():
    """AR(1) dipoles (τ = 10 frames, 2000 frames) with known covariance: ε_iso ± its error
    covers the exact value 68 % of the time."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(8)
    phi, sigma = np.exp(-1 / 10), np.array([1.0, 2.0, 3.0])
    scale = 1 / (EPSILON_0_E_PER_V_A * 400.0 * BOLTZMANN_EV_K * 200.0)
    exact = {True: 1 + scale * 14 / 3, False: 1 + scale * 1.0}  # ε_iso cubic, ε_∥ polar
    hits = {True: [], False: []}
    for _ in range(200):
        noise = rng.standard_normal((2000, 3)) * np.sqrt(1 - phi**2)
        noise[0] /= np.sqrt(1 - phi**2)
        dipoles = lfilter([1.0], [1.0, -phi], noise, axis=0) * sigma
        for cubic in (True, False):
            sample = dipoles if cubic else dipoles + [50.0, 0, 0]
            summary = dielectric_summary(sample, np.full(2000, 400.0), 200.0, cubic=cubic)
            name = "eps_iso" if cubic else "eps_parallel"
            hits[cubic].append(abs(summary[name] - exact[cubic]) < summary[f"{name}_error"])
    for cubic, values in hits.items():
        assert 0.60 <= np.mean(values) <= 0.76, (cubic, np.mean(values))


def test_epsilon_model_uncertainty_follows_the_members():
    from analysis.reweighting import ensemble_reweighting

    rng = np.random.default_rng(4)
    dipoles = rng.normal(size=(3000, 3))
    # identical members: no model uncertainty; members that tilt M_x: ε_xx spreads
    flat = ensemble_reweighting(np.zeros((3000, 4)), 200.0)
    summary = dielectric_summary(dipoles, np.full(3000, 400.0), 200.0, True, flat)
    assert summary["eps_iso_model_uncertainty"] == pytest.approx(0.0, abs=1e-9)
    tilt = np.outer(dipoles[:, 0] ** 2, [-1, 0, 1, 2]) * 2e-3
    summary = dielectric_summary(dipoles, np.full(3000, 400.0), 200.0, True,
                                 ensemble_reweighting(tilt, 200.0))
    assert summary["eps_xx_model_uncertainty"] > 10 * summary["eps_yy_model_uncertainty"]


# --------------------------------------------------------------------------- Eq. 8


def two_phase_weights(temperatures, transition_K, slope_eV_K, frames=1000):
    """Σ_t P of a low- and a high-temperature phase whose Δμ is a(T - Tc) exactly."""
    delta_mu = slope_eV_K * (temperatures - transition_K)  # μ_high − μ_low
    ratio = np.exp(-delta_mu / (BOLTZMANN_EV_K * temperatures))
    high = frames * ratio / (1 + ratio)
    return np.column_stack([frames - high, high])


def test_transition_temperature_of_a_known_linear_crossing():
    temperatures = np.array([150.0, 180.0, 210.0, 240.0, 270.0])
    weights = two_phase_weights(temperatures, 223.0, -2e-4)
    delta_mu = [chemical_potential_difference(t, w[1], w[0])
                for t, w in zip(temperatures, weights)]
    root, error = transition_temperature(temperatures, delta_mu)
    assert root == pytest.approx(223.0, abs=1e-8)
    assert error == pytest.approx(0.0, abs=1e-6)
    rows = transitions(temperatures, weights, ["tetragonal", "cubic"], 0.01)
    assert rows[0]["transition_K"] == pytest.approx(223.0, abs=1e-8)
    assert rows[0]["points"] == 5


def test_transition_error_covers_noisy_populations():
    rng = np.random.default_rng(3)
    temperatures = np.linspace(100, 300, 9)
    misses = []
    for _ in range(200):
        weights = two_phase_weights(temperatures, 190.0, -1e-4, frames=400)
        noisy = rng.binomial(400, weights[:, 1] / 400)
        counts = np.column_stack([400 - noisy, noisy]).astype(float)
        usable = (counts > 0).all(axis=1)
        delta_mu = [chemical_potential_difference(t, c[1], c[0])
                    for t, c in zip(temperatures[usable], counts[usable])]
        root, error = transition_temperature(temperatures[usable], delta_mu)
        misses.append(abs(root - 190.0) / error)
    # a standard error: about 95 % of fits within two of it
    assert 0.85 < np.mean(np.array(misses) < 2) < 1.0


def test_transition_needs_two_usable_temperatures():
    weights = np.array([[100.0, 0.0], [99.0, 1.0], [0.0, 100.0]])
    rows = transitions(np.array([100.0, 200.0, 300.0]), weights, ["tetragonal", "cubic"], 0.02)
    assert rows[0]["points"] == 0 and np.isnan(rows[0]["transition_K"])


# --------------------------------------------------------------------------- phases


def test_polar_invariants_do_not_see_the_domain_orientation():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(1, 3, 5))
    cell = np.eye(3)[None] * 8.0
    flipped = vectors[:, [2, 0, 1], :] * np.array([-1, 1, -1])[None, :, None]
    np.testing.assert_allclose(polar_invariants(vectors, cell),
                               polar_invariants(flipped, cell))


def test_mixture_labels_follow_the_anchors():
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    frames = np.concatenate([c + 0.5 * rng.normal(size=(100, 2)) for c in centres[::-1]])
    truth = np.repeat([2, 1, 0], 100)
    landscape = PhaseLandscape.fit(frames, centres + 0.3, components=2)
    mixture = phase_mixture(landscape.project(frames), landscape.project(centres + 0.3), 0)
    assigned = mixture.predict_proba(landscape.project(frames)).argmax(axis=1)
    assert np.mean(assigned == truth) > 0.98


# --------------------------------------------------------------------------- Born charges


@pytest.mark.parametrize("phase, axes", [("tetragonal", [0, 0, 1]), ("orthorhombic", [0, 1, 1]),
                                         ("rhombohedral", [1, 1, 1])])
def test_born_charge_polarization_of_the_polar_phases(phase, axes):
    atoms = bto_pseudocubic_cell(phase).repeat((2, 1, 2))
    dipole = born_charge_dipole(atoms, CHARGES)
    polarization = np.linalg.norm(dipole) / atoms.get_volume() * E_PER_A2_TO_C_PER_M2
    direction = np.abs(dipole) / np.linalg.norm(dipole)
    np.testing.assert_allclose(direction, np.array(axes) / np.linalg.norm(axes), atol=0.02)
    # linear-response estimates of BaTiO3's spontaneous polarization are 0.2-0.45 C/m²
    # (experiment, tetragonal: 0.26 C/m², Wemple, Phys. Rev. B 2, 2679 (1970))
    assert 0.2 < polarization < 0.45
    if phase == "tetragonal":
        assert polarization == pytest.approx(0.26, abs=0.04)


def test_born_charge_dipole_of_cubic_is_zero_and_translation_invariant():
    cubic = bto_pseudocubic_cell("cubic").repeat((2, 2, 1))
    assert np.abs(born_charge_dipole(cubic, CHARGES)).max() < 1e-10
    polar = bto_pseudocubic_cell("rhombohedral").repeat((1, 2, 2))
    polar.rattle(0.05, seed=0)
    moved = polar.copy()
    moved.translate([1.3, -0.7, 2.2])
    moved.wrap()
    np.testing.assert_allclose(born_charge_dipole(moved, CHARGES),
                               born_charge_dipole(polar, CHARGES), atol=1e-10)


def test_born_charges_refuse_what_is_not_a_perovskite():
    atoms = bto_pseudocubic_cell("cubic").repeat((1, 1, 2))
    with pytest.raises(NotPerovskiteError, match="not a"):
        born_charge_dipole(atoms[:-1], CHARGES)
    crowded = atoms.copy()
    crowded.positions[1] = crowded.positions[6] + 0.1  # both Ti on one cell's Ti site
    with pytest.raises(NotPerovskiteError, match="hold two atoms"):
        born_charge_dipole(crowded, CHARGES)
    with pytest.raises(ValueError, match="acoustic sum rule"):
        BornCharges(Ti=6.0)


def test_reference_dipoles_win_over_born_charges():
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = bto_pseudocubic_cell("tetragonal")
    engine = atoms.copy()
    engine.calc = SinglePointCalculator(engine, dipole=np.array([0.1, 0.2, 0.3]))
    labelled = label_dipoles([atoms, engine], CHARGES)
    assert labelled[0].info["dipole_source"] == "born_effective_charges"
    assert labelled[1].info["dipole_source"] == "reference"
    np.testing.assert_allclose(labelled[1].info["cell_dipole"], [0.1, 0.2, 0.3])


# --------------------------------------------------------------------------- λ-SOAP model

SMALL_BASIS = {"cutoff_A": 4.0, "atomic_width_A": 0.5, "max_radial": 0, "max_angular": 1,
               "regularizers": [1e-12], "folds": 2}


def rattled_cells(count, seed):
    cells = []
    for index in range(count):
        atoms = bto_pseudocubic_cell(["cubic", "tetragonal", "rhombohedral"][index % 3])
        atoms.rattle(0.08, seed=seed + index)
        cells.append(atoms)
    return cells


def test_lambda_soap_dipole_model_rotates_with_the_structure():
    frames = rattled_cells(12, 0)
    labels = np.array([born_charge_dipole(f, CHARGES) for f in frames])
    settings = {**SMALL_BASIS, "max_radial": 2, "max_angular": 2, "regularizers": [1e-6]}
    model = fit_dipole_model(lambda_soap_cell_features(frames, settings), labels, settings, 0)
    probe = rattled_cells(1, 99)[0].repeat((1, 2, 1))
    rotation = Rotation.random(random_state=7).as_matrix()
    rotated = probe.copy()
    rotated.set_cell(probe.cell.array @ rotation.T, scale_atoms=True)
    before, after = model.predict([probe, rotated])
    assert np.linalg.norm(before) > 1e-3
    np.testing.assert_allclose(after, rotation @ before, atol=1e-9 * np.linalg.norm(before))


def test_lambda_soap_model_fits_a_synthetic_linear_dipole_exactly():
    frames = rattled_cells(40, 10)
    features = lambda_soap_cell_features(frames, SMALL_BASIS)
    weights = np.random.default_rng(8).normal(size=features.shape[-1])
    targets = features @ weights  # exactly linear in the features
    model = fit_dipole_model(features[:30], targets[:30], SMALL_BASIS, 0)
    np.testing.assert_allclose(model.predict_features(features[30:]), targets[30:],
                               atol=1e-6 * np.abs(targets).max())
