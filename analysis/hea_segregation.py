"""CoCrFeMnNi (111) surface segregation table and figure (paper Fig. 6) from the REMD/MC runs.

    python -m analysis.hea_segregation --status runs/hea/*/status.json \\
        --settings '<studies.hea_segregation JSON>' --table T.csv --figure F.pdf

Per model: the replica nearest the analysis temperature, Γ_a of every saved frame
(:mod:`analysis.segregation`), its mean over the run after the equilibration share and a
block-averaged error.  The figure's second panel shows window means of Γ_a over the whole
run: from the random start (Γ ≈ 0) to the plateau the averages are taken over.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import MODEL_COLOURS, pyplot, save_figure, study_parser, write_csv
from analysis.segregation import PER_NM2, gibbs_excess, in_plane_area, window_means
from analysis.statistics import block_average

ELEMENT_COLOURS = {"Co": "tab:blue", "Cr": "tab:green", "Fe": "tab:red", "Mn": "tab:purple",
                   "Ni": "tab:olive"}
MODEL_STYLES = {"pet-mad": "-", "bespoke": "--", "lora": ":", "reference": "-."}


def nearest_replica(temperatures: list[float], target: float) -> int:
    return int(np.argmin(np.abs(np.asarray(temperatures) - target)))


def excess_series(run: Path, replica: int, elements: list[str], bulk_thickness: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Simulation times (ps) and Γ_a (atoms/nm², frames × elements) of one replica."""
    from ase.io import read

    frames = read(run / f"trajectory_T{replica:02d}.extxyz", index=":")
    species = np.array(frames[0].get_chemical_symbols())
    if any((np.array(f.get_chemical_symbols()) != species).any() for f in frames):
        raise ValueError(f"{run}: the species of the atoms changed between frames")
    z = np.array([f.positions[:, 2] for f in frames])
    area = np.array([in_plane_area(f.cell.array) for f in frames])
    times = np.array([f.info["time_ps"] for f in frames])
    return times, gibbs_excess(z, species, elements, area, bulk_thickness) * PER_NM2


def model_excess(status_path: Path, settings: dict) -> tuple[list[dict], dict | None]:
    """Table rows of one model and its time series for the convergence panel."""
    status = json.loads(status_path.read_text())
    model = status_path.parent.name
    elements = status["elements"]
    replica = nearest_replica(status["temperatures_K"], settings["analysis_temperature_K"])
    base = {"model": model, "temperature_K": status["temperatures_K"][replica],
            "natoms": status["natoms"], "status": status["status"],
            "reason": status.get("reason", "")}
    if status["status"] != "ok":
        return [{**base, "element": e, "gamma_per_nm2": np.nan, "gamma_error_per_nm2": np.nan}
                for e in elements], None
    times, excess = excess_series(status_path.parent / "remd", replica, elements,
                                  settings["bulk_thickness_A"])
    skip = int(settings["equilibration_fraction"] * len(excess))
    rows = []
    for column, element in enumerate(elements):
        mean, error = block_average(excess[skip:, column], n_blocks=settings["blocks"])
        rows.append({**base, "element": element, "gamma_per_nm2": mean,
                     "gamma_error_per_nm2": error, "frames_averaged": len(excess) - skip})
    series = {"model": model, "elements": elements, "times": times, "excess": excess,
              "start_ps": times[skip] if skip < len(times) else np.nan}
    return rows, series


def segregation_table(status_files: list[Path], settings: dict) -> tuple[pd.DataFrame, list]:
    rows, series = [], []
    for path in status_files:
        model_rows, model_series = model_excess(path, settings)
        rows += model_rows
        if model_series is not None:
            series.append(model_series)
    return pd.DataFrame(rows), series


def segregation_figure(table: pd.DataFrame, series: list[dict], path: Path) -> None:
    plt = pyplot()
    figure, (bars, convergence) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    elements = list(dict.fromkeys(table["element"]))
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / max(1, len(models))
    for k, model in enumerate(models):
        part = table[table["model"] == model].set_index("element").loc[elements]
        positions = np.arange(len(elements)) + (k - (len(models) - 1) / 2) * width
        bars.bar(positions, part["gamma_per_nm2"], width, yerr=part["gamma_error_per_nm2"],
                 color=MODEL_COLOURS.get(model), capsize=2,
                 label=f"{model} ({part['temperature_K'].iloc[0]:.0f} K)")
    bars.axhline(0.0, color="0.5", lw=0.8)
    bars.set_xticks(np.arange(len(elements)), elements)
    bars.set_ylabel("Gibbs surface excess Γ (atoms/nm²)")
    bars.set_title("(111) surface segregation", fontsize=9)
    bars.legend(fontsize=7)
    stopped = table.drop_duplicates("model")
    stopped = stopped[stopped["status"] != "ok"]
    if len(stopped):
        bars.text(0.02, 0.02, f"{len(stopped)} of {len(models)} models stopped: "
                  f"{', '.join(stopped['model'])} (reasons in the CSV)",
                  transform=bars.transAxes, fontsize=7, color="tab:red")
    for entry in series:
        means, centres = window_means(entry["excess"], windows=min(20, len(entry["excess"])))
        times = np.interp(centres, np.arange(len(entry["times"])), entry["times"])
        style = MODEL_STYLES.get(entry["model"], "-")
        for column, element in enumerate(entry["elements"]):
            convergence.plot(times, means[:, column], style, color=ELEMENT_COLOURS.get(element),
                             label=element if entry is series[0] else None)
        convergence.plot([], [], style, color="0.3", label=entry["model"])  # legend entry
        convergence.axvline(entry["start_ps"], color="0.6", ls=":", lw=0.8)
    convergence.axhline(0.0, color="0.5", lw=0.8)
    convergence.set_xlabel("simulation time (ps)")
    convergence.set_ylabel("Γ, window means (atoms/nm²)")
    convergence.set_title("convergence (dotted vertical: averaging starts)", fontsize=9)
    if series:
        convergence.legend(fontsize=7, ncol=2)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    args = parser.parse_args(argv)
    table, series = segregation_table(args.status, args.settings)
    write_csv(args.table, table)
    segregation_figure(table, series, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
