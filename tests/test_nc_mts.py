"""Direct forces and multiple time stepping (paper S12): the estimators against known
answers, the run settings, and the job's plumbing and resume on a cheap potential."""

import json

import numpy as np
import pytest
from ase import units
from pydantic import ValidationError

from analysis.nc_mts import (
    BOLTZMANN_EV_K,
    diffusion_coefficient,
    nc_mts_figure,
    nc_mts_tables,
    species_msd,
    species_temperatures,
)
from petmad.config import NcMtsSettings
from petmad.simulate import PotentialSpec
from petmad.studies.nc_mts import nc_mts_job, run_settings, seconds_per_inner_step

AMU_A2_FS2_IN_EV = units._amu * 1e10 / units._e


def test_species_temperatures_recover_maxwell_boltzmann():
    rng = np.random.default_rng(0)
    symbols = ["O", "H", "H"] * 200
    masses = np.array([15.999 if s == "O" else 1.008 for s in symbols])
    temperatures = {"O": 300.0, "H": 900.0}  # different on purpose: a per-species estimator
    sigma = np.sqrt(np.array([BOLTZMANN_EV_K * temperatures[s] for s in symbols])
                    / (masses * AMU_A2_FS2_IN_EV))  # Å/fs per component
    velocities = rng.normal(size=(50, len(symbols), 3)) * sigma[None, :, None]
    result = species_temperatures(velocities, masses, symbols)
    for species, expected in temperatures.items():
        atoms = symbols.count(species)
        # relative standard error of the mean kinetic energy: sqrt(2 / (3 N frames))
        tolerance = 4 * np.sqrt(2 / (3 * atoms * 50))
        assert result[species].mean() == pytest.approx(expected, rel=tolerance)


def test_msd_of_ballistic_atoms_crossing_the_cell_is_exact():
    cell = np.diag([5.0, 6.0, 7.0])
    velocity = np.array([0.7, -0.4, 0.2])  # Å per frame, less than half a cell
    frames = 30
    start = np.array([[1.0, 1.0, 1.0], [4.5, 5.5, 6.5]])
    unwrapped = start[None] + np.arange(frames)[:, None, None] * velocity
    wrapped = unwrapped - np.floor(unwrapped / np.diag(cell)) * np.diag(cell)
    msd = species_msd(wrapped, cell, ["O", "O"], "O", 10)
    np.testing.assert_allclose(msd, (np.arange(11) * np.linalg.norm(velocity)) ** 2,
                               rtol=1e-10, atol=1e-10)


def test_diffusion_coefficient_of_a_random_walk():
    rng = np.random.default_rng(1)
    step, dt_ps, frames = 0.1, 0.01, 2000
    walk = np.cumsum(rng.normal(0.0, step, size=(frames, 200, 3)), axis=0)
    cell = np.eye(3) * 1000.0
    msd = species_msd(walk, cell, ["O"] * 200, "O", 100)
    # per component ⟨Δx²⟩ = step² n, so MSD = 3 step² t / dt = 6 D t
    expected = step**2 / (2 * dt_ps)
    assert diffusion_coefficient(msd, dt_ps) == pytest.approx(expected, rel=0.05)
    assert np.isnan(diffusion_coefficient(msd[:3], dt_ps))


def test_every_variant_covers_the_same_simulated_time():
    settings = NcMtsSettings(steps=64, record_stride=16, outer_every=8)
    runs = {v: run_settings(settings, v, "nve", 1) for v in ("conservative", "direct", "mts")}
    for run in runs.values():
        assert run.steps * run.timestep_fs == pytest.approx(64 * 0.5)
        assert run.records.trajectory_stride * run.timestep_fs == pytest.approx(16 * 0.5)
        assert run.records.properties_stride * run.timestep_fs == pytest.approx(8 * 0.5)
    assert runs["mts"].mts.outer_every == 8 and runs["conservative"].mts is None
    nvt = run_settings(settings, "direct", "nvt", 1)
    assert nvt.thermostat.kind == "svr" and nvt.thermostat.tau_fs == 10.0
    with pytest.raises(ValidationError, match="multiple of outer_every"):
        NcMtsSettings(steps=60, outer_every=8)


def test_time_per_step_leaves_out_the_first_chunk():
    timings = [(0, 10, 50.0), (10, 20, 1.0), (20, 30, 1.2), (30, 40, 0.8)]
    assert seconds_per_inner_step(timings, 1) == pytest.approx(0.1)
    assert seconds_per_inner_step(timings, 8) == pytest.approx(0.1 / 8)
    assert seconds_per_inner_step(timings[:1], 1) == pytest.approx(5.0)
    assert np.isnan(seconds_per_inner_step([], 1))


def test_job_runs_six_variants_resumes_and_feeds_the_analysis(tmp_path):
    # A harmonic (Einstein) potential stands in for a model: its direct-force twin is the
    # same field, so the job's plumbing is tested, not the physics (test_simulate does that).
    settings = NcMtsSettings(n_molecules=2, relax_steps=0, equilibration_steps=8, steps=32,
                             record_stride=8, rdf_bins=10, temperature_K=100.0)
    model = PotentialSpec(kind="harmonic", spring_eV_A2=2.0)
    status = nc_mts_job(tmp_path / "job", model, settings, seed=3, progress=False)
    assert status["status"] == "ok" and len(status["runs"]) == 6
    assert all(run["status"] == "ok" for run in status["runs"]), status["runs"]
    assert all(run["seconds_per_inner_step"] > 0 for run in status["runs"])

    # A killed job: one run's summary lost; only that run is redone.
    lost = tmp_path / "job" / "mts-nvt" / "status.json"
    kept = tmp_path / "job" / "direct-nve" / "status.json"
    kept_time = kept.stat().st_mtime_ns
    lost.unlink()
    again = nc_mts_job(tmp_path / "job", model, settings, seed=3, progress=False)
    assert lost.exists() and kept.stat().st_mtime_ns == kept_time
    assert [r["variant"] for r in again["runs"]] == [r["variant"] for r in status["runs"]]

    table, curves = nc_mts_tables(tmp_path / "job" / "status.json", settings.model_dump())
    assert len(table) == 6
    assert (table.loc[table["variant"] == "conservative", "speedup"] == 1.0).all()
    assert table["simulated_ps"].to_numpy() == pytest.approx(32 * 0.5e-3)
    assert {"temperature_O_K", "temperature_H_K", "diffusion_O_A2_per_ps"} <= set(table)
    nc_mts_figure(table, curves, settings.temperature_K, tmp_path / "figure.pdf")
    assert (tmp_path / "figure.pdf").stat().st_size > 0


def test_a_model_without_a_direct_force_head_is_reported(tmp_path):
    settings = NcMtsSettings(n_molecules=2, relax_steps=0, equilibration_steps=8, steps=16,
                             record_stride=8)
    # a weak Lennard-Jones fluid: conservative only, no direct-force form
    model = PotentialSpec(kind="lj", lj={"epsilon": 0.001, "sigma": 1.0, "rc": 3.0})
    status = nc_mts_job(tmp_path / "job", model, settings, seed=3, progress=False)
    by_variant = {(r["variant"], r["ensemble"]): r for r in status["runs"]}
    assert by_variant[("conservative", "nve")]["status"] == "ok"
    assert by_variant[("direct", "nve")]["status"] == "stopped"
    table, _ = nc_mts_tables(tmp_path / "job" / "status.json", {"rdf_bins": 10})
    assert json.loads(table.to_json())  # the analysis copes with runs that never started
