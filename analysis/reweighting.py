"""Model uncertainty of static observables by reweighting to the members of an LLPR
ensemble: pure functions on arrays.

Frames sampled with the model's potential E_ref are reweighted to member k's potential E_k
(both per frame; for path integrals the bead average, which is what the runs record):

    ⟨A⟩_k = Σ_t w_tk A_t,   w_tk ∝ exp(−β (E_k − E_ref)_t)          (exponential)
    ⟨A⟩_k ≈ ⟨A⟩ − β cov(A, E_k − E_ref)                             (cumulant expansion)

The cumulant expansion is exact when A and E_k − E_ref are jointly Gaussian and stays
well defined when the exponential weights collapse onto a few frames (large ensemble
spreads, big systems; M. Imbalzano et al., J. Chem. Phys. 154, 074102 (2021)).  The spread
(standard deviation) of ⟨A⟩_k over the members is the model uncertainty of ⟨A⟩.  Kish's
effective sample size (Σw)²/Σw² of each member's exponential weights says how many frames
its average rests on; ``method="auto"`` switches to the cumulant expansion when the
smallest collapses (:func:`analysis.statistics.ess_collapsed`: below a tenth of the frames
or below ten frames), and the convergence verdict flags it either way.  When β(E_k − E_ref)
itself spreads over more than ``MAX_CUMULANT_SPREAD`` k_B T, a first-order expansion is no
better than the collapsed weights: the members' values are NaN and the note says why.  E_ref defaults to the ensemble mean of every frame (the LLPR ensemble is
centred on the model's prediction); pass the model's own energy when the run has it.

A model without an ensemble (the reference engine, SevenNet, CHGNet, …) has no model
uncertainty: :func:`ensemble_reweighting` returns None and the tables say so
(:data:`NO_ENSEMBLE`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis.statistics import ess_collapsed

BOLTZMANN_EV_K = 8.617333262e-5
NO_ENSEMBLE = "no LLPR ensemble: no model uncertainty"
# Beyond this spread of β(E_k − E_ref) (in k_B T) over the frames, neither the collapsed
# exponential weights nor a first-order cumulant expansion can be trusted: no value.
MAX_CUMULANT_SPREAD = 5.0


@dataclass(frozen=True)
class Reweighting:
    """Per-member weights of the frames of one run at one temperature."""

    weights: np.ndarray  # (frames, members), each column summing to one (exponential)
    reduced: np.ndarray  # β (E_k − E_ref), (frames, members)
    ess: np.ndarray  # Kish effective sample size of every member (frames)
    method: str  # "exponential", "cumulant", or "none" (spread too large: NaN values)

    @property
    def frames(self) -> int:
        return self.weights.shape[0]

    @property
    def members(self) -> int:
        return self.weights.shape[1]

    @property
    def ess_fraction(self) -> float:
        """The smallest member's effective sample size over the number of frames."""
        return float(self.ess.min() / self.frames)

    @property
    def collapsed(self) -> bool:
        return ess_collapsed(float(self.ess.min()), self.frames)

    @property
    def ess_check(self) -> tuple[float, int]:
        """(smallest member ESS, frames): the ``ess`` argument of the convergence verdict."""
        return float(self.ess.min()), self.frames

    @property
    def reduced_spread(self) -> float:
        """The largest standard deviation of β(E_k − E_ref) over the frames (k_B T)."""
        return float(self.reduced.std(axis=0).max())

    def note(self) -> str:
        if self.method == "none":
            return (f"{self.members} members, spread of β ΔE {self.reduced_spread:.3g} k_B T > "
                    f"{MAX_CUMULANT_SPREAD:g}: reweighting collapsed, no model uncertainty")
        text = (f"{self.members} members, {self.method} reweighting, min ESS "
                f"{self.ess.min():.1f} of {self.frames} frames")
        return text + (" (collapsed)" if self.collapsed else "")


