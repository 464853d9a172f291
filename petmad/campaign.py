"""The planned cost of a campaign, from the configuration alone: one row per piece of work
the workflow's ``rule all`` would run, with its size in atoms and its length in steps, so
a user can size a cluster allocation before anything is trained (``rule campaign_cost``).

``atom_steps = n_jobs × structures × atoms × replicas_or_beads × steps``: how many atoms
pass through a model (or the reference engine) in all.  ``step_unit`` says what a step is:
an MD step (one force evaluation per replica or bead), an outer MTS step, an optimiser
step (at most), an epoch of training, or one single-point calculation.

Structures come from the builders the jobs call (:mod:`petmad.studies`,
:mod:`petmad.data.systems`), which are cheap.  What the table cannot know is marked as a
bound in ``note``: datasets are counted before the force filter, MAD structures at
``data.mad.max_atoms``, optimisations and relaxations at their step limit, the speed
benchmark at every size (it skips sizes predicted too slow).

The fan-out over models, systems and temperatures mirrors ``rules/*.smk`` (the tests
compare the job counts with a Snakemake dry run): case studies run every model in
``models``, for every system in ``systems``; bespoke and LoRA models are trained for every
system; the supplementary benchmarks run the universal models.  Not counted: test-set
predictions, the rotational benchmark and the LLPR pass after each training (each about
one epoch's worth of forward passes or less), and the analyses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import pandas as pd

from petmad.config import Config
from petmad.models.registry import study_models

COLUMNS = ["stage", "study", "rule", "job", "piece", "model", "n_jobs", "structures", "atoms",
           "replicas_or_beads", "steps", "step_unit", "atom_steps", "note"]
STAGES = ("labeling", "training", "simulation")
TOTAL = "total"  # the ``study`` of total rows
# Structures built per dataset subset to learn its atoms per structure (every subset's
# structures come from one template, except Li3PS4's Li hops, which cycle over 3 phases).
PROBE = 3

MD = "MD steps"
SINGLE = "single points"
FIRE = "FIRE steps (at most)"


def _row(stage: str, study: str, rule: str, job: str, piece: str, model: str, *,
         n_jobs: int = 1, structures: int = 1, atoms: float, replicas_or_beads: int = 1,
         steps: float, step_unit: str = MD, note: str = "") -> dict:
    return {"stage": stage, "study": study, "rule": rule, "job": job, "piece": piece,
            "model": model, "n_jobs": n_jobs, "structures": structures, "atoms": atoms,
            "replicas_or_beads": replicas_or_beads, "steps": steps, "step_unit": step_unit,
            "note": note}


def _temperatures(temperatures: list[float]) -> str:
    values = sorted(temperatures)
    if len(values) == 1:
        return f"{values[0]:g} K"
    return f"{len(values)} T from {values[0]:g} to {values[-1]:g} K"


# --------------------------------------------------------------------------- model lists
# The workflow's own lists: rules/common.smk plans its jobs with these.


def external_models(config: Config) -> list[str]:
    """Universal potentials of the accuracy table and the dimer curves (common.smk's
    EXTERNAL_MODELS): the reference engine's own SevenNet model left out."""
    reference = config.reference
    return [name for name in config.training.external_models
            if not (reference.engine == "sevennet" and name == reference.sevennet.model)]


def _reference_if_it_computes(config: Config) -> list[str]:
    # The 'file' engine reads labels and cannot compute a curve or a band structure.
    return ["reference"] if config.reference.computes else []


def dimer_models(config: Config) -> list[str]:
    return ["pet-mad", *_reference_if_it_computes(config), *external_models(config)]


def universal_models(config: Config) -> list[str]:
    return ["pet-mad", *config.training.external_models]


def phonon_models(config: Config) -> list[str]:
    return ["pet-mad", *_reference_if_it_computes(config)]


def speed_models(config: Config) -> list[str]:
    """Models the speed benchmark times (common.smk's speed_models): pet-mad, the LoRA
    model of the first system, the external potentials."""
    lora = [f"lora-{config.systems[0]}"] if config.systems else []
    return ["pet-mad", *lora, *config.training.external_models]


