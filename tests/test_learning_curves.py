"""Learning curves beyond the main models, through Snakemake: pet-mad's own curve on MAD
(paper S10.A, Fig. S8) and LoRA at another rank (S10.E, Fig. S12), on a copy of the smoke
run's data and models; and the share of every subset a fraction takes."""

import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.learning_curves import power_law, size_for_error
from petmad.io import read_extxyz
from petmad.models.training import read_pet_checkpoint, subsample_indices
from tests.conftest import snakemake

CURVES = {"systems": ["gaas"], "fractions": [0.5], "methods": ["full"],
          "lora_ranks": {"gaas": [4]}, "mad_fractions": [0.5]}


@pytest.mark.workflow
def test_mad_curve_and_another_lora_rank_run_through_the_workflow(smoke_run, tmp_path):
    root, smoke = smoke_run
    for folder in ("data", "models"):
        shutil.copytree(smoke / folder, tmp_path / folder)
    before = (tmp_path / "models" / "pet-mad.pt").stat().st_mtime_ns
    extra = tmp_path / "curves.yaml"
    extra.write_text(yaml.safe_dump({"training": {"learning_curves": CURVES}}))
    result = snakemake(root, tmp_path, "results/learning_curves.csv",
                       configfiles=("config.yaml", "presets/smoke.yaml", str(extra)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "models" / "pet-mad.pt").stat().st_mtime_ns == before, \
        "the curves must reuse pet-mad, not retrain it"

    table = pd.read_csv(tmp_path / "results" / "learning_curves.csv")
    points = set(zip(table["system"], table["method"], table["train_fraction"], strict=True))
    for point in [("gaas", "lora-r4", 0.5), ("gaas", "lora-r4", 1.0), ("gaas", "full", 0.5),
                  ("gaas", "lora", 1.0), ("mad", "pretrain", 0.5), ("mad", "pretrain", 1.0)]:
        assert point in points, point
    assert not ((table["system"] == "mad") & (table["method"] == "pet-mad")).any(), \
        "on MAD, pet-mad is a point of its own curve, not a line"
    assert np.isfinite(table["forces_mae [meV/Å]"]).all()

    # metatrain was given rank 4, and built adapters of rank 4 (the main LoRA is rank 2)
    work = tmp_path / "models" / "work" / "lc" / "gaas" / "lora-r4-0.5" / "train"
    options = yaml.safe_load((work / "options.yaml").read_text())
    assert options["architecture"]["training"]["finetune"]["config"]["rank"] == 4
    state = read_pet_checkpoint(work / "model.ckpt")["model_state_dict"]
    adapters = [v for k, v in state.items() if "lora_A" in k]
    assert adapters and all(a.shape[0] == 4 for a in adapters)

    # pet-mad's curve trains from scratch on half of every MAD subset
    subset = read_extxyz(tmp_path / "models" / "work" / "lc" / "mad" / "pretrain-0.5"
                         / "train_subset.extxyz")
    whole = Counter(a.info["subset"] for a in read_extxyz(tmp_path / "data" / "mad" /
                                                           "train.extxyz"))
    assert Counter(a.info["subset"] for a in subset) == {
        name: round(0.5 * n) for name, n in whole.items() if round(0.5 * n)}


def test_a_fraction_takes_that_share_of_every_subset():
    subsets = ["a"] * 40 + ["b"] * 10 + ["c"] * 3 + ["a"] * 20
    chosen = subsample_indices(subsets, 0.2, seed=7)
    assert Counter(subsets[i] for i in chosen) == {"a": 12, "b": 2, "c": 1}
    assert list(chosen) == sorted(set(chosen))  # file order, no repeats
    np.testing.assert_array_equal(chosen, subsample_indices(subsets, 0.2, seed=7))
    assert len(subsample_indices(["x"] * 3, 0.01, seed=1)) == 1  # never an empty set


def test_a_power_law_fit_recovers_the_exponent_and_the_size_for_a_target():
    sizes = np.array([20.0, 40.0, 80.0, 160.0])
    a, b = power_law(sizes, 3000.0 * sizes**-0.4)
    assert (a, b) == (pytest.approx(3000.0), pytest.approx(0.4))
    # 3000 n^-0.4 = 150  ⇔  n = 20^(1/0.4) = 20^2.5
    assert size_for_error(150.0, a, b) == pytest.approx(20.0**2.5)
    rng = np.random.default_rng(3)  # a seeded 5 % scatter keeps the exponent within 0.1
    noisy = 3000.0 * sizes**-0.4 * np.exp(rng.normal(0.0, 0.05, sizes.size))
    assert power_law(sizes, noisy)[1] == pytest.approx(0.4, abs=0.1)
    assert size_for_error(150.0, 100.0, 0.0) == 1.0  # already below the target
    assert size_for_error(50.0, 100.0, -0.1) == np.inf  # a curve that rises never gets there
    with pytest.raises(ValueError, match="two or more"):
        power_law([10.0, 10.0], [1.0, 2.0])
