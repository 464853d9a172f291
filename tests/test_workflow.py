"""The workflow itself: the smoke preset end to end, targeted builds, profiles, lint."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import snakemake

pytestmark = pytest.mark.workflow

SYSTEMS = ["lps", "gaas", "hea", "water", "succinic", "bto"]
# The smoke preset's held-out reference-MD test sets (training MD: gaas and water only).
MD_TEST_SETS = ["gaas-md", "water-md", "succinic-md"]


def test_smoke_preset_builds_every_dataset(smoke_run):
    root, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "datasets.csv")
    # and the held-out reference-MD test sets the smoke preset samples
    assert set(table["dataset"]) == {"mad", *SYSTEMS, *MD_TEST_SETS}
    md_test = table[table["dataset"].str.endswith("-md")]
    assert (md_test["n_test"] == 2).all() and (md_test[["n_train", "n_val"]] == 0).all().all()
    table = table[~table["dataset"].str.endswith("-md")]
    assert set(table.loc[table["dataset"] == "mad", "subset"]) == {
        "bulk", "rattled", "randcomp", "surface", "cluster", "2d", "molcrys", "molfrag"}
    # every dataset validates and tests (a subset may give its only val structure to
    # training when it holds a species training lacks)
    per_dataset = table.groupby("dataset")[["n_val", "n_test"]].sum()
    assert (per_dataset >= 1).all().all()
    assert "energy_per_atom_mean [eV/atom]" in table.columns
    assert table["reference_engine"].str.startswith("sevennet").all()
    assert (workdir / "results" / "datasets.pdf").stat().st_size > 10_000
    for dataset in ["mad", *SYSTEMS]:
        for part in ("train", "val", "test"):
            assert (workdir / "data" / dataset / f"{part}.extxyz").stat().st_size > 0


def test_smoke_preset_trains_and_benchmarks_every_model(smoke_run):
    _, workdir = smoke_run
    results = workdir / "results"
    accuracy = pd.read_csv(results / "accuracy.csv")
    overall = accuracy[accuracy["subset"] == "all"]
    assert set(overall["family"]) == {"pet-mad", "bespoke", "lora", "external"}
    # every test set, the held-out reference-MD ones of the smoke preset too
    assert set(overall.loc[overall["family"] == "pet-mad", "dataset"]) == {
        "mad", *SYSTEMS, *MD_TEST_SETS}
    assert set(overall.loc[overall["family"] == "bespoke", "system"]) == set(SYSTEMS)
    assert overall["forces_mae [meV/Å]"].notna().all()
    retention = pd.read_csv(results / "lora_retention.csv")
    assert sorted(retention["system"]) == sorted(SYSTEMS)
    curves = pd.read_csv(results / "learning_curves.csv")
    assert set(curves["method"]) >= {"full", "bespoke", "lora", "pet-mad"}
    rotations = pd.read_csv(results / "rotational_discrepancy.csv")
    assert "all" in set(rotations["subset"])
    for figure in ("accuracy.pdf", "uq_calibration.pdf", "learning_curves.pdf"):
        assert (results / figure).stat().st_size > 10_000
    for system in SYSTEMS:
        for kind in ("bespoke", "lora"):
            assert (workdir / "models" / system / f"{kind}.pt").exists()
    assert (workdir / "models" / "pet-mad.pt").exists()
    options = (workdir / "models" / "work" / "gaas" / "lora" / "train" / "options.yaml").read_text()
    assert "method: lora" in options  # written beside the model for rerunning by hand


def test_smoke_preset_samples_reference_md_for_training_and_testing(smoke_run):
    from ase.io import read

    from petmad.reference import make_engine

    root, workdir = smoke_run
    for system in ("gaas", "water"):  # the smoke preset's MD systems
        data = workdir / "data" / system
        frames = read(data / "md_train.extxyz", ":")
        assert len(frames) == 2 and {f.info["subset"] for f in frames} == {"md"}
        # the training frames joined the split (none is filtered at these forces)
        split = [f for part in ("train", "val", "test")
                 for f in read(data / f"{part}.extxyz", ":") if f.info["subset"] == "md"]
        assert len(split) == len(frames)
        test_frames = read(data / "md_test.extxyz", ":")
        assert len(test_frames) == 2
        # held out: no test frame is among the training data
        trained = {f.positions.tobytes() for f in split}
        assert not any(f.positions.tobytes() in trained for f in test_frames)
    # the labels are the reference engine's (recomputed here)
    frame = read(workdir / "data" / "water" / "md_test.extxyz", 0)
    again = make_engine({"engine": "sevennet"}).compute(frame)
    assert frame.get_potential_energy() == pytest.approx(again.get_potential_energy(), abs=1e-4)
    assert abs(frame.get_forces() - again.get_forces()).max() < 1e-4
    assert frame.info["temperature_K"] == 298.0  # the study's, from data.water.md_test
    # every model is scored on the held-out MD frames
    accuracy = pd.read_csv(workdir / "results" / "accuracy.csv")
    md_rows = accuracy[accuracy["dataset"].str.endswith("-md") & (accuracy["subset"] == "all")]
    assert set(md_rows["dataset"]) == set(MD_TEST_SETS)
    for dataset in MD_TEST_SETS:
        assert set(md_rows.loc[md_rows["dataset"] == dataset, "model"]) == {
            "pet-mad", "bespoke", "lora", "7net-l3i5"}
    # and each MAE splits into a constant offset and the scatter about it
    assert (md_rows["energy_mae_offset_free [meV/atom]"]
            <= md_rows["energy_mae [meV/atom]"] + abs(md_rows["energy_offset [meV/atom]"])).all()
    assert md_rows["energy_mae_offset_free [meV/atom]"].notna().all()
    assert md_rows["forces_mae [meV/Å]"].notna().all()
    cost = pd.read_csv(workdir / "results" / "campaign_cost.csv")
    assert sorted(cost.loc[cost["rule"] == "sample_md", "job"]) == [
        "gaas/test", "gaas/train", "succinic/test", "water/test", "water/train"]
    # the water study draws the reference engine's own g(r) from the held-out frames, and
    # the scorecard holds the models' first O-O peak against it
    rdf = pd.read_csv(workdir / "results" / "water_rdf.csv")
    reference = rdf[rdf["model"] == "reference"]
    assert set(reference["pair"]) == {"O-O", "O-H"} and set(reference["beads"]) == {1}
    assert reference.loc[reference["pair"] == "O-O", "first_peak_A"].between(2.0, 3.3).all()
    card = pd.read_csv(workdir / "results" / "consistency.csv")
    assert "reference" in set(
        card.loc[card["observable"] == "g_OO first peak position (classical)", "model"])


def test_smoke_preset_runs_active_learning_for_water(smoke_run):
    """data.water.model_md, two rounds: round k's bespoke PET, trained on the split with the
    frames of the rounds before, drives MD; the reference labels its frames, which join
    the next round's data and the final models' (bespoke and LoRA) as subset 'model_md'."""
    from ase.io import read

    from petmad.reference import make_engine

    _, workdir = smoke_run
    data = workdir / "data" / "water"
    frames = {k: read(data / "md_model" / f"round{k}.extxyz", ":") for k in (1, 2)}
    for k, sampled in frames.items():
        assert len(sampled) == 2 and {f.info["subset"] for f in sampled} == {"model_md"}
        assert all(f"models/water/round{k}/bespoke.pt MD" in f.info["source"] for f in sampled)
    # the labels are the reference engine's, not the driving model's
    again = make_engine({"engine": "sevennet"}).compute(frames[2][-1])
    assert frames[2][-1].get_potential_energy() == pytest.approx(
        again.get_potential_energy(), abs=1e-4)
    assert frames[2][-1].info["driver_energy"] != pytest.approx(again.get_potential_energy(),
                                                               abs=1e-3)

    def split(folder):
        return [f for part in ("train", "val", "test") for f in read(folder / f"{part}.extxyz", ":")]

    def positions(structures):
        return {f.positions.tobytes() for f in structures}

    def active(structures):
        return positions(f for f in structures if f.info["subset"] == "model_md")

    rounds = {k: split(data / f"round{k}") for k in (1, 2)}
    final = split(data)
    assert active(rounds[1]) == set()  # round 1 trains on the reference's data alone
    assert active(rounds[2]) == positions(frames[1])
    assert active(final) == positions(frames[1]) | positions(frames[2])
    # subsets are split on their own: a round's frames leave the rattles and the reference
    # MD in the same parts of every round's split and the final one
    def sampled_train(folder):
        return positions(f for f in read(folder / "train.extxyz", ":")
                         if f.info["subset"] != "model_md")

    assert sampled_train(data / "round1") == sampled_train(data / "round2") == sampled_train(data)
    for k in (1, 2):
        assert (workdir / "models" / "water" / f"round{k}" / "bespoke.pt").exists()
    # the rounds' frames leave the studies' contact wall where the reference's data put it
    wall = json.loads((data / "contact_wall.json").read_text())
    assert wall["active_learning_frames_left_out"] == sum(
        f.info["subset"] == "model_md" for f in read(data / "train.extxyz", ":"))
    assert wall["onsets_A"] == json.loads(
        (data / "round1" / "contact_wall.json").read_text())["onsets_A"]
    # the other systems have no rounds (smoke preset)
    assert not (workdir / "models" / "gaas" / "round1").exists()
    cost = pd.read_csv(workdir / "results" / "campaign_cost.csv")
    assert list(cost.loc[cost["rule"] == "sample_model_md", "job"]) == [
        "water/round1", "water/round2"]
    assert list(cost.loc[cost["rule"] == "train_round_model", "job"]) == [
        "water/round1", "water/round2"]


def test_smoke_preset_runs_the_conductivity_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "lps_conductivity.csv")
    assert set(table["phase"]) == {"alpha", "beta", "gamma"}
    assert set(table["model"]) == {"pet-mad"}  # the smoke preset's case-study model
    assert set(table["method"]) == {"green-kubo", "einstein-helfand"}
    finished = table[table["stopped"].isna()]
    assert finished["sigma_S_per_cm"].notna().all()
    # every finished point says whether its lattice held, from its P sublattice and volume
    assert set(finished["crystal_held"]) <= {"yes", "no"}
    assert finished["framework_displacement_A"].gt(0).all()
    assert np.isfinite(finished["volume_change"]).all()
    melted = finished[finished["crystal_held"] == "no"]
    assert (melted["converged"] == "no").all()
    assert melted["convergence_note"].str.contains("not the crystal").all()
    assert (workdir / "results" / "lps_conductivity.pdf").stat().st_size > 10_000
    run = workdir / "runs" / "lps" / "pet-mad" / "gamma" / "600K" / "r0"
    assert (run / "production" / "ipi" / "input.xml").exists()


def test_smoke_preset_runs_the_melting_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "gaas_melting.csv")
    assert set(table["model"]) == {"pet-mad"}  # the smoke preset's case-study model
    assert sorted(set(table["temperature_K"])) == [1000, 1300]
    # Tiny smoke models are often unstable: every point either has Δμ or says why not.
    finished = table["status"] == "ok"
    assert table.loc[finished, "delta_mu_eV_per_atom"].notna().all()
    assert table.loc[~finished, "reason"].astype(str).str.len().gt(10).all()
    # a pinned point's bulk solid kept the order of the relaxed crystal it started from
    drift = (table.loc[finished, "q_solid"] - table.loc[finished, "q_crystal"]).abs()
    assert (drift <= 0.05).all()  # studies.gaas_melting.max_solid_drift
    # and its bulk liquid was the crystal's melt, not a foam
    swelling = table.loc[finished, "liquid_volume_change"]
    assert (swelling.abs() <= 0.25).all()  # studies.gaas_melting.max_liquid_volume_change
    assert (workdir / "results" / "gaas_melting.pdf").stat().st_size > 10_000
    plumed = workdir / "runs" / "gaas" / "pet-mad" / "interface" / "melt" / "ipi"
    assert (plumed / "input.xml").exists()


def test_smoke_preset_runs_the_segregation_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "hea_segregation.csv")
    assert set(table["model"]) == {"pet-mad"}  # the smoke preset's case-study model
    assert set(table["element"]) == {"Co", "Cr", "Fe", "Mn", "Ni"}
    finished = table["status"] == "ok"
    assert table.loc[finished, "gamma_per_nm2"].notna().all()
    assert table.loc[~finished, "reason"].astype(str).str.len().gt(10).all()
    for _, model in table[finished].groupby("model"):  # excesses sum to zero
        assert abs(model["gamma_per_nm2"].sum()) < 1e-6
    assert (workdir / "results" / "hea_segregation.pdf").stat().st_size > 10_000
    assert (workdir / "runs" / "hea" / "pet-mad" / "remd" / "properties_T01.csv").exists()


def test_smoke_preset_runs_the_water_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "water_pimd.csv")
    assert set(table["model"]) == {"pet-mad"}  # the smoke preset's case-study model
    assert sorted(set(table["beads"])) == [1, 2]
    finished = table["status"] == "ok"
    assert table.loc[finished, "heat_capacity_J_mol_K"].notna().all()
    assert table.loc[~finished, "reason"].astype(str).str.len().gt(10).all()
    rdf = pd.read_csv(workdir / "results" / "water_rdf.csv")
    assert set(rdf["pair"]) <= {"O-O", "O-H"}
    assert (workdir / "results" / "water_pimd.pdf").stat().st_size > 10_000


def test_case_studies_add_the_contact_wall_below_the_training_contacts(smoke_run):
    _, workdir = smoke_run
    table = json.loads((workdir / "data" / "water" / "contact_wall.json").read_text())
    for pair, closest in table["closest_contacts_A"].items():
        assert table["onsets_A"][pair] == pytest.approx(0.9 * closest)
    # every recorded step of a study says how much the wall added, and the table says
    # where it acted
    records = sorted((workdir / "runs" / "water").rglob("records.npz"))
    assert records
    for path in records:
        with np.load(path) as record:
            assert (record["contact_wall_eV"] >= 0).all()
    # it never touches what the reference itself samples: zero on its held-out MD frames
    from petmad.io import read_extxyz
    from petmad.simulate.contact_wall import ContactWall, read_wall

    for system in ("gaas", "water", "succinic"):  # the smoke preset's held-out MD
        wall = ContactWall(read_wall(workdir / "data" / system / "contact_wall.json"))
        for atoms in read_extxyz(workdir / "data" / system / "md_test.extxyz"):
            atoms.calc = wall
            assert atoms.get_potential_energy() == 0.0, system
    activity = pd.read_csv(workdir / "results" / "contact_wall.csv")
    assert {"water", "bto"} <= set(activity["study"])
    assert activity["records"].gt(0).any()
    assert activity["active_fraction"].dropna().between(0, 1).all()
    assert "nc_mts" not in set(activity["study"])  # the direct-force benchmark runs bare


def test_turning_the_contact_wall_off_reruns_the_studies_not_the_training(smoke_run):
    root, workdir = smoke_run
    jobs = planned_jobs_with(root, workdir, "all", "studies:\n  contact_wall: {enabled: false}\n")
    assert jobs["water_md"] >= 1 and "contact_wall" not in jobs
    # except where active learning runs its rounds' MD with the wall the studies add
    # (water in the smoke preset): its rounds' frames change, and its models with them
    retrained = {rule for rule in jobs if rule.startswith(("train_", "sample_", "label"))}
    assert retrained == {"sample_model_md", "train_round_model", "train_bespoke_model",
                         "train_lora_model"}
    assert jobs["sample_model_md"] == 2 and jobs["train_bespoke_model"] == 1
    assert "dimer_curves" not in jobs and "nc_mts_md" not in jobs  # benchmarks run bare


def test_smoke_preset_runs_the_nmr_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "succinic_nmr.csv")
    # the smoke preset's case-study model, and the reference's own classical shieldings
    # from its held-out MD frames
    assert set(table["model"]) == {"pet-mad", "reference"}
    assert set(table["sampling"]) == {"md", "pimd"}
    reference = table[table["model"] == "reference"]
    assert set(reference["sampling"]) == {"md"} and (reference["status"] == "ok").all()
    assert set(reference["site"]) == {"H3 (COOH)", "H1/H2 (CH2)"}
    finished = table[table["status"] == "ok"]
    assert set(finished["site"]) <= {"H3 (COOH)", "H1/H2 (CH2)"}
    assert finished["mean_ppm"].between(0, 60).all()
    assert table["shielding_model_test_rmse_ppm"].notna().all()
    for figure in ("succinic_nmr.pdf", "succinic_shielding_parity.pdf"):
        assert (workdir / "results" / figure).stat().st_size > 10_000


def test_smoke_preset_runs_the_dielectric_study(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "bto_dielectric.csv")
    states = table[table["kind"] == "temperature"]
    assert set(states["model"]) == {"pet-mad"}  # the smoke preset's case-study model
    assert sorted(states["temperature_K"]) == [100, 300]
    finished = states[states["status"] == "ok"]
    phases = ["rhombohedral", "orthorhombic", "tetragonal", "cubic"]
    populations = finished[[f"population_{phase}" for phase in phases]].sum(axis=1)
    assert populations.sub(1).abs().lt(1e-6).all()
    assert (finished["eps_iso"] > 1).all()
    assert states.loc[states["status"] != "ok", "reason"].astype(str).str.len().gt(10).all()
    transitions = table[table["kind"] == "transition"]
    if len(finished):
        assert list(transitions["low_phase"]) == ["rhombohedral", "orthorhombic", "tetragonal"]
    dipole = table[table["kind"] == "dipole_model"].iloc[0]
    assert dipole["dipole_test_rmse_eA"] < dipole["dipole_label_std_eA"]
    assert (workdir / "results" / "bto_dielectric.pdf").stat().st_size > 10_000


def test_smoke_preset_draws_the_dimer_curves(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "dimers.csv")
    assert set(table["model"]) == {"pet-mad", "reference", "7net-l3i5"}
    assert set(table["element"]) == {"H", "O"}
    assert table["binding_energy_eV"].notna().all()
    # the reference O2 curve reaches two free atoms at 5 covalent radii (3.3 Å)
    oxygen = table[(table["model"] == "reference") & (table["element"] == "O")]
    assert abs(oxygen.loc[oxygen["distance_A"].idxmax(), "binding_energy_eV"]) < 0.3
    assert (workdir / "results" / "dimers.pdf").stat().st_size > 10_000


def test_smoke_preset_times_the_relaxations(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "relaxations.csv")
    assert set(table["model"]) == {"pet-mad", "7net-l3i5"}
    assert set(table["crystal"]) == {"libr_rocksalt"}
    assert (table["median_wall_s"] > 0).all() and table["not_converged"].between(0, 1).all()
    assert (workdir / "results" / "relaxations.pdf").stat().st_size > 10_000


def test_smoke_preset_draws_the_phonon_bands(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "phonons.csv").set_index("model")
    assert set(table.index) == {"pet-mad", "reference"}
    assert set(table["crystal"]) == {"libr_rocksalt"}
    pet_mad, reference = table.loc["pet-mad"], table.loc["reference"]
    assert pet_mad["members"] > 1 and pet_mad["ensemble_spread_THz"] > 0
    assert pet_mad["rms_vs_reference_THz"] >= 0  # finite: the same q-points as the reference
    # the reference engine holds rock-salt LiBr stable: no imaginary modes, optical > 3 THz
    assert reference["lowest_THz"] > -0.1 and reference["highest_THz"] > 3
    assert (workdir / "results" / "phonons.pdf").stat().st_size > 10_000


def test_smoke_preset_compares_direct_forces_and_multiple_time_stepping(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "nc_mts.csv")
    assert len(table) == 6
    assert set(zip(table["variant"], table["ensemble"])) == {
        (v, e) for v in ("conservative", "direct", "mts") for e in ("nve", "nvt")}
    # pet-mad has a direct-force head, so every variant ran (a 3-epoch model may still
    # collide atoms, which stops a run with its records kept)
    assert table["status"].isin(["ok", "stopped"]).all()
    assert not table["reason"].fillna("").str.contains("no direct-force head").any()
    assert (table["simulated_ps"] > 0).all()
    conservative = table[table["variant"] == "conservative"]
    assert (conservative["speedup"] == 1.0).all()
    assert (workdir / "results" / "nc_mts.pdf").stat().st_size > 10_000


def test_smoke_preset_times_the_models(smoke_run):
    _, workdir = smoke_run
    table = pd.read_csv(workdir / "results" / "speed.csv")
    timings = table[table["material"] != "llpr_ensemble_cost"]
    assert set(timings["model"]) == {"pet-mad", "lora-lps", "7net-l3i5", "pet-mad-nc"}
    assert set(timings["material"]) == {"diamond", "water"}
    pet_mad = timings[(timings["model"] == "pet-mad") & (timings["status"] == "ok")]
    assert len(pet_mad) >= 3 and (pet_mad["median_s"] > 0).all()
    ensemble = table[table["material"] == "llpr_ensemble_cost"].iloc[0]
    assert ensemble["status"] == "ok" and ensemble["ensemble_over_plain_energy"] > 0
    assert (workdir / "results" / "speed.pdf").stat().st_size > 10_000


def test_smoke_preset_makes_the_consistency_scorecard(smoke_run):
    _, workdir = smoke_run
    card = pd.read_csv(workdir / "results" / "consistency.csv")
    # the studies with finished runs give their headline numbers: pet-mad's, and the
    # reference engine's from its held-out MD frames: water's O-O first-peak position and
    # succinic acid's classical shieldings
    assert set(card["study"]) <= set(SYSTEMS) and len(card) > 0
    assert set(card["model"]) == {"pet-mad", "reference"}
    reference = card[card["model"] == "reference"].set_index("observable")
    assert set(reference.index) == {
        "g_OO first peak position (classical)", "σ_iso H3 (COOH) MD", "σ_iso H1/H2 (CH2) MD"}
    # Å: water's O-O neighbours
    assert 2.5 < reference.loc["g_OO first peak position (classical)", "value"] < 3.2
    assert "delta_vs_reference" in card
    assert set(card["converged"]) <= {"yes", "no", "unknown"}
    assert card["delta_vs_bespoke"].isna().all()  # no bespoke run at the smoke preset
    assert (workdir / "results" / "consistency.pdf").stat().st_size > 5_000


def test_every_result_records_its_provenance(smoke_run):
    from petmad.config import load_config_files
    from petmad.io import digest
    from petmad.provenance import read_provenance, workflow_facts

    root, workdir = smoke_run
    config_hash = workflow_facts(load_config_files(
        [str(root / "config.yaml"), str(root / "presets" / "smoke.yaml")]))["config_hash"]
    results = workdir / "results"
    files = [path for path in results.iterdir() if path.is_file()]
    assert {path.suffix for path in files} == {".csv", ".pdf", ".yaml", ".html"}
    for path in files:  # a CSV's sidecar or a PDF's metadata
        record = read_provenance(path)
        assert record is not None, path
        assert record["config_hash"] == config_hash, path
        assert record["seed"] == 20250101 and record["reference_engine"] == "sevennet", path
        assert record["git_commit"] and record["packages"]["torch"], path
        if path.suffix != ".pdf":
            assert record["sha256"] == digest(path), path
    assert f"# config_hash: {config_hash}\n" in (results / "configuration.yaml").read_text()


def test_the_report_has_every_result_and_the_configuration(smoke_run):
    root, workdir = smoke_run
    report = workdir / "report.html"
    result = snakemake(root, workdir, "--report", str(report))
    assert result.returncode == 0, result.stderr[-2000:]
    page = report.read_text()
    for path in (workdir / "results").iterdir():
        if path.suffix in (".csv", ".pdf", ".html"):
            assert f'"results/{path.name}": {{"name": ' in page, path.name  # with a caption
    assert '"Configuration": {' in page


def test_rerun_with_nothing_changed_does_nothing(smoke_run):
    root, workdir = smoke_run
    result = snakemake(root, workdir, "all", "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_one_system_reruns_only_its_jobs(smoke_run):
    root, workdir = smoke_run
    result = snakemake(root, workdir, "all", "-n", "--config", "seed=7")
    assert "build_structures" in result.stdout  # the seed touches every dataset
    override = workdir / "gaas_only.yaml"
    override.write_text("data:\n  gaas:\n    n_structures: 11\n")
    jobs = planned_jobs(root, workdir, "all",
                        configfiles=("config.yaml", "presets/smoke.yaml", str(override)))
    assert jobs["build_structures"] == jobs["label"] == jobs["split"] == 1
    assert jobs["train_bespoke_model"] == jobs["train_lora_model"] == 1
    assert "train_pet_mad" not in jobs  # the universal model does not see system data
    assert "sample_md" not in jobs  # the rattles' count does not shape the MD


def test_changed_md_settings_resample_only_that_part(smoke_run):
    root, workdir = smoke_run
    hotter = "data:\n  gaas:\n    md:\n      temperatures_K: [1400]\n"
    jobs = planned_jobs_with(root, workdir, "data/gaas/md_train.extxyz", hotter)
    assert jobs == {"sample_md": 1, "total": 1}  # the training MD; its test MD stays
    assert "sample_md" not in planned_jobs_with(root, workdir, "data/gaas/md_test.extxyz", hotter)


def test_the_reference_engine_runs_a_study_and_the_scorecard_holds_models_against_it(
        smoke_run, tmp_path):
    """study_models adds the reference engine to the BaTiO3 study (10 atoms, 100 steps) on
    a copy of the smoke run: its own runs are made, everything else is reused, and the
    scorecard sets pet-mad's ε beside the reference's."""
    root, smoke = smoke_run
    for folder in ("data", "models", "runs", "results"):
        shutil.copytree(smoke / folder, tmp_path / folder)
    for stale in ("bto_dielectric", "consistency"):  # to be made again, with the reference
        for path in (tmp_path / "results").glob(f"{stale}.*"):
            path.unlink()
    kept = tmp_path / "runs" / "bto" / "pet-mad" / "300K" / "status.json"
    before = kept.stat().st_mtime_ns
    extra = tmp_path / "reference.yaml"
    extra.write_text("study_models: {bto: [pet-mad, reference]}\n")
    result = snakemake(root, tmp_path, "results/consistency.csv",
                       configfiles=("config.yaml", "presets/smoke.yaml", str(extra)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert kept.stat().st_mtime_ns == before, "pet-mad's runs must be reused"

    table = pd.read_csv(tmp_path / "results" / "bto_dielectric.csv")
    states = table[table["kind"] == "temperature"]
    assert sorted(zip(states["model"], states["temperature_K"])) == [
        ("pet-mad", 100), ("pet-mad", 300), ("reference", 100), ("reference", 300)]
    # the reference engine's own MD finishes (no guard stop) and gives a dielectric constant
    reference = states[states["model"] == "reference"]
    assert (reference["status"] == "ok").all() and (reference["eps_iso"] > 1).all()
    card = pd.read_csv(tmp_path / "results" / "consistency.csv")
    assert {"ε_iso 100 K", "ε_iso 300 K"} <= set(
        card.loc[card["model"] == "reference", "observable"])
    # (the card keeps finished runs only; pet-mad's smoke runs of BaTiO3 finish)
    held = card[(card["model"] == "pet-mad") & card["observable"].str.startswith("ε_iso")]
    assert len(held) == 2 and held["delta_vs_reference"].notna().all()
    assert held["z_statistical_vs_reference"].notna().all()


@pytest.mark.parametrize("study, analysis", [("water", "water_pimd"),
                                             ("succinic", "succinic_nmr")])
def test_held_out_frames_stand_in_for_the_reference_only_where_it_does_not_run(
        tmp_path, root, study, analysis):
    def analysis_command(extra):
        override = tmp_path / "models.yaml"
        override.write_text(extra)
        result = snakemake(root, tmp_path / "work", f"results/{analysis}.pdf", "-n", "-p",
                           configfiles=("config.yaml", "presets/smoke.yaml", str(override)))
        assert result.returncode == 0, result.stderr[-2000:]
        return next(line for line in result.stdout.splitlines()
                    if f"-m analysis.{analysis}" in line)

    held_out = f"--reference-md data/{study}/md_test.extxyz"
    assert held_out in analysis_command("seed: 20250101\n")
    own_run = analysis_command(f"study_models: {{{study}: [pet-mad, reference]}}\n")
    assert "--reference-md " in own_run and held_out not in own_run
    assert f"runs/{study}/reference/" in own_run


def planned_jobs(root, workdir, target, configfiles=("config.yaml", "presets/smoke.yaml")):
    result = snakemake(root, workdir, target, "-n", "--quiet", "rules", configfiles=configfiles)
    assert result.returncode == 0, result.stderr
    return {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}


def planned_jobs_with(root, workdir, target, override: str):
    """The jobs the smoke preset with ``override`` (config YAML text) on top plans."""
    path = workdir / "override.yaml"
    path.write_text(override)
    return planned_jobs(root, workdir, target,
                        configfiles=("config.yaml", "presets/smoke.yaml", str(path)))


# A case study of trained PETs reads its system's contact wall.
CONTACT_WALLS = {"contact_wall": 1}


def test_a_target_builds_only_what_it_needs(tmp_path, root):
    every_model = tmp_path / "every_model.yaml"
    every_model.write_text("models: [pet-mad, bespoke, lora]\n")
    configfiles = ("config.yaml", "presets/smoke.yaml", str(every_model))
    # the smoke preset samples reference MD for gaas and water: their training frames
    jobs = planned_jobs(root, tmp_path, "data/gaas/train.extxyz")
    assert jobs == {"build_structures": 1, "label": 1, "sample_md": 1, "split": 1, "total": 4}
    jobs = planned_jobs(root, tmp_path, "models/gaas/lora.pt")
    assert jobs == {"build_structures": 2, "label": 2, "sample_md": 1, "split": 2,
                    "train_pet_mad": 1, "train_lora_model": 1, "total": 9}
    jobs = planned_jobs(root, tmp_path, "results/lps_conductivity.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "split": 2, "train_pet_mad": 1,
                    "train_bespoke_model": 1, "train_lora_model": 1, "lps_md": 9,
                    "lps_conductivity": 1, **CONTACT_WALLS, "total": 20}
    jobs = planned_jobs(root, tmp_path, "results/gaas_melting.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "sample_md": 1, "split": 2,
                    "train_pet_mad": 1, "train_bespoke_model": 1, "train_lora_model": 1,
                    "gaas_interface": 3, "gaas_pinning": 6, "gaas_melting": 1, **CONTACT_WALLS,
                    "total": 21}
    jobs = planned_jobs(root, tmp_path, "results/hea_segregation.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "split": 2, "train_pet_mad": 1,
                    "train_bespoke_model": 1, "train_lora_model": 1, "hea_remd": 3,
                    "hea_segregation": 1, **CONTACT_WALLS, "total": 14}
    # water's training frames and its held-out reference MD, whose g(r) the figure shows,
    # and its two active-learning rounds (smoke preset)
    jobs = planned_jobs(root, tmp_path, "results/water_pimd.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "sample_md": 2, "split": 2,
                    "split_round": 2, "contact_wall_round": 2, "train_round_model": 2,
                    "sample_model_md": 2, "train_pet_mad": 1, "train_bespoke_model": 1,
                    "train_lora_model": 1, "water_equilibration": 3, "water_md": 6,
                    "water_pimd": 1, **CONTACT_WALLS, "total": 30}
    # The shipped reference shieldings: no GIAO job unless asked for.
    jobs = planned_jobs(root, tmp_path, "results/succinic_nmr.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "split": 2, "train_pet_mad": 1,
                    "train_bespoke_model": 1, "train_lora_model": 1, "succinic_relax": 3,
                    "succinic_md": 6, "succinic_shielding_model": 1, "succinic_nmr": 1,
                    # the held-out reference MD: the reference's own classical σ_iso
                    "sample_md": 1, **CONTACT_WALLS, "total": 22}
    jobs = planned_jobs(root, tmp_path, "results/bto_dielectric.pdf",
                        configfiles=configfiles)
    assert jobs == {"build_structures": 2, "label": 2, "split": 2, "train_pet_mad": 1,
                    "train_bespoke_model": 1, "train_lora_model": 1, "bto_dipole_labels": 1,
                    "bto_dipole_model": 1, "bto_md": 6, "bto_dielectric": 1, **CONTACT_WALLS,
                    "total": 19}
    # Dimers: pet-mad, the reference engine and the other universal potential (7net-l3i5).
    jobs = planned_jobs(root, tmp_path, "results/dimers.pdf")
    assert jobs == {"build_structures": 1, "label": 1, "split": 1, "train_pet_mad": 1,
                    "dimer_curves": 3, "dimers": 1, "total": 8}
    jobs = planned_jobs(root, tmp_path, "results/relaxations.pdf")
    assert jobs == {"build_structures": 1, "label": 1, "split": 1, "train_pet_mad": 1,
                    "relaxation_runs": 2, "relaxations": 1, "total": 7}
    # Phonons: pet-mad (with its ensemble) and the reference engine.
    jobs = planned_jobs(root, tmp_path, "results/phonons.pdf")
    assert jobs == {"build_structures": 1, "label": 1, "split": 1, "train_pet_mad": 1,
                    "phonon_bands": 2, "phonons": 1, "total": 7}
    jobs = planned_jobs(root, tmp_path, "results/nc_mts.pdf")
    assert jobs == {"build_structures": 1, "label": 1, "split": 1, "train_pet_mad": 1,
                    "nc_mts_md": 1, "nc_mts": 1, "total": 6}
    jobs = planned_jobs(root, tmp_path, "results/speed.pdf")
    assert jobs == {"build_structures": 2, "label": 2, "split": 2, "train_pet_mad": 1,
                    "train_lora_model": 1, "speed_benchmark": 1, "speed": 1, "total": 10}
    computed = tmp_path / "computed.yaml"
    computed.write_text("studies:\n  succinic_nmr:\n    reference_set: computed\n")
    jobs = planned_jobs(root, tmp_path, "models/succinic/shielding.npz",
                        configfiles=("config.yaml", "presets/smoke.yaml", str(computed)))
    assert jobs == {"succinic_reference": 1, "succinic_shielding_model": 1, "total": 2}


def test_run_cost_puts_every_job_of_the_smoke_run_in_its_stage(smoke_run, root):
    """benchmarks/run_cost.py (the README's per-stage costs) knows every rule's benchmark."""
    _, workdir = smoke_run
    sys.path.insert(0, str(root / "benchmarks"))
    from run_cost import job_times, rule_stages

    jobs = job_times(workdir, rule_stages())
    assert "other" not in set(jobs["stage"]), jobs.loc[jobs["stage"] == "other", "job"].tolist()
    assert {"data", "models", "gaas_melting", "water_pimd", "supplementary"} <= set(jobs["stage"])
    assert (jobs["wall_s"] > 0).all()
    printed = subprocess.run([sys.executable, str(root / "benchmarks" / "run_cost.py"),
                              str(workdir)], capture_output=True, text=True, check=True).stdout
    assert f"{len(jobs)} jobs" in printed


def test_run_report_reads_a_finished_run(smoke_run, root):
    """benchmarks/run_report.py (the README's whole-run numbers) on the smoke run; its
    pieces on synthetic runs: tests/test_run_report.py."""
    _, workdir = smoke_run
    printed = subprocess.run([sys.executable, str(root / "benchmarks" / "run_report.py"),
                              str(workdir)], capture_output=True, text=True, check=True).stdout
    for heading in ("held-out reference-MD frames", "validation energy MAE grew",
                    "runs stopped or refused", "Li3PS4 points that kept their crystal",
                    "first O-O peak", "scorecard"):
        assert heading in printed


@pytest.mark.parametrize("preset", ["config.yaml", "presets/smoke.yaml", "presets/paper.yaml"])
def test_dry_run_every_preset_and_the_slurm_profile(tmp_path, root, preset):
    configfiles = ("config.yaml",) if preset == "config.yaml" else ("config.yaml", preset)
    assert snakemake(root, tmp_path, "all", "-n", configfiles=configfiles).returncode == 0
    slurm = snakemake(root, tmp_path, "all", "-n", "--profile", str(root / "profiles" / "slurm"),
                      configfiles=configfiles)
    assert slurm.returncode == 0, slurm.stderr[-2000:]


def test_lint_is_clean(root):
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True,
                            text=True, cwd=root)
    assert result.returncode == 0
    assert "Congratulations" in result.stdout + result.stderr
