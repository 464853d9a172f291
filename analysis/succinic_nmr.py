"""1H shielding distributions of α-succinic acid, classical vs path-integral (paper Fig. 8),
and the shielding model's parity plot (Fig. S14).

    python -m analysis.succinic_nmr --status runs/succinic/*/{md,pimd}/status.json \\
        --model models/succinic/shielding.npz --test models/succinic/shielding_test.csv \\
        --settings '<studies.succinic_nmr JSON>' --table T.csv --figure F.pdf --parity P.pdf

The shielding model is evaluated on every saved configuration after the equilibration
share (with beads, every bead: the path-integral average of a position observable).  Per
model, sampling and site class: the mean σ_iso, the width (standard deviation over all
hydrogens and configurations), the autocorrelation-aware error of the mean over frames with
its N_eff, the model uncertainty (the spread of the mean reweighted to the LLPR ensemble
members) and a convergence verdict; the static value is the model's prediction on that
model's relaxed crystal.  The figure marks every mean with its statistical error (thin
bar) and model uncertainty (wide pale bar), hollow when not converged.

With ``--reference-md`` (the held-out frames of the reference engine's own classical MD
of the crystal at the study's temperature, data/succinic/md_test.extxyz), the table gains
the reference's MD row per site class (model ``reference``): what the other models' MD
means are held against in the consistency scorecard.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import (
    MODEL_COLOURS,
    REFERENCE,
    VERDICT_NOTE,
    add_reference_md_option,
    draw_points,
    pyplot,
    save_figure,
    study_parser,
    write_csv,
)
from analysis.reweighting import (
    NO_ENSEMBLE,
    aligned,
    ensemble_reweighting,
    reweighted_means,
    spread,
)
from analysis.statistics import mean_error, series_verdict

SAMPLING_STYLES = {"pimd": "-", "md": ":"}


def configurations(run: Path, skip_fraction: float) -> tuple[list, np.ndarray, np.ndarray]:
    """Configurations after the equilibration share (beads unrolled), the saved-frame
    index of each, and the step of every frame kept."""
    from ase import Atoms
    from ase.io import read

    frames = read(run / "trajectory.extxyz", index=":")
    skip = int(skip_fraction * len(frames))
    records = np.load(run / "records.npz")
    configs, frame_of = [], []
    for k, frame in enumerate(frames[skip:]):
        beads = records["bead_positions"][skip + k] if "bead_positions" in records else \
            [frame.positions]
        for positions in beads:
            configs.append(Atoms(frame.numbers, positions, cell=frame.cell, pbc=True))
            frame_of.append(k)
    steps = np.array([f.info.get("step", k) for k, f in enumerate(frames)])[skip:]
    return configs, np.array(frame_of), steps


def site_statistics(values: np.ndarray, sites: np.ndarray, frame_of: np.ndarray,
                    reweighting=None, covered: np.ndarray | None = None
                    ) -> dict[str, dict[str, float]]:
    """Mean, width, autocorrelation-aware error of the mean (over the series of frame
    means), its N_eff, the model uncertainty (spread of the frame means reweighted to the
    ensemble members; NaN without ``reweighting``) and a verdict per site class."""
    out = {}
    for site in sorted(set(sites) - {""}):
        chosen = sites == site
        per_frame = pd.Series(values[chosen]).groupby(frame_of[chosen]).mean()
        estimate = mean_error(per_frame.to_numpy())
        uncertainty = np.nan
        if reweighting is not None:
            uncertainty = spread(reweighted_means(per_frame.reindex(covered).to_numpy(),
                                                  reweighting))
        verdict, note = series_verdict(per_frame.to_numpy(),
                                       reweighting.ess_check if reweighting else None)
        out[site] = {"mean_ppm": float(values[chosen].mean()),
                     "width_ppm": float(values[chosen].std()), "error_ppm": estimate.error,
                     "n_eff": estimate.n_eff, "model_uncertainty_ppm": uncertainty,
                     "samples": int(chosen.sum()), "converged": verdict,
                     "convergence_note": note,
                     "ensemble_note": reweighting.note() if reweighting else NO_ENSEMBLE}
    return out


def run_reweighting(run: Path, steps: np.ndarray, temperature: float):
    """The LLPR-ensemble reweighting of a run's kept frames (None without an ensemble) and
    the frame indices it covers."""
    records = np.load(run / "records.npz")
    if "energy_ensemble" not in records:
        return None, None
    covered, rows = aligned(steps, records["step"])
    return ensemble_reweighting(records["energy_ensemble"][rows], temperature), covered


def predicted_sites(model, configs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shielding model's σ_iso of every hydrogen of ``configs``, its site class and the
    index of its configuration."""
    from petmad.shielding.reference import hydrogen_sites

    predicted, index = model.predict(configs)
    config_sites = [hydrogen_sites(c) for c in configs]
    sites = np.array([config_sites[c][a] for c, a in index])
    return predicted, sites, index[:, 0]


