"""Simulation engine physics on cheap potentials (EMT, Lennard-Jones, harmonic).

Each test runs i-PI through ``petmad.simulate`` exactly as the case studies do.  Tolerances
are a few statistical errors of the run lengths used here; run lengths are the shortest
that separate right from wrong (e.g. classical vs quantum heat capacity).
"""

import itertools
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.io import read
from scipy import stats

from analysis.pimd import harmonic_ring_polymer, scaled_coordinates_heat_capacity
from analysis.statistics import mean_error
from petmad.simulate import (
    DynamicsSettings,
    PotentialSpec,
    SimulationStopped,
    run_dynamics,
)
from petmad.simulate.ipi_input import ForceTerm, RunFiles, render_input
from petmad.simulate.potentials import Evaluator
from petmad.simulate.records import read_properties
from petmad.simulate.settings import StopCriteria

KB = units.kB  # eV/K
# Tethered oscillators sit far apart: the geometry guards would only cost time.
NO_GUARDS = {"min_distance_A": None}


def settings(**overrides):
    base = {"ensemble": "nvt", "temperature_K": 300.0, "timestep_fs": 2.0, "steps": 200,
            "records": {"properties_stride": 1, "trajectory_stride": 10,
                        "checkpoint_stride": 100}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return DynamicsSettings.model_validate(base)


def argon(repeat=2):
    return bulk("Ar", "fcc", a=5.26, cubic=True).repeat(repeat)


def einstein_crystal(symbol="H", count=8):
    """Independent 3D oscillators far apart (the guards see no collisions)."""
    grid = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)])[:count]
    return Atoms(symbol * count, positions=4.0 * grid, cell=[8, 8, 8], pbc=True)


def harmonic(spring, **extra):
    return PotentialSpec(kind="harmonic", spring_eV_A2=spring, **extra)


def spring_for(reduced_frequency, temperature, mass):
    """Spring constant (eV/Å²) giving βħω = reduced_frequency for atoms of ``mass`` (amu)."""
    hbar = units._hbar * units.J * units.s  # eV · ASE time
    omega = reduced_frequency * KB * temperature / hbar
    return mass * omega**2


def conserved_drift_per_atom_ps(table: pd.DataFrame, natoms: int) -> float:
    slope = np.polyfit(table["time_ps"], table["conserved_eV"], 1)[0]
    return abs(slope) / natoms


# ----------------------------------------------------------------------------- NVE / MTS


def test_nve_conserves_energy_with_a_conservative_model(tmp_path):
    atoms = argon()
    run = settings(ensemble="nve", temperature_K=40.0, timestep_fs=4.0, steps=500)
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    table = pd.read_csv(tmp_path / "properties.csv")
    drift = conserved_drift_per_atom_ps(table, len(atoms))
    fluctuation = table["conserved_eV"].std() / len(atoms)
    kinetic = table["kinetic_eV"].mean() / len(atoms)
    # Stated bound: drift below 1e-5 eV/atom/ps and fluctuations below 1 % of kinetic energy.
    assert drift < 1e-5, drift
    assert fluctuation < 0.01 * kinetic, (fluctuation, kinetic)
    assert table["potential_eV"].std() > 1e-4  # the atoms did move


def test_direct_forces_drift_and_multiple_time_stepping_does_not(tmp_path):
    atoms = einstein_crystal("Ar")
    spring = 0.5
    # The curl field is 5 % of the spring: its energy growth rate is ~0.025 ω.
    direct = harmonic(spring, curl_eV_A2=0.025, non_conservative=True)
    common = {"ensemble": "nve", "temperature_K": 100.0, "timestep_fs": 2.0, "steps": 2000,
              "fix_com": False, "stop": NO_GUARDS,
              "records": {"properties_stride": 10, "checkpoint_stride": 2000}}
    growth = {}
    for name, potentials, extra in (
        ("conservative", [harmonic(spring)], {}),
        ("direct", [direct], {}),
        ("mts", [harmonic(spring), direct], {"mts": {"outer_every": 4}}),
    ):
        run_dynamics(tmp_path / name, atoms, potentials, settings(**common, **extra),
                     progress=False)
        table = pd.read_csv(tmp_path / name / "properties.csv")
        energy = table["kinetic_eV"] + table["potential_harmonic0_eV" if name == "mts"
                                              else "potential_eV"]
        growth[name] = abs(energy.iloc[-50:].mean() - energy.iloc[:50].mean()) / energy.iloc[0]
    assert growth["conservative"] < 0.01, growth
    assert growth["direct"] > 0.5, growth
    assert growth["mts"] < 0.05, growth


