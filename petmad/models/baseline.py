"""The energy baseline a fine-tuned PET starts from.

A PET predicts ``E = Σ_i w(Z_i) + s · NN``: a per-species composition baseline ``w`` and
a scale ``s`` fitted on the pretraining data, plus the network.  Fine-tuning keeps ``w``
and ``s`` of the targets the base model already has (metatrain fits them only for new
targets), so the fine-tuned model starts wherever the base model is on the new system,
including any constant offset per atom.  A base model trained briefly is far off in
that constant (pet-mad at the default preset, mean offset on the training sets: +0.19
eV/atom on water, −0.71 on succinic acid), and LoRA's few parameters, with the energy
weighted 0.1 against the forces in the loss, do not remove it in a few epochs.

Shifting ``w`` by the per-species least-squares offset of the base model's energies on
the system's training set removes that constant before training: the fine-tuned model
starts at the base model's energy surface, aligned with the reference, and what is left
to learn is its shape, which is what the adapters are for.  With a base model that is
already right on the system the shift is near zero and changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from ase import Atoms

from petmad.io import atomic_path

log = logging.getLogger("petmad.models")

# where a metatrain PET checkpoint keeps the serialized per-species energy baseline
ENERGY_BASELINE_KEY = "additive_models.0.energy_composition_buffer"


def species_offsets(numbers: list[np.ndarray], residuals: np.ndarray) -> dict[int, float]:
    """Per-species energies ``δ(Z)`` minimising ``Σ_frames (Σ_i δ(Z_i) − r)²``.

    On a single-composition set only one combination of them is determined; the
    minimum-norm solution is taken (any split gives the same energies on that
    composition)."""
    species = sorted({int(z) for frame in numbers for z in frame})
    counts = np.array([[np.count_nonzero(frame == z) for z in species] for frame in numbers],
                      dtype=float)
    solution, *_ = np.linalg.lstsq(counts, np.asarray(residuals, dtype=float), rcond=None)
    return dict(zip(species, solution.tolist()))


def checkpoint_calculator(checkpoint: Path):
    """An ASE calculator for a PET checkpoint (exported in memory)."""
    from metatomic_ase import MetatomicCalculator
    from metatrain.utils.io import load_model

    return MetatomicCalculator(load_model(str(checkpoint)).export(),
                               uncertainty_threshold=None)


def shift_energy_baseline(checkpoint: dict, offsets: dict[int, float]) -> dict:
    """``checkpoint`` (a metatrain PET checkpoint, changed in place and returned) with
    ``offsets`` (eV per atom of each species) added to its energy baseline."""
    import metatensor.torch as mts

    states = [state for state in ("model_state_dict", "best_model_state_dict")
              if ENERGY_BASELINE_KEY in (checkpoint.get(state) or {})]
    if not states:
        raise ValueError("the base checkpoint has no per-species energy baseline to shift "
                         f"({ENERGY_BASELINE_KEY}); set training.finetune.energy_baseline: base")
    for state in states:
        weights = checkpoint[state]
        baseline = mts.load_buffer(weights[ENERGY_BASELINE_KEY])
        block = baseline.block()
        types = block.samples.column("center_type").tolist()
        unknown = set(offsets) - set(types)
        if unknown:
            raise ValueError(f"species {sorted(unknown)} are not known to the base model")
        values = block.values.clone()
        for z, offset in offsets.items():
            values[types.index(z)] += offset
        shifted = mts.TensorMap(baseline.keys, [mts.TensorBlock(
            values, block.samples, block.components, block.properties)])
        weights[ENERGY_BASELINE_KEY] = mts.save_buffer(mts.make_contiguous(shifted))
    return checkpoint


def write_shifted_base(base: Path, frames: list[Atoms], target: Path) -> dict[int, float]:
    """Write ``base`` to ``target`` with its energy baseline shifted by its per-species
    offset on ``frames`` (labeled with reference energies); return the offsets (eV)."""
    import metatomic.torch  # noqa: F401  (registers the classes checkpoints refer to)
    import torch

    from petmad.models.evaluate import predict

    predictions = predict(checkpoint_calculator(base), frames)
    if predictions["skipped_unknown_species"]:
        known = {int(z) for i in predictions["index"] for z in frames[i].numbers}
        unknown = {int(z) for a in frames for z in a.numbers} - known
        raise ValueError(f"species {sorted(unknown)} are not known to the base model")
    residuals = predictions["energy_ref"] - predictions["energy"]
    offsets = species_offsets([a.numbers for a in frames], residuals)
    per_atom = residuals / np.array([len(a) for a in frames])
    log.info("fine-tuning base shifted by its mean offset on the training set, "
             "%+.1f meV/atom (per species: %s)", 1e3 * float(np.mean(per_atom)),
             ", ".join(f"Z={z}: {1e3 * d:+.0f} meV" for z, d in offsets.items()))
    checkpoint = torch.load(base, weights_only=False, map_location="cpu")
    with atomic_path(target) as tmp:
        torch.save(shift_energy_baseline(checkpoint, offsets), tmp)
    return offsets
