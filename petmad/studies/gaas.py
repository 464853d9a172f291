"""GaAs melting point by interface pinning (paper II.E, S11.B), for any crystal.

Per model: relax an elongated supercell of ``settings.crystal`` (zincblende GaAs by
default; positions and cell), melt its upper half by NPT MD at high temperature (cell free
along z) while the lower half is held fixed, giving two solid-liquid interfaces normal to
z (periodic images).  Per model and temperature: bulk solid and bulk liquid NPT runs give
the mean per-atom Q4 of each phase (the normalisation of s) and the solid's mean lateral
lattice at that temperature; the interface, its x and y stretched to that lattice, then
runs pinned at s = s̄ with the cell fixed in x and y and a barostat on z, so the solid half
is not strained by its thermal expansion.  Every saved frame carries s and the LLPR
ensemble energies for reweighting.
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



def q4_term(settings: GaasMeltingSettings, kappa: float = 0.0, q_solid: float = 1.0,
            q_liquid: float = 0.0) -> PotentialSpec:
    """The Q4 term: with κ = 0 an observer recording the mean q4 of every frame."""
    q4 = Q4RestraintSettings(**settings.q4.model_dump(), kappa_eV=kappa,
                             target=settings.target, q_solid=q_solid, q_liquid=q_liquid)
    return PotentialSpec(kind="q4_restraint", q4=q4)


def pinning_crystal(settings: GaasMeltingSettings, supercell: list[int]) -> Atoms:
    """``settings.crystal`` (a shipped crystal or a structure file) repeated ``supercell``."""
    from petmad.data.crystals import SHIPPED_CRYSTALS, load_crystal, load_structure_file

    if settings.crystal in SHIPPED_CRYSTALS:
        unit = load_crystal(settings.crystal)
    else:
        unit = load_structure_file(settings.crystal)
    return unit.repeat(supercell)


def mean_lateral_lattice(run: Path, repeats: list[int], skip: float) -> list[float]:
    """Mean lengths of the first two cell vectors of a run (after the leading ``skip``
    share of its frames), per repeat of the crystal's cell (Å)."""
    import pandas as pd

    from petmad.simulate.protocol import CELL_COLUMNS

    properties = pd.read_csv(run / "properties.csv")
    kept = properties.iloc[int(skip * len(properties)):]
    xx, yy, _, xy, _, _ = (kept[c].to_numpy() for c in CELL_COLUMNS)
    # i-PI's cell matrix is upper triangular, vectors as columns: a = (xx, 0, 0),
    # b = (xy, yy, 0).
    return [float(np.mean(np.abs(xx))) / repeats[0],
            float(np.mean(np.hypot(xy, yy))) / repeats[1]]


def mean_volume(run: Path, skip: float) -> float:
    """Mean cell volume of a run (after the leading ``skip`` share of its frames), Å³."""
    import pandas as pd

    volumes = pd.read_csv(run / "properties.csv")["volume_A3"].to_numpy()
    return float(np.mean(volumes[int(skip * len(volumes)):]))


def with_lateral_lattice(atoms: Atoms, lattice: list[float], repeats: list[int]) -> Atoms:
    """``atoms`` with its first two cell vectors stretched (directions kept, atoms moved
    affinely) to ``lattice`` per repeat; the third vector is kept."""
    cell = atoms.cell.array.copy()
    for axis in (0, 1):
        cell[axis] *= lattice[axis] * repeats[axis] / np.linalg.norm(cell[axis])
    stretched = atoms.copy()
    stretched.set_cell(cell, scale_atoms=True)
    return stretched


