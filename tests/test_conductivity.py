"""Green-Kubo and Einstein-Helfand estimators against analytic answers."""

import json

import numpy as np
import pytest

from analysis.conductivity import (
    BOLTZMANN_EV_K,
    S_PER_CM,
    arrhenius_fit,
    autocorrelation,
    charge_current,
    einstein_helfand,
    green_kubo,
    mean_square_displacement,
    unwrapped_charge_dipole,
)


def ornstein_uhlenbeck(rng, frames, atoms, sigma, tau, dt):
    """Velocities (frames, atoms, 3) with <v(t)v(0)> = sigma² exp(-t/tau) per component,
    sampled exactly (no discretisation error)."""
    decay = np.exp(-dt / tau)
    noise = np.sqrt(1 - decay**2)
    v = np.empty((frames, atoms, 3))
    v[0] = rng.normal(size=(atoms, 3)) * sigma[:, None]
    kicks = rng.normal(size=(frames, atoms, 3)) * sigma[None, :, None] * noise
    for t in range(1, frames):
        v[t] = decay * v[t - 1] + kicks[t]
    return v


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    dt, tau = 2.0, 20.0  # fs
    sigma = np.array([0.010, 0.006, 0.004, 0.008])  # Å/fs
    charges = np.array([1.0, -1.0, 2.0, 0.0])
    velocities = ornstein_uhlenbeck(rng, 200_000, 4, sigma, tau, dt)
    # <M(t)·M(0)> = 3 Σ q² σ² exp(-t/τ): its integral is 3 τ Σ q² σ².
    integral = 3 * tau * np.sum(charges**2 * sigma**2)
    return {"dt": dt, "tau": tau, "charges": charges, "velocities": velocities,
            "integral": integral, "volume": 2000.0, "temperature": 500.0}


def expected_sigma(case):
    return case["integral"] / (3 * case["volume"] * BOLTZMANN_EV_K * case["temperature"]) * S_PER_CM


def test_current_autocorrelation_is_the_exponential(synthetic):
    current = charge_current(synthetic["velocities"], synthetic["charges"])
    acf = autocorrelation(current, 40)
    lags = np.arange(41) * synthetic["dt"]
    analytic = synthetic["integral"] / synthetic["tau"] * np.exp(-lags / synthetic["tau"])
    np.testing.assert_allclose(acf, analytic, rtol=0.05, atol=0.02 * analytic[0])


def test_green_kubo_recovers_the_analytic_integral(synthetic):
    current = charge_current(synthetic["velocities"], synthetic["charges"])
    sigma = green_kubo(current, synthetic["dt"], synthetic["volume"], synthetic["temperature"],
                       max_lag_fs=10 * synthetic["tau"])
    # Truncating at 10 τ misses e^-10 of the integral; statistics give ~2 %.
    assert sigma == pytest.approx(expected_sigma(synthetic), rel=0.05)


def test_einstein_helfand_agrees_with_green_kubo_through_wrapped_positions(synthetic):
    dt = synthetic["dt"]
    positions = np.cumsum(synthetic["velocities"], axis=0) * dt
    cell = np.diag([11.0, 12.0, 13.0])
    wrapped = positions - np.floor(positions @ np.linalg.inv(cell)) @ cell
    cells = np.repeat(cell[None], len(positions), axis=0)
    dipole = unwrapped_charge_dipole(wrapped, cells, synthetic["charges"])
    direct = np.einsum("fia,i->fa", positions - positions[0], synthetic["charges"])
    np.testing.assert_allclose(dipole, direct, atol=1e-8)
    sigma = einstein_helfand(dipole, dt, synthetic["volume"], synthetic["temperature"],
                             fit_from_fs=5 * synthetic["tau"], fit_to_fs=25 * synthetic["tau"])
    # The MSD of an integrated OU process is 2 I (t - τ (1 - e^{-t/τ})): its slope is 2 I.
    assert sigma == pytest.approx(expected_sigma(synthetic), rel=0.08)


def test_mean_square_displacement_matches_the_direct_sum():
    rng = np.random.default_rng(1)
    series = np.cumsum(rng.normal(size=(50, 3)), axis=0)
    msd = mean_square_displacement(series, 10)
    direct = [np.mean(np.sum((series[k:] - series[: len(series) - k]) ** 2, axis=1))
              for k in range(11)]
    np.testing.assert_allclose(msd, direct, rtol=1e-10, atol=1e-10)


