"""The consistency scorecard: headline observables read from the studies' tables, their
differences from bespoke and the reference run, and the coverage verdict."""

import numpy as np
import pandas as pd
import pytest

from analysis.consistency import headline_observables, scorecard


def gaas_table(rows):
    return pd.DataFrame([{"model": m, "temperature_K": 1000, "status": "ok",
                          "melting_point_K": t, "melting_point_error_K": e,
                          "melting_point_model_uncertainty_K": u,
                          "melting_point_converged": c} for m, t, e, u, c in rows])


def test_differences_z_scores_and_verdicts_by_hand():
    table = gaas_table([("pet-mad", 1500.0, 10.0, 30.0, "yes"),
                        ("lora", 1450.0, 10.0, 5.0, "yes"),
                        ("7net-0", 1600.0, 10.0, np.nan, "no"),
                        ("bespoke", 1520.0, 10.0, 8.0, "yes")])
    card = scorecard(headline_observables({"gaas_melting": table})).set_index("model")
    assert card.loc["pet-mad", "delta_vs_bespoke"] == pytest.approx(-20.0)
    assert card.loc["pet-mad", "z_statistical_vs_bespoke"] == pytest.approx(-20 / np.sqrt(200))
    assert card.loc["pet-mad", "z_total_vs_bespoke"] == pytest.approx(-20 / np.sqrt(1100))
    assert card.loc["pet-mad", "covered_vs_bespoke"] == "yes"
    # 70 K off with 5 K of model uncertainty: z_total = -70 / 15 = -4.7
    assert card.loc["lora", "covered_vs_bespoke"] == "no"
    assert card.loc["7net-0", "covered_vs_bespoke"] == "no model uncertainty"
    assert card.loc["7net-0", "both_converged_vs_bespoke"] == "no"
    assert card.loc["bespoke", "covered_vs_bespoke"] == ""
    assert np.isnan(card.loc["pet-mad", "delta_vs_reference"])  # no reference run
    # a value without an error has a difference from bespoke but no z, however close
    card = scorecard(headline_observables({"gaas_melting": gaas_table(
        [("lora", 1521.0, np.nan, 5.0, "no"), ("bespoke", 1520.0, 10.0, 8.0, "yes")])}))
    lora = card.set_index("model").loc["lora"]
    assert lora["delta_vs_bespoke"] == pytest.approx(1.0)
    assert np.isnan(lora["z_statistical_vs_bespoke"]) and np.isnan(lora["z_total_vs_bespoke"])


def test_the_verdict_covers_at_the_stated_rate():
    """Model values off the truth by a bias drawn from N(0, u), with statistical noise on
    both sides: |z_total| <= 2 must hold for ~95.4 % of them (normal two-sided 2σ)."""
    rng = np.random.default_rng(11)
    n = 4000
    sigma, sigma_ref = rng.uniform(1, 5, n), rng.uniform(1, 5, n)
    u = rng.uniform(0, 20, n)
    truth = rng.normal(1500, 100, n)
    model = truth + rng.normal(0, u) + rng.normal(0, sigma)
    bespoke = truth + rng.normal(0, sigma_ref)
    rows = [{"study": "gaas", "observable": f"T{i}", "unit": "K", "model": name, "value": v,
             "error": e, "model_uncertainty": m, "converged": True}
            for i in range(n)
            for name, v, e, m in (("pet-mad", model[i], sigma[i], u[i]),
                                  ("bespoke", bespoke[i], sigma_ref[i], np.nan))]
    card = scorecard(pd.DataFrame(rows))
    covered = card.loc[card["model"] == "pet-mad", "covered_vs_bespoke"]
    assert 0.94 < (covered == "yes").mean() < 0.965
    z = card.loc[card["model"] == "pet-mad", "z_statistical_vs_bespoke"]
    assert (np.abs(z) <= 2).mean() < 0.8  # the statistical errors alone do not cover a bias


def test_every_study_gives_its_headline_numbers():
    tables = {
        "gaas_melting": gaas_table([("pet-mad", 1500.0, 10.0, 30.0, "yes")]),
        "lps_conductivity": pd.DataFrame([
            {"model": "pet-mad", "phase": "beta", "temperature_K": 700.0, "method": m,
             "sigma_S_per_cm": 0.1, "sigma_error_S_per_cm": 0.01,
             "sigma_model_uncertainty_S_per_cm": np.nan, "converged": "no",
             "activation_energy_eV": 0.3, "activation_energy_error_eV": 0.02,
             "activation_energy_model_uncertainty_eV": np.nan,
             "activation_energy_converged": "no"}
            for m in ("green-kubo", "einstein-helfand")]),
        "hea_segregation": pd.DataFrame([
            {"model": "pet-mad", "status": "ok", "element": e, "gamma_per_nm2": g,
             "gamma_error_per_nm2": 0.1, "gamma_model_uncertainty_per_nm2": np.nan,
             "converged": "no"} for e, g in (("Ni", 1.0), ("Cr", -0.5), ("Fe", 0.2))]),
        "water_pimd": pd.DataFrame([
            {"model": "pet-mad", "beads": p, "status": "ok", "heat_capacity_J_mol_K": c,
             "heat_capacity_error_J_mol_K": 3.0, "heat_capacity_model_uncertainty_J_mol_K": 1.0,
             "converged": "yes"} for p, c in ((1, 120.0), (8, 80.0))]),
        "water_rdf": pd.DataFrame([
            {"model": "pet-mad", "beads": 8, "pair": pair, "r_A": r, "g": g, "g_error": 0.1,
             "g_model_uncertainty": np.nan}
            for pair, r, g in (("O-O", 2.5, 1.0), ("O-O", 2.8, 3.1), ("O-O", 4.5, 5.0),
                               ("O-H", 1.0, 9.0))]),
        "succinic_nmr": pd.DataFrame([
            {"model": "pet-mad", "status": "ok", "site": "H3 (COOH)", "sampling": s,
             "mean_ppm": v, "error_ppm": 0.1, "model_uncertainty_ppm": np.nan,
             "converged": "no"} for s, v in (("md", 14.0), ("pimd", 13.0))]),
        "bto_dielectric": pd.DataFrame([
            {"kind": "transition", "model": "pet-mad", "low_phase": "tetragonal",
             "high_phase": "cubic", "transition_K": 300.0, "transition_error_K": 20.0,
             "transition_model_uncertainty_K": np.nan},
            {"kind": "temperature", "model": "pet-mad", "status": "ok", "temperature_K": 300.0,
             "eps_iso": 500.0, "eps_iso_error": 50.0, "eps_iso_model_uncertainty": np.nan,
             "converged": "no"}]),
    }
    observed = headline_observables(tables).set_index(["study", "observable"])["value"]
    assert observed[("gaas", "T_m")] == 1500.0
    assert observed[("lps", "σ beta 700 K")] == 0.1 and observed[("lps", "E_a beta")] == 0.3
    assert sorted(k for s, k in observed.index if s == "hea") == ["Γ_Cr", "Γ_Ni"]
    assert observed[("water", "C_V (P = 8)")] == 80.0
    assert observed[("water", "g_OO first peak height (P = 8)")] == 3.1  # below 3.3 Å, O-O only
    assert observed[("succinic", "σ_iso H3 (COOH) PIMD")] == 13.0
    assert observed[("bto", "T tetragonal→cubic")] == 300.0
    assert observed[("bto", "ε_iso 300 K")] == 500.0
    assert len(observed) == 11
