"""Accuracy of every model on every test set (paper Table I, Fig. 2 left and centre),
LoRA retention on the universal set (Table II) and uncertainty calibration (Fig. S6).

Reads the prediction files ``<eval-dir>/<model>/<dataset>.npz`` written by
``python -m petmad evaluate``; ``<model>`` is ``pet-mad``, ``<system>/bespoke``,
``<system>/lora`` or ``external/<name>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.metrics import (
    calibration_curve,
    mae,
    offset,
    offset_free_mae,
    rmse,
    z_score_rms,
)
from analysis.output import pyplot, save_figure, write_csv

COLOURS = {"pet-mad": "black", "bespoke": "tab:blue", "lora": "tab:orange"}
ERROR_COLUMNS = {
    "energy_mae [meV/atom]": ("energy", mae),
    "energy_rmse [meV/atom]": ("energy", rmse),
    "energy_offset [meV/atom]": ("energy", offset),
    "energy_mae_offset_free [meV/atom]": ("energy", offset_free_mae),
    "forces_mae [meV/Å]": ("forces", mae),
    "forces_rmse [meV/Å]": ("forces", rmse),
    "stress_mae [meV/Å³]": ("stress", mae),
    "stress_rmse [meV/Å³]": ("stress", rmse),
}


def load_predictions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def errors(pred: dict[str, np.ndarray], mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-atom energy, force-component and stress-component errors in meV units."""
    n = len(pred["energy"])
    mask = np.ones(n, dtype=bool) if mask is None else mask
    atom_mask = np.repeat(mask, pred["n_atoms"])
    return {
        "energy": 1000 * ((pred["energy"] - pred["energy_ref"]) / pred["n_atoms"])[mask],
        "forces": 1000 * (pred["forces"] - pred["forces_ref"])[atom_mask].ravel(),
        "stress": 1000 * (pred["stress"] - pred["stress_ref"])[mask].ravel(),
    }


def model_label(relative: Path) -> tuple[str, str]:
    """(model name, family) from ``pet-mad``, ``gaas/lora``, ``external/7net-0``."""
    parts = relative.parts
    if parts[0] == "external":
        return parts[1], "external"
    if parts[0] == "pet-mad":
        return "pet-mad", "pet-mad"
    return parts[1], parts[1]


