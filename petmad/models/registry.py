"""The model registry: every model name a case study or a benchmark accepts resolves here.

A name is one of
- a PET trained by the workflow: ``pet-mad``, ``bespoke``, ``lora`` (exported ``.pt`` files
  under ``models/``);
- ``reference``: the labeling engine itself;
- an entry of the model library (``Config.library``): the SevenNets bundled in their wheel
  and the config's ``model_library`` (an exported metatomic model such as the published
  PET-MAD, a bundled CHGNet, or any ASE calculator made by a factory function).

The rules ask it which files a model needs and what to hand the job; the job turns the
handed entry back into an ASE calculator with :func:`make_calculator`.  Every model then
runs through the same code, whatever made it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers, chemical_symbols

from petmad.config import (
    SYSTEM_ELEMENTS,
    TRAINED_MODELS,
    Config,
    LibraryModel,
)
from petmad.io import reading, remembered
from petmad.models.training import ModelError

SPECIES_CACHE = ".snakemake/petmad/model-species.json"
SAID_MARKER = "PETMAD_REFUSALS_SAID"


def library_entry(config: Config, name: str) -> LibraryModel | None:
    """The library entry of ``name``; None for the trained PETs and the reference engine."""
    return config.library.get(name)


def exported_file(name: str, system: str | None) -> str:
    """Where the workflow exports one of its trained PETs (bespoke and LoRA models exist
    per system)."""
    if name == "pet-mad":
        return "models/pet-mad.pt"
    if system is None:
        raise ValueError(f"'{name}' models are trained per system: name the system")
    return f"models/{system}/{name}.pt"


def model_inputs(config: Config, name: str, system: str | None) -> list[str]:
    """The files a job running ``name`` on ``system`` needs (for Snakemake's DAG)."""
    if name in TRAINED_MODELS:
        return [exported_file(name, system)]
    entry = library_entry(config, name)
    if entry is not None and entry.kind == "metatomic":
        return [entry.path]
    return []


def is_trained(name: str) -> bool:
    """Whether ``name`` is one of the PETs the workflow trains (pet-mad, bespoke, lora)."""
    return name in TRAINED_MODELS


def entry_json(entry: LibraryModel) -> str:
    """An entry as it travels to a job on its command line."""
    return json.dumps(entry.model_dump(mode="json", exclude_none=True), sort_keys=True,
                      separators=(",", ":"))


def parse_entry(text: str) -> LibraryModel:
    return LibraryModel.model_validate(json.loads(text))


def calculator_source(entry: LibraryModel) -> str:
    """What a benchmark job loads for a library model (``evaluate.load_calculator``): an
    exported metatomic file by its path (so its LLPR ensemble is found), any other entry
    as JSON."""
    return entry.path if entry.kind == "metatomic" else entry_json(entry)


def make_calculator(entry: LibraryModel, device: str = "cpu") -> Calculator:
    """An ASE calculator for a library entry, or one error naming what could not be built.
    An entry that states its species hands them on as ``calculator.covered_species``
    (atomic numbers), so predictions skip structures with others."""
    calculator = _build_calculator(entry, device)
    if entry.species is not None:
        calculator.covered_species = {atomic_numbers[symbol] for symbol in entry.species}
    return calculator


def _build_calculator(entry: LibraryModel, device: str) -> Calculator:
    if entry.kind == "metatomic":
        from metatomic_ase import MetatomicCalculator

        if not Path(entry.path).is_file():
            raise FileNotFoundError(f"model file '{entry.path}' does not exist")
        with reading(entry.path, "exported model"):
            return MetatomicCalculator(entry.path, device=device, uncertainty_threshold=None)
    if entry.kind == "sevennet":
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(entry.name, device=device)
    if entry.kind == "chgnet":
        try:
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator
        except ImportError as exc:
            raise ModelError(
                f"CHGNet is not installed ({exc}); pip install chgnet==0.4.2") from None
        model = CHGNet.load(model_name=entry.version, use_device=device, verbose=False)
        return CHGNetCalculator(model=model, use_device=device)
    module_name, function_name = entry.factory.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"ASE calculator factory '{entry.factory}' cannot be "
                               f"imported: {exc}") from None
    calculator = factory(**entry.kwargs)
    if not isinstance(calculator, Calculator) and not hasattr(calculator, "get_potential_energy"):
        raise ModelError(f"'{entry.factory}' returned {type(calculator).__name__}, "
                               "not an ASE calculator")
    return calculator


def _metatomic_species(path: str) -> list[str]:
    from metatomic.torch import load_atomistic_model

    with reading(path, "exported model"):
        types = load_atomistic_model(path).capabilities().atomic_types
    return sorted(chemical_symbols[int(z)] for z in types)


def model_species(config: Config, name: str) -> set[str] | None:
    """Elements ``name`` covers, or None when it does not say (then it is trusted)."""
    if name == "pet-mad":
        return None if config.training.base_model else set(config.data.mad.elements)
    entry = library_entry(config, name)
    if entry is None:
        return None  # bespoke and LoRA models are trained on the study's own data
    if entry.species is not None:
        return set(entry.species)
    if entry.kind == "metatomic" and Path(entry.path).is_file():
        return set(remembered(SPECIES_CACHE, entry.path, lambda: _metatomic_species(entry.path)))
    return None


def missing_species(config: Config, name: str, system: str) -> list[str]:
    covered = model_species(config, name)
    return [] if covered is None else sorted(set(SYSTEM_ELEMENTS[system]) - covered)


def asked_models(config: Config, system: str) -> list[str]:
    """The models a study of ``system`` is asked to run with: its ``study_models`` entry,
    else ``models``."""
    return config.study_models.get(system, config.models)


def refusal(config: Config, name: str, system: str) -> str | None:
    """Why a study of ``system`` cannot run with ``name``, or None when it can."""
    if name == "reference" and not config.reference.computes:
        return (f"model 'reference' computes nothing with reference.engine "
                f"'{config.reference.engine}' (it reads labels): not run in the {system} "
                "study")
    if missing := missing_species(config, name, system):
        return f"model '{name}' lacks {missing} needed by the {system} study: not run with it"
    return None


def study_models(config: Config, system: str) -> list[str]:
    """The asked models that a study of ``system`` runs with: those that cover its
    species (and the reference engine where it computes)."""
    return [name for name in asked_models(config, system)
            if refusal(config, name, system) is None]


def refused_studies(config: Config) -> list[str]:
    """One line per (model, study) left out: a model that lacks a species, or the
    reference engine where it only reads labels."""
    return [line for system in config.systems for name in asked_models(config, system)
            if (line := refusal(config, name, system)) is not None]


def say_refused_studies(config: Config) -> None:
    """Print :func:`refused_studies` once per workflow run: the Snakefile is read again by
    the job processes Snakemake starts, which inherit this marker from the controller."""
    if SAID_MARKER in os.environ:
        return
    for line in refused_studies(config):
        print(f"petmad-bench: {line}", file=sys.stderr)
    os.environ[SAID_MARKER] = "1"
