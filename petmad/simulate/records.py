"""Turn i-PI's raw outputs into the records analyses read.

For a run directory ``D`` (replica-exchange runs add ``_T<k>`` per temperature index k,
sorted by temperature, not by the drifting i-PI system):

* ``D/properties.csv`` — per-step scalars with units in the headers (pandas);
* ``D/trajectory.extxyz`` — saved frames (centroids for PIMD) with velocities/forces when
  recorded, ``step`` and ``time_ps`` in each frame's info (ASE);
* ``D/trajectory.dcd`` + ``D/topology.pdb`` — the same frames for mdtraj;
* ``D/records.npz`` — per-frame arrays: ``step``, ``time_ps``, LLPR ``energy_ensemble``
  (frames × members, eV, bead-averaged) and ``energy_uncertainty`` (eV), bias collective
  variables, the scaled-coordinates heat-capacity terms ``eps_v`` (eV) and ``eps_v_prime``
  (eV²) with ``heatcap_step`` (sorted by temperature like everything else, with
  ``heatcap_system`` the i-PI system each row came from), and bead positions when recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms, units

from petmad.io import atomic_path
from petmad.simulate.ipi_input import PREFIX, ForceTerm, bias_terms, force_terms
from petmad.simulate.settings import DynamicsSettings

HARTREE_EV = units.Hartree
_COLUMN_NAMES = {
    "step": "step", "time{picosecond}": "time_ps", "conserved{electronvolt}": "conserved_eV",
    "temperature{kelvin}": "temperature_K", "kinetic_md{electronvolt}": "kinetic_eV",
    "potential{electronvolt}": "potential_eV", "pressure_md{bar}": "pressure_bar",
    "volume{angstrom3}": "volume_A3", "kinetic_cv{electronvolt}": "kinetic_cv_eV",
}
_CELL_COMPONENTS = ("xx", "yy", "zz", "xy", "xz", "yz")
_HEADER = re.compile(r"#\s*col(?:umn|s\.)\s+(\d+)(?:-(\d+))?\s+-->\s+(\S+)")


def read_properties(path: str | Path, terms: list[ForceTerm] | None = None) -> pd.DataFrame:
    """An i-PI properties file as a table with unit-bearing column names."""
    names: list[str] = []
    bias_column = None
    for line in Path(path).read_text().splitlines():
        match = _HEADER.match(line)
        if not match:
            if line.strip() and not line.startswith("#"):
                break
            continue
        first, last, key = int(match[1]), int(match[2] or match[1]), match[3]
        width = last - first + 1
        if key.startswith("cell_h"):
            names += [f"cell_{c}_A" for c in _CELL_COMPONENTS]
        elif key.startswith("pot_component_raw"):
            index = int(re.search(r"\((\d+)\)", key)[1])
            label = force_terms(terms)[index].name if terms else str(index)
            names.append(f"potential_{label}_eV")
        elif key.startswith("ensemble_bias"):
            biases = bias_terms(terms or [])
            bias_column = (f"potential_{biases[0].name}_eV" if len(biases) == 1
                           else "potential_bias_eV")
            names.append(bias_column)
        elif key.startswith("scaledcoords"):
            names += ["eps_v_Ha", "eps_v_prime_Ha2"]
        elif width == 1:
            names.append(_COLUMN_NAMES.get(key, key))
        else:
            names += [f"{key}_{k}" for k in range(width)]
    # A run stopped by a guard may leave a half-written last row: keep complete rows only.
    rows = [line.split() for line in Path(path).read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    rows = [row for row in rows if len(row) == len(names)]
    data = np.array(rows, dtype=float).reshape(len(rows), len(names))
    table = pd.DataFrame(data[:, : len(names)], columns=names)
    table["step"] = table["step"].astype(int)
    if bias_column and "potential_eV" in table:
        # i-PI's potential leaves the ensemble bias out; with the torch restraint it is one
        # of the summed terms.  Record both runs the same way: every term in the total.
        table["potential_eV"] += table[bias_column]
    return table


def read_extras(path: str | Path, nbeads: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of an ``extras`` trajectory: (frames,), (frames, beads, width)."""
    steps, blocks, current = [], [], []
    for line in Path(path).read_text().splitlines():
        if line.lstrip().startswith("#"):
            if current:
                blocks.append(current)
            current = []
            steps.append(int(line.split("Step:")[1].split()[0]))
        elif line.strip():
            current.extend(float(value) for value in line.split())
    if current or len(blocks) < len(steps):
        blocks.append(current)
    blocks = [block for block in blocks if block]  # a stopped run may leave an empty one
    if not blocks:
        return np.zeros(0, dtype=int), np.zeros((0, nbeads, 0))
    values = np.array([np.reshape(block, (nbeads, -1)) for block in blocks], dtype=float)
    return np.array(steps, dtype=int), values.reshape(len(blocks), nbeads, -1)


