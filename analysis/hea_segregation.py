"""CoCrFeMnNi (111) surface segregation table and figure (paper Fig. 6) from the REMD/MC runs.

    python -m analysis.hea_segregation --status runs/hea/*/status.json \\
        --settings '<studies.hea_segregation JSON>' --table T.csv --figure F.pdf

Per model: the replica nearest the analysis temperature, Γ_a of every saved frame
(:mod:`analysis.segregation`), its mean over the run after the equilibration share with an
autocorrelation-aware error and N_eff (:mod:`analysis.statistics`), the spread of the
means reweighted to the LLPR ensemble members (model uncertainty,
:mod:`analysis.reweighting`) and a convergence verdict.  The figure's second panel shows window means of Γ_a over the whole
run: from the random start (Γ ≈ 0) to the plateau the averages are taken over.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import (
    MODEL_COLOURS,
    VERDICT_NOTE,
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
from analysis.segregation import PER_NM2, gibbs_excess, in_plane_area, window_means
from analysis.statistics import mean_error, series_verdict

ELEMENT_COLOURS = {"Co": "tab:blue", "Cr": "tab:green", "Fe": "tab:red", "Mn": "tab:purple",
                   "Ni": "tab:olive"}
MODEL_STYLES = {"pet-mad": "-", "bespoke": "--", "lora": ":", "reference": "-."}


def nearest_replica(temperatures: list[float], target: float) -> int:
    return int(np.argmin(np.abs(np.asarray(temperatures) - target)))


def excess_series(run: Path, replica: int, elements: list[str], bulk_thickness: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulation times (ps), Γ_a (atoms/nm², frames × elements) and steps of one replica."""
    from ase.io import read

    frames = read(run / f"trajectory_T{replica:02d}.extxyz", index=":")
    species = np.array(frames[0].get_chemical_symbols())
    if any((np.array(f.get_chemical_symbols()) != species).any() for f in frames):
        raise ValueError(f"{run}: the species of the atoms changed between frames")
    z = np.array([f.positions[:, 2] for f in frames])
    area = np.array([in_plane_area(f.cell.array) for f in frames])
    times = np.array([f.info["time_ps"] for f in frames])
    steps = np.array([f.info.get("step", k) for k, f in enumerate(frames)])
    return times, gibbs_excess(z, species, elements, area, bulk_thickness) * PER_NM2, steps


def replica_reweighting(run: Path, replica: int, steps: np.ndarray, temperature: float):
    """The LLPR-ensemble reweighting of the saved frames of one replica (None without an
    ensemble), and the frames (indices into ``steps``) it covers."""
    path = run / f"records_T{replica:02d}.npz"
    records = np.load(path) if path.exists() else {}
    if "energy_ensemble" not in records:
        return None, None
    frames, rows = aligned(steps, records["step"])
    return ensemble_reweighting(records["energy_ensemble"][rows], temperature), frames


def model_excess(status_path: Path, settings: dict) -> tuple[list[dict], dict | None]:
    """Table rows of one model and its time series for the convergence panel."""
    status = json.loads(status_path.read_text())
    model = status_path.parent.name
    elements = status["elements"]
    replica = nearest_replica(status["temperatures_K"], settings["analysis_temperature_K"])
    temperature = status["temperatures_K"][replica]
    base = {"model": model, "temperature_K": temperature,
            "natoms": status["natoms"], "status": status["status"],
            "reason": status.get("reason", "")}
    if status["status"] != "ok":
        return [{**base, "element": e, "gamma_per_nm2": np.nan, "gamma_error_per_nm2": np.nan,
                 "gamma_n_eff": np.nan, "gamma_model_uncertainty_per_nm2": np.nan,
                 "converged": "no", "convergence_note": "run stopped"}
                for e in elements], None
    times, excess, steps = excess_series(status_path.parent / "remd", replica, elements,
                                         settings["bulk_thickness_A"])
    skip = int(settings["equilibration_fraction"] * len(excess))
    averaged = excess[skip:]
    estimate = mean_error(averaged)
    rw, covered = replica_reweighting(status_path.parent / "remd", replica, steps[skip:],
                                      temperature)
    uncertainty = np.full(len(elements), np.nan)
    if rw is not None:
        uncertainty = np.atleast_1d(spread(reweighted_means(averaged[covered], rw)))
    rows = []
    for column, element in enumerate(elements):
        verdict, note = series_verdict(averaged[:, column],
                                       rw.ess_check if rw is not None else None)
        rows.append({**base, "element": element, "gamma_per_nm2": estimate.value[column],
                     "gamma_error_per_nm2": estimate.error[column],
                     "gamma_n_eff": estimate.n_eff[column],
                     "gamma_model_uncertainty_per_nm2": uncertainty[column],
                     "converged": verdict, "convergence_note": note,
                     "ensemble_note": rw.note() if rw is not None else NO_ENSEMBLE,
                     "frames_averaged": len(excess) - skip})
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
        colour = MODEL_COLOURS.get(model)
        converged = (part["converged"] == "yes").to_numpy()
        bars.bar(positions, part["gamma_per_nm2"], width, edgecolor=colour, lw=1,
                 color=[colour if c else "white" for c in converged],
                 label=f"{model} ({part['temperature_K'].iloc[0]:.0f} K)")
        if part["gamma_model_uncertainty_per_nm2"].notna().any():
            bars.errorbar(positions, part["gamma_per_nm2"],
                          np.nan_to_num(part["gamma_model_uncertainty_per_nm2"].to_numpy(float)),
                          fmt="none", ecolor="tab:orange" if colour in (None, "black") else
                          colour, elinewidth=6, alpha=0.35)
        bars.errorbar(positions, part["gamma_per_nm2"],
                      np.nan_to_num(part["gamma_error_per_nm2"].to_numpy(float)), fmt="none",
                      ecolor="0.2", capsize=2, elinewidth=1)
    bars.axhline(0.0, color="0.5", lw=0.8)
    bars.set_xticks(np.arange(len(elements)), elements)
    bars.set_ylabel("Gibbs surface excess Γ (atoms/nm²)")
    bars.set_title("(111) surface segregation\n" + VERDICT_NOTE.replace("hollow", "white bars"),
                   fontsize=6)
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
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
