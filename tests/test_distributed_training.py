"""Distributed pretraining (training.pretrain.processes > 1), driven through
``petmad train-model`` as the workflow's ``train_pet_mad`` job runs it, and the job shape
the SLURM profile asks for at the paper preset.

metatrain's PET trainer trains distributed over NCCL on CUDA only.  This machine has no
GPU, so the ranks here get a test-only shim (``GLOO_SHIM``) that builds the same process
group over gloo on the CPU and leaves out DDP's CUDA device ids.  Everything else runs as
on a GPU node: the launch as one job step of N tasks (a stand-in ``srun`` that starts the
tasks with SLURM's environment), the ranks read from it, DistributedSampler, the gradient
all-reduce, rank-0-only writes, resuming, and petmad's single-process steps around it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from petmad.config import ConfigError, validate_config
from petmad.models.training import read_pet_checkpoint
from tests.test_models import TINY, _energies, emt_split

GLOO_SHIM = '''
import os

if os.environ.get("SLURM_PROCID") is not None:
    import torch
    import torch.distributed
    import metatrain.pet.trainer as trainer
    from metatrain.utils.distributed.slurm import DistributedEnvironment

    def gloo_process_group(port):
        DistributedEnvironment(port)  # MASTER_ADDR, RANK, ... from SLURM's variables
        torch.distributed.init_process_group(backend="gloo")
        return (torch.device("cpu"), torch.distributed.get_world_size(),
                torch.distributed.get_rank())

    class CpuDistributedDataParallel(trainer.DistributedDataParallel):
        def __init__(self, module, device_ids=None, **kwargs):
            super().__init__(module, **kwargs)  # CPU modules take no device ids

    trainer.initialize_slurm_nccl_process_group = gloo_process_group
    trainer.DistributedDataParallel = CpuDistributedDataParallel
'''

# A stand-in for srun inside an allocation: it starts --ntasks copies of the command with
# the variables srun gives each task, waits for all, and fails if any failed.
FAKE_SRUN = '''#!{python}
import os, subprocess, sys
args = sys.argv[1:]
with open({calls!r}, "a") as log:
    log.write(" ".join(args) + "\\n")
options = {{}}
while args[0].startswith("--"):
    key, _, value = args.pop(0).partition("=")
    options[key] = value
ntasks = int(options["--ntasks"])
tasks = []
for rank in range(ntasks):
    env = dict(os.environ, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
               SLURM_NTASKS=str(ntasks), SLURM_JOB_NODELIST="localhost",
               PYTHONPATH=os.pathsep.join([{shim!r}, os.environ.get("PYTHONPATH", "")]))
    tasks.append(subprocess.Popen(args, env=env))
sys.exit(max(task.wait() for task in tasks))
'''

# Full-batch training: 8 structures of 4 atoms, 2 processes × 4 or 1 process × 8.
SETTINGS = {**TINY, "pretrain": {"num_epochs": 4, "batch_size": 4, "checkpoint_interval": 1}}


@pytest.fixture
def launcher(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(GLOO_SHIM)
    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text(FAKE_SRUN.format(python=sys.executable, calls=str(tmp_path / "calls"),
                                     shim=str(shim)))
    srun.chmod(0o755)
    return {"srun": srun, "calls": tmp_path / "calls"}


def train_model(root, tmp_path, splits, settings, name, slurm_job=None):
    """``petmad train-model`` as the train_pet_mad job runs it, inside a SLURM allocation
    when ``slurm_job`` is given."""
    out = tmp_path / name
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env["PYTHONPATH"] = str(root)
    if slurm_job:
        env["SLURM_JOB_ID"] = slurm_job
    return subprocess.run(
        [sys.executable, "-m", "petmad", "train-model", "--kind", "pretrain",
         "--data-dir", str(splits["train"].parent), "--training", json.dumps(settings),
         "--workdir", str(out / "work"), "--seed", "1", "--no-llpr", "--threads", "1",
         "--trained", str(out / "trained.ckpt"), "--checkpoint", str(out / "model.ckpt"),
         "--exported", str(out / "model.pt")],
        capture_output=True, text=True, cwd=root, env=env, timeout=600, check=False,
    ), out


def test_two_processes_train_the_same_model_as_one_with_their_joint_batch(
        root, tmp_path, launcher):
    splits = emt_split(tmp_path / "data", 4, n=12)
    # Validation on the training structures: 4 per process, so no batch is shrunk.
    splits["val"].write_text(splits["train"].read_text())
    distributed = {**SETTINGS, "pretrain": {**SETTINGS["pretrain"], "processes": 2,
                                            "launcher": str(launcher["srun"])}}
    result, two = train_model(root, tmp_path, splits, distributed, "two",
                              slurm_job="4242")
    assert result.returncode == 0, result.stdout + result.stderr
    log = result.stdout + result.stderr
    assert "[rank 0] INFO Training on 2 devices" in log
    assert "[rank 1] INFO" not in log, "only rank 0 should speak"
    assert launcher["calls"].read_text().split()[:3] == [
        "--ntasks=2", "--ntasks-per-node=2", "--cpus-per-task=1"]
    work = two / "work" / "train"
    assert sorted(p.name for p in work.glob("model_*.ckpt")) == [
        f"model_{epoch}.ckpt" for epoch in range(4)]

    # One process with the joint batch takes the same gradient steps: DDP averages the
    # two ranks' mean gradients over 4 structures each.  (Not bit for bit: Adam's first
    # steps are about ±lr for every weight, so a weight whose gradient is round-off flips
    # either way; the models' predictions are what must agree.)  The contrast: one process
    # with half the batch takes two steps per epoch instead of one.
    single = {**SETTINGS, "pretrain": {**SETTINGS["pretrain"], "batch_size": 8}}
    result, one = train_model(root, tmp_path, splits, single, "one")
    assert result.returncode == 0, result.stdout + result.stderr
    halved = {**SETTINGS, "pretrain": {**SETTINGS["pretrain"], "batch_size": 4}}
    result, half = train_model(root, tmp_path, splits, halved, "half")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_pet_checkpoint(two / "trained.ckpt")["epoch"] == 3
    energies = {run: _energies(out / "model.pt", splits["test"]) for run, out in
                (("two", two), ("one", one), ("half", half))}
    joint = np.abs(energies["two"] - energies["one"]).max()
    contrast = np.abs(energies["half"] - energies["one"]).max()
    assert joint < 0.05 * contrast, (joint, contrast)

    # A killed distributed run resumes from its newest checkpoint on every rank.
    for stale in ("done", "model.ckpt", "model.pt", "model_3.ckpt"):
        (work / stale).unlink()
    (two / "trained.ckpt").unlink()
    result, _ = train_model(root, tmp_path, splits, distributed, "two",
                            slurm_job="4242")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming from" in result.stdout + result.stderr
    assert "--restart model_2.ckpt" in launcher["calls"].read_text().splitlines()[-1]
    assert read_pet_checkpoint(two / "trained.ckpt")["epoch"] == 3
    resumed = np.abs(_energies(two / "model.pt", splits["test"]) - energies["two"]).max()
    assert resumed < 0.05 * contrast, (resumed, contrast)


def distributed_settings(launcher):
    return {**SETTINGS, "pretrain": {**SETTINGS["pretrain"], "processes": 2,
                                     "launcher": launcher}}


@pytest.mark.parametrize("where, command, slurm_job, cause", [
    ("no allocation", "srun", None, "SLURM_JOB_ID is unset"),
    ("no launcher", "no-such-srun --mpi=pmix", "4242",
     "'no-such-srun --mpi=pmix', which is not on PATH"),
])
def test_distributed_pretraining_that_cannot_start_says_why_in_one_line(
        root, tmp_path, launcher, where, command, slurm_job, cause):
    splits = emt_split(tmp_path / "data", 5, n=10)
    srun = str(launcher["srun"]) if where == "no allocation" else command
    result, out = train_model(root, tmp_path, splits, distributed_settings(srun), where,
                              slurm_job=slurm_job)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: training.pretrain.processes 2") and cause in last
    assert "Traceback" not in result.stderr
    assert not (out / "model.pt").exists() and not (out / "trained.ckpt").exists()


def test_distributed_pretraining_needs_cuda():
    with pytest.raises(ConfigError, match=r"processes 2 .* CUDA GPUs only .* device to cuda"):
        validate_config({"device": "cpu", "training": {"pretrain": {"processes": 2}}})
    config = validate_config({"device": "cuda", "training": {"pretrain": {"processes": 2}}})
    assert config.training.pretrain.processes == 2


def test_the_paper_preset_pretrains_on_one_node_with_eight_gpus(root):
    """The sbatch line the SLURM plugin writes for the paper preset's train_pet_mad job:
    one node, 8 tasks, one GPU each; the job's command starts the tasks (mpi resource)."""
    from pathlib import Path

    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    from benchmarks.cluster_request import planned_jobs

    jobs = planned_jobs(root / "presets" / "paper.yaml", cores=64, targets=("models/pet-mad.pt",))
    job = next(j for j in jobs if j.rule.name == "train_pet_mad")
    sbatch = get_submit_command(job, {"run_uuid": "x", "slurm_logfile": "x.log",
                                      "comment_str": "x", "account": "", "partition": "",
                                      "workdir": str(Path.cwd())}).split()
    sbatch += set_gres_string(job).split()
    for option in ("--nodes=1", "--ntasks=8", "--ntasks-per-gpu=1", "--gpus=8",
                   "--cpus-per-task=8"):
        assert option in sbatch, (option, sbatch)
    assert job.resources["mpi"] == "srun"  # the plugin runs the command itself, not in srun -n1