def _records(settings: GaasMeltingSettings) -> dict[str, Any]:
    stride = settings.record_stride
    return {"properties_stride": stride, "trajectory_stride": stride,
            "checkpoint_stride": max(stride, 500 // stride * stride)}


def liquid_half(crystal: Atoms, seed: int, min_ratio: float = 0.8) -> Atoms:
    """The crystal's lower half (fractional z < 1/2) kept, listed first; its upper half
    replaced by the same atoms packed at random without overlaps.  Melting MD then only
    has to relax a liquid-like half, however short it is or however poor the model."""
    from petmad.data.geometry import random_packing

    lower = crystal.get_scaled_positions()[:, 2] % 1.0 < 0.5
    solid = crystal[lower]
    symbols = crystal[~lower].get_chemical_symbols()
    return random_packing(symbols, crystal.cell.array, np.random.default_rng(seed),
                          fixed=solid, region=(0.5, 1.0), min_ratio=min_ratio)


def random_liquid(crystal: Atoms, seed: int, min_ratio: float = 0.8) -> Atoms:
    """The crystal's atoms packed at random in its cell (a liquid-like start), no pair
    closer than ``min_ratio`` times the sum of their covalent radii."""
    from petmad.data.geometry import random_packing

    return random_packing(crystal.get_chemical_symbols(), crystal.cell.array,
                          np.random.default_rng(seed), min_ratio=min_ratio)


def build_interface(directory: str | Path, potential: PotentialSpec,
                    settings: GaasMeltingSettings, seed: int, progress: bool = True) -> Path:
    """Relaxed supercell with its upper half melted by NPT MD (the cell free along z at
    1 bar, the lower half held fixed, paper S11.B); written to ``interface.extxyz``.  Its
    lateral cell is the relaxed (0 K) one: each pinned run stretches it to the solid's
    lattice at its own temperature."""
    directory = Path(directory)
    crystal = relax(pinning_crystal(settings, settings.supercell), potential,
                    settings.relax_steps, cell=True)
    atoms = liquid_half(crystal, seed, settings.liquid_min_distance)
    solid = list(range(int(np.sum(crystal.get_scaled_positions()[:, 2] % 1.0 < 0.5))))
    melt = DynamicsSettings.model_validate({
        "ensemble": "npt", "temperature_K": settings.melt_temperature_K,
        "timestep_fs": settings.timestep_fs / 2, "steps": settings.melt_steps, "seed": seed,
        "thermostat": {"kind": "langevin", "tau_fs": 50.0}, "fix_com": False,
        "barostat": {"kind": "axis", "axis": "z", "pressure_bar": 1.0, "tau_fs": 1000.0},
        "fixed_atoms": solid, "records": {"properties_stride": 10,
                                          "trajectory_stride": settings.melt_steps},
        "stop": settings.stop})
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
    """Mean per-atom q4 of bulk solid and bulk liquid at ``temperature`` with this model,
    the same of the relaxed crystal the solid run starts from (``q_crystal``), the
    liquid's mean volume per atom relative to that crystal's (``liquid_volume_change``),
    and the solid's mean lateral lattice there (``lateral_lattice_A``: lengths of the
    first two cell vectors per repeat of the crystal's cell)."""
    from petmad.simulate.q4 import mean_q4

    directory = Path(directory)
    bulk = relax(pinning_crystal(settings, settings.bulk_supercell), potential,
                 settings.relax_steps, cell=True)
    observer = q4_term(settings)
    steps = settings.reference_steps

    def production(seed_offset: int) -> DynamicsSettings:
        return DynamicsSettings.model_validate({
            "ensemble": "npt", "temperature_K": temperature, "steps": steps,
            "timestep_fs": settings.timestep_fs, "seed": seed + seed_offset,
            "thermostat": {"kind": "langevin", "tau_fs": 100.0},
            "barostat": {"kind": "isotropic", "pressure_bar": 1.0, "tau_fs": 500.0},
            "records": _records(settings), "stop": settings.stop})

    melt = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.melt_temperature_K,
        "timestep_fs": settings.timestep_fs / 2, "steps": settings.melt_steps, "seed": seed + 1,
        "thermostat": {"kind": "langevin", "tau_fs": 50.0},
        "records": {"properties_stride": 10, "trajectory_stride": settings.melt_steps},
        "stop": settings.stop})
    run_dynamics(directory / "solid", bulk, [potential, observer], production(2),
                 progress=progress, description=f"solid {temperature:g} K")
    run_stages(directory / "liquid", random_liquid(bulk, seed, settings.liquid_min_distance),
               [potential, observer],
               [Stage("melt", melt), Stage("quench", production(3))],
               progress=progress, label=f"liquid {temperature:g} K")
    skip = settings.equilibration_fraction

    def mean_order(run: Path) -> float:
        values = np.load(run / "records.npz")["q4_mean"]
        return float(np.mean(values[int(skip * len(values)):]))

    return {"temperature_K": temperature, "q_crystal": mean_q4(bulk, observer.q4),
            "q_solid": mean_order(directory / "solid"),
            "q_liquid": mean_order(directory / "liquid" / "quench"),
            "liquid_volume_change": mean_volume(directory / "liquid" / "quench", skip)
            / bulk.get_volume() - 1.0,
            "lateral_lattice_A": mean_lateral_lattice(directory / "solid",
                                                      settings.bulk_supercell, skip)}


