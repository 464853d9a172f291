"""Statistical errors and the convergence verdict (analysis/statistics.py) against known
answers: AR(1) series, whose mean, variance and integrated autocorrelation time are known
in closed form, and coverage over seeded trials."""

import numpy as np
import pytest
from scipy.signal import lfilter

from analysis.statistics import (
    combine_independent,
    convergence_verdict,
    function_of_means,
    halves_disagreement,
    mean_error,
    series_verdict,
    weighted_line,
)

LENGTH, TRIALS = 2000, 400


def ar1(length, trials, tau, rng):
    """Stationary AR(1) columns x_t = φ x_{t-1} + noise, φ = exp(−1/τ), unit variance, zero
    mean.  Integrated autocorrelation time (1 + φ) / (2 (1 − φ))."""
    phi = np.exp(-1.0 / tau)
    noise = rng.standard_normal((length, trials)) * np.sqrt(1 - phi**2)
    noise[0] /= np.sqrt(1 - phi**2)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], noise, axis=0)


def tau_int(tau):
    phi = np.exp(-1.0 / tau)
    return (1 + phi) / (2 * (1 - phi))


@pytest.mark.parametrize("tau", [1.0, LENGTH / 200, LENGTH / 50, LENGTH / 20])
def test_error_of_the_mean_covers_the_truth_68_percent_of_the_time(tau):
    x = ar1(LENGTH, TRIALS, tau, np.random.default_rng(int(tau)))
    estimate = mean_error(x)  # every column its own series: vectorised over trials
    coverage = np.mean(np.abs(estimate.value) < estimate.error)
    assert 0.60 <= coverage <= 0.76, coverage
    # N_eff is the number of independent samples: N / (2 τ_int), within its own noise.
    truth = LENGTH / (2 * tau_int(tau))
    assert 0.7 * truth < np.median(estimate.n_eff) < 1.5 * truth, (np.median(estimate.n_eff),
                                                                    truth)


def test_uncorrelated_samples_give_the_textbook_error():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(20000, 3))
    estimate = mean_error(x)
    np.testing.assert_allclose(estimate.error, 2.0 / np.sqrt(20000), rtol=0.1)
    np.testing.assert_allclose(estimate.n_eff, 20000, rtol=0.15)
    assert mean_error(np.ones(50)).error == 0.0  # constant: no error, no crash
    from analysis.statistics import ess_collapsed

    assert ess_collapsed(8.0, 8) and ess_collapsed(50.0, 1000) and not ess_collapsed(500.0, 1000)


def test_too_few_samples_give_no_error():
    estimate = mean_error(np.array([1.0, 2.0, 3.0]))
    assert estimate.value == 2.0 and np.isnan(estimate.error) and estimate.n_eff == 3


@pytest.mark.parametrize("tau", [1.0, 10.0, LENGTH / 100])
def test_variance_error_by_the_linearised_series_covers_the_truth(tau):
    # A variance from a run only tens of correlation times long is biased low by 2τ_int/N
    # and skewed, so coverage drops towards 0.6 at τ = N/50; N_eff flags such runs.
    x = ar1(LENGTH, 200, tau, np.random.default_rng(7 + int(tau)))
    hits = []
    for column in x.T:
        estimate = function_of_means(lambda m: m[1] - m[0] ** 2,
                                     np.column_stack([column, column**2]))
        hits.append(abs(estimate.value - 1.0) < estimate.error)
    assert 0.60 <= np.mean(hits) <= 0.76, np.mean(hits)


def test_function_of_means_is_exact_for_a_linear_function():
    x = ar1(LENGTH, 2, 10.0, np.random.default_rng(3))
    direct = mean_error(2 * x[:, 0] - x[:, 1])
    linear = function_of_means(lambda m: 2 * m[0] - m[1], x)
    assert linear.value == pytest.approx(direct.value)
    assert linear.error == pytest.approx(direct.error, rel=1e-5)


def test_independent_replicas_combine_like_one_long_run():
    value, error, n_eff = combine_independent([1.0, 3.0], [0.2, 0.2], [10, 10])
    assert value == 2.0 and error == pytest.approx(0.2 / np.sqrt(2)) and n_eff == 20


def test_weighted_line_errors_cover_the_true_slope():
    rng = np.random.default_rng(11)
    x = np.linspace(0, 1, 6)
    sigma = np.array([0.1, 0.2, 0.1, 0.3, 0.1, 0.2])
    hits, spread = [], []
    for _ in range(400):
        (_, slope), covariance = weighted_line(x, 1 + 2 * x + rng.normal(0, sigma),
                                                      sigma)
        hits.append(abs(slope - 2) < np.sqrt(covariance[1, 1]))
        spread.append(slope)
    assert 0.62 <= np.mean(hits) <= 0.74
    assert np.std(spread) == pytest.approx(np.sqrt(covariance[1, 1]), rel=0.1)


def test_halves_test_sees_a_drift_and_not_noise():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=4000)
    assert halves_disagreement(noise) < 3
    assert halves_disagreement(noise + np.linspace(0, 2, 4000)) > 10


def test_verdict_lists_every_reason():
    assert convergence_verdict(n_eff=100, halves_z=1.0, ess=(500.0, 1000)) == ("yes", "")
    verdict, note = convergence_verdict(n_eff=5, halves_z=4.0, ess=(50.0, 1000),
                                        extrapolated=True, replicas=1, min_replicas=2)
    assert verdict == "no"
    for part in ("N_eff 5 < 20", "halves disagree by 4.0 σ", "ensemble ESS collapsed",
                 "extrapolated", "1 replicas < 2"):
        assert part in note
    # a short, drifting series fails on its own numbers
    drifting = np.random.default_rng(1).normal(size=100) + np.linspace(0, 3, 100)
    verdict, note = series_verdict(drifting)
    assert verdict == "no" and "N_eff" in note and "halves" in note
    verdict, _ = series_verdict(np.random.default_rng(0).normal(size=1000))
    assert verdict == "yes"
