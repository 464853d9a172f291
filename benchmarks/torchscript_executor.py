"""TorchScript graph-executor optimisation on or off, for an exported model on CPU: the
cost of the first calls (warm-up) and the steady-state time per MD-like evaluation
(energy, forces, stress) of structures that change a little every call, as in MD.

    python benchmarks/torchscript_executor.py                          # models/pet-mad.pt
    python benchmarks/torchscript_executor.py --model other.pt --structures water:96 al:125

The workflow's commands switch the optimisation off on CPU (``petmad.cli.
configure_torchscript``); this prints why.  Each (mode, structure) runs in its own
process, because the executor state is per process, alternating the two modes so drifts
of a noisy machine hit both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def structure(spec: str):
    """'water:N' (N molecules at 997 kg/m³), 'al:N' or 'diamond:N' (about N cubic cells of
    fcc Al or diamond C)."""
    import numpy as np
    from ase.build import bulk

    from petmad.data.systems import water_box

    kind, count = spec.split(":")
    if kind == "water":
        return water_box(int(count), 997.1, np.random.default_rng(0))
    side = round(int(count) ** (1 / 3))
    if kind == "diamond":
        return bulk("C", "diamond", a=3.567, cubic=True).repeat(side)
    return bulk("Al", "fcc", a=4.05, cubic=True).repeat(side)


def measure(model: str, spec: str, optimise: bool, calls: int) -> dict:
    import time

    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch._C._set_graph_executor_optimize(optimise)
    from metatomic_ase import MetatomicCalculator

    atoms = structure(spec)
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    atoms.calc = MetatomicCalculator(model, device="cpu", uncertainty_threshold=None)
    load = time.perf_counter() - start
    times = []
    for _ in range(calls):
        atoms.positions += rng.normal(0.0, 0.02, atoms.positions.shape)
        start = time.perf_counter()
        atoms.get_forces()
        atoms.get_stress()
        times.append(time.perf_counter() - start)
    half = calls // 2
    return {"natoms": len(atoms), "load_s": load, "first_half_s": sum(times[:half]),
            "steady_s": float(np.median(times[half:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "pet-mad.pt"))
    parser.add_argument("--structures", nargs="+", default=["water:8", "water:96", "al:125", "diamond:125"])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(measure(args.model, args.child[0], args.child[1] == "on", args.calls)))
        return
    if not Path(args.model).is_file():
        sys.exit(f"error: no exported model at {args.model} (give --model)")
    print(f"{'structure':>10} {'atoms':>6} {'executor':>9} {'warm-up s':>10} {'steady ms':>10}")
    for spec in args.structures:
        rows = {}
        for mode in ("on", "off"):
            output = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--calls", str(args.calls),
                 "--child", spec, mode], capture_output=True, text=True, check=True).stdout
            rows[mode] = json.loads(output.strip().splitlines()[-1])
            row = rows[mode]
            # warm-up: the first half of the calls beyond what steady calls would cost
            extra = row["first_half_s"] - args.calls // 2 * row["steady_s"]
            print(f"{spec:>10} {row['natoms']:>6} {mode:>9} {extra:>10.2f} "
                  f"{1e3 * row['steady_s']:>10.1f}")
        ratio = rows["off"]["steady_s"] / rows["on"]["steady_s"]
        print(f"{'':>10} steady time off/on = {ratio:.2f}")


if __name__ == "__main__":
    main()