def reference_md_rows(path: Path, model) -> tuple[list[dict], dict]:
    """The reference engine's classical σ_iso per site class over its held-out MD frames
    (sampled after their own equilibration: every frame counts)."""
    from ase.io import read

    frames = read(path, index=":")
    if not frames:
        return [], {}
    predicted, sites, frame_of = predicted_sites(model, frames)
    base = {"model": REFERENCE, "sampling": "md", "beads": 1, "status": "ok",
            "reason": ""}
    rows = [{**base, "site": site, **values}
            for site, values in site_statistics(predicted, sites, frame_of).items()]
    return rows, {(REFERENCE, "md", row["site"]): predicted[sites == row["site"]]
                  for row in rows}


def shielding_table(status_files: list[Path], model, settings: dict,
                    reference_md: Path | None = None) -> tuple[pd.DataFrame, dict]:
    from ase.io import read

    from petmad.shielding.reference import hydrogen_sites

    rows, samples = reference_md_rows(reference_md, model) if reference_md else ([], {})
    statics = {}
    for path in status_files:
        status = json.loads(path.read_text())
        name, sampling = path.parent.parent.name, path.parent.name
        base = {"model": name, "sampling": sampling, "beads": status["beads"],
                "status": status["status"], "reason": status.get("reason", "")}
        if name not in statics:
            relaxed = path.parent.parent / "relaxed" / "relaxed.extxyz"
            if relaxed.exists():
                crystal = read(relaxed)
                predicted, index = model.predict([crystal])
                sites = hydrogen_sites(crystal)[index[:, 1]]
                statics[name] = {s: float(predicted[sites == s].mean()) for s in set(sites)}
        if status["status"] != "ok":
            rows.append({**base, "converged": "no", "convergence_note": "run stopped (reason)"})
            continue
        configs, frame_of, steps = configurations(path.parent / "sampling",
                                                  settings["equilibration_fraction"])
        reweighting, covered = run_reweighting(path.parent / "sampling", steps,
                                               settings["temperature_K"])
        predicted, sites, config_of = predicted_sites(model, configs)
        frames = frame_of[config_of]
        for site, values in site_statistics(predicted, sites, frames, reweighting,
                                            covered).items():
            rows.append({**base, "site": site, **values,
                         "static_ppm": statics.get(name, {}).get(site, np.nan)})
            samples[(name, sampling, site)] = predicted[sites == site]
    table = pd.DataFrame(rows)
    for column in ("site", "mean_ppm", "width_ppm", "error_ppm", "n_eff",
                   "model_uncertainty_ppm", "static_ppm", "converged", "convergence_note"):
        if column not in table:
            table[column] = np.nan
    last = ["converged", "convergence_note", "ensemble_note"]
    table = table[[c for c in table.columns if c not in last] + [c for c in last if c in table]]
    return table, {"samples": samples, "statics": statics}


