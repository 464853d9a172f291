"""Li3PS4 conductivity table and figure (paper Fig. 4) from the production trajectories.

    python -m analysis.lps_conductivity --status runs/lps/*/*/*K/status.json \\
        --settings '<studies.lps_conductivity JSON>' --table T.csv --figure F.pdf

Per (model, phase, temperature) and finished replica: σ by Green-Kubo (current
autocorrelation integrated to ``correlation_time_ps``, at most half the run) and by
Einstein-Helfand (slope of the charge-dipole MSD between half and all of that time) over
the whole production run.  Both estimators are time averages over origins, so their
errors come from the autocorrelation of the per-origin series
(:func:`analysis.conductivity.green_kubo_origins`, :mod:`analysis.statistics`), with N_eff;
replicas combine as independent estimates.  The model uncertainty reweights the time
origins to each LLPR ensemble member (the initial conditions' distribution; the dynamics
stay the model's, so this is not the members' own σ).  A point is converged with N_eff ≥ 20,
agreeing halves and at least ``MIN_REPLICAS`` replicas, and only when the run kept its
crystal: the framework atoms (P) stayed on their sites and the volume near the crystal's
(``crystal_held``; a model that melts or swells the lattice gives a melt's σ).  Arrhenius
fits weight the points by their errors and give E_a with its error and the members'
spread.  Points whose runs stopped are listed with the reason and left out of the figure.
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
    arrhenius_fit_errors,
    charge_current,
    einstein_helfand,
    einstein_helfand_origins,
    green_kubo,
    green_kubo_origins,
    unwrapped_charge_dipole,
    unwrapped_displacements,
)
from analysis.output import (
    MODEL_COLOURS,
    VERDICT_NOTE,
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
from analysis.statistics import (
    combine_independent,
    convergence_verdict,
    halves_disagreement,
    mean_error,
)
from petmad.io import UnreadableFileError

PHASE_TITLES = {"alpha": "α", "beta": "β", "gamma": "γ"}


MIN_REPLICAS = 2  # a dynamical average from one trajectory is not called converged


def production_series(trajectory: Path, charges: dict[str, float], framework: list[str]):
    """Charge current (e·Å/fs), unwrapped charge dipole (e·Å), sampling step (fs), mean
    volume (Å³), the frames' steps and the framework atoms' RMS displacement (Å) from the
    first frame to the last of one production run."""
    frames = read(trajectory, index=":")
    symbols = np.array(frames[0].get_chemical_symbols())
    q = np.array([charges.get(symbol, 0.0) for symbol in symbols])
    # ASE velocities are Å per ASE time unit; one fs is units.fs of those.
    velocities = np.array([f.get_velocities() for f in frames]) * units.fs
    positions = np.array([f.positions for f in frames])
    cells = np.array([f.cell.array for f in frames])
    times = np.array([f.info["time_ps"] for f in frames]) * 1000.0
    dt = float(np.median(np.diff(times)))
    volume = float(np.mean([f.get_volume() for f in frames]))
    steps = np.array([f.info.get("step", k) for k, f in enumerate(frames)])
    drift = framework_displacement(positions, cells, np.isin(symbols, framework),
                                   frames[0].get_masses())
    return (charge_current(velocities, q), unwrapped_charge_dipole(positions, cells, q), dt,
            volume, steps, drift)


def framework_displacement(positions: np.ndarray, cells: np.ndarray, framework: np.ndarray,
                           masses: np.ndarray) -> float:
    """RMS displacement (Å) of the atoms selected by the boolean mask ``framework`` from
    the first frame to the last, positions unwrapped frame to frame, less the drift of the
    whole cell's centre of mass.  In a crystal it stays at the thermal amplitude however
    long the run; in a melt it grows with time."""
    if not framework.any():
        return np.nan
    last = unwrapped_displacements(positions, cells)[-1]
    last = last - np.average(last, axis=0, weights=masses)
    return float(np.sqrt(np.mean(np.sum(last[framework]**2, axis=1))))


def crystal_problem(displacement: float, volume_change: float, settings: dict) -> str:
    """Why a point's σ is not the crystal's ('' when it is): the framework atoms left their
    sites (the lattice melted) or the cell swelled or shrank away from the crystal's."""
    problems = []
    if displacement > settings["max_framework_displacement_A"]:
        species = "/".join(settings["framework_species"])
        problems.append(f"{species} moved {displacement:.2f} Å RMS > "
                        f"{settings['max_framework_displacement_A']:g} (lattice melted)")
    if abs(volume_change) > settings["max_volume_change"]:
        problems.append(f"volume {volume_change:+.0%} from the crystal's "
                        f"(limit ±{settings['max_volume_change']:.0%})")
    return "; ".join(problems)


