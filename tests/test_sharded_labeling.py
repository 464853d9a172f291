"""Labeling in shards (``labeling.shard_size``), the shape a cluster runs: through
Snakemake, the shards' jobs gather into the very file the smoke run's one job wrote."""

import shutil

import pytest
from conftest import snakemake

pytestmark = pytest.mark.workflow


def test_sharded_labeling_gives_the_one_job_file_byte_for_byte(smoke_run, tmp_path):
    root, smoke = smoke_run
    (tmp_path / "data" / "mad").mkdir(parents=True)
    shutil.copyfile(smoke / "data" / "mad" / "structures.extxyz",
                    tmp_path / "data" / "mad" / "structures.extxyz")
    override = tmp_path / "shards.yaml"
    override.write_text("labeling: {shard_size: 10}\n")
    configfiles = ("config.yaml", "presets/smoke.yaml", str(override))
    result = snakemake(root, tmp_path, "data/mad/labeled.extxyz", configfiles=configfiles)
    assert result.returncode == 0, result.stderr[-3000:]
    structures = (smoke / "data" / "mad" / "labeled.extxyz.json").read_text()
    shards = sorted((tmp_path / "data" / "mad" / "shards").glob("*.extxyz"))
    assert len(shards) >= 3 and '"n_input": ' in structures  # the smoke MAD set: 43
    for name in ("labeled.extxyz", "labeled.extxyz.json"):
        assert (tmp_path / "data" / "mad" / name).read_bytes() == \
            (smoke / "data" / "mad" / name).read_bytes(), name
    assert len(list((tmp_path / "logs" / "label" / "mad").glob("*.log"))) == len(shards)
    rerun = snakemake(root, tmp_path, "data/mad/labeled.extxyz", "-n", configfiles=configfiles)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def test_md_sampled_one_job_per_trajectory_gives_the_one_job_file(smoke_run, tmp_path):
    root, smoke = smoke_run
    override = tmp_path / "shards.yaml"
    # two trajectories of the smoke preset's water MD: one job each, then the gather
    override.write_text("labeling: {shard_size: 10}\ndata: {water: {md_test: {trajectories: 2}}}\n")
    configfiles = ("config.yaml", "presets/smoke.yaml", str(override))
    result = snakemake(root, tmp_path, "data/water/md_test.extxyz", configfiles=configfiles)
    assert result.returncode == 0, result.stderr[-3000:]
    shards = sorted((tmp_path / "data" / "water" / "md_test").glob("*.extxyz"))
    assert [p.name for p in shards] == ["0.extxyz", "1.extxyz"]
    whole = tmp_path / "whole"
    one_job = ("config.yaml", "presets/smoke.yaml", str(override.with_name("one_job.yaml")))
    override.with_name("one_job.yaml").write_text("data: {water: {md_test: {trajectories: 2}}}\n")
    result = snakemake(root, whole, "data/water/md_test.extxyz", configfiles=one_job)
    assert result.returncode == 0, result.stderr[-3000:]
    gathered = tmp_path / "data" / "water" / "md_test.extxyz"
    assert gathered.read_bytes() == (whole / "data" / "water" / "md_test.extxyz").read_bytes()
    # the first trajectory is the smoke run's own (same start, same seed)
    smoke_frames = (smoke / "data" / "water" / "md_test.extxyz").read_bytes()
    assert shards[0].read_bytes() == smoke_frames
