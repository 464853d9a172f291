"""Run i-PI in-process on a run directory: render inputs, integrate, checkpoint, resume.

Layout of a run directory ``D``::

    D/ipi/input.xml          the i-PI input (rerunnable by hand from D/ipi)
    D/ipi/init_*.extxyz      starting structures, one per replica
    D/ipi/potential_*.json   the summed potential terms; stop.json the run guards
    D/ipi/sim.*              i-PI's raw outputs
    D/ipi/checkpoint.json    the last consistent state: i-PI restart XML + output sizes
    D/properties.csv ...     the records (see :mod:`petmad.simulate.records`)

A checkpoint stores i-PI's full state at full precision together with the byte size of
every output file at that moment.  Resuming truncates the outputs back to those sizes and
reloads the state, so a run killed at any point finishes with the same files an
uninterrupted run writes (to round-off in the last digit).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from petmad.io import atomic_path, digest, read_json, resumable_directory, write_extxyz, write_json
from petmad.simulate.ipi_input import FLOAT_FORMAT, PREFIX, ForceTerm, RunFiles, render_input
from petmad.simulate.potentials import Evaluator, SimulationStopped
from petmad.simulate.settings import DynamicsSettings, PotentialSpec

CHECKPOINT = "checkpoint.json"
STOPPED = "stopped.json"  # beside the records of a run a guard stopped, with the reason


def _terms(potentials: list[PotentialSpec], settings: DynamicsSettings) -> list[tuple[str, tuple]]:
    """Names and MTS weights (outer, inner) of each term.

    Under multiple time stepping the direct-force term drives the inner steps and its
    conservative twin corrects every ``outer_every`` steps with (F_conservative - F_direct);
    cheap extra terms (biases) act at every inner step.
    """
    names = [f"{spec.kind.replace('_', '')}{index}" for index, spec in enumerate(potentials)]
    if settings.mts is None:
        return [(name, None) for name in names]
    direct = [i for i, spec in enumerate(potentials) if spec.non_conservative]
    if len(direct) != 1:
        raise SimulationStopped("multiple time stepping needs exactly one potential with "
                                f"non_conservative: true, got {len(direct)}")
    kind = potentials[direct[0]].kind
    twins = [i for i, spec in enumerate(potentials)
             if spec.kind == kind and not spec.non_conservative]
    if len(twins) != 1:
        raise SimulationStopped("multiple time stepping needs the conservative twin of the "
                                f"direct-force '{kind}' potential among the potentials")
    weights = []
    for index in range(len(potentials)):
        if index == direct[0]:
            weights.append((-1.0, 1.0))
        elif index == twins[0]:
            weights.append((1.0, 0.0))
        else:
            weights.append((0.0, 1.0))
    return list(zip(names, weights))


def _probe_extras(spec: PotentialSpec, template: Atoms, settings: DynamicsSettings
                  ) -> tuple[str, ...]:
    """Which extras a term returns, found by evaluating it once on the start structure
    (this also surfaces a broken model, or one that cannot give the stress a barostat
    needs, before i-PI starts)."""
    from petmad.simulate.settings import StopCriteria

    evaluator = Evaluator(spec, template, StopCriteria(min_distance_A=None))
    if settings.ensemble == "npt" and not evaluator.has_stress:
        raise SimulationStopped(f"{evaluator.describe()} gives no stress (a direct-force head "
                                "without a stress head), so it cannot run at constant pressure")
    evaluation = evaluator.evaluate(template.cell.array, template.positions)
    return tuple(sorted(evaluation.extras))


# The values a PLUMED restraint hands back to i-PI each step (labels in plumed.dat): the
# same records the torch restraint gives.
PLUMED_EXTRAS = ("q4_mean", "s")


@functools.cache
def plumed_problem() -> str | None:
    """Why PLUMED cannot apply the Q4 restraint here, or None.  PLUMED applies it when
    ``PLUMED_KERNEL`` names a kernel that loads and has the modules Q4 needs (symfunc and
    adjmat), and the ``plumed`` module imports."""
    kernel = os.environ.get("PLUMED_KERNEL")
    if not kernel:
        return "PLUMED_KERNEL is not set"
    try:
        import plumed
    except ImportError:
        return "the plumed Python module is not installed (pip install plumed)"
    try:
        with plumed.Plumed() as probe:
            probe.cmd("setNatoms", 2)
            probe.cmd("setMDEngine", "petmad-bench")
            probe.cmd("setLogFile", os.devnull)
            probe.cmd("init")
            probe.cmd("readInputLine", "q4probe: Q4 SPECIES=1-2 SWITCH={RATIONAL R_0=0.3} MEAN")
    except Exception as exc:  # noqa: BLE001  (the kernel's exception types vary by version)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"the PLUMED kernel {kernel!r} cannot evaluate Q4 ({first}); it needs the "
                "symfunc and adjmat modules (configure --enable-modules=+symfunc+adjmat)")
    return None


def plumed_available() -> bool:
    """PLUMED applies Q4 restraints instead of the torch code (see :func:`plumed_problem`)."""
    return plumed_problem() is None


def _note(text: str) -> None:
    print(f"petmad-bench: {text}", file=sys.stderr)


def _write_plumed_input(work: Path, spec: PotentialSpec, atoms: Atoms,
                        settings: DynamicsSettings) -> str:
    """The PLUMED equivalent of a Q4 restraint, written for every run that uses one, so the
    bias can be rerun or cross-checked with PLUMED."""
    from petmad.simulate.q4 import plumed_input

    name = "plumed.dat"
    text = plumed_input(spec.q4, len(atoms), atoms.get_chemical_symbols(),
                        stride=settings.records.trajectory_stride,
                        colvar_file=f"{PREFIX}.colvar")  # a sim.* file: resumes truncate it
    with atomic_path(work / name) as tmp:
        tmp.write_text(text)
    return name


def _plumed_applies(spec: PotentialSpec, atoms: Atoms, settings: DynamicsSettings) -> bool:
    """Whether PLUMED applies this Q4 restraint; one line says why not when a kernel is
    there but this run cannot use it."""
    from petmad.simulate.q4 import plumed_cell_problem

    if os.environ.get("PLUMED_KERNEL") and not plumed_available():
        reason = plumed_problem()
    elif not plumed_available():
        return False
    elif settings.mts is not None:
        reason = "multiple time stepping weighs terms, and i-PI cannot weigh a PLUMED bias"
    else:
        reason = plumed_cell_problem(atoms, spec.q4)
    if reason is None:
        return True
    _note(f"PLUMED does not apply this run's Q4 restraint: {reason}; the torch restraint "
          "(the same bias) does")
    return False


def prepare(
    work: Path, structures: list[Atoms], potentials: list[PotentialSpec],
    settings: DynamicsSettings,
) -> list[ForceTerm]:
    """Write the input files of a fresh run into ``work`` and return its force terms."""
    for stale in work.glob(f"*{PREFIX}.*"):
        stale.unlink()
    initial = []
    for index, atoms in enumerate(structures):
        name = f"init_{index:02d}.extxyz"
        clean = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        write_extxyz(work / name, [clean])
        initial.append(name)
    write_json(work / "stop.json", settings.stop.model_dump())
    terms = []
    for index, (spec, (name, weights)) in enumerate(zip(potentials, _terms(potentials, settings))):
        spec_file = f"potential_{index}_{spec.kind}.json"
        if spec.path:  # i-PI loads the term from inside the work directory
            spec = spec.model_copy(update={"path": str(Path(spec.path).resolve())})
        write_json(work / spec_file, spec.model_dump(mode="json"))
        plumed_file = None
        if spec.kind == "q4_restraint":
            plumed_file = _write_plumed_input(work, spec, structures[0], settings)
        if plumed_file and _plumed_applies(spec, structures[0], settings):
            terms.append(ForceTerm(name, spec_file, PLUMED_EXTRAS, weights, plumed_file))
        else:
            extras = _probe_extras(spec, structures[0], settings)
            terms.append(ForceTerm(name, spec_file, extras, weights))
    files = RunFiles(template=initial[0], initial=tuple(initial), stop_file="stop.json")
    with atomic_path(work / "input.xml") as tmp:
        tmp.write_text(render_input(settings, terms, files))
    write_json(work / "terms.json", [t.__dict__ for t in terms])
    return terms


def _output_files(work: Path) -> dict[str, int]:
    """i-PI's output files (``sim.*``, or ``repNN_sim.*`` per replica) and their sizes."""
    return {p.name: p.stat().st_size for p in sorted(work.iterdir())
            if p.name.startswith(f"{PREFIX}.") or f"_{PREFIX}." in p.name}


