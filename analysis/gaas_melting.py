"""GaAs melting point table and figure (paper Fig. 5) from the pinned interface runs.

    python -m analysis.gaas_melting --status runs/gaas/*/*K/status.json \\
        --settings '<studies.gaas_melting JSON>' --table T.csv --figure F.pdf

Per model and temperature: ⟨s⟩ over the pinned run after its equilibration share, its
autocorrelation-aware error and N_eff (:mod:`analysis.statistics`), Δμ = κ (s̄ − ⟨s⟩) / N
(see :mod:`analysis.pinning`), ⟨s⟩ reweighted to every LLPR ensemble member
(:mod:`analysis.reweighting`) and the members' spread of Δμ, and a convergence verdict.
Per model: T_m where the weighted straight-line fit of Δμ(T) crosses zero with its
propagated statistical error, the spread of the members' T_m (its model uncertainty, the
paper's propagation), and a verdict (extrapolated, unconverged points, collapsed
reweighting).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import (
    MODEL_COLOURS,
    VERDICT_NOTE,
    draw_points,
    pyplot,
    save_figure,
    study_parser,
    write_csv,
)
from analysis.pinning import chemical_potential_difference, melting_point_report
from analysis.reweighting import (
    NO_ENSEMBLE,
    ensemble_reweighting,
    reweighted_means,
    spread,
)
from analysis.statistics import convergence_verdict, mean_error, series_verdict


def pinned_run(status_path: Path, settings: dict) -> dict:
    """⟨s⟩, its error, N_eff, verdict and the members' reweighted ⟨s⟩ for one temperature."""
    status = json.loads(status_path.read_text())
    row = {"temperature_K": status["temperature_K"], "status": status["status"],
           "reason": status.get("reason", ""), "q_crystal": status.get("q_crystal", np.nan),
           "q_solid": status.get("q_solid", np.nan),
           "q_liquid": status.get("q_liquid", np.nan),
           "liquid_volume_change": status.get("liquid_volume_change", np.nan), "members": None}
    if status["status"] != "ok":
        row.update(converged="no", convergence_note="run stopped (reason)")
        return row
    run = status_path.parent / "pinning"
    records = np.load(run / "records.npz")
    properties = pd.read_csv(run / "properties.csv").set_index("step")
    skip = int(settings["equilibration_fraction"] * len(records["s"]))
    order = records["s"][skip:]
    estimate = mean_error(order)
    row.update(s_mean=estimate.value, s_error=estimate.error, s_n_eff=estimate.n_eff,
               natoms=status["natoms"])
    ess, notes = None, []
    if "energy_ensemble" in records:
        # The model term's energy column (the restraint's is potential_q4restraint*).
        model_column = next(c for c in properties.columns if c.startswith("potential_")
                            and not c.startswith("potential_q4") and c != "potential_eV")
        model_energy = properties.loc[records["step"][skip:], model_column].to_numpy()
        ensemble = records["energy_ensemble"][skip:]
        rw = ensemble_reweighting(ensemble, status["temperature_K"], model_energy)
        if rw is not None:
            row["members"] = reweighted_means(order, rw)
            # Few effective frames behind a member's average: its reweighting is unreliable.
            row["ensemble_min_effective_frames"] = float(rw.ess.min())
            row["ensemble_reweighting"] = rw.note()
            ess = rw.ess_check
    if row["members"] is None:
        notes.append(NO_ENSEMBLE)
    row["converged"], row["convergence_note"] = series_verdict(order, ess)
    row["ensemble_note"] = "; ".join(notes)
    return row