def origin_reweighting(production: Path, steps: np.ndarray, origins: int, temperature: float):
    """The LLPR-ensemble reweighting of the first ``origins`` frames (the time origins of
    the per-origin series); None without an ensemble or when the records miss a frame."""
    path = production / "records.npz"
    records = np.load(path) if path.exists() else {}
    if "energy_ensemble" not in records or origins < 2:
        return None
    covered, rows = aligned(steps[:origins], records["step"])
    if len(covered) != origins:
        return None
    return ensemble_reweighting(records["energy_ensemble"][rows], temperature)


def point_estimates(status_path: Path, settings: dict) -> dict:
    """σ (GK and EH) with errors, N_eff, model uncertainty and verdicts for the runs
    listed in one status.json."""
    status = json.loads(status_path.read_text())
    temperature = status["temperature_K"]
    lag_fs = settings["correlation_time_ps"] * 1000.0
    per_replica = {"green-kubo": [], "einstein-helfand": []}
    lattice = {"displacement": [], "volume_change": []}
    stopped = [r["reason"] for r in status["replicas"] if r["status"] != "ok"]
    if "crystal_volume_A3" not in status:
        raise UnreadableFileError(f"{status_path} does not record the crystal's volume "
                         "(crystal_volume_A3): it predates the crystal check; rerun its "
                         "lps_md job (the trajectories resume)")
    for replica in status["replicas"]:
        if replica["status"] != "ok":
            continue
        production = status_path.parent / f"r{replica['replica']}" / "production"
        current, dipole, dt, volume, steps, drift = production_series(
            production / "trajectory.extxyz", settings["charges"],
            settings["framework_species"])
        lattice["displacement"].append(drift)
        lattice["volume_change"].append(volume / status["crystal_volume_A3"] - 1.0)
        window = min(lag_fs, (len(current) // 2) * dt)  # at least half the run as origins
        series = {
            "green-kubo": green_kubo_origins(current, dt, volume, temperature, window),
            "einstein-helfand": einstein_helfand_origins(dipole, dt, volume, temperature,
                                                         window / 2, window)}
        values = {"green-kubo": green_kubo(current, dt, volume, temperature, window),
                  "einstein-helfand": einstein_helfand(dipole, dt, volume, temperature,
                                                       window / 2, window)}
        for method, origins in series.items():
            estimate = mean_error(origins)
            rw = origin_reweighting(production, steps, len(origins), temperature)
            members = reweighted_means(origins, rw) if rw is not None else None
            per_replica[method].append({
                "value": values[method], "error": estimate.error, "n_eff": estimate.n_eff,
                "origins": len(origins), "members": members, "reweighting": rw,
                "halves_z": halves_disagreement(origins) if len(origins) >= 8 else np.nan})
    # The worst replica speaks for the point: one melted trajectory spoils the average.
    displacement = max(lattice["displacement"], default=np.nan)
    volume_change = max(lattice["volume_change"], key=abs, default=np.nan)
    not_crystal = crystal_problem(displacement, volume_change, settings)
    crystal = {"framework_displacement_A": displacement, "volume_change": volume_change,
               "crystal_held": ("no" if not_crystal else "yes") if lattice["displacement"]
               else ""}
    rows = {}
    for method, replicas in per_replica.items():
        if not replicas:
            rows[method] = {"sigma_S_per_cm": np.nan, "sigma_error_S_per_cm": np.nan,
                            "sigma_n_eff": 0.0, "sigma_model_uncertainty_S_per_cm": np.nan,
                            "replicas": 0, "converged": "no",
                            "convergence_note": "no finished replica", "members": None,
                            "ensemble_note": "", **crystal}
            continue
        value, error, n_eff = combine_independent(
            [r["value"] for r in replicas], [r["error"] for r in replicas],
            [r["n_eff"] for r in replicas], [r["origins"] for r in replicas])
        members = None
        if all(r["members"] is not None for r in replicas):
            weights = np.array([r["origins"] for r in replicas], float)
            members = sum(w * r["members"] for w, r in zip(weights / weights.sum(), replicas))
        reweightings = [r["reweighting"] for r in replicas if r["reweighting"] is not None]
        worst = min(reweightings, key=lambda rw: rw.ess.min() / rw.frames) if reweightings \
            else None
        halves = [r["halves_z"] for r in replicas if np.isfinite(r["halves_z"])]
        extra = [] if np.isfinite(error) else ["run too short for an error"]
        if not_crystal:
            extra.append("not the crystal: " + not_crystal)
        verdict, note = convergence_verdict(
            n_eff=n_eff, halves_z=max(halves) if halves else None,
            ess=worst.ess_check if worst is not None else None, replicas=len(replicas),
            min_replicas=MIN_REPLICAS, extra=extra)
        rows[method] = {
            "sigma_S_per_cm": value, "sigma_error_S_per_cm": error, "sigma_n_eff": n_eff,
            "sigma_model_uncertainty_S_per_cm": spread(members) if members is not None
            else np.nan, "replicas": len(replicas), "converged": verdict,
            "convergence_note": note, "members": members,
            "ensemble_note": (worst.note() + "; time origins reweighted, dynamics the model's")
            if worst is not None else NO_ENSEMBLE, **crystal}
    return {"temperature": temperature, "origin": status["origin"], "natoms": status["natoms"],
            "rows": rows, "stopped": stopped}


def conductivity_table(status_files: list[Path], settings: dict) -> pd.DataFrame:
    records, members = [], {}
    for path in status_files:
        model, phase = path.parts[-4], path.parts[-3]
        estimate = point_estimates(path, settings)
        for method, row in estimate["rows"].items():
            point_members = row.pop("members")
            if point_members is not None:
                members.setdefault((phase, model, method), {})[estimate["temperature"]] = \
                    point_members
            records.append({
                "phase": phase, "temperature_K": estimate["temperature"], "model": model,
                "method": method, **row, "natoms": estimate["natoms"],
                "structure": estimate["origin"], "stopped": "; ".join(estimate["stopped"])})
    table = pd.DataFrame.from_records(records)
    # Arrhenius fits per phase, model and method: E_a with its error from the points'
    # errors, and the spread of the members' E_a (model uncertainty).
    for (phase, model, method), part in table.groupby(["phase", "model", "method"]):
        fit = arrhenius_fit_errors(part["temperature_K"], part["sigma_S_per_cm"],
                                   part["sigma_error_S_per_cm"])
        if fit is None:
            continue
        chosen = (table["phase"] == phase) & (table["model"] == model) & \
            (table["method"] == method)
        table.loc[chosen, "activation_energy_eV"] = fit["activation_energy_eV"]
        table.loc[chosen, "activation_energy_error_eV"] = fit["activation_energy_error_eV"]
        curves = members.get((phase, model, method), {})
        if len(curves) >= 2:
            temperatures = np.array(sorted(curves))
            stacked = np.array([curves[t] for t in temperatures])  # (T, members)
            energies = [arrhenius_fit_errors(temperatures, stacked[:, k])
                        for k in range(stacked.shape[1])]
            table.loc[chosen, "activation_energy_model_uncertainty_eV"] = spread(
                [e["activation_energy_eV"] if e else np.nan for e in energies])
        unconverged = part.loc[part["converged"] != "yes", "temperature_K"]
        table.loc[chosen, "activation_energy_converged"] = "no" if len(unconverged) else "yes"
        table.loc[chosen, "activation_energy_convergence_note"] = (
            "unconverged points at " + ", ".join(f"{t:g} K" for t in unconverged)
            if len(unconverged) else "")
    for column in ("activation_energy_eV", "activation_energy_error_eV",
                   "activation_energy_model_uncertainty_eV"):
        if column not in table:
            table[column] = np.nan
    return table.sort_values(["phase", "model", "method", "temperature_K"]).reset_index(drop=True)


def conductivity_figure(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    phases = [p for p in ("alpha", "beta", "gamma") if p in set(table["phase"])]
    figure, axes = plt.subplots(1, max(1, len(phases)), figsize=(4.2 * max(1, len(phases)), 3.8),
                                squeeze=False)
    for axis, phase in zip(axes[0], phases):
        part = table[table["phase"] == phase]
        for model_name, rows in part.groupby("model"):
            colour = MODEL_COLOURS.get(model_name, None)
            for method, marker in (("green-kubo", "o"), ("einstein-helfand", "s")):
                points = rows[(rows["method"] == method) & (rows["sigma_S_per_cm"] > 0)]
                if points.empty:
                    continue
                x = 1000.0 / points["temperature_K"].to_numpy(float)
                sigma = points["sigma_S_per_cm"].to_numpy(float)
                # log axis: keep the lower bars above zero
                error = np.minimum(np.nan_to_num(points["sigma_error_S_per_cm"].to_numpy(float)),
                                   0.9 * sigma)
                model = np.minimum(np.nan_to_num(
                    points["sigma_model_uncertainty_S_per_cm"].to_numpy(float)), 0.9 * sigma)
                label = None
                if method == "green-kubo":
                    fit = arrhenius_fit(points["temperature_K"], sigma)
                    energy = points["activation_energy_eV"].iloc[0]
                    label = model_name + (
                        f", $E_a$ = {energy:.2f} ± "
                        f"{points['activation_energy_error_eV'].iloc[0]:.2f} eV"
                        if np.isfinite(energy) else "")
                    if fit:
                        grid = np.linspace(x.min(), x.max(), 20)
                        axis.plot(grid, fit[1] * np.exp(-fit[0] * grid / (1000 * 8.617333262e-5)),
                                  color=colour, lw=1)
                draw_points(axis, x, sigma, error, model, points["converged"], colour,
                            marker=marker, label=label if method == "green-kubo" else
                            f"{model_name} (Einstein-Helfand)", size=5 if marker == "o" else 4)
        origin = part["structure"].iloc[0] if len(part) else ""
        title = PHASE_TITLES[phase] + ("-Li$_3$PS$_4$ (from β)" if "from beta" in origin
                                       else "-Li$_3$PS$_4$")
        axis.set_title(title)
        axis.set_yscale("log")
        axis.set_xlabel("1000 / T (1/K)")
        axis.legend(fontsize=6, title="circles: Green-Kubo, squares: Einstein-Helfand",
                    title_fontsize=6)
    axes[0][0].set_ylabel("σ (S/cm)")
    figure.suptitle(VERDICT_NOTE.replace("\n", "; "), fontsize=7)
    points = table.drop_duplicates(["phase", "temperature_K", "model"])
    failed = points["stopped"].fillna("")
    warnings = []
    if (failed != "").any():
        warnings.append(f"{int((failed != '').sum())} runs stopped by a guard")
    melted = points[points["crystal_held"] == "no"]
    if len(melted):
        # The σ of a melted or swollen lattice is drawn (hollow) but is not the phase's.
        models = ", ".join(sorted(set(melted["model"])))
        warnings.append(f"{len(melted)} of {len(points)} points did not keep their crystal "
                        f"({models}): their σ is a melt's, not the phase's")
    if warnings:
        figure.text(0.01, 0.01, "; ".join(warnings) + " (reasons in the CSV)", fontsize=7,
                    color="tab:red")
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    args = parser.parse_args(argv)
    table = conductivity_table(args.status, args.settings)
    write_csv(args.table, table)
    conductivity_figure(table, args.figure)
    print(table.drop(columns=["structure"]).to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