def _flush(simulation) -> None:
    for output in simulation.outputs:
        streams = getattr(output, "out", None)
        for stream in streams if isinstance(streams, list) else [streams]:
            if stream is not None and hasattr(stream, "flush"):
                stream.flush()
    if simulation.smotion is not None:
        swapfile = getattr(simulation.smotion, "sf", None)
        if swapfile is not None and getattr(swapfile, "out", None) is not None:
            swapfile.out.flush()


def _write_checkpoint(simulation, work: Path, total: int, timings: list) -> None:
    """Store the state after the last completed step with the matching output sizes and
    the wall time of every chunk of steps so far."""
    _flush(simulation)
    completed = simulation.step
    simulation.tsteps = total
    simulation.chk.store()
    simulation.chk.status.step.store(completed)
    state = simulation.chk.status.write("simulation")
    write_json(work / CHECKPOINT, {"step": completed, "sizes": _output_files(work),
                                   "restart": state, "timings": timings})


def step_timings(directory: str | Path) -> list[tuple[int, int, float]]:
    """(first step, last step + 1, wall seconds) of every chunk of steps a run integrated
    between checkpoints, kept across resumes.  The first chunk of each (re)start includes
    the models' first, compiling calls."""
    checkpoint = Path(directory) / "ipi" / CHECKPOINT
    if not checkpoint.exists():
        return []
    return [tuple(chunk) for chunk in read_json(checkpoint).get("timings", [])]


