"""Statistical errors of time averages from correlated samples: pure functions on arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def block_average(samples: np.ndarray, n_blocks: int = 10) -> tuple[float, float]:
    """Mean of a time series and its standard error from ``n_blocks`` contiguous blocks.

    Blocks longer than the correlation time are nearly independent, so the spread of the
    block means gives an honest error where the naive σ/√N would be too small.  Samples
    that do not fill the last block are dropped.
    """
    samples = np.asarray(samples, dtype=float)
    n_blocks = min(n_blocks, len(samples))
    if n_blocks < 2:
        return float(np.mean(samples)) if len(samples) else float("nan"), float("nan")
    size = len(samples) // n_blocks
    means = samples[: size * n_blocks].reshape(n_blocks, size, *samples.shape[1:]).mean(axis=1)
    return float(np.mean(means)), float(np.std(means, ddof=1) / np.sqrt(n_blocks))


def jackknife_blocks(
    estimator: Callable[..., float | np.ndarray], *series: np.ndarray, n_blocks: int = 10
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """A nonlinear estimator (a variance, a ratio) of time series and its block-jackknife
    standard error: the estimator is recomputed leaving out one contiguous block at a time.
    An array-valued estimator gets an error per element."""
    arrays = [np.asarray(s, dtype=float) for s in series]
    length = min(len(a) for a in arrays)
    n_blocks = min(n_blocks, length)
    value = np.asarray(estimator(*[a[:length] for a in arrays]), dtype=float)
    if n_blocks < 2:
        return _plain(value), _plain(np.full_like(value, np.nan))
    size = length // n_blocks
    arrays = [a[: size * n_blocks] for a in arrays]
    leave_one_out = []
    for block in range(n_blocks):
        keep = np.ones(size * n_blocks, dtype=bool)
        keep[block * size : (block + 1) * size] = False
        leave_one_out.append(np.asarray(estimator(*[a[keep] for a in arrays]), dtype=float))
    leave_one_out = np.array(leave_one_out)
    spread = np.sum((leave_one_out - leave_one_out.mean(axis=0)) ** 2, axis=0)
    return _plain(value), _plain(np.sqrt((n_blocks - 1) / n_blocks * spread))


def _plain(value: np.ndarray) -> float | np.ndarray:
    return float(value) if value.ndim == 0 else value