MAIN_MODELS = ("bespoke", "lora")  # trained on the whole set by their own rules


def learning_curve_points(config: Config) -> list[tuple[str, str, float]]:
    """(system, method, fraction) of every learning-curve model of the systems; the main
    bespoke and LoRA models are the curves' whole-set points, the other methods (full
    fine-tuning, LoRA at another rank) are trained on the whole set too."""
    curves = config.training.learning_curves
    systems = [system for system in curves.systems if system in config.systems]
    methods = {system: [*curves.methods,
                        *(f"lora-r{rank}" for rank in curves.lora_ranks.get(system, []))]
               for system in systems}
    return [(system, method, fraction)
            for system in systems for method in methods[system]
            for fraction in [*curves.fractions, *([] if method in MAIN_MODELS else [1.0])]]


def learning_curve_method(method: str) -> tuple[str, int | None]:
    """The training kind of a learning-curve method and its LoRA rank where it is not the
    configured one: ``lora-r32`` is LoRA at rank 32."""
    found = re.fullmatch(r"lora-r([0-9]+)", method)
    return ("lora", int(found.group(1))) if found else (method, None)


def mad_learning_curve_fractions(config: Config) -> list[float]:
    """Fractions of MAD that pet-mad's own learning curve trains on (none when pet-mad is
    imported instead of trained)."""
    if config.training.base_model is not None:
        return []
    return list(config.training.learning_curves.mad_fractions)


# --------------------------------------------------------------------------- datasets


def _split_train(count: int, config: Config) -> int:
    from petmad.data.split import split_counts

    return split_counts(count, tuple(config.data.split))[0]


@lru_cache(maxsize=32)
def _system_subsets(system: str, settings_json: str, seed: int
                    ) -> tuple[tuple[str, int, float], ...]:
    """(subset, structures, mean atoms per structure) of a system's dataset, from the
    builder itself: its conditions and their shares are intercepted and only the first
    :data:`PROBE` structures of each condition are built (random packings of liquids take
    a noticeable time each)."""
    from unittest import mock

    from petmad.data import systems

    settings = systems.SETTINGS_TYPES[system].model_validate_json(settings_json)
    probed: list[tuple[str, int, float]] = []

    def probe(name, conditions, n, seed):
        counts = systems.allocate(n, [condition.weight for condition in conditions])
        for index, (condition, count) in enumerate(zip(conditions, counts)):
            if count:
                rng = np.random.default_rng([seed, systems.SYSTEMS.index(name), index])
                sample = condition.sample(rng, min(count, PROBE))
                probed.append((condition.subset, count,
                               float(np.mean([len(atoms) for atoms in sample]))))
        return []

    with mock.patch.object(systems, "sample_conditions", probe):
        systems.build_system(system, settings, seed)
    return tuple(probed)


def dataset_sizes(config: Config, dataset: str) -> tuple[int, int, float, str]:
    """(structures, training structures, mean atoms per structure, note) of a dataset,
    before the force and energy filters."""
    if dataset == "mad":
        mad = config.data.mad
        # Labeled: the generated structures (counts × oversampling); trained on: the counts
        # (the split keeps that many of those that pass the filters).
        structures = sum(mad.generated_count(subset) for subset in mad.counts)
        train = sum(_split_train(count, config) for count in mad.counts.values())
        return (structures, train, float(mad.max_atoms),
                "atoms: data.mad.max_atoms, an upper bound")
    settings = getattr(config.data, dataset)
    subsets = _system_subsets(dataset, settings.model_dump_json(), config.seed)
    structures = sum(count for _, count, _ in subsets)
    train = sum(_split_train(count, config) for _, count, _ in subsets)
    if (dataset, "train") in md_sets(config):
        train += _split_train(settings.md.frames, config)  # the MD frames, subset 'md'
    if dataset in model_md_systems(config):
        train += _split_train(settings.model_md.all_frames, config)  # subset 'model_md'
    atoms = sum(count * mean for _, count, mean in subsets) / max(structures, 1)
    return structures, train, atoms, "atoms: mean per structure, from the dataset's builder"


