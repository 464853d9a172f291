"""BaTiO3 phases, transition temperatures and static dielectric tensor (paper Fig. 9) from
the flexible-cell NPT runs.

    python -m analysis.bto_dielectric --status runs/bto/*/*K/status.json \\
        --dipole-model models/bto/dipole.npz --dipole-test models/bto/dipole_test.csv \\
        --settings '<studies.bto_dielectric JSON>' --seed 0 --table T.csv --figure F.pdf

1. Every saved sampling frame gets the λ = 1 SOAP features of the dipole model (featomic):
   its cell dipole M is the model's prediction, and the Ti block of the same features gives
   the collective variables (:mod:`analysis.phases`): one landscape shared by all models,
   spanned by the shipped ideal phase structures.
2. Per model, a Gaussian mixture (one component per phase, started at the ideal phases)
   gives every frame its phase probabilities; their sums per temperature are the phase
   populations, and Δμ between consecutive phases (Eq. 8), fitted linearly in T, the
   transition temperatures with their errors.
3. Per model and temperature, ε_r from the dipole covariance (Eq. 9): the scalar when the
   cubic phase dominates the run, else ε_∥ and ε_⊥ on the mean dipole (Eqs. 10-11).

Every population and ε carries an autocorrelation-aware error and N_eff
(:mod:`analysis.statistics`), a model uncertainty (the spread over the LLPR ensemble
members of the frames reweighted to each, :mod:`analysis.reweighting`; NaN for a model
without an ensemble) and a convergence verdict; every transition temperature its fit
error, the spread of the members' transition temperatures and a verdict.

Table rows: ``kind`` = temperature (one per run), transition (one per model and pair of
consecutive phases) and dipole_model (its test error).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.dielectric import EPSILON_NAMES, dielectric_summary
from analysis.output import (
    MODEL_COLOURS,
    VERDICT_NOTE,
    draw_points,
    pyplot,
    save_figure,
    study_parser,
    write_csv,
)
from analysis.phases import PhaseLandscape, phase_mixture, polar_invariants, transitions
from analysis.reweighting import (
    NO_ENSEMBLE,
    aligned,
    ensemble_reweighting,
    reweighted_means,
    spread,
)
from analysis.statistics import convergence_verdict, mean_error

TI_BLOCK = 1  # petmad.dipoles.model.SPECIES = (O, Ti, Ba)


def load_runs(status_paths: list[Path]) -> list[dict]:
    """Every run's status and, when it finished, its sampling frames."""
    from ase.io import read

    runs = []
    for path in status_paths:
        status = json.loads(Path(path).read_text())
        run = {"model": Path(path).parent.parent.name, "status": status["status"],
               "reason": status.get("reason", ""), "temperature_K": status["temperature_K"],
               "natoms": status["natoms"], "frames": [], "reweighting": None}
        if status["status"] == "ok":
            sampling = Path(path).parent / "sampling"
            run["frames"] = read(sampling / "trajectory.extxyz", index=":")
            run["reweighting"] = frame_reweighting(sampling, run["frames"],
                                                   status["temperature_K"])
        runs.append(run)
    return sorted(runs, key=lambda r: (r["model"], r["temperature_K"]))


def frame_reweighting(sampling: Path, frames: list, temperature: float):
    """The LLPR-ensemble reweighting of every saved frame (None without an ensemble, or
    when the records do not cover every frame)."""
    path = sampling / "records.npz"
    records = np.load(path) if path.exists() else {}
    if "energy_ensemble" not in records:
        return None
    steps = np.array([frame.info.get("step", k) for k, frame in enumerate(frames)])
    covered, rows = aligned(steps, records["step"])
    if len(covered) != len(frames):
        return None
    return ensemble_reweighting(records["energy_ensemble"][rows], temperature)


def cell_invariants(features: np.ndarray, frames: list) -> np.ndarray:
    """Intensive CV rows (per 5-atom cell) of the Ti block of the dipole features."""
    width = features.shape[2] // 3
    titanium = features[:, :, TI_BLOCK * width:(TI_BLOCK + 1) * width]
    cells = np.array([frame.cell.array for frame in frames])
    counts = np.array([np.count_nonzero(frame.numbers == 22) for frame in frames])
    return polar_invariants(titanium / counts[:, None, None], cells)


