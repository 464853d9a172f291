"""Phase identification and transition temperatures from phase probabilities (paper S11.F).

* :func:`polar_invariants`: per frame, the cell-summed λ = 1 feature vectors on the
  pseudo-cubic cell axes, sorted by absolute value per channel, so that every domain
  orientation of a polar phase (± along any axis) gives the same row.
* :class:`PhaseLandscape`: standardisation and the principal axes of the ideal phase
  structures (the plane in which the phases differ): the collective variables.
* :func:`phase_mixture`: a Gaussian mixture with one component per phase, started at the
  ideal structures' CVs, giving every frame its probabilities P_k(t).
* :func:`chemical_potential_difference` (Eq. 8) and :func:`transition_temperature`: the zero
  of a linear fit of Δμ^{kk'}(T), with its error from the fit covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.dielectric import BOLTZMANN_EV_K


def polar_invariants(features: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``features`` (frames, 3, q) Cartesian vectors, ``cells`` (frames, 3, 3) rows = cell
    vectors → (frames, 3 q): per channel the components along the unit cell axes, sorted by
    decreasing absolute value."""
    axes = cells / np.linalg.norm(cells, axis=2, keepdims=True)
    along_axes = np.einsum("fab,fbq->faq", axes, features)
    ordered = -np.sort(-np.abs(along_axes), axis=1)
    return ordered.reshape(len(features), -1)


@dataclass
class PhaseLandscape:
    """CV = ((x - anchor mean) / scale) @ axes, with the axes the principal directions of the
    anchors (one row per ideal phase)."""

    scale: np.ndarray
    centre: np.ndarray
    axes: np.ndarray  # (components, features)

    @classmethod
    def fit(cls, frames: np.ndarray, anchors: np.ndarray, components: int) -> PhaseLandscape:
        scale = np.concatenate([frames, anchors]).std(axis=0)
        scale[scale < 1e-12] = 1.0  # constant columns carry no information
        scaled = anchors / scale
        centre = scaled.mean(axis=0)
        components = min(components, len(anchors) - 1)
        _, _, vt = np.linalg.svd(scaled - centre, full_matrices=False)
        return cls(scale, centre, vt[:components])

    def project(self, rows: np.ndarray) -> np.ndarray:
        return (rows / self.scale - self.centre) @ self.axes.T


def phase_mixture(cvs: np.ndarray, anchor_cvs: np.ndarray, seed: int):
    """A full-covariance Gaussian mixture with component k started at ``anchor_cvs[k]``;
    ``predict_proba`` of the result gives P_k(t) in the anchors' order."""
    from sklearn.mixture import GaussianMixture

    if len(cvs) < 2 * len(anchor_cvs):
        raise ValueError(f"{len(cvs)} frames are too few for a {len(anchor_cvs)}-phase mixture")
    mixture = GaussianMixture(len(anchor_cvs), covariance_type="full", means_init=anchor_cvs,
                              reg_covar=1e-4 * float(np.var(cvs)), random_state=seed,
                              max_iter=500)
    return mixture.fit(cvs)


def chemical_potential_difference(temperature_K: float, weight_k: float, weight_other: float
                                  ) -> float:
    """Δμ^{kk'} = -k_B T log(Σ_t P_k / Σ_t P_k') in eV (paper Eq. 8); k' is ``other``."""
    return float(-BOLTZMANN_EV_K * temperature_K * np.log(weight_k / weight_other))


def transition_temperature(temperatures: np.ndarray, delta_mu: np.ndarray
                           ) -> tuple[float, float]:
    """The zero of the least-squares line through Δμ(T), and its standard error from the
    fit's covariance (delta method); NaN error with exactly two points."""
    temperatures, delta_mu = np.asarray(temperatures, float), np.asarray(delta_mu, float)
    if len(temperatures) < 2:
        return np.nan, np.nan
    centre = temperatures.mean()  # centred abscissa: an uncorrelated slope and intercept
    x = temperatures - centre
    if np.allclose(x, 0):
        return np.nan, np.nan
    slope = float(np.sum(x * (delta_mu - delta_mu.mean())) / np.sum(x ** 2))
    intercept = float(delta_mu.mean())
    if slope == 0:
        return np.nan, np.nan
    root = centre - intercept / slope
    if len(temperatures) == 2:
        return root, np.nan
    residual = delta_mu - (intercept + slope * x)
    variance = float(np.sum(residual ** 2) / (len(x) - 2))
    var_intercept, var_slope = variance / len(x), variance / np.sum(x ** 2)
    # root - centre = -a/b: var = (1/b)² var_a + (a/b²)² var_b (a, b uncorrelated here)
    error = np.sqrt(var_intercept / slope ** 2 + intercept ** 2 * var_slope / slope ** 4)
    return root, float(error)


def transitions(temperatures: np.ndarray, weights: np.ndarray, phases: list[str],
                min_population: float) -> list[dict]:
    """Transition temperatures between consecutive phases of ``phases`` (ordered by
    increasing temperature) from the summed probabilities ``weights`` (temperatures ×
    phases).  A temperature enters the fit of a pair when both phases hold at least
    ``min_population`` of its frames."""
    shares = weights / weights.sum(axis=1, keepdims=True)
    rows = []
    for k in range(len(phases) - 1):
        usable = (shares[:, k] >= min_population) & (shares[:, k + 1] >= min_population)
        delta_mu = [chemical_potential_difference(t, weights[i, k + 1], weights[i, k])
                    for i, t in enumerate(temperatures) if usable[i]]
        root, error = transition_temperature(np.asarray(temperatures)[usable], delta_mu)
        rows.append({"low_phase": phases[k], "high_phase": phases[k + 1],
                     "transition_K": root, "transition_error_K": error,
                     "points": int(usable.sum())})
    return rows