def labeling_shards(config: Config, dataset: str) -> list[str]:
    """The structure ranges (``FIRST:END``) of a dataset's labeling jobs, or [] when one job
    labels it all (``labeling.shard_size`` unset, or labels read from files).  The last range
    is open-ended, so the shards cover the structures whatever their exact number."""
    size = config.labeling.shard_size
    if size is None or config.reference.engine == "file":
        return []
    structures = dataset_sizes(config, dataset)[0]
    starts = range(0, max(structures, 1), size)
    return [f"{start}:{start + size}" if start + size < structures else f"{start}:"
            for start in starts]


def md_sets(config: Config) -> list[tuple[str, str]]:
    """(system, part) of every reference-MD sampling job (rule ``sample_md``): part 'train'
    adds frames to the system's training data, 'test' is its held-out MD test set.  None
    when the labels are read from files: the 'file' engine cannot run MD."""
    if not config.reference.computes:
        return []
    return [(system, part) for system in config.systems
            for part, md in (("train", getattr(config.data, system).md),
                             ("test", getattr(config.data, system).md_test))
            if md.trajectories]


def model_md_systems(config: Config) -> list[str]:
    """Systems with active learning (``data.<system>.model_md``): rules ``split_round``,
    ``train_round_model``, ``contact_wall_round`` and ``sample_model_md``, once per round.
    None when the labels are read from files: the 'file' engine cannot label new frames."""
    if not config.reference.computes:
        return []
    return [system for system in config.systems
            if getattr(config.data, system).model_md.trajectories]


# --------------------------------------------------------------------------- stages


def labeling_rows(config: Config) -> Iterator[dict]:
    """One reference calculation per generated structure (rule ``label``, or its shards'
    rule ``label_shard``)."""
    engine = config.reference.engine
    for dataset in ["mad", *config.systems]:
        structures, _, atoms, note = dataset_sizes(config, dataset)
        steps = 0 if engine == "file" else 1
        if engine == "file":
            note = f"labels read from reference.file: no calculation; {note}"
        shards = len(labeling_shards(config, dataset))
        if shards:
            yield _row("labeling", dataset, "label_shard", dataset, f"{engine} labels",
                       "reference", n_jobs=shards, structures=structures / shards,
                       atoms=atoms, steps=steps, step_unit=SINGLE,
                       note=f"{shards} jobs of up to {config.labeling.shard_size} structures "
                       "(structures: the mean per job); "
                       f"before the force filter; {note}")
            continue
        yield _row("labeling", dataset, "label", dataset, f"{engine} labels", "reference",
                   structures=structures, atoms=atoms, steps=steps, step_unit=SINGLE,
                   note=f"before the force filter; {note}")
    sharded = config.labeling.shard_size is not None
    for system, part in md_sets(config):
        settings = getattr(config.data, system)
        md = settings.md if part == "train" else settings.md_test
        # labeling.shard_size (a cluster): one job per trajectory, which sample_md gathers
        yield _row("labeling", system, "sample_md_trajectory" if sharded else "sample_md",
                   f"{system}/{part}",
                   f"{engine} MD ({'training frames' if part == 'train' else 'test set'})",
                   "reference", n_jobs=md.trajectories if sharded else 1,
                   structures=1 if sharded else md.trajectories,
                   atoms=dataset_sizes(config, system)[2], steps=md.steps_per_trajectory,
                   note=f"{md.frames} frames at "
                   f"{_temperatures(md.temperatures_K or settings.sampling.temperatures_K)}"
                   f" (steps: relaxation and MD per trajectory, structures: trajectories "
                   "per job); atoms: the dataset's mean")
    for system in model_md_systems(config):
        md = getattr(config.data, system).model_md
        # a round's model MD costs little beside the reference's single points
        for round_ in range(1, md.rounds + 1):
            yield _row("labeling", system, "sample_model_md", f"{system}/round{round_}",
                       f"{engine} labels of round {round_}'s bespoke MD", "reference",
                       structures=md.frames, atoms=dataset_sizes(config, system)[2], steps=1,
                       step_unit=SINGLE, note=f"{md.trajectories} trajectories of "
                       f"{md.steps_per_trajectory} model steps; atoms: the dataset's mean")


