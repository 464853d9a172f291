"""How much reference data a force-error target would take: a learning curve measured on
the held-out reference-MD frames, extrapolated with a power law and priced with the run's
own job times.

    python benchmarks/data_budget.py /tmp/petmad-default --system gaas --target 150

Reads a finished run (its ``models/``, ``data/`` and ``logs/``):

* the learning-curve models of one method (``models/lc/<system>/<method>-<fraction>.pt``;
  for ``bespoke`` the main model is the whole-set point) are evaluated here on
  ``data/<system>/md_test.extxyz``, the reference engine's own MD at the study's
  conditions (the test of issue 21's targets), beside their test-split MAE;
* force MAE ≈ a · n^(−b) is fitted over the training-set sizes n
  (:func:`analysis.learning_curves.power_law`) and solved for the target;
* the price of the missing structures: the reference MD that made the run's training
  frames (``logs/sample_md/<system>_train*``, seconds per frame) for every structure
  beyond the run's, plus the largest curve model's training job time scaled in proportion
  to the set size (same epochs), on this run's machine.

An extrapolation from sizes a factor 4 apart, assuming new frames teach as much as the
run's (more trajectories at the study's conditions, not more frames of the same ones):
read it as the order of magnitude of the budget, not a plan.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def curve_models(workdir: Path, system: str, method: str) -> dict[float, Path]:
    """Training fraction → exported model, the whole set included where the run has it."""
    models = {float(path.stem.rsplit("-", 1)[1]): path
              for path in (workdir / "models" / "lc" / system).glob(f"{method}-*.pt")}
    whole = workdir / "models" / system / f"{method}.pt"
    if 1.0 not in models and whole.exists():
        models[1.0] = whole
    return dict(sorted(models.items()))


def benchmark_seconds(paths: list[Path]) -> float:
    return float(sum(pd.read_csv(path, sep="\t")["s"].iloc[-1] for path in paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir", type=Path, help="a finished run directory")
    parser.add_argument("--system", default="gaas")
    parser.add_argument("--method", default="bespoke",
                        help="learning-curve method (bespoke, lora, full)")
    parser.add_argument("--target", type=float, default=150.0,
                        help="force MAE target on the MD test frames (meV/Å)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from analysis.accuracy import errors
    from analysis.learning_curves import power_law, size_for_error
    from analysis.metrics import mae
    from petmad.io import read_extxyz
    from petmad.models.evaluate import load_calculator, predict
    from petmad.models.training import subsample_indices

    torch.set_num_threads(args.threads)
    data = args.workdir / "data" / args.system
    models = curve_models(args.workdir, args.system, args.method)
    if len(models) < 2:
        raise SystemExit(f"data_budget: fewer than two {args.method} learning-curve models "
                         f"of {args.system} under {args.workdir / 'models'} (set "
                         "training.learning_curves.systems and fractions, and run "
                         "snakemake results/learning_curves.csv)")
    md_test = data / "md_test.extxyz"
    if not md_test.exists():
        raise SystemExit(f"data_budget: {md_test} is missing: the run sampled no reference-"
                         f"MD test frames for {args.system} (data.{args.system}.md_test)")
    frames = read_extxyz(md_test)
    subsets = [a.info.get("subset", "") for a in read_extxyz(data / "train.extxyz")]
    rows = []
    for fraction, path in models.items():
        pred = predict(load_calculator(path), frames)
        errs = errors(pred)
        split = args.workdir / "models" / "eval" / (
            f"lc/{args.system}/{path.stem}" if path.parent.parent.name == "lc"
            else f"{args.system}/{args.method}") / f"{args.system}.npz"
        split_forces = mae(errors(dict(np.load(split)))["forces"]) if split.exists() \
            else np.nan
        rows.append({"fraction": fraction,
                     "structures": len(subsample_indices(subsets, fraction, seed=0)),
                     "md_test_forces": mae(errs["forces"]),
                     "md_test_energy": mae(errs["energy"]),
                     "test_split_forces": split_forces})
    table = pd.DataFrame(rows)
    print(f"{args.system}, {args.method}: MAE on {len(frames)} held-out reference-MD frames "
          "(forces meV/Å, energy meV/atom) against training structures")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))

    a, b = power_law(table["structures"], table["md_test_forces"])
    needed = size_for_error(args.target, a, b)
    have = int(table["structures"].max())
    print(f"fit: force MAE ≈ {a:.3g} · n^{-b:.3f}; {args.target:g} meV/Å at n ≈ "
          f"{needed:.3g} structures ({needed / have:.3g} × the run's {have})")
    if not np.isfinite(needed):
        print("the curve does not fall with more data: no amount of it reaches the target")
        return
    logs = args.workdir / "logs"
    # one job per system, or shards and their (cheap) gathering job
    md_jobs = sorted((logs / "sample_md").glob(f"{args.system}_train.benchmark.tsv")) + \
        sorted((logs / "sample_md" / f"{args.system}_train").glob("*.benchmark.tsv"))
    md_frames = data / "md_train.extxyz"
    # the training job of the largest model on the curve, priced in proportion to size
    largest = models[max(models)]
    job = (f"train_learning_curve_model/{args.system}_{largest.stem}"
           if largest.parent.parent.name == "lc" else f"train_{args.method}_model/{args.system}")
    training = logs / f"{job}.benchmark.tsv"
    if not md_jobs or not md_frames.exists() or not training.exists():
        print(f"no price: the run lacks {args.system}'s sample_md logs or {training}")
        return
    per_frame = benchmark_seconds(md_jobs) / len(read_extxyz(md_frames))
    train_s = benchmark_seconds([training]) * needed / have
    extra = max(needed - have, 0.0)
    print(f"price on this run's machine: {extra:.3g} more reference-MD frames at "
          f"{per_frame:.3g} s each ({extra * per_frame / 3600:.3g} h of job time) and "
          f"{train_s / 3600:.3g} h of training (the run's {have} structures took "
          f"{benchmark_seconds([training]) / 60:.3g} min)")


if __name__ == "__main__":
    main()
