"""Fold LoRA adapters into the weights they adapt.

metatrain's LoRA layer computes ``W x + b + (alpha / rank) B A x``; replacing ``W`` by
``W + (alpha / rank) B A`` gives a plain PET that predicts the same numbers.  The LLPR
wrapper cannot reload a checkpoint that still carries adapters, so LoRA models are merged
before their uncertainty is attached.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def merge_lora_layers(model: nn.Module) -> int:
    """Replace every LoRA layer of ``model`` in place by its merged linear layer; return
    how many were merged."""
    from metatrain.pet.modules.finetuning import LoRALinear

    merged = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                linear = child.linear
                with torch.no_grad():
                    update = child.lora_B.weight @ child.lora_A.weight
                    linear.weight += child.scaling * update
                linear.weight.requires_grad_(True)
                setattr(parent, name, linear)
                merged += 1
    return merged


def load_pet_checkpoint(path: str | Path):
    """The PET model stored in a metatrain checkpoint (its best weights)."""
    from metatrain.pet import PET

    checkpoint = torch.load(path, weights_only=False, map_location="cpu")
    if checkpoint.get("architecture_name") != "pet":
        raise ValueError(
            f"'{path}' holds a '{checkpoint.get('architecture_name')}' model, not a PET"
        )
    checkpoint = PET.upgrade_checkpoint(checkpoint)
    return PET.load_checkpoint(checkpoint, context="export")


def merge_lora_checkpoint(source: str | Path, target: str | Path) -> int:
    """Write a plain-PET checkpoint with the adapters of ``source`` folded in."""
    from petmad.io import atomic_path

    model = load_pet_checkpoint(source)
    merged = merge_lora_layers(model)
    model.finetune_config = {}
    checkpoint = model.get_checkpoint()
    # metatrain reads these when a checkpoint seeds another training (LLPR, fine-tuning).
    checkpoint["epoch"] = checkpoint["best_epoch"] = 0
    with atomic_path(target) as tmp:
        torch.save(checkpoint, tmp)
    return merged
