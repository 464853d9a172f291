"""Ionic conductivity from equilibrium MD: Green-Kubo and Einstein-Helfand (pure functions).

With the total charge current M(t) = Σ_i q_i v_i(t) (e·Å/fs) in a cell of volume Ω,

    σ = 1 / (3 Ω k_B T) ∫_0^∞ ⟨M(t)·M(0)⟩ dt                 (Green-Kubo, paper Eqs. 2-3)
      = lim_{t→∞} ⟨|D(t) - D(0)|²⟩ / (6 Ω k_B T t)          (Einstein-Helfand)

where D(t) = Σ_i q_i r_i(t) is the unwrapped charge dipole (dD/dt = M).  Both are the
paper's J = (e/Ω) Σ q v form rewritten with M = Ω J / e.
"""

from __future__ import annotations

import numpy as np

from analysis.statistics import weighted_line

BOLTZMANN_EV_K = 8.617333262e-5
# 1 e²/(eV·Å·fs) = (1.602176634e-19 C)² / (1.602176634e-19 J · 1e-10 m · 1e-15 s)
#                = 1.602176634e6 S/m = 1.602176634e4 S/cm.
S_PER_CM = 1.602176634e4


def charge_current(velocities: np.ndarray, charges: np.ndarray) -> np.ndarray:
    """M(t) = Σ_i q_i v_i(t): (frames, atoms, 3) velocities (Å/fs) → (frames, 3) e·Å/fs."""
    return np.einsum("fia,i->fa", np.asarray(velocities, float), np.asarray(charges, float))