# ----------------------------------------------------------------------------- thermostats


@pytest.mark.parametrize("thermostat", ["svr", "langevin"])
def test_thermostat_gives_target_temperature_and_equipartition(tmp_path, thermostat):
    atoms = argon()
    atoms.symbols[::4] = "Kr"  # same LJ parameters, 2.1x the mass
    run = settings(temperature_K=60.0, timestep_fs=8.0, steps=1500,
                   thermostat={"kind": thermostat, "tau_fs": 100.0},
                   records={"properties_stride": 5, "trajectory_stride": 5,
                            "velocities": True, "checkpoint_stride": 1500})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    frames = read(tmp_path / "trajectory.extxyz", index="50:")
    masses = atoms.get_masses()
    for symbol in ("Ar", "Kr"):
        mask = atoms.symbols == symbol
        per_frame = [np.sum(masses[mask, None] * f.get_velocities()[mask] ** 2)
                     / (3 * mask.sum() * KB) for f in frames]
        mean, error, _ = mean_error(np.array(per_frame))
        # i-PI holds the centre of mass still: 3 constrained degrees of freedom, shared
        # between species by mass, so <T_s> = T (1 - M_s / (M N_s)).
        expected = 60.0 * (1 - masses[mask].sum() / (masses.sum() * mask.sum()))
        assert abs(mean - expected) < max(4 * error, 1.5), (symbol, mean, error, expected)


# ----------------------------------------------------------------------------- PIMD


@pytest.mark.parametrize("beads", [1, 4])
def test_pimd_harmonic_kinetic_energy_and_heat_capacity(tmp_path, beads):
    temperature, reduced = 300.0, 3.0
    atoms = einstein_crystal("H")
    spring = spring_for(reduced, temperature, atoms.get_masses()[0])
    run = settings(temperature_K=temperature, timestep_fs=1.0, steps=4000, fix_com=False,
                   thermostat={"kind": "langevin", "tau_fs": 20.0},
                   path_integral={"beads": beads, "heat_capacity_stride": 4},
                   records={"properties_stride": 2, "trajectory_stride": 100,
                            "checkpoint_stride": 4000}, stop=NO_GUARDS)
    run_dynamics(tmp_path, atoms, [harmonic(spring)], run, progress=False)
    dof = 3 * len(atoms)
    energy, heat_capacity = harmonic_ring_polymer(reduced, beads)
    table = pd.read_csv(tmp_path / "properties.csv").iloc[100:]
    kinetic = table["kinetic_cv_eV" if beads > 1 else "kinetic_eV"].to_numpy()
    mean, error, _ = mean_error(kinetic / (dof * KB * temperature))
    # Harmonic ring polymer: <K_cv> = <V> = E_P / 2 exactly at every P.
    assert abs(mean - energy / 2) < max(4 * error, 0.03), (mean, error, energy / 2)
    records = np.load(tmp_path / "records.npz")
    skip = 50
    capacity, capacity_error, _ = scaled_coordinates_heat_capacity(
        records["eps_v"][skip:], records["eps_v_prime"][skip:], temperature)
    assert abs(capacity / dof - heat_capacity) < max(4 * capacity_error / dof, 0.1), (
        capacity / dof, capacity_error / dof, heat_capacity)
    if beads > 1:  # far from the classical value: the estimator sees quantum effects
        assert capacity / dof < 0.75


# ----------------------------------------------------------------------------- REMD / swaps


