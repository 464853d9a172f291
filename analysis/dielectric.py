"""Static dielectric tensor from cell-dipole fluctuations (paper S11.F, Eqs. 9-11).

    ε_r,αβ = δ_αβ + cov(M_α, M_β) / (ε₀ Ω k_B T)                        (9)
    ε_∥ = Σ_αβ ε_r,αβ M̂_α M̂_β,   ε_⊥ = Σ_αβ ε_r,αβ (δ_αβ − M̂_α M̂_β)    (10, 11)

with M̂ the unit mean dipole.  In the cubic phase the mean dipole is zero by symmetry, so
the second moment about zero is used and the tensor is reported as its scalar, trace/3.
Following Eq. 11 literally, ε_⊥ is the trace over the plane normal to M̂, i.e. the sum of
its two components; :func:`dielectric_summary` also gives their mean, which is what a
plot of "the" perpendicular permittivity shows.
"""

from __future__ import annotations

import numpy as np

from analysis.reweighting import member_values, spread
from analysis.statistics import function_of_means, function_verdict

# ε₀ in e / (V Å): 8.8541878128e-12 C/(V m) / 1.602176634e-19 C × 1e-10 m/Å
EPSILON_0_E_PER_V_A = 8.8541878128e-12 / 1.602176634e-19 * 1e-10
BOLTZMANN_EV_K = 8.617333262e-5
EPSILON_NAMES = ["eps_xx", "eps_xy", "eps_xz", "eps_yy", "eps_yz", "eps_zz", "eps_iso",
                 "eps_parallel", "eps_perpendicular"]


def dielectric_tensor(dipoles: np.ndarray, volume_A3: float, temperature_K: float,
                      zero_mean: bool = False) -> np.ndarray:
    """Eq. 9; ``dipoles`` (frames, 3) in e·Å.  ``zero_mean``: fluctuations about M = 0
    (centrosymmetric phase) instead of about the sample mean."""
    dipoles = np.asarray(dipoles, float)
    if len(dipoles) < 2:
        raise ValueError("the dielectric tensor needs at least two dipoles")
    centred = dipoles if zero_mean else dipoles - dipoles.mean(axis=0)
    covariance = centred.T @ centred / (len(dipoles) - (0 if zero_mean else 1))
    thermal = EPSILON_0_E_PER_V_A * volume_A3 * BOLTZMANN_EV_K * temperature_K
    return np.eye(3) + covariance / thermal


def parallel_perpendicular(tensor: np.ndarray, direction: np.ndarray) -> tuple[float, float]:
    """Eqs. 10-11: ε_∥ and ε_⊥ (the trace over the plane normal to ``direction``)."""
    unit = np.asarray(direction, float) / np.linalg.norm(direction)
    projector = np.outer(unit, unit)
    return float(np.sum(tensor * projector)), float(np.sum(tensor * (np.eye(3) - projector)))


def dielectric_samples(dipoles: np.ndarray, cubic: bool) -> np.ndarray:
    """Per-frame moments (M_x, M_y, M_z and the six products M_a M_b, upper triangle) that
    the averages of :func:`dielectric_function` need; about zero in the cubic phase, else
    about the mean dipole (the covariance does not change; round-off does)."""
    dipoles = np.asarray(dipoles, float)
    shifted = dipoles if cubic else dipoles - dipoles.mean(axis=0)
    rows, columns = np.triu_indices(3)
    return np.column_stack([shifted, shifted[:, rows] * shifted[:, columns]])


def dielectric_function(volume_A3: float, temperature_K: float, cubic: bool):
    """ε components, ε_iso, ε_∥ and the mean ε_⊥ (:data:`EPSILON_NAMES`) from the averages
    of :func:`dielectric_samples`: a function of means for the statistical error and for
    reweighting.  The projections use the mean dipole direction (the shift of the samples
    is added back)."""
    thermal = EPSILON_0_E_PER_V_A * volume_A3 * BOLTZMANN_EV_K * temperature_K
    rows, columns = np.triu_indices(3)

    def epsilon(means: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        shift = np.zeros(3) if shift is None else shift
        first, second = means[:3], np.zeros((3, 3))
        second[rows, columns] = means[3:]
        second[columns, rows] = means[3:]
        covariance = second if cubic else second - np.outer(first, first)
        tensor = np.eye(3) + covariance / thermal
        iso = np.trace(tensor) / 3
        if cubic:
            parallel = perpendicular = iso
        else:
            parallel, perpendicular = parallel_perpendicular(tensor, first + shift)
            perpendicular /= 2
        return np.concatenate([tensor[rows, columns], [iso, parallel, perpendicular]])

    return epsilon


def dielectric_summary(dipoles: np.ndarray, volumes_A3: np.ndarray, temperature_K: float,
                       cubic: bool, reweighting=None) -> dict[str, float]:
    """ε tensor components, ε_iso, ε_∥ and the mean ε_⊥ per direction, with
    autocorrelation-aware errors and N_eff (:func:`analysis.statistics.function_of_means`)
    and, given the LLPR-ensemble ``reweighting`` of the frames, the model uncertainty of
    each (the members' spread; NaN without).  ``cubic``: the centrosymmetric treatment
    (zero mean, scalar ε); otherwise the projections use the run's mean dipole direction.
    The sample covariance divides by N, not N − 1 (a relative difference of 1/N)."""
    dipoles = np.asarray(dipoles, float)
    volume = float(np.mean(volumes_A3))
    direction = dipoles.mean(axis=0)
    shift = np.zeros(3) if cubic else direction
    base = dielectric_function(volume, temperature_K, cubic)

    def estimate(means: np.ndarray) -> np.ndarray:
        return base(means, shift)

    samples = dielectric_samples(dipoles, cubic)
    result = function_of_means(estimate, samples)
    model = np.full(len(EPSILON_NAMES), np.nan)
    if reweighting is not None and reweighting.frames == len(samples):
        model = spread(member_values(estimate, samples, reweighting))
    summary = {name: float(v) for name, v in zip(EPSILON_NAMES, result.value)}
    summary.update({f"{name}_error": float(e) for name, e in zip(EPSILON_NAMES, result.error)})
    summary.update({f"{name}_n_eff": float(n) for name, n in zip(EPSILON_NAMES, result.n_eff)})
    summary.update({f"{name}_model_uncertainty": float(u) for name, u in zip(EPSILON_NAMES,
                                                                            model)})
    summary["mean_dipole_eA"] = float(np.linalg.norm(direction))
    summary["converged"], summary["convergence_note"] = function_verdict(
        lambda means: estimate(means)[6:], samples,
        reweighting.ess_check if reweighting is not None else None)
    return summary