def ensemble_reweighting(ensemble_energies: np.ndarray | None, temperature_K: float,
                         reference_energy: np.ndarray | None = None, method: str = "auto"
                         ) -> Reweighting | None:
    """Weights of every frame for every member (``ensemble_energies``: frames × members,
    eV), or None without a usable ensemble (missing, fewer than two members or frames,
    non-finite values)."""
    if ensemble_energies is None:
        return None
    energies = np.asarray(ensemble_energies, dtype=float)
    if energies.ndim != 2 or energies.shape[0] < 2 or energies.shape[1] < 2 or \
            not np.isfinite(energies).all():
        return None
    reference = energies.mean(axis=1) if reference_energy is None else \
        np.asarray(reference_energy, dtype=float)
    reduced = (energies - reference[:, None]) / (BOLTZMANN_EV_K * temperature_K)
    exponent = -reduced - (-reduced).max(axis=0, keepdims=True)
    weights = np.exp(exponent)
    weights /= weights.sum(axis=0, keepdims=True)
    ess = 1.0 / np.sum(weights**2, axis=0)
    if method == "auto":
        method = "cumulant" if ess_collapsed(float(ess.min()), len(energies)) else "exponential"
        if method == "cumulant" and reduced.std(axis=0).max() > MAX_CUMULANT_SPREAD:
            method = "none"
    if method not in ("exponential", "cumulant", "none"):
        raise ValueError(f"unknown reweighting method '{method}'")
    return Reweighting(weights, reduced, ess, method)


def reweighted_means(samples: np.ndarray, reweighting: Reweighting) -> np.ndarray:
    """⟨A⟩ under every member: ``samples`` (frames, ...) → (members, ...)."""
    a = np.asarray(samples, dtype=float)
    flat = a.reshape(len(a), -1)
    if reweighting.method == "none":
        means = np.full((reweighting.members, flat.shape[1]), np.nan)
    elif reweighting.method == "exponential":
        means = reweighting.weights.T @ flat
    else:
        centred = flat - flat.mean(axis=0)
        h = reweighting.reduced - reweighting.reduced.mean(axis=0)
        means = flat.mean(axis=0) - h.T @ centred / len(a)
    return means.reshape(reweighting.members, *a.shape[1:])


def member_values(function: Callable[[np.ndarray], float | np.ndarray], samples: np.ndarray,
                  reweighting: Reweighting) -> np.ndarray:
    """A function of averages (as in :func:`analysis.statistics.function_of_means`) under
    every member: ``samples`` (frames, m) → (members, *value shape)."""
    a = np.asarray(samples, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    return np.array([np.asarray(function(means), float)
                     for means in reweighted_means(a, reweighting)])


def spread(values: np.ndarray) -> float | np.ndarray:
    """Model uncertainty: the standard deviation of per-member values (members first),
    ignoring members whose value is not finite."""
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fewer than two finite members
        result = np.nanstd(values, axis=0, ddof=1)
    return float(result) if np.ndim(result) == 0 else result


def model_uncertainty(samples: np.ndarray, ensemble_energies: np.ndarray | None,
                      temperature_K: float,
                      function: Callable[[np.ndarray], float | np.ndarray] | None = None,
                      reference_energy: np.ndarray | None = None, method: str = "auto"
                      ) -> tuple[float | np.ndarray, Reweighting | None, np.ndarray | None]:
    """Member spread of ⟨samples⟩ (or of ``function`` of the averages), the reweighting
    behind it and the per-member values; NaN and None without an ensemble."""
    rw = ensemble_reweighting(ensemble_energies, temperature_K, reference_energy, method)
    a = np.asarray(samples, dtype=float)
    if rw is None or len(a) != rw.frames:
        shape = np.shape(function(a.reshape(len(a), -1).mean(axis=0))) if function else \
            a.shape[1:]
        nan = np.full(shape, np.nan)
        return (float(nan) if nan.ndim == 0 else nan), None, None
    values = member_values(function, a, rw) if function else reweighted_means(a, rw)
    return spread(values), rw, values


def aligned(steps: np.ndarray, other_steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``steps`` and ``other_steps`` of the steps both record (records of
    different strides, e.g. heat-capacity terms and frames)."""
    _, first, second = np.intersect1d(np.asarray(steps), np.asarray(other_steps),
                                           return_indices=True)
    return first, second
