"""Liquid-water pair correlations and heat capacity against the number of beads (paper
Fig. 7) from the (path-integral) MD runs.

    python -m analysis.water_pimd --status runs/water/*/P*/status.json \\
        --settings '<studies.water_pimd JSON>' --table T.csv --rdf-table R.csv --figure F.pdf

Per model and bead number P, after the equilibration share of the run:
- g_OO(r) and g_OH(r) from the bead positions (every bead of every saved frame is a
  configuration: the path-integral average of a position observable; P = 1 is classical),
  computed with mdtraj frame by frame, with autocorrelation-aware errors and N_eff per bin;
- C_V from the scaled-coordinates estimator (:func:`analysis.pimd.scaled_coordinates_heat_capacity`)
  with its autocorrelation-aware error and N_eff, per molecule in k_B and in J mol⁻¹ K⁻¹;
- the model uncertainty of both: the spread of the values reweighted to every LLPR
  ensemble member (:mod:`analysis.reweighting`; NaN for a model without an ensemble);
- a convergence verdict per C_V and per g(r) curve (judged at its highest bin);
- the position of the first O–O peak (parabola through the highest bins, with its error).

With ``--reference-md`` (the held-out frames of the reference engine's own MD,
``data/water/md_test.extxyz``) the reference's classical g(r) is added as model
``reference``, beads 1: the value the models' peaks are held against.  Those frames are
short runs from relaxed random packings, so its verdict says how far to trust it.
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
from analysis.pimd import (
    heat_capacity_function,
    heat_capacity_samples,
    scaled_coordinates_heat_capacity,
)
from analysis.rdf import (
    first_peak_position,
    frame_radial_distributions,
    radial_distribution_error,
)
from analysis.reweighting import (
    NO_ENSEMBLE,
    aligned,
    ensemble_reweighting,
    member_values,
    reweighted_means,
    spread,
)
from analysis.statistics import function_verdict

GAS_CONSTANT_J_MOL_K = 8.314462618
PAIRS = (("O", "O"), ("O", "H"))
# The g_OO first peak lies below this distance in liquid water (about 2.8 Å).
OO_FIRST_PEAK_MAX_A = 3.3
# Liquid water at 298 K and 1 atm: C_V = 74.5 J/mol/K (C_P = 75.3 J/mol/K; IAPWS-95).
EXPERIMENT_CV_J_MOL_K = 74.5


def bead_frames(run: Path, skip_fraction: float
                ) -> tuple[np.ndarray, np.ndarray, list[str], int, np.ndarray]:
    """Positions (configurations, atoms, 3), cells and species after the equilibration
    share, the configurations per frame (beads) and the frames' steps; with beads, every
    bead of every frame is a configuration."""
    from ase.io import read

    frames = read(run / "trajectory.extxyz", index=":")
    skip = int(skip_fraction * len(frames))
    records = np.load(run / "records.npz")
    cells = np.array([f.cell.array for f in frames])[skip:]
    steps = np.array([f.info.get("step", k) for k, f in enumerate(frames)])[skip:]
    per_frame = 1
    if "bead_positions" in records:
        beads = records["bead_positions"][skip:]  # (frames, beads, atoms, 3)
        positions = beads.reshape(-1, *beads.shape[2:])
        per_frame = beads.shape[1]
        cells = np.repeat(cells, per_frame, axis=0)
    else:
        positions = np.array([f.positions for f in frames])[skip:]
    return positions, cells, frames[0].get_chemical_symbols(), per_frame, steps


def frame_reweighting(records, steps: np.ndarray, temperature: float):
    """The LLPR-ensemble reweighting of the records at ``steps`` and the indices of the
    steps it covers; (None, None) without an ensemble."""
    if "energy_ensemble" not in records:
        return None, None
    covered, rows = aligned(steps, records["step"])
    return ensemble_reweighting(records["energy_ensemble"][rows], temperature), covered


def run_summary(status_path: Path, settings: dict) -> tuple[dict, list[dict]]:
    """One (model, P) point: its table row and its RDF rows."""
    status = json.loads(status_path.read_text())
    model = status_path.parent.parent.name
    temperature = status["temperature_K"]
    row = {"model": model, "beads": status["beads"], "status": status["status"],
           "reason": status.get("reason", ""), "n_molecules": status["n_molecules"],
           "temperature_K": temperature}
    if status["status"] != "ok":
        row.update(converged="no", convergence_note="run stopped (reason)")
        return row, []
    run = status_path.parent / "run"
    records = np.load(run / "records.npz")
    skip = int(settings["equilibration_fraction"] * len(records["eps_v"]))
    samples = heat_capacity_samples(records["eps_v"][skip:], records["eps_v_prime"][skip:])
    capacity_of = heat_capacity_function(temperature)
    capacity = scaled_coordinates_heat_capacity(records["eps_v"][skip:],
                                                records["eps_v_prime"][skip:], temperature)
    rw, covered = frame_reweighting(records, records["heatcap_step"][skip:], temperature)
    model_spread = spread(member_values(capacity_of, samples[covered], rw)) if rw else np.nan
    per_molecule = GAS_CONSTANT_J_MOL_K / status["n_molecules"]
    verdict, note = function_verdict(capacity_of, samples, rw.ess_check if rw else None)
    row.update(heat_capacity_J_mol_K=capacity.value * per_molecule,
               heat_capacity_error_J_mol_K=capacity.error * per_molecule,
               heat_capacity_n_eff=capacity.n_eff,
               heat_capacity_model_uncertainty_J_mol_K=model_spread * per_molecule,
               heat_capacity_kB_per_molecule=capacity.value / status["n_molecules"],
               estimator_samples=len(records["eps_v"]) - skip,
               converged=verdict, convergence_note=note,
               ensemble_note=rw.note() if rw else NO_ENSEMBLE)
    positions, cells, symbols, per_frame, steps = bead_frames(
        run, settings["equilibration_fraction"])
    rw, covered = frame_reweighting(records, steps, temperature)
    rdf_rows = curve_rows(model, status["beads"], positions, cells, symbols, per_frame,
                          settings, rw, covered)
    return row, rdf_rows


def curve_rows(model: str, beads: int, positions: np.ndarray, cells: np.ndarray,
               symbols: list[str], per_frame: int, settings: dict, rw=None, covered=None
               ) -> list[dict]:
    """The RDF table's rows of one run: g(r) per pair with its error, N_eff, model
    uncertainty (with an ensemble reweighting ``rw`` of the frames ``covered``), verdict,
    and the first O–O peak's position."""
    r_max = min(settings["rdf_max_A"], 0.5 * min(np.linalg.norm(cells[0], axis=1)))
    rows = []
    for pair in PAIRS:
        r, h, d = frame_radial_distributions(positions, cells, symbols, pair, r_max,
                                             settings["rdf_bins"], per_frame)
        g, g_error, g_n_eff = radial_distribution_error(h, d)
        g_model = np.full_like(g, np.nan)
        if rw is not None:
            pieces = np.column_stack([h[covered], d[covered]])
            members = reweighted_means(pieces, rw)  # (members, bins + 1)
            g_model = np.atleast_1d(spread(members[:, :-1] / members[:, -1:]))
        peak = int(np.argmax(g))  # the curve's verdict: its highest bin
        pieces = np.column_stack([h[:, peak], d])
        verdict, note = function_verdict(lambda m: m[0] / m[1], pieces,
                                         rw.ess_check if rw else None)
        position = (first_peak_position(r, h, d, OO_FIRST_PEAK_MAX_A) if pair == ("O", "O")
                    else None)
        rows += [{"model": model, "beads": beads, "pair": "-".join(pair), "r_A": a, "g": b,
                  "g_error": c, "g_n_eff": n, "g_model_uncertainty": u,
                  "first_peak_A": position.value if position else np.nan,
                  "first_peak_error_A": position.error if position else np.nan,
                  "converged": verdict, "convergence_note": note}
                 for a, b, c, n, u in zip(r, g, g_error, g_n_eff, g_model)]
    return rows


