"""Wall time of the data stage (structures → labels → splits → summary) per preset.

    python benchmarks/data_stage.py smoke default      # fresh directories, 2 cores

Runs Snakemake on `results/datasets.csv` in a new directory for each preset (so nothing is
reused), then prints the total wall time and the per-rule sums from the jobs' benchmark
files.  Numbers, not assertions: the budgets live in the README.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {"smoke": ["config.yaml", "presets/smoke.yaml"], "default": ["config.yaml"],
           "paper": ["config.yaml", "presets/paper.yaml"]}


def run(preset: str, cores: int, keep: Path | None) -> None:
    workdir = Path(keep or tempfile.mkdtemp(prefix=f"petmad-data-{preset}-"))
    command = [sys.executable, "-m", "snakemake", "results/datasets.csv", "--cores", str(cores),
               "--directory", str(workdir), "--snakefile", str(ROOT / "Snakefile"), "--quiet",
               "--configfile", *[str(ROOT / f) for f in PRESETS[preset]]]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    per_rule: dict[str, float] = defaultdict(float)
    for tsv in (workdir / "logs").rglob("*.benchmark.tsv"):
        rule = tsv.parent.name if tsv.parent.name != "logs" else tsv.name.split(".")[0]
        per_rule[rule] += float(pd.read_csv(tsv, sep="\t")["s"].iloc[-1])
    table = pd.read_csv(workdir / "results" / "datasets.csv")
    structures = int(table[["n_train", "n_val", "n_test"]].to_numpy().sum())
    print(f"preset {preset}: data stage {wall:.0f} s wall on {cores} cores, "
          f"{structures} labeled structures ({workdir})")
    for rule, seconds in sorted(per_rule.items(), key=lambda item: -item[1]):
        print(f"    {rule:<18} {seconds:8.1f} s (sum over jobs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("presets", nargs="+", choices=sorted(PRESETS))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="run in this directory instead of a temp one")
    args = parser.parse_args()
    for preset in args.presets:
        run(preset, args.cores, args.keep)


if __name__ == "__main__":
    main()
