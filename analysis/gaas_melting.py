"""GaAs melting point table and figure (paper Fig. 5) from the pinned interface runs.

    python -m analysis.gaas_melting --status runs/gaas/*/*K/status.json \\
        --settings '<studies.gaas_melting JSON>' --table T.csv --figure F.pdf

Per model and temperature: ⟨s⟩ over the pinned run after its equilibration share, its
block-averaged error, Δμ = κ (s̄ − ⟨s⟩) / N (see :mod:`analysis.pinning`), and ⟨s⟩
reweighted to every LLPR ensemble member.  Per model: T_m where the straight-line fit of
Δμ(T) crosses zero with its statistical error, and the mean and spread of the members'
T_m (the paper's uncertainty propagation).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import MODEL_COLOURS, pyplot, save_figure, study_parser, write_csv
from analysis.pinning import (
    chemical_potential_difference,
    effective_sample_size,
    melting_point_report,
    reweighted_means,
)
from analysis.statistics import block_average


def pinned_run(status_path: Path, settings: dict) -> dict:
    """⟨s⟩, its error and the members' reweighted ⟨s⟩ for one temperature."""
    status = json.loads(status_path.read_text())
    row = {"temperature_K": status["temperature_K"], "status": status["status"],
           "reason": status.get("reason", ""), "q_solid": status.get("q_solid", np.nan),
           "q_liquid": status.get("q_liquid", np.nan), "members": None}
    if status["status"] != "ok":
        return row
    run = status_path.parent / "pinning"
    records = np.load(run / "records.npz")
    properties = pd.read_csv(run / "properties.csv").set_index("step")
    skip = int(settings["equilibration_fraction"] * len(records["s"]))
    order = records["s"][skip:]
    mean, error = block_average(order, n_blocks=min(5, max(2, len(order) // 5)))
    row.update(s_mean=mean, s_error=error, natoms=status["natoms"])
    if "energy_ensemble" in records:
        # The model term's energy column (the restraint's is potential_q4restraint*).
        model_column = next(c for c in properties.columns if c.startswith("potential_")
                            and not c.startswith("potential_q4") and c != "potential_eV")
        model_energy = properties.loc[records["step"][skip:], model_column].to_numpy()
        ensemble = records["energy_ensemble"][skip:]
        row["members"] = reweighted_means(order, model_energy, ensemble,
                                          status["temperature_K"])
        # Few effective frames behind a member's average: its reweighting is unreliable.
        row["ensemble_min_effective_frames"] = min(
            effective_sample_size(model_energy, ensemble[:, k], status["temperature_K"])
            for k in range(ensemble.shape[1]))
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
            if row["members"] is not None:
                members.setdefault(model, {})[row["temperature_K"]] = \
                    chemical_potential_difference(row["members"], kappa, target, natoms)
        row.pop("members")
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("delta_mu_eV_per_atom", "delta_mu_error_eV_per_atom", "s_mean", "s_error"):
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
        summaries[model] = {
            "melting_point_K": root, "melting_point_error_K": error,
            "ensemble_melting_point_mean_K": member_roots.mean() if len(member_roots) else np.nan,
            "ensemble_melting_point_std_K": member_roots.std(ddof=1) if len(member_roots) > 1
            else np.nan,
            "melting_point_note": note,
            "members": members.get(model, {})}
        for key, value in summaries[model].items():
            if key != "members":
                table.loc[table["model"] == model, key] = value
    table = table.sort_values(["model", "temperature_K"]).reset_index(drop=True)
    return table, summaries


def melting_figure(table: pd.DataFrame, summaries: dict, path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4.0))
    for model, part in table.groupby("model"):
        colour = MODEL_COLOURS.get(model)
        ok = part[part["status"] == "ok"]
        members = summaries[model]["members"]
        if members:
            temperatures = np.array(sorted(members))
            curves = np.array([members[t] for t in temperatures]) * 1000
            axis.plot(temperatures, curves, color=colour, alpha=0.12, lw=0.6)
        root = summaries[model]["melting_point_K"]
        label = model + (f": $T_m$ = {root:.0f} ± {summaries[model]['melting_point_error_K']:.0f}"
                         f" K" if np.isfinite(root) else "")
        spread = summaries[model]["ensemble_melting_point_std_K"]
        if np.isfinite(spread):
            label += f" (ensemble ± {spread:.0f} K)"
        axis.errorbar(ok["temperature_K"], ok["delta_mu_eV_per_atom"] * 1000,
                      yerr=ok["delta_mu_error_eV_per_atom"] * 1000, fmt="o--", color=colour,
                      capsize=2, label=label)
        if np.isfinite(root):
            axis.axvline(root, color=colour, ls=":", lw=1)
    failed = int((table["status"] != "ok").sum())
    if failed:
        axis.text(0.02, 0.02, f"{failed} of {len(table)} points failed (reasons in the CSV)",
                  transform=axis.transAxes, fontsize=7, color="tab:red")
    axis.axhline(0.0, color="0.6", lw=0.8)
    axis.set_xlabel("T (K)")
    axis.set_ylabel("Δμ = μ$_{solid}$ − μ$_{liquid}$ (meV/atom)")
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
    main()
