"""Accuracy against CPU time of candidate training recipes for a system's bespoke PET.

    python benchmarks/training_recipes.py --data-dir /tmp/petmad-default/data/water
    python benchmarks/training_recipes.py --data-dir DIR --recipes default epochs-40 lr-3e-3
    python benchmarks/training_recipes.py --data-dir DIR --recipes lora lora-unshifted \
        --base /tmp/petmad-default/models/pet-mad.trained.ckpt
    python benchmarks/training_recipes.py --data-dir RUN/data/mad --recipes pretrain \
        pretrain-half-data pretrain-epochs-40 --md-test RUN/data/*/md_test.extxyz

Trains each recipe, one after the other in this process (so that they share the
machine's state: compare the rows of one run, not rows of different runs), on
``DIR/{train,val,test}.extxyz`` with the preset's settings changed as the recipe says,
and prints validation energy and force MAE, the same on the held-out reference-MD frames
``DIR/md_test.extxyz`` when there are any, CPU minutes and wall minutes.  It also says
whether the validation energy MAE grew while training (last epoch above the first).
Results: ``--workdir``/recipes.csv; each recipe's model stays in ``--workdir``/<recipe>
(a rerun reuses finished ones).
"""

from __future__ import annotations

import argparse
import logging
import re
import resource
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDE = {"d_pet": 128, "d_head": 128, "d_node": 256, "d_feedforward": 256}
# name -> (training-section updates, share of the training set, frames trained on:
# "all", "rattles" (no MD frames), "md" (the MD frames alone) or "half-rattles" (the MD
# frames and every other rattle)[, model kind: "bespoke" unless given; "lora" and "full"
# fine-tune --base; "pretrain" trains pet-mad's PET])
RECIPES: dict[str, tuple] = {
    "default": ({}, 1.0, "all"),
    "rattles-only": ({}, 1.0, "rattles"),
    "md-only": ({}, 1.0, "md"),
    "md-only-epochs-40": ({"bespoke": {"num_epochs": 40}}, 1.0, "md"),
    "half-rattles": ({}, 1.0, "half-rattles"),
    "half-rattles-epochs-40": ({"bespoke": {"num_epochs": 40}}, 1.0, "half-rattles"),
    "epochs-40": ({"bespoke": {"num_epochs": 40}}, 1.0, "all"),
    "epochs-80": ({"bespoke": {"num_epochs": 80}}, 1.0, "all"),
    "lr-3e-3": ({"bespoke": {"learning_rate": 3e-3}}, 1.0, "all"),
    "lr-3e-4": ({"bespoke": {"learning_rate": 3e-4}}, 1.0, "all"),
    "batch-4": ({"bespoke": {"batch_size": 4}}, 1.0, "all"),
    "energy-weight-1": ({"bespoke": {"energy_weight": 1.0}}, 1.0, "all"),
    "energy-weight-10": ({"bespoke": {"energy_weight": 10.0}}, 1.0, "all"),
    "energy-weight-100": ({"bespoke": {"energy_weight": 100.0}}, 1.0, "all"),
    "wide": ({"pet": WIDE}, 1.0, "all"),
    "cutoff-5.5": ({"pet": {"cutoff": 5.5}}, 1.0, "all"),
    "half-data-epochs-40": ({"bespoke": {"num_epochs": 40}}, 0.5, "all"),
    "lora": ({}, 1.0, "all", "lora"),
    "lora-unshifted": ({"finetune": {"energy_baseline": "base"}}, 1.0, "all", "lora"),
    "lora-epochs-20": ({"finetune": {"num_epochs": 20}}, 1.0, "all", "lora"),
    "lora-lr-3e-3": ({"finetune": {"learning_rate": 3e-3}}, 1.0, "all", "lora"),
    "lora-rank-32": ({"finetune": {"rank": 32}}, 1.0, "all", "lora"),
    "lora-energy-weight-1": ({"finetune": {"energy_weight": 1.0}}, 1.0, "all", "lora"),
    "lora-energy-weight-10": ({"finetune": {"energy_weight": 10.0}}, 1.0, "all", "lora"),
    "lora-energy-weight-10-unshifted": (
        {"finetune": {"energy_weight": 10.0, "energy_baseline": "base"}}, 1.0, "all", "lora"),
    "full-finetune": ({}, 1.0, "all", "full"),
    # pet-mad's own budget: give --data-dir DIR/data/mad and --md-test with the systems'
    # held-out reference-MD frames.
    "pretrain": ({}, 1.0, "all", "pretrain"),
    "pretrain-half-data": ({}, 0.5, "all", "pretrain"),
    "pretrain-epochs-40": ({"pretrain": {"num_epochs": 40}}, 1.0, "all", "pretrain"),
    "pretrain-energy-weight-1": ({"pretrain": {"energy_weight": 1.0}}, 1.0, "all", "pretrain"),
}
EPOCH_LINE = re.compile(r"Epoch:\s+(\d+)")
VALIDATION_ENERGY = re.compile(r"validation energy MAE \(per atom\):\s*([0-9.eE+-]+)\s*(meV|eV)")


