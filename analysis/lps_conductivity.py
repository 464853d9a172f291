"""Li3PS4 conductivity table and figure (paper Fig. 4) from the production trajectories.

    python -m analysis.lps_conductivity --status runs/lps/*/*/*K/status.json \\
        --settings '<studies.lps_conductivity JSON>' --table T.csv --figure F.pdf

Per (model, phase, temperature): every finished replica's production run is split into
``blocks`` blocks; σ by Green-Kubo (current autocorrelation integrated to
``correlation_time_ps``) and by Einstein-Helfand (slope of the charge-dipole MSD between
half and all of that time) in each block; the value is the mean over blocks of all
replicas and the error its standard error.  Points whose runs stopped are listed with the
reason and left out of the figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from ase import units
from ase.io import read

from analysis.conductivity import (
    arrhenius_fit,
    charge_current,
    einstein_helfand,
    green_kubo,
    unwrapped_charge_dipole,
)
from analysis.output import MODEL_COLOURS, pyplot, save_figure, study_parser, write_csv

PHASE_TITLES = {"alpha": "α", "beta": "β", "gamma": "γ"}


def production_series(trajectory: Path, charges: dict[str, float]):
    """Charge current (e·Å/fs), unwrapped charge dipole (e·Å), sampling step (fs), mean
    volume (Å³) of one production run."""
    frames = read(trajectory, index=":")
    q = np.array([charges.get(symbol, 0.0) for symbol in frames[0].get_chemical_symbols()])
    # ASE velocities are Å per ASE time unit; one fs is units.fs of those.
    velocities = np.array([f.get_velocities() for f in frames]) * units.fs
    positions = np.array([f.positions for f in frames])
    cells = np.array([f.cell.array for f in frames])
    times = np.array([f.info["time_ps"] for f in frames]) * 1000.0
    dt = float(np.median(np.diff(times)))
    volume = float(np.mean([f.get_volume() for f in frames]))
    return charge_current(velocities, q), unwrapped_charge_dipole(positions, cells, q), dt, volume


def point_estimates(status_path: Path, settings: dict) -> dict:
    """σ (GK and EH) with errors for the runs listed in one status.json."""
    status = json.loads(status_path.read_text())
    temperature = status["temperature_K"]
    lag_fs = settings["correlation_time_ps"] * 1000.0
    samples = {"green-kubo": [], "einstein-helfand": []}
    stopped = [r["reason"] for r in status["replicas"] if r["status"] != "ok"]
    for replica in status["replicas"]:
        if replica["status"] != "ok":
            continue
        trajectory = status_path.parent / f"r{replica['replica']}" / "production" / \
            "trajectory.extxyz"
        current, dipole, dt, volume = production_series(trajectory, settings["charges"])
        blocks = max(1, min(settings["blocks"], int(len(current) * dt // (2 * lag_fs))))
        size = len(current) // blocks
        for block in range(blocks):
            part = slice(block * size, (block + 1) * size)
            samples["green-kubo"].append(green_kubo(current[part], dt, volume, temperature,
                                                    min(lag_fs, (size - 1) * dt)))
            window = min(lag_fs, (size - 1) * dt)
            samples["einstein-helfand"].append(einstein_helfand(
                dipole[part] - dipole[part][0], dt, volume, temperature, window / 2, window))
    rows = {}
    for method, values in samples.items():
        values = np.array(values)
        error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
        rows[method] = (values.mean() if len(values) else np.nan, error, len(values))
    return {"temperature": temperature, "origin": status["origin"], "natoms": status["natoms"],
            "rows": rows, "stopped": stopped}


def conductivity_table(status_files: list[Path], settings: dict) -> pd.DataFrame:
    records = []
    for path in status_files:
        model, phase = path.parts[-4], path.parts[-3]
        estimate = point_estimates(path, settings)
        for method, (sigma, error, samples) in estimate["rows"].items():
            records.append({
                "phase": phase, "temperature_K": estimate["temperature"], "model": model,
                "method": method, "sigma_S_per_cm": sigma, "sigma_error_S_per_cm": error,
                "samples": samples, "natoms": estimate["natoms"], "structure": estimate["origin"],
                "stopped": "; ".join(estimate["stopped"])})
    table = pd.DataFrame.from_records(records)
    return table.sort_values(["phase", "model", "method", "temperature_K"]).reset_index(drop=True)


def conductivity_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    phases = [p for p in ("alpha", "beta", "gamma") if p in set(table["phase"])]
    figure, axes = plt.subplots(1, max(1, len(phases)), figsize=(4.2 * max(1, len(phases)), 3.8),
                                squeeze=False)
    for axis, phase in zip(axes[0], phases):
        part = table[table["phase"] == phase]
        for model, rows in part.groupby("model"):
            colour = MODEL_COLOURS.get(model, None)
            for method, marker, fill in (("green-kubo", "o", colour),
                                         ("einstein-helfand", "s", "none")):
                points = rows[(rows["method"] == method) & (rows["sigma_S_per_cm"] > 0)]
                if points.empty:
                    continue
                x = 1000.0 / points["temperature_K"]
                sigma = points["sigma_S_per_cm"].to_numpy()
                error = np.nan_to_num(points["sigma_error_S_per_cm"].to_numpy())
                lower = np.minimum(error, 0.9 * sigma)  # log axis: keep bars above zero
                label = None
                if method == "green-kubo":
                    fit = arrhenius_fit(points["temperature_K"], sigma)
                    label = model + (f", $E_a$ = {fit[0]:.2f} eV" if fit else "")
                    if fit:
                        grid = np.linspace(x.min(), x.max(), 20)
                        axis.plot(grid, fit[1] * np.exp(-fit[0] * grid / (1000 * 8.617333262e-5)),
                                  color=colour, lw=1)
                axis.errorbar(x, sigma, yerr=[lower, error], fmt=marker, color=colour,
                              mfc=fill, label=label, capsize=2)
        origin = part["structure"].iloc[0] if len(part) else ""
        title = PHASE_TITLES[phase] + ("-Li$_3$PS$_4$ (from β)" if "from beta" in origin
                                       else "-Li$_3$PS$_4$")
        axis.set_title(title)
        axis.set_yscale("log")
        axis.set_xlabel("1000 / T (1/K)")
        axis.legend(fontsize=7, title="filled: Green-Kubo, open: Einstein-Helfand",
                    title_fontsize=6)
    axes[0][0].set_ylabel("σ (S/cm)")
    failed = table.drop_duplicates(["phase", "temperature_K", "model"])["stopped"].fillna("")
    if (failed != "").any():
        figure.text(0.01, 0.01, f"{int((failed != '').sum())} runs stopped by a guard "
                    "(reasons in the CSV)", fontsize=7, color="tab:red")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    args = parser.parse_args(argv)
    table = conductivity_table(args.status, args.settings)
    write_csv(args.table, table)
    conductivity_figure(table, args.figure)
    print(table.drop(columns=["structure"]).to_string(index=False))


if __name__ == "__main__":
    main()
