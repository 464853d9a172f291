"""Speed figure (paper Fig. 3) from the side-by-side timings.

    python -m analysis.speed --timings runs/speed/timings.csv --ensemble runs/speed/ensemble.json \\
        --table T.csv --figure F.pdf

One panel per material: median time per MD step against atoms (log-log), one line per
model, interquartile bars, red crosses where a model ran out of memory.  The table is the
timings with the LLPR ensemble cost appended as a row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import model_colours, pyplot, save_figure, write_csv
from petmad.studies.speed import DIRECT_SUFFIX


def speed_figure(timings: pd.DataFrame, ensemble: dict, path: Path) -> None:
    from matplotlib.ticker import NullFormatter

    plt = pyplot()
    materials = list(dict.fromkeys(timings["material"]))
    models = list(dict.fromkeys(timings["model"]))
    # a model's direct-force variant ("<model>-nc") in its colour, dashed, as in the paper
    colours = model_colours([m for m in models if not m.endswith(DIRECT_SUFFIX)])
    colours.update({m: colours.get(m.removesuffix(DIRECT_SUFFIX), "tab:olive")
                    for m in models if m.endswith(DIRECT_SUFFIX)})
    figure, axes = plt.subplots(1, len(materials), figsize=(3.6 * len(materials), 3.4),
                                squeeze=False, sharey=True)
    for axis, material in zip(axes[0], materials):
        rows = timings[timings["material"] == material]
        for model in models:
            mine = rows[rows["model"] == model]
            ok = mine[mine["status"] == "ok"]
            colour = colours[model]
            if len(ok):
                axis.errorbar(ok["natoms"], ok["median_s"],
                              [ok["median_s"] - ok["q25_s"], ok["q75_s"] - ok["median_s"]],
                              marker="o", ms=4, capsize=2, color=colour, label=model,
                              ls="--" if model.endswith(DIRECT_SUFFIX) else "-")
            oom = mine[mine["status"] == "oom"]
            if len(oom):
                top = timings["median_s"].max() if timings["median_s"].notna().any() else 1.0
                axis.scatter(oom["natoms"], np.full(len(oom), top), marker="x", s=50,
                             color="red", zorder=5)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title(material, fontsize=9)
        axis.set_xlabel("atoms", fontsize=8)
    axes[0][0].set_ylabel("time per MD step (s)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    hardware = timings["hardware"].iloc[0] if "hardware" in timings else "unknown hardware"
    llpr = (f"; LLPR ensemble energy / plain energy: {ensemble['ratio']:.2f} "
            f"({ensemble['natoms']} atoms)" if ensemble.get("status") == "ok" else "")
    figure.suptitle(f"{hardware}{llpr}", fontsize=8)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timings", type=Path, required=True)
    parser.add_argument("--ensemble", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args(argv)
    timings = pd.read_csv(args.timings)
    ensemble = json.loads(args.ensemble.read_text())
    row = {"material": "llpr_ensemble_cost", "model": ensemble.get("model"),
           "natoms": ensemble.get("natoms"), "status": ensemble.get("status"),
           "median_s": ensemble.get("energy_and_ensemble_s"),
           "ensemble_over_plain_energy": ensemble.get("ratio")}
    write_csv(args.table, pd.concat([timings, pd.DataFrame([row])], ignore_index=True))
    speed_figure(timings, ensemble, args.figure)
    print(timings.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