def unwrapped_displacements(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """r_i(t) - r_i(0) per atom, (frames, atoms, 3), with positions unwrapped frame to frame
    by the minimum image (frames must be closer in time than half a cell crossing)."""
    positions = np.asarray(positions, float)
    cells = np.broadcast_to(np.asarray(cells, float), (len(positions), 3, 3))
    steps = np.diff(positions, axis=0)
    fractional = np.einsum("fia,fab->fib", steps, np.linalg.inv(cells[1:]))
    fractional -= np.round(fractional)
    steps = np.einsum("fib,fba->fia", fractional, cells[1:])
    return np.concatenate([np.zeros_like(positions[:1]), np.cumsum(steps, axis=0)])


def unwrapped_charge_dipole(positions: np.ndarray, cells: np.ndarray, charges: np.ndarray
                            ) -> np.ndarray:
    """D(t) - D(0) = Σ_i q_i (r_i(t) - r_i(0)), positions unwrapped by the minimum image."""
    return np.einsum("fia,i->fa", unwrapped_displacements(positions, cells),
                     np.asarray(charges, float))


def autocorrelation(series: np.ndarray, max_lag: int) -> np.ndarray:
    """⟨x(t+τ)·x(t)⟩ over all time origins, τ = 0..max_lag samples; x is (frames, 3)."""
    series = np.asarray(series, float)
    frames = len(series)
    max_lag = min(max_lag, frames - 1)
    size = 1 << int(np.ceil(np.log2(2 * frames)))
    spectrum = np.fft.rfft(series, n=size, axis=0)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[: max_lag + 1]
    return correlation.sum(axis=1) / (frames - np.arange(max_lag + 1))


def running_integral(acf: np.ndarray, dt_fs: float) -> np.ndarray:
    """∫_0^τ acf dt by the trapezoid rule, for τ = 0..len(acf)-1 samples."""
    return np.concatenate([[0.0], np.cumsum(0.5 * (acf[1:] + acf[:-1]) * dt_fs)])


def green_kubo(current: np.ndarray, dt_fs: float, volume_A3: float, temperature_K: float,
               max_lag_fs: float) -> float:
    """σ in S/cm from the charge current sampled every ``dt_fs``, the autocorrelation
    integrated up to ``max_lag_fs`` (the truncation)."""
    lags = round(max_lag_fs / dt_fs)
    integral = running_integral(autocorrelation(current, lags), dt_fs)[-1]
    return float(integral / (3.0 * volume_A3 * BOLTZMANN_EV_K * temperature_K) * S_PER_CM)


def mean_square_displacement(series: np.ndarray, max_lag: int) -> np.ndarray:
    """⟨|x(t+τ) - x(t)|²⟩ over time origins, τ = 0..max_lag samples (FFT, O(N log N))."""
    series = np.asarray(series, float)
    frames = len(series)
    max_lag = min(max_lag, frames - 1)
    squares = np.sum(series**2, axis=1)
    counts = frames - np.arange(max_lag + 1)
    # Σ_t |x(t+τ)|² + |x(t)|² over the available origins, then minus twice the correlation.
    tail = np.cumsum(squares[::-1])[::-1]  # Σ_{t≥k} |x_t|²
    head = np.cumsum(squares)  # Σ_{t≤k} |x_t|²
    sums = tail[: max_lag + 1] + head[frames - 1 - np.arange(max_lag + 1)]
    cross = autocorrelation(series, max_lag) * counts
    return (sums - 2.0 * cross) / counts


def einstein_helfand(dipole: np.ndarray, dt_fs: float, volume_A3: float,
                     temperature_K: float, fit_from_fs: float, fit_to_fs: float) -> float:
    """σ in S/cm from the slope of the charge-dipole mean square displacement, fitted
    linearly between ``fit_from_fs`` and ``fit_to_fs`` (past the ballistic regime)."""
    last = round(fit_to_fs / dt_fs)
    msd = mean_square_displacement(dipole, last)
    lag = np.arange(len(msd)) * dt_fs
    window = lag >= fit_from_fs
    slope = np.polyfit(lag[window], msd[window], 1)[0]
    return float(slope / (6.0 * volume_A3 * BOLTZMANN_EV_K * temperature_K) * S_PER_CM)


def green_kubo_origins(current: np.ndarray, dt_fs: float, volume_A3: float,
                       temperature_K: float, max_lag_fs: float) -> np.ndarray:
    """The Green-Kubo σ (S/cm) as a time average over origins t: the per-origin series
    σ_t = M(t)·∫_0^L M(t+τ) dτ / (3 Ω k_B T) for t = 0 … N − L − 1, whose mean is the
    estimator with those origins and whose autocorrelation-aware error is σ's
    (:func:`analysis.statistics.mean_error`).  Empty when the run is shorter than L."""
    current = np.asarray(current, float)
    lags = round(max_lag_fs / dt_fs)
    origins = len(current) - lags
    if origins < 1:
        return np.zeros(0)
    weights = np.full(lags + 1, dt_fs)
    weights[[0, -1]] = 0.5 * dt_fs  # trapezoid rule
    ahead = sum(weights[k] * current[k:k + origins] for k in range(lags + 1))
    values = np.einsum("ta,ta->t", current[:origins], ahead)
    return values / (3.0 * volume_A3 * BOLTZMANN_EV_K * temperature_K) * S_PER_CM


def einstein_helfand_origins(dipole: np.ndarray, dt_fs: float, volume_A3: float,
                             temperature_K: float, fit_from_fs: float, fit_to_fs: float
                             ) -> np.ndarray:
    """The Einstein-Helfand σ (S/cm) as a time average over origins: the least-squares
    slope of the MSD between the two lags is linear in the MSD values, so it is the mean
    over origins t of Σ_τ c_τ |D(t+τ) − D(t)|² / (6 Ω k_B T), t = 0 … N − L − 1."""
    dipole = np.asarray(dipole, float)
    last = round(fit_to_fs / dt_fs)
    origins = len(dipole) - last
    lag = np.arange(last + 1) * dt_fs
    window = np.flatnonzero(lag >= fit_from_fs)
    if origins < 1 or len(window) < 2:
        return np.zeros(0)
    centred = lag[window] - lag[window].mean()
    coefficients = centred / np.sum(centred**2)
    values = sum(c * np.sum((dipole[k:k + origins] - dipole[:origins]) ** 2, axis=1)
                 for c, k in zip(coefficients, window))
    return values / (6.0 * volume_A3 * BOLTZMANN_EV_K * temperature_K) * S_PER_CM


def arrhenius_fit_errors(temperatures_K: np.ndarray, sigma: np.ndarray,
                         errors: np.ndarray | None = None) -> dict | None:
    """σ = σ0 exp(−Ea / k_B T) fitted on the positive points, weighted by the errors of
    ln σ (σ errors / σ) when every kept point has a finite positive one: activation energy
    (eV) with its standard error, prefactor (S/cm).  Without errors, the error comes from
    the scatter about the line (NaN with two points).  None with fewer than two points."""
    temperatures_K = np.asarray(temperatures_K, float)
    sigma = np.asarray(sigma, float)
    keep = np.isfinite(sigma) & (sigma > 0)
    if len(np.unique(temperatures_K[keep])) < 2:
        return None
    log_errors = None
    if errors is not None:
        log_errors = np.asarray(errors, float)[keep] / sigma[keep]
        if not np.all(np.isfinite(log_errors) & (log_errors > 0)):
            log_errors = None
    (intercept, slope), covariance = weighted_line(
        1.0 / (BOLTZMANN_EV_K * temperatures_K[keep]), np.log(sigma[keep]), log_errors)
    return {"activation_energy_eV": float(-slope),
            "activation_energy_error_eV": float(np.sqrt(covariance[1, 1])),
            "prefactor_S_per_cm": float(np.exp(intercept))}


def arrhenius_fit(temperatures_K: np.ndarray, sigma: np.ndarray
                  ) -> tuple[float, float] | None:
    """Activation energy (eV) and prefactor (S/cm) of σ = σ0 exp(-Ea / k_B T), fitted on the
    positive points (a noisy Green-Kubo integral can come out negative); None if fewer than
    two such points at distinct temperatures."""
    fit = arrhenius_fit_errors(temperatures_K, sigma)
    return None if fit is None else (fit["activation_energy_eV"], fit["prefactor_S_per_cm"])
