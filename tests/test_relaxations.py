"""Relaxation benchmark (paper S6): perturbations, convergence bookkeeping, the summary."""

import numpy as np
import pandas as pd
import pytest
from ase.calculators.emt import EMT

from analysis.relaxations import summarise
from petmad.config import Config, RelaxationSettings
from petmad.studies.relaxations import CRYSTALS, perturbed, relax_once


def test_perturbations_are_reproducible_and_of_the_asked_size():
    first = perturbed("libr_rocksalt", 0.1, seed=3)
    again = perturbed("libr_rocksalt", 0.1, seed=3)
    assert np.array_equal(first.positions, again.positions)
    shifts = np.concatenate([
        (perturbed("bete_zincblende", 0.1, s).positions - CRYSTALS["bete_zincblende"]().positions
         ).ravel() for s in range(200)])
    assert shifts.std() == pytest.approx(0.1, rel=0.1)


def test_relaxation_converges_below_fmax_with_emt():
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.positions += np.random.default_rng(0).normal(0, 0.05, atoms.positions.shape)
    row = relax_once(atoms, EMT(), fmax=0.05, max_steps=100)
    assert row["converged"] and 0 < row["steps"] <= 100 and row["wall_s"] > 0
    tight = relax_once(atoms, EMT(), fmax=1e-8, max_steps=2)
    assert not tight["converged"] and tight["steps"] == 2


def test_a_failing_model_counts_as_not_converged():
    class Broken(EMT):
        def calculate(self, *args, **kwargs):
            raise RuntimeError("species not supported")

    row = relax_once(CRYSTALS["libr_rocksalt"](), Broken(), 0.05, 10)
    assert not row["converged"] and "species" in row["error"]


def test_summary_counts_failures_and_percentiles():
    runs = pd.DataFrame({"model": "m", "crystal": "c", "run": range(5),
                         "wall_s": [1.0, 2.0, 3.0, 4.0, 100.0], "steps": [5, 6, 7, 8, 100],
                         "converged": [True, True, True, True, False]})
    row = summarise(runs).iloc[0]
    assert row["not_converged"] == 1 and row["median_wall_s"] == 3.0
    assert row["median_steps_converged"] == 6.5
    assert row["wall_s_p0.135"] == pytest.approx(np.percentile(runs["wall_s"], 0.135))


def test_crystals_need_elements_the_universal_model_knows():
    with pytest.raises(ValueError, match="relaxations.crystals need"):
        Config.model_validate({
            "data": {"mad": {"elements": ["Li", "H", "C", "O", "P", "S", "Ga", "As", "Co", "Cr",
                                          "Fe", "Mn", "Ni", "Ti", "Ba"]}},
            "studies": {"dimers": {"elements": ["H"]}}})
    assert RelaxationSettings().max_steps == 100


def test_a_restarted_job_skips_the_runs_its_log_holds(tmp_path):
    from ase.calculators.lj import LennardJones

    from petmad.io import RowLog
    from petmad.studies.relaxations import relaxation_runs

    settings = RelaxationSettings(crystals=["libr_rocksalt"], runs=3, max_steps=5)
    first = relaxation_runs(LennardJones(sigma=2.5, epsilon=0.05), settings, 1,
                            RowLog(tmp_path / "runs.jsonl"), progress=False)
    with open(tmp_path / "runs.jsonl", "a") as handle:
        handle.write('{"key": "[\\"libr_rocksalt\\", 9')  # a line the kill cut short

    class Unusable(LennardJones):
        def calculate(self, *args, **kwargs):
            raise AssertionError("a logged run was recomputed")

    again = relaxation_runs(Unusable(), settings, 1, RowLog(tmp_path / "runs.jsonl"),
                            progress=False)
    assert again == first
