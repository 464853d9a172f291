"""What one finished run says about its models and case studies, in one page of text.

    python benchmarks/run_report.py /tmp/petmad-default

Reads only the run's own files: ``results/accuracy.csv`` (MAE on each system's held-out
reference-MD frames, with the energy's constant offset split off), the training jobs'
logs (``logs/train_*``: whether a model's validation energy MAE ended above its first
epoch while its training loss fell, the "energy not learned" symptom), every
``runs/**/status.json`` (the runs a guard stopped or a study refused, with why),
``results/lps_conductivity.csv`` (which points kept their crystal),
``results/water_rdf.csv`` (the first O-O peaks) and ``results/consistency.csv`` (how many
numbers are converged, carry a model uncertainty, and agree with bespoke and with the
reference engine).  These are the numbers the README quotes for a whole run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from analysis.consistency import COVERAGE_Z  # noqa: E402
from analysis.water_pimd import first_peaks  # noqa: E402
from training_recipes import EPOCH_LINE, VALIDATION_ENERGY  # noqa: E402


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


TRAINING_LOSS = re.compile(r"training loss:\s*([0-9.eE+-]+)")


def training_record(log: Path) -> dict | None:
    """First and last epoch of the last training in a metatrain log: validation energy
    MAE (meV/atom) and training loss, and whether the energy grew while the loss fell."""
    epochs = []
    for line in log.read_text(errors="replace").splitlines():
        epoch, energy, loss = (EPOCH_LINE.search(line), VALIDATION_ENERGY.search(line),
                               TRAINING_LOSS.search(line))
        if epoch and energy and loss:
            if int(epoch.group(1)) == 0:
                epochs = []  # a log holding a retraining: keep the last one
            scale = 1.0 if energy.group(2) == "meV" else 1e3
            epochs.append((float(energy.group(1)) * scale, float(loss.group(1))))
    if len(epochs) < 2:
        return None
    (energy_first, loss_first), (energy_last, loss_last) = epochs[0], epochs[-1]
    return {"epochs": len(epochs), "val_energy_first": energy_first,
            "val_energy_last": energy_last, "loss_first": loss_first, "loss_last": loss_last,
            "energy_grew_while_loss_fell": energy_last > energy_first and loss_last < loss_first}


def training_records(run: Path) -> pd.DataFrame:
    rows = []
    for log in sorted((run / "logs").glob("train_*/*.log")) + sorted(
            (run / "logs").glob("train_*.log")):
        record = training_record(log)
        if record is not None:
            rows.append({"training": f"{log.parent.name}/{log.stem}"
                         if log.parent.name != "logs" else log.stem, **record})
    return pd.DataFrame(rows)


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
                             "reason": (str(entry.get("reason", "")).splitlines()
                                        or [""])[0][:110]})
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
        framework_displacement_A=("framework_displacement_A",
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
        trainings = training_records(run)
        if len(trainings):
            grew = trainings[trainings["energy_grew_while_loss_fell"]]
            blocks.append(f"trainings whose validation energy MAE grew while the loss fell: "
                          f"{len(grew)} of {len(trainings)}\n" + trainings.to_string(
                              index=False, float_format="{:.3g}".format))
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
