"""Direct forces and multiple time stepping (paper S12, Figs. S16-S17) from the runs of
``petmad.studies.nc_mts``.

    python -m analysis.nc_mts --status runs/nc_mts/pet-mad/status.json \
        --settings '<studies.nc_mts JSON>' --table results/nc_mts.csv --figure results/nc_mts.pdf

Per run (variant × ensemble): how far it got, wall time per inner step and the speed-up
over conservative MD in the same ensemble (same simulated time per step), the mean kinetic
temperature over its second half and its drift, the kinetic temperature of each species,
the drift of the conserved energy (NVE), and the O diffusion coefficient from the slope of
the O mean square displacement.  The figure: temperature against time (NVE, NVT), per
species (NVT), the O-O g(r) and the O MSD of the NVT runs, and the speed-ups.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from ase import units

from analysis.conductivity import (
    BOLTZMANN_EV_K,
    mean_square_displacement,
    unwrapped_displacements,
)
from analysis.output import pyplot, save_figure, study_parser, write_csv
from analysis.rdf import radial_distribution

VARIANT_COLOURS = {"conservative": "tab:blue", "direct": "tab:red", "mts": "tab:green"}
VARIANT_LABELS = {"conservative": "conservative", "direct": "direct forces",
                  "mts": "MTS (direct + conservative)"}


def species_temperatures(velocities: np.ndarray, masses: np.ndarray, symbols: list[str]
                         ) -> dict[str, np.ndarray]:
    """Kinetic temperature of each species per frame, T_s = Σ_{i∈s} m_i v_i² / (3 N_s k_B):
    ``velocities`` (frames, atoms, 3) in Å/fs, ``masses`` in amu."""
    velocities = np.asarray(velocities, float)
    # amu Å²/fs² → eV
    kinetic = 0.5 * np.asarray(masses)[None, :] * np.sum(velocities**2, axis=2) \
        * units._amu * 1e10 / units._e
    symbols = np.asarray(symbols)
    return {s: kinetic[:, symbols == s].sum(axis=1) * 2.0
            / (3.0 * np.count_nonzero(symbols == s) * BOLTZMANN_EV_K)
            for s in dict.fromkeys(symbols.tolist())}


def species_msd(positions: np.ndarray, cells: np.ndarray, symbols: list[str], species: str,
                max_lag: int) -> np.ndarray:
    """Mean square displacement (Å²) of one species over time origins, lags 0..max_lag
    frames, positions unwrapped by the minimum image."""
    displacement = unwrapped_displacements(positions, cells)
    chosen = np.flatnonzero(np.asarray(symbols) == species)
    return np.mean([mean_square_displacement(displacement[:, i], max_lag) for i in chosen],
                   axis=0)


def diffusion_coefficient(msd: np.ndarray, dt_ps: float) -> float:
    """D (Å²/ps) from MSD = 6 D t, fitted on the second half of the lags (past the
    ballistic start); NaN with fewer than four lags."""
    if len(msd) < 4:
        return float("nan")
    lags = np.arange(len(msd)) * dt_ps
    window = slice(len(msd) // 2, None)
    return float(np.polyfit(lags[window], msd[window], 1)[0] / 6.0)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def read_run(directory: Path) -> dict | None:
    """Properties and frames of one run; None when it never started."""
    from ase.io import read

    if not (directory / "properties.csv").exists():
        return None
    properties = pd.read_csv(directory / "properties.csv")
    frames = read(directory / "trajectory.extxyz", index=":") \
        if (directory / "trajectory.extxyz").exists() else []
    return {"properties": properties, "frames": frames}


def run_row(row: dict, run: dict | None, natoms: int, rdf_bins: int) -> tuple[dict, dict]:
    """Table row and plotted curves of one run."""
    out = {key: row[key] for key in ("variant", "ensemble", "status", "reason",
                                     "seconds_per_inner_step")}
    curves: dict = {}
    if run is None or run["properties"].empty:
        return out, curves
    table = run["properties"]
    time_ps = table["time_ps"].to_numpy()
    temperature = table["temperature_K"].to_numpy()
    half = len(table) // 2
    out.update(simulated_ps=float(time_ps[-1]),
               mean_temperature_K=float(temperature[half:].mean()),
               temperature_drift_K_per_ps=_slope(time_ps, temperature),
               conserved_drift_eV_per_atom_ps=_slope(time_ps, table["conserved_eV"]
                                                     .to_numpy()) / natoms)
    curves["temperature"] = (time_ps, temperature)
    frames = run["frames"]
    if len(frames) >= 2:
        symbols = frames[0].get_chemical_symbols()
        velocities = np.array([f.get_velocities() for f in frames]) * units.fs  # Å/fs
        frame_ps = np.array([f.info["time_ps"] for f in frames])
        per_species = species_temperatures(velocities, frames[0].get_masses(), symbols)
        curves["species"] = (frame_ps, per_species)
        for species, series in per_species.items():
            out[f"temperature_{species}_K"] = float(series[len(series) // 2:].mean())
        positions = np.array([f.positions for f in frames])
        cells = np.array([f.cell.array for f in frames])
        dt_ps = float(np.median(np.diff(frame_ps)))
        msd = species_msd(positions, cells, symbols, "O", len(frames) // 2)
        curves["msd"] = (np.arange(len(msd)) * dt_ps, msd)
        out["diffusion_O_A2_per_ps"] = diffusion_coefficient(msd, dt_ps)
        r_max = 0.5 * min(np.linalg.norm(cells[0], axis=1))
        late = slice(len(frames) // 2, None)
        curves["rdf"] = radial_distribution(positions[late], cells[late], symbols, ("O", "O"),
                                            r_max, rdf_bins)
    return out, curves


def nc_mts_tables(status_path: Path, settings: dict) -> tuple[pd.DataFrame, dict]:
    status = json.loads(Path(status_path).read_text())
    rows, curves = [], {}
    for row in status["runs"]:
        directory = Path(status_path).parent / f"{row['variant']}-{row['ensemble']}"
        out, run_curves = run_row(row, read_run(directory), status.get("natoms", 1),
                                  settings["rdf_bins"])
        rows.append(out)
        curves[(row["variant"], row["ensemble"])] = run_curves
    table = pd.DataFrame(rows)
    if table.empty:
        return table, curves
    # speed-up over conservative MD in the same ensemble, per simulated time
    reference = table[table["variant"] == "conservative"].set_index("ensemble")[
        "seconds_per_inner_step"]
    table["speedup"] = [reference.get(e, np.nan) / s if s and np.isfinite(s) else np.nan
                        for e, s in zip(table["ensemble"], table["seconds_per_inner_step"])]
    return table, curves


def nc_mts_figure(table: pd.DataFrame, curves: dict, temperature_K: float, path: Path
                  ) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    (nve, nvt, species), (rdf, msd, speed) = axes
    for (variant, ensemble), run in curves.items():
        colour = VARIANT_COLOURS[variant]
        if "temperature" in run:
            axis = nve if ensemble == "nve" else nvt
            axis.plot(*run["temperature"], color=colour, lw=1, label=VARIANT_LABELS[variant])
        if ensemble != "nvt":
            continue
        if "species" in run:
            times, per_species = run["species"]
            for (name, series), style in zip(per_species.items(), ("-", "--", ":", "-.")):
                species.plot(times, series, ls=style, color=colour, lw=1,
                             label=f"{name}, {variant}")
        if "rdf" in run:
            rdf.plot(*run["rdf"], color=colour, lw=1.2, label=VARIANT_LABELS[variant])
        if "msd" in run:
            msd.plot(*run["msd"], color=colour, lw=1.2, label=VARIANT_LABELS[variant])
    for axis, title in ((nve, "NVE"), (nvt, "NVT (SVR)"), (species, "NVT, per species")):
        axis.axhline(temperature_K, color="grey", lw=0.6, ls=":")
        axis.set(xlabel="time (ps)", ylabel="kinetic temperature (K)", title=title)
    nve.legend(fontsize=7)
    species.legend(fontsize=6, ncol=2)
    rdf.set(xlabel="r (Å)", ylabel="g$_{OO}$(r)", title="O-O pair correlation (NVT)")
    msd.set(xlabel="lag (ps)", ylabel="MSD of O (Å$^2$)", title="O mean square displacement")
    if not table.empty:
        labels, values, colours = [], [], []
        for row in table.itertuples():
            labels.append(f"{row.variant}\n{row.ensemble.upper()}")
            values.append(row.speedup if np.isfinite(row.speedup) else 0.0)
            colours.append(VARIANT_COLOURS[row.variant])
        speed.bar(range(len(values)), values, color=colours)
        speed.set_xticks(range(len(values)), labels, fontsize=7)
        speed.axhline(1.0, color="grey", lw=0.6)
    speed.set(ylabel="speed-up over conservative", title="cost per simulated time")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    args = study_parser(__doc__).parse_args(argv)
    if len(args.status) != 1:
        raise SystemExit("error: give the status.json of one nc-mts job")
    table, curves = nc_mts_tables(args.status[0], args.settings)
    write_csv(args.table, table)
    nc_mts_figure(table, curves, args.settings["temperature_K"], args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
