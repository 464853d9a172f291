"""BaTiO3 phases and dielectric response (paper II.I, S11.F): per model and temperature,
flexible-cell NPT (every cell component free) with stochastic velocity rescaling, from the
ideal ``start_phase`` supercell; equilibration, then sampling with frames saved every
``record_stride`` steps for the phase and dipole analysis (:mod:`analysis.bto_dielectric`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase import Atoms

from petmad.config import BtoDielectricSettings
from petmad.io import write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped
from petmad.simulate.protocol import Stage, run_stages



def start_structure(settings: BtoDielectricSettings) -> Atoms:
    from petmad.data.systems import bto_pseudocubic_cell

    return bto_pseudocubic_cell(settings.start_phase).repeat(settings.supercell)


def stages(settings: BtoDielectricSettings, temperature: float, seed: int) -> list[Stage]:
    common = {"ensemble": "npt", "temperature_K": temperature,
              "timestep_fs": settings.timestep_fs,
              "thermostat": {"kind": "svr", "tau_fs": settings.thermostat_tau_fs},
              "barostat": {"kind": "flexible", "pressure_bar": settings.pressure_bar,
                           "tau_fs": settings.barostat_tau_fs},
              "stop": settings.stop}
    stride = settings.record_stride
    equilibration = DynamicsSettings.model_validate({
        **common, "steps": settings.equilibration_steps, "seed": seed,
        "records": {"properties_stride": stride,
                    "trajectory_stride": settings.equilibration_steps}})
    sampling = DynamicsSettings.model_validate({
        **common, "steps": settings.steps, "seed": seed + 1,
        "records": {"properties_stride": stride, "trajectory_stride": stride,
                    "checkpoint_stride": max(stride, 1000 // stride * stride)}})
    return [Stage("equilibration", equilibration), Stage("sampling", sampling)]


def run_temperature(directory: str | Path, temperature: float, potential: PotentialSpec,
                    settings: BtoDielectricSettings, seed: int, progress: bool = True
                    ) -> dict[str, Any]:
    """One temperature into ``directory``; writes and returns ``status.json``."""
    directory = Path(directory)
    atoms = start_structure(settings)
    status: dict[str, Any] = {"status": "ok", "temperature_K": temperature,
                              "natoms": len(atoms), "start_phase": settings.start_phase}
    try:
        run_stages(directory, atoms, [potential], stages(settings, temperature, seed),
                   progress=progress, label=f"BaTiO3 {temperature:g} K")
    except SimulationStopped as exc:
        status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status