def test_replica_exchange_accepts_with_the_metropolis_probability(tmp_path):
    atoms = einstein_crystal("Ar", count=4)
    temperatures = [300.0, 400.0]
    run = settings(temperature_K=300.0, timestep_fs=4.0, steps=4000, fix_com=False,
                   thermostat={"kind": "langevin", "tau_fs": 40.0}, stop=NO_GUARDS,
                   replica_exchange={"temperatures_K": temperatures, "attempt_stride": 1},
                   records={"properties_stride": 10, "trajectory_stride": 100,
                            "checkpoint_stride": 4000})
    run_dynamics(tmp_path, atoms, [harmonic(0.5)], run, progress=False)
    swaps = np.loadtxt(tmp_path / "ipi" / "sim.remd_idx", ndmin=2)
    observed = len(swaps) / run.steps
    # Potential energies of independent oscillators are Gamma(dof/2, k_B T) distributed:
    # the exchange acceptance <min(1, exp[(β1 - β2)(U1 - U2)])> follows by sampling them.
    rng = np.random.default_rng(0)
    dof = 3 * len(atoms)
    u1 = stats.gamma(dof / 2, scale=KB * temperatures[0]).rvs(400_000, random_state=rng)
    u2 = stats.gamma(dof / 2, scale=KB * temperatures[1]).rvs(400_000, random_state=rng)
    betas = 1 / (KB * np.array(temperatures))
    expected = np.mean(np.minimum(1.0, np.exp((betas[0] - betas[1]) * (u1 - u2))))
    assert abs(observed - expected) < 0.04, (observed, expected)
    # Records sorted by temperature: each file's kinetic temperature matches its target.
    for index, target in enumerate(temperatures):
        table = pd.read_csv(tmp_path / f"properties_T{index:02d}.csv").iloc[20:]
        assert (table["target_temperature_K"] == target).all()
        mean, error, _ = mean_error(table["temperature_K"].to_numpy())
        assert abs(mean - target) < max(4 * error, 0.08 * target), (index, mean, error)


def test_replica_exchange_sorts_heat_capacity_terms_by_temperature(tmp_path):
    """Two-temperature REMD of tethered atoms recording the scaled-coordinates terms: each
    temperature file's ⟨ε_v⟩ and C_V equal, within error, those of a plain run at that
    file's temperature (they were copied from i-PI's system 0 into every file)."""
    atoms = einstein_crystal("Ar", count=4)
    temperatures = [300.0, 600.0]
    common = {"timestep_fs": 4.0, "steps": 3000, "fix_com": False, "stop": NO_GUARDS,
              "thermostat": {"kind": "langevin", "tau_fs": 40.0},
              "path_integral": {"beads": 1, "heat_capacity_stride": 2},
              "records": {"properties_stride": 10, "trajectory_stride": 100,
                          "checkpoint_stride": 3000}}
    remd = settings(temperature_K=300.0, **common,
                    replica_exchange={"temperatures_K": temperatures, "attempt_stride": 1})
    run_dynamics(tmp_path / "remd", atoms, [harmonic(0.5)], remd, progress=False)
    assert len(np.loadtxt(tmp_path / "remd" / "ipi" / "sim.remd_idx", ndmin=2)) > 50
    for index, temperature in enumerate(temperatures):
        plain = tmp_path / f"plain{index}"
        run_dynamics(plain, atoms, [harmonic(0.5)], settings(temperature_K=temperature,
                                                             **common), progress=False)
        sorted_file = np.load(tmp_path / "remd" / f"records_T{index:02d}.npz")
        reference = np.load(plain / "records.npz")
        assert len(set(sorted_file["heatcap_system"])) == 2  # both systems contributed
        for name in ("eps_v", "heat_capacity"):
            values = []
            for records in (sorted_file, reference):
                eps, prime = records["eps_v"][100:], records["eps_v_prime"][100:]
                values.append(mean_error(eps) if name == "eps_v" else
                              scaled_coordinates_heat_capacity(eps, prime, temperature))
            (a, da, _), (b, db, _) = values
            assert abs(a - b) < 4 * np.hypot(da, db), (name, temperature, a, da, b, db)
        # and the two temperatures differ by far more than that (ε_v ∝ T for oscillators)
    low = np.load(tmp_path / "remd" / "records_T00.npz")["eps_v"][100:].mean()
    high = np.load(tmp_path / "remd" / "records_T01.npz")["eps_v"][100:].mean()
    assert high / low == pytest.approx(2.0, rel=0.15)


