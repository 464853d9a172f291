"""Cost and accuracy of the models stage for a preset (default: the laptop preset).

    python benchmarks/models_stage.py --workdir /tmp/petmad-default       # runs, then reports
    python benchmarks/models_stage.py --workdir /tmp/petmad-default --no-run

Runs Snakemake on the models-stage results in ``--workdir`` (reusing whatever the data
stage left there), then prints, per trained model, wall seconds per epoch and peak memory
(from the jobs' benchmark files), and pet-mad's accuracy on the MAD test set.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PRESETS = {"smoke": ["config.yaml", "presets/smoke.yaml"], "default": ["config.yaml"]}
TARGETS = ["results/accuracy.csv", "results/learning_curves.pdf",
           "results/rotational_discrepancy.csv"]


def epochs_of(log_name: str, config) -> int:
    training = config.training
    if log_name.startswith("train_pet_mad"):
        return training.pretrain.num_epochs
    if "bespoke" in log_name:
        return training.bespoke.num_epochs
    return training.finetune.num_epochs


def report(workdir: Path, preset: str) -> None:
    from petmad.config import load_config_files

    config = load_config_files([str(ROOT / f) for f in PRESETS[preset]])
    rows = []
    for tsv in sorted((workdir / "logs").rglob("*.benchmark.tsv")):
        relative = tsv.relative_to(workdir / "logs").as_posix()
        if not relative.startswith("train_"):
            continue
        record = pd.read_csv(tsv, sep="\t").iloc[-1]
        name = relative.removesuffix(".benchmark.tsv")
        epochs = epochs_of(name, config)
        rows.append({"model": name, "epochs": epochs, "job_s": record["s"],
                     "s_per_epoch (upper bound)": record["s"] / epochs,
                     "peak_rss_MB": record["max_rss"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.1f"))
    print(f"total training wall time: {sum(r['job_s'] for r in rows) / 60:.1f} min")
    accuracy = pd.read_csv(workdir / "results" / "accuracy.csv")
    pet_mad = accuracy[(accuracy["model"] == "pet-mad") & (accuracy["dataset"] == "mad")]
    print("pet-mad on the MAD test set:")
    print(pet_mad[["subset", "n_structures", "energy_mae [meV/atom]", "forces_mae [meV/Å]",
                   "stress_mae [meV/Å³]"]].to_string(index=False, float_format="%.1f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="only report an earlier run")
    args = parser.parse_args()
    if not args.no_run:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "snakemake", *TARGETS, "--cores", str(args.cores),
             "--directory", str(args.workdir), "--snakefile", str(ROOT / "Snakefile"), "--quiet",
             "--configfile", *[str(ROOT / f) for f in PRESETS[args.preset]]],
            check=True, cwd=ROOT)
        print(f"models stage ({args.preset}): {(time.perf_counter() - start) / 60:.1f} min wall "
              f"on {args.cores} cores (data stage included if it had not run)")
    report(args.workdir, args.preset)


if __name__ == "__main__":
    main()