def training_rows(config: Config) -> Iterator[dict]:
    """Structure-epochs of every training (``train_*`` rules)."""
    training = config.training
    _, train, atoms, note = dataset_sizes(config, "mad")
    imported = training.base_model is not None
    yield _row("training", "mad", "train_pet_mad", "pet-mad", "pretraining", "pet-mad",
               structures=train, atoms=atoms, steps=0 if imported else
               training.pretrain.num_epochs, step_unit="epochs",
               note=("training.base_model imported, not trained; " if imported else "")
               + f"training split before the force filter; {note}")
    finetune = training.finetune
    for system in config.systems:
        _, train, atoms, note = dataset_sizes(config, system)
        if system in model_md_systems(config):
            md = getattr(config.data, system).model_md
            for round_ in range(1, md.rounds + 1):
                before = train - _split_train((md.rounds - round_ + 1) * md.frames, config)
                yield _row("training", system, "train_round_model", f"{system}/round{round_}",
                           f"round {round_}'s bespoke PET (active learning)", "bespoke",
                           structures=before, atoms=atoms, steps=training.bespoke.num_epochs,
                           step_unit="epochs", note="the training split with the earlier "
                           f"rounds' model-MD frames, no LLPR; {note}")
        yield _row("training", system, "train_bespoke_model", system, "bespoke PET", "bespoke",
                   structures=train, atoms=atoms, steps=training.bespoke.num_epochs,
                   step_unit="epochs", note=f"training split before the force filter; {note}")
        yield _row("training", system, "train_lora_model", system,
                   f"{finetune.method} fine-tune of pet-mad", "lora", structures=train,
                   atoms=atoms, steps=finetune.num_epochs, step_unit="epochs",
                   note=f"training split before the force filter; {note}")
    _, train, atoms, note = dataset_sizes(config, "mad")
    for fraction in mad_learning_curve_fractions(config):
        yield _row("training", "learning_curves", "train_mad_learning_curve_model",
                   f"mad/pretrain-{fraction:g}", f"PET from scratch on {fraction:g} of MAD",
                   "pet-mad", structures=max(1, round(fraction * train)), atoms=atoms,
                   steps=training.pretrain.num_epochs, step_unit="epochs",
                   note=f"share of every subset of the training split, no LLPR; {note}")
    for system, method, fraction in learning_curve_points(config):
        _, train, atoms, note = dataset_sizes(config, system)
        epochs = training.bespoke.num_epochs if method == "bespoke" else finetune.num_epochs
        yield _row("training", "learning_curves", "train_learning_curve_model",
                   f"{system}/{method}-{fraction:g}", f"{method} on {fraction:g} of the set",
                   method, structures=max(1, round(fraction * train)), atoms=atoms,
                   steps=epochs, step_unit="epochs",
                   note=f"share of the training split, no LLPR; {note}")


def lps_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.lps import phase_structure

    settings = config.studies.lps_conductivity
    steps = settings.npt_steps + settings.nvt_steps + settings.production_steps
    for model in study_models(config, "lps"):
        for phase, spec in settings.phases.items():
            atoms = len(phase_structure(phase, settings)[0])
            yield _row("simulation", "lps_conductivity", "lps_md",
                       f"{model}/{phase}, {_temperatures(spec.temperatures_K)}",
                       "NPT + NVT + production", model, n_jobs=len(spec.temperatures_K),
                       atoms=atoms, replicas_or_beads=settings.replicas, steps=steps,
                       note="independent replicas, one after the other in each job")


