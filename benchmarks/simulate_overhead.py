"""Driver overhead of the simulation engine: wall time per MD step through
``petmad.simulate`` (i-PI, guards, records) beyond the model evaluations themselves.

    python benchmarks/simulate_overhead.py                      # models/pet-mad.pt
    python benchmarks/simulate_overhead.py --model other.pt --sizes 100 1000 --threads 2

Both numbers come from the same run, so machine noise cancels: the time spent inside the
model's ``calculate`` (energy, forces, stress and the LLPR ensemble in one pass) and the
wall time of the integration loop (model loading excluded).  Overhead = loop / model - 1,
per model evaluation (for PIMD one evaluation per bead).  A bare ASE evaluation of the
same structure is printed for reference.  Target: overhead below 10 % at 1000 atoms.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def crystal(model: str, natoms: int):
    """A rattled fcc crystal of an element the model knows, with about ``natoms`` atoms."""
    from ase.build import bulk
    from ase.data import atomic_numbers, chemical_symbols, reference_states

    from petmad.models.evaluate import load_calculator, supported_species

    known = supported_species(load_calculator(model))
    fcc = [chemical_symbols[z] for z in sorted(known or [atomic_numbers["Cu"]])
           if (reference_states[z] or {}).get("symmetry") == "fcc"]
    symbol = "Cu" if "Cu" in fcc else fcc[0]
    side = max(1, round((natoms / 4) ** (1 / 3)))
    atoms = bulk(symbol, "fcc", cubic=True).repeat(side)
    atoms.rattle(0.02, seed=0)
    return atoms


def bare_seconds(spec, atoms, repeats: int) -> float:
    from petmad.simulate.potentials import build_calculator

    work = atoms.copy()
    work.calc = build_calculator(spec, work)
    rng = np.random.default_rng(0)
    times = []
    for index in range(repeats + 1):
        work.positions += rng.normal(scale=1e-3, size=work.positions.shape)
        start = time.perf_counter()
        work.get_forces()
        if index:  # the first call includes TorchScript warm-up
            times.append(time.perf_counter() - start)
    return float(np.median(times))


class Timers:
    """Accumulates time inside model evaluations and inside the integration loop."""

    def __init__(self) -> None:
        from petmad.simulate import potentials, runner

        self.model = self.loop = self.load = 0.0
        self.calls = 0
        build, load, integrate = potentials.build_calculator, runner._load, runner.integrate

        def timed_build(spec, atoms):
            calculator = build(spec, atoms)
            calculate = calculator.calculate

            def timed(*args, **kwargs):
                start = time.perf_counter()
                calculate(*args, **kwargs)
                self.model += time.perf_counter() - start
                self.calls += 1

            calculator.calculate = timed
            return calculator

        def timed_load(*args, **kwargs):
            start = time.perf_counter()
            try:
                return load(*args, **kwargs)
            finally:
                self.load += time.perf_counter() - start

        def timed_integrate(*args, **kwargs):
            self.model = self.load = 0.0
            self.calls = 0
            start = time.perf_counter()
            try:
                return integrate(*args, **kwargs)
            finally:
                self.loop = time.perf_counter() - start - self.load

        potentials.build_calculator = timed_build
        runner._load = timed_load
        runner.integrate = timed_integrate


def engine_run(timers: Timers, spec, atoms, beads: int, steps: int) -> tuple[float, float]:
    """(seconds in the model per evaluation, loop seconds per evaluation)."""
    from petmad.simulate import DynamicsSettings, run_dynamics

    settings = DynamicsSettings.model_validate({
        "steps": steps, "timestep_fs": 1.0, "path_integral": {"beads": beads},
        "records": {"properties_stride": 1, "trajectory_stride": 10}})
    directory = Path(tempfile.mkdtemp(prefix="petmad-overhead-"))
    try:
        run_dynamics(directory, atoms, [spec], settings, progress=False)
    finally:
        shutil.rmtree(directory)
    return timers.model / timers.calls, timers.loop / timers.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "pet-mad.pt"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--beads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="bare ASE evaluations")
    args = parser.parse_args()
    if not Path(args.model).exists():
        sys.exit(f"error: model '{args.model}' not found; build it with "
                 "`snakemake --cores all models/pet-mad.pt` or pass --model")
    import torch

    from petmad.cli import configure_threads
    from petmad.simulate import PotentialSpec

    configure_threads(args.threads)
    torch.set_num_threads(args.threads)
    spec = PotentialSpec(kind="metatomic", path=args.model)
    print(f"model {args.model}, {args.threads} threads, {torch.get_num_threads()} torch threads")
    timers = Timers()
    print(f"{'atoms':>6} {'mode':>11} {'bare ASE s':>11} {'model s/eval':>13} "
          f"{'loop s/eval':>12} {'overhead':>9}")
    for size in args.sizes:
        atoms = crystal(args.model, size)
        bare = bare_seconds(spec, atoms, args.repeats)
        steps = 10 if len(atoms) > 500 else 40
        for beads in (1, args.beads):
            model, loop = engine_run(timers, spec, atoms, beads, steps)
            mode = "classical" if beads == 1 else f"PIMD P={beads}"
            print(f"{len(atoms):>6} {mode:>11} {bare:>11.4f} {model:>13.4f} {loop:>12.4f} "
                  f"{100 * (loop / model - 1):>8.1f}%", flush=True)

if __name__ == "__main__":
    main()