def melting_table(status_files: list[Path], settings: dict) -> tuple[pd.DataFrame, dict]:
    kappa, target = settings["kappa_eV"], settings["target"]
    rows, members = [], {}
    for path in status_files:
        model = path.parts[-3]
        row = pinned_run(path, settings)
        row["model"] = model
        if row["status"] == "ok":
            natoms = row["natoms"]
            row["delta_mu_eV_per_atom"] = chemical_potential_difference(
                row["s_mean"], kappa, target, natoms)
            row["delta_mu_error_eV_per_atom"] = kappa * row["s_error"] / natoms
            row["delta_mu_n_eff"] = row["s_n_eff"]
            row["delta_mu_model_uncertainty_eV_per_atom"] = np.nan
            if row["members"] is not None:
                member_mu = chemical_potential_difference(row["members"], kappa, target, natoms)
                members.setdefault(model, {})[row["temperature_K"]] = member_mu
                row["delta_mu_model_uncertainty_eV_per_atom"] = spread(member_mu)
        row.pop("members")
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("delta_mu_eV_per_atom", "delta_mu_error_eV_per_atom", "delta_mu_n_eff",
                   "delta_mu_model_uncertainty_eV_per_atom", "s_mean", "s_error", "s_n_eff",
                   "converged", "convergence_note"):
        if column not in table:
            table[column] = np.nan
    summaries = {}
    for model, part in table.groupby("model"):
        ok = part[part["status"] == "ok"]
        root, error, note = melting_point_report(ok["temperature_K"],
                                                 ok["delta_mu_eV_per_atom"],
                                                 ok["delta_mu_error_eV_per_atom"])
        member_roots = []
        if model in members and len(members[model]) >= 2:
            temperatures = np.array(sorted(members[model]))
            curves = np.array([members[model][t] for t in temperatures])  # (T, members)
            member_roots = [melting_point_report(temperatures, curves[:, k])[0]
                            for k in range(curves.shape[1])]
        member_roots = np.array([r for r in member_roots if np.isfinite(r)])
        grid = ok["temperature_K"].to_numpy(float)
        extrapolated = bool(np.isfinite(root) and len(grid)
                            and not grid.min() <= root <= grid.max())
        reasons = [f"point at {t:g} K unconverged"
                   for t, c in zip(ok["temperature_K"], ok["converged"]) if c != "yes"]
        if not np.isfinite(root):
            reasons.append(note)
        collapsed = [t for t, text in zip(part["temperature_K"],
                                          part.get("ensemble_reweighting", [""] * len(part)))
                     if isinstance(text, str) and "collapsed" in text]
        if collapsed:
            reasons.append("ensemble ESS collapsed at " + ", ".join(f"{t:g} K" for t in collapsed))
        verdict, why = convergence_verdict(extrapolated=extrapolated, extra=reasons)
        summaries[model] = {
            "melting_point_K": root, "melting_point_error_K": error,
            "melting_point_model_uncertainty_K": spread(member_roots) if len(member_roots) > 1
            else np.nan,
            "ensemble_melting_point_mean_K": member_roots.mean() if len(member_roots) else np.nan,
            "melting_point_note": note if model in members else f"{note}; {NO_ENSEMBLE}",
            "melting_point_converged": verdict, "melting_point_convergence_note": why,
            "members": members.get(model, {})}
        for key, value in summaries[model].items():
            if key != "members":
                table.loc[table["model"] == model, key] = value
    table = table.sort_values(["model", "temperature_K"]).reset_index(drop=True)
    return table, summaries


def melting_figure(table: pd.DataFrame, summaries: dict, path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for model, part in table.groupby("model"):
        colour = MODEL_COLOURS.get(model)
        ok = part[part["status"] == "ok"]
        members = summaries[model]["members"]
        if members:
            temperatures = np.array(sorted(members))
            curves = np.array([members[t] for t in temperatures]) * 1000
            axis.plot(temperatures, curves, color=colour, alpha=0.12, lw=0.6)
        summary = summaries[model]
        root = summary["melting_point_K"]
        label = model + (f": $T_m$ = {root:.0f} ± {summary['melting_point_error_K']:.0f}"
                         f" K" if np.isfinite(root) else "")
        spread_K = summary["melting_point_model_uncertainty_K"]
        if np.isfinite(spread_K):
            label += f" (model ± {spread_K:.0f} K)"
        if summary["melting_point_converged"] != "yes":
            label += ", not converged"
        draw_points(axis, ok["temperature_K"], ok["delta_mu_eV_per_atom"] * 1000,
                    ok["delta_mu_error_eV_per_atom"] * 1000,
                    ok["delta_mu_model_uncertainty_eV_per_atom"] * 1000, ok["converged"],
                    colour, line="--", label=label)
        if np.isfinite(root):
            axis.axvline(root, color=colour, ls=":" if summary["melting_point_converged"] ==
                         "yes" else (0, (1, 4)), lw=1)
            if np.isfinite(spread_K):
                axis.axvspan(root - spread_K, root + spread_K, color=colour, alpha=0.08, lw=0)
    failed = int((table["status"] != "ok").sum())
    if failed:
        axis.text(0.02, 0.02, f"{failed} of {len(table)} points failed (reasons in the CSV)",
                  transform=axis.transAxes, fontsize=7, color="tab:red")
    axis.axhline(0.0, color="0.6", lw=0.8)
    axis.set_xlabel("T (K)")
    axis.set_ylabel("Δμ = μ$_{solid}$ − μ$_{liquid}$ (meV/atom)")
    axis.set_title(VERDICT_NOTE + "; thin lines: ensemble members; band: T$_m$ model "
                   "uncertainty", fontsize=6)
    axis.legend(fontsize=7)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__)
    args = parser.parse_args(argv)
    table, summaries = melting_table(args.status, args.settings)
    write_csv(args.table, table)
    melting_figure(table, summaries, args.figure)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
