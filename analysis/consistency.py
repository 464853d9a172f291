"""Consistency scorecard: the headline number of every case study, per model, set against
the bespoke model's and the reference engine's own run.

The paper's claims are about consistency: a LoRA fine-tune agrees with the bespoke model,
and where PET-MAD misses, its LLPR ensemble spread covers the miss.  This module turns each
study's table into rows of (study, observable, model, value, statistical error, model
uncertainty, converged) and, for every model beside a bespoke or reference value of the
same observable, the difference Δ with two z-scores:

- ``z_statistical`` = Δ / sqrt(σ² + σ_ref²), the statistical errors alone;
- ``z_total`` = Δ / sqrt(u² + σ² + σ_ref²), with the model's own uncertainty u added.

"Model uncertainty covers the discrepancy" when u is known and |z_total| ≤ 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import REFERENCE, pyplot, save_figure, write_csv
from analysis.water_pimd import OO_FIRST_PEAK_MAX_A, first_peaks

TARGETS = ("bespoke", REFERENCE)
COVERAGE_Z = 2.0
HEA_ELEMENTS = ("Ni", "Cr", "Mn")


def _number(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _converged(value: object) -> bool | None:
    if isinstance(value, str) and value in ("yes", "no"):
        return value == "yes"
    return None


def _observation(study: str, observable: str, unit: str, row: pd.Series, value: str,
                 error: str, uncertainty: str, converged: str = "converged") -> dict:
    return {"study": study, "observable": observable, "unit": unit, "model": row["model"],
            "value": _number(row.get(value)), "error": _number(row.get(error)),
            "model_uncertainty": _number(row.get(uncertainty)),
            "converged": _converged(row.get(converged))}


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"] if "status" in table else table


def gaas_observables(table: pd.DataFrame) -> Iterator[dict]:
    for _, row in table.groupby("model", sort=False).head(1).iterrows():
        yield _observation("gaas", "T_m", "K", row, "melting_point_K", "melting_point_error_K",
                           "melting_point_model_uncertainty_K", "melting_point_converged")


def lps_observables(table: pd.DataFrame) -> Iterator[dict]:
    kubo = table[table["method"] == "green-kubo"]
    for _, row in kubo.iterrows():
        yield _observation("lps", f"σ {row['phase']} {row['temperature_K']:g} K", "S/cm", row,
                           "sigma_S_per_cm", "sigma_error_S_per_cm",
                           "sigma_model_uncertainty_S_per_cm")
    if "activation_energy_eV" in kubo:
        for _, row in kubo.dropna(subset=["activation_energy_eV"]).groupby(
                ["model", "phase"], sort=False).head(1).iterrows():
            yield _observation("lps", f"E_a {row['phase']}", "eV", row, "activation_energy_eV",
                               "activation_energy_error_eV",
                               "activation_energy_model_uncertainty_eV",
                               "activation_energy_converged")


def hea_observables(table: pd.DataFrame) -> Iterator[dict]:
    for _, row in _ok(table)[table["element"].isin(HEA_ELEMENTS)].iterrows():
        yield _observation("hea", f"Γ_{row['element']}", "nm⁻²", row, "gamma_per_nm2",
                           "gamma_error_per_nm2", "gamma_model_uncertainty_per_nm2")


def water_observables(table: pd.DataFrame, rdf: pd.DataFrame | None) -> Iterator[dict]:
    finished = _ok(table)
    for model, runs in finished.groupby("model", sort=False):
        row = runs.loc[runs["beads"].idxmax()]
        yield _observation("water", f"C_V (P = {int(row['beads'])})", "J/(mol K)", row,
                           "heat_capacity_J_mol_K", "heat_capacity_error_J_mol_K",
                           "heat_capacity_model_uncertainty_J_mol_K")
    if rdf is None or rdf.empty:
        return
    oxygen = rdf[(rdf["pair"] == "O-O") & (rdf["r_A"] < OO_FIRST_PEAK_MAX_A)]
    for model, curves in oxygen.groupby("model", sort=False):
        if model == REFERENCE and curves["beads"].max() == 1:
            continue  # its held-out MD is classical: only the peak position compares
        curve = curves[curves["beads"] == curves["beads"].max()]
        if curve["g"].notna().any():
            peak = curve.loc[curve["g"].idxmax()]
            yield _observation("water", f"g_OO first peak height (P = {int(peak['beads'])})",
                               "1", peak, "g", "g_error", "g_model_uncertainty")
    if "first_peak_A" in rdf:  # its position, classical, held against the reference's MD
        peaks = first_peaks(rdf)
        for _, peak in peaks[peaks["beads"] == 1].iterrows():
            yield _observation("water", "g_OO first peak position (classical)", "Å", peak,
                               "first_peak_A", "first_peak_error_A", "no model uncertainty")


def succinic_observables(table: pd.DataFrame) -> Iterator[dict]:
    for _, row in _ok(table).iterrows():
        yield _observation("succinic", f"σ_iso {row['site']} {str(row['sampling']).upper()}",
                           "ppm", row, "mean_ppm", "error_ppm", "model_uncertainty_ppm")


def bto_observables(table: pd.DataFrame) -> Iterator[dict]:
    for _, row in table[table["kind"] == "transition"].iterrows():
        if pd.notna(row.get("transition_K")):
            yield _observation("bto", f"T {row['low_phase']}→{row['high_phase']}", "K", row,
                               "transition_K", "transition_error_K",
                               "transition_model_uncertainty_K")
    for _, row in _ok(table[table["kind"] == "temperature"]).iterrows():
        yield _observation("bto", f"ε_iso {row['temperature_K']:g} K", "", row, "eps_iso",
                           "eps_iso_error", "eps_iso_model_uncertainty")


def headline_observables(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (study, observable, model) from the studies' tables that exist
    (keys: the table names, e.g. 'gaas_melting'; 'water_rdf' beside 'water_pimd')."""
    extractors = {
        "gaas_melting": gaas_observables,
        "lps_conductivity": lps_observables,
        "hea_segregation": hea_observables,
        "succinic_nmr": succinic_observables,
        "bto_dielectric": bto_observables,
    }
    rows: list[dict] = []
    for name, extract in extractors.items():
        if name in tables:
            rows += extract(tables[name])
    if "water_pimd" in tables:
        rows += water_observables(tables["water_pimd"], tables.get("water_rdf"))
    return pd.DataFrame(rows, columns=["study", "observable", "unit", "model", "value", "error",
                                       "model_uncertainty", "converged"])