def test_replica_outputs_follow_the_logged_temperature_assignment(tmp_path):
    from petmad.simulate.records import replica_temperature_index

    # i-PI logs, after the 0-based step at which ensembles were swapped, which temperature
    # each system now holds.  Outputs are taken after completed steps: the swap logged at
    # step 9 shows in the output of step 10, not of step 5.
    (tmp_path / "sim.remd_idx").write_text("9 1 0 2\n29 1 2 0\n")
    steps = np.array([0, 5, 10, 20, 30, 40])
    assignment = replica_temperature_index(tmp_path, 3, steps)
    expected = [[0, 1, 2], [0, 1, 2], [1, 0, 2], [1, 0, 2], [1, 2, 0], [1, 2, 0]]
    np.testing.assert_array_equal(assignment, expected)
    # No exchange yet: every system keeps its own temperature.
    (tmp_path / "sim.remd_idx").write_text("")
    np.testing.assert_array_equal(replica_temperature_index(tmp_path, 3, steps),
                                  np.tile([0, 1, 2], (6, 1)))


def test_atom_swaps_keep_composition_and_do_swap(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat(2)
    atoms.symbols[::2] = "Au"
    run = settings(temperature_K=600.0, steps=100, timestep_fs=2.0,
                   atom_swaps={"species": ["Cu", "Au"], "attempts_per_step": 2.0},
                   records={"trajectory_stride": 1, "checkpoint_stride": 100})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="emt")], run, progress=False)
    frames = read(tmp_path / "trajectory.extxyz", index=":")
    assert all((f.symbols == atoms.symbols).all() for f in frames)
    jumps = [np.linalg.norm(b.positions - a.positions, axis=1).max()
             for a, b in itertools.pairwise(frames)]
    assert max(jumps) > 1.5  # an accepted swap moves two atoms by a bond length at once


# ----------------------------------------------------------------------------- barostats


def test_one_axis_barostat_moves_only_that_axis(tmp_path):
    atoms = argon()
    run = settings(ensemble="npt", temperature_K=60.0, steps=300, timestep_fs=4.0,
                   barostat={"kind": "axis", "axis": "z", "pressure_bar": 5000.0,
                             "tau_fs": 200.0})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    table = pd.read_csv(tmp_path / "properties.csv")
    for fixed in ("cell_xx_A", "cell_yy_A", "cell_xy_A", "cell_xz_A", "cell_yz_A"):
        assert np.ptp(table[fixed]) < 1e-9, fixed
    assert table["cell_zz_A"].iloc[-1] < table["cell_zz_A"].iloc[0] - 0.05  # compressed


def test_in_plane_barostat_relaxes_a_slab_without_touching_its_normal(tmp_path):
    from ase.build import fcc111

    # A Cu(111) slab squeezed 4 % in-plane, periodic across 12 Å of vacuum: the plane
    # expands towards EMT's lattice; nothing along z moves (else the vacuum would grow).
    atoms = fcc111("Cu", size=(2, 2, 3), a=3.46, vacuum=6.0, periodic=True)
    run = settings(ensemble="npt", temperature_K=100.0, steps=300, timestep_fs=4.0,
                   barostat={"kind": "plane", "axis": "z", "pressure_bar": 0.0,
                             "tau_fs": 200.0})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="emt")], run, progress=False)
    table = pd.read_csv(tmp_path / "properties.csv")
    for fixed in ("cell_zz_A", "cell_xz_A", "cell_yz_A"):
        assert np.ptp(table[fixed]) < 1e-9, fixed
    assert table["cell_xx_A"].max() > table["cell_xx_A"].iloc[0] + 0.05  # expanded
    assert table["cell_yy_A"].max() > table["cell_yy_A"].iloc[0] + 0.05


def test_isotropic_barostat_finds_the_volume_at_the_target_pressure(tmp_path):
    atoms = argon()
    run = settings(ensemble="npt", temperature_K=40.0, steps=1500, timestep_fs=4.0,
                   barostat={"kind": "isotropic", "pressure_bar": 1.0, "tau_fs": 400.0},
                   records={"properties_stride": 5, "checkpoint_stride": 1500})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    table = pd.read_csv(tmp_path / "properties.csv").iloc[100:]
    mean, error, _ = mean_error(table["pressure_bar"].to_numpy())
    assert abs(mean - 1.0) < max(4 * error, 150.0), (mean, error)


# ----------------------------------------------------------------------------- records & guards