def ideal_phase_frames(phases: list[str], supercell: list[int]) -> list:
    from petmad.data.systems import bto_pseudocubic_cell

    return [bto_pseudocubic_cell(phase).repeat(supercell) for phase in phases]


def analyse(runs: list[dict], model, settings: dict, seed: int) -> dict:
    """Dipoles, CVs, mixtures, table rows: everything the figure and the table need."""
    from petmad.dipoles.model import lambda_soap_cell_features

    phases = settings["landscape"]["phases"]
    frames = [frame for run in runs for frame in run["frames"]]
    owner = np.concatenate([[i] * len(run["frames"]) for i, run in enumerate(runs)]
                           ).astype(int) if frames else np.zeros(0, int)
    anchors = ideal_phase_frames(phases, settings["supercell"])
    features = lambda_soap_cell_features(frames + anchors, model.settings)
    dipoles = model.predict_features(features[:len(frames)])
    invariants = cell_invariants(features, frames + anchors)
    landscape = PhaseLandscape.fit(invariants[:len(frames)], invariants[len(frames):],
                                   settings["landscape"]["components"])
    cvs = landscape.project(invariants[:len(frames)])
    anchor_cvs = landscape.project(invariants[len(frames):])
    probabilities = np.full((len(frames), len(phases)), np.nan)
    mixtures = {}
    for name in sorted({run["model"] for run in runs}):
        mine = np.isin(owner, [i for i, run in enumerate(runs) if run["model"] == name])
        if mine.sum() < 2 * len(phases):
            continue
        mixtures[name] = phase_mixture(cvs[mine], anchor_cvs, seed)
        probabilities[mine] = mixtures[name].predict_proba(cvs[mine])

    rows, weights, member_weights = [], {}, {}
    for index, run in enumerate(runs):
        mine = owner == index
        row = {"kind": "temperature", "model": run["model"], "temperature_K": run["temperature_K"],
               "status": run["status"], "reason": run["reason"], "natoms": run["natoms"],
               "frames": int(mine.sum())}
        rw = run["reweighting"]
        if run["status"] != "ok":
            row.update(converged="no", convergence_note="run stopped (reason)")
        if mine.sum() >= 2 and not np.isnan(probabilities[mine]).any():
            population = mean_error(probabilities[mine])
            weights.setdefault(run["model"], []).append((run["temperature_K"],
                                                         probabilities[mine].sum(axis=0)))
            population_model = np.full(len(phases), np.nan)
            if rw is not None:
                members = reweighted_means(probabilities[mine], rw)  # (members, phases)
                population_model = spread(members)
                member_weights.setdefault(run["model"], []).append(members * mine.sum())
            dominant = phases[int(np.argmax(population.value))]
            volumes = [frame.get_volume() for frame in run["frames"]]
            for k, phase in enumerate(phases):
                row.update({f"population_{phase}": population.value[k],
                            f"population_{phase}_error": population.error[k],
                            f"population_{phase}_n_eff": population.n_eff[k],
                            f"population_{phase}_model_uncertainty": population_model[k]})
            row.update(dominant_phase=dominant, volume_A3=float(np.mean(volumes)))
            row.update(dielectric_summary(dipoles[mine], volumes, run["temperature_K"],
                                          cubic=dominant == "cubic", reweighting=rw))
            row["ensemble_note"] = rw.note() if rw is not None else NO_ENSEMBLE
        rows.append(row)
    for name, points in weights.items():
        temperatures = np.array([t for t, _ in points])
        summed = np.array([w for _, w in points])
        member_rows = []
        if name in member_weights and len(member_weights[name]) == len(points):
            stacked = np.array(member_weights[name])  # (temperatures, members, phases)
            member_rows = [transitions(temperatures, stacked[:, k], phases,
                                       settings["min_population"])
                           for k in range(stacked.shape[1])]
        unconverged = [f"{r['temperature_K']:g} K" for r in rows
                       if r.get("model") == name and r.get("converged") == "no"]
        for pair, transition in enumerate(transitions(temperatures, summed, phases,
                                                      settings["min_population"])):
            roots = [member[pair]["transition_K"] for member in member_rows]
            uncertainty = spread(roots) if len(roots) > 1 else np.nan
            root = transition["transition_K"]
            reasons = [] if transition["points"] >= 3 else \
                [f"{transition['points']} usable temperatures (fewer than 3: no error)"]
            if unconverged:
                reasons.append("unconverged points at " + ", ".join(unconverged))
            extrapolated = bool(np.isfinite(root) and not
                                temperatures.min() <= root <= temperatures.max())
            verdict, note = convergence_verdict(extrapolated=extrapolated, extra=reasons)
            rows.append({"kind": "transition", "model": name, **transition,
                         "transition_model_uncertainty_K": uncertainty,
                         "converged": verdict, "convergence_note": note,
                         "ensemble_note": NO_ENSEMBLE if not member_rows else
                         f"{len(member_rows)} members"})
    return {"rows": rows, "cvs": cvs, "anchor_cvs": anchor_cvs, "owner": owner,
            "mixtures": mixtures, "phases": phases}


