"""Configuration: presets validate, the exported schema is in sync, bad values stop early."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from petmad.config import (
    ConfigError,
    json_schema,
    load_config_files,
    merge_mappings,
    validate_config,
)


@pytest.mark.parametrize("preset", [[], ["presets/smoke.yaml"], ["presets/paper.yaml"]])
def test_presets_validate(root, preset):
    config = load_config_files([str(root / "config.yaml")] + [str(root / p) for p in preset])
    assert config.systems


def test_exported_schema_is_in_sync(root):
    committed = (root / "config.schema.json").read_text()
    assert committed == json_schema(), (
        "config.schema.json is stale: run `python -m petmad schema > config.schema.json`"
    )
    assert json.loads(committed)["additionalProperties"] is False


@pytest.mark.parametrize(
    "raw, pattern",
    [
        ({"device": "gpu"}, r"'device'.*'cpu', 'cuda' or 'auto'.*got 'gpu'"),
        ({"seed": "many"}, r"'seed'.*integer"),
        ({"colour": "red"}, r"'colour' is not known"),
        ({"data": {"mad": {"elemnts": ["H"]}}}, r"'data\.mad\.elemnts' is not known"),
        ({"systems": ["lps", "argon"]}, r"'systems\.1'.*'lps', 'gaas'.*got 'argon'"),
        ({"models": ["mace"]}, r"models\.0: unknown model 'mace'.*'pet-mad'.*model_library"),
        ({"study_models": {"water": ["pet-mad", "mace"]}},
         r"study_models\.water\.1: unknown model 'mace'"),
        ({"study_models": {"argon": ["pet-mad"]}}, r"'study_models\.argon.*'lps'.*got 'argon'"),
        ({"study_models": {"bto": []}}, r"study_models\.bto is empty"),
        ({"reference": {"engine": "vasp"}}, r"'reference\.engine'.*'sevennet'.*got 'vasp'"),
        ({"data": {"mad": {"elements": ["H", "Xx"]}}}, r"'data\.mad\.elements\.1'.*'Xx'"),
        ({"data": {"split": [0.5, 0.5, 0.5]}}, r"'data\.split'.*sum to 1"),
        ({"reference": {"engine": "file"}}, r"'reference'.*\{dataset\}"),
        ({"training": {"learning_curves": {"lora_ranks": {"water": [32]}}}},
         r"'training\.learning_curves'.*lora_ranks names water.*systems \(gaas\) lacks"),
    ],
)
def test_bad_values_name_the_key_path(raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_config(raw)


def test_overlay_merges_nested_sections():
    merged = merge_mappings({"data": {"mad": {"max_atoms": 8}, "split": [1, 0, 0]}},
                            {"data": {"mad": {"rattle_fraction": 0.1}}})
    assert merged == {"data": {"mad": {"max_atoms": 8, "rattle_fraction": 0.1}, "split": [1, 0, 0]}}


def test_bad_yaml_and_missing_file_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_files([str(bad)])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_files([str(tmp_path / "absent.yaml")])


def test_snakemake_stops_before_any_job_on_bad_config(root, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--directory", str(tmp_path),
         "--snakefile", str(root / "Snakefile"), "--configfile", str(root / "config.yaml"),
         "--config", "device=gpu"],
        capture_output=True, text=True, cwd=root,
    )
    assert result.returncode != 0
    assert "config key 'device'" in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()


def test_conda_environment_matches_requirements(root):
    requirements = [
        line.strip() for line in (root / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    env = yaml.safe_load((root / "envs" / "petmad.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    packages = [p for p in pip if not p.startswith("-")]
    assert packages[0] == "torch==2.13.0"
    assert packages[1:] == requirements
    install = (root / "install.sh").read_text()
    assert re.search(r'pip install "torch==2\.13\.0"', install)


def test_slurm_profile_routes_every_gpu_rule(root):
    """The profile's GPU-partition entries are exactly the rules that ask for a GPU."""
    gpu_rules = set()
    for path in (root / "rules").glob("*.smk"):
        rule = None
        for line in path.read_text().splitlines():
            if line.startswith("rule "):
                rule = line.split()[1].rstrip(":")
            elif re.search(r"gpu=(model_resources|pretrain_gpus)\b", line):
                gpu_rules.add(rule)
    profile = yaml.safe_load((root / "profiles" / "slurm" / "config.yaml").read_text())
    assert len(gpu_rules) > 10
    assert set(profile["set-resources"]) == gpu_rules


def test_universal_set_must_cover_the_case_study_species():
    with pytest.raises(ConfigError, match=r"data\.mad\.elements lacks \['As', 'Ga'\]"):
        validate_config({"systems": ["gaas"], "data": {"mad": {"elements": ["Cu", "Ni"]}}})
    # a user's base model decides its own species
    validate_config({"systems": ["gaas"], "data": {"mad": {"elements": ["Cu"]}},
                     "training": {"base_model": "published.ckpt"}})


def test_study_models_override_models_and_a_label_file_runs_no_study():
    from petmad.models.registry import refused_studies, study_models

    config = validate_config({"models": ["pet-mad", "bespoke"],
                              "study_models": {"bto": ["lora", "reference"]}})
    assert study_models(config, "water") == ["pet-mad", "bespoke"]
    assert study_models(config, "bto") == ["lora", "reference"]
    assert refused_studies(config) == []
    # the 'file' engine reads labels: the studies that ask for it run without it, said once
    files = validate_config({"models": ["pet-mad", "reference"],
                             "study_models": {"bto": ["lora", "reference"]},
                             "reference": {"engine": "file",
                                           "file": {"path": "labels/{dataset}.extxyz"}}})
    assert study_models(files, "bto") == ["lora"]
    assert study_models(files, "water") == ["pet-mad"]
    refused = refused_studies(files)
    assert len(refused) == len(files.systems)
    assert refused[-1] == ("model 'reference' computes nothing with reference.engine 'file' "
                           "(it reads labels): not run in the bto study")


def test_missing_base_model_stops_before_any_job(root, tmp_path):
    override = tmp_path / "byo.yaml"
    override.write_text("training:\n  base_model: nowhere/pet-mad.ckpt\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--directory", str(tmp_path),
         "--snakefile", str(root / "Snakefile"), "--configfile", str(root / "config.yaml"),
         str(override)], capture_output=True, text=True, cwd=root)
    assert result.returncode != 0
    assert "training.base_model 'nowhere/pet-mad.ckpt' does not exist" in result.stderr + result.stdout
