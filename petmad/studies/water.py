"""Liquid water with and without nuclear quantum effects (paper II.G, S11.D).

Per model (``equilibration``): a periodic box of randomly placed and oriented molecules at
the experimental density, relaxed (FIRE) and equilibrated by classical NVT MD with that
model.  Per model and bead number P: NVT path-integral MD from the equilibrated box with a
path-integral Langevin thermostat (P = 1 is classical MD), saving every bead's positions
(the quantum average of a position observable such as g(r) runs over all beads) and the
scaled-coordinates heat-capacity terms every ``heat_capacity_stride`` steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase.io import read, write

from petmad.config import WaterPimdSettings
from petmad.io import atomic_path, read_json, write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped, run_dynamics
from petmad.simulate.protocol import last_frame, relax



def _thermostat(settings: WaterPimdSettings) -> dict[str, Any]:
    return {"kind": settings.thermostat, "tau_fs": settings.thermostat_tau_fs}


def equilibration_job(directory: str | Path, potential: PotentialSpec,
                      settings: WaterPimdSettings, seed: int, progress: bool = True
                      ) -> dict[str, Any]:
    """Random box → relaxed → classical NVT; the last frame goes to ``start.extxyz``."""
    from petmad.data.systems import water_box

    directory = Path(directory)
    box = water_box(settings.n_molecules, settings.density_kg_m3, np.random.default_rng(seed))
    status: dict[str, Any] = {"status": "ok", "n_molecules": settings.n_molecules,
                              "natoms": len(box)}
    nvt = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.temperature_K,
        "timestep_fs": settings.timestep_fs, "steps": settings.equilibration_steps,
        "seed": seed + 1, "thermostat": _thermostat(settings),
        "records": {"properties_stride": 10, "trajectory_stride": settings.equilibration_steps},
        "stop": settings.stop})
    try:
        start = relax(box, potential, settings.relax_steps)
        run_dynamics(directory / "nvt", start, [potential], nvt, progress=progress,
                     description="classical equilibration")
        path = directory / "start.extxyz"
        with atomic_path(path) as tmp:
            write(tmp, last_frame(directory / "nvt"), format="extxyz")
    except SimulationStopped as exc:
        status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status


def pimd_settings(settings: WaterPimdSettings, beads: int, seed: int) -> DynamicsSettings:
    stride = settings.record_stride
    return DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.temperature_K,
        "timestep_fs": settings.timestep_fs, "steps": settings.steps, "seed": seed,
        "thermostat": _thermostat(settings),
        "path_integral": {"beads": beads, "heat_capacity_stride": settings.heat_capacity_stride,
                          "bead_trajectories": beads > 1},
        "records": {"properties_stride": stride, "trajectory_stride": stride,
                    "checkpoint_stride": max(stride, 500 // stride * stride)},
        "stop": settings.stop})


def pimd_job(directory: str | Path, potential: PotentialSpec, equilibration: Path,
             settings: WaterPimdSettings, beads: int, seed: int, progress: bool = True
             ) -> dict[str, Any]:
    """P-bead NVT run from the model's equilibrated box; writes ``status.json``."""
    directory = Path(directory)
    start_status = read_json(equilibration)
    status: dict[str, Any] = {"beads": beads, "temperature_K": settings.temperature_K,
                              "n_molecules": start_status["n_molecules"],
                              "natoms": start_status["natoms"], "status": "ok"}
    if start_status["status"] != "ok":
        status.update(status="skipped",
                      reason=f"equilibration stopped: {start_status.get('reason', '')}")
    else:
        start = read(Path(equilibration).parent / "start.extxyz")
        try:
            run_dynamics(directory / "run", start, [potential],
                         pimd_settings(settings, beads, seed), progress=progress,
                         description=f"P = {beads}")
        except SimulationStopped as exc:
            status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status
