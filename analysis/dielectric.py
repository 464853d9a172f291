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

from analysis.statistics import jackknife_blocks

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


def dielectric_summary(dipoles: np.ndarray, volumes_A3: np.ndarray, temperature_K: float,
                       cubic: bool, n_blocks: int) -> dict[str, float]:
    """ε tensor components, ε_iso, ε_∥ and the mean ε_⊥ per direction, with block-jackknife
    errors.  ``cubic``: the centrosymmetric treatment (zero mean, scalar ε); otherwise the
    projections use the run's mean dipole direction."""
    dipoles = np.asarray(dipoles, float)
    volume = float(np.mean(volumes_A3))
    direction = dipoles.mean(axis=0)

    def estimate(*columns: np.ndarray) -> np.ndarray:
        sample = np.stack(columns, axis=1)
        tensor = dielectric_tensor(sample, volume, temperature_K, zero_mean=cubic)
        iso = np.trace(tensor) / 3
        if cubic:
            parallel, perpendicular = iso, iso
        else:
            parallel, perpendicular = parallel_perpendicular(tensor, direction)
            perpendicular /= 2
        upper = tensor[np.triu_indices(3)]
        return np.concatenate([upper, [iso, parallel, perpendicular]])

    value, error = jackknife_blocks(estimate, *dipoles.T, n_blocks=n_blocks)
    summary = {name: float(v) for name, v in zip(EPSILON_NAMES, value)}
    summary.update({f"{name}_error": float(e) for name, e in zip(EPSILON_NAMES, error)})
    summary["mean_dipole_eA"] = float(np.linalg.norm(direction))
    return summary