def gaas_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.gaas import pinning_crystal

    settings = config.studies.gaas_melting
    interface = len(pinning_crystal(settings, settings.supercell))  # the melt keeps its atoms
    bulk = len(pinning_crystal(settings, settings.bulk_supercell))
    temperatures = settings.temperatures_K
    for model in study_models(config, "gaas"):
        job = f"{model}/interface"
        yield _row("simulation", "gaas_melting", "gaas_interface", job, "relaxation", model,
                   atoms=interface, steps=settings.relax_steps, step_unit=FIRE)
        yield _row("simulation", "gaas_melting", "gaas_interface", job,
                   "melting the upper half", model, atoms=interface, steps=settings.melt_steps)
        job = f"{model}, {_temperatures(temperatures)}"
        n_jobs = len(temperatures)
        yield _row("simulation", "gaas_melting", "gaas_pinning", job, "bulk relaxation", model,
                   n_jobs=n_jobs, atoms=bulk, steps=settings.relax_steps, step_unit=FIRE)
        yield _row("simulation", "gaas_melting", "gaas_pinning", job, "bulk solid Q4 reference",
                   model, n_jobs=n_jobs, atoms=bulk, steps=settings.reference_steps)
        yield _row("simulation", "gaas_melting", "gaas_pinning", job,
                   "bulk liquid melt + Q4 reference", model, n_jobs=n_jobs, atoms=bulk,
                   steps=settings.melt_steps + settings.reference_steps)
        yield _row("simulation", "gaas_melting", "gaas_pinning", job, "pinned interface", model,
                   n_jobs=n_jobs, atoms=interface, steps=settings.pinning_steps)


def hea_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.hea import random_slab

    settings = config.studies.hea_segregation
    atoms = len(random_slab(settings, config.seed + 7919))
    for model in study_models(config, "hea"):
        yield _row("simulation", "hea_segregation", "hea_remd", model, "slab relaxation", model,
                   atoms=atoms, steps=settings.relax_steps, step_unit=FIRE)
        yield _row("simulation", "hea_segregation", "hea_remd", model, "REMD", model,
                   atoms=atoms, replicas_or_beads=settings.replicas, steps=settings.steps,
                   note="steps per replica")
        yield _row("simulation", "hea_segregation", "hea_remd", model, "Monte Carlo swaps",
                   model, atoms=atoms, replicas_or_beads=settings.replicas,
                   steps=settings.steps * settings.swap_attempts_per_step,
                   step_unit="energy evaluations (expected)",
                   note="swap_attempts_per_step per MD step and replica")


@lru_cache(maxsize=8)
def _water_atoms(n_molecules: int, density: float) -> int:
    """Atoms of the box the water and MTS studies pack (whatever the seed: whole molecules)."""
    from petmad.data.systems import water_box

    return len(water_box(n_molecules, density, np.random.default_rng(0)))


def water_rows(config: Config) -> Iterator[dict]:
    settings = config.studies.water_pimd
    atoms = _water_atoms(settings.n_molecules, settings.density_kg_m3)
    estimator_steps = settings.steps // settings.heat_capacity_stride * 2
    for model in study_models(config, "water"):
        job = f"{model}/equilibration"
        yield _row("simulation", "water_pimd", "water_equilibration", job, "relaxation", model,
                   atoms=atoms, steps=settings.relax_steps, step_unit=FIRE)
        yield _row("simulation", "water_pimd", "water_equilibration", job, "classical NVT",
                   model, atoms=atoms, steps=settings.equilibration_steps)
        for beads in settings.beads:
            job = f"{model}/P{beads}"
            yield _row("simulation", "water_pimd", "water_md", job, "(PI)MD", model,
                       atoms=atoms, replicas_or_beads=beads, steps=settings.steps,
                       note="P = 1 is classical MD")
            yield _row("simulation", "water_pimd", "water_md", job, "heat-capacity estimator",
                       model, atoms=atoms, replicas_or_beads=beads, steps=estimator_steps,
                       step_unit="extra force evaluations",
                       note="two per bead every heat_capacity_stride steps")


def succinic_rows(config: Config) -> Iterator[dict]:
    from petmad.data.crystals import load_crystal

    settings = config.studies.succinic_nmr
    crystal = load_crystal("succinic_alpha").repeat(settings.supercell)
    atoms = len(crystal)
    if settings.reference_set == "computed":
        yield from _succinic_reference_rows(config, crystal)
    for model in study_models(config, "succinic"):
        yield _row("simulation", "succinic_nmr", "succinic_relax", f"{model}/relaxed",
                   "relaxation (positions and cell)", model, atoms=atoms,
                   steps=settings.relax_steps, step_unit=FIRE)
        for sampling, beads in (("md", 1), ("pimd", settings.beads)):
            yield _row("simulation", "succinic_nmr", "succinic_md", f"{model}/{sampling}",
                       "equilibration + sampling", model, atoms=atoms,
                       replicas_or_beads=beads,
                       steps=settings.equilibration_steps + settings.steps)


