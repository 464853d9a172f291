"""Learning curves: test force error vs training-set fraction for bespoke training, LoRA
(at the configured rank and any other, ``lora-r<rank>``) and full fine-tuning, with the
universal model's error as a line (paper S10); and pet-mad's own curve on MAD, PETs
trained from scratch on fractions of it, whose whole-set point is pet-mad (S10.A)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.accuracy import COLOURS, errors, load_predictions
from analysis.metrics import mae
from analysis.output import pyplot, save_figure, write_csv

METHOD_COLOURS = {**COLOURS, "full": "tab:green", "pretrain": "black"}
UNIVERSAL_SET = "mad"


def learning_curve_table(eval_dir: Path, systems: list[str]) -> pd.DataFrame:
    rows = []
    for system in systems:
        if system == UNIVERSAL_SET:  # pet-mad is the whole-set point of its own curve
            points = [("pretrain", 1.0, eval_dir / "pet-mad" / f"{system}.npz")]
        else:
            points = [(m, 1.0, eval_dir / system / m / f"{system}.npz")
                      for m in ("bespoke", "lora")]
        for path in sorted((eval_dir / "lc" / system).glob(f"*/{system}.npz")):
            method, fraction = path.parent.name.rsplit("-", 1)
            points.append((method, float(fraction), path))
        if system != UNIVERSAL_SET:
            points.append(("pet-mad", float("nan"), eval_dir / "pet-mad" / f"{system}.npz"))
        for method, fraction, path in points:
            if path.exists():
                errs = errors(load_predictions(path))
                rows.append({"system": system, "method": method, "train_fraction": fraction,
                             "forces_mae [meV/Å]": mae(errs["forces"]),
                             "energy_mae [meV/atom]": mae(errs["energy"])})
    return pd.DataFrame(rows).sort_values(["system", "method", "train_fraction"])


def power_law(sizes, errors) -> tuple[float, float]:
    """Least-squares line through log(error) against log(size): error ≈ a · size^(−b).
    Returns (a, b); b > 0 when the error falls with more data."""
    sizes, errors = np.asarray(sizes, float), np.asarray(errors, float)
    keep = np.isfinite(sizes) & np.isfinite(errors) & (sizes > 0) & (errors > 0)
    if keep.sum() < 2 or np.unique(sizes[keep]).size < 2:
        raise ValueError("a power law needs errors at two or more training-set sizes")
    slope, intercept = np.polyfit(np.log(sizes[keep]), np.log(errors[keep]), 1)
    return float(np.exp(intercept)), float(-slope)


def size_for_error(target: float, a: float, b: float) -> float:
    """The smallest training-set size (≥ 1) at which a · size^(−b) is at or below
    ``target``; infinite when the curve does not fall (b ≤ 0) and starts above it."""
    if target >= a:
        return 1.0
    return float((a / target) ** (1.0 / b)) if b > 0 else float(np.inf)


def learning_curve_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    systems = list(dict.fromkeys(table["system"]))
    fig, axes = plt.subplots(1, max(1, len(systems)), figsize=(5 * max(1, len(systems)), 4),
                             squeeze=False)
    for ax, system in zip(axes[0], systems):
        rows = table[table["system"] == system]
        for method, group in rows.groupby("method"):
            if method == "pet-mad":
                ax.axhline(group["forces_mae [meV/Å]"].iloc[0], color="black", ls="--",
                           label="pet-mad")
            else:
                label = method
                try:  # the slope says what more data buys
                    _, b = power_law(group["train_fraction"], group["forces_mae [meV/Å]"])
                    label = f"{method} (MAE ∝ n^{-b:.2f})"
                except ValueError:  # a single point
                    pass
                ax.loglog(group["train_fraction"], group["forces_mae [meV/Å]"], "o-",
                          color=METHOD_COLOURS.get(method), label=label)
        ax.set_xlabel("fraction of the training set")
        ax.set_ylabel("test force MAE (meV/Å)")
        ax.set_title("MAD (pet-mad from scratch)" if system == UNIVERSAL_SET else system)
        ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, required=True)
    parser.add_argument("--systems", nargs="*", default=[])
    parser.add_argument("--figure", type=Path, required=True)
    parser.add_argument("--table", type=Path, required=True)
    args = parser.parse_args(argv)
    table = learning_curve_table(args.eval_dir, args.systems)
    write_csv(args.table, table)
    learning_curve_figure(table, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
