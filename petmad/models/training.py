"""Train one model end to end: PET training (from scratch, fine-tuning, or an imported
checkpoint) → LoRA merge → LLPR uncertainty with a last-layer ensemble → export.

Every step works in its own folder under the model's work directory and is skipped when
its result is already there, so a killed job resumes: metatrain restarts from its newest
``model_<epoch>.ckpt``, finished steps are not redone.  A change of inputs or settings
(the folder's signature) wipes the stale work first.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from petmad.config import TrainingSettings
from petmad.io import (
    atomic_path,
    digest,
    first_line,
    read_extxyz,
    remembered,
    resumable_directory,
    write_extxyz,
)
from petmad.models.baseline import write_shifted_base
from petmad.models.options import llpr_options, pet_options

Kind = Literal["pretrain", "bespoke", "lora", "full"]
log = logging.getLogger("petmad.models")


class ModelError(RuntimeError):
    """A base model is missing or unusable, or training cannot start."""


@dataclass
class TrainRequest:
    kind: Kind
    splits: dict[str, Path]
    training: TrainingSettings
    workdir: Path
    seed: int
    device: str = "cpu"
    base_checkpoint: Path | None = None  # fine-tuning: the pretrained PET
    import_checkpoint: Path | None = None  # pretrain: bring your own model instead
    fraction: float = 1.0  # share of the training set (learning curves)
    llpr: bool = True
    threads: int = 1  # CPU threads (of each process, when training is distributed)


@dataclass
class TrainedModel:
    trained_checkpoint: Path  # plain PET (merged when LoRA): the base for fine-tuning
    checkpoint: Path  # final checkpoint (LLPR-wrapped unless llpr=False)
    exported: Path  # TorchScript model for simulations


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def newest_checkpoint(directory: Path) -> Path | None:
    """metatrain's latest readable intermediate checkpoint ``model_<epoch>.ckpt``, if any.

    metatrain does not write checkpoints atomically: a kill during a write leaves a
    truncated newest file, which is removed so the run resumes from the one before."""
    import torch

    candidates = sorted((int(p.stem.split("_")[1]), p) for p in directory.glob("model_*.ckpt")
                        if p.stem.split("_")[1].isdigit())
    for _, path in reversed(candidates):
        try:
            torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # truncated pickle/zip: EOFError, RuntimeError, ...
            log.warning("removing unreadable checkpoint %s (%s)", path, exc)
            path.unlink()
            continue
        return path
    return None


def run_metatrain(options: dict[str, Any], directory: Path, processes: int = 1,
                  launcher: str = "srun", threads: int = 1) -> Path:
    """Run ``mtt train`` in ``directory`` (resuming if it can); return the final
    checkpoint.  The options are written there first, for rerunning by hand.  One process
    trains in-process; more train distributed, as one job step of ``processes`` tasks
    started by ``launcher`` (:mod:`petmad.models.distributed`)."""
    from metatrain.cli.train import train_model
    from omegaconf import OmegaConf

    from petmad.models.distributed import launch, single_process

    final = directory / "model.ckpt"
    if (directory / "done").exists():
        return final
    (directory / "options.yaml").write_text(yaml.safe_dump(options, sort_keys=False))
    restart = newest_checkpoint(directory)
    if restart is not None:
        log.info("resuming from %s", restart)
        # metatrain writes the split indices once per run and refuses an existing folder.
        shutil.rmtree(directory / "indices", ignore_errors=True)
    restart_name = restart.name if restart else None
    if processes > 1:
        launch(directory, processes, launcher, threads, restart_name)
    else:
        with contextlib.chdir(directory), single_process():
            train_model(OmegaConf.create(options), output="model.pt", checkpoint_dir=".",
                        restart_from=restart_name)
    (directory / "done").touch()
    return final


def read_pet_checkpoint(path: Path) -> dict[str, Any]:
    """A metatrain PET checkpoint, or one clear error saying why ``path`` is not one."""
    import metatomic.torch  # noqa: F401  (registers the classes checkpoints refer to)
    import torch

    if not path.is_file():
        raise ModelError(f"base model checkpoint '{path}' does not exist")
    try:
        checkpoint = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # torch raises several types for corrupt files
        raise ModelError(f"'{path}' is not a readable metatrain checkpoint: "
                         f"{first_line(exc)}") from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("architecture_name") != "pet":
        found = checkpoint.get("architecture_name") if isinstance(checkpoint, dict) else None
        raise ModelError(f"'{path}' is not a PET checkpoint (architecture: {found!r})")
    return checkpoint


def upgraded_pet_checkpoint(path: Path) -> dict[str, Any]:
    """The PET checkpoint at ``path`` in the installed metatrain's format: one written by an
    older metatrain goes through metatrain's own upgrade path (``PET.upgrade_checkpoint``),
    and the result must load as a model.  One clear error otherwise."""
    import copy

    from metatrain.pet import PET

    checkpoint = read_pet_checkpoint(path)
    version = checkpoint.get("model_ckpt_version", 1)
    current = PET.__checkpoint_version__
    if version > current:
        import metatrain

        raise ModelError(f"'{path}' was written by a newer metatrain (PET checkpoint format "
                         f"{version}; metatrain {metatrain.__version__} reads up to {current})")
    try:
        if version < current:
            checkpoint.setdefault("model_ckpt_version", version)
            checkpoint = PET.upgrade_checkpoint(checkpoint)
        PET.load_checkpoint(copy.deepcopy(checkpoint), context="export")
    except Exception as exc:  # metatrain raises several types for foreign state dicts
        raise ModelError(f"'{path}' is not a usable PET checkpoint (format {version}, "
                         f"upgraded to {current}): {type(exc).__name__}: {first_line(exc)}"
                         ) from exc
    return checkpoint


def check_base_model(path: str | Path, cache: str | Path) -> None:
    """Validate ``training.base_model`` when the workflow starts, before any job deletes a
    model; a checkpoint that passed is not loaded again while it is unchanged (``cache``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"training.base_model '{path}' does not exist")
    try:
        remembered(cache, path, lambda: upgraded_pet_checkpoint(path)["model_ckpt_version"])
    except ModelError as exc:
        raise ModelError(f"training.base_model: {exc}") from None