def read_frames(path: str | Path, quantity: str) -> list[Atoms]:
    """Frames of an i-PI ``format="ase"`` trajectory, the recorded quantity as positions
    (positions, centroid) or as the named array."""
    from ase.io import read

    frames = read(path, index=":", format="extxyz")
    for atoms in frames:
        comment = atoms.info.pop("ipi_comment", "")
        atoms.info["step"] = int(comment.split("Step:")[1].split()[0]) if "Step:" in comment else -1
        if quantity != "positions" and quantity in atoms.arrays:
            atoms.positions = atoms.arrays.pop(quantity)
        elif quantity == "forces" and atoms.calc is not None:  # ASE files forces as results
            atoms.positions = atoms.calc.results["forces"]
            atoms.calc = None
    return frames


def replica_temperature_index(work: Path, replicas: int, steps: np.ndarray) -> np.ndarray:
    """For each i-PI system and each output step (completed steps), the index of the
    temperature it held: (len(steps), replicas).  i-PI swaps ensembles between systems and
    logs the new assignment (``remd_idx``) after the 0-based step at which it happened."""
    path = work / f"{PREFIX}.remd_idx"
    log = np.loadtxt(path, ndmin=2, dtype=int) if path.exists() and path.stat().st_size else \
        np.zeros((0, replicas + 1), dtype=int)
    assignment = np.tile(np.arange(replicas), (len(steps), 1))
    for row, step in enumerate(steps):
        applied = log[log[:, 0] <= step - 1]
        if len(applied):
            assignment[row] = applied[-1, 1:]
    return assignment


