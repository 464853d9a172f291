"""GaAs melting point by interface pinning (paper II.E, S11.B).

Per model: relax an elongated zincblende supercell (positions and cell), melt its upper
half at high temperature while the lower half is held fixed, giving two solid-liquid
interfaces normal to z (periodic images).  Per model and temperature: bulk solid and bulk
liquid runs give the mean per-atom Q4 of each phase (the normalisation of s), then the
interface runs pinned at s = s̄ with the cell fixed in x and y and a barostat on z.  Every
saved frame carries s and the LLPR ensemble energies for reweighting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read, write

from petmad.config import GaasMeltingSettings
from petmad.io import atomic_path, read_json, write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped, run_dynamics
from petmad.simulate.protocol import Stage, last_frame, relax, run_stages
from petmad.simulate.settings import Q4RestraintSettings

STOP = {"min_distance_A": 0.8, "max_energy_change_eV_per_atom": 5.0}


def q4_term(settings: GaasMeltingSettings, kappa: float = 0.0, q_solid: float = 1.0,
            q_liquid: float = 0.0) -> PotentialSpec:
    """The Q4 term: with κ = 0 an observer recording the mean q4 of every frame."""
    q4 = Q4RestraintSettings(**settings.q4.model_dump(), kappa_eV=kappa,
                             target=settings.target, q_solid=q_solid, q_liquid=q_liquid)
    return PotentialSpec(kind="q4_restraint", q4=q4)


def zincblende(supercell: list[int]) -> Atoms:
    from petmad.data.crystals import load_crystal

    return load_crystal("gaas").repeat(supercell)


def _records(settings: GaasMeltingSettings) -> dict[str, Any]:
    stride = settings.record_stride
    return {"properties_stride": stride, "trajectory_stride": stride,
            "checkpoint_stride": max(stride, 500 // stride * stride)}


def liquid_half(crystal: Atoms, seed: int) -> Atoms:
    """The crystal's lower half (fractional z < 1/2) kept, listed first; its upper half
    replaced by the same atoms packed at random without overlaps.  Melting MD then only
    has to relax a liquid-like half, however short it is or however poor the model."""
    from petmad.data.geometry import random_packing

    lower = crystal.get_scaled_positions()[:, 2] % 1.0 < 0.5
    solid = crystal[lower]
    symbols = crystal[~lower].get_chemical_symbols()
    return random_packing(symbols, crystal.cell.array, np.random.default_rng(seed),
                          fixed=solid, region=(0.5, 1.0))


def random_liquid(crystal: Atoms, seed: int) -> Atoms:
    """The crystal's atoms packed at random in its cell (a liquid-like start)."""
    from petmad.data.geometry import random_packing

    return random_packing(crystal.get_chemical_symbols(), crystal.cell.array,
                          np.random.default_rng(seed))


def build_interface(directory: str | Path, potential: PotentialSpec,
                    settings: GaasMeltingSettings, seed: int, progress: bool = True) -> Path:
    """Relaxed supercell with its upper half melted; written to ``interface.extxyz``."""
    directory = Path(directory)
    crystal = relax(zincblende(settings.supercell), potential, settings.relax_steps, cell=True)
    atoms = liquid_half(crystal, seed)
    solid = list(range(int(np.sum(crystal.get_scaled_positions()[:, 2] % 1.0 < 0.5))))
    melt = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.melt_temperature_K,
        "timestep_fs": settings.timestep_fs / 2, "steps": settings.melt_steps, "seed": seed,
        "thermostat": {"kind": "langevin", "tau_fs": 50.0}, "fix_com": False,
        "fixed_atoms": solid, "records": {"properties_stride": 10,
                                          "trajectory_stride": settings.melt_steps},
        "stop": STOP})
    run_dynamics(directory / "melt", atoms, [potential], melt, progress=progress,
                 description="melting the upper half")
    interface = last_frame(directory / "melt")
    path = directory / "interface.extxyz"
    with atomic_path(path) as tmp:
        write(tmp, interface, format="extxyz")
    return path