def distribution_figure(table: pd.DataFrame, data: dict, path: Path, temperature: float) -> None:
    plt = pyplot()
    sites = sorted({key[2] for key in data["samples"]}) or ["H3 (COOH)", "H1/H2 (CH2)"]
    figure, axes = plt.subplots(1, len(sites), figsize=(4.5 * len(sites), 3.8), squeeze=False)
    for axis, site in zip(axes[0], sites):
        values = [v for (m, s, t), v in data["samples"].items() if t == site]
        if not values:
            continue
        low, high = np.percentile(np.concatenate(values), [0.5, 99.5])
        bins = np.linspace(low - 0.5, high + 0.5, 60)
        for (name, sampling, kind), samples in data["samples"].items():
            if kind != site:
                continue
            density, edges = np.histogram(samples, bins=bins, density=True)
            axis.plot((edges[1:] + edges[:-1]) / 2, density, SAMPLING_STYLES[sampling],
                      color=MODEL_COLOURS.get(name), label=f"{name} {sampling.upper()}")
        for name, static in data["statics"].items():
            if site in static:
                axis.axvline(static[site], color=MODEL_COLOURS.get(name), lw=0.8, ls="--")
        # the means: statistical error and model uncertainty, hollow when not converged
        means = table[(table["site"] == site) & (table["status"] == "ok")]
        top = axis.get_ylim()[1]
        for k, (_, row) in enumerate(means.iterrows()):
            draw_points(axis, [row["mean_ppm"]], [top * (1.04 + 0.06 * k)], [row["error_ppm"]],
                        [row["model_uncertainty_ppm"]], [row["converged"]],
                        MODEL_COLOURS.get(row["model"]),
                        marker="o" if row["sampling"] == "pimd" else "s", horizontal=True)
        axis.set_ylim(top=top * (1.1 + 0.06 * len(means)))
        axis.set_xlim(bins[0], bins[-1])  # a collapsed ensemble's bar may run off the plot
        axis.set_xlabel(f"$\\sigma_{{iso}}$ {site} (ppm)")
        axis.set_ylabel("probability density")
        axis.legend(fontsize=7)
    failed = table.drop_duplicates(["model", "sampling"])
    failed = failed[failed["status"] != "ok"]
    if len(failed):
        axes[0][0].text(0.02, 0.95, f"{len(failed)} runs failed (reasons in the CSV)",
                        transform=axes[0][0].transAxes, fontsize=7, color="tab:red")
    figure.suptitle(f"α-succinic acid, {temperature:g} K: PIMD solid, MD dotted, "
                    "static (relaxed) dashed; means on top (circle PIMD, square MD)\n"
                    + VERDICT_NOTE.replace("\n", "; "), fontsize=7)
    save_figure(figure, path)


def parity_figure(test: pd.DataFrame, metrics: dict, path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    for site, part in test.groupby("site"):
        axis.scatter(part["reference"], part["predicted"], s=10, label=site)
    span = [min(test["reference"].min(), test["predicted"].min()) - 1,
            max(test["reference"].max(), test["predicted"].max()) + 1]
    axis.plot(span, span, color="0.5", lw=0.8)
    axis.set_xlabel("reference $\\sigma_{iso}$ (ppm)")
    axis.set_ylabel("linear SOAP model $\\sigma_{iso}$ (ppm)")
    axis.set_title(f"test RMSE {metrics['test_rmse_ppm']:.2f} ppm "
                   f"({metrics['test_labels']} H; trained on {metrics['train_labels']})\n"
                   f"reference: {metrics.get('reference_method', '?')}", fontsize=8)
    axis.legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    from petmad.shielding.model import ShieldingModel

    parser = study_parser(__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--parity", type=Path, required=True)
    add_reference_md_option(parser)
    args = parser.parse_args(argv)
    model = ShieldingModel.load(args.model)
    table, data = shielding_table(args.status, model, args.settings, args.reference_md)
    table["shielding_model_test_rmse_ppm"] = model.metrics["test_rmse_ppm"]
    write_csv(args.table, table)
    distribution_figure(table, data, args.figure, args.settings["temperature_K"])
    parity_figure(pd.read_csv(args.test), model.metrics, args.parity)
    print(table.to_string(index=False))
    print(json.dumps(model.metrics))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
