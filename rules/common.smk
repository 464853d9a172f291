# Validation of the merged configuration, and the helpers every rule file shares.

import json
import os
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from petmad import campaign
from petmad.config import (
    MODELS,
    SYSTEMS,
    ConfigError,
    check_user_files,
    dataset_settings,
    validate_config,
)
from petmad.io import UnreadableFileError
from petmad.models import registry
from petmad.models.training import ModelError
from petmad.reference.engines import LabelFileError
from petmad.provenance import ENVIRONMENT_VARIABLE, workflow_facts

try:
    CFG = validate_config(config)
except ConfigError as exc:
    # One line naming the key path, before any job is scheduled.
    sys.exit(f"petmad-bench: {exc}")

DATASETS = ["mad", *CFG.systems]
# Checks on user-supplied files, when the workflow starts.  A file the configuration names
# must exist before anything is planned (for a job whose output exists Snakemake never
# looks at its inputs, so a missing one would pass unseen), and a job that would replace
# files in data/ or models/ deletes them before it runs, so a bad labels file or base model
# must stop us before that.  Passed checks are remembered (by path, size and modification
# time) in .snakemake/petmad/.
try:
    check_user_files(CFG)
    if CFG.reference.engine == "file":
        from petmad.reference import make_engine
        from petmad.reference.labeling import check_label_files

        check_label_files(make_engine(CFG.reference),
                          [path for d in DATASETS for path in CFG.reference.file.paths(d)],
                          cache=".snakemake/petmad/label-files.json")
    if CFG.training.base_model:
        from petmad.models.training import check_base_model

        check_base_model(CFG.training.base_model, cache=".snakemake/petmad/base-model.json")
    # A model lacking a species a study needs is left out of that study, with one line.
    registry.say_refused_studies(CFG)
except (ConfigError, LabelFileError, ModelError, UnreadableFileError) as exc:
    sys.exit(f"petmad-bench: {exc}")

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


wildcard_constraints:
    dataset="|".join(["mad", *SYSTEMS]),
    system="|".join(SYSTEMS),
    method=r"bespoke|lora|full|lora-r[0-9]+",
    fraction=r"[0-9.]+",
    external="|".join(re.escape(name) for name in CFG.library),
    model="|".join(re.escape(name) for name in [*MODELS, *CFG.library]),
    phase="alpha|beta|gamma",
    temperature=r"[0-9.]+",
    beads=r"[0-9]+",
    sampling="md|pimd",
    round=r"[1-9][0-9]*",
    shard=r"[0-9]+",


def json_text(section):
    """A config section as compact JSON for a command line (Snakemake reruns a job when
    its params change, so each rule gets exactly the section it uses)."""
    return json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def as_json(section):
    """:func:`json_text` as a params function.  Snakemake expands wildcards in string
    params, and a user's text may hold a literal '{name}' (the 'file' engine's
    'labels/{dataset}.extxyz'); a function's value is passed on as it is."""
    text = json_text(section)
    return lambda wildcards: text


def model_file(model, system):
    """The files a job running ``model`` needs: a trained PET's export, a metatomic library
    entry's file, nothing for the reference engine and the other library models."""
    return registry.model_inputs(CFG, model, system)


def contact_wall_file(model, system):
    """The contact wall a case-study simulation of a trained PET adds: the system's table
    (rule contact_wall), the same for every trained model; none for other models, nor
    when the wall is off (the table needs the system's reference data, which a pet-mad
    study does not otherwise need)."""
    if not (CFG.studies.contact_wall.enabled and registry.is_trained(model)):
        return []
    return [f"data/{system}/contact_wall.json"]


def model_arguments(wildcards, input):
    """How a job is told which model it runs, beside --model NAME: the exported file, the
    contact wall added to it (input ``wall``, where the rule has one), and the library
    entry of a library model."""
    words = [f"--model-file {shlex.quote(str(input.model))}"] if input.model else []
    if getattr(input, "wall", None):
        words.append(f"--contact-wall {shlex.quote(str(input.wall))}")
    entry = registry.library_entry(CFG, wildcards.model)
    if entry is not None:
        words.append(f"--library-entry {shlex.quote(registry.entry_json(entry))}")
    return " ".join(words)


def library_source(wildcards):
    """What a benchmark job loads for the library model {external}: a file or an entry."""
    return registry.calculator_source(registry.library_entry(CFG, wildcards.external))


def study_models(system):
    """The case-study models that cover the species of ``system`` (the others are refused
    with one line when the workflow starts)."""
    return registry.study_models(CFG, system)


# labeling.shard_size: each dataset is labeled by rule label_shard's jobs, which rule label
# gathers (never with the 'file' engine, which computes nothing).
SHARDED_LABELING = CFG.labeling.shard_size is not None and CFG.reference.engine != "file"