def _covered(z_total: float, uncertainty: float) -> str:
    if not np.isfinite(uncertainty):
        return "no model uncertainty"
    if not np.isfinite(z_total):
        return "no value"
    return "yes" if abs(z_total) <= COVERAGE_Z else "no"


def scorecard(observables: pd.DataFrame) -> pd.DataFrame:
    """``observables`` with, for every target in :data:`TARGETS` that has the same
    observable, the difference from it, both z-scores and the coverage verdict."""
    table = observables.copy()
    for target in TARGETS:
        reference = observables.loc[observables["model"] == target,
                                    ["study", "observable", "value", "error", "converged"]]
        joined = table[["study", "observable"]].merge(
            reference.drop_duplicates(["study", "observable"]), how="left",
            on=["study", "observable"]).add_suffix("_target").set_index(table.index)
        joined = pd.concat([table, joined], axis=1)
        delta = joined["value"] - joined["value_target"]
        # A value without a statistical error (e.g. a g(r) peak with no single maximum) has
        # no z: zero error would make any difference look significant.
        statistical = np.hypot(joined["error"], joined["error_target"])
        total = np.sqrt(statistical**2 + joined["model_uncertainty"].fillna(0.0) ** 2)
        itself = table["model"] == target
        with np.errstate(divide="ignore", invalid="ignore"):
            z_statistical = (delta / statistical).where(~itself)
            z_total = (delta / total).where(~itself)
        table[f"delta_vs_{target}"] = delta.where(~itself)
        table[f"z_statistical_vs_{target}"] = z_statistical
        table[f"z_total_vs_{target}"] = z_total
        table[f"covered_vs_{target}"] = [
            "" if (own or not np.isfinite(d)) else _covered(z, u)
            for own, d, z, u in zip(itself, delta, z_total, table["model_uncertainty"])]
        table[f"both_converged_vs_{target}"] = [
            "" if (own or not np.isfinite(d)) else
            ("yes" if (a is True and b is True) else "no")
            for own, d, a, b in zip(itself, delta, table["converged"], joined["converged_target"])]
    table["converged"] = table["converged"].map({True: "yes", False: "no"}).fillna("unknown")
    return table


def draw(table: pd.DataFrame, path: Path) -> None:
    """One panel per study: z_total of every model against bespoke (circles) and the
    reference (squares); hollow where either value is unconverged; |z| = 2 dashed."""
    plt = pyplot()
    studies = list(dict.fromkeys(table["study"])) or ["(no study)"]
    heights = [1.0 + 0.25 * table.loc[table["study"] == s, "observable"].nunique()
               for s in studies]
    figure, axes = plt.subplots(len(studies), 1, figsize=(7, 0.6 + sum(heights)),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    for axis, study in zip(axes[:, 0], studies):
        rows = table[table["study"] == study]
        labels = list(dict.fromkeys(rows["observable"]))
        drawn = False
        for target, marker in zip(TARGETS, ("o", "s")):
            z = rows[f"z_total_vs_{target}"]
            for (_, row), value in zip(rows.iterrows(), z):
                if not np.isfinite(value):
                    continue
                hollow = row[f"both_converged_vs_{target}"] != "yes"
                axis.plot(value, labels.index(row["observable"]), marker,
                          mfc="white" if hollow else "C0", mec="C0")
                axis.annotate(row["model"], (value, labels.index(row["observable"])),
                              fontsize=6, xytext=(3, 3), textcoords="offset points")
                drawn = True
        for x in (-COVERAGE_Z, COVERAGE_Z):
            axis.axvline(x, color="grey", ls="--", lw=0.8)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_title(f"{study}: z vs bespoke (○) and reference (□)" if drawn else
                       f"{study}: no bespoke or reference run to compare with", fontsize=8)
        axis.set_xlabel("z_total = Δ / sqrt(u² + σ² + σ_ref²)", fontsize=7)
    figure.suptitle("Consistency scorecard (hollow: a value is unconverged)", fontsize=9)
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="*", type=Path, default=[],
                        help="the case studies' CSVs (results/<study>.csv, water_rdf.csv)")
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args(argv)
    tables = {path.stem: pd.read_csv(path) for path in args.tables}
    table = scorecard(headline_observables(tables))
    write_csv(args.table, table)
    draw(table, args.figure)
    print(f"{len(table)} observables, "
          f"{(table.filter(like='covered_vs_') == 'no').to_numpy().sum()} discrepancies not "
          f"covered by the model uncertainty")


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