def test_units_on_a_hand_computed_case():
    # One +1 ion moving at 1e-3 Å/fs for 101 frames 1 fs apart: <M·M> = 1e-6 (e Å/fs)² at
    # every lag, integral to 100 fs = 1e-4 e²Å²/fs.  With Ω = 1000 Å³, T = 300 K:
    # k_B T = 0.025851999786 eV; σ = 1e-4 / (3 · 1000 · 0.025851999786) e²/(eV Å fs)
    #   = 1.289392e-6 · 1.602176634e4 S/cm = 0.0206584 S/cm.
    velocities = np.zeros((101, 1, 3))
    velocities[:, 0, 0] = 1e-3
    current = charge_current(velocities, np.array([1.0]))
    assert green_kubo(current, 1.0, 1000.0, 300.0, 100.0) == pytest.approx(0.0206584, rel=1e-5)


def test_arrhenius_fit_recovers_the_activation_energy():
    temperatures = np.array([400.0, 500.0, 600.0, 800.0])
    sigma = 50.0 * np.exp(-0.3 / (BOLTZMANN_EV_K * temperatures))
    sigma_with_bad = np.append(sigma, -1.0)  # a negative noisy point is skipped
    energy, prefactor = arrhenius_fit(np.append(temperatures, 700.0), sigma_with_bad)
    assert energy == pytest.approx(0.3, rel=1e-9)
    assert prefactor == pytest.approx(50.0, rel=1e-9)
    assert arrhenius_fit(np.array([500.0]), np.array([1.0])) is None


def test_origin_series_reproduce_the_estimators_and_their_errors_cover_the_truth():
    """Per-origin Green-Kubo and Einstein-Helfand series: their means are the estimators
    over those origins, and σ ± the autocorrelation-aware error of the mean covers the
    analytic σ of an Ornstein-Uhlenbeck current about 68 % of the time."""
    from scipy.signal import lfilter

    from analysis.conductivity import einstein_helfand_origins, green_kubo_origins
    from analysis.statistics import mean_error

    rng = np.random.default_rng(21)
    dt, tau, frames, lag, volume, temperature = 1.0, 20.0, 4000, 150.0, 1000.0, 300.0
    phi = np.exp(-dt / tau)
    # exact integral of the OU autocorrelation 3 e^{-t/τ} (unit variance per component)
    truth = 3 * tau * (1 - np.exp(-lag / tau)) / (3 * volume * BOLTZMANN_EV_K * temperature) \
        * 1.602176634e4
    hits = []
    for trial in range(200):
        noise = rng.standard_normal((frames, 3)) * np.sqrt(1 - phi**2)
        noise[0] /= np.sqrt(1 - phi**2)
        current = lfilter([1.0], [1.0, -phi], noise, axis=0)
        series = green_kubo_origins(current, dt, volume, temperature, lag)
        estimate = mean_error(series)
        hits.append(abs(estimate.value - truth) < estimate.error)
        if trial == 0:
            # the trapezoid weights of the origin series are green_kubo's
            assert len(series) == frames - 150
            assert estimate.value == pytest.approx(
                green_kubo(current, dt, volume, temperature, lag), rel=0.1)
            dipole = np.cumsum(current, axis=0) * dt
            eh = einstein_helfand_origins(dipole, dt, volume, temperature, lag / 2, lag)
            assert eh.mean() == pytest.approx(
                einstein_helfand(dipole, dt, volume, temperature, lag / 2, lag), rel=0.15)
    assert 0.60 <= np.mean(hits) <= 0.76, np.mean(hits)


def test_weighted_arrhenius_fit_gives_the_activation_energy_error():
    from analysis.conductivity import arrhenius_fit_errors

    rng = np.random.default_rng(4)
    temperatures = np.array([400.0, 500.0, 600.0, 800.0])
    exact = 50.0 * np.exp(-0.3 / (BOLTZMANN_EV_K * temperatures))
    relative = np.array([0.1, 0.05, 0.1, 0.2])
    fits = [arrhenius_fit_errors(temperatures, exact * np.exp(rng.normal(0, relative)),
                                 exact * relative) for _ in range(500)]
    energies = np.array([f["activation_energy_eV"] for f in fits])
    stated = fits[0]["activation_energy_error_eV"]
    assert np.std(energies) == pytest.approx(stated, rel=0.1)
    assert 0.62 <= np.mean(np.abs(energies - 0.3) < stated) <= 0.74


def wrapped_trajectory(rng, frames, atoms, cell, step_std, vibration_std):
    """Positions (frames, atoms, 3) wrapped into a cubic ``cell``: atoms random-walking with
    ``step_std`` per component and frame, plus independent thermal vibration of
    ``vibration_std`` about their (walking) sites.  Returns the positions and the true
    displacement first frame -> last."""
    sites = rng.uniform(0, cell, size=(atoms, 3))
    walk = np.cumsum(rng.normal(scale=step_std, size=(frames, atoms, 3)), axis=0)
    walk[0] = 0.0
    vibration = rng.normal(scale=vibration_std, size=(frames, atoms, 3))
    unwrapped = sites + walk + vibration
    return np.mod(unwrapped, cell), unwrapped[-1] - unwrapped[0]