def labeling_shards(wildcards):
    """A dataset's labeling shards (structure ranges), [] when one job labels it."""
    return campaign.labeling_shards(CFG, wildcards.dataset)


def labeling_input(wildcards):
    """Structures to compute, the user's labels file(s) when the engine is 'file', or the
    labeled shards to gather (``labeling.shard_size``)."""
    if CFG.reference.engine == "file":
        return CFG.reference.file.paths(wildcards.dataset)
    shards = labeling_shards(wildcards)
    if shards:
        return [f"data/{wildcards.dataset}/shards/{index}.extxyz" for index in range(len(shards))]
    return f"data/{wildcards.dataset}/structures.extxyz"


# Reference-engine MD (data.<system>.md and md_test): (system, part) of every sampling job.
MD_SETS = campaign.md_sets(CFG)


def structure_settings(dataset):
    """A dataset's settings as the structure builder gets them: active learning
    (model_md) shapes no rattle, so changing it must not rebuild and relabel them."""
    settings = dataset_settings(CFG.data, dataset)
    return json.dumps(settings.model_dump(mode="json", exclude={"model_md"}), sort_keys=True,
                      separators=(",", ":"))


def md_settings(wildcards, part=None):
    """The dataset settings that shape a sampling job (changing others must not rerun it):
    of ``wildcards.part``, or of ``part`` where the rule has none ('model')."""
    settings = dataset_settings(CFG.data, wildcards.system)
    return json.dumps(settings.md_shaping(part or wildcards.part), sort_keys=True,
                      separators=(",", ":"))


def md_trajectory_files(wildcards):
    """One file per trajectory when sampling runs as one job per trajectory (with
    labeling.shard_size, the shape a cluster runs), else none."""
    if not SHARDED_LABELING:
        return []
    settings = dataset_settings(CFG.data, wildcards.system)
    md = settings.md if wildcards.part == "train" else settings.md_test
    return [f"data/{wildcards.system}/md_{wildcards.part}/{index}.extxyz"
            for index in range(md.trajectories)]


def md_sampling_command(wildcards, input):
    """Gather the trajectories' files, or sample every trajectory in this job."""
    if input:
        return "gather-md --input " + " ".join(shlex.quote(str(path)) for path in input)
    return (f"sample-md --system {wildcards.system} --part {wildcards.part} "
            f"--settings {shlex.quote(md_settings(wildcards))} "
            f"--reference {shlex.quote(json_text(CFG.reference))} --seed {CFG.seed}")


def md_training_frames(wildcards):
    """The MD frames the split adds to a system's labeled rattles, [] when it has none."""
    if (wildcards.dataset, "train") in MD_SETS:
        return f"data/{wildcards.dataset}/md_train.extxyz"
    return []


# Systems with active learning (data.<system>.model_md): in round k a bespoke PET trained
# on the rounds before drives MD whose frames the reference labels.
MODEL_MD_SYSTEMS = campaign.model_md_systems(CFG)


def model_md_rounds(system):
    return dataset_settings(CFG.data, system).model_md.rounds if system in MODEL_MD_SYSTEMS else 0


def model_md_frames(wildcards):
    """The relabeled model-MD frames a split adds: of every round for the final split, of
    the rounds before round k for round k's (``wildcards.round``); [] without rounds."""
    if hasattr(wildcards, "round"):
        last = int(wildcards.round) - 1
    else:
        last = model_md_rounds(wildcards.dataset)
    return [f"data/{wildcards.dataset}/md_model/round{k}.extxyz" for k in range(1, last + 1)]


# Every test set a model is scored on, by name: each dataset's split test part, and the
# held-out reference-MD frames of a system as '<system>-md'.
TEST_SETS = {
    **{dataset: f"data/{dataset}/test.extxyz" for dataset in DATASETS},
    **{f"{system}-md": f"data/{system}/md_test.extxyz"
       for system, part in MD_SETS if part == "test"},
}


def held_out_reference_md(system):
    """The held-out reference-MD frames of ``system``, from which its study takes the
    reference engine's own classical values when the reference does not run the study
    itself (nothing when it does, or when no such frames are sampled)."""
    if "reference" in study_models(system):
        return []
    return TEST_SETS.get(f"{system}-md", [])


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
    """Name -> exported file (or library entry) of every model the speed benchmark times:
    pet-mad, the LoRA model of the first system (LoRA adds adapters, hence cost) and the
    other universal potentials."""
    def where(name):
        if name == "pet-mad":
            return "models/pet-mad.pt"
        if name.startswith("lora-"):
            return f"models/{name.removeprefix('lora-')}/lora.pt"
        return registry.calculator_source(registry.library_entry(CFG, name))

    return {name: where(name) for name in campaign.speed_models(CFG)}


def speed_model_files(wildcards):
    return [path for path in speed_models().values() if path.endswith(".pt")]


