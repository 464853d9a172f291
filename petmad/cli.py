"""``python -m petmad <command>``: the entry points the workflow rules call.

Each command reads its inputs, calls one function of the library and writes its outputs
atomically.  Expected failures (bad config, bad files, engines that cannot run, outputs
that cannot be written) end with one ``error:`` line and exit status 2
(:mod:`petmad.errors`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def configure_threads(threads: int) -> None:
    """Pin BLAS/OpenMP/torch threads to what the rule was given (oversubscription on small
    machines costs 3-10x)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "RAYON_NUM_THREADS"):  # rayon: featomic
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def configure_torchscript(device: str) -> None:
    """On CPU, run TorchScript models without the graph executor's optimising passes.  With
    them, every loaded PET spends ~5 s re-specialising during its first tens of calls (the
    neighbour count changes every MD step) and was no faster afterwards: 10-40 % slower on
    this project's models (``python benchmarks/torchscript_executor.py``)."""
    if device == "cpu" or (device == "auto" and not _cuda_available()):
        import torch

        torch._C._set_graph_executor_optimize(False)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _json(text: str) -> object:
    return json.loads(text)


def _shard_range(text: str) -> str:
    """FIRST:END (END may be empty), as ``read_extxyz`` slices; anything else is refused
    by argparse in one line."""
    first, colon, end = text.partition(":")
    if not (colon and first.isdigit() and (end == "" or end.isdigit())
            and (end == "" or int(end) > int(first))):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range FIRST:END of structures (END > FIRST, or empty)")
    return text


def _single(values: list[str], option: str) -> str:
    if len(values) != 1:
        raise ValueError(f"{option} takes one file here, got {len(values)}")
    return values[0]


def cmd_build_structures(args: argparse.Namespace) -> None:
    from petmad.config import dataset_settings_class
    from petmad.io import write_extxyz

    settings = dataset_settings_class(args.dataset).model_validate(args.settings)
    if args.dataset == "mad":
        from petmad.data.mad import build_mad

        frames = build_mad(settings, args.seed)
    else:
        from petmad.data.systems import build_system

        frames = build_system(args.dataset, settings, args.seed)
    write_extxyz(args.output, frames)
    print(f"{len(frames)} structures written to {args.output}")


def cmd_sample_md(args: argparse.Namespace) -> None:
    from petmad.config import ReferenceSettings, dataset_settings_class
    from petmad.data.md_sampling import sample_dataset
    from petmad.reference import make_engine

    settings = dataset_settings_class(args.system).model_validate(args.settings)
    engine = make_engine(ReferenceSettings.model_validate(args.reference))
    driver = None
    if (args.part == "model") != (args.model is not None):
        raise SystemExit("sample-md: --model is needed with --part model, and only there")
    if args.model is not None:
        from ase import Atoms

        from petmad.simulate.potentials import build_calculator, model_potential

        driver = build_calculator(model_potential("active-learning driver", args.model,
                                                  contact_wall=args.contact_wall), Atoms())
    summary = sample_dataset(args.system, settings, args.part, args.seed, engine, args.output,
                             trajectory=args.trajectory, driver=driver, driver_name=args.model,
                             driver_file=args.model)
    _print_md_summary(summary, args.output)


def cmd_gather_md(args: argparse.Namespace) -> None:
    from petmad.data.md_sampling import gather_samples

    _print_md_summary(gather_samples(args.input, args.output), args.output)


def _print_md_summary(summary: dict, output: str) -> None:
    print(f"{summary['n_frames']} frames from {len(summary['trajectories'])} trajectories "
          f"({summary['md_steps']} MD steps, {summary['atom_steps']} atom-steps) -> {output}")
    for trajectory in summary["trajectories"]:
        print(f"  {trajectory['condition']} at {trajectory['temperature_K']:g} K: mean kinetic "
              f"temperature {trajectory['mean_kinetic_temperature_K']:.0f} K over "
              f"{trajectory['frames']} frames")


def cmd_label(args: argparse.Namespace) -> None:
    from petmad.config import LabelingSettings, ReferenceSettings
    from petmad.io import read_extxyz
    from petmad.reference import make_engine
    from petmad.reference.labeling import gather_shards, import_labeled, label_structures

    if args.gather:
        summary = gather_shards(args.input, args.output,
                                LabelingSettings.model_validate(args.labeling).max_failed_fraction)
        print(f"{summary['n_labeled']} labeled, {summary['n_failed']} failed, gathered from "
              f"{len(args.input)} shards")
        return
    engine = make_engine(ReferenceSettings.model_validate(args.reference))
    if engine.reads_labels:
        summary = import_labeled(engine, args.input, args.output)
    else:
        labeling = LabelingSettings.model_validate(args.labeling)
        first_index = int((args.shard or ":").partition(":")[0] or 0)
        frames = read_extxyz(_single(args.input, "--input"), index=args.shard or ":")
        summary = label_structures(
            frames, engine, args.output, workers=args.threads, chunk_size=labeling.chunk_size,
            # A shard's failures count against the dataset's, when its shards are gathered.
            max_failed_fraction=1.0 if args.shard else labeling.max_failed_fraction,
            first_index=first_index,
        )
    print(f"{summary['n_labeled']} labeled, {summary['n_failed']} failed "
          f"({summary['engine']} {summary['version']})")
    for failure in summary["failures"]:
        print(f"  failed: structure {failure['index']} ({failure['subset']}): {failure['error']}")