def _succinic_reference_rows(config: Config, crystal) -> Iterator[dict]:
    """The computed reference shieldings (``succinic_reference``, only when
    ``reference_set`` is 'computed'): frames by MD and PIMD with the reference engine,
    then one GIAO calculation per cluster (sizes from the ideal crystal's clusters)."""
    from petmad.shielding.clusters import cut_cluster
    from petmad.shielding.reference import choose_targets

    settings = config.studies.succinic_nmr
    reference = settings.reference
    halves = {"classical": (reference.frames // 2, 1),
              "pimd": (reference.frames - reference.frames // 2, reference.beads)}
    rule, job = "succinic_reference", "reference set"
    for name, (wanted, beads) in halves.items():
        steps = max(1, reference.steps // wanted) * wanted
        yield _row("labeling", "succinic_nmr", rule, job, f"{name} frames", "reference",
                   atoms=len(crystal), replicas_or_beads=beads, steps=steps,
                   note="MD with the reference engine")
    targets = choose_targets(crystal, reference.clusters_per_frame,
                             np.random.default_rng(config.seed + 32452843))
    sizes = [len(cut_cluster(crystal, target, reference.cluster_radius_A,
                             settings.shielding_model.cutoff_A).atoms) for target in targets]
    yield _row("labeling", "succinic_nmr", rule, job, "GIAO clusters", "giao",
               structures=reference.frames * len(targets), atoms=float(np.mean(sizes)),
               steps=1, step_unit=f"GIAO-RHF/{reference.basis} shieldings",
               note="cluster atoms: mean over the ideal crystal's clusters")


def bto_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.bto import start_structure

    settings = config.studies.bto_dielectric
    atoms = len(start_structure(settings))
    for model in study_models(config, "bto"):
        yield _row("simulation", "bto_dielectric", "bto_md",
                   f"{model}, {_temperatures(settings.temperatures_K)}",
                   "NPT equilibration + sampling", model,
                   n_jobs=len(settings.temperatures_K), atoms=atoms,
                   steps=settings.equilibration_steps + settings.steps)


def dimer_rows(config: Config) -> Iterator[dict]:
    settings = config.studies.dimers
    for model in dimer_models(config):
        yield _row("simulation", "dimers", "dimer_curves", model, "isolated atoms", model,
                   structures=len(settings.elements), atoms=1, steps=1, step_unit=SINGLE)
        yield _row("simulation", "dimers", "dimer_curves", model, "dimers", model,
                   structures=len(settings.elements) * settings.points, atoms=2, steps=1,
                   step_unit=SINGLE)


def relaxation_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.relaxations import CRYSTALS

    settings = config.studies.relaxations
    for model in universal_models(config):
        for crystal in settings.crystals:
            yield _row("simulation", "relaxations", "relaxation_runs", model, crystal, model,
                       structures=settings.runs, atoms=len(CRYSTALS[crystal]()),
                       steps=settings.max_steps, step_unit="LBFGS steps (at most)",
                       note="perturbed copies")


@lru_cache(maxsize=16)
def phonon_supercell(crystal: str, min_width: float, displacement: float) -> tuple[int, int]:
    """(atoms of the supercell, displaced supercells) as phonopy generates them."""
    from phonopy import Phonopy

    from petmad.studies.phonons import _to_phonopy, supercell_repeats
    from petmad.studies.relaxations import CRYSTALS

    primitive = CRYSTALS[crystal]()
    repeats = supercell_repeats(primitive.cell.array, min_width)
    phonon = Phonopy(_to_phonopy(primitive), supercell_matrix=np.diag(repeats),
                     primitive_matrix="P")
    phonon.generate_displacements(distance=displacement)
    return len(phonon.supercell), len(phonon.supercells_with_displacements)


def phonon_rows(config: Config) -> Iterator[dict]:
    settings = config.studies.phonons
    members = config.training.llpr.num_ensemble_members
    for model in phonon_models(config):
        for crystal in settings.crystals:
            atoms, displaced = phonon_supercell(crystal, settings.supercell_min_width_A,
                                                settings.displacement_A)
            yield _row("simulation", "phonons", "phonon_bands", model, crystal, model,
                       structures=displaced + 1, atoms=atoms, steps=1, step_unit=SINGLE,
                       note="displaced supercells and the undisplaced one")
            if model == "pet-mad":
                yield _row("simulation", "phonons", "phonon_bands", model,
                           f"{crystal} LLPR ensemble forces", model, structures=displaced + 1,
                           atoms=atoms, replicas_or_beads=members, steps=1,
                           step_unit="backward passes",
                           note="one per ensemble member, on the same forward pass")


def speed_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.speed import material_structure, material_unit

    settings = config.studies.speed
    evaluations = settings.warmup + settings.repeats
    job = "every model, side by side"
    # Exported models with a direct-force head are also timed with it ("-nc"): pet-mad's
    # has one when it is trained with a direct-force loss (or, perhaps, when imported);
    # whether the LoRA model keeps the head is not known here, so it is not counted.
    training = config.training
    direct = training.base_model is not None or training.pretrain.direct_forces_weight > 0
    models = speed_models(config) + (["pet-mad-nc"] if direct else [])
    for material in settings.materials:
        unit = material_unit(material)
        sizes = sorted({len(material_structure(material, n, unit)) for n in settings.sizes})
        for model in models:
            family = "pet-mad" if model == "pet-mad-nc" else re.sub(r"^lora-.*", "lora", model)
            note = f"atoms summed over the sizes {sizes}; sizes predicted slower than " \
                "max_seconds_per_step are skipped, so an upper bound"
            if model == "pet-mad-nc":
                note = "pet-mad's direct-force head; " + note
            yield _row("simulation", "speed", "speed_benchmark", job, f"{material} {model}",
                       family, atoms=sum(sizes), steps=evaluations,
                       step_unit="evaluations (energy, forces, stress)", note=note)
    atoms = len(material_structure(settings.materials[0], settings.ensemble_atoms))
    yield _row("simulation", "speed", "speed_benchmark", job, "LLPR ensemble cost", "pet-mad",
               atoms=atoms, steps=2 * evaluations, step_unit="energy evaluations",
               note="plain and with the ensemble")


def nc_mts_rows(config: Config) -> Iterator[dict]:
    from petmad.studies.nc_mts import ENSEMBLES, VARIANTS

    settings = config.studies.nc_mts
    atoms = _water_atoms(settings.n_molecules, settings.density_kg_m3)
    rule, job, model = "nc_mts_md", "pet-mad", "pet-mad"
    yield _row("simulation", "nc_mts", rule, job, "relaxation", model, atoms=atoms,
               steps=settings.relax_steps, step_unit=FIRE)
    yield _row("simulation", "nc_mts", rule, job, "conservative NVT equilibration", model,
               atoms=atoms, steps=settings.equilibration_steps)
    outer = settings.outer_every
    for ensemble in ENSEMBLES:
        for variant in VARIANTS:
            piece = f"{variant} {ensemble.upper()}"
            if variant == "conservative":
                yield _row("simulation", "nc_mts", rule, job, piece, model, atoms=atoms,
                           steps=settings.steps)
            elif variant == "direct":
                yield _row("simulation", "nc_mts", rule, job, piece, model, atoms=atoms,
                           steps=settings.steps, step_unit="MD steps (direct forces)",
                           note="no backward pass")
            else:
                yield _row("simulation", "nc_mts", rule, job, f"{piece} outer", model,
                           atoms=atoms, steps=settings.steps // outer,
                           step_unit="outer MTS steps (conservative forces)",
                           note=f"one every outer_every = {outer} inner steps")
                yield _row("simulation", "nc_mts", rule, job, f"{piece} inner", model,
                           atoms=atoms, steps=settings.steps,
                           step_unit="inner MTS steps (direct forces)")


STUDY_ROWS = {"lps": lps_rows, "gaas": gaas_rows, "hea": hea_rows, "water": water_rows,
              "succinic": succinic_rows, "bto": bto_rows}


def campaign_cost(config: Config) -> pd.DataFrame:
    """Every piece of work ``rule all`` plans under ``config``, one row each (no totals)."""
    rows = [*labeling_rows(config), *training_rows(config)]
    for system in config.systems:
        rows += STUDY_ROWS[system](config)
    for rows_of in (dimer_rows, relaxation_rows, phonon_rows, speed_rows, nc_mts_rows):
        rows += rows_of(config)
    table = pd.DataFrame(rows)
    table["atoms"] = table["atoms"].astype(float).round(1)
    table["atom_steps"] = np.rint(table["n_jobs"] * table["structures"] * table["atoms"]
                                  * table["replicas_or_beads"] * table["steps"]).astype(np.int64)
    return table[COLUMNS]


def planned_jobs(table: pd.DataFrame) -> dict[str, int]:
    """Snakemake jobs per rule that the work rows stand for (rows of one job share its
    ``rule`` and ``job``)."""
    work = table[table["study"] != TOTAL].drop_duplicates(["rule", "job"])
    return {rule: int(n) for rule, n in work.groupby("rule")["n_jobs"].sum().items()}


def _jobs(rows: pd.DataFrame) -> int:
    return int(rows.drop_duplicates(["rule", "job"])["n_jobs"].sum())


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """Total rows (``study`` 'total'): per stage and model, per model, per stage, and the
    grand total (stage and model 'all')."""
    groups = []
    for stage, model in [*table[["stage", "model"]].drop_duplicates().itertuples(index=False),
                         *[("all", m) for m in table["model"].unique()],
                         *[(s, "all") for s in table["stage"].unique()], ("all", "all")]:
        rows = table[((table["stage"] == stage) | (stage == "all"))
                     & ((table["model"] == model) | (model == "all"))]
        groups.append({"stage": stage, "study": TOTAL, "rule": "", "job": "", "piece": "",
                       "model": model, "n_jobs": _jobs(rows), "structures": np.nan,
                       "atoms": np.nan, "replicas_or_beads": np.nan, "steps": np.nan,
                       "step_unit": "", "atom_steps": int(rows["atom_steps"].sum()),
                       "note": "jobs counted once per rule and job"})
    return pd.DataFrame(groups, columns=COLUMNS)


def with_totals(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, totals(table)], ignore_index=True)


UNITS = {"labeling": "atoms in reference calculations",
         "training": "atom-epochs (atoms x structures x epochs)",
         "simulation": "atom-steps (atoms x force evaluations)"}


def human(value: float) -> str:
    """3.2e9 rather than 3200000000; small numbers as they are."""
    if abs(value) < 1e4:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summary(table: pd.DataFrame) -> str:
    """A few lines: per stage, each model's load in human units, and the job counts."""
    total = totals(table)
    lines = [("Planned campaign cost (atom_steps = jobs x structures x atoms x replicas or "
              "beads x steps):")]
    for stage in STAGES:
        rows = total[(total["stage"] == stage) & (total["model"] != "all")]
        if rows.empty:
            continue
        stage_total = total[(total["stage"] == stage) & (total["model"] == "all")].iloc[0]
        lines.append(f"  {stage}: {human(stage_total['atom_steps'])} "
                     f"{UNITS[stage]} in {_plural(stage_total['n_jobs'], 'job')}")
        for row in rows.sort_values("atom_steps", ascending=False).itertuples():
            lines.append(f"    {row.model}: {human(row.atom_steps)} {UNITS[stage]} "
                         f"({_plural(row.n_jobs, 'job')})")
    grand = total[(total["stage"] == "all") & (total["model"] == "all")].iloc[0]
    lines.append(f"  all stages: {human(grand['atom_steps'])} atom-steps of every kind in "
                 f"{_plural(grand['n_jobs'], 'job')}")
    return "\n".join(lines)
