# Validation of the merged configuration, and the helpers every rule file shares.

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from petmad import campaign
from petmad.config import ConfigError, SYSTEMS, dataset_settings, validate_config
from petmad.provenance import ENVIRONMENT_VARIABLE, workflow_facts

try:
    CFG = validate_config(config)
except ConfigError as exc:
    # One line naming the key path, before any job is scheduled.
    sys.exit(f"petmad-bench: {exc}")

if CFG.training.base_model and not Path(CFG.training.base_model).is_file():
    sys.exit(f"petmad-bench: training.base_model '{CFG.training.base_model}' does not exist")

# Jobs run `python -m petmad ...`: put the interpreter running Snakemake first on PATH
# (a virtual environment need not be activated) and the project on PYTHONPATH.  With
# --software-deployment-method conda, the rule's environment comes first instead.
def prepend_search_path(variable, directory):
    current = os.getenv(variable)
    os.environ.update({variable: os.pathsep.join(filter(None, [str(directory), current]))})


prepend_search_path("PATH", Path(sys.executable).parent)
prepend_search_path("PYTHONPATH", workflow.basedir)
# What every result file records about the workflow (petmad/provenance.py): the hash of the
# validated configuration, the seed, the reference engine.  An environment variable, not a
# param, so that a config change reruns only the jobs whose own params it changes.
PROVENANCE = workflow_facts(CFG)
os.environ[ENVIRONMENT_VARIABLE] = json.dumps(PROVENANCE, sort_keys=True)
CONDA_ENV = "../envs/petmad.yaml"
DATASETS = ["mad", *CFG.systems]


wildcard_constraints:
    dataset="|".join(["mad", *SYSTEMS]),
    system="|".join(SYSTEMS),
    method="bespoke|lora|full",
    fraction=r"[0-9.]+",
    external=r"7net[-_A-Za-z0-9]+",
    model="pet-mad|bespoke|lora|reference",
    phase="alpha|beta|gamma",
    temperature=r"[0-9.]+",
    beads=r"[0-9]+",
    sampling="md|pimd",


def as_json(section):
    """A config section as compact JSON for a command line (Snakemake reruns a job when
    its params change, so each rule gets exactly the section it uses)."""
    return json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def model_file(model, system):
    """The exported model a case study runs with ([] for the reference engine itself)."""
    if model == "reference":
        return []
    if model == "pet-mad":
        return "models/pet-mad.pt"
    return f"models/{system}/{model}.pt"


def labeling_input(wildcards):
    """Structures to compute, or the user's labeled file when the engine is 'file'."""
    if CFG.reference.engine == "file":
        return CFG.reference.file.path.format(dataset=wildcards.dataset)
    return f"data/{wildcards.dataset}/structures.extxyz"


SYSTEM_MODEL_KINDS = ["bespoke", "lora"]
# The model lists come from petmad/campaign.py, which costs the same jobs these rules plan.
# Universal potentials compared in the accuracy table, minus the one labeling the data.
EXTERNAL_MODELS = campaign.external_models(CFG)
# Dimer curves: the universal models and the reference engine they are compared with.
DIMER_MODELS = campaign.dimer_models(CFG)
# Relaxation timings: the universal models (the reference engine's own 7net model included).
UNIVERSAL_MODELS = campaign.universal_models(CFG)
# Phonon bands (paper Fig. S7): pet-mad's LLPR ensemble against the reference engine.
PHONON_MODELS = campaign.phonon_models(CFG)


def speed_models():
    """Name -> exported file (or SevenNet name) of every model the speed benchmark times:
    pet-mad, the LoRA model of the first system (LoRA adds adapters, hence cost) and the
    other universal potentials."""
    def where(name):
        if name == "pet-mad":
            return "models/pet-mad.pt"
        if name.startswith("lora-"):
            return f"models/{name.removeprefix('lora-')}/lora.pt"
        return name

    return {name: where(name) for name in campaign.speed_models(CFG)}


def speed_model_files(wildcards):
    return [path for path in speed_models().values() if path.endswith(".pt")]


def speed_model_arguments(wildcards):
    return " ".join(f"--model {name}={path}" for name, path in speed_models().items())


def model_resources(wildcards, threads):
    """Training and dynamics want a GPU where the config asks for one."""
    return 1 if CFG.device in ("cuda", "auto") else 0


def learning_curve_points():
    """(system, method, fraction) of every extra training the learning curves need; the
    full-data bespoke and LoRA models are the main ones, full fine-tuning needs its own."""
    return campaign.learning_curve_points(CFG)


def accuracy_predictions():
    """Every (model, dataset) prediction file the accuracy benchmarks read."""
    files = [f"models/eval/pet-mad/{d}.npz" for d in DATASETS]
    for system in CFG.systems:
        files += [f"models/eval/{system}/{kind}/{system}.npz" for kind in SYSTEM_MODEL_KINDS]
        files.append(f"models/eval/{system}/lora/mad.npz")  # retention (Table II)
    files += [f"models/eval/external/{name}/{d}.npz" for name in EXTERNAL_MODELS for d in DATASETS]
    return files


def training_json(*sections):
    """Only the training sections a rule uses, so that changing, say, the learning-curve
    fractions does not retrain the main models (Snakemake reruns on params changes)."""
    return json.dumps(
        {name: getattr(CFG.training, name).model_dump(mode="json") for name in sections},
        sort_keys=True,
        separators=(",", ":"),
    )


def lps_points():
    """(model, phase, temperature) of every Li3PS4 conductivity run."""
    return [(model, phase, f"{temperature:g}")
            for model in CFG.models
            for phase, spec in CFG.studies.lps_conductivity.phases.items()
            for temperature in spec.temperatures_K]


def lps_structure_input(wildcards):
    """A user-supplied structure file of the phase, if any (shipped crystals need none)."""
    structure = CFG.studies.lps_conductivity.phases[wildcards.phase].structure
    return [structure] if structure else []


def gaas_points():
    """(model, temperature) of every pinned GaAs interface run."""
    return [(model, f"{temperature:g}") for model in CFG.models
            for temperature in CFG.studies.gaas_melting.temperatures_K]


def water_points():
    """(model, beads) of every liquid-water run."""
    return [(model, beads) for model in CFG.models for beads in CFG.studies.water_pimd.beads]


def shielding_reference_set():
    """The labelled shieldings the NMR shielding model trains on (see studies.succinic_nmr)."""
    choice = CFG.studies.succinic_nmr.reference_set
    if choice == "shipped":
        return os.path.join(workflow.basedir, "petmad/shielding/data/succinic_alpha_giao.extxyz")
    if choice == "computed":
        return "data/succinic_nmr/reference.extxyz"
    return choice


def bto_points():
    """(model, temperature) of every BaTiO3 NPT run."""
    return [(model, f"{temperature:g}") for model in CFG.models
            for temperature in CFG.studies.bto_dielectric.temperatures_K]