def _detach_softexit(simulation) -> None:
    """i-PI's soft-exit machinery suits a standalone process; in-process it would catch
    SIGTERM/SIGINT, keep a monitor thread alive and write RESTART files at interpreter exit.
    Our own checkpoints make a plain kill safe, so hand the signals back."""
    import signal

    from ipi.utils.softexit import softexit

    for signum, handler in softexit._kill.items():
        signal.signal(signum, handler)
    softexit._kill.clear()
    softexit._doloop[0] = False
    softexit.flist = [entry for entry in softexit.flist if entry[0] != simulation.softexit]


def _load(work: Path):
    from ipi import ipi_global_settings
    from ipi.engine.simulation import Simulation

    # Set before parsing: i-PI decides which fields to write into a restart by comparing
    # strings made with the format current at parse time.
    ipi_global_settings["floatformat"] = FLOAT_FORMAT
    checkpoint = work / CHECKPOINT
    if checkpoint.exists():
        saved = read_json(checkpoint)
        for name, size in saved["sizes"].items():
            path = work / name
            if path.exists():
                with open(path, "r+b") as handle:
                    handle.truncate(size)
        text = saved["restart"]
    else:
        text = (work / "input.xml").read_text()
    with contextlib.chdir(work):
        simulation = Simulation.load_from_xml(text, custom_verbosity="quiet")
    _detach_softexit(simulation)
    return simulation