def table_columns(phases: list[str]) -> list[str]:
    """Columns of a temperature row that only a finished run fills."""
    return ([f"population_{phase}{suffix}" for phase in phases
             for suffix in ("", "_error", "_n_eff", "_model_uncertainty")]
            + ["dominant_phase", "volume_A3"] + EPSILON_NAMES
            + [f"{name}{suffix}" for name in EPSILON_NAMES
               for suffix in ("_error", "_n_eff", "_model_uncertainty")]
            + ["mean_dipole_eA", "converged", "convergence_note", "ensemble_note"])


def dipole_model_row(model, test_csv: Path) -> dict:
    test = pd.read_csv(test_csv)
    reference = test[[f"reference_{a}_eA" for a in "xyz"]].to_numpy()
    predicted = test[[f"predicted_{a}_eA" for a in "xyz"]].to_numpy()
    return {"kind": "dipole_model", "model": "dipole_model",
            "dipole_test_rmse_eA": float(np.sqrt(np.mean((predicted - reference) ** 2))),
            "dipole_test_structures": len(test),
            "dipole_label_std_eA": model.metrics.get("label_std_eA", np.nan),
            "reason": ", ".join(model.metrics.get("label_sources", []))}


def bto_figure(table: pd.DataFrame, result: dict, path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.0, 4.8))
    states = table[(table["kind"] == "temperature")]
    plotted = False
    for name, rows in states.groupby("model", sort=False):
        if "eps_iso" not in rows or rows["eps_iso"].isna().all():
            continue
        rows = rows.sort_values("temperature_K")
        colour = MODEL_COLOURS.get(name, None)
        draw_points(axes, rows["temperature_K"], rows["eps_perpendicular"],
                    rows["eps_perpendicular_error"], rows["eps_perpendicular_model_uncertainty"],
                    rows["converged"], colour, marker="o", line="-", size=4,
                    label=f"{name} ε⊥ (ε in cubic)")
        polar = rows[rows["dominant_phase"] != "cubic"]
        if len(polar):
            draw_points(axes, polar["temperature_K"], polar["eps_parallel"],
                        polar["eps_parallel_error"], polar["eps_parallel_model_uncertainty"],
                        polar["converged"], colour, marker="^", line="--", size=4,
                        label=f"{name} ε∥")
        plotted = True
    transitions_rows = table[(table["kind"] == "transition")]
    for _, row in transitions_rows.iterrows():
        if np.isfinite(row["transition_K"]):
            colour = MODEL_COLOURS.get(row["model"], "grey")
            axes.axvline(row["transition_K"], color=colour, lw=1.2,
                         ls=":" if row.get("converged") == "yes" else (0, (1, 4)))
            for width, alpha in ((row.get("transition_error_K"), 0.12),
                                 (row.get("transition_model_uncertainty_K"), 0.06)):
                if width is not None and np.isfinite(width):
                    axes.axvspan(row["transition_K"] - width, row["transition_K"] + width,
                                 color=colour, alpha=alpha, lw=0)
    axes.set_xlabel("temperature (K)")
    axes.set_ylabel("static dielectric constant ε_r")
    temperatures = states["temperature_K"]
    axes.set_xlim(temperatures.min() - 20, temperatures.max() + 20)
    if plotted:
        positive = states[["eps_perpendicular", "eps_parallel"]].to_numpy(dtype=float)
        if np.nanmin(positive) > 0:
            axes.set_yscale("log")
        axes.legend(fontsize=7, loc="upper left")
    else:
        axes.text(0.5, 0.5, "no run finished", transform=axes.transAxes, ha="center")
    dipole = table[table["kind"] == "dipole_model"].iloc[0]
    axes.set_title(f"BaTiO3, dotted: transition temperatures (Eq. 8 fits; sparse dots: not "
                   f"converged; bands: statistical and model errors); dipole model test RMSE "
                   f"{dipole['dipole_test_rmse_eA']:.3f} e·Å\n" + VERDICT_NOTE.replace("\n", "; "),
                   fontsize=6)
    landscape_inset(figure, axes, result)
    save_figure(figure, path)


