"""metatrain options for every model the workflow trains, built from the config.

Pure functions returning plain dictionaries; the training step writes them next to each
model (``models/<id>.options.yaml``) so a user can rerun ``mtt train`` by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from petmad.config import FinetuneSettings, LlprSettings, TrainerSettings

# metatrain's name for a head that predicts forces directly, without differentiating the
# energy; metatomic engines ask for it when running "non-conservative" dynamics.
DIRECT_FORCES = "non_conservative_forces"


def dataset_section(path: str | Path, *, with_stress: bool = True,
                    direct_forces: bool = False) -> dict[str, Any]:
    """How metatrain reads one of our extxyz splits (labels stored the ASE way); with
    ``direct_forces`` the same forces are also the target of a per-atom vector head."""
    energy: dict[str, Any] = {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
    energy["stress"] = {"key": "stress"} if with_stress else False
    targets: dict[str, Any] = {"energy": energy}
    if direct_forces:
        targets[DIRECT_FORCES] = {"key": "forces", "quantity": "force", "unit": "eV/A",
                                  "type": {"cartesian": {"rank": 1}}, "per_atom": True,
                                  "num_subtargets": 1}
    return {
        "systems": {"read_from": str(path), "length_unit": "angstrom"},
        "targets": targets,
    }


def loss_section(trainer: TrainerSettings, *, with_stress: bool = True) -> dict[str, Any]:
    gradients = {"positions": {"type": "mse", "weight": trainer.forces_weight}}
    if with_stress:
        gradients["strain"] = {"type": "mse", "weight": trainer.stress_weight}
    loss = {"energy": {"type": "mse", "weight": trainer.energy_weight, "gradients": gradients}}
    if trainer.direct_forces_weight > 0:
        loss[DIRECT_FORCES] = {"type": "mse", "weight": trainer.direct_forces_weight}
    return loss


def metatrain_lora_alpha(finetune: FinetuneSettings) -> float:
    """metatrain's LoRA ``alpha`` that gives ``finetune.scaling``: metatrain's LoRA layer
    multiplies its update by alpha/rank (``LoRALinear.scaling``), the paper's by the
    scaling itself."""
    return finetune.scaling * finetune.rank


def pet_options(
    splits: dict[str, str | Path],
    model_hypers: dict[str, Any],
    trainer: TrainerSettings,
    *,
    seed: int,
    device: str,
    finetune: FinetuneSettings | None = None,
    base_checkpoint: str | Path | None = None,
    with_stress: bool = True,
) -> dict[str, Any]:
    """Options to train a PET from scratch, or to fine-tune ``base_checkpoint`` (whose
    architecture ``model_hypers`` must then repeat)."""
    direct_forces = trainer.direct_forces_weight > 0
    training: dict[str, Any] = {
        "num_epochs": trainer.num_epochs,
        "batch_size": trainer.batch_size,
        "learning_rate": trainer.learning_rate,
        "checkpoint_interval": trainer.checkpoint_interval,
        "loss": loss_section(trainer, with_stress=with_stress),
        # Data loading in worker processes costs more than it saves on small CPU jobs.
        "num_workers": 0,
    }
    if finetune is not None:
        if base_checkpoint is None:
            raise ValueError("fine-tuning needs the base model's checkpoint")
        strategy: dict[str, Any] = {"method": finetune.method, "read_from": str(base_checkpoint)}
        if finetune.method == "lora":
            strategy["config"] = {"rank": finetune.rank, "alpha": metatrain_lora_alpha(finetune),
                                  "target_modules": list(finetune.target_modules)}
        training["finetune"] = strategy
    return {
        "seed": seed,
        "device": device,
        "base_precision": 32,
        "architecture": {"name": "pet", "model": dict(model_hypers), "training": training},
        "training_set": dataset_section(splits["train"], with_stress=with_stress,
                                        direct_forces=direct_forces),
        "validation_set": dataset_section(splits["val"], with_stress=with_stress,
                                          direct_forces=direct_forces),
        # Test sets are evaluated by the workflow's own accuracy step, on every model.
        "test_set": 0.0,
    }


def llpr_options(
    splits: dict[str, str | Path],
    checkpoint: str | Path,
    llpr: LlprSettings,
    *,
    seed: int,
    device: str,
    with_stress: bool = True,
) -> dict[str, Any]:
    """Options to wrap a trained PET in metatrain's LLPR: covariance of the last-layer
    features on the training set, calibration on the validation set, and a last-layer
    ensemble of ``num_ensemble_members`` weight sets."""
    return {
        "seed": seed,
        "device": device,
        "base_precision": 32,
        "architecture": {
            "name": "llpr",
            "model": {"num_ensemble_members": {"energy": llpr.num_ensemble_members}},
            "training": {"model_checkpoint": str(checkpoint), "batch_size": llpr.batch_size,
                         "num_epochs": None, "num_workers": 0},
        },
        "training_set": dataset_section(splits["train"], with_stress=with_stress),
        "validation_set": dataset_section(splits["val"], with_stress=with_stress),
        "test_set": 0.0,
    }
