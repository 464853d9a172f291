"""Interface-pinning estimators against answers known by construction."""

import numpy as np
import pytest

from analysis.pinning import (
    BOLTZMANN_EV_K,
    chemical_potential_difference,
    effective_sample_size,
    melting_point,
    reweighted_means,
)


def test_sign_and_size_of_the_chemical_potential_difference():
    # Below T_m the solid grows against the bias: <s> > 1/2 and μ_solid < μ_liquid.
    assert chemical_potential_difference(0.6, kappa_eV=200.0, target=0.5, atoms=100) == \
        pytest.approx(-0.2)
    assert chemical_potential_difference(0.5, 200.0, 0.5, 100) == 0.0


def test_melting_point_of_an_exact_line_and_its_error():
    temperatures = np.array([950.0, 1000.0, 1050.0, 1100.0])
    delta_mu = 2e-4 * (temperatures - 1030.0)  # eV/atom, zero at 1030 K
    root, error = melting_point(temperatures, delta_mu, errors=np.full(4, 1e-3))
    assert root == pytest.approx(1030.0, abs=1e-9)
    # Independent errors σ on every point: the root moves by σ/slope over ~sqrt(n) points.
    rng = np.random.default_rng(3)
    roots = [melting_point(temperatures, delta_mu + rng.normal(scale=1e-3, size=4))[0]
             for _ in range(4000)]
    assert error == pytest.approx(np.std(roots), rel=0.1)
    with pytest.raises(ValueError, match="two temperatures"):
        melting_point(np.array([1000.0]), np.array([0.1]))


def test_reweighting_to_the_model_itself_changes_nothing():
    rng = np.random.default_rng(0)
    order = rng.uniform(size=500)
    energy = rng.normal(size=500)
    means = reweighted_means(order, energy, np.stack([energy, energy], axis=1), 1000.0)
    np.testing.assert_allclose(means, order.mean())
    assert effective_sample_size(energy, energy, 1000.0) == pytest.approx(500.0)


def test_reweighting_shifts_a_gaussian_by_the_analytic_amount():
    # s ~ N(μ, σ²) under the model; a member whose energy differs by a·s samples
    # N(μ − β a σ², σ²): exponential tilting of a Gaussian.
    rng = np.random.default_rng(1)
    temperature, mu, sigma, a = 1000.0, 0.5, 0.05, 0.5
    beta = 1.0 / (BOLTZMANN_EV_K * temperature)
    order = rng.normal(mu, sigma, size=400_000)
    model = np.zeros_like(order)
    members = np.stack([a * order, -a * order], axis=1)
    means = reweighted_means(order, model, members, temperature)
    shift = beta * a * sigma**2
    np.testing.assert_allclose(means, [mu - shift, mu + shift], atol=3e-4)


def test_melting_point_report_explains_non_crossing_and_noisy_data():
    from analysis.pinning import melting_point_report

    temperatures = np.array([900.0, 1000.0, 1100.0])
    root, _, note = melting_point_report(temperatures, 1e-4 * (temperatures - 1200.0))
    assert root == pytest.approx(1200.0) and "extrapolated" in note
    root, _, note = melting_point_report(temperatures, 1e-4 * (temperatures - 1000.0) + 1e-9)
    assert note == "interpolated"
    noisy = np.array([-1.0, 1.0, -1.0, 1.0, 2.0]) * 1e-3
    _, _, note = melting_point_report(np.array([900, 950, 1000, 1050, 1100.0]), noisy)
    assert "changes sign 3 times" in note
    root, _, note = melting_point_report(temperatures, np.zeros(3))
    assert np.isnan(root) and "does not depend" in note
    root, _, note = melting_point_report(np.array([1000.0]), np.array([0.1]))
    assert np.isnan(root) and "fewer than two" in note


def test_melting_point_error_covers_the_truth_on_correlated_pinned_runs():
    """Synthetic pinned runs: at every temperature ⟨s⟩ drifts as AR(1) noise (correlation
    time 40 frames, 2000 frames) about the value a linear Δμ(T) with T_m = 1050 K gives.
    T_m ± its error from autocorrelation-aware Δμ errors covers 1050 K 68 % of the time."""
    from scipy.signal import lfilter

    from analysis.statistics import mean_error

    rng = np.random.default_rng(12)
    temperatures = np.array([950.0, 1000.0, 1100.0, 1150.0])
    kappa, atoms, target, slope = 100.0, 100, 0.5, 1e-4
    frames, trials, phi = 2000, 300, np.exp(-1 / 40)
    mean_s = target - slope * (temperatures - 1050.0) * atoms / kappa
    means, errors = [], []
    for centre in mean_s:
        noise = rng.standard_normal((frames, trials)) * np.sqrt(1 - phi**2)
        noise[0] /= np.sqrt(1 - phi**2)
        estimate = mean_error(centre + 0.01 * lfilter([1.0], [1.0, -phi], noise, axis=0))
        means.append(estimate.value)
        errors.append(estimate.error)
    means, errors = np.array(means), np.array(errors)  # (temperatures, trials)
    hits = []
    for trial in range(trials):
        delta_mu = chemical_potential_difference(means[:, trial], kappa, target, atoms)
        root, error = melting_point(temperatures, delta_mu, kappa * errors[:, trial] / atoms)
        hits.append(abs(root - 1050.0) < error)
    assert 0.60 <= np.mean(hits) <= 0.76, np.mean(hits)
