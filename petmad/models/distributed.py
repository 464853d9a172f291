"""Distributed pretraining: metatrain's PET trainer on the GPUs of one node.

metatrain trains distributed when it runs in a SLURM job step of more than one task
(``SLURM_NTASKS`` > 1): each task takes the GPU of its local rank, joins an NCCL process
group and reads its own share of every epoch (a ``DistributedSampler``); gradients are
averaged across tasks (torch DDP) and only rank 0 writes checkpoints and the final model.
So ``batch_size`` is per task, and the effective batch is ``processes × batch_size``.

``petmad train-model`` starts only the training step that way, as one job step of
``processes`` tasks (:func:`launch`), each running :func:`main` in the work folder.  The
steps around it (resume bookkeeping, LoRA merge, LLPR, export) stay in its own single
process.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path


class DistributedTrainingError(RuntimeError):
    """The distributed training step cannot start, or one of its processes failed."""


def launch_command(directory: Path, processes: int, launcher: str, threads: int,
                   restart: str | None) -> list[str]:
    """The job-step command: ``launcher`` with one task per process on one node, each
    running :func:`main` in ``directory`` on ``threads`` CPU threads.  The job asked for
    that many CPUs per task; a job step does not inherit it, so it is said again."""
    command = [*shlex.split(launcher), f"--ntasks={processes}",
               f"--ntasks-per-node={processes}", f"--cpus-per-task={threads}",
               sys.executable, "-m", "petmad.models.distributed", str(directory.resolve()),
               "--threads", str(threads)]
    return command + (["--restart", restart] if restart else [])


def launch(directory: Path, processes: int, launcher: str, threads: int,
           restart: str | None) -> None:
    """Run the training step as ``processes`` tasks of one job step; raise with the cause
    when it cannot start or a task fails."""
    command = launch_command(directory, processes, launcher, threads, restart)
    where = (f"training.pretrain.processes {processes} starts its processes with "
             f"'{launcher}'")
    if shutil.which(command[0]) is None:
        raise DistributedTrainingError(
            f"{where}, which is not on PATH: run pretraining on a SLURM cluster (profiles/"
            "slurm), or set processes to 1")
    if "SLURM_JOB_ID" not in os.environ:
        raise DistributedTrainingError(
            f"{where} inside a SLURM allocation, and this job has none (SLURM_JOB_ID is "
            "unset): run pretraining through the slurm profile, or set processes to 1")
    logging.getLogger("petmad.models").info("distributed training: %s", shlex.join(command))
    returncode = subprocess.run(command, check=False).returncode
    if returncode != 0:
        raise DistributedTrainingError(
            f"distributed training in {directory} failed: '{launcher}' exited with "
            f"{returncode} (each task's error is in the log above); rerunning resumes from "
            "the newest checkpoint")


@contextlib.contextmanager
def single_process():
    """metatrain switches to distributed training by itself inside a multi-task SLURM
    job; the steps petmad runs in its own process must not, or they would wait forever for
    ranks that never come."""
    saved = os.environ.get("SLURM_NTASKS")
    if saved is not None:
        os.environ["SLURM_NTASKS"] = "1"
    try:
        yield
    finally:
        if saved is not None:
            os.environ["SLURM_NTASKS"] = saved


def main(argv: list[str] | None = None) -> None:
    """One task of the job step: metatrain's training in ``directory`` (its options.yaml)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--restart", help="checkpoint (in directory) to resume from")
    args = parser.parse_args(argv)

    import torch
    from metatrain.cli.train import train_model
    from omegaconf import OmegaConf

    rank = int(os.environ.get("SLURM_PROCID", "0"))
    # One log for the job: rank 0 speaks, the others only warn.
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"[rank {rank}] %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    os.chdir(args.directory)
    train_model(OmegaConf.load("options.yaml"), output="model.pt", checkpoint_dir=".",
                restart_from=args.restart)


if __name__ == "__main__":
    main()
