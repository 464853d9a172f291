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
   cubic phase dominates the run, else ε_∥ and ε_⊥ on the mean dipole (Eqs. 10-11), with
   block-jackknife errors.

Table rows: ``kind`` = temperature (one per run), transition (one per model and pair of
consecutive phases) and dipole_model (its test error).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.dielectric import EPSILON_NAMES, dielectric_summary
from analysis.output import MODEL_COLOURS, pyplot, save_figure, study_parser, write_csv
from analysis.phases import PhaseLandscape, phase_mixture, polar_invariants, transitions

TI_BLOCK = 1  # petmad.dipoles.model.SPECIES = (O, Ti, Ba)


def load_runs(status_paths: list[Path]) -> list[dict]:
    """Every run's status and, when it finished, its sampling frames."""
    from ase.io import read

    runs = []
    for path in status_paths:
        status = json.loads(Path(path).read_text())
        run = {"model": Path(path).parent.parent.name, "status": status["status"],
               "reason": status.get("reason", ""), "temperature_K": status["temperature_K"],
               "natoms": status["natoms"], "frames": []}
        if status["status"] == "ok":
            run["frames"] = read(Path(path).parent / "sampling" / "trajectory.extxyz", index=":")
        runs.append(run)
    return sorted(runs, key=lambda r: (r["model"], r["temperature_K"]))


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

    rows, weights = [], {}
    for index, run in enumerate(runs):
        mine = owner == index
        row = {"kind": "temperature", "model": run["model"], "temperature_K": run["temperature_K"],
               "status": run["status"], "reason": run["reason"], "natoms": run["natoms"],
               "frames": int(mine.sum())}
        if mine.sum() >= 2 and not np.isnan(probabilities[mine]).any():
            population = probabilities[mine].mean(axis=0)
            weights.setdefault(run["model"], []).append((run["temperature_K"],
                                                         probabilities[mine].sum(axis=0)))
            dominant = phases[int(np.argmax(population))]
            volumes = [frame.get_volume() for frame in run["frames"]]
            row.update({f"population_{phase}": p for phase, p in zip(phases, population)})
            row.update(dominant_phase=dominant, volume_A3=float(np.mean(volumes)))
            row.update(dielectric_summary(dipoles[mine], volumes, run["temperature_K"],
                                          cubic=dominant == "cubic",
                                          n_blocks=settings["blocks"]))
        rows.append(row)
    for name, points in weights.items():
        temperatures = np.array([t for t, _ in points])
        summed = np.array([w for _, w in points])
        for transition in transitions(temperatures, summed, phases, settings["min_population"]):
            rows.append({"kind": "transition", "model": name, **transition})
    return {"rows": rows, "cvs": cvs, "anchor_cvs": anchor_cvs, "owner": owner,
            "mixtures": mixtures, "phases": phases}


def table_columns(phases: list[str]) -> list[str]:
    """Columns of a temperature row that only a finished run fills."""
    return ([f"population_{phase}" for phase in phases] + ["dominant_phase", "volume_A3"]
            + EPSILON_NAMES + [f"{name}_error" for name in EPSILON_NAMES] + ["mean_dipole_eA"])


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
        axes.errorbar(rows["temperature_K"], rows["eps_perpendicular"],
                      rows["eps_perpendicular_error"], color=colour, marker="o", ms=4,
                      capsize=2, label=f"{name} ε⊥ (ε in cubic)")
        polar = rows[rows["dominant_phase"] != "cubic"]
        if len(polar):
            axes.errorbar(polar["temperature_K"], polar["eps_parallel"],
                          polar["eps_parallel_error"], color=colour, marker="^", ms=4,
                          ls="--", capsize=2, label=f"{name} ε∥")
        plotted = True
    transitions_rows = table[(table["kind"] == "transition")]
    for _, row in transitions_rows.iterrows():
        if np.isfinite(row["transition_K"]):
            axes.axvline(row["transition_K"], color=MODEL_COLOURS.get(row["model"], "grey"),
                         ls=":", lw=1.2)
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
    axes.set_title(f"BaTiO3, dotted: transition temperatures (Eq. 8 fits); dipole model "
                   f"test RMSE {dipole['dipole_test_rmse_eA']:.3f} e·Å", fontsize=8)
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
    main()
