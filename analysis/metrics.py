"""Error and calibration estimators: pure functions on arrays."""

from __future__ import annotations

import numpy as np


def mae(errors: np.ndarray) -> float:
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    return float(np.mean(np.abs(errors))) if errors.size else float("nan")


def rmse(errors: np.ndarray) -> float:
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    return float(np.sqrt(np.mean(errors**2))) if errors.size else float("nan")


def offset(errors: np.ndarray) -> float:
    """The mean signed error: a model's constant offset from the reference."""
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    return float(np.mean(errors)) if errors.size else float("nan")


def offset_free_mae(errors: np.ndarray) -> float:
    """MAE once the constant offset is removed.  On a set of one composition (a system's
    MD frames) a constant per-atom offset changes neither the forces nor any energy
    difference between its configurations, so this is the energy error its dynamics see."""
    errors = np.asarray(errors, dtype=float)
    errors = errors[np.isfinite(errors)]
    return mae(errors - np.mean(errors)) if errors.size else float("nan")


def calibration_curve(
    predicted_sigma: np.ndarray, errors: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin structures by predicted uncertainty (equal counts per bin) and compare, per bin,
    the root-mean-square predicted σ with the root-mean-square observed error.  A
    calibrated Gaussian model gives points on the diagonal.  Returns (rms σ, rmse, count)."""
    sigma = np.asarray(predicted_sigma, dtype=float)
    errors = np.asarray(errors, dtype=float)
    keep = np.isfinite(sigma) & np.isfinite(errors)
    sigma, errors = sigma[keep], errors[keep]
    if sigma.size == 0:
        return np.array([]), np.array([]), np.array([], dtype=int)
    order = np.argsort(sigma)
    bins = [b for b in np.array_split(order, min(n_bins, sigma.size)) if b.size]
    rms_sigma = np.array([np.sqrt(np.mean(sigma[b] ** 2)) for b in bins])
    rms_error = np.array([np.sqrt(np.mean(errors[b] ** 2)) for b in bins])
    return rms_sigma, rms_error, np.array([b.size for b in bins])


def z_score_rms(predicted_sigma: np.ndarray, errors: np.ndarray) -> float:
    """sqrt(mean((error/σ)²)): 1 for calibrated Gaussian uncertainties, > 1 overconfident."""
    sigma = np.asarray(predicted_sigma, dtype=float)
    errors = np.asarray(errors, dtype=float)
    keep = np.isfinite(sigma) & np.isfinite(errors) & (sigma > 0)
    return float(np.sqrt(np.mean((errors[keep] / sigma[keep]) ** 2))) if keep.any() else float("nan")


def weighted_std(values: np.ndarray, weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Standard deviation under normalised quadrature weights (rotational discrepancy)."""
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    mean = np.sum(values * weights, axis=axis, keepdims=True)
    return np.sqrt(np.sum(weights * (values - mean) ** 2, axis=axis))
