"""Path-integral estimators: pure functions on arrays recorded by the simulation engine."""

from __future__ import annotations

import numpy as np

from analysis.statistics import Estimate, function_of_means

BOLTZMANN_EV_K = 8.617333262e-5


def heat_capacity_samples(eps_v: np.ndarray, eps_v_prime: np.ndarray) -> np.ndarray:
    """Per-sample moments (ε_v − c, (ε_v − c)², ε_v′) of the scaled-coordinates estimator,
    with ε_v shifted by its mean c (the variance does not change; round-off does)."""
    eps = np.asarray(eps_v, float)
    centred = eps - eps.mean()
    return np.column_stack([centred, centred**2, np.asarray(eps_v_prime, float)])


def heat_capacity_function(temperature_K: float):
    """C_V (k_B) = β² (⟨ε_v²⟩ − ⟨ε_v⟩² − ⟨ε_v′⟩) from the averages of
    :func:`heat_capacity_samples`."""
    beta = 1.0 / (BOLTZMANN_EV_K * temperature_K)

    def capacity(means: np.ndarray) -> float:
        return beta**2 * (means[1] - means[0] ** 2 - means[2])

    return capacity


def scaled_coordinates_heat_capacity(eps_v: np.ndarray, eps_v_prime: np.ndarray,
                                     temperature_K: float) -> Estimate:
    """Constant-volume heat capacity, in units of k_B, from the scaled-coordinates
    estimator (Yamamoto, J. Chem. Phys. 123, 104101 (2005)):
    C_V = k_B β² (⟨ε_v²⟩ − ⟨ε_v⟩² − ⟨ε_v′⟩), with ε_v in eV and ε_v′ in eV².
    Returns value, autocorrelation-aware standard error and N_eff
    (:func:`analysis.statistics.function_of_means`)."""
    return function_of_means(heat_capacity_function(temperature_K),
                             heat_capacity_samples(eps_v, eps_v_prime))


def harmonic_ring_polymer(reduced_frequency: float, beads: int) -> tuple[float, float]:
    """Exact energy (in k_B T) and heat capacity (in k_B) per degree of freedom of a
    harmonic oscillator in the P-bead discretised path integral; x = βħω.

    The ring polymer's normal modes have frequencies ω_k² = ω² + (2P/βħ)² sin²(πk/P), and
    ln Z_P = -Σ_k ln(βħω_k/P) + const, so E/k_BT = Σ_k x²/(x² + u_k) and
    C/k_B = Σ_k x²(x² − u_k)/(x² + u_k)² with u_k = 4P² sin²(πk/P).  P = 1 gives the
    classical values (1, 1); P → ∞ the quantum ones ((x/2) coth(x/2), (x/2)²/sinh²(x/2)).
    """
    x2 = reduced_frequency**2
    u = 4.0 * beads**2 * np.sin(np.pi * np.arange(beads) / beads) ** 2
    energy = float(np.sum(x2 / (x2 + u)))
    heat_capacity = float(np.sum(x2 * (x2 - u) / (x2 + u) ** 2))
    return energy, heat_capacity