def cmd_split(args: argparse.Namespace) -> None:
    from petmad.data.split import SPLITS, filter_and_split
    from petmad.io import read_extxyz, write_extxyz, write_json

    frames = [frame for path in args.input for frame in read_extxyz(path)]
    result = filter_and_split(frames, tuple(args.fractions),
                              args.force_filter, args.seed, energy_threshold=args.energy_filter,
                              max_per_subset=args.max_per_subset)
    for name, path in zip(SPLITS, args.outputs):
        write_extxyz(path, result.parts[name])
    write_json(args.report, {"counts": {k: len(v) for k, v in result.parts.items()},
                             "filtered": result.filtered, "surplus": result.surplus})
    counts = ", ".join(f"{k} {len(v)}" for k, v in result.parts.items())
    print(f"{counts}; {len(result.filtered)} dropped by the filters")
    if result.surplus:
        print(f"  beyond the wanted counts (oversampling), not used: {result.surplus}")
    for record in result.filtered:
        print(f"  dropped structure {record['structure_index']} ({record['subset']}): "
              f"{record['reason']}")


def _splits(data_dir: str) -> dict[str, Path]:
    return {name: Path(data_dir) / f"{name}.extxyz" for name in ("train", "val", "test")}


def cmd_train_model(args: argparse.Namespace) -> None:
    import logging

    from petmad.config import TrainingSettings
    from petmad.models.training import TrainRequest, publish, train

    # metatrain reports epochs and metrics through logging: send them to the job's log.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    request = TrainRequest(
        kind=args.kind,
        splits=_splits(args.data_dir),
        training=TrainingSettings.model_validate(args.training),
        workdir=Path(args.workdir),
        seed=args.seed,
        device=args.device,
        base_checkpoint=Path(args.base) if args.base else None,
        import_checkpoint=Path(args.import_checkpoint) if args.import_checkpoint else None,
        fraction=args.fraction,
        llpr=not args.no_llpr,
        threads=args.threads,
    )
    result = train(request)
    publish(result, Path(args.trained), Path(args.checkpoint), Path(args.exported))
    print(f"{args.kind} model written to {args.exported}")
    if args.evaluate:
        from petmad.models.evaluate import evaluate_files, load_calculator
        from petmad.models.training import resolve_device

        calculator = load_calculator(args.exported, device=resolve_device(args.device))
        print("\n".join(evaluate_files(calculator, args.evaluate)))


def cmd_contact_wall(args: argparse.Namespace) -> None:
    from petmad.config import ContactWallSettings
    from petmad.io import read_extxyz, reading, write_json
    from petmad.simulate.contact_wall import wall_table

    # Whether simulations add the wall is the workflow's choice (they get this file as an
    # input only when studies.contact_wall.enabled); the table is the same either way.
    settings = ContactWallSettings.model_validate(args.settings)
    with reading(args.train, "training set"):
        frames = read_extxyz(args.train)
    table = wall_table(frames, settings.onset_fraction, settings.stiffness_eV_A3)
    write_json(args.output, table)
    print(f"contact wall onsets (Å) from {len(frames)} structures -> {args.output}: " + ", ".join(
        f"{key} {onset:.2f}" for key, onset in table["onsets_A"].items()))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from petmad.io import reading
    from petmad.models.evaluate import evaluate_files, load_calculator
    from petmad.models.training import resolve_device

    if len(args.data) != len(args.outputs):
        raise ValueError("evaluate needs one output per data file")
    with reading(args.model, "model"):
        calculator = load_calculator(args.model, device=resolve_device(args.device))
    print("\n".join(evaluate_files(calculator, list(zip(args.data, args.outputs)), progress=True)))


def cmd_rotations(args: argparse.Namespace) -> None:
    from petmad.io import read_extxyz, reading
    from petmad.models.evaluate import load_calculator
    from petmad.models.rotations import rotated_energies, write_rotated_energies
    from petmad.models.training import resolve_device

    frames = read_extxyz(args.data)[: args.max_structures]
    with reading(args.model, "model"):
        calculator = load_calculator(args.model, device=resolve_device(args.device))
    energies = rotated_energies(calculator, frames, args.lebedev_order, args.rotations_per_axis,
                                progress=True)
    write_rotated_energies(args.output, energies, frames, args.lebedev_order,
                           args.rotations_per_axis)
    print(f"{len(frames)} structures x {energies.shape[1]} rotations")


def cmd_simulate(args: argparse.Namespace) -> None:
    from petmad.io import read_extxyz
    from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics

    settings = DynamicsSettings.model_validate(args.settings)
    potentials = [PotentialSpec.model_validate(spec) for spec in args.potential]
    structures = [read_extxyz(path)[args.frame] for path in args.structure]
    summary = run_dynamics(args.output_dir, structures, potentials, settings,
                           progress=not args.quiet, description=args.label)
    print(f"{summary['steps']} steps done; records in {summary['directory']}")