def test_records_are_readable_by_pandas_ase_and_mdtraj(tmp_path):
    import mdtraj

    atoms = argon()
    run = settings(steps=20, records={"trajectory_stride": 5, "velocities": True,
                                      "forces": True})
    summary = run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    assert set(summary["files"]) == {"run"}
    table = pd.read_csv(tmp_path / "properties.csv")
    assert list(table["step"]) == list(range(21))
    frames = read(tmp_path / "trajectory.extxyz", index=":")
    assert [f.info["step"] for f in frames] == [0, 5, 10, 15, 20]
    assert frames[-1].get_forces().shape == (len(atoms), 3)
    assert np.abs(frames[-1].get_forces()).max() > 0
    assert np.abs(frames[-1].get_velocities()).max() > 0
    trajectory = mdtraj.load(str(tmp_path / "trajectory.dcd"), top=str(tmp_path / "topology.pdb"))
    assert trajectory.n_frames == 5
    np.testing.assert_allclose(trajectory.xyz[-1] * 10, frames[-1].positions, atol=1e-3)
    np.testing.assert_allclose(trajectory.unitcell_lengths[0] * 10, atoms.cell.lengths(),
                               atol=1e-3)
    xml = (tmp_path / "ipi" / "input.xml").read_text()
    assert "<ffdirect" in xml and 'mode="svr"' in xml


def test_rerun_with_nothing_changed_reuses_the_finished_run(tmp_path):
    atoms = argon()
    run = settings(steps=20)
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    before = (tmp_path / "properties.csv").read_text()
    stamp = (tmp_path / "ipi" / "checkpoint.json").stat().st_mtime_ns
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    assert (tmp_path / "ipi" / "checkpoint.json").stat().st_mtime_ns == stamp
    assert (tmp_path / "properties.csv").read_text() == before
    # A changed setting starts afresh.
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], settings(steps=10),
                 progress=False)
    assert len(pd.read_csv(tmp_path / "properties.csv")) == 11


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {root!r})
from ase.build import bulk
from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics
from petmad.simulate import potentials
calls = [0]
original = potentials.Evaluator.evaluate
def evaluate(self, cell, positions):
    calls[0] += 1
    if calls[0] == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, cell, positions)
if {kill_at}:
    potentials.Evaluator.evaluate = evaluate
atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
settings = DynamicsSettings.model_validate({settings!r})
run_dynamics({directory!r}, atoms, [PotentialSpec(kind="emt")], settings, progress=False)
"""


def test_killed_run_resumes_to_the_same_trajectory(tmp_path, root):
    run = {"ensemble": "nvt", "temperature_K": 400.0, "timestep_fs": 2.0, "steps": 60,
           "thermostat": {"kind": "langevin", "tau_fs": 50.0},
           "records": {"properties_stride": 1, "trajectory_stride": 3, "velocities": True,
                       "checkpoint_stride": 20}}

    def launch(directory, kill_at):
        script = KILL_SCRIPT.format(root=str(root), kill_at=kill_at, settings=run,
                                    directory=str(directory))
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=False)

    assert launch(tmp_path / "whole", 0).returncode == 0
    killed = launch(tmp_path / "killed", 47)  # between the 2nd and 3rd checkpoint
    assert killed.returncode == -signal.SIGKILL
    assert json.loads((tmp_path / "killed" / "ipi" / "checkpoint.json").read_text())["step"] == 40
    assert launch(tmp_path / "killed", 0).returncode == 0
    whole = pd.read_csv(tmp_path / "whole" / "properties.csv")
    resumed = pd.read_csv(tmp_path / "killed" / "properties.csv")
    assert len(resumed) == len(whole) == 61
    np.testing.assert_allclose(resumed.to_numpy(), whole.to_numpy(), rtol=1e-9, atol=1e-12)
    a = read(tmp_path / "whole" / "trajectory.extxyz", index=":")
    b = read(tmp_path / "killed" / "trajectory.extxyz", index=":")
    assert len(a) == len(b) == 21
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.positions, y.positions, atol=1e-7)
        np.testing.assert_allclose(x.get_velocities(), y.get_velocities(), atol=1e-6)


def test_collision_stops_the_run_naming_step_and_cause(tmp_path):
    atoms = argon()
    run = settings(steps=50, stop={"min_distance_A": 3.9})  # nearest neighbours: 3.72 Å
    with pytest.raises(SimulationStopped, match=r"step 0: atoms collided"):
        run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    assert "collided" in json.loads((tmp_path / "stopped.json").read_text())["reason"]
    assert (tmp_path / "properties.csv").exists()


def test_atoms_flying_apart_and_non_finite_values_are_caught():
    atoms = argon()
    atoms.positions[0] += [0.0, 0.0, 0.0]
    lonely = Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 9]], cell=[20, 20, 20], pbc=True)
    evaluator = Evaluator(PotentialSpec(kind="lj"), lonely,
                          StopCriteria(max_neighbour_distance_A=6.0))
    with pytest.raises(SimulationStopped, match="flying apart"):
        evaluator.evaluate(lonely.cell.array, lonely.positions)
    evaluator = Evaluator(PotentialSpec(kind="lj"), atoms, StopCriteria(min_distance_A=None))
    positions = atoms.positions.copy()
    positions[1] = positions[0]  # LJ at r = 0 is infinite
    with pytest.raises(SimulationStopped, match="non-finite"):
        evaluator.evaluate(atoms.cell.array, positions)
    evaluator = Evaluator(PotentialSpec(kind="lj"), atoms,
                          StopCriteria(max_energy_change_eV_per_atom=0.01))
    evaluator.evaluate(atoms.cell.array, atoms.positions)
    with pytest.raises(SimulationStopped, match="exploding"):
        evaluator.evaluate(atoms.cell.array, atoms.positions * 0.8)


def test_uncertainty_guard_names_the_threshold():
    atoms = argon()
    evaluator = Evaluator(PotentialSpec(kind="lj"), atoms, StopCriteria(
        max_uncertainty_eV_per_atom=0.01))
    with pytest.raises(SimulationStopped, match="uncertainty .* exceeds the threshold"):
        evaluator._check_values(0.0, np.zeros((len(atoms), 3)), np.zeros((3, 3)),
                                {"energy_uncertainty": 0.02 * len(atoms)})
    evaluator._check_values(0.0, np.zeros((len(atoms), 3)), np.zeros((3, 3)),
                            {"energy_uncertainty": 0.005 * len(atoms)})


def test_bad_settings_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="needs a 'barostat'"):
        DynamicsSettings(ensemble="npt")
    with pytest.raises(ValueError, match="needs 'path'"):
        PotentialSpec(kind="metatomic")
    with pytest.raises(ValueError, match="no direct-force head"):
        PotentialSpec(kind="lj", non_conservative=True)
    with pytest.raises(SimulationStopped, match="exactly one potential"):
        run_dynamics("/nonexistent-not-created", argon(), [PotentialSpec(kind="lj")],
                     settings(mts={"outer_every": 4}), progress=False)


def test_cli_runs_and_reports_bad_settings_in_one_line(tmp_path, root):
    from ase.io import write

    write(tmp_path / "start.extxyz", argon())
    env = {**os.environ, "PYTHONPATH": str(root)}
    base = [sys.executable, "-m", "petmad", "simulate", "--structure",
            str(tmp_path / "start.extxyz"), "--potential", '{"kind": "lj"}', "--quiet",
            "--output-dir", str(tmp_path / "run")]
    good = subprocess.run(base + ["--settings", '{"steps": 5}'], capture_output=True, check=False,
                          text=True, env=env)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "run" / "properties.csv").exists()
    bad = subprocess.run(base + ["--settings", '{"steps": 5, "ensemble": "npq"}'],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: invalid DynamicsSettings: ensemble")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_rendered_input_is_what_i_pi_reads():
    run = settings(ensemble="npt", barostat={"kind": "flexible"},
                   path_integral={"beads": 4, "heat_capacity_stride": 10},
                   atom_swaps={"species": ["Co", "Ni"]})
    terms = [ForceTerm("metatomic0", "potential_0.json", ("energy_ensemble",))]
    xml = render_input(run, terms, RunFiles("init.extxyz", ("init.extxyz",), "stop.json"))
    assert 'mode="pile_g"' in xml  # svr becomes the PIMD global thermostat
    assert '<barostat mode="flexible">' in xml and "<hfix>" not in xml
    assert 'nbeads="4"' in xml and "scaledcoords" in xml and "kinetic_cv" in xml
    assert '<motion mode="atomswap">' in xml and "[Co, Ni]" in xml
    assert 'extra_type="energy_ensemble"' in xml
    from ipi.utils.io.inputs.io_xml import xml_parse_string

    xml_parse_string(xml)  # well-formed
    assert read_properties  # the parser of i-PI property files is public


def test_q4_restraint_is_summed_with_the_model_and_recorded(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    restraint = PotentialSpec(kind="q4_restraint", q4={
        "r0_A": 2.2, "d0_A": 0.5, "cutoff_A": 3.2, "taper_A": 0.4, "kappa_eV": 50.0,
        "q_solid": 0.19, "q_liquid": 0.05, "target": 0.5})
    run = settings(steps=20, temperature_K=300.0,
                   records={"trajectory_stride": 5, "properties_stride": 5})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="emt"), restraint], run, progress=False)
    records = np.load(tmp_path / "records.npz")
    assert records["s"].shape == (5,) and records["q4_mean"].shape == (5,)
    assert 0.5 < records["s"][0] < 1.2  # a rattled crystal is nearly solid
    table = pd.read_csv(tmp_path / "properties.csv")
    kappa, target = 50.0, 0.5
    # The bias energy in the properties is the restraint evaluated on the recorded s.
    bias = table.set_index("step").loc[records["step"], "potential_q4restraint1_eV"].to_numpy()
    np.testing.assert_allclose(bias, kappa / 2 * (records["s"] - target) ** 2, rtol=1e-6)
    plumed = (tmp_path / "ipi" / "plumed.dat").read_text()
    assert "Q4 SPECIES=1-32" in plumed and "RESTRAINT ARG=s AT=0.5" in plumed


def test_plumed_bias_is_rendered_as_an_i_pi_bias():
    from ipi.utils.io.inputs.io_xml import xml_parse_string

    terms = [ForceTerm("lj0", "potential_0.json", ("energy_ensemble",)),
             ForceTerm("q4restraint1", "potential_1.json", ("q4_mean", "s"),
                       plumed_file="plumed.dat")]
    files = RunFiles("init.extxyz", ("init.extxyz",), "stop.json")
    xml = render_input(settings(), terms, files)
    xml_parse_string(xml)
    assert "<ffplumed" in xml and "<plumed_dat>plumed.dat</plumed_dat>" in xml
    assert "<plumed_extras>[q4_mean, s]</plumed_extras>" in xml
    assert '<bias>\n        <force forcefield="q4restraint1"/>' in xml
    assert '<force forcefield="q4restraint1"/>' not in xml.split("<forces>")[1].split("</forces>")[0]
    # Component outputs exist only for <forces> terms; the bias is the ensemble bias.
    assert "pot_component_raw(0)" in xml and "pot_component_raw(1)" not in xml
    assert "ensemble_bias{electronvolt}" in xml
    assert 'extra_type="energy_ensemble" flush="1000">extras_component_raw(0)<' in xml
    assert 'filename="x1_s" stride="10" extra_type="s" flush="1000">extras_bias<' in xml
    assert 'filename="x1_q4_mean"' in xml
    # i-PI's metad update makes PLUMED write COLVAR; it needs one classical system.
    assert '<smotion mode="metad">' in xml and "<metaff>[q4restraint1]</metaff>" in xml
    pimd = render_input(settings(path_integral={"beads": 2}), terms, files)
    assert "<smotion" not in pimd and "<ffplumed" in pimd
    remd = settings(replica_exchange={"temperatures_K": [300.0, 400.0]})
    two = RunFiles("init.extxyz", ("init.extxyz", "init.extxyz"), "stop.json")
    assert '<smotion mode="metad">' not in render_input(remd, terms, two)


@pytest.mark.parametrize("beads", [1, 2])
def test_a_restraint_applied_as_i_pi_bias_is_recorded_as_one_applied_as_a_force(tmp_path, beads):
    """The PLUMED path without a kernel: the torch restraint run as i-PI's ensemble bias
    (the road PLUMED takes: <bias>, ensemble_bias, per-bead extras files) gives the records
    it gives as one of the <forces> terms, step for step."""
    import dataclasses

    from petmad.simulate.records import write_records
    from petmad.simulate.runner import integrate, prepare

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    restraint = PotentialSpec(kind="q4_restraint", q4={
        "r0_A": 2.2, "cutoff_A": 3.2, "taper_A": 0.4, "kappa_eV": 50.0,
        "q_solid": 0.19, "q_liquid": 0.05, "target": 0.5})
    run = settings(steps=12, temperature_K=300.0, path_integral={"beads": beads},
                   records={"trajectory_stride": 3, "properties_stride": 3})
    potentials = [PotentialSpec(kind="emt"), restraint]
    records = {}
    for how in ("force", "bias"):
        work = tmp_path / how / "ipi"
        work.mkdir(parents=True)
        terms = prepare(work, [atoms], potentials, run)
        if how == "bias":
            terms = [dataclasses.replace(term, bias=term.name.startswith("q4"))
                     for term in terms]
            files = RunFiles("init_00.extxyz", ("init_00.extxyz",), "stop.json")
            (work / "input.xml").write_text(render_input(run, terms, files))
            assert "ensemble_bias" in (work / "input.xml").read_text()
        integrate(work, run, progress=False)
        if how == "bias":
            assert (work / "sim.x1_s_0").exists()
        write_records(work, work.parent, run, terms, atoms)
        records[how] = (np.load(work.parent / "records.npz"),
                        pd.read_csv(work.parent / "properties.csv"))
    (force, force_table), (bias, bias_table) = records["force"], records["bias"]
    assert set(force.files) == set(bias.files) >= {"s", "q4_mean"}
    assert len(bias["s"]) == 5
    for key in ("s", "q4_mean"):
        np.testing.assert_allclose(bias[key], force[key], rtol=1e-9, err_msg=key)
    assert list(bias_table.columns) == list(force_table.columns)
    for column in ("potential_q4restraint1_eV", "potential_emt0_eV", "potential_eV",
                   "conserved_eV"):
        np.testing.assert_allclose(bias_table[column], force_table[column], rtol=1e-8,
                                   atol=1e-10, err_msg=column)
    assert bias_table["potential_q4restraint1_eV"].abs().max() > 1e-3  # the bias acted


def test_an_unusable_plumed_kernel_leaves_the_torch_restraint_with_one_line(
        tmp_path, monkeypatch, capsys):
    from petmad.simulate import runner

    monkeypatch.setenv("PLUMED_KERNEL", str(tmp_path / "no-such-libplumedKernel.so"))
    runner.plumed_problem.cache_clear()
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    restraint = PotentialSpec(kind="q4_restraint", q4={
        "r0_A": 2.2, "cutoff_A": 3.2, "taper_A": 0.4, "kappa_eV": 1.0,
        "q_solid": 0.19, "q_liquid": 0.05})
    try:
        run_dynamics(tmp_path / "run", atoms, [PotentialSpec(kind="emt"), restraint],
                     settings(steps=2), progress=False)
    finally:
        runner.plumed_problem.cache_clear()
    lines = [line for line in capsys.readouterr().err.splitlines() if "PLUMED" in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("petmad-bench: PLUMED does not apply this run's Q4 restraint")
    assert "the torch restraint (the same bias) does" in lines[0]
    assert "<ffplumed" not in (tmp_path / "run" / "ipi" / "input.xml").read_text()
    assert "s" in np.load(tmp_path / "run" / "records.npz")


def test_the_reference_engine_runs_as_a_model(tmp_path):
    from petmad.simulate.potentials import model_potential

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    potential = model_potential("reference", reference={"engine": "emt"})
    run_dynamics(tmp_path, atoms, [potential], settings(steps=3), progress=False)
    table = pd.read_csv(tmp_path / "properties.csv")
    emt = atoms.copy()
    from ase.calculators.emt import EMT

    emt.calc = EMT()
    assert table["potential_eV"].iloc[0] == pytest.approx(emt.get_potential_energy(), abs=1e-7)


def test_fixed_atoms_stay_put(tmp_path):
    atoms = argon()
    run = settings(steps=20, fix_com=False, fixed_atoms=[0, 5],
                   records={"trajectory_stride": 20})
    run_dynamics(tmp_path, atoms, [PotentialSpec(kind="lj")], run, progress=False)
    first, last = read(tmp_path / "trajectory.extxyz", index=":")
    np.testing.assert_allclose(last.positions[[0, 5]], first.positions[[0, 5]], atol=1e-8)
    assert np.abs(last.positions[1:5] - first.positions[1:5]).max() > 1e-3


def test_study_command_names_a_missing_model_file(tmp_path, root):
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-m", "petmad", "lps-md", "--model", "pet-mad", "--model-file",
         str(tmp_path / "missing.pt"), "--settings", "{}", "--phase", "gamma",
         "--temperature", "500", "--seed", "1", "--output-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert "missing.pt' of model 'pet-mad' does not exist" in result.stderr
    assert not (tmp_path / "run").exists()