def _write_table(path: Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")


def _write_frames(directory: Path, suffix: str, frames: list[Atoms]) -> list[str]:
    from ase.io import write

    extxyz = directory / f"trajectory{suffix}.extxyz"
    with atomic_path(extxyz) as tmp:
        write(tmp, frames, format="extxyz")
    written = [str(extxyz)]
    if frames:
        import mdtraj

        pdb, dcd = directory / f"topology{suffix}.pdb", directory / f"trajectory{suffix}.dcd"
        with atomic_path(pdb) as tmp:
            write(tmp, Atoms(frames[0].numbers, frames[0].positions, cell=frames[0].cell,
                             pbc=frames[0].pbc), format="proteindatabank")
        cells = np.array([atoms.cell.cellpar() for atoms in frames])
        positions = np.array([atoms.positions for atoms in frames], dtype=np.float32)
        with atomic_path(dcd) as tmp, mdtraj.formats.DCDTrajectoryFile(
                str(tmp), "w", force_overwrite=True) as handle:
            handle.write(positions, cell_lengths=cells[:, :3], cell_angles=cells[:, 3:])
        written += [str(pdb), str(dcd)]
    return written


def _term_extras(path: Path, nbeads: int, per_bead_files: bool) -> np.ndarray | None:
    """One extras record of a term, (frames, beads, width), or None when it has none.  A
    <forces> term's extras come in one file; a bias's (PLUMED) in one file per bead,
    ``<path>_<bead>``."""
    if not per_bead_files:
        if not path.exists():
            return None
        _, values = read_extras(path, nbeads)
        return values if len(values) else None
    digits = len(str(nbeads))  # i-PI pads bead numbers to 1 + floor(log10(nbeads)) digits
    beads = [path.with_name(f"{path.name}_{bead:0{digits}d}") for bead in range(nbeads)]
    if not all(bead.exists() for bead in beads):
        return None
    per_bead = [read_extras(bead, 1)[1] for bead in beads]
    frames = min(len(values) for values in per_bead)
    if not frames:
        return None
    return np.concatenate([values[:frames] for values in per_bead], axis=1)


def _system_prefix(index: int, replicas: int) -> str:
    return f"rep{index:02d}_" if replicas > 1 else ""


def _system_records(work: Path, system: str, settings: DynamicsSettings,
                    terms: list[ForceTerm], template: Atoms) -> dict[str, Any]:
    """Everything one i-PI system wrote, keyed by kind of record."""
    pimd = settings.path_integral.beads > 1
    nbeads = settings.path_integral.beads
    bead_suffix = "" if pimd else "_0"
    properties = read_properties(work / f"{system}{PREFIX}.out", terms)
    frames = read_frames(work / f"{system}{PREFIX}.pos{bead_suffix}.extxyz",
                         "x_centroid" if pimd else "positions")
    time_step_ps = settings.timestep_fs / 1000.0
    for quantity, name, ipi_name in (("velocities", "vel", "v_centroid" if pimd else "velocities"),
                                     ("forces", "frc", "f_centroid" if pimd else "forces")):
        path = work / f"{system}{PREFIX}.{name}{bead_suffix}.extxyz"
        if path.exists():
            for atoms, other in zip(frames, read_frames(path, ipi_name)):
                if quantity == "velocities":
                    atoms.set_velocities(other.positions)
                else:
                    atoms.arrays[quantity] = other.positions.copy()
    for atoms in frames:
        atoms.info["time_ps"] = atoms.info["step"] * time_step_ps
        atoms.pbc = template.pbc
    arrays: dict[str, np.ndarray] = {
        "step": np.array([a.info["step"] for a in frames], dtype=int),
        "time_ps": np.array([a.info["time_ps"] for a in frames], dtype=float),
    }
    seen: set[str] = set()
    for index, term in enumerate(terms):
        for key in term.extras:
            values = _term_extras(work / f"{system}{PREFIX}.x{index}_{key}", nbeads,
                                  per_bead_files=term.is_bias)
            if values is None:
                continue
            values = values[: len(frames)].mean(axis=1)  # ring-polymer average
            values = values[:, 0] if values.shape[1] == 1 and key != "energy_ensemble" else values
            name = key if key not in seen else f"{term.name}_{key}"
            seen.add(key)
            arrays[name] = values
    if settings.path_integral.bead_trajectories and pimd:
        beads = [read_frames(work / f"{system}{PREFIX}.beads_{b}.extxyz", "positions")
                 for b in range(nbeads)]
        arrays["bead_positions"] = np.array(
            [[bead[k].positions for bead in beads] for k in range(len(frames))])
    heatcap = work / f"{system}{PREFIX}.heatcap"
    if heatcap.exists():
        table = read_properties(heatcap)
        arrays["heatcap_step"] = table["step"].to_numpy()
        arrays["eps_v"] = table["eps_v_Ha"].to_numpy() * HARTREE_EV
        arrays["eps_v_prime"] = table["eps_v_prime_Ha2"].to_numpy() * HARTREE_EV**2
    return {"properties": properties, "frames": frames, "arrays": arrays}


def write_records(work: Path, directory: Path, settings: DynamicsSettings,
                  terms: list[ForceTerm], template: Atoms) -> dict[str, list[str]]:
    """Write the records of the run in ``work`` into ``directory``; return their paths."""
    directory = Path(directory)
    replicas = len(settings.replica_exchange.temperatures_K) if settings.replica_exchange else 1
    systems = [_system_records(work, _system_prefix(i, replicas), settings, terms, template)
               for i in range(replicas)]
    written: dict[str, list[str]] = {}
    for temperature_index in range(replicas):
        suffix = f"_T{temperature_index:02d}" if replicas > 1 else ""
        if replicas > 1:
            properties, frames, arrays = _sorted_by_temperature(work, systems, temperature_index)
        else:
            properties, frames, arrays = (systems[0]["properties"], systems[0]["frames"],
                                          systems[0]["arrays"])
        if replicas > 1:
            arrays["temperature_K"] = np.array(settings.replica_exchange.temperatures_K)
            properties = properties.assign(
                target_temperature_K=settings.replica_exchange.temperatures_K[temperature_index])
        files = []
        path = directory / f"properties{suffix}.csv"
        _write_table(path, properties)
        files.append(str(path))
        files += _write_frames(directory, suffix, frames)
        path = directory / f"records{suffix}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        files.append(str(path))
        written[f"T{temperature_index:02d}" if replicas > 1 else "run"] = files
    return written


def _sorted_by_temperature(work: Path, systems: list[dict[str, Any]], index: int):
    replicas = len(systems)
    property_steps = systems[0]["properties"]["step"].to_numpy()
    owner = np.argmax(replica_temperature_index(work, replicas, property_steps) == index, axis=1)
    properties = pd.DataFrame([systems[system]["properties"].iloc[row]
                               for row, system in enumerate(owner)]).reset_index(drop=True)
    frame_steps = systems[0]["arrays"]["step"]
    owner = np.argmax(replica_temperature_index(work, replicas, frame_steps) == index, axis=1)
    frames = [systems[system]["frames"][row] for row, system in enumerate(owner)]
    arrays = {}
    # The heat-capacity terms have their own stride: sorted by their own steps.
    heatcap_owner = None
    if "heatcap_step" in systems[0]["arrays"]:
        heatcap_steps = systems[0]["arrays"]["heatcap_step"]
        heatcap_owner = np.argmax(
            replica_temperature_index(work, replicas, heatcap_steps) == index, axis=1)
    for key, value in systems[0]["arrays"].items():
        if key in ("step", "time_ps", "heatcap_step"):
            arrays[key] = value
        elif key.startswith(("heatcap", "eps_v")):
            arrays[key] = np.array([systems[system]["arrays"][key][row]
                                    for row, system in enumerate(heatcap_owner)])
        else:
            arrays[key] = np.array([systems[system]["arrays"][key][row]
                                    for row, system in enumerate(owner)])
    arrays["system"] = owner
    if heatcap_owner is not None:
        arrays["heatcap_system"] = heatcap_owner
    return properties, frames, arrays
