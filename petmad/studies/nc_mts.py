"""Direct forces and multiple time stepping in a molecular liquid (paper S12, Figs. S16-17).

One job per model: a water box (the stand-in for the paper's BMIM-Cl) is relaxed and
equilibrated by conservative NVT MD, then six runs start from the same frame with the same
velocity seed: {conservative, direct, MTS} × {NVE, NVT (SVR)}.

* conservative: forces are minus the gradient of the energy head, step ``timestep_fs``;
* direct: the model's direct-force head (``non_conservative_forces``), same step;
* MTS: i-PI's multiple time stepping; the direct-force head drives ``outer_every`` inner
  steps of ``timestep_fs``, and the conservative minus direct forces correct the outer step
  (``outer_every × timestep_fs``), so the dynamics is conservative on average.

Every variant covers the same simulated time and saves frames (positions, velocities) at
the same times.  The wall time of each run comes from the engine's per-chunk timings, the
first (compiling) chunk left out, so variants run one after the other in the same job give
speed-ups that are comparable.  A run whose guards trip (direct forces heat a liquid until
molecules break) keeps its records up to that step and is marked 'stopped'.  A killed job
redoes only the run it was in, resuming from that run's last checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase.io import write

from petmad.config import NcMtsSettings
from petmad.io import atomic_path, digest, read_json, resumable_directory, write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped, run_dynamics
from petmad.simulate.protocol import last_frame, relax
from petmad.simulate.runner import step_timings

VARIANTS = ("conservative", "direct", "mts")
ENSEMBLES = ("nve", "nvt")


def variant_potentials(model: PotentialSpec, variant: str) -> list[PotentialSpec]:
    """The force terms of one variant of ``model`` (which must have a direct-force head for
    'direct' and 'mts')."""
    if variant == "conservative":
        return [model]
    try:
        direct = PotentialSpec.model_validate({**model.model_dump(), "non_conservative": True})
    except ValueError as exc:  # a kind of potential that has no direct-force form
        raise SimulationStopped(f"no direct-force variant: {exc}") from None
    return [direct] if variant == "direct" else [model, direct]


def _chunk_steps(settings: NcMtsSettings) -> int:
    """Inner steps between checkpoints: about eight timing chunks per run, in whole saved
    frames."""
    stride = settings.record_stride
    return max(stride, settings.steps // 8 // stride * stride)


def run_settings(settings: NcMtsSettings, variant: str, ensemble: str, seed: int
                 ) -> DynamicsSettings:
    """i-PI settings of one run.  MTS counts outer steps, so its step, step count and
    strides are rescaled by ``outer_every`` to keep the simulated times equal."""
    inner = settings.outer_every if variant == "mts" else 1
    data: dict[str, Any] = {
        "ensemble": ensemble, "temperature_K": settings.temperature_K,
        "timestep_fs": settings.timestep_fs * inner, "steps": settings.steps // inner,
        "seed": seed, "thermostat": {"kind": "svr", "tau_fs": settings.thermostat_tau_fs},
        "records": {"properties_stride": settings.outer_every // inner,
                    "trajectory_stride": settings.record_stride // inner,
                    "velocities": True,
                    "checkpoint_stride": _chunk_steps(settings) // inner},
        "stop": settings.stop,
    }
    if variant == "mts":
        data["mts"] = {"outer_every": settings.outer_every}
    return DynamicsSettings.model_validate(data)


def seconds_per_inner_step(timings: list[tuple[int, int, float]], inner: int) -> float:
    """Median wall time per inner step over the timed chunks, the first left out (it pays
    for the models' first calls) unless it is the only one; NaN without any."""
    rates = [seconds / ((last - first) * inner) for first, last, seconds in
             (timings[1:] or timings) if last > first]
    return float(np.median(rates)) if rates else float("nan")


def equilibrate(directory: Path, model: PotentialSpec, settings: NcMtsSettings, seed: int,
                progress: bool = True) -> Path:
    """Random box → relaxed → conservative NVT; returns ``start.extxyz`` (kept across
    resumes)."""
    from petmad.data.systems import water_box

    start = directory / "start.extxyz"
    if start.exists():
        return start
    box = water_box(settings.n_molecules, settings.density_kg_m3, np.random.default_rng(seed))
    nvt = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": settings.temperature_K,
        "timestep_fs": settings.timestep_fs, "steps": settings.equilibration_steps,
        "seed": seed + 1, "thermostat": {"kind": "svr", "tau_fs": settings.thermostat_tau_fs},
        "records": {"properties_stride": 10, "trajectory_stride": settings.equilibration_steps},
        "stop": settings.stop})
    relaxed = relax(box, model, settings.relax_steps)
    run_dynamics(directory / "equilibration", relaxed, [model], nvt, progress=progress,
                 description="conservative equilibration")
    with atomic_path(start) as tmp:
        write(tmp, last_frame(directory / "equilibration"), format="extxyz")
    return start


def run_variant(directory: Path, start, model: PotentialSpec, settings: NcMtsSettings,
                variant: str, ensemble: str, seed: int, progress: bool = True
                ) -> dict[str, Any]:
    """One run; its summary row (also written to ``directory/status.json``)."""
    inner = settings.outer_every if variant == "mts" else 1
    row: dict[str, Any] = {"variant": variant, "ensemble": ensemble, "status": "ok",
                           "reason": "", "inner_steps": settings.steps,
                           "timestep_fs": settings.timestep_fs, "outer_every": inner}
    try:
        run_dynamics(directory, start, variant_potentials(model, variant),
                     run_settings(settings, variant, ensemble, seed), progress=progress,
                     description=f"{variant} {ensemble.upper()}")
    except SimulationStopped as exc:
        row.update(status="stopped", reason=str(exc))
    row["seconds_per_inner_step"] = seconds_per_inner_step(step_timings(directory), inner)
    write_json(directory / "status.json", row)
    return row


def nc_mts_job(directory: str | Path, model: PotentialSpec, settings: NcMtsSettings,
               seed: int, progress: bool = True) -> dict[str, Any]:
    """Equilibration and the six runs in ``directory``; writes ``status.json`` there.
    Finished runs of a killed job with the same inputs are kept; anything else is wiped."""
    from ase.io import read

    model_bytes = Path(model.path) if model.path else ""
    directory = resumable_directory(directory, digest(settings.model_dump(mode="json"),
                                                      model.model_dump(mode="json"),
                                                      model_bytes, seed))
    status: dict[str, Any] = {"status": "ok", "n_molecules": settings.n_molecules,
                              "temperature_K": settings.temperature_K, "runs": []}
    try:
        start = read(equilibrate(directory, model, settings, seed, progress))
    except SimulationStopped as exc:
        status.update(status="stopped", reason=f"equilibration: {exc}")
        write_json(directory / "status.json", status)
        return status
    status["natoms"] = len(start)
    for ensemble in ENSEMBLES:
        for variant in VARIANTS:
            run = directory / f"{variant}-{ensemble}"
            done = run / "status.json"
            row = read_json(done) if done.exists() else run_variant(
                run, start, model, settings, variant, ensemble, seed + 2, progress)
            status["runs"].append(row)
    write_json(directory / "status.json", status)
    return status
