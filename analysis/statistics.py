"""Statistical errors of time averages from correlated samples, and the convergence
verdict every case-study number carries: pure functions on arrays.

The error of a time average comes from the integrated autocorrelation time of the series
(Sokal's self-consistent window, with Wolff's correction for the bias that subtracting the
sample mean leaves in the autocovariance; U. Wolff, Comput. Phys. Commun. 156, 143 (2004)):

    τ_int(W) = 1/2 + Σ_{t=1..W} ρ(t),   W the smallest lag with W ≥ c·τ_int(W)
    σ²(mean) = 2 τ_int Γ(0) (1 + (2W + 1)/N) / N,    N_eff = N / (2 τ_int)

N_eff is the number of independent samples the series is worth.  A nonlinear estimator of
averages (a variance, a ratio, a covariance) gets its error the same way from its
linearised per-sample series (:func:`function_of_means`), so one estimator serves every
error bar of the suite.  With fewer effective samples than ``SMALL_SAMPLE`` the error is
widened by the Student-t factor of its degrees of freedom, so that the stated ±1σ keeps
its 68 % coverage where the variance itself is poorly known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

WINDOW_FACTOR = 6.0  # Sokal's c: the window stops at c·τ_int
SMALL_SAMPLE = 30.0  # below this many effective samples, Student-t widening of the error

# Thresholds of the convergence verdict (module constants: one place to change them).
MIN_N_EFF = 20.0  # fewer independent samples than this: not converged
HALVES_Z = 3.0  # first and second halves disagree by more than this many combined errors
MIN_ESS_FRACTION = 0.1  # an ensemble member's reweighting rests on < 10 % of the frames
MIN_ESS_FRAMES = 10.0  # … or on fewer than this many frames
MIN_REPLICAS = 1  # a study may demand more independent replicas than this


@dataclass(frozen=True)
class Estimate:
    """A mean (or a function of means) with its standard error, the number of effective
    independent samples behind it and the integrated autocorrelation time (samples)."""

    value: float | np.ndarray
    error: float | np.ndarray
    n_eff: float | np.ndarray
    tau: float | np.ndarray

    def __iter__(self):  # value, error, n_eff = estimate
        return iter((self.value, self.error, self.n_eff))


def _plain(value):
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


def integrated_autocorrelation_time(series: np.ndarray, window_factor: float = WINDOW_FACTOR
                                    ) -> tuple[np.ndarray, np.ndarray]:
    """τ_int (samples, at least 1/2) and the window W of every column of ``series``
    (samples first, any trailing shape), by Sokal's self-consistent window."""
    x = np.asarray(series, dtype=float)
    n = x.shape[0]
    flat = x.reshape(n, -1)
    centred = flat - flat.mean(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(centred, n=size, axis=0)
    gamma = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[:n]
    gamma /= (n - np.arange(n))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = gamma / gamma[0]
    rho = np.nan_to_num(rho)  # a constant column: no correlation to speak of
    tau = 0.5 + np.cumsum(rho[1:], axis=0)  # τ(W) for W = 1..n-1
    lags = np.arange(1, n)[:, None]
    stop = lags >= window_factor * tau
    has_stop = stop.any(axis=0)
    window = np.where(has_stop, np.argmax(stop, axis=0) + 1, n - 1)
    chosen = tau[window - 1, np.arange(flat.shape[1])] if n > 1 else np.full(flat.shape[1], 0.5)
    chosen = np.maximum(chosen, 0.5)
    shape = x.shape[1:]
    return chosen.reshape(shape), window.reshape(shape)


def _student_factor(n_eff: np.ndarray) -> np.ndarray:
    """Ratio of the Student-t 84th percentile with n_eff − 1 degrees of freedom to the
    normal one (1 for many samples): a ±1σ interval that keeps 68 % coverage."""
    dof = np.clip(np.asarray(n_eff, float) - 1.0, 1.0, None)
    factor = stats.t.ppf(stats.norm.cdf(1.0), dof)
    return np.where(np.asarray(n_eff) >= SMALL_SAMPLE, 1.0, factor)


def mean_error(series: np.ndarray, window_factor: float = WINDOW_FACTOR) -> Estimate:
    """Mean of a time series (samples first; every trailing element its own series), its
    autocorrelation-aware standard error, N_eff and τ_int.  Fewer than 4 samples: NaN
    error, N_eff the number of samples."""
    x = np.asarray(series, dtype=float)
    n = x.shape[0] if x.ndim else 0
    if n == 0:
        nan = np.full(x.shape[1:], np.nan)
        return Estimate(_plain(nan), _plain(nan), _plain(np.zeros(x.shape[1:])), _plain(nan))
    mean = x.mean(axis=0)
    if n < 4:
        return Estimate(_plain(mean), _plain(np.full_like(mean, np.nan)),
                        _plain(np.full_like(mean, float(n))), _plain(np.full_like(mean, np.nan)))
    tau, window = integrated_autocorrelation_time(x, window_factor)
    # Wolff's correction for the bias the subtracted sample mean leaves in Γ(t).
    tau = tau * (1.0 + (2.0 * window + 1.0) / n)
    variance_of_mean = 2.0 * tau * x.var(axis=0) / n
    n_eff = np.minimum(n / (2.0 * tau), n)
    error = np.sqrt(variance_of_mean) * _student_factor(n_eff)
    return Estimate(_plain(mean), _plain(error), _plain(n_eff), _plain(tau))


def function_of_means(function: Callable[[np.ndarray], float | np.ndarray],
                      samples: np.ndarray, window_factor: float = WINDOW_FACTOR) -> Estimate:
    """A function of averages, f(⟨a_1⟩, …, ⟨a_m⟩), with its error: ``samples`` (N, m) holds
    the per-sample a_j, ``function`` maps the m means (a vector) to a value or an array.
    The error is that of the mean of the linearised series Σ_j ∂f/∂⟨a_j⟩ a_j(t) (the delta
    method applied sample by sample, so autocorrelation is accounted for); derivatives by
    central differences.

    A curved f is biased to second order: a variance ⟨a²⟩ − ⟨a⟩² comes out low by the
    variance of the mean, 2τ_int/N of itself (10 % when the run is only 20 correlation times
    long, where N_eff flags it as unconverged anyway).  Centre the samples (subtract a
    constant) where f allows it: the derivatives are numerical."""
    a = np.asarray(samples, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    means = a.mean(axis=0)
    value = np.asarray(function(means), dtype=float)
    if len(a) < 4:
        nan = np.full(value.shape, np.nan)
        return Estimate(_plain(value), _plain(nan), _plain(np.full(value.shape, float(len(a)))),
                        _plain(nan))
    scale = a.std(axis=0)
    steps = 1e-4 * np.where(scale > 0, scale, np.maximum(np.abs(means), 1.0))
    gradient = []
    for j in range(a.shape[1]):
        up, down = means.copy(), means.copy()
        up[j] += steps[j]
        down[j] -= steps[j]
        gradient.append((np.asarray(function(up), float) - np.asarray(function(down), float))
                        / (2 * steps[j]))
    gradient = np.array(gradient)  # (m, *value.shape)
    linear = np.tensordot(a - means, gradient, axes=(1, 0))  # (N, *value.shape)
    estimate = mean_error(linear, window_factor)
    return Estimate(_plain(value), estimate.error, estimate.n_eff, estimate.tau)


def combine_independent(values: np.ndarray, errors: np.ndarray, n_eff: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """Weighted mean of independent estimates (replicas), its error and the summed N_eff;
    ``weights`` default to equal (use the sample counts for runs of unequal length)."""
    values, errors = np.asarray(values, float), np.asarray(errors, float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, float)
    if not len(values):
        return float("nan"), float("nan"), 0.0
    weights = weights / weights.sum()
    return (float(np.sum(weights * values)), float(np.sqrt(np.sum((weights * errors) ** 2))),
            float(np.sum(n_eff)))


def halves_disagreement(series: np.ndarray) -> float | np.ndarray:
    """|mean(first half) − mean(second half)| in units of their combined error: a drift
    or an unequilibrated start shows as a large value (NaN when a half is too short)."""
    x = np.asarray(series, dtype=float)
    half = len(x) // 2
    first, second = mean_error(x[:half]), mean_error(x[half:2 * half])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(np.asarray(first.value) - second.value) / np.hypot(first.error, second.error)
    return _plain(z)


def weighted_line(x: np.ndarray, y: np.ndarray, errors: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line y = a + b x: (intercept, slope) and their covariance.  With
    ``errors`` the points are weighted by 1/σ² and the covariance follows from the σ (a
    fit of points with honest errors); without, from the scatter about the line."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    design = np.column_stack([np.ones_like(x), x])
    w = np.ones_like(x) if errors is None else 1.0 / np.asarray(errors, float) ** 2
    normal = design.T @ (design * w[:, None])
    coefficients = np.linalg.solve(normal, design.T @ (w * y))
    covariance = np.linalg.inv(normal)
    if errors is None:
        dof = len(x) - 2
        residual = y - design @ coefficients
        covariance = covariance * (residual @ residual / dof if dof > 0 else np.nan)
    return coefficients, covariance


def ess_collapsed(ess_min: float, frames: int) -> bool:
    """Whether reweighting to an ensemble member rests on too few frames: Kish's effective
    sample size below ``MIN_ESS_FRACTION`` of the frames or below ``MIN_ESS_FRAMES``."""
    return bool(ess_min < max(MIN_ESS_FRACTION * frames, MIN_ESS_FRAMES))


def convergence_verdict(n_eff: float | None = None, halves_z: float | None = None,
                        ess: tuple[float, int] | None = None, extrapolated: bool = False,
                        replicas: int | None = None, min_replicas: int = MIN_REPLICAS,
                        min_n_eff: float = MIN_N_EFF, extra: list[str] | None = None
                        ) -> tuple[str, str]:
    """("yes" | "no", the reasons) for one number.  Each criterion given is checked:

    * ``n_eff``: fewer effective independent samples than ``min_n_eff``;
    * ``halves_z``: first and second halves differ by more than ``HALVES_Z`` errors;
    * ``ess``: (the smallest ensemble member's Kish effective sample size, frames):
      reweighting collapsed (:func:`ess_collapsed`);
    * ``extrapolated``: a root (T_m, a transition temperature) outside the sampled grid;
    * ``replicas``: fewer independent replicas than ``min_replicas``;
    * ``extra``: reasons the caller found itself (e.g. an error that could not be computed).
    """
    reasons = list(extra or [])
    if n_eff is not None and not (np.isfinite(n_eff) and n_eff >= min_n_eff):
        reasons.append(f"N_eff {n_eff:.3g} < {min_n_eff:g}")
    if halves_z is not None and np.isfinite(halves_z) and halves_z > HALVES_Z:
        reasons.append(f"halves disagree by {halves_z:.1f} σ")
    if ess is not None and ess_collapsed(*ess):
        reasons.append(f"ensemble ESS collapsed ({ess[0]:.1f} of {ess[1]} frames)")
    if extrapolated:
        reasons.append("extrapolated outside the grid")
    if replicas is not None and replicas < min_replicas:
        reasons.append(f"{replicas} replicas < {min_replicas}")
    return ("no" if reasons else "yes"), "; ".join(reasons)


def series_verdict(series: np.ndarray, ess: tuple[float, int] | None = None,
                   extra: list[str] | None = None, **kwargs) -> tuple[str, str]:
    """:func:`convergence_verdict` of a time average: N_eff and the halves test from the
    series itself (1-D; for several columns, the worst column decides)."""
    x = np.asarray(series, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    x = x.reshape(len(x), -1)
    if len(x) < 8:
        return convergence_verdict(n_eff=float(len(x)), ess=ess, extra=extra, **kwargs)
    n_eff = np.nanmin(np.atleast_1d(mean_error(x).n_eff))
    z = np.atleast_1d(halves_disagreement(x))
    z = float(np.nanmax(z)) if np.isfinite(z).any() else float("nan")
    return convergence_verdict(n_eff=float(n_eff), halves_z=z, ess=ess, extra=extra,
                               **kwargs)


def function_verdict(function: Callable[[np.ndarray], float | np.ndarray], samples: np.ndarray,
                     ess: tuple[float, int] | None = None, extra: list[str] | None = None,
                     **kwargs) -> tuple[str, str]:
    """:func:`convergence_verdict` of a function of averages (:func:`function_of_means`):
    N_eff of its linearised series and the halves test on the function itself (for an
    array-valued function, the worst element decides)."""
    a = np.asarray(samples, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if len(a) < 8:
        return convergence_verdict(n_eff=float(len(a)), ess=ess, extra=extra, **kwargs)
    n_eff = float(np.nanmin(np.atleast_1d(function_of_means(function, a).n_eff)))
    half = len(a) // 2
    first, second = function_of_means(function, a[:half]), function_of_means(function, a[half:])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.atleast_1d(np.abs(np.asarray(first.value) - second.value)
                          / np.hypot(first.error, second.error))
    z = float(np.nanmax(z)) if np.isfinite(z).any() else float("nan")
    return convergence_verdict(n_eff=n_eff, halves_z=z, ess=ess, extra=extra, **kwargs)