def subsample_indices(subsets: list[str], fraction: float, seed: int) -> np.ndarray:
    """Indices of ``fraction`` of the structures, drawn from each subset in proportion
    (paper S10: "a corresponding fraction of the structures was sampled from each
    subset"), in file order; at least one structure in all."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(subsets)
    chosen = []
    for subset in dict.fromkeys(subsets):
        members = np.flatnonzero(labels == subset)
        chosen.extend(rng.permutation(members)[:round(fraction * len(members))])
    if not chosen:
        chosen = [int(rng.integers(len(labels)))]
    return np.sort(np.asarray(chosen, dtype=int))


def _subsample(frames_path: Path, fraction: float, seed: int, target: Path) -> Path:
    frames = read_extxyz(frames_path)
    chosen = subsample_indices([a.info.get("subset", "") for a in frames], fraction, seed)
    with atomic_path(target) as tmp:
        write_extxyz(tmp, [frames[i] for i in chosen])
    return target


def _with_stress(path: Path) -> bool:
    """Stress is trained on only when some training structure carries a finite one."""
    return any(
        atoms.pbc.all() and np.isfinite(atoms.get_stress()).all() for atoms in read_extxyz(path)
    )


def _batch_size(requested: int, *paths: Path, processes: int = 1) -> int:
    # metatrain refuses batches larger than a dataset (each process's share of it, when
    # training is distributed): small presets shrink them.
    return max(1, min([requested] + [len(read_extxyz(p)) // processes for p in paths]))


def train(request: TrainRequest) -> TrainedModel:
    """Run every step for one model inside ``request.workdir``; return the results."""
    settings = request.training
    device = resolve_device(request.device)
    # How the processes are started does not change what they compute.
    signature = digest(request.kind,
                       settings.model_dump(mode="json", exclude={"pretrain": {"launcher"}}),
                       request.seed,
                       request.fraction, request.llpr, device,
                       *[request.splits[k] for k in ("train", "val", "test")],
                       request.base_checkpoint or "", request.import_checkpoint or "")
    work = resumable_directory(request.workdir, signature)
    # metatrain runs inside the work folders: every path it reads must be absolute.
    splits = {name: path.resolve() for name, path in request.splits.items()}
    base = request.base_checkpoint.resolve() if request.base_checkpoint else None
    if request.fraction < 1.0:
        subset = work / "train_subset.extxyz"
        if not subset.exists():
            _subsample(splits["train"], request.fraction, request.seed, subset)
        splits["train"] = subset.resolve()
    with_stress = _with_stress(splits["train"])

    # 1. the PET itself
    if request.import_checkpoint is not None:
        import torch

        trained = work / "imported.ckpt"
        checkpoint = upgraded_pet_checkpoint(request.import_checkpoint)
        with atomic_path(trained) as tmp:
            torch.save(checkpoint, tmp)
    else:
        trainer = {"pretrain": settings.pretrain, "bespoke": settings.bespoke}.get(
            request.kind, settings.finetune)
        processes = settings.pretrain.processes if request.kind == "pretrain" else 1
        trainer = trainer.model_copy(update={"batch_size": _batch_size(
            trainer.batch_size, splits["train"], splits["val"], processes=processes)})
        finetune, model_hypers = None, settings.pet.model_dump()
        if request.kind in ("lora", "full"):
            if base is None:
                raise ModelError(f"'{request.kind}' fine-tuning needs a base checkpoint")
            # The architecture is the base model's, whatever the config says.
            model_hypers = read_pet_checkpoint(base)["model_data"]["model_hypers"]
            finetune = settings.finetune.model_copy(update={"method": request.kind})
            if finetune.energy_baseline == "shifted":
                shifted = work / "shifted_base.ckpt"
                if not shifted.exists():
                    try:
                        write_shifted_base(base, read_extxyz(splits["train"]), shifted)
                    except ValueError as exc:  # no baseline to shift, unknown species
                        raise ModelError(f"fine-tuning {base.name}: {exc}") from exc
                base = shifted.resolve()
        options = pet_options(splits, model_hypers, trainer, seed=request.seed, device=device,
                              finetune=finetune, base_checkpoint=base,
                              with_stress=with_stress)
        (work / "train").mkdir(exist_ok=True)
        trained = run_metatrain(options, work / "train", processes=processes,
                                launcher=settings.pretrain.launcher, threads=request.threads)

    # 2. LoRA adapters folded into the weights (LLPR cannot reload adapters)
    if request.kind == "lora":
        from petmad.models.lora import merge_lora_checkpoint

        merged = work / "merged.ckpt"
        if not merged.exists():
            count = merge_lora_checkpoint(trained, merged)
            log.info("merged %d LoRA layers", count)
        trained = merged

    if not request.llpr:
        exported = work / "plain.pt"
        if not exported.exists():
            export_checkpoint(trained, exported)
        return TrainedModel(trained, trained, exported)

    # 3. LLPR uncertainty and last-layer ensemble, calibrated on the validation set
    llpr = settings.llpr.model_copy(
        update={"batch_size": _batch_size(settings.llpr.batch_size, splits["train"], splits["val"])})
    (work / "llpr").mkdir(exist_ok=True)
    options = llpr_options(splits, trained.resolve(), llpr, seed=request.seed, device=device,
                           with_stress=with_stress)
    checkpoint = run_metatrain(options, work / "llpr")
    return TrainedModel(trained, checkpoint, work / "llpr" / "model.pt")


def export_checkpoint(checkpoint: Path, target: Path) -> None:
    """TorchScript export of a checkpoint (what ``mtt export`` does)."""
    from metatrain.utils.io import load_model

    model = load_model(str(checkpoint))
    with atomic_path(target) as tmp:
        model.export().save(str(tmp))


def publish(result: TrainedModel, trained: Path, checkpoint: Path, exported: Path) -> None:
    """Copy a model's files to their workflow paths, each atomically."""
    for source, target in ((result.trained_checkpoint, trained), (result.checkpoint, checkpoint),
                           (result.exported, exported)):
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
