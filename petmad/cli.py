"""``python -m petmad <command>``: the entry points the workflow rules call.

Each command reads its inputs, calls one function of the library and writes its outputs
atomically.  Expected failures (bad config, bad files, engines that cannot run) end with
one ``error:`` line and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def configure_threads(threads: int) -> None:
    """Pin BLAS/OpenMP/torch threads to what the rule was given (oversubscription on small
    machines costs 3-10x)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _json(text: str) -> object:
    return json.loads(text)


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


def cmd_label(args: argparse.Namespace) -> None:
    from petmad.config import LabelingSettings, ReferenceSettings
    from petmad.io import read_extxyz
    from petmad.reference import make_engine
    from petmad.reference.labeling import import_labeled, label_structures

    engine = make_engine(ReferenceSettings.model_validate(args.reference))
    if engine.reads_labels:
        summary = import_labeled(engine, args.input, args.output)
    else:
        labeling = LabelingSettings.model_validate(args.labeling)
        summary = label_structures(
            read_extxyz(args.input), engine, args.output, workers=args.threads,
            chunk_size=labeling.chunk_size, max_failed_fraction=labeling.max_failed_fraction,
        )
    print(f"{summary['n_labeled']} labeled, {summary['n_failed']} failed "
          f"({summary['engine']} {summary['version']})")
    for failure in summary["failures"]:
        print(f"  failed: structure {failure['index']} ({failure['subset']}): {failure['error']}")


def cmd_split(args: argparse.Namespace) -> None:
    from petmad.data.split import SPLITS, filter_and_split
    from petmad.io import read_extxyz, write_extxyz, write_json

    result = filter_and_split(read_extxyz(args.input), tuple(args.fractions),
                              args.force_filter, args.seed)
    for name, path in zip(SPLITS, args.outputs):
        write_extxyz(path, result.parts[name])
    write_json(args.report, {"counts": {k: len(v) for k, v in result.parts.items()},
                             "filtered": result.filtered})
    counts = ", ".join(f"{k} {len(v)}" for k, v in result.parts.items())
    print(f"{counts}; {len(result.filtered)} dropped by the force filter")


def cmd_schema(args: argparse.Namespace) -> None:
    from petmad.config import json_schema

    sys.stdout.write(json_schema())


def cmd_check_config(args: argparse.Namespace) -> None:
    from petmad.config import load_config_files

    load_config_files(args.files)
    print("configuration is valid")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m petmad", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build-structures", help="generate a dataset's structures")
    build.add_argument("--dataset", required=True, help="'mad' or a system name")
    build.add_argument("--settings", type=_json, required=True, help="the dataset's config section, data.<dataset> (JSON)")
    build.add_argument("--seed", type=int, required=True)
    build.add_argument("--output", required=True)
    build.set_defaults(func=cmd_build_structures)

    label = commands.add_parser("label", help="label structures with the reference engine")
    label.add_argument("--input", required=True)
    label.add_argument("--output", required=True)
    label.add_argument("--reference", type=_json, required=True, help="config 'reference' (JSON)")
    label.add_argument("--labeling", type=_json, default={}, help="config 'labeling' (JSON)")
    label.add_argument("--threads", type=int, default=1, help="parallel worker processes")
    label.set_defaults(func=cmd_label)

    split = commands.add_parser("split", help="force filter and 80/10/10 split per subset")
    split.add_argument("--input", required=True)
    split.add_argument("--outputs", nargs=3, required=True, metavar=("TRAIN", "VAL", "TEST"))
    split.add_argument("--report", required=True, help="JSON with counts and filtered structures")
    split.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1))
    split.add_argument("--force-filter", type=_json, default={"default": 50.0})
    split.add_argument("--seed", type=int, required=True)
    split.set_defaults(func=cmd_split)

    schema = commands.add_parser("schema", help="print the configuration's JSON schema")
    schema.set_defaults(func=cmd_schema)

    check = commands.add_parser("check-config", help="validate config files (later ones overlay)")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_threads(getattr(args, "threads", 1))
    from petmad.errors import EXPECTED_ERRORS

    try:
        args.func(args)
    except EXPECTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