def cmd_lps_md(args: argparse.Namespace) -> None:
    from petmad.config import LpsConductivitySettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.lps import run_point

    settings = LpsConductivitySettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    status = run_point(args.output_dir, args.phase, args.temperature, potential, settings,
                       args.seed, progress=not args.quiet)
    for replica in status["replicas"]:
        print(f"{args.model} {args.phase} {args.temperature:g} K replica "
              f"{replica['replica']}: {replica['status']} {replica.get('reason', '')}")


def cmd_gaas(args: argparse.Namespace) -> None:
    from petmad.config import GaasMeltingSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.gaas import interface_job, temperature_job

    settings = GaasMeltingSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    if args.temperature is None:
        status = interface_job(args.output_dir, potential, settings, args.seed,
                               progress=not args.quiet)
    else:
        status = temperature_job(args.output_dir, potential, Path(args.interface), settings,
                                 args.temperature, args.seed, progress=not args.quiet)
    print(f"{args.model}: {status['status']} {status.get('reason', '')}")


def cmd_hea(args: argparse.Namespace) -> None:
    from petmad.config import HeaSegregationSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.hea import run_model

    settings = HeaSegregationSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    status = run_model(args.output_dir, potential, settings, args.seed, progress=not args.quiet)
    print(f"{args.model}: {status['status']} {status.get('reason', '')}")


def cmd_water(args: argparse.Namespace) -> None:
    from petmad.config import WaterPimdSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.water import equilibration_job, pimd_job

    settings = WaterPimdSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    if args.beads is None:
        status = equilibration_job(args.output_dir, potential, settings, args.seed,
                                   progress=not args.quiet)
    else:
        if not args.equilibration:
            raise ValueError("--beads needs --equilibration (the model's equilibration status)")
        status = pimd_job(args.output_dir, potential, Path(args.equilibration), settings,
                          args.beads, args.seed, progress=not args.quiet)
    print(f"{args.model}: {status['status']} {status.get('reason', '')}")


def cmd_nc_mts(args: argparse.Namespace) -> None:
    from petmad.config import NcMtsSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.nc_mts import nc_mts_job

    settings = NcMtsSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    status = nc_mts_job(args.output_dir, potential, settings, args.seed, progress=not args.quiet)
    for run in status["runs"]:
        print(f"{run['variant']:>12} {run['ensemble']}: {run['status']} "
              f"{run['seconds_per_inner_step']:.4f} s/step {run['reason']}")
    print(f"{args.model}: {status['status']} {status.get('reason', '')}")


def cmd_succinic_md(args: argparse.Namespace) -> None:
    from petmad.config import SuccinicNmrSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.succinic import relax_job, sampling_job

    settings = SuccinicNmrSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    if args.sampling is None:
        status = relax_job(args.output_dir, potential, settings)
    else:
        if not args.relaxed:
            raise ValueError("--sampling needs --relaxed (the model's relaxation status)")
        status = sampling_job(args.output_dir, potential, Path(args.relaxed), settings,
                              args.sampling, args.seed, progress=not args.quiet)
    print(f"{args.model}: {status['status']} {status.get('reason', '')}")


def cmd_succinic_reference(args: argparse.Namespace) -> None:
    from petmad.config import SuccinicNmrSettings
    from petmad.shielding.reference import compute_reference_set
    from petmad.simulate.potentials import model_potential

    settings = SuccinicNmrSettings.model_validate(args.settings)
    potential = model_potential("reference", None, args.reference, args.device)
    summary = compute_reference_set(args.output, args.work_dir, potential, settings.reference,
                                    settings.shielding_model.cutoff_A, settings.supercell,
                                    args.seed, progress=not args.quiet)
    print(f"{summary['labels']} labelled hydrogens in {summary['frames']} frames: "
          f"{summary['output']}")


def cmd_train_shielding(args: argparse.Namespace) -> None:
    import pandas as pd

    from petmad.config import SuccinicNmrSettings
    from petmad.io import atomic_path
    from petmad.shielding.model import train_shielding_model
    from petmad.shielding.reference import read_reference_set

    settings = SuccinicNmrSettings.model_validate(args.settings).shielding_model
    frames = read_reference_set(args.reference_set)
    cutoffs = {f.info.get("environment_cutoff_A") for f in frames} - {None}
    if cutoffs and min(cutoffs) < settings.cutoff_A:
        raise ValueError(f"{args.reference_set} labels hydrogens whose environment is complete "
                         f"within {min(cutoffs)} Å only, less than the model's cutoff "
                         f"{settings.cutoff_A} Å: recompute the set or lower the cutoff")
    model, test = train_shielding_model(frames, settings.model_dump(mode="json"), args.seed)
    model.metrics["reference_method"] = frames[0].info.get("method", "user-supplied")
    model.save(args.output)
    with atomic_path(args.test_predictions) as tmp:
        pd.DataFrame(test).to_csv(tmp, index=False, float_format="%.6g")
    print(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in model.metrics.items()))


def cmd_bto_md(args: argparse.Namespace) -> None:
    from petmad.config import BtoDielectricSettings
    from petmad.simulate.potentials import model_potential
    from petmad.studies.bto import run_temperature

    settings = BtoDielectricSettings.model_validate(args.settings)
    potential = model_potential(args.model, args.model_file, args.reference, args.device,
                                args.library_entry, contact_wall=args.contact_wall)
    status = run_temperature(args.output_dir, args.temperature, potential, settings, args.seed,
                             progress=not args.quiet)
    print(f"{args.model} {args.temperature:g} K: {status['status']} {status.get('reason', '')}")