def reference_rows(path: Path, settings: dict) -> list[dict]:
    """The classical g(r) of the reference engine's own MD frames (model ``reference``)."""
    from ase.io import read

    frames = read(path, index=":")
    if not frames:
        return []
    positions = np.array([f.positions for f in frames])
    cells = np.array([f.cell.array for f in frames])
    return curve_rows(REFERENCE, 1, positions, cells, frames[0].get_chemical_symbols(), 1,
                      settings)


RDF_COLUMNS = ["model", "beads", "pair", "r_A", "g", "g_error", "g_n_eff",
               "g_model_uncertainty", "first_peak_A", "first_peak_error_A", "converged",
               "convergence_note"]


def water_tables(status_files: list[Path], settings: dict, reference_md: Path | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, rdf_rows = [], reference_rows(reference_md, settings) if reference_md else []
    for path in status_files:
        row, rdf = run_summary(path, settings)
        rows.append(row)
        rdf_rows += rdf
    table = pd.DataFrame(rows)
    for column in ("heat_capacity_J_mol_K", "heat_capacity_error_J_mol_K",
                   "heat_capacity_n_eff", "heat_capacity_model_uncertainty_J_mol_K",
                   "converged", "convergence_note"):
        if column not in table:
            table[column] = np.nan
    rdf = pd.DataFrame(rdf_rows, columns=RDF_COLUMNS)
    return table.sort_values(["model", "beads"]).reset_index(drop=True), rdf


def first_peaks(rdf: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, beads): the first O–O peak's position, its error and verdict,
    and its shift from the reference engine's (classical) one where that is known."""
    oxygen = rdf[rdf["pair"] == "O-O"].groupby(["model", "beads"], sort=False).head(1)
    peaks = oxygen[["model", "beads", "first_peak_A", "first_peak_error_A", "converged"]]
    reference = peaks[peaks["model"] == REFERENCE]["first_peak_A"]
    shift = peaks["first_peak_A"] - (reference.iloc[0] if len(reference) else np.nan)
    return peaks.assign(shift_from_reference_A=shift).reset_index(drop=True)


def peak_summary(rdf: pd.DataFrame) -> str:
    """The first O–O peaks as lines of text for the figure."""
    lines = ["first O–O peak (Å), shift from the reference's:"]
    for _, peak in first_peaks(rdf).iterrows():
        where = "classical" if peak["beads"] == 1 else f"P = {peak['beads']}"
        shift = ("" if peak["model"] == REFERENCE or np.isnan(peak["shift_from_reference_A"])
                 else f", {peak['shift_from_reference_A']:+.2f}")
        flag = "" if peak["converged"] == "yes" else " (not converged)"
        lines.append(f"{peak['model']} {where}: {peak['first_peak_A']:.2f} ± "
                     f"{peak['first_peak_error_A']:.2f}{shift}{flag}")
    return "\n".join(lines)


def water_figure(table: pd.DataFrame, rdf: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    figure = plt.figure(figsize=(9.0, 7.0))
    grid = figure.add_gridspec(2, 2)
    axes = {pair: figure.add_subplot(grid[0, k]) for k, pair in enumerate(("O-O", "O-H"))}
    capacity = figure.add_subplot(grid[1, :])
    for (model, pair), part in rdf.groupby(["model", "pair"]):
        colour = MODEL_COLOURS.get(model)
        largest = part["beads"].max()
        for beads, style in ((1, ":"), (largest, "-")):
            curve = part[part["beads"] == beads]
            if len(curve) and (beads == 1 or largest > 1):
                label = f"{model}, {'classical' if beads == 1 else f'P = {beads}'}"
                if model == REFERENCE:
                    label = "reference engine's MD (held-out frames)"
                if curve["converged"].iloc[0] != "yes":
                    label += " (not converged)"
                axes[pair].plot(curve["r_A"], curve["g"], style, color=colour, label=label,
                                lw=0.8 if curve["converged"].iloc[0] != "yes" else 1.5)
                axes[pair].fill_between(curve["r_A"], curve["g"] - curve["g_error"],
                                        curve["g"] + curve["g_error"], color=colour,
                                        alpha=0.3, lw=0)
                uncertainty = curve["g_model_uncertainty"].to_numpy(float)
                if np.isfinite(uncertainty).any():
                    axes[pair].fill_between(curve["r_A"], curve["g"] - uncertainty,
                                            curve["g"] + uncertainty, facecolor="none",
                                            edgecolor=colour, hatch="////", alpha=0.4,
                                            lw=0)
    axes["O-O"].text(0.98, 0.02, peak_summary(rdf), transform=axes["O-O"].transAxes,
                     fontsize=6, ha="right", va="bottom")
    for pair, axis in axes.items():
        axis.axhline(1.0, color="0.7", lw=0.8)
        axis.set_xlabel("r (Å)")
        axis.set_ylabel(f"$g_{{{pair.replace('-', '')}}}(r)$ (bead positions)")
        axis.legend(fontsize=7)
    for model, part in table.groupby("model"):
        ok = part[part["status"] == "ok"]
        draw_points(capacity, ok["beads"], ok["heat_capacity_J_mol_K"],
                    ok["heat_capacity_error_J_mol_K"],
                    ok["heat_capacity_model_uncertainty_J_mol_K"], ok["converged"],
                    MODEL_COLOURS.get(model), line="-", label=model)
    capacity.axhline(EXPERIMENT_CV_J_MOL_K, color="tab:green", ls="--", lw=1,
                     label="experiment (298 K)")
    if (table["status"] == "ok").any():  # log axes need data
        capacity.set_xscale("log", base=2)
        # Unstable models give C_V orders of magnitude off: symlog keeps water readable.
        capacity.set_yscale("symlog", linthresh=200.0)
    beads = sorted(table["beads"].unique())
    capacity.set_xticks(beads, [str(b) for b in beads])
    capacity.set_xlabel("number of beads P")
    capacity.set_ylabel("$C_V$ (J mol$^{-1}$ K$^{-1}$)")
    capacity.set_title(VERDICT_NOTE + "\ng(r): shaded statistical error, hatched model "
                       "uncertainty; thin line: not converged", fontsize=7)
    failed = table[table["status"] != "ok"]
    if len(failed):
        capacity.text(0.02, 0.02, f"{len(failed)} of {len(table)} runs failed (reasons in "
                      "the CSV)", transform=capacity.transAxes, fontsize=7, color="tab:red")
    capacity.legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    parser.add_argument("--rdf-table", type=Path, required=True)
    add_reference_md_option(parser)
    args = parser.parse_args(argv)
    table, rdf = water_tables(args.status, args.settings, args.reference_md)
    write_csv(args.table, table)
    write_csv(args.rdf_table, rdf)
    water_figure(table, rdf, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