def speed_model_arguments(wildcards):
    return " ".join(f"--model {shlex.quote(f'{name}={where}')}"
                    for name, where in speed_models().items())


def model_resources(wildcards, threads):
    """Training and dynamics want a GPU where the config asks for one."""
    return 1 if CFG.device in ("cuda", "auto") else 0


def pretrain_gpus(wildcards, threads):
    """pet-mad trains on one GPU per process (training.pretrain.processes)."""
    return model_resources(wildcards, threads) * CFG.training.pretrain.processes


# Distributed pretraining is one job of `processes` tasks on one node, one GPU per task.
# The training command starts the tasks itself with its launcher (srun); the SLURM plugin's
# `mpi` resource keeps it from wrapping that command in a one-task srun of its own.
PRETRAIN_PROCESSES = CFG.training.pretrain.processes
PRETRAIN_TASKS = (
    {"mpi": CFG.training.pretrain.launcher, "tasks": PRETRAIN_PROCESSES, "tasks_per_gpu": 1,
     "nodes": 1}
    if PRETRAIN_PROCESSES > 1 else {}
)


def learning_curve_points():
    """(system, method, fraction) of every extra training the learning curves need; the
    full-data bespoke and LoRA models are the main ones, full fine-tuning needs its own."""
    return campaign.learning_curve_points(CFG)


MAD_LEARNING_CURVE_FRACTIONS = campaign.mad_learning_curve_fractions(CFG)


def learning_curve_kind(wildcards):
    return campaign.learning_curve_method(wildcards.method)[0]


def learning_curve_training(wildcards):
    """The training settings of a learning-curve model: a lora-r<N> method is LoRA at
    rank N, everything else as configured."""
    rank = campaign.learning_curve_method(wildcards.method)[1]
    updates = {"finetune": {"rank": rank}} if rank is not None else {}
    return training_json("pet", "bespoke", "finetune", **updates)


def accuracy_predictions():
    """Every (model, dataset) prediction file the accuracy benchmarks read."""
    files = [f"models/eval/pet-mad/{d}.npz" for d in TEST_SETS]
    for system in CFG.systems:
        files += [f"models/eval/{system}/{kind}/{system}.npz" for kind in SYSTEM_MODEL_KINDS]
        if f"{system}-md" in TEST_SETS:
            files += [f"models/eval/{system}/{kind}/{system}-md.npz"
                      for kind in SYSTEM_MODEL_KINDS]
        files.append(f"models/eval/{system}/lora/mad.npz")  # retention (Table II)
    files += [f"models/eval/external/{name}/{d}.npz" for name in EXTERNAL_MODELS for d in TEST_SETS]
    return files


def training_json(*sections, **updates):
    """Only the training sections a rule uses, so that changing, say, the learning-curve
    fractions does not retrain the main models (Snakemake reruns on params changes);
    ``updates`` replace fields of a section, e.g. ``finetune={"rank": 32}``."""
    return json.dumps(
        {name: getattr(CFG.training, name).model_copy(update=updates.get(name, {}))
         .model_dump(mode="json") for name in sections},
        sort_keys=True,
        separators=(",", ":"),
    )


def lps_points():
    """(model, phase, temperature) of every Li3PS4 conductivity run."""
    return [(model, phase, f"{temperature:g}")
            for model in study_models("lps")
            for phase, spec in CFG.studies.lps_conductivity.phases.items()
            for temperature in spec.temperatures_K]


def lps_structure_input(wildcards):
    """A user-supplied structure file of the phase, if any (shipped crystals need none)."""
    structure = CFG.studies.lps_conductivity.phases[wildcards.phase].structure
    return [structure] if structure else []


def gaas_points():
    """(model, temperature) of every pinned GaAs interface run."""
    return [(model, f"{temperature:g}") for model in study_models("gaas")
            for temperature in CFG.studies.gaas_melting.temperatures_K]


def water_points():
    """(model, beads) of every liquid-water run."""
    return [(model, beads) for model in study_models("water")
            for beads in CFG.studies.water_pimd.beads]


def shielding_reference_set():
    """The labelled shieldings the NMR shielding model trains on (see studies.succinic_nmr)."""
    choice = CFG.studies.succinic_nmr.reference_set
    if choice == "shipped":
        # Relative to the working directory, as Snakemake records input paths: a project
        # copied or moved with its runs then replans nothing.
        shipped = Path(workflow.basedir, "petmad/shielding/data/succinic_alpha_giao.extxyz")
        return os.path.relpath(shipped)
    if choice == "computed":
        return "data/succinic_nmr/reference.extxyz"
    return choice


def bto_points():
    """(model, temperature) of every BaTiO3 NPT run."""
    return [(model, f"{temperature:g}") for model in study_models("bto")
            for temperature in CFG.studies.bto_dielectric.temperatures_K]
