"""Writing tables and figures: atomically, so a kill never leaves half a result, and with
their provenance (:mod:`petmad.provenance`): a table's in ``provenance/<name>.csv.json``
beside it, a figure's in its PDF metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from petmad.io import atomic_path
from petmad.provenance import pdf_metadata, recorded_result

# The paper's colours: PET-MAD black, bespoke blue, LoRA fine-tune orange.
MODEL_COLOURS = {"pet-mad": "black", "lora": "tab:orange", "bespoke": "tab:blue",
                 "reference": "grey"}


def pyplot():
    """matplotlib's pyplot on the non-interactive backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_csv(path: str | Path, table: pd.DataFrame) -> None:
    with recorded_result(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def save_figure(figure, path: str | Path) -> None:
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, metadata=pdf_metadata(path) if Path(path).suffix == ".pdf" else None)
    pyplot().close(figure)


def study_parser(doc: str) -> argparse.ArgumentParser:
    """The command line every case-study analysis shares: the runs' status files, the
    study's config section, and where the table and the figure go."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--status", nargs="+", type=Path, required=True,
                        help="status.json of every run")
    parser.add_argument("--settings", type=json.loads, required=True,
                        help="the study's config section (JSON)")
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    return parser


REFERENCE = "reference"  # the model name the reference engine's own values carry


def add_reference_md_option(parser: argparse.ArgumentParser) -> None:
    """``--reference-md``: the reference engine's held-out MD frames (extxyz), from which a
    study takes the reference's own classical values; given empty by the rule when the
    reference runs the study itself."""
    parser.add_argument("--reference-md", type=Path, nargs="?", const=None, default=None,
                        help="the reference engine's held-out MD frames (extxyz)")


def tables_parser(doc: str, inputs: str) -> argparse.ArgumentParser:
    """The command line of a benchmark summary: per-model CSV files (``--<inputs>``) in,
    one table and one figure out."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument(f"--{inputs}", nargs="+", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    return parser


def read_tables(paths: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


def model_colours(models: list[str]) -> dict[str, str]:
    """The paper's colours for pet-mad, bespoke and LoRA models (``lora-<system>`` too), a
    distinct one for every other model (external potentials)."""
    others = iter(["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:cyan", "tab:pink"])
    colours = {}
    for model in models:
        family = "lora" if model.startswith("lora") else model
        colours[model] = MODEL_COLOURS.get(family) or next(others, "tab:olive")
    return colours


VERDICT_NOTE = ("thin bars: statistical error (1σ); wide pale bars: model uncertainty "
                "(LLPR ensemble)\nhollow: not converged (reason in the CSV)")


def draw_points(axis, x, y, error=None, model_error=None, converged=None, colour=None,
                marker="o", line=None, label=None, size=5, horizontal=False):
    """Points with their statistical error (thin capped bars) and model uncertainty (wide
    pale bars), filled where ``converged`` is "yes" (or True) and hollow where not.
    ``line``: a matplotlib line style joining the points (None: no line); ``horizontal``:
    the errors are on x (the bars horizontal)."""
    import numpy as np

    x, y = np.asarray(x, float), np.asarray(y, float)
    if converged is None:
        filled = np.ones(len(x), dtype=bool)
    else:
        filled = np.array([c is True or str(c).lower() in ("yes", "true") for c in converged],
                          dtype=bool)
    if line:
        axis.plot(x, y, line, color=colour, lw=1)
    if model_error is not None and np.isfinite(np.asarray(model_error, float)).any():
        bar = np.nan_to_num(np.asarray(model_error, float))
        axis.errorbar(x, y, xerr=bar if horizontal else None, yerr=None if horizontal else bar,
                      fmt="none", ecolor=colour, elinewidth=5, alpha=0.25)
    if error is not None:
        bar = np.nan_to_num(np.asarray(error, float))
        axis.errorbar(x, y, xerr=bar if horizontal else None, yerr=None if horizontal else bar,
                      fmt="none", ecolor=colour, capsize=2, elinewidth=1)
    first = True
    for mask, face in ((filled, colour), (~filled, "white")):
        if mask.any():
            axis.plot(x[mask], y[mask], marker, ls="none", color=colour, mfc=face, ms=size,
                      label=label if first else None)
            first = False