def cmd_label_dipoles(args: argparse.Namespace) -> None:
    from petmad.config import BornCharges
    from petmad.dipoles.born_charges import label_dipoles
    from petmad.io import read_extxyz, write_extxyz

    charges = BornCharges.model_validate(args.born_charges)
    frames = []
    for split, path in zip(("train", "val", "test"), args.inputs):
        for frame in read_extxyz(path):
            frame.info["split"] = split
            frames.append(frame)
    labelled = label_dipoles(frames, charges.model_dump())
    write_extxyz(args.output, labelled)
    sources = sorted({frame.info["dipole_source"] for frame in labelled})
    print(f"{len(labelled)} cell dipoles ({', '.join(sources)}) -> {args.output}")


def cmd_train_dipoles(args: argparse.Namespace) -> None:
    import pandas as pd

    from petmad.config import DipoleModelSettings
    from petmad.dipoles.model import train_dipole_model
    from petmad.io import atomic_path, read_extxyz

    settings = DipoleModelSettings.model_validate(args.settings)
    model, test = train_dipole_model(read_extxyz(args.input), settings.model_dump(), args.seed)
    model.save(args.output)
    table = pd.DataFrame({f"{kind}_{axis}_eA": test[kind][:, i]
                          for kind in ("reference", "predicted") for i, axis in enumerate("xyz")})
    with atomic_path(args.test_predictions) as tmp:
        table.to_csv(tmp, index=False)
    print({key: value for key, value in model.metrics.items()})


def _benchmark_model(args: argparse.Namespace) -> str:
    """What ``load_calculator`` takes for a benchmark's model: its exported file, its
    library entry, or its name (a bundled SevenNet)."""
    from petmad.config import LibraryModel
    from petmad.models.registry import calculator_source

    if args.model_file:
        return args.model_file
    if args.library_entry:
        return calculator_source(LibraryModel.model_validate(args.library_entry))
    return args.model


def _identity(where: str) -> Path | str:
    """What a benchmark's resumable work is keyed on: a model file's content, else the text."""
    return Path(where) if where.endswith(".pt") else where


def cmd_dimers(args: argparse.Namespace) -> None:
    import pandas as pd

    from petmad.config import DimerSettings
    from petmad.io import RowLog, atomic_path, digest, resumable_directory
    from petmad.studies.dimers import dimer_curves, logged, model_energy, reference_energy

    settings = DimerSettings.model_validate(args.settings)
    if args.model == "reference":
        energy = reference_energy(args.reference or {}, settings.elements)
        source = args.reference
    else:
        where = _benchmark_model(args)
        energy = model_energy(where, args.device)
        source = _identity(where)
    work = resumable_directory(args.work_dir, digest(source, settings.model_dump()))
    energy = logged(energy, RowLog(work / "energies.jsonl"))
    table = pd.DataFrame(dimer_curves(energy, settings, progress=not args.quiet)
                         ).assign(model=args.model)
    with atomic_path(args.output) as tmp:
        table.to_csv(tmp, index=False)
    failed = table["error"].fillna("").astype(bool).sum()
    print(f"{args.model}: {len(table)} dimer energies, {failed} failed -> {args.output}")


def cmd_relaxations(args: argparse.Namespace) -> None:
    import pandas as pd

    from petmad.config import RelaxationSettings
    from petmad.io import RowLog, atomic_path, digest, reading, resumable_directory
    from petmad.models.evaluate import load_calculator
    from petmad.studies.relaxations import relaxation_runs

    settings = RelaxationSettings.model_validate(args.settings)
    where = _benchmark_model(args)
    with reading(where, "model"):
        calculator = load_calculator(where, args.device)
    source = _identity(where)
    work = resumable_directory(args.work_dir, digest(source, settings.model_dump(), args.seed))
    rows = relaxation_runs(calculator, settings, args.seed, RowLog(work / "runs.jsonl"),
                           progress=not args.quiet)
    table = pd.DataFrame(rows).assign(model=args.model)
    with atomic_path(args.output) as tmp:
        table.to_csv(tmp, index=False)
    print(f"{args.model}: {int(table['converged'].sum())} of {len(table)} relaxations "
          f"converged -> {args.output}")


def cmd_phonons(args: argparse.Namespace) -> None:
    from petmad.config import RELAXATION_CRYSTAL_ELEMENTS, PhononSettings
    from petmad.io import RowLog, atomic_path, digest, resumable_directory
    from petmad.studies.phonons import model_forces, phonon_runs, reference_forces

    settings = PhononSettings.model_validate(args.settings)
    if args.model == "reference":
        elements = set().union(*(RELAXATION_CRYSTAL_ELEMENTS[c] for c in settings.crystals))
        forces = reference_forces(args.reference or {}, elements)
        source = args.reference
    else:
        where = _benchmark_model(args)
        if where.endswith(".pt") and not Path(where).is_file():
            raise FileNotFoundError(f"model file '{where}' does not exist")
        forces = model_forces(where, args.device)
        source = _identity(where)
    # a longer runtime request is no reason to redo finished crystals
    physics = settings.model_dump(exclude={"runtime_min"})
    work = resumable_directory(args.work_dir, digest(source, physics))
    rows = phonon_runs(forces, settings, RowLog(work / "crystals.jsonl"),
                       progress=not args.quiet)
    with atomic_path(args.output) as tmp:  # compact: 128 members' bands are megabytes
        tmp.write_text(json.dumps({"model": args.model, "unit": "THz", "crystals": rows},
                                  separators=(",", ":")) + "\n")
    for row in rows:
        print(f"{args.model} {row['crystal']}: {len(row['ensemble_THz'])} ensemble members, "
              f"lowest frequency {min(min(q) for q in row['frequencies_THz']):.3f} THz")
    print(f"-> {args.output}")