def pin(directory: str | Path, potential: PotentialSpec, interface: Path,
        references: dict[str, float], settings: GaasMeltingSettings, temperature: float,
        seed: int, progress: bool = True) -> dict[str, Any]:
    """The pinned interface run at ``temperature``, its x and y stretched to the solid's
    lateral lattice at that temperature (``references['lateral_lattice_A']``, per repeat)
    when given; writes and returns ``status.json``."""
    directory = Path(directory)
    atoms = read(interface)
    lattice = references.get("lateral_lattice_A")
    if lattice is not None:
        atoms = with_lateral_lattice(atoms, lattice, settings.supercell)
    restraint = q4_term(settings, settings.kappa_eV, references["q_solid"],
                        references["q_liquid"])
    run = DynamicsSettings.model_validate({
        "ensemble": "npt", "temperature_K": temperature, "steps": settings.pinning_steps,
        "timestep_fs": settings.timestep_fs, "seed": seed,
        "thermostat": {"kind": "svr", "tau_fs": 200.0},
        "barostat": {"kind": "axis", "axis": "z", "pressure_bar": 1.0, "tau_fs": 1000.0},
        "records": _records(settings), "stop": settings.stop})
    status: dict[str, Any] = {"temperature_K": temperature, "natoms": len(atoms),
                              "kappa_eV": settings.kappa_eV, "target": settings.target,
                              **references,
                              "interface_lateral_A": [float(x) for x in
                                                      atoms.cell.lengths()[:2]]}
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


def reference_problem(references: dict[str, float], settings: GaasMeltingSettings
                      ) -> str | None:
    """Why the Q4 references cannot normalise s, or None.

    The bulk solid must have kept its crystal's order: a mean q4 more than
    ``max_solid_drift`` from the relaxed crystal's means the model's crystal melted or
    turned into another phase at this temperature, so s = 1 would not be the crystal the
    interface is made of.  And s = (q - q_liquid) / (q_solid - q_liquid) needs the two
    references apart: a tiny difference makes the bias forces explode; its sign does not
    matter (a solid may have the lower Q4).  The bulk liquid must be a melt of the crystal:
    its volume per atom within ``max_liquid_volume_change`` of the crystal's (a model whose
    liquid boils into a foam orders it differently, and s = 0 would be that foam)."""
    q_crystal, q_solid, q_liquid = (references[k] for k in ("q_crystal", "q_solid", "q_liquid"))
    if abs(q_solid - q_crystal) > settings.max_solid_drift:
        return (f"the bulk solid left its crystal's order (mean q4 {q_solid:.3f} against the "
                f"relaxed crystal's {q_crystal:.3f}, more than {settings.max_solid_drift:g} "
                f"apart; q_liquid {q_liquid:.3f}): the model's crystal melts or turns into "
                "another phase at this temperature")
    swelling = references["liquid_volume_change"]
    if abs(swelling) > settings.max_liquid_volume_change:
        return (f"the bulk liquid is not the crystal's melt (volume per atom {swelling:+.0%} "
                f"from the relaxed crystal's, beyond ±{settings.max_liquid_volume_change:.0%}; "
                f"q_liquid {q_liquid:.3f}): the model's liquid boils into a foam or collapses "
                "at this temperature")
    if abs(q_solid - q_liquid) >= settings.min_order_contrast:
        return None
    return (f"solid and liquid Q4 references too close (q_solid {q_solid:.3f}, q_liquid "
            f"{q_liquid:.3f}, |difference| below {settings.min_order_contrast:g}): the liquid "
            "recrystallised, or Q4 with these q4 settings does not tell this crystal from "
            "its liquid")


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
    problem = reference_problem(references, settings)
    if problem is not None:
        status = {"temperature_K": temperature, "status": "stopped", **references,
                  "reason": problem}
        write_json(directory / "status.json", status)
        return status
    return pin(directory / "pinning", potential, interface_status.parent / upstream["interface"],
               references, settings, temperature, seed + 17, progress)
