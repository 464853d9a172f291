"""Predictions of a model on labeled structures, stored beside the reference labels.

The result (``.npz``) is all the accuracy, calibration and retention analyses read:
reference and predicted energies, forces and stresses, the LLPR uncertainty and the
last-layer ensemble energies when the model has them.  Structures containing species
the model does not know are skipped and counted, never silently mixed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from tqdm import tqdm

from petmad.io import atomic_path


def load_calculator(model: str | Path, device: str = "cpu") -> Calculator:
    """An ASE calculator for an exported metatomic model (``.pt``), a model library entry
    (JSON, as the workflow hands it to jobs) or the name of a bundled SevenNet."""
    from petmad.config import BUNDLED_LIBRARY
    from petmad.models.registry import make_calculator, parse_entry

    if str(model).lstrip().startswith("{"):
        return make_calculator(parse_entry(str(model)), device)
    if str(model) in BUNDLED_LIBRARY:
        return make_calculator(BUNDLED_LIBRARY[str(model)], device)
    from metatomic_ase import MetatomicCalculator

    # Uncertainties are recorded, not policed, when measuring accuracy.
    return MetatomicCalculator(str(model), device=device, uncertainty_threshold=None)


def _capabilities(calculator: Calculator):
    from metatomic_ase import MetatomicCalculator

    if isinstance(calculator, MetatomicCalculator):
        return calculator.model().capabilities()
    return None


def supported_species(calculator: Calculator) -> set[int] | None:
    """Atomic numbers the model knows, or ``None`` when it does not say."""
    capabilities = _capabilities(calculator)
    if capabilities is None:  # a library model may state them (registry.make_calculator)
        return getattr(calculator, "covered_species", None)
    return {int(z) for z in capabilities.atomic_types}


def _uncertainty_outputs(calculator: Calculator) -> list[str]:
    capabilities = _capabilities(calculator)
    if capabilities is None:
        return []
    return [name for name in ("energy_uncertainty", "energy_ensemble")
            if name in capabilities.outputs]


def predict(calculator: Calculator, frames: list[Atoms], progress: bool = False) -> dict[str, Any]:
    """Reference labels and predictions for every structure the model can handle."""
    known = supported_species(calculator)
    extra = _uncertainty_outputs(calculator)
    rows: dict[str, list] = {key: [] for key in (
        "index", "n_atoms", "subset", "energy_ref", "energy", "stress_ref", "stress",
        "forces_ref", "forces", "energy_uncertainty", "energy_ensemble")}
    skipped = 0
    for index, atoms in enumerate(tqdm(frames, disable=not progress, desc="predicting")):
        if known is not None and not set(atoms.numbers.tolist()) <= known:
            skipped += 1
            continue
        work = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        work.calc = calculator
        rows["index"].append(index)
        rows["n_atoms"].append(len(atoms))
        rows["subset"].append(str(atoms.info.get("subset", "all")))
        rows["energy_ref"].append(atoms.get_potential_energy())
        rows["forces_ref"].append(atoms.get_forces())
        rows["energy"].append(work.get_potential_energy())
        rows["forces"].append(work.get_forces())
        periodic = bool(atoms.pbc.all())
        rows["stress_ref"].append(atoms.get_stress() if periodic else np.full(6, np.nan))
        rows["stress"].append(work.get_stress() if periodic else np.full(6, np.nan))
        if extra:
            from metatomic.torch import ModelOutput

            outputs = calculator.run_model(work, {name: ModelOutput(per_atom=False) for name in extra})
            values = {name: outputs[name].block().values.detach().cpu().numpy()[0] for name in extra}
            rows["energy_uncertainty"].append(float(values.get("energy_uncertainty", [np.nan])[0]))
            rows["energy_ensemble"].append(values.get("energy_ensemble", np.array([])))
    result = {
        "index": np.array(rows["index"], dtype=int),
        "n_atoms": np.array(rows["n_atoms"], dtype=int),
        "subset": np.array(rows["subset"], dtype=str),
        "energy_ref": np.array(rows["energy_ref"], dtype=float),
        "energy": np.array(rows["energy"], dtype=float),
        "stress_ref": np.array(rows["stress_ref"], dtype=float).reshape(-1, 6),
        "stress": np.array(rows["stress"], dtype=float).reshape(-1, 6),
        "forces_ref": np.concatenate(rows["forces_ref"]) if rows["forces_ref"] else np.zeros((0, 3)),
        "forces": np.concatenate(rows["forces"]) if rows["forces"] else np.zeros((0, 3)),
        "skipped_unknown_species": np.array(skipped),
    }
    if extra:
        result["energy_uncertainty"] = np.array(rows["energy_uncertainty"], dtype=float)
        result["energy_ensemble"] = np.array(rows["energy_ensemble"], dtype=float)
    return result


def write_predictions(path: str | Path, predictions: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **predictions)


def evaluate_files(
    calculator: Calculator, pairs: list[tuple[str, str]], progress: bool = False
) -> list[str]:
    """Predict each labeled extxyz file into its ``.npz``; return one summary line each."""
    from petmad.io import read_extxyz

    lines = []
    for data, output in pairs:
        predictions = predict(calculator, read_extxyz(data), progress=progress)
        write_predictions(output, predictions)
        lines.append(f"{data}: {len(predictions['energy'])} structures predicted into {output}, "
                     f"{int(predictions['skipped_unknown_species'])} skipped "
                     "(species unknown to the model)")
    return lines
