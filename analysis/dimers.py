"""Homonuclear dimer curves (paper Fig. S4) from the per-model curve files.

    python -m analysis.dimers --curves runs/dimers/*.csv --table T.csv --figure F.pdf

One panel per element: E(d) − 2 E_atom of every model and of the reference engine against
the distance (log axis, the grid is geometric).  The energy axis is cut a few eV above the
reference's well so the repulsive wall does not flatten the rest.
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


def energy_window(binding: np.ndarray) -> tuple[float, float]:
    """Bottom a bit below the deepest well, top a few eV above zero (or the well's depth)."""
    finite = binding[np.isfinite(binding)]
    if not len(finite):
        return -1.0, 1.0
    depth = max(1.0, -finite.min())
    return -1.2 * depth, 1.5 * depth


def dimers_figure(table: pd.DataFrame, path: Path) -> None:
    from matplotlib.ticker import NullFormatter

    plt = pyplot()
    elements = list(dict.fromkeys(table["element"]))
    columns = min(4, len(elements))
    rows = int(np.ceil(len(elements) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 2.6 * rows),
                                squeeze=False)
    models = list(dict.fromkeys(table["model"]))
    colours = model_colours(models)
    for axis, element in zip(axes.flat, elements):
        curves = table[table["element"] == element]
        for model in models:
            curve = curves[curves["model"] == model]
            axis.plot(curve["distance_A"], curve["binding_energy_eV"], marker="o", ms=3,
                      color=colours[model], ls="--" if model == "reference" else "-",
                      label=model)
        axis.axhline(0.0, color="0.8", lw=0.8)
        axis.set_xscale("log")
        distances = curves["distance_A"].to_numpy(dtype=float)
        ticks = np.round(np.geomspace(distances.min(), distances.max(), 4), 2)
        axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_ylim(*energy_window(curves["binding_energy_eV"].to_numpy(dtype=float)))
        axis.set_title(f"{element}$_2$", fontsize=9)
        axis.set_xlabel("distance (Å)", fontsize=8)
        axis.set_ylabel("E − 2 E$_{atom}$ (eV)", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(elements):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    args = tables_parser(__doc__, "curves").parse_args(argv)
    table = read_tables(args.curves)
    write_csv(args.table, table)
    dimers_figure(table, args.figure)
    summary = table.groupby(["model", "element"])["binding_energy_eV"].min()
    print("deepest point of each curve (eV):")
    print(summary.to_string())


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
