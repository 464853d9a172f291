"""Interface-pinning estimators (paper II.E, S11.B): chemical-potential difference from the
mean pinning force, melting point, and LLPR-ensemble reweighting.  Pure functions.

With the bias V = κ/2 (s − s̄)² on the order parameter s, normalised so that the whole
cell solid gives s = 1 and liquid s = 0, moving the interface by ds turns N·ds atoms
(N: atoms whose order enters s) from liquid into solid, so dF/ds = N (μ_solid − μ_liquid).
In the biased equilibrium the mean total force on s vanishes, dF/ds + κ(⟨s⟩ − s̄) = 0, hence

    Δμ = μ_solid − μ_liquid = κ (s̄ − ⟨s⟩) / N          (per atom)

negative below the melting point (the solid grows until the bias holds it, ⟨s⟩ > s̄) and
positive above; T_m is where Δμ(T) crosses zero.
"""

from __future__ import annotations

import numpy as np

from analysis.reweighting import BOLTZMANN_EV_K, ensemble_reweighting  # noqa: F401 (re-exported)
from analysis.reweighting import reweighted_means as reweighted


def chemical_potential_difference(mean_order: float | np.ndarray, kappa_eV: float,
                                  target: float, atoms: int) -> float | np.ndarray:
    """Δμ = μ_solid − μ_liquid (eV/atom) from the mean pinned order parameter ⟨s⟩."""
    return kappa_eV * (target - np.asarray(mean_order, float)) / atoms


def reweighted_means(order: np.ndarray, model_energy: np.ndarray,
                     ensemble_energies: np.ndarray, temperature_K: float) -> np.ndarray:
    """⟨s⟩ under each ensemble member's potential, from frames sampled with the model's:
    exponential weights exp(−β (E_k − E_model)) per frame (:mod:`analysis.reweighting`).

    ``order`` (frames,), ``model_energy`` (frames,), ``ensemble_energies`` (frames, members).
    """
    rw = ensemble_reweighting(ensemble_energies, temperature_K, model_energy,
                              method="exponential")
    return reweighted(order, rw)


def effective_sample_size(model_energy: np.ndarray, member_energy: np.ndarray,
                          temperature_K: float) -> float:
    """Kish's effective number of frames behind a reweighted average (small: unreliable)."""
    pair = np.column_stack([member_energy, member_energy])
    rw = ensemble_reweighting(pair, temperature_K, model_energy, method="exponential")
    return float(rw.ess[0])


def _line_root(temperatures: np.ndarray, delta_mu: np.ndarray,
               weights: np.ndarray | None) -> float:
    slope, intercept = np.polyfit(temperatures, delta_mu, 1, w=weights)
    return -intercept / slope


def melting_point(temperatures_K: np.ndarray, delta_mu: np.ndarray,
                  errors: np.ndarray | None = None) -> tuple[float, float]:
    """Root of a (weighted) straight-line fit Δμ(T) = a + b T and its standard error.

    With errors of the Δμ points the error is propagated to first order through the
    root (derivatives by central differences, independent points); without them it comes
    from the scatter about the line (three points or more), else NaN.
    """
    temperatures = np.asarray(temperatures_K, float)
    delta_mu = np.asarray(delta_mu, float)
    if len(np.unique(temperatures)) < 2:
        raise ValueError("a melting point needs Δμ at two temperatures or more")
    if errors is None:
        root = _line_root(temperatures, delta_mu, None)
        if len(temperatures) < 3:
            return float(root), float("nan")
        (slope, intercept), covariance = np.polyfit(temperatures, delta_mu, 1, cov=True)
        gradient = np.array([intercept / slope**2, -1.0 / slope])
        return float(root), float(np.sqrt(max(gradient @ covariance @ gradient, 0.0)))
    errors = np.asarray(errors, float)
    weights = 1.0 / errors
    root = _line_root(temperatures, delta_mu, weights)
    variance = 0.0
    for index, sigma in enumerate(errors):
        step = np.zeros_like(delta_mu)
        step[index] = 1e-3 * sigma
        derivative = (_line_root(temperatures, delta_mu + step, weights)
                      - _line_root(temperatures, delta_mu - step, weights)) / (2e-3 * sigma)
        variance += (derivative * sigma) ** 2
    return float(root), float(np.sqrt(variance))


def melting_point_report(temperatures_K: np.ndarray, delta_mu: np.ndarray,
                         errors: np.ndarray | None = None) -> tuple[float, float, str]:
    """:func:`melting_point` plus a note on how much to trust it: whether Δμ changes sign
    once inside the temperature range (interpolated), never (extrapolated), or several
    times (noisy data, straight-line fit through all of it).  A flat Δμ gives NaN."""
    temperatures = np.asarray(temperatures_K, float)
    delta_mu = np.asarray(delta_mu, float)
    keep = np.isfinite(delta_mu) & np.isfinite(temperatures)
    temperatures, delta_mu = temperatures[keep], delta_mu[keep]
    if errors is not None:
        errors = np.asarray(errors, float)[keep]
        if not np.all(np.isfinite(errors) & (errors > 0)):
            errors = None
    if len(np.unique(temperatures)) < 2:
        return float("nan"), float("nan"), "fewer than two temperatures with results"
    order = np.argsort(temperatures)
    signs = np.sign(delta_mu[order])
    crossings = int(np.sum(signs[1:] * signs[:-1] < 0))
    slope = np.polyfit(temperatures, delta_mu, 1)[0]
    if slope == 0 or not np.isfinite(slope):
        return float("nan"), float("nan"), "Δμ does not depend on temperature: no melting point"
    root, error = melting_point(temperatures, delta_mu, errors)
    low, high = temperatures.min(), temperatures.max()
    if crossings == 0:
        note = (f"Δμ keeps one sign between {low:g} and {high:g} K: T_m extrapolated from "
                "the linear fit; extend the temperature grid")
    elif crossings > 1:
        note = (f"Δμ changes sign {crossings} times (noisy): T_m from the linear fit over "
                "all points; run longer")
    else:
        note = "interpolated"
    return root, error, note