def test_framework_displacement_tells_a_crystal_from_a_melt():
    from analysis.lps_conductivity import framework_displacement

    rng = np.random.default_rng(11)
    cell, frames, atoms = 8.0, 400, 300
    cells = np.broadcast_to(np.eye(3) * cell, (frames, 3, 3))
    # Crystal: vibration about fixed sites, σ = 0.1 Å per component -> the first-to-last
    # displacement has RMS sqrt(3 · 2 σ²) = 0.245 Å, however long the run.
    crystal, _ = wrapped_trajectory(rng, frames, atoms, cell, 0.0, 0.1)
    framework, masses = np.ones(atoms, dtype=bool), np.ones(atoms)
    assert framework_displacement(crystal, cells, framework, masses) == pytest.approx(
        np.sqrt(6) * 0.1, rel=0.1)
    # The whole cell's content drifting together (a thermostat's kick) is no melting.
    drift = np.linspace(0, 1, frames)[:, None, None] * np.array([2.5, -1.0, 0.7])
    drifting = np.mod(crystal + drift, cell)
    assert framework_displacement(drifting, cells, framework, masses) == pytest.approx(
        framework_displacement(crystal, cells, framework, masses), rel=1e-6)
    # Melt: a random walk of 0.05 Å per component and frame -> RMS sqrt(3 · 399) · 0.05
    # = 1.73 Å (plus the vibration), crossing the cell's faces many times.
    melt, truth = wrapped_trajectory(rng, frames, atoms, cell, 0.05, 0.1)
    truth -= truth.mean(axis=0)
    assert framework_displacement(melt, cells, framework, masses) == pytest.approx(
        np.sqrt(np.mean(np.sum(truth**2, axis=1))), rel=1e-9)
    assert framework_displacement(melt, cells, framework, masses) == pytest.approx(
        np.sqrt(3 * (frames - 1) * 0.05**2 + 6 * 0.1**2), rel=0.1)
    # Only the framework counts: mobile ions may diffuse through a crystal that holds
    # (heavy framework atoms, so the light ions' walk barely moves the centre of mass).
    mixed = np.concatenate([crystal, melt], axis=1)
    mask = np.r_[np.ones(atoms, bool), np.zeros(atoms, bool)]
    weights = np.r_[np.full(atoms, 1000.0), np.ones(atoms)]
    assert framework_displacement(mixed, cells, mask, weights) == pytest.approx(
        framework_displacement(crystal, cells, framework, masses), rel=0.02)
    assert np.isnan(framework_displacement(mixed, cells, np.zeros(2 * atoms, bool), weights))


def test_crystal_problem_names_each_cause_and_passes_a_held_crystal():
    from analysis.lps_conductivity import crystal_problem

    limits = {"framework_species": ["P"], "max_framework_displacement_A": 1.0,
              "max_volume_change": 0.15}
    assert crystal_problem(0.2, 0.05, limits) == ""
    assert crystal_problem(0.2, -0.149, limits) == ""
    melted = crystal_problem(2.5, 0.0, limits)
    assert "P moved 2.50 Å RMS > 1" in melted and "volume" not in melted
    swollen = crystal_problem(0.3, 0.9, limits)
    assert "volume +90% from the crystal's" in swollen and "moved" not in swollen
    assert "moved" in crystal_problem(5.0, -0.2, limits) and "-20%" in crystal_problem(
        5.0, -0.2, limits)


def test_a_status_without_the_crystals_volume_is_one_clear_error(tmp_path, capsys):
    from analysis.lps_conductivity import main
    from petmad.config import validate_config
    from petmad.errors import EXIT_STATUS, run_reporting_errors

    status = tmp_path / "runs" / "lps" / "pet-mad" / "gamma" / "500K" / "status.json"
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"phase": "gamma", "temperature_K": 500.0, "natoms": 64,
                                  "origin": "shipped lps_gamma",
                                  "replicas": [{"replica": 0, "status": "ok"}]}))
    settings = validate_config({}).studies.lps_conductivity.model_dump_json()
    table = tmp_path / "lps.csv"
    code = run_reporting_errors(main, ["--status", str(status), "--settings", settings,
                                       "--table", str(table), "--figure",
                                       str(tmp_path / "lps.pdf")])
    assert code == EXIT_STATUS and not table.exists()
    assert "crystal_volume_A3" in capsys.readouterr().err
