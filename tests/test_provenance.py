"""Provenance of result files: what is recorded, where, and that it is written atomically."""

import hashlib
import json
import subprocess
import warnings
from datetime import datetime

import pandas as pd
import pytest
import yaml

from analysis.output import pyplot, save_figure, write_csv
from petmad.config import validate_config
from petmad.provenance import (
    ENVIRONMENT_VARIABLE,
    git_commit,
    main,
    provenance,
    read_provenance,
    recorded_result,
    sidecar_path,
    workflow_facts,
    write_configuration,
)

CONFIG = validate_config({"seed": 7, "reference": {"engine": "emt"}})


@pytest.fixture
def workflow_env(monkeypatch):
    """The environment every job of the workflow inherits from rules/common.smk."""
    facts = workflow_facts(CONFIG)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps(facts))
    return facts


def test_the_record_holds_every_field_typed(workflow_env):
    record = provenance({"job_seed": 3})
    assert record["config_hash"] == workflow_env["config_hash"]
    assert len(record["config_hash"]) == 64
    assert record["seed"] == 7 and record["job_seed"] == 3
    assert record["reference_engine"] == "emt" and record["reference_settings"] == {}
    assert record["device"] == "cpu"
    assert isinstance(record["git_commit"], str) and record["git_commit"]
    assert {"numpy", "pandas", "ase", "snakemake"} <= set(record["packages"])
    assert all(isinstance(v, str) for v in record["packages"].values())
    hardware = record["hardware"]
    assert isinstance(hardware["cpu"], str) and hardware["cpu"]
    assert isinstance(hardware["cores"], int) and isinstance(hardware["gpus"], list)
    assert record["python"].count(".") == 2
    assert datetime.fromisoformat(record["created"]).utcoffset().total_seconds() == 0
    json.dumps(record)  # serialisable as it is


def test_workflow_facts_follow_the_configuration():
    sevennet = workflow_facts(validate_config({}))
    assert sevennet["reference_engine"] == "sevennet"
    assert sevennet["reference_settings"] == {"model": "7net-0"}
    assert workflow_facts(validate_config({"seed": 8}))["config_hash"] != sevennet["config_hash"]
    assert workflow_facts(validate_config({}))["config_hash"] == sevennet["config_hash"]


@pytest.mark.parametrize("value", [None, "not json"])
def test_outside_the_workflow_the_config_facts_are_unknown(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(ENVIRONMENT_VARIABLE, value)
    record = provenance()
    for key in ("config_hash", "seed", "reference_engine", "device"):
        assert record[key] == "unknown"
    assert record["packages"]  # what the process itself knows is still there


def test_git_commit_of_a_checkout_is_marked_dirty_when_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_commit(outside) == "unknown"
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t",
                               "-c", "user.email=t@example.org", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    assert git_commit(repo) == "unknown"  # no commit yet
    (repo / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert git_commit(repo) == head
    (repo / "code.py").write_text("x = 2\n")
    assert git_commit(repo) == f"{head}-dirty"
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert git_commit(repo) == "unknown"


def test_a_table_gets_a_sidecar_and_stays_plain_csv(tmp_path, workflow_env):
    path = tmp_path / "results" / "table.csv"
    table = pd.DataFrame({"model": ["pet-mad", "lora"], "mae [meV/Å]": [1.5, 2.25]})
    write_csv(path, table)
    pd.testing.assert_frame_equal(pd.read_csv(path), table)
    assert sidecar_path(path) == tmp_path / "results" / "provenance" / "table.csv.json"
    record = json.loads(sidecar_path(path).read_text())
    assert record == read_provenance(path)
    assert record["file"] == "table.csv" and record["producer"]
    assert record["config_hash"] == workflow_env["config_hash"]
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert main([str(path)]) == 0
    path.write_text("model\nedited by hand\n")
    assert main([str(path)]) == 1  # no longer the table the record describes
    assert main([str(tmp_path / "missing.csv")]) == 1


def test_a_figure_carries_its_provenance_in_the_pdf(tmp_path, workflow_env):
    plt = pyplot()
    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    path = tmp_path / "figure.pdf"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "Unknown infodict keyword"
        save_figure(figure, path)
    record = read_provenance(path)
    assert record["file"] == "figure.pdf"
    assert record["config_hash"] == workflow_env["config_hash"]
    assert record["reference_engine"] == "emt"
    assert b"/Subject (petmad-bench result; git " in path.read_bytes()
    assert not sidecar_path(path).exists()


def test_pdf_strings_with_escapes_read_back(tmp_path, monkeypatch):
    from petmad import provenance as module

    awkward = "a (nested (paren)) \\ back\\slash, tab\t, é"
    monkeypatch.setattr(module, "hardware", lambda: {"cpu": awkward})
    plt = pyplot()
    figure, _ = plt.subplots()
    save_figure(figure, tmp_path / "awkward.pdf")
    assert read_provenance(tmp_path / "awkward.pdf")["hardware"]["cpu"] == awkward
    figure, _ = plt.subplots()
    figure.savefig(tmp_path / "plain.pdf")
    assert read_provenance(tmp_path / "plain.pdf") is None


class Killed(Exception):
    pass


class HalfWritten(pd.DataFrame):
    """A table whose writing is killed halfway."""

    def to_csv(self, path, **kwargs):
        with open(path, "w") as handle:
            handle.write("model,mae\npet-")
        raise Killed


def test_a_killed_write_leaves_neither_file(tmp_path):
    results = tmp_path / "results"
    with pytest.raises(Killed):
        write_csv(results / "table.csv", HalfWritten({"model": ["pet-mad"]}))
    assert sorted(p.name for p in results.rglob("*") if p.is_file()) == []
    # an earlier result and its record survive a killed rewrite untouched
    write_csv(results / "table.csv", pd.DataFrame({"model": ["lora"]}))
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    with pytest.raises(Killed):
        write_csv(results / "table.csv", HalfWritten({"model": ["pet-mad"]}))
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before
    with pytest.raises(Killed), recorded_result(results / "other.txt") as tmp:
        tmp.write_text("half")
        raise Killed
    assert not (results / "other.txt").exists()
    assert not sidecar_path(results / "other.txt").exists()


def test_the_configuration_round_trips_with_its_hash(tmp_path, workflow_env):
    config = validate_config({"seed": 7, "reference": {"engine": "emt"},
                              "training": {"base_model": "a<b>&c.ckpt"}})
    yaml_path, html_path = tmp_path / "configuration.yaml", tmp_path / "configuration.html"
    write_configuration(yaml_path, html_path, config)
    config_hash = workflow_facts(config)["config_hash"]
    text = yaml_path.read_text()
    assert f"# config_hash: {config_hash}\n" in text
    # usable as a --configfile: validates to the very same configuration
    assert workflow_facts(validate_config(yaml.safe_load(text)))["config_hash"] == config_hash
    page = html_path.read_text()
    assert config_hash in page and "a&lt;b&gt;&amp;c.ckpt" in page
    for path in (yaml_path, html_path):
        assert read_provenance(path)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
