"""What one finished run says about its models and case studies, in one page of text.

    python benchmarks/run_report.py /tmp/petmad-default

Reads only the run's own files: ``results/accuracy.csv`` (MAE on each system's held-out
reference-MD frames, with the energy's constant offset split off), every
``runs/**/status.json`` (the runs a guard stopped or a study refused, with why),
``results/lps_conductivity.csv`` (which points kept their crystal),
``results/water_rdf.csv`` (the first O-O peaks) and ``results/consistency.csv`` (how many
numbers are converged, carry a model uncertainty, and agree with bespoke and with the
reference engine).  These are the numbers the README quotes for a whole run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.water_pimd import first_peaks  # noqa: E402

COVERAGE_Z = 2.0  # as analysis.consistency: |z| ≤ 2 counts as agreeing


def md_test_accuracy(run: Path) -> pd.DataFrame:
    """Energy MAE, its offset, the MAE about the offset and force MAE of every model on
    every system's held-out reference-MD frames."""
    table = pd.read_csv(run / "results" / "accuracy.csv")
    md = table[table["dataset"].str.endswith("-md") & (table["subset"] == "all")]
    md = md.assign(system=md["dataset"].str.removesuffix("-md"))
    columns = ["system", "model", "energy_mae [meV/atom]", "energy_offset [meV/atom]",
               "energy_mae_offset_free [meV/atom]", "forces_mae [meV/Å]"]
    # a run older than the offset columns still reports its MAEs
    return md[[c for c in columns if c in md]].sort_values(["system", "model"]).reset_index(
        drop=True)


def stopped_runs(run: Path) -> pd.DataFrame:
    """One row per run (or replica) a guard stopped or a study refused: study, model,
    where, and the reason's first line."""
    rows = []
    for path in sorted((run / "runs").glob("**/status.json")):
        status = json.loads(path.read_text())
        parts = path.relative_to(run / "runs").parts
        where = "/".join(parts[2:-1])
        entries = status.get("replicas", [status])
        for entry in entries:
            if entry.get("status", "ok") != "ok":
                label = where + (f" r{entry['replica']}" if "replica" in entry else "")
                rows.append({"study": parts[0], "model": parts[1], "where": label,
                             "reason": str(entry.get("reason", "")).splitlines()[0][:110]})
    return pd.DataFrame(rows, columns=["study", "model", "where", "reason"])


def lps_crystal(run: Path) -> pd.DataFrame | None:
    path = run / "results" / "lps_conductivity.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    points = table.drop_duplicates(["phase", "temperature_K", "model"])
    if "crystal_held" not in points:
        return None
    return points.groupby("model").agg(
        points=("crystal_held", "size"),
        crystal_held=("crystal_held", lambda c: int((c == "yes").sum())),
        P_displacement_A=("framework_displacement_A",
                          lambda d: f"{d.min():.2f}-{d.max():.2f}"),
        volume_change=("volume_change", lambda v: f"{v.min():+.0%} to {v.max():+.0%}"))


def water_peaks(run: Path) -> pd.DataFrame | None:
    path = run / "results" / "water_rdf.csv"
    if not path.exists():
        return None
    peaks = first_peaks(pd.read_csv(path))
    return peaks[peaks["beads"] == 1].drop(columns="beads").reset_index(drop=True)


def scorecard(run: Path) -> dict[str, int] | None:
    path = run / "results" / "consistency.csv"
    if not path.exists():
        return None
    card = pd.read_csv(path)

    def within(target: str) -> tuple[int, int]:
        z = card.get(f"z_statistical_vs_{target}", pd.Series(dtype=float)).astype(float)
        return int(z.notna().sum()), int((z.abs() <= COVERAGE_Z).sum())

    bespoke, reference = within("bespoke"), within("reference")
    return {"rows": len(card), "with a value": int(card["value"].notna().sum()),
            "converged": int(card["converged"].astype(str).str.lower().isin(
                ["yes", "true"]).sum()),
            "with model uncertainty": int(card["model_uncertainty"].notna().sum()),
            "z against bespoke": bespoke[0], f"within {COVERAGE_Z:g}σ of bespoke": bespoke[1],
            "z against the reference": reference[0],
            f"within {COVERAGE_Z:g}σ of the reference": reference[1]}


def report(run: Path) -> str:
    blocks = []
    with pd.option_context("display.width", 160, "display.max_colwidth", 110,
                           "display.float_format", "{:.1f}".format):
        accuracy = md_test_accuracy(run)
        blocks.append("MAE on the held-out reference-MD frames (energy meV/atom, forces "
                      "meV/Å):\n" + accuracy.to_string(index=False))
        stops = stopped_runs(run)
        counts = stops.groupby(["study", "model"]).size() if len(stops) else None
        blocks.append(f"runs stopped or refused: {len(stops)}"
                      + ("" if counts is None else "\n" + counts.to_string()
                         + "\n" + stops.to_string(index=False)))
        crystal = lps_crystal(run)
        if crystal is not None:
            blocks.append("Li3PS4 points that kept their crystal:\n" + crystal.to_string())
        peaks = water_peaks(run)
        if peaks is not None:
            blocks.append("first O-O peak, classical (Å):\n" + peaks.to_string(
                index=False, float_format="{:.3f}".format))
        card = scorecard(run)
        if card is not None:
            blocks.append("scorecard (results/consistency.csv): " + ", ".join(
                f"{key} {value}" for key, value in card.items()))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's directory")
    args = parser.parse_args(argv)
    if not (args.run / "results" / "accuracy.csv").exists():
        raise SystemExit(f"run_report: {args.run} has no results/accuracy.csv: "
                         "not a finished run's directory")
    print(report(args.run))


if __name__ == "__main__":
    main()
