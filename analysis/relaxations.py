"""Relaxation times and failures per universal model (paper Fig. S5) from the run tables.

    python -m analysis.relaxations --runs runs/relaxations/*.csv --table T.csv --figure F.pdf

Per (model, crystal): runs, runs that did not converge, median wall time and its
0.135th-99.865th percentile range (3σ of a Gaussian), median steps of the converged runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import (
    model_colours,
    pyplot,
    read_tables,
    save_figure,
    tables_parser,
    write_csv,
)

EXTRA_COLOURS = ["tab:green", "tab:red", "tab:purple", "tab:brown"]
THREE_SIGMA = (0.135, 99.865)  # percentiles of a Gaussian's ±3σ


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (model, crystal), group in runs.groupby(["model", "crystal"], sort=False):
        converged = group["converged"].astype(bool)
        low, high = np.percentile(group["wall_s"], THREE_SIGMA)
        rows.append({"model": model, "crystal": crystal, "runs": len(group),
                     "not_converged": int((~converged).sum()),
                     "median_wall_s": float(group["wall_s"].median()),
                     "wall_s_p0.135": float(low), "wall_s_p99.865": float(high),
                     "median_steps_converged": float(group.loc[converged, "steps"].median())
                     if converged.any() else np.nan})
    return pd.DataFrame(rows)


def relaxations_figure(runs: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    crystals = list(dict.fromkeys(runs["crystal"]))
    models = list(dict.fromkeys(runs["model"]))
    colours = model_colours(models)
    figure, axes = plt.subplots(1, len(crystals), figsize=(3.6 * len(crystals), 3.4),
                                squeeze=False)
    jitter = np.random.default_rng(0)
    for axis, crystal in zip(axes[0], crystals):
        failures = axis.twinx()
        for x, model in enumerate(models):
            times = runs[(runs["crystal"] == crystal) & (runs["model"] == model)]["wall_s"]
            axis.scatter(x + jitter.uniform(-0.15, 0.15, len(times)), times, s=8,
                         color=colours[model], alpha=0.7)
            row = summary[(summary["crystal"] == crystal) & (summary["model"] == model)]
            if len(row):
                failures.scatter(x, row["not_converged"].iloc[0], marker="o", s=40,
                                 facecolors="none", edgecolors="tab:orange")
        band = summary[(summary["crystal"] == crystal) & (summary["model"] == "pet-mad")]
        if len(band):
            for value in (band["wall_s_p0.135"].iloc[0], band["wall_s_p99.865"].iloc[0]):
                axis.axhline(value, color="black", ls="--", lw=0.8)
        axis.set_yscale("log")
        axis.set_xticks(range(len(models)), models, rotation=30, fontsize=7)
        axis.set_title(crystal.replace("_", " "), fontsize=9)
        axis.set_ylabel("time to relax (s)", fontsize=8)
        failures.set_ylabel("runs not converged", fontsize=8, color="tab:orange")
        failures.set_ylim(-0.5, max(1, int(runs["run"].max()) + 1) + 0.5)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    args = tables_parser(__doc__, "runs").parse_args(argv)
    runs = read_tables(args.runs)
    summary = summarise(runs)
    write_csv(args.table, summary)
    relaxations_figure(runs, summary, args.figure)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