def accuracy_table(eval_dir: Path, paths: list[Path]) -> pd.DataFrame:
    rows = []
    for path in paths:
        relative = path.relative_to(eval_dir).parent
        name, family = model_label(relative)
        pred = load_predictions(path)
        subsets = ["all", *sorted(set(pred["subset"].tolist()))]
        for subset in subsets:
            mask = np.ones(len(pred["energy"]), bool) if subset == "all" else pred["subset"] == subset
            errs = errors(pred, mask)
            row = {"model": name, "family": family,
                   "system": relative.parts[0] if family in ("bespoke", "lora") else "",
                   "dataset": path.stem, "subset": subset, "n_structures": int(mask.sum()),
                   "n_skipped_unknown_species": int(pred["skipped_unknown_species"])}
            row.update({column: metric(errs[key]) for column, (key, metric) in ERROR_COLUMNS.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def retention_table(table: pd.DataFrame) -> pd.DataFrame:
    """Each LoRA model on the universal test set next to pet-mad (Table II)."""
    overall = table[(table["dataset"] == "mad") & (table["subset"] == "all")]
    base = overall[overall["family"] == "pet-mad"]
    if base.empty:
        return pd.DataFrame()
    lora = overall[overall["family"] == "lora"]
    rows = []
    for _, row in lora.iterrows():
        entry = {"system": row["system"]}
        for quantity in ("energy_mae [meV/atom]", "forces_mae [meV/Å]"):
            entry[f"lora {quantity}"] = row[quantity]
            entry[f"pet-mad {quantity}"] = float(base[quantity].iloc[0])
        rows.append(entry)
    return pd.DataFrame(rows)


def accuracy_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    mad = table[(table["dataset"] == "mad") & (table["subset"] != "all")
                & table["family"].isin(["pet-mad", "external"])]
    systems = table[(table["subset"] == "all") & (table["dataset"] != "mad")]
    for row, quantity in enumerate(("energy_mae [meV/atom]", "forces_mae [meV/Å]")):
        _grouped_bars(axes[row, 0], mad, "subset", "model", quantity)
        axes[row, 0].set_title(f"MAD test set per subset: {quantity.split(' ')[0]}")
        _grouped_bars(axes[row, 1], systems, "dataset", "model", quantity,
                      families=systems.set_index("model")["family"].to_dict())
        axes[row, 1].set_title(f"case-study test sets: {quantity.split(' ')[0]}")
    for ax in axes.ravel():
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    save_figure(fig, path)


def _grouped_bars(ax, frame: pd.DataFrame, group: str, hue: str, quantity: str,
                  families: dict[str, str] | None = None) -> None:
    groups = list(dict.fromkeys(frame[group]))
    hues = list(dict.fromkeys(frame[hue]))
    width = 0.8 / max(1, len(hues))
    external_greys = iter(["0.55", "0.75", "0.35", "0.85"])
    for k, label in enumerate(hues):
        values = [frame[(frame[group] == g) & (frame[hue] == label)][quantity].mean() for g in groups]
        family = (families or {}).get(label, label)
        colour = COLOURS.get(family) or next(external_greys, "0.5")
        ax.bar(np.arange(len(groups)) + k * width, values, width, label=label, color=colour)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, rotation=30, fontsize=8)
    ax.set_ylabel(quantity.replace("_", " "))


def calibration_figure(eval_dir: Path, paths: list[Path], path: Path) -> pd.DataFrame:
    """Predicted vs observed energy error, LLPR and ensemble, for every model on its own
    test set."""
    plt = pyplot()
    sources = []
    for file in paths:
        relative = file.relative_to(eval_dir).parent
        if relative.parts[0] == "external":
            continue
        pred = load_predictions(file)
        own = (relative.parts[0] == "pet-mad" and file.stem == "mad") or relative.parts[0] == file.stem
        if "energy_uncertainty" in pred and own and len(pred["energy"]):
            sources.append((str(relative), pred))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), squeeze=False)
    rows = []
    for label, pred in sources:
        error = pred["energy"] - pred["energy_ref"]
        for ax, (method, sigma) in zip(axes[0], (
                ("LLPR", pred["energy_uncertainty"]),
                ("ensemble", np.std(pred["energy_ensemble"], axis=1)))):
            s, e, _ = calibration_curve(sigma, error)
            z = z_score_rms(sigma, error)
            ax.loglog(s, e, "o-", label=f"{label} (z-rms {z:.2f})", ms=4)
            rows.append({"model": label, "method": method, "z_score_rms": z,
                         "n_structures": len(error)})
    for ax, method in zip(axes[0], ("LLPR", "last-layer ensemble")):
        lims = [v for line in ax.get_lines() for v in np.concatenate([line.get_xdata(), line.get_ydata()])]
        if lims:
            lo, hi = min(lims) / 2, max(lims) * 2
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="calibrated")
        ax.set_xlabel("predicted σ of the energy (RMS per bin, eV)")
        ax.set_ylabel("observed error (RMS per bin, eV)")
        ax.set_title(method)
        ax.legend(fontsize=6)
    save_figure(fig, path)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--predictions", type=Path, nargs="+", required=True,
                        help="<eval-dir>/<model>/<dataset>.npz files")
    parser.add_argument("--accuracy", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    parser.add_argument("--retention", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True)
    args = parser.parse_args(argv)

    table = accuracy_table(args.eval_dir, args.predictions)
    write_csv(args.accuracy, table)
    write_csv(args.retention, retention_table(table))
    accuracy_figure(table, args.figure)
    calibration = calibration_figure(args.eval_dir, args.predictions, args.calibration)
    print(table[table["subset"] == "all"].to_string(index=False))
    print(calibration.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
