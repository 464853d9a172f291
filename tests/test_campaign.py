"""The planned campaign cost (petmad/campaign.py): its rows stand for the jobs Snakemake
plans, its atoms are those of the structures the studies build, its totals add up."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from petmad.campaign import campaign_cost, dataset_sizes, planned_jobs, totals, with_totals
from petmad.config import load_config_files

# Every rule whose jobs evaluate a model or the reference engine.
WORK_RULES = {
    "label", "label_shard", "train_pet_mad", "train_bespoke_model", "train_lora_model",
    "train_learning_curve_model", "train_mad_learning_curve_model", "lps_md", "gaas_interface", "gaas_pinning", "hea_remd",
    "water_equilibration", "water_md", "succinic_reference", "succinic_relax", "succinic_md",
    "bto_md", "dimer_curves", "relaxation_runs", "phonon_bands", "speed_benchmark",
    "nc_mts_md", "sample_md", "sample_md_trajectory", "sample_model_md",
    "train_round_model",
}


def preset(root, *files):
    return [str(root / "config.yaml"), *[str(root / f) for f in files]]


@pytest.fixture(scope="module")
def tables():
    """Cost tables of the three presets (built once: the paper one takes seconds)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return {name: campaign_cost(load_config_files(preset(root, *files)))
            for name, files in [("smoke", ["presets/smoke.yaml"]), ("default", []),
                                ("paper", ["presets/paper.yaml"])]}


def snakemake_jobs(root, workdir, configfiles):
    command = [sys.executable, "-m", "snakemake", "all", "-n", "--quiet", "rules",
               "--directory", str(workdir), "--snakefile", str(root / "Snakefile"),
               "--cores", "2", "--configfile", *configfiles]
    result = subprocess.run(command, check=False, capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
            if len(line.split()) == 2 and line.split()[1].isdigit()}


MODEL_CHOICES = {
    # the smoke preset's studies fanned out over every model, reference included
    "smoke, every model": "models: [pet-mad, bespoke, lora, reference]\n",
    # study_models: the reference in one study, LoRA alone in another
    "smoke, per-study models": "models: [pet-mad, bespoke]\n"
                               "study_models: {water: [pet-mad, reference], hea: [lora]}\n",
}


@pytest.mark.parametrize("case", [*MODEL_CHOICES, "paper"])
def test_rows_stand_for_every_job_snakemake_plans(tmp_path, root, case):
    if case == "paper":  # computed NMR reference set, learning curves on every system
        configfiles = preset(root, "presets/paper.yaml")
    else:
        models = tmp_path / "models.yaml"
        models.write_text(MODEL_CHOICES[case])
        configfiles = [*preset(root, "presets/smoke.yaml"), str(models)]
    planned = snakemake_jobs(root, tmp_path / "work", configfiles)
    table = campaign_cost(load_config_files(configfiles))
    if "label_shard" in planned:  # sharded labeling: rule label only gathers the shards
        assert planned["label"] == 7
        planned.pop("label")
        # and reference MD runs one job per trajectory, which rule sample_md gathers
        assert planned["sample_md"] == 12
        planned.pop("sample_md")
    assert planned_jobs(table) == {r: n for r, n in planned.items() if r in WORK_RULES}
    assert planned["campaign_cost"] == 1


