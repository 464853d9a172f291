"""Phonon bands with the LLPR ensemble (paper Fig. S7) from the per-model band files.

    python -m analysis.phonons --bands runs/phonons/*.json --table T.csv --figure F.pdf

One panel per crystal: every ensemble member's bands (thin, translucent), their average
(thick; branch by branch, frequencies sorted at each q-point), the bands of models without
an ensemble, and the reference engine's (black, dashed).  The table has, per model and
crystal, the RMS deviation from the reference of the model's own bands and of the ensemble
average, the ensemble spread, and the lowest frequencies (negative: imaginary modes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import model_colours, pyplot, save_figure, tables_parser, write_csv

ENSEMBLE_COLOUR = "tab:orange"  # the paper's colour for the PET-MAD ensemble
# Frequencies below this (THz) count as imaginary modes; finite displacements in float32
# models leave acoustic modes near Γ a few hundredths of a THz off zero.
IMAGINARY_THZ = -0.1
TITLES = {"beo_wurtzite": "wurtzite BeO", "bete_zincblende": "zincblende BeTe",
          "libr_rocksalt": "rock-salt LiBr"}


def read_bands(paths: list[Path]) -> dict[str, dict[str, dict]]:
    """model -> crystal -> that crystal's result, with frequencies as arrays."""
    bands: dict[str, dict[str, dict]] = {}
    for path in paths:
        content = json.loads(Path(path).read_text())
        rows = {}
        for row in content["crystals"]:
            row = dict(row)
            row["frequencies_THz"] = np.asarray(row["frequencies_THz"], dtype=float)
            ensemble = np.asarray(row["ensemble_THz"], dtype=float)
            row["ensemble_THz"] = ensemble.reshape(-1, *row["frequencies_THz"].shape)
            rows[row["crystal"]] = row
        bands[content["model"]] = rows
    return bands


def _rms(a: np.ndarray, b: np.ndarray | None) -> float:
    if b is None or a.shape != b.shape:
        return np.nan
    return float(np.sqrt(np.mean((a - b) ** 2)))


def summarise(bands: dict[str, dict[str, dict]]) -> pd.DataFrame:
    rows = []
    reference = bands.get("reference", {})
    for model, crystals in bands.items():
        for crystal, row in crystals.items():
            own, ensemble = row["frequencies_THz"], row["ensemble_THz"]
            target = reference.get(crystal, {}).get("frequencies_THz")
            members = len(ensemble)
            mean = ensemble.mean(axis=0) if members else None
            rows.append({
                "model": model, "crystal": crystal, "members": members,
                "supercell": "x".join(str(r) for r in row["supercell"]),
                "atoms": row["atoms"],
                "lowest_THz": float(own.min()), "highest_THz": float(own.max()),
                "rms_vs_reference_THz": _rms(own, target),
                "ensemble_mean_rms_vs_reference_THz": _rms(mean, target) if members else np.nan,
                # RMS over q-points and branches of the members' standard deviation
                "ensemble_spread_THz": float(np.sqrt(ensemble.var(axis=0).mean()))
                if members else np.nan,
                "ensemble_lowest_THz": float(ensemble.min()) if members else np.nan,
                "members_with_imaginary_modes": int((ensemble.min(axis=(1, 2))
                                                     < IMAGINARY_THZ).sum()) if members else 0})
    return pd.DataFrame(rows)


def frequency_window(curves: list[np.ndarray]) -> tuple[float, float]:
    """From a bit below the lowest to a bit above the highest of the curves drawn thick
    (reference, ensemble average, single models): wild members must not flatten them."""
    low = min(0.0, *(float(c.min()) for c in curves))
    high = max(float(c.max()) for c in curves)
    pad = 0.08 * (high - low or 1.0)
    return low - pad, high + pad


def phonons_figure(bands: dict[str, dict[str, dict]], path: Path) -> None:
    from matplotlib.lines import Line2D

    plt = pyplot()
    crystals = list(dict.fromkeys(c for rows in bands.values() for c in rows))
    models = [m for m in bands if m != "reference"]
    colours = model_colours(models)
    figure, axes = plt.subplots(1, len(crystals), figsize=(3.6 * len(crystals) + 1.6, 3.4),
                                squeeze=False)
    handles = {}
    for axis, crystal in zip(axes[0], crystals):
        thick = []
        any_row = next(rows[crystal] for rows in bands.values() if crystal in rows)
        x = np.asarray(any_row["distance"])
        for model in models:
            row = bands[model].get(crystal)
            if row is None:
                continue
            ensemble = row["ensemble_THz"]
            if len(ensemble):
                for member in ensemble:  # rasterised: 128 members' vectors are megabytes
                    axis.plot(x, member, color=ENSEMBLE_COLOUR, lw=0.3, alpha=0.15,
                              rasterized=True)
                mean = ensemble.mean(axis=0)
                axis.plot(x, mean, color=ENSEMBLE_COLOUR, lw=1.6)
                thick.append(mean)
                handles[f"{model} ensemble members"] = Line2D(
                    [], [], color=ENSEMBLE_COLOUR, lw=0.6, alpha=0.5)
                handles[f"{model} ensemble average"] = Line2D(
                    [], [], color=ENSEMBLE_COLOUR, lw=1.6)
            else:
                axis.plot(x, row["frequencies_THz"], color=colours[model], lw=1.0)
                thick.append(row["frequencies_THz"])
                handles[model] = Line2D([], [], color=colours[model], lw=1.0)
        if crystal in bands.get("reference", {}):
            reference = bands["reference"][crystal]["frequencies_THz"]
            axis.plot(x, reference, color="black", ls="--", lw=1.0)
            thick.append(reference)
            handles["reference"] = Line2D([], [], color="black", ls="--", lw=1.0)
        for tick in any_row["ticks"][1:-1]:
            axis.axvline(tick, color="0.7", lw=0.6)
        axis.axhline(0.0, color="0.7", lw=0.6)
        axis.set_xticks(any_row["ticks"], any_row["labels"])
        axis.set_xlim(x[0], x[-1])
        if thick:
            axis.set_ylim(*frequency_window(thick))
        axis.set_title(TITLES.get(crystal, crystal), fontsize=9)
        axis.set_ylabel("frequency (THz)", fontsize=8)
        axis.tick_params(labelsize=7)
    # beside the last panel: inside, it would hide bands somewhere in every crystal
    axes[0][-1].legend(list(handles.values()), list(handles), fontsize=7, frameon=False,
                       loc="upper left", bbox_to_anchor=(1.02, 1.0))
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    args = tables_parser(__doc__, "bands").parse_args(argv)
    bands = read_bands(args.bands)
    summary = summarise(bands)
    write_csv(args.table, summary)
    phonons_figure(bands, args.figure)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