class EpochLog(logging.Handler):
    """Validation energy MAE (meV/atom) per epoch, from metatrain's log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.energy: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if EPOCH_LINE.search(text) and (match := VALIDATION_ENERGY.search(text)):
            self.energy.append(float(match.group(1)) * (1.0 if match.group(2) == "meV" else 1e3))


def settings_for(base, updates: dict):
    sections = {name: getattr(base, name).model_copy(update=values)
                for name, values in updates.items()}
    return base.model_copy(update=sections)


def frames_of(path: Path, target: Path, frames: str) -> Path:
    """The frames of ``path`` a recipe trains on (see RECIPES), written to ``target``."""
    from petmad.io import read_extxyz, write_extxyz

    if target.exists():
        return target
    everything = read_extxyz(path)
    md = [f for f in everything if f.info.get("subset") == "md"]
    rattles = [f for f in everything if f.info.get("subset") != "md"]
    kept = {"md": md, "rattles": rattles, "half-rattles": md + rattles[::2]}[frames]
    write_extxyz(target, kept)
    return target


def mean_errors(model: Path, data: Path) -> tuple[float, float]:
    """(energy MAE meV/atom, force MAE meV/Å) of ``model`` on ``data``."""
    from analysis.accuracy import errors
    from analysis.metrics import mae
    from petmad.io import read_extxyz
    from petmad.models.evaluate import load_calculator, predict

    predictions = predict(load_calculator(model), read_extxyz(data))
    per_quantity = errors(predictions)
    return mae(per_quantity["energy"]), mae(per_quantity["forces"])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_recipe(name: str, data_dir: Path, workdir: Path, config, threads: int,
               base: Path | None = None, test_sets: tuple[Path, ...] = ()) -> dict:
    from petmad.models.training import TrainRequest, train

    updates, fraction, frames, *kind = RECIPES[name]
    kind = kind[0] if kind else "bespoke"
    if kind in ("lora", "full") and base is None:
        raise SystemExit(f"recipe {name} fine-tunes a base model: give --base")
    splits = {part: data_dir / f"{part}.extxyz" for part in ("train", "val", "test")}
    if frames != "all":
        splits = {part: frames_of(path, workdir / f"{frames}-{part}.extxyz", frames)
                  for part, path in splits.items()}
    handler = EpochLog()
    logging.getLogger().addHandler(handler)
    began_cpu, began_wall = cpu_seconds(), time.perf_counter()
    try:
        result = train(TrainRequest(kind=kind, splits=splits,
                                    training=settings_for(config.training, updates),
                                    workdir=workdir / name, seed=config.seed,
                                    base_checkpoint=base if kind in ("lora", "full") else None,
                                    fraction=fraction, llpr=False, threads=threads))
    finally:
        logging.getLogger().removeHandler(handler)
    row = {"recipe": name, "cpu_min": (cpu_seconds() - began_cpu) / 60,
           "wall_min": (time.perf_counter() - began_wall) / 60}
    row["val_energy_mae [meV/atom]"], row["val_forces_mae [meV/Å]"] = mean_errors(
        result.exported, data_dir / "val.extxyz")
    md_test = data_dir / "md_test.extxyz"
    if md_test.exists():
        row["md_energy_mae [meV/atom]"], row["md_forces_mae [meV/Å]"] = mean_errors(
            result.exported, md_test)
    for test_set in test_sets:
        label = test_set.parent.name  # data/<system>/md_test.extxyz
        row[f"{label}_energy_mae [meV/atom]"], row[f"{label}_forces_mae [meV/Å]"] = \
            mean_errors(result.exported, test_set)
    if handler.energy:  # empty when the model was already trained by an earlier run
        row["val_energy_first_epoch"] = handler.energy[0]
        row["energy_mae_grew"] = handler.energy[-1] > handler.energy[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="a system's data folder (train/val/test, optionally md_test)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/petmad-recipes"))
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--config", nargs="+", default=[str(ROOT / "config.yaml")],
                        help="config files whose training settings the recipes change")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None,
                        help="training seed (default: the config's); a second seed in a "
                        "second --workdir tells a recipe's effect from seed noise")
    parser.add_argument("--md-test", type=Path, nargs="*", default=[],
                        help="more held-out frames to evaluate every recipe on, each "
                        "DIR/data/<system>/md_test.extxyz (columns named by <system>): "
                        "pet-mad's recipes on the systems it is used for")
    parser.add_argument("--base", type=Path, default=None,
                        help="base PET checkpoint of the fine-tuning recipes (lora*, full-*), "
                        "e.g. a run's models/pet-mad.trained.ckpt")
    args = parser.parse_args()

    import torch

    from petmad.config import load_config_files

    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, filename=args.workdir / "training.log",
                        format="%(asctime)s %(message)s")
    config = load_config_files(args.config)
    if args.seed is not None:
        config = config.model_copy(update={"seed": args.seed})
    rows = []
    for name in args.recipes:
        print(f"training recipe {name} ...", flush=True)
        rows.append(run_recipe(name, args.data_dir, args.workdir, config, args.threads,
                               args.base, tuple(args.md_test)))
        table = pd.DataFrame(rows)
        table.to_csv(args.workdir / "recipes.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