def landscape_inset(figure, axes, result: dict) -> None:
    """CV landscape of every frame (grey), the ideal phases (labelled), and each model's
    0.5-probability contour of every phase."""
    cvs, anchors = result["cvs"], result["anchor_cvs"]
    inset = axes.inset_axes([0.62, 0.55, 0.36, 0.42])
    inset.tick_params(labelsize=6)
    if cvs.ndim != 2 or cvs.shape[1] < 2 or len(cvs) == 0:
        inset.text(0.5, 0.5, "landscape needs 2 CVs", ha="center", fontsize=6,
                   transform=inset.transAxes)
        return
    inset.scatter(cvs[:, 0], cvs[:, 1], s=2, color="0.75", rasterized=True)
    for phase, point in zip(result["phases"], anchors):
        inset.scatter(*point[:2], marker="x", color="red", s=15)
        inset.annotate(phase[0].upper(), point[:2], fontsize=7, color="red",
                       xytext=(3, 3), textcoords="offset points")
    everything = np.concatenate([cvs[:, :2], anchors[:, :2]])
    low, high = everything.min(axis=0), everything.max(axis=0)
    pad = 0.1 * (high - low) + 1e-9
    grid_x, grid_y = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], 120),
                                 np.linspace(low[1] - pad[1], high[1] + pad[1], 120))
    for name, mixture in result["mixtures"].items():
        if mixture.means_.shape[1] != 2:
            continue
        probability = mixture.predict_proba(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
        for k in range(probability.shape[1]):
            surface = probability[:, k].reshape(grid_x.shape)
            if surface.min() < 0.5 < surface.max():
                inset.contour(grid_x, grid_y, surface, levels=[0.5], linewidths=0.8,
                              colors=[MODEL_COLOURS.get(name, "grey")])
    inset.set_xlabel("CV 1", fontsize=6)
    inset.set_ylabel("CV 2", fontsize=6)


def main(argv: list[str] | None = None) -> None:
    from petmad.dipoles.model import DipoleModel

    parser = study_parser(__doc__)
    parser.add_argument("--dipole-model", type=Path, required=True)
    parser.add_argument("--dipole-test", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = DipoleModel.load(args.dipole_model)
    runs = load_runs(args.status)
    result = analyse(runs, model, args.settings, args.seed)
    table = pd.DataFrame(result["rows"] + [dipole_model_row(model, args.dipole_test)])
    # the same columns whether or not any run finished
    table = table.reindex(columns=list(table.columns) + [
        c for c in table_columns(args.settings["landscape"]["phases"]) if c not in table])
    write_csv(args.table, table)
    bto_figure(table, result, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
