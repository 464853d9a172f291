"""Quantum nuclear effects on the 1H shieldings of α-succinic acid (paper II.H, S11.E).

Per model (``relaxed``): the α crystal supercell relaxed (FIRE, positions and cell), which
is also the static geometry of the figure's vertical lines.  Per model and sampling
(``md``, ``pimd``): NVT equilibration then sampling at the same temperature, classical or
with ``beads`` beads; saved frames carry every bead's positions, on which the shielding
model is evaluated afterwards (:mod:`analysis.succinic_nmr`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.io import read, write

from petmad.config import SuccinicNmrSettings
from petmad.io import atomic_path, read_json, write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped
from petmad.simulate.protocol import Stage, relax, run_stages



def relax_job(directory: str | Path, potential: PotentialSpec, settings: SuccinicNmrSettings
              ) -> dict[str, Any]:
    from petmad.data.crystals import load_crystal

    directory = Path(directory)
    crystal = load_crystal("succinic_alpha").repeat(settings.supercell)
    status: dict[str, Any] = {"status": "ok", "natoms": len(crystal)}
    try:
        relaxed = relax(crystal, potential, settings.relax_steps, cell=True)
        with atomic_path(directory / "relaxed.extxyz") as tmp:
            write(tmp, relaxed, format="extxyz")
    except SimulationStopped as exc:
        status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status


def sampling_stages(settings: SuccinicNmrSettings, beads: int, seed: int) -> list[Stage]:
    common = {"ensemble": "nvt", "temperature_K": settings.temperature_K,
              "timestep_fs": settings.timestep_fs,
              "thermostat": {"kind": "pile_l", "tau_fs": settings.thermostat_tau_fs},
              "path_integral": {"beads": beads, "bead_trajectories": beads > 1},
              "stop": settings.stop}
    stride = settings.record_stride
    equilibration = DynamicsSettings.model_validate({
        **common, "steps": settings.equilibration_steps, "seed": seed,
        "records": {"properties_stride": stride, "trajectory_stride": settings.equilibration_steps}})
    sampling = DynamicsSettings.model_validate({
        **common, "steps": settings.steps, "seed": seed + 1,
        "records": {"properties_stride": stride, "trajectory_stride": stride,
                    "checkpoint_stride": max(stride, 500 // stride * stride)}})
    return [Stage("equilibration", equilibration), Stage("sampling", sampling)]


def sampling_job(directory: str | Path, potential: PotentialSpec, relaxed_status: Path,
                 settings: SuccinicNmrSettings, sampling: str, seed: int,
                 progress: bool = True) -> dict[str, Any]:
    """Classical (``md``) or path-integral (``pimd``) sampling from the relaxed crystal."""
    directory = Path(directory)
    start_status = read_json(relaxed_status)
    beads = settings.beads if sampling == "pimd" else 1
    status: dict[str, Any] = {"sampling": sampling, "beads": beads, "status": "ok",
                              "temperature_K": settings.temperature_K}
    if start_status["status"] != "ok":
        status.update(status="skipped", reason=f"relaxation stopped: {start_status['reason']}")
    else:
        start = read(Path(relaxed_status).parent / "relaxed.extxyz")
        try:
            run_stages(directory, start, [potential], sampling_stages(settings, beads, seed),
                       progress=progress, label=sampling)
        except SimulationStopped as exc:
            status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status
