"""Ensemble reweighting (analysis/reweighting.py) against closed forms: Gaussian energy
differences, for which the tilted averages, the effective sample size and the cumulant
expansion are exact."""

import numpy as np
import pytest

from analysis.reweighting import (
    BOLTZMANN_EV_K,
    NO_ENSEMBLE,
    ensemble_reweighting,
    member_values,
    model_uncertainty,
    reweighted_means,
    spread,
)

TEMPERATURE = 500.0
BETA = 1.0 / (BOLTZMANN_EV_K * TEMPERATURE)


def gaussian_frames(frames, couplings, rng, width=0.01):
    """Observable A = x + noise and members E_k = E_ref + c_k · width · x, x ~ N(0, 1):
    (A, Δ_k) jointly Gaussian, so ⟨A⟩_k = −β cov(A, Δ_k) = −β c_k · width exactly and the
    Kish ESS fraction is exp(−β² Var Δ_k)."""
    x = rng.standard_normal(frames)
    observable = x + 0.5 * rng.standard_normal(frames)
    reference = 10.0 + rng.standard_normal(frames)  # anything: only differences matter
    ensemble = reference[:, None] + np.outer(x, np.asarray(couplings) * width)
    return observable, reference, ensemble


def test_exponential_and_cumulant_reweighting_give_the_gaussian_tilt():
    couplings = np.array([-1.0, -0.3, 0.0, 0.5, 1.0])
    observable, reference, ensemble = gaussian_frames(200_000, couplings,
                                                      np.random.default_rng(0), width=0.02)
    expected = -BETA * couplings * 0.02
    for method in ("exponential", "cumulant"):
        rw = ensemble_reweighting(ensemble, TEMPERATURE, reference, method=method)
        np.testing.assert_allclose(reweighted_means(observable, rw), expected, atol=0.01)
    rw = ensemble_reweighting(ensemble, TEMPERATURE, reference)
    np.testing.assert_allclose(rw.ess / rw.frames, np.exp(-(BETA * couplings * 0.02) ** 2),
                               rtol=0.05)
    assert rw.method == "exponential" and not rw.collapsed


def test_a_function_of_averages_follows_every_member():
    # Tilting a Gaussian shifts its mean and keeps its variance: member variances equal.
    couplings = np.array([-1.0, 0.0, 1.0])
    observable, reference, ensemble = gaussian_frames(200_000, couplings,
                                                      np.random.default_rng(1))
    rw = ensemble_reweighting(ensemble, TEMPERATURE, reference)
    samples = np.column_stack([observable, observable**2])
    variances = member_values(lambda m: m[1] - m[0] ** 2, samples, rw)
    np.testing.assert_allclose(variances, 1.25, rtol=0.02)


def test_identical_members_have_no_model_uncertainty():
    rng = np.random.default_rng(2)
    energies = rng.normal(size=50)
    ensemble = np.stack([energies] * 4, axis=1)
    values = rng.normal(size=50)
    uncertainty, rw, members = model_uncertainty(values, ensemble, TEMPERATURE)
    assert uncertainty == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(members, values.mean())
    assert rw.ess.min() == pytest.approx(50.0)


def test_the_spread_is_the_members_standard_deviation():
    couplings = np.linspace(-1, 1, 64)
    observable, reference, ensemble = gaussian_frames(100_000, couplings,
                                                      np.random.default_rng(3))
    uncertainty, _, _ = model_uncertainty(observable, ensemble, TEMPERATURE, reference_energy=
                                          reference)
    assert uncertainty == pytest.approx(BETA * 0.01 * np.std(couplings, ddof=1), rel=0.05)


def test_collapsed_weights_switch_to_the_cumulant_expansion():
    couplings = np.array([-1.0, 1.0])
    observable, reference, ensemble = gaussian_frames(5000, couplings,
                                                      np.random.default_rng(4), width=0.2)
    rw = ensemble_reweighting(ensemble, TEMPERATURE, reference)
    assert rw.collapsed and rw.method == "cumulant" and "collapsed" in rw.note()
    # still the exact Gaussian answer, where exponential weights sit on a handful of frames
    np.testing.assert_allclose(reweighted_means(observable, rw), -BETA * couplings * 0.2,
                               rtol=0.1)


def test_no_ensemble_gives_nan_and_never_crashes():
    values = np.arange(10.0)
    for ensemble in (None, np.zeros((10, 1)), np.full((10, 3), np.nan)):
        uncertainty, rw, members = model_uncertainty(values, ensemble, TEMPERATURE)
        assert np.isnan(uncertainty) and rw is None and members is None
    uncertainty, _, _ = model_uncertainty(np.ones((10, 4)), None, TEMPERATURE)
    assert uncertainty.shape == (4,) and np.isnan(uncertainty).all()
    assert "no LLPR ensemble" in NO_ENSEMBLE
    assert np.isnan(spread(np.array([1.0])))


def test_a_spread_beyond_any_expansion_gives_no_value_and_says_why():
    observable, reference, ensemble = gaussian_frames(2000, [-1.0, 1.0],
                                                      np.random.default_rng(5), width=1.0)
    uncertainty, rw, members = model_uncertainty(observable, ensemble, TEMPERATURE,
                                                 reference_energy=reference)
    assert rw.method == "none" and np.isnan(members).all() and np.isnan(uncertainty)
    assert "no model uncertainty" in rw.note()