def integrate(work: Path, settings: DynamicsSettings, progress: bool = True,
              description: str = "MD") -> int:
    """Run (or finish) the i-PI simulation in ``work``; return the number of steps done."""
    from tqdm import tqdm

    total = settings.steps
    stride = settings.records.checkpoint_stride
    if (work / CHECKPOINT).exists() and read_json(work / CHECKPOINT)["step"] >= total:
        return total
    timings = read_json(work / CHECKPOINT).get("timings", []) if (
        work / CHECKPOINT).exists() else []
    simulation = _load(work)
    bar = tqdm(total=total, initial=simulation.step, desc=description, unit="step",
               disable=not progress, mininterval=2.0)
    try:
        with contextlib.chdir(work):
            while simulation.step < total:
                first = simulation.step
                simulation.tsteps = min(simulation.step + stride, total)
                start = time.perf_counter()
                try:
                    simulation.run()
                except SimulationStopped as exc:
                    _flush(simulation)
                    # i-PI's step counter holds the step that failed (-1: the start).
                    raise SimulationStopped(f"step {max(simulation.step, 0)}: {exc}") from None
                simulation.step += 1  # i-PI leaves it on the last completed step
                timings.append([first, simulation.step, time.perf_counter() - start])
                _write_checkpoint(simulation, work, total, timings)
                bar.update(simulation.step - bar.n)
    finally:
        bar.close()
        simulation.stop()
        for forcefield in simulation.fflist.values():
            kernel = getattr(forcefield, "plumed", None)  # i-PI's FFPlumed never ends it
            if kernel is not None:
                kernel.finalize()  # closes COLVAR and frees PLUMED's instance
    return total


def run_dynamics(
    directory: str | Path,
    structures: Atoms | list[Atoms],
    potentials: list[PotentialSpec],
    settings: DynamicsSettings,
    progress: bool = True,
    description: str = "MD",
) -> dict[str, Any]:
    """Run ``settings`` on ``structures`` (one per replica) with the summed ``potentials``.

    Resumes a killed run with the same inputs; starts afresh when anything changed.
    Writes the records (see :func:`petmad.simulate.records.write_records`) into
    ``directory`` and returns a summary.  A tripped run guard raises
    :class:`SimulationStopped` naming the step and the cause, after writing the records
    of the steps done so far.
    """
    from petmad.simulate.records import write_records

    structures = [structures] if isinstance(structures, Atoms) else list(structures)
    replicas = len(settings.replica_exchange.temperatures_K) if settings.replica_exchange else 1
    if len(structures) == 1 and replicas > 1:
        structures = structures * replicas
    if len(structures) != replicas:
        raise ValueError(f"{replicas} replicas need {replicas} structures, got {len(structures)}")
    directory = Path(directory).resolve()  # i-PI runs inside the work directory
    # The model files' contents, not only their paths: a model retrained in place must not
    # resume (or reuse) the trajectory of the model it replaced.
    signature = digest(settings.model_dump(mode="json"),
                       [spec.model_dump(mode="json") for spec in potentials],
                       [_structure_key(atoms) for atoms in structures],
                       *_model_files(potentials))
    created = not directory.exists()
    work = resumable_directory(directory / "ipi", signature)
    if not (work / CHECKPOINT).exists():
        try:
            prepare(work, structures, potentials, settings)
        except BaseException:
            # A run that never started (a corrupt model, say) leaves nothing to resume.
            shutil.rmtree(directory if created else work, ignore_errors=True)
            raise
    # A stop marker belongs to the attempt that wrote it; this one writes its own.
    (directory / STOPPED).unlink(missing_ok=True)
    terms = [ForceTerm(**{**t, "extras": tuple(t["extras"]),
                          "mts_weights": tuple(t["mts_weights"]) if t["mts_weights"] else None})
             for t in json.loads((work / "terms.json").read_text())]
    try:
        integrate(work, settings, progress=progress, description=description)
    except SimulationStopped as exc:
        write_records(work, directory, settings, terms, structures[0])
        write_json(directory / STOPPED, {"reason": str(exc)})
        raise
    files = write_records(work, directory, settings, terms, structures[0])
    return {"directory": str(directory), "steps": settings.steps, "files": files}


def _model_files(potentials: list[PotentialSpec]) -> list[Path]:
    """The files whose contents define the potentials: exported models and library models
    given by a file."""
    paths = [spec.path for spec in potentials if spec.path]
    paths += [spec.library.path for spec in potentials if spec.library and spec.library.path]
    return [Path(path) for path in paths if Path(path).is_file()]


def _structure_key(atoms: Atoms) -> list:
    return [atoms.numbers.tolist(), np.round(atoms.positions, 10).tolist(),
            np.round(atoms.cell.array, 10).tolist(), atoms.pbc.tolist()]
