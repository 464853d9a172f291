"""Case-study configurations from Langevin MD with the reference engine.

The paper's case-study sets are frames of molecular dynamics at the study conditions;
Einstein rattles (:mod:`petmad.data.systems`) stretch bonds far beyond what a 300 K run
visits.  Here each trajectory starts from a rattled structure of one of the system's
conditions, is thermalised by a Langevin thermostat at one of the dataset's temperatures,
and keeps a labeled frame every ``stride_steps``.  The MD's own energies, forces and
stress are the labels.

Active learning (part 'model', ``data.<system>.model_md``) runs the same trajectories with
a model driving them instead and labels the kept frames with the reference engine: they
show a model where it goes wrong, which the reference's own MD never visits.

Masses do not enter the classical configurational distribution, so hydrogen is made
heavier (``hydrogen_mass_amu``) to allow a 1 fs step; the kinetic temperature of each
kept frame is recorded (``md_kinetic_temperature_K``) as a check of the thermostat.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from petmad.config import MdSampling, SystemDataSettings
from petmad.data.systems import build_system
from petmad.reference.engines import LabelFileError, attach_labels, nan_stress
from petmad.reference.labeling import LabelingError

# The training trajectories, the held-out test trajectories and the model-driven ones
# start from rattles drawn with different seeds, so no two parts share a start.
PART_SEED_OFFSETS = {"train": 1, "test": 2, "model": 3}
# The subset of the active-learning round's frames in a split (data.<system>.model_md).
MODEL_MD_SUBSET = "model_md"


@dataclass(frozen=True)
class Start:
    atoms: Atoms
    temperature_K: float
    condition: str


def md_starts(system: str, settings: SystemDataSettings, md: MdSampling, seed: int,
              part: str) -> list[Start]:
    """One start per trajectory: rattles spread over the conditions like the dataset, each
    given the next of the dataset's temperatures in turn."""
    if md.trajectories == 0:
        return []
    sized = settings.model_copy(update={"n_structures": md.trajectories})
    structures = build_system(system, sized, seed + PART_SEED_OFFSETS[part])
    temperatures = md.temperatures_K or settings.sampling.temperatures_K
    return [Start(atoms, float(temperatures[k % len(temperatures)]), atoms.info["subset"])
            for k, atoms in enumerate(structures)]


def sample_trajectory(start: Start, calculator: Calculator, md: MdSampling,
                      rng: np.random.Generator,
                      progress: Callable[[int], None] | None = None,
                      box: Atoms | None = None) -> Iterator[Atoms]:
    """Yield ``md.frames_per_trajectory`` labeled frames of one Langevin trajectory (after
    at most ``md.relax_steps`` FIRE steps); ``progress(steps)`` is told of every chunk of
    steps run.  ``box``: the start as the engine computes it (a slab padded into a periodic
    box for plane waves); the frames keep the start's periodicity, and stress only when
    it is periodic in every direction."""
    box = start.atoms if box is None else box
    atoms = Atoms(box.numbers, box.positions, cell=box.cell, pbc=box.pbc)
    masses = atoms.get_masses()
    masses[atoms.numbers == 1] = md.hydrogen_mass_amu
    atoms.set_masses(masses)
    atoms.calc = calculator
    if md.relax_steps:
        from ase.optimize import FIRE

        FIRE(atoms, logfile=None).run(fmax=0.05, steps=md.relax_steps)
        if progress is not None:
            progress(md.relax_steps)
    MaxwellBoltzmannDistribution(atoms, temperature_K=start.temperature_K, rng=rng)
    Stationary(atoms)
    # The centre of mass is held by a constraint: Langevin's own fixcm does not sample the
    # canonical distribution of the other coordinates (tests/test_md_sampling.py).
    atoms.set_constraint(FixCom())
    dynamics = Langevin(atoms, md.timestep_fs * units.fs, temperature_K=start.temperature_K,
                        friction=1.0 / (md.thermostat_tau_fs * units.fs), fixcm=False, rng=rng)

    def run(steps: int) -> None:
        if steps:
            dynamics.run(steps)
            if progress is not None:
                progress(steps)

    run(md.equilibration_steps)
    for index in range(md.frames_per_trajectory):
        run(md.stride_steps)
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces(apply_constraint=False)  # the labels: not the net-zero ones
        if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
            raise LabelingError(
                f"MD at {start.temperature_K:g} K from a '{start.condition}' structure: the "
                f"calculator driving it returned non-finite energy or forces at step "
                f"{md.equilibration_steps + (index + 1) * md.stride_steps}")
        periodic = start.atoms.pbc.all()
        stress = atoms.get_stress(voigt=True) if periodic else nan_stress()
        frame = attach_labels(
            Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=start.atoms.pbc),
            energy, forces, stress)
        frame.info.update({
            "subset": "md",
            "source": f"reference MD at {start.temperature_K:g} K from a '{start.condition}' "
                      "structure",
            "temperature_K": start.temperature_K,
            "md_condition": start.condition,
            "md_step": md.equilibration_steps + (index + 1) * md.stride_steps,
            "md_kinetic_temperature_K": float(atoms.get_temperature()),
        })
        yield frame


# --------------------------------------------------------------------------- the job