def reference_orders(directory: str | Path, potential: PotentialSpec,
                     settings: GaasMeltingSettings, temperature: float, seed: int,
                     progress: bool = True) -> dict[str, float]:
    """Mean per-atom q4 of bulk solid and bulk liquid at ``temperature`` with this model."""
    directory = Path(directory)
    bulk = relax(zincblende(settings.bulk_supercell), potential, settings.relax_steps,
                 cell=True)
    observer = q4_term(settings)
    steps = settings.reference_steps

    def production(seed_offset: int) -> DynamicsSettings:
        return DynamicsSettings.model_validate({
            "ensemble": "npt", "temperature_K": temperature, "steps": steps,
            "timestep_fs": settings.timestep_fs, "seed": seed + seed_offset,
            "thermostat": {"kind": "langevin", "tau_fs": 100.0},
            "barostat": {"kind": "isotropic", "pressure_bar": 1.0, "tau_fs": 500.0},
            "records": _records(settings), "stop": STOP})

    melt = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.melt_temperature_K,
        "timestep_fs": settings.timestep_fs / 2, "steps": settings.melt_steps, "seed": seed + 1,
        "thermostat": {"kind": "langevin", "tau_fs": 50.0},
        "records": {"properties_stride": 10, "trajectory_stride": settings.melt_steps},
        "stop": STOP})
    run_dynamics(directory / "solid", bulk, [potential, observer], production(2),
                 progress=progress, description=f"solid {temperature:g} K")
    run_stages(directory / "liquid", random_liquid(bulk, seed), [potential, observer],
               [Stage("melt", melt), Stage("quench", production(3))],
               progress=progress, label=f"liquid {temperature:g} K")
    skip = settings.equilibration_fraction

    def mean_order(run: Path) -> float:
        values = np.load(run / "records.npz")["q4_mean"]
        return float(np.mean(values[int(skip * len(values)):]))

    return {"temperature_K": temperature, "q_solid": mean_order(directory / "solid"),
            "q_liquid": mean_order(directory / "liquid" / "quench")}


def pin(directory: str | Path, potential: PotentialSpec, interface: Path,
        references: dict[str, float], settings: GaasMeltingSettings, temperature: float,
        seed: int, progress: bool = True) -> dict[str, Any]:
    """The pinned interface run at ``temperature``; writes and returns ``status.json``."""
    directory = Path(directory)
    atoms = read(interface)
    restraint = q4_term(settings, settings.kappa_eV, references["q_solid"],
                        references["q_liquid"])
    run = DynamicsSettings.model_validate({
        "ensemble": "npt", "temperature_K": temperature, "steps": settings.pinning_steps,
        "timestep_fs": settings.timestep_fs, "seed": seed,
        "thermostat": {"kind": "svr", "tau_fs": 200.0},
        "barostat": {"kind": "axis", "axis": "z", "pressure_bar": 1.0, "tau_fs": 1000.0},
        "records": _records(settings), "stop": STOP})
    status: dict[str, Any] = {"temperature_K": temperature, "natoms": len(atoms),
                              "kappa_eV": settings.kappa_eV, "target": settings.target,
                              **references}
    try:
        run_dynamics(directory, atoms, [potential, restraint], run, progress=progress,
                     description=f"pinned {temperature:g} K")
        status["status"] = "ok"
    except SimulationStopped as exc:
        status.update(status="stopped", reason=str(exc))
    write_json(directory.parent / "status.json", status)
    return status


def interface_job(directory: str | Path, potential: PotentialSpec,
                  settings: GaasMeltingSettings, seed: int, progress: bool = True
                  ) -> dict[str, Any]:
    """The interface of one model, or why it could not be made; ``status.json``."""
    directory = Path(directory)
    try:
        path = build_interface(directory, potential, settings, seed, progress)
        status = {"status": "ok", "interface": path.name}
    except SimulationStopped as exc:
        status = {"status": "stopped", "reason": f"melting the interface: {exc}"}
    write_json(directory / "status.json", status)
    return status


def temperature_job(directory: str | Path, potential: PotentialSpec, interface_status: Path,
                    settings: GaasMeltingSettings, temperature: float, seed: int,
                    progress: bool = True) -> dict[str, Any]:
    """Q4 references, then the pinned run, at one temperature; ``status.json``."""
    directory = Path(directory)
    upstream = read_json(interface_status)
    if upstream["status"] != "ok":
        status = {"temperature_K": temperature, "status": "stopped",
                  "reason": upstream["reason"]}
        write_json(directory / "status.json", status)
        return status
    try:
        references = reference_orders(directory / "references", potential, settings,
                                      temperature, seed, progress)
    except SimulationStopped as exc:
        status = {"temperature_K": temperature, "status": "stopped",
                  "reason": f"bulk reference runs: {exc}"}
        write_json(directory / "status.json", status)
        return status
    contrast = references["q_solid"] - references["q_liquid"]
    if contrast < settings.min_order_contrast:
        # s = (q - q_liquid) / contrast: a tiny contrast makes the bias forces explode.
        status = {"temperature_K": temperature, "status": "stopped", **references,
                  "reason": f"solid and liquid Q4 references too close (q_solid "
                  f"{references['q_solid']:.3f}, q_liquid {references['q_liquid']:.3f}): "
                  "the liquid recrystallised or the solid melted at this temperature"}
        write_json(directory / "status.json", status)
        return status
    return pin(directory / "pinning", potential, interface_status.parent / upstream["interface"],
               references, settings, temperature, seed + 17, progress)
