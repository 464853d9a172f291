"""Liquid-water pair correlations and heat capacity against the number of beads (paper
Fig. 7) from the (path-integral) MD runs.

    python -m analysis.water_pimd --status runs/water/*/P*/status.json \\
        --settings '<studies.water_pimd JSON>' --table T.csv --rdf-table R.csv --figure F.pdf

Per model and bead number P, after the equilibration share of the run:
- g_OO(r) and g_OH(r) from the bead positions (every bead of every saved frame is a
  configuration: the path-integral average of a position observable; P = 1 is classical),
  computed with mdtraj, with block errors;
- C_V from the scaled-coordinates estimator (:func:`analysis.pimd.scaled_coordinates_heat_capacity`)
  with block-jackknife errors, per molecule in k_B and in J mol⁻¹ K⁻¹.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import MODEL_COLOURS, pyplot, save_figure, study_parser, write_csv
from analysis.pimd import scaled_coordinates_heat_capacity
from analysis.rdf import block_radial_distribution

GAS_CONSTANT_J_MOL_K = 8.314462618
PAIRS = (("O", "O"), ("O", "H"))
# Liquid water at 298 K and 1 atm: C_V = 74.5 J/mol/K (C_P = 75.3 J/mol/K; IAPWS-95).
EXPERIMENT_CV_J_MOL_K = 74.5


def bead_frames(run: Path, skip_fraction: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Positions (configurations, atoms, 3), cells and species after the equilibration
    share; with beads, every bead of every frame is a configuration."""
    from ase.io import read

    frames = read(run / "trajectory.extxyz", index=":")
    skip = int(skip_fraction * len(frames))
    records = np.load(run / "records.npz")
    cells = np.array([f.cell.array for f in frames])[skip:]
    if "bead_positions" in records:
        beads = records["bead_positions"][skip:]  # (frames, beads, atoms, 3)
        positions = beads.reshape(-1, *beads.shape[2:])
        cells = np.repeat(cells, beads.shape[1], axis=0)
    else:
        positions = np.array([f.positions for f in frames])[skip:]
    return positions, cells, frames[0].get_chemical_symbols()


def run_summary(status_path: Path, settings: dict) -> tuple[dict, list[dict]]:
    """One (model, P) point: its table row and its RDF rows."""
    status = json.loads(status_path.read_text())
    model = status_path.parent.parent.name
    row = {"model": model, "beads": status["beads"], "status": status["status"],
           "reason": status.get("reason", ""), "n_molecules": status["n_molecules"],
           "temperature_K": status["temperature_K"]}
    if status["status"] != "ok":
        return row, []
    run = status_path.parent / "run"
    records = np.load(run / "records.npz")
    skip = int(settings["equilibration_fraction"] * len(records["eps_v"]))
    capacity, error = scaled_coordinates_heat_capacity(
        records["eps_v"][skip:], records["eps_v_prime"][skip:], status["temperature_K"],
        n_blocks=settings["blocks"])
    per_molecule = GAS_CONSTANT_J_MOL_K / status["n_molecules"]
    row.update(heat_capacity_J_mol_K=capacity * per_molecule,
               heat_capacity_error_J_mol_K=error * per_molecule,
               heat_capacity_kB_per_molecule=capacity / status["n_molecules"],
               estimator_samples=len(records["eps_v"]) - skip)
    positions, cells, symbols = bead_frames(run, settings["equilibration_fraction"])
    r_max = min(settings["rdf_max_A"], 0.5 * min(np.linalg.norm(cells[0], axis=1)))
    rdf_rows = []
    for pair in PAIRS:
        r, g, g_error = block_radial_distribution(positions, cells, symbols, pair, r_max,
                                                  settings["rdf_bins"], settings["blocks"])
        rdf_rows += [{"model": model, "beads": status["beads"], "pair": "-".join(pair),
                      "r_A": a, "g": b, "g_error": c} for a, b, c in zip(r, g, g_error)]
    return row, rdf_rows


def water_tables(status_files: list[Path], settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, rdf_rows = [], []
    for path in status_files:
        row, rdf = run_summary(path, settings)
        rows.append(row)
        rdf_rows += rdf
    table = pd.DataFrame(rows)
    for column in ("heat_capacity_J_mol_K", "heat_capacity_error_J_mol_K"):
        if column not in table:
            table[column] = np.nan
    rdf = pd.DataFrame(rdf_rows, columns=["model", "beads", "pair", "r_A", "g", "g_error"])
    return table.sort_values(["model", "beads"]).reset_index(drop=True), rdf


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
                axes[pair].plot(curve["r_A"], curve["g"], style, color=colour, label=label)
                axes[pair].fill_between(curve["r_A"], curve["g"] - curve["g_error"],
                                        curve["g"] + curve["g_error"], color=colour,
                                        alpha=0.2, lw=0)
    for pair, axis in axes.items():
        axis.axhline(1.0, color="0.7", lw=0.8)
        axis.set_xlabel("r (Å)")
        axis.set_ylabel(f"$g_{{{pair.replace('-', '')}}}(r)$ (bead positions)")
        axis.legend(fontsize=7)
    for model, part in table.groupby("model"):
        ok = part[part["status"] == "ok"]
        capacity.errorbar(ok["beads"], ok["heat_capacity_J_mol_K"],
                          yerr=ok["heat_capacity_error_J_mol_K"], fmt="o-", capsize=3,
                          color=MODEL_COLOURS.get(model), label=model)
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
    failed = table[table["status"] != "ok"]
    if len(failed):
        capacity.text(0.02, 0.02, f"{len(failed)} of {len(table)} runs failed (reasons in "
                      "the CSV)", transform=capacity.transAxes, fontsize=7, color="tab:red")
    capacity.legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    parser.add_argument("--rdf-table", type=Path, required=True)
    args = parser.parse_args(argv)
    table, rdf = water_tables(args.status, args.settings)
    write_csv(args.table, table)
    write_csv(args.rdf_table, rdf)
    water_figure(table, rdf, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