def hardware_description(device: str, threads: int) -> str:
    from petmad.provenance import cpu_model

    if device.startswith("cuda") or device == "auto":
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {cpu_model()}, {threads} thread(s) of {os.cpu_count()} cores"


def cmd_speed(args: argparse.Namespace) -> None:
    import pandas as pd

    from petmad.config import SpeedSettings
    from petmad.io import atomic_path, write_json
    from petmad.models.evaluate import load_calculator
    from petmad.models.training import resolve_device
    from petmad.studies.speed import direct_force_variants, ensemble_cost, speed_rows

    settings = SpeedSettings.model_validate(args.settings)
    device = resolve_device(args.device)
    models = dict(spec.split("=", 1) if "=" in spec else (spec, spec) for spec in args.model)
    factories = {name: (lambda where=where: load_calculator(where, device))
                 for name, where in models.items()}
    factories.update(direct_force_variants(models, device))
    table = pd.DataFrame(speed_rows(factories, settings, device, progress=not args.quiet))
    hardware = hardware_description(device, args.threads)
    with atomic_path(args.table) as tmp:
        table.assign(hardware=hardware).to_csv(tmp, index=False)
    print(table.to_string(index=False))
    if args.ensemble:
        exported = [(n, p) for n, p in models.items() if p.endswith(".pt")]
        if exported:
            name, path = exported[0]
            cost = {"model": name, **ensemble_cost(path, settings, device)}
        else:
            cost = {"model": None, "status": "no exported (.pt) model to compare"}
        cost["hardware"] = hardware
        write_json(args.ensemble, cost)
        print(f"LLPR ensemble cost: {cost}")


def cmd_schema(args: argparse.Namespace) -> None:
    from petmad.config import json_schema

    sys.stdout.write(json_schema())


def cmd_check_config(args: argparse.Namespace) -> None:
    from petmad.config import check_user_files, load_config_files

    check_user_files(load_config_files(args.files))
    print("configuration is valid")


def cmd_campaign_cost(args: argparse.Namespace) -> None:
    import pandas as pd

    from analysis.output import write_csv
    from petmad.campaign import campaign_cost, human, summary, with_totals
    from petmad.config import validate_config

    table = campaign_cost(validate_config(args.config))
    write_csv(args.table, with_totals(table))
    shown = table.drop(columns=["rule", "note"]).assign(
        atom_steps=table["atom_steps"].map(human))
    with pd.option_context("display.max_rows", None, "display.width", 250,
                           "display.max_colwidth", 40):
        print(shown.to_string(index=False))
    print(summary(table))
    print(f"-> {args.table}")


def add_model_arguments(parser, models: str, reference: bool = True,
                        contact_wall: bool = False) -> None:
    """How a command is told which model to run: a name resolved by the model registry,
    with its file or library entry (and the reference engine's settings, where the
    reference may be the model; and the contact wall a case study adds to it)."""
    parser.add_argument("--model", required=True, help=models)
    if contact_wall:
        parser.add_argument("--contact-wall", default=None, help="the system's contact wall "
                            "(data/<system>/contact_wall.json), added to an exported model")
    parser.add_argument("--model-file", help="exported model (.pt) of a trained PET or a "
                        "metatomic library entry")
    parser.add_argument("--library-entry", type=_json, default=None,
                        help="the model's library entry (JSON), for a model library name")
    if reference:
        parser.add_argument("--reference", type=_json, default=None,
                            help="config 'reference' (JSON)")


def add_study_parser(commands, name: str, help_text: str, section: str):
    """A case-study command: which model runs it, the study's config section, where to."""
    study = commands.add_parser(name, help=help_text)
    add_model_arguments(study, "pet-mad, bespoke, lora, reference or a model library name",
                        contact_wall=True)
    study.add_argument("--settings", type=_json, required=True, help=f"config {section} (JSON)")
    study.add_argument("--seed", type=int, required=True)
    study.add_argument("--output-dir", required=True)
    study.add_argument("--device", default="cpu")
    study.add_argument("--quiet", action="store_true")
    study.add_argument("--threads", type=int, default=1)
    return study


