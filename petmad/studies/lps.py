"""Li3PS4 ionic conductivity (paper II.D, S11.A): per phase, temperature and replica,
NPT equilibration, NVT equilibration at the mean volume, NVT production with velocities.

The production thermostat is a weak stochastic velocity rescaling (global, time constant
``thermostat_tau_fs``), which barely perturbs the ionic dynamics the current
autocorrelation measures; Langevin friction would damp it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase import Atoms

from petmad.config import LpsConductivitySettings
from petmad.io import write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped
from petmad.simulate.protocol import Stage, run_stages

SHIPPED = {"gamma": "lps_gamma", "beta": "lps_beta", "alpha": "lps_beta"}


def phase_structure(phase: str, settings: LpsConductivitySettings) -> tuple[Atoms, str]:
    """The supercell a phase starts from and where it came from (for tables and plots)."""
    from petmad.data.crystals import load_crystal, load_structure_file

    spec = settings.phases[phase]
    if spec.structure:
        atoms, origin = load_structure_file(spec.structure), spec.structure
    else:
        atoms, origin = load_crystal(SHIPPED[phase]), f"shipped {SHIPPED[phase]}"
        if phase == "alpha":
            origin = "from beta (no alpha coordinates offline), equilibrated above T_beta-alpha"
    return atoms.repeat(spec.supercell), origin


def stages(settings: LpsConductivitySettings, temperature: float, seed: int) -> list[Stage]:
    common = {"temperature_K": temperature, "timestep_fs": settings.timestep_fs}

    def equilibration(steps: int) -> dict[str, Any]:
        return {"properties_stride": 5, "trajectory_stride": steps, "checkpoint_stride": 500}

    npt = DynamicsSettings.model_validate({
        **common, "ensemble": "npt", "steps": settings.npt_steps, "seed": seed,
        "thermostat": {"kind": "langevin", "tau_fs": 100.0},
        "barostat": {"kind": "isotropic", "pressure_bar": 1.0,
                     "tau_fs": settings.barostat_tau_fs},
        "records": equilibration(settings.npt_steps), "stop": settings.stop})
    nvt = DynamicsSettings.model_validate({
        **common, "ensemble": "nvt", "steps": settings.nvt_steps, "seed": seed + 1,
        "thermostat": {"kind": "langevin", "tau_fs": 100.0},
        "records": equilibration(settings.nvt_steps), "stop": settings.stop})
    production = DynamicsSettings.model_validate({
        **common, "ensemble": "nvt", "steps": settings.production_steps, "seed": seed + 2,
        "thermostat": {"kind": "svr", "tau_fs": settings.thermostat_tau_fs},
        "records": {"properties_stride": settings.velocity_stride,
                    "trajectory_stride": settings.velocity_stride, "velocities": True,
                    "checkpoint_stride": 1000},
        "stop": settings.stop})
    return [Stage("npt", npt), Stage("nvt", nvt, average_cell=True),
            Stage("production", production)]


def run_point(directory: str | Path, phase: str, temperature: float, potential: PotentialSpec,
              settings: LpsConductivitySettings, seed: int, progress: bool = True
              ) -> dict[str, Any]:
    """All replicas of one (phase, temperature) point into ``directory/r<k>/``; writes and
    returns ``status.json``: per replica, 'ok' or why the run stopped."""
    directory = Path(directory)
    atoms, origin = phase_structure(phase, settings)
    replicas = []
    for replica in range(settings.replicas):
        label = f"{phase} {temperature:g} K r{replica}"
        try:
            run_stages(directory / f"r{replica}", atoms, [potential],
                       stages(settings, temperature, seed + 1000 * replica),
                       progress=progress, label=label)
            replicas.append({"replica": replica, "status": "ok"})
        except SimulationStopped as exc:
            # An unstable model is a result, not a workflow failure: recorded and plotted.
            replicas.append({"replica": replica, "status": "stopped", "reason": str(exc)})
    status = {"phase": phase, "temperature_K": temperature, "origin": origin,
              "natoms": len(atoms), "crystal_volume_A3": atoms.get_volume(),
              "replicas": replicas}
    write_json(directory / "status.json", status)
    return status