def test_the_rule_needs_nothing_but_the_configuration(tmp_path, root):
    command = [sys.executable, "-m", "snakemake", "results/campaign_cost.csv", "-n",
               "--quiet", "rules", "--directory", str(tmp_path), "--snakefile",
               str(root / "Snakefile"), "--cores", "1", "--configfile",
               *preset(root, "presets/paper.yaml")]
    result = subprocess.run(command, check=False, capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "campaign_cost        1\ntotal                1" in result.stdout


def atoms_of(table, rule, piece, model="pet-mad"):
    rows = table[(table["rule"] == rule) & (table["piece"] == piece) & (table["model"] == model)]
    return sorted(set(rows["atoms"]))


def test_atoms_are_the_cells_the_paper_states(tables):
    """The paper preset's cells, as presets/paper.yaml quotes them from the paper."""
    paper = tables["paper"]
    assert atoms_of(paper, "gaas_pinning", "pinned interface") == [1152]  # 3 x 3 x 16
    assert atoms_of(paper, "hea_remd", "REMD") == [539]  # 7 x 7 x 11 fcc(111)
    assert atoms_of(paper, "water_md", "(PI)MD") == [384]  # 128 H2O
    assert atoms_of(paper, "succinic_md", "equilibration + sampling") == [336]
    assert atoms_of(paper, "bto_md", "NPT equilibration + sampling") == [320]  # 4 x 4 x 4
    lps = paper[(paper["rule"] == "lps_md") & (paper["model"] == "pet-mad")]
    # gamma (Pmn2_1, 16 atoms per cell) 2 x 3 x 3, beta (Pnma, 32) 1 x 2 x 3
    assert dict(zip(lps["job"].str.split(",").str[0], lps["atoms"])) == {
        "pet-mad/gamma": 288, "pet-mad/beta": 192, "pet-mad/alpha": 192}
    water = paper[(paper["rule"] == "water_md") & (paper["piece"] == "(PI)MD")
                  & (paper["model"] == "pet-mad")]
    assert water["replicas_or_beads"].tolist() == [1, 2, 4, 8, 16, 32]
    hea = paper[(paper["rule"] == "hea_remd") & (paper["piece"] == "REMD")]
    assert set(hea["replicas_or_beads"]) == {16} and set(hea["steps"]) == {100000}
    mts = paper[paper["piece"] == "mts NVE outer"].iloc[0]
    assert mts["steps"] == 40000 // 8 and mts["step_unit"].startswith("outer MTS steps")


def test_dataset_sizes_match_the_builders(root):
    """The builders are probed, not run in full: the counts and atoms must be the same."""
    from petmad.data.systems import build_system

    config = load_config_files(preset(root, "presets/smoke.yaml"))
    for system in config.systems:
        frames = build_system(system, getattr(config.data, system), config.seed)
        structures, train, atoms, _ = dataset_sizes(config, system)
        assert structures == len(frames), system
        assert structures * atoms == pytest.approx(sum(len(a) for a in frames)), system
        md_frames = getattr(config.data, system).md.frames  # training MD frames join them
        assert 0 < train < structures + md_frames


def test_totals_are_sums_of_rows(tables):
    table = tables["default"]
    total = totals(table)
    grand = total[(total["stage"] == "all") & (total["model"] == "all")]
    assert grand["atom_steps"].item() == table["atom_steps"].sum()
    assert grand["n_jobs"].item() == sum(planned_jobs(table).values())
    for (stage, model), rows in table.groupby(["stage", "model"]):
        row = total[(total["stage"] == stage) & (total["model"] == model)]
        assert row["atom_steps"].item() == rows["atom_steps"].sum()
    per_stage = total[(total["stage"] != "all") & (total["model"] == "all")]
    assert per_stage["atom_steps"].sum() == grand["atom_steps"].item()
    work = table.iloc[0]
    assert work["atom_steps"] == round(work["n_jobs"] * work["structures"] * work["atoms"]
                                       * work["replicas_or_beads"] * work["steps"])
    assert len(with_totals(table)) == len(table) + len(total)


def test_the_paper_campaign_is_the_largest(tables):
    def by_stage(name):
        return tables[name].groupby("stage")["atom_steps"].sum()

    smoke, default, paper = by_stage("smoke"), by_stage("default"), by_stage("paper")
    assert (paper > default).all() and (default > smoke).all()
    # the paper's MD: nanoseconds on cells of hundreds of atoms, three models each
    assert paper["simulation"] > 1e10


def test_the_command_writes_the_table_and_prints_the_totals(tmp_path, root, capsys):
    from petmad.cli import main

    config = load_config_files(preset(root, "presets/smoke.yaml"))
    output = tmp_path / "results" / "campaign_cost.csv"
    assert main(["campaign-cost", "--config", json.dumps(config.model_dump(mode="json")),
                 "--table", str(output)]) == 0
    table = pd.read_csv(output)
    assert (table["study"] == "total").sum() > 0 and "lps_md" in set(table["rule"])
    assert (output.parent / "provenance" / "campaign_cost.csv.json").is_file()
    printed = capsys.readouterr().out
    assert "simulation:" in printed and "all stages:" in printed and "pet-mad:" in printed