def build_parser() -> argparse.ArgumentParser:
    from petmad.config import SYSTEMS as CASE_STUDY_SYSTEMS

    parser = argparse.ArgumentParser(prog="python -m petmad", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build-structures", help="generate a dataset's structures")
    build.add_argument("--dataset", required=True, help="'mad' or a system name")
    build.add_argument("--settings", type=_json, required=True, help="the dataset's config section, data.<dataset> (JSON)")
    build.add_argument("--seed", type=int, required=True)
    build.add_argument("--output", required=True)
    build.set_defaults(func=cmd_build_structures)

    sample_md = commands.add_parser(
        "sample-md", help="labeled frames of reference-engine MD at a dataset's temperatures")
    sample_md.add_argument("--system", required=True, choices=CASE_STUDY_SYSTEMS)
    sample_md.add_argument("--settings", type=_json, required=True,
                           help="the dataset's config section, data.<system> (JSON)")
    sample_md.add_argument("--part", required=True, choices=["train", "test", "model"],
                           help="train: data.<system>.md; test: data.<system>.md_test; "
                           "model: data.<system>.model_md, driven by --model")
    sample_md.add_argument("--model", default=None,
                           help="exported model (.pt) driving the MD of part 'model'; the "
                           "reference engine labels its frames")
    sample_md.add_argument("--contact-wall", default=None,
                           help="contact wall (JSON) added to --model, as the studies add it")
    sample_md.add_argument("--reference", type=_json, required=True,
                           help="config 'reference' (JSON)")
    sample_md.add_argument("--seed", type=int, required=True)
    sample_md.add_argument("--threads", type=int, default=1)
    sample_md.add_argument("--trajectory", type=int, default=None, metavar="K",
                           help="sample trajectory K only (0-based), for one job per "
                           "trajectory; then join the files with gather-md")
    sample_md.add_argument("--output", required=True)
    sample_md.set_defaults(func=cmd_sample_md)

    gather_md = commands.add_parser(
        "gather-md", help="join one-trajectory files of sample-md --trajectory, in order")
    gather_md.add_argument("--input", nargs="+", required=True)
    gather_md.add_argument("--threads", type=int, default=1)
    gather_md.add_argument("--output", required=True)
    gather_md.set_defaults(func=cmd_gather_md)

    label = commands.add_parser("label", help="label structures with the reference engine")
    label.add_argument("--input", nargs="+", required=True,
                       help="structures to label; for engine 'file' the labels file, or its "
                       "train, val and test files")
    label.add_argument("--output", required=True)
    label.add_argument("--reference", type=_json, required=True, help="config 'reference' (JSON)")
    label.add_argument("--labeling", type=_json, default={}, help="config 'labeling' (JSON)")
    label.add_argument("--threads", type=int, default=1, help="parallel worker processes")
    label.add_argument("--shard", default=None, metavar="FIRST:END", type=_shard_range,
                       help="label only structures FIRST to END-1 of --input (END empty: to "
                       "the last), numbered as in the whole file; then gather with --gather")
    label.add_argument("--gather", action="store_true",
                       help="--input are one dataset's labeled shards, in order: write the "
                       "file and summary one job labeling everything writes")
    label.set_defaults(func=cmd_label)

    split = commands.add_parser("split", help="force filter and 80/10/10 split per subset")
    split.add_argument("--input", nargs="+", required=True,
                       help="labeled structures; several files are joined in order (the "
                       "structure indices of the report count over all of them)")
    split.add_argument("--outputs", nargs=3, required=True, metavar=("TRAIN", "VAL", "TEST"))
    split.add_argument("--report", required=True, help="JSON with counts and filtered structures")
    split.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1))
    split.add_argument("--force-filter", type=_json, default={"default": 50.0})
    split.add_argument("--energy-filter", type=float, default=None,
                       help="drop energies off a composition fit by more than this (eV/atom)")
    split.add_argument("--max-per-subset", type=_json, default=None,
                       help="JSON {subset: n}: keep the first n structures of a subset that "
                       "pass the filters (data.mad.counts)")
    split.add_argument("--seed", type=int, required=True)
    split.set_defaults(func=cmd_split)

    model = commands.add_parser("train-model", help="train a PET, attach LLPR, export")
    model.add_argument("--kind", choices=["pretrain", "bespoke", "lora", "full"], required=True)
    model.add_argument("--data-dir", required=True, help="folder with train/val/test.extxyz")
    model.add_argument("--training", type=_json, required=True, help="config 'training' (JSON)")
    model.add_argument("--workdir", required=True, help="resumable work folder")
    model.add_argument("--seed", type=int, required=True)
    model.add_argument("--device", default="cpu")
    model.add_argument("--base", help="pretrained PET checkpoint to fine-tune")
    model.add_argument("--import-checkpoint", help="use this PET checkpoint instead of training")
    model.add_argument("--fraction", type=float, default=1.0, help="share of the training set")
    model.add_argument("--no-llpr", action="store_true", help="skip the uncertainty step")
    model.add_argument("--trained", required=True, help="output: plain PET checkpoint")
    model.add_argument("--checkpoint", required=True, help="output: final checkpoint")
    model.add_argument("--exported", required=True, help="output: exported model (.pt)")
    model.add_argument("--evaluate", nargs=2, action="append", metavar=("DATA", "OUTPUT"),
                       help="then predict DATA (extxyz) into OUTPUT (.npz); repeatable")
    model.add_argument("--threads", type=int, default=1)
    model.set_defaults(func=cmd_train_model)

    wall = commands.add_parser(
        "contact-wall", help="a system's contact wall from its training set's closest "
        "contacts")
    wall.add_argument("--train", required=True, help="the system's training set (extxyz)")
    wall.add_argument("--settings", type=_json, required=True,
                      help="config 'studies.contact_wall' (JSON)")
    wall.add_argument("--output", required=True, help="data/<system>/contact_wall.json")
    wall.set_defaults(func=cmd_contact_wall)

    evaluate = commands.add_parser("evaluate", help="predict a labeled dataset with a model")
    evaluate.add_argument("--model", required=True,
                          help="exported .pt, a model library entry (JSON) or a SevenNet name")
    evaluate.add_argument("--data", nargs="+", required=True, help="labeled extxyz files")
    evaluate.add_argument("--outputs", nargs="+", required=True, help="one .npz per data file")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--threads", type=int, default=1)
    evaluate.set_defaults(func=cmd_evaluate)

    rotations = commands.add_parser("rotations", help="energies over a Lebedev rotation grid")
    rotations.add_argument("--model", required=True)
    rotations.add_argument("--data", required=True)
    rotations.add_argument("--output", required=True)
    rotations.add_argument("--lebedev-order", type=int, default=9)
    rotations.add_argument("--rotations-per-axis", type=int, default=4)
    rotations.add_argument("--max-structures", type=int, default=50)
    rotations.add_argument("--device", default="cpu")
    rotations.add_argument("--threads", type=int, default=1)
    rotations.set_defaults(func=cmd_rotations)

    simulate = commands.add_parser("simulate", help="run dynamics with i-PI (resumable)")
    simulate.add_argument("--structure", nargs="+", required=True,
                          help="start structure(s): one, or one per replica")
    simulate.add_argument("--frame", type=int, default=-1, help="frame of each structure file")
    simulate.add_argument("--potential", type=_json, action="append", required=True,
                          help="a potential term (JSON PotentialSpec); repeat to sum terms")
    simulate.add_argument("--settings", type=_json, required=True,
                          help="dynamics settings (JSON DynamicsSettings)")
    simulate.add_argument("--output-dir", required=True, help="run directory (records + ipi/)")
    simulate.add_argument("--label", default="MD", help="progress-bar label")
    simulate.add_argument("--quiet", action="store_true", help="no progress bar")
    simulate.add_argument("--threads", type=int, default=1)
    simulate.set_defaults(func=cmd_simulate)

    lps = add_study_parser(commands, "lps-md", "Li3PS4 conductivity runs of one (phase, T)",
                           "studies.lps_conductivity")
    lps.add_argument("--phase", choices=["alpha", "beta", "gamma"], required=True)
    lps.add_argument("--temperature", type=float, required=True)
    lps.set_defaults(func=cmd_lps_md)

    gaas = add_study_parser(commands, "gaas-pinning", "GaAs interface (no --temperature) or "
                            "references + pinned run", "studies.gaas_melting")
    gaas.add_argument("--temperature", type=float, default=None)
    gaas.add_argument("--interface", help="status.json of the model's interface job")
    gaas.set_defaults(func=cmd_gaas)

    hea = add_study_parser(commands, "hea-remd", "CoCrFeMnNi(111) REMD/MC segregation run",
                           "studies.hea_segregation")
    hea.set_defaults(func=cmd_hea)

    water = add_study_parser(commands, "water-pimd", "liquid water: classical equilibration "
                             "(no --beads) or one P-bead run", "studies.water_pimd")
    water.add_argument("--beads", type=int, default=None)
    water.add_argument("--equilibration", help="status.json of the model's equilibration")
    water.set_defaults(func=cmd_water)

    nc_mts = add_study_parser(commands, "nc-mts", "water with conservative forces, direct "
                              "forces and multiple time stepping, NVE and NVT", "studies.nc_mts")
    nc_mts.set_defaults(func=cmd_nc_mts)

    bto = add_study_parser(commands, "bto-md", "BaTiO3 flexible-cell NPT at one temperature",
                           "studies.bto_dielectric")
    bto.add_argument("--temperature", type=float, required=True)
    bto.set_defaults(func=cmd_bto_md)

    dimers = commands.add_parser("dimers", help="homonuclear dimer curves of one model")
    add_model_arguments(dimers, "pet-mad, reference, or a model library name")
    dimers.add_argument("--settings", type=_json, required=True,
                        help="config studies.dimers (JSON)")
    dimers.add_argument("--device", default="cpu")
    dimers.add_argument("--threads", type=int, default=1)
    dimers.add_argument("--output", required=True, help="CSV of the curves")
    dimers.add_argument("--work-dir", required=True,
                        help="where finished energies are kept for a killed job to resume")
    dimers.add_argument("--quiet", action="store_true")
    dimers.set_defaults(func=cmd_dimers)

    relaxations = commands.add_parser(
        "relaxations", help="relax randomly perturbed crystals with one universal model")
    add_model_arguments(relaxations, "pet-mad or a model library name", reference=False)
    relaxations.add_argument("--settings", type=_json, required=True,
                             help="config studies.relaxations (JSON)")
    relaxations.add_argument("--seed", type=int, required=True)
    relaxations.add_argument("--device", default="cpu")
    relaxations.add_argument("--threads", type=int, default=1)
    relaxations.add_argument("--quiet", action="store_true")
    relaxations.add_argument("--output", required=True, help="CSV, one row per run")
    relaxations.add_argument("--work-dir", required=True,
                             help="where finished runs are kept for a killed job to resume")
    relaxations.set_defaults(func=cmd_relaxations)

    phonons = commands.add_parser(
        "phonons", help="phonon bands of one model (with its LLPR ensemble) or the reference")
    add_model_arguments(phonons, "pet-mad, reference, or a model library name")
    phonons.add_argument("--settings", type=_json, required=True,
                         help="config studies.phonons (JSON)")
    phonons.add_argument("--device", default="cpu")
    phonons.add_argument("--threads", type=int, default=1)
    phonons.add_argument("--quiet", action="store_true")
    phonons.add_argument("--output", required=True, help="JSON of the bands")
    phonons.add_argument("--work-dir", required=True,
                         help="where finished crystals are kept for a killed job to resume")
    phonons.set_defaults(func=cmd_phonons)

    speed = commands.add_parser(
        "speed", help="time energy+forces+stress per MD step against size, models side by side")
    speed.add_argument("--model", action="append", required=True,
                       help="NAME=WHERE: an exported model (.pt), a model library entry (JSON) or a SevenNet name; repeat")
    speed.add_argument("--settings", type=_json, default={},
                       help="config studies.speed (JSON); defaults if left out")
    speed.add_argument("--device", default="cpu")
    speed.add_argument("--threads", type=int, default=1)
    speed.add_argument("--quiet", action="store_true")
    speed.add_argument("--table", required=True, help="CSV of the timings")
    speed.add_argument("--ensemble", help="JSON of the LLPR ensemble cost (first .pt model)")
    speed.set_defaults(func=cmd_speed)

    dipoles = commands.add_parser(
        "label-dipoles", help="BaTiO3 cell dipoles of the data-stage splits (reference engine's "
        "where it gives them, else Born effective charges)")
    dipoles.add_argument("--inputs", nargs=3, required=True, metavar=("TRAIN", "VAL", "TEST"))
    dipoles.add_argument("--born-charges", type=_json, default={},
                         help="config studies.bto_dielectric.born_charges (JSON)")
    dipoles.add_argument("--output", required=True)
    dipoles.set_defaults(func=cmd_label_dipoles)

    dipole_model = commands.add_parser("train-dipoles", help="λ-SOAP linear cell-dipole model")
    dipole_model.add_argument("--input", required=True, help="labelled dipoles (extxyz)")
    dipole_model.add_argument("--settings", type=_json, default={},
                              help="config studies.bto_dielectric.dipole_model (JSON)")
    dipole_model.add_argument("--seed", type=int, required=True)
    dipole_model.add_argument("--output", required=True)
    dipole_model.add_argument("--test-predictions", required=True, help="CSV of the test set")
    dipole_model.add_argument("--threads", type=int, default=1)
    dipole_model.set_defaults(func=cmd_train_dipoles)

    succinic = add_study_parser(commands, "succinic-md", "α-succinic acid: relaxation (no "
                                "--sampling) or classical/path-integral sampling",
                                "studies.succinic_nmr")
    succinic.add_argument("--sampling", choices=["md", "pimd"], default=None)
    succinic.add_argument("--relaxed", help="status.json of the model's relaxation")
    succinic.set_defaults(func=cmd_succinic_md)

    shielding = commands.add_parser("train-shielding",
                                    help="fit the SOAP linear shielding model to a reference set")
    shielding.add_argument("--reference-set", required=True)
    shielding.add_argument("--settings", type=_json, required=True,
                           help="config studies.succinic_nmr (JSON)")
    shielding.add_argument("--seed", type=int, required=True)
    shielding.add_argument("--output", required=True, help="the model (.npz)")
    shielding.add_argument("--test-predictions", required=True, help="held-out parity (CSV)")
    shielding.add_argument("--threads", type=int, default=1)
    shielding.set_defaults(func=cmd_train_shielding)

    reference = commands.add_parser(
        "succinic-reference", help="GIAO reference shieldings of α-succinic acid frames")
    reference.add_argument("--settings", type=_json, required=True,
                           help="config studies.succinic_nmr (JSON)")
    reference.add_argument("--reference", type=_json, required=True,
                           help="config 'reference' (JSON): the engine driving the MD")
    reference.add_argument("--seed", type=int, required=True)
    reference.add_argument("--output", required=True, help="the labelled extended-XYZ file")
    reference.add_argument("--work-dir", required=True, help="MD runs and cached clusters")
    reference.add_argument("--device", default="cpu")
    reference.add_argument("--quiet", action="store_true")
    reference.add_argument("--threads", type=int, default=1)
    reference.set_defaults(func=cmd_succinic_reference)

    schema = commands.add_parser("schema", help="print the configuration's JSON schema")
    schema.set_defaults(func=cmd_schema)

    check = commands.add_parser("check-config", help="validate config files (later ones overlay)")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check_config)

    cost = commands.add_parser(
        "campaign-cost", help="planned atoms × steps of every job the configuration runs")
    cost.add_argument("--config", type=_json, required=True,
                      help="the whole validated configuration (JSON)")
    cost.add_argument("--table", required=True, help="CSV: one row per piece of work, totals")
    # device None: no torch set-up, as the command evaluates no model
    cost.set_defaults(func=cmd_campaign_cost, device=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_threads(getattr(args, "threads", 1))
    configure_torchscript(getattr(args, "device", "cpu"))
    from petmad.errors import run_reporting_errors

    return run_reporting_errors(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
