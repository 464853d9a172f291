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
    estimator: Callable[..., float], *series: np.ndarray, n_blocks: int = 10
) -> tuple[float, float]:
    """A nonlinear estimator (a variance, a ratio) of time series and its block-jackknife
    standard error: the estimator is recomputed leaving out one contiguous block at a time."""
    arrays = [np.asarray(s, dtype=float) for s in series]
    length = min(len(a) for a in arrays)
    n_blocks = min(n_blocks, length)
    value = float(estimator(*[a[:length] for a in arrays]))
    if n_blocks < 2:
        return value, float("nan")
    size = length // n_blocks
    arrays = [a[: size * n_blocks] for a in arrays]
    leave_one_out = []
    for block in range(n_blocks):
        keep = np.ones(size * n_blocks, dtype=bool)
        keep[block * size : (block + 1) * size] = False
        leave_one_out.append(estimator(*[a[keep] for a in arrays]))
    leave_one_out = np.array(leave_one_out)
    error = np.sqrt((n_blocks - 1) / n_blocks * np.sum((leave_one_out - leave_one_out.mean()) ** 2))
    return value, float(error)