def relabel(frames: list[Atoms], engine, model: str) -> list[Atoms]:
    """The frames of a model-driven trajectory with the reference engine's labels in place
    of the model's (subset 'model_md'); the model's own energy is kept as
    ``driver_energy``, to show how far the model was from the reference where it went."""
    relabeled = []
    for frame in frames:
        labeled = engine.compute(frame)
        labeled.info.update(frame.info)
        labeled.info.update({
            "subset": MODEL_MD_SUBSET,
            "source": f"{model} MD at {frame.info['temperature_K']:g} K from a "
                      f"'{frame.info['md_condition']}' structure, labeled by the reference",
            "driver_energy": float(frame.get_potential_energy()),
        })
        relabeled.append(labeled)
    return relabeled


def sample_dataset(system: str, settings: SystemDataSettings, part: str, seed: int,
                   engine, output: str | Path, progress: bool = True,
                   trajectory: int | None = None, driver: Calculator | None = None,
                   driver_name: str = "model", driver_file: str | Path | None = None) -> dict:
    """Write the labeled frames of ``settings.md`` (part 'train'), ``settings.md_test``
    (part 'test') or ``settings.model_md`` (part 'model') to ``output``, with a summary
    beside it (``<output>.json``).  ``trajectory``: that one only (numbered as in the whole
    set; one job per trajectory on a cluster, whose files :func:`gather_samples` joins).

    Part 'model' is one round of active learning: ``driver`` (a first model's calculator,
    ``driver_name`` in the frames' source, ``driver_file`` its model file, whose contents
    a resumed job must share) runs the MD and the reference engine labels the kept
    frames.  The other parts are the reference engine's own MD.

    Each finished trajectory is kept in ``<output>.work/`` under a digest of everything
    that shapes it, so a killed job resumes at the trajectory it was running; the folder
    goes once the output is written."""
    from tqdm import tqdm

    from petmad.io import (
        digest,
        read_extxyz,
        resumable_directory,
        write_extxyz,
        write_json,
    )

    md = settings.part_md(part)
    if (part == "model") != (driver is not None):
        raise ValueError("part 'model' and only it is driven by a model's calculator")
    output = Path(output)
    starts = list(enumerate(md_starts(system, settings, md, seed, part)))
    if trajectory is not None:
        if not 0 <= trajectory < len(starts):
            raise LabelingError(f"trajectory {trajectory} of {system} ({part}) does not exist: "
                             f"there are {len(starts)}")
        starts = [starts[trajectory]]
    if engine.reads_labels:
        raise LabelFileError(f"reference MD needs an engine that computes; '{engine.name}' "
                             "only reads labels")
    engine.check_available()
    signature = digest(system, settings.md_shaping(part), part, seed, engine.tag(),
                       driver_name, *([Path(driver_file)] if driver_file else []))
    work = resumable_directory(output.parent / f".{output.name}.work", signature)
    steps = md.steps_per_trajectory
    what = f"{driver_name} MD" if driver is not None else "reference MD"
    bar = tqdm(total=steps * len(starts), desc=f"{system} {what} ({part})",
               unit="step", disable=not progress)
    frames: list[Atoms] = []
    records = []
    for index, start in starts:
        done = work / f"trajectory_{index:03d}.extxyz"
        began = time.perf_counter()
        resumed = done.exists()
        if resumed:
            sampled = read_extxyz(done)
            bar.update(steps)
        else:
            engine.prepare(set(start.atoms.get_chemical_symbols()))
            rng = np.random.default_rng([seed, PART_SEED_OFFSETS[part], index])
            box = engine.periodic_box(start.atoms)
            if driver is None:
                sampled = list(sample_trajectory(start, engine.calculator_for(box), md, rng,
                                                 progress=bar.update, box=box))
            else:
                sampled = relabel(list(sample_trajectory(start, driver, md, rng,
                                                         progress=bar.update)),
                                  engine, driver_name)
            write_extxyz(done, sampled)
        kinetic = [frame.info["md_kinetic_temperature_K"] for frame in sampled]
        records.append({
            "index": index, "condition": start.condition,
            "temperature_K": start.temperature_K, "atoms": len(start.atoms),
            "frames": len(sampled), "steps": steps,
            "mean_kinetic_temperature_K": float(np.mean(kinetic)),
            # wall time of this job's trajectories only (None: finished by an earlier job)
            "seconds": None if resumed else round(time.perf_counter() - began, 1),
        })
        frames.extend(sampled)
    bar.close()
    summary = _summary(system, part, engine.describe(), md.model_dump(mode="json"), records)
    write_extxyz(output, frames)
    write_json(f"{output}.json", summary)
    shutil.rmtree(work)
    return summary


def _summary(system: str, part: str, engine: dict, settings: dict, records: list[dict]) -> dict:
    return {"system": system, "part": part, "engine": engine, "settings": settings,
            "n_frames": sum(r["frames"] for r in records),
            "md_steps": sum(r["steps"] for r in records),
            "atom_steps": sum(r["atoms"] * r["steps"] for r in records),
            "trajectories": records}


def gather_samples(shards: list[str | Path], output: str | Path) -> dict:
    """Join one-trajectory files (in order) into the file and summary one job sampling
    every trajectory writes."""
    from petmad.io import read_extxyz, read_json, write_extxyz, write_json

    summaries = [read_json(f"{shard}.json") for shard in shards]
    if not summaries:
        raise ValueError("no trajectory files to gather")
    first = summaries[0]
    summary = _summary(first["system"], first["part"], first["engine"], first["settings"],
                       [record for s in summaries for record in s["trajectories"]])
    write_extxyz(output, [frame for shard in shards for frame in read_extxyz(shard)])
    write_json(f"{output}.json", summary)
    return summary
