"""Models stage on a tiny PET trained here on EMT labels: LoRA, merging, LLPR ensemble,
checkpoint errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from ase.build import bulk

from petmad.config import TrainingSettings
from petmad.io import read_extxyz, write_extxyz
from petmad.models.baseline import (
    ENERGY_BASELINE_KEY,
    checkpoint_calculator,
    shift_energy_baseline,
    species_offsets,
    write_shifted_base,
)
from petmad.models.evaluate import predict
from petmad.models.lora import (
    load_pet_checkpoint,
    merge_lora_checkpoint,
    merge_lora_layers,
)
from petmad.models.training import ModelError, TrainRequest, read_pet_checkpoint, train
from petmad.reference.engines import EmtEngine

TINY = {
    "pet": {"d_pet": 8, "d_head": 8, "d_node": 8, "d_feedforward": 8, "num_heads": 2,
            "cutoff": 4.0},
    "pretrain": {"num_epochs": 2, "batch_size": 4, "checkpoint_interval": 1},
    "finetune": {"num_epochs": 2, "batch_size": 4, "checkpoint_interval": 1, "rank": 2,
                 "learning_rate": 0.05},
    "llpr": {"num_ensemble_members": 64, "batch_size": 4},
}


def emt_split(folder, seed, n=12):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        atoms = bulk(["Cu", "Ni"][i % 2], "fcc", a=3.55 + 0.03 * (i % 4), cubic=True)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.info["subset"] = "bulk"
        frames.append(EmtEngine().compute(atoms))
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", frames[:8]), ("val", frames[8:10]), ("test", frames[10:])):
        write_extxyz(folder / f"{name}.extxyz", part)
    return {name: folder / f"{name}.extxyz" for name in ("train", "val", "test")}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("models")
    settings = TrainingSettings.model_validate(TINY)
    base = train(TrainRequest(kind="pretrain", splits=emt_split(root / "mad", 0),
                              training=settings, workdir=root / "work" / "base", seed=1))
    system_splits = emt_split(root / "system", 1)
    lora = train(TrainRequest(kind="lora", splits=system_splits, training=settings,
                              workdir=root / "work" / "lora", seed=1,
                              base_checkpoint=base.trained_checkpoint))
    return {"root": root, "base": base, "lora": lora, "splits": system_splits}


def test_lora_trains_only_adapters_and_changes_predictions(models):
    from metatrain.pet.modules.finetuning import LoRALinear

    unmerged = models["root"] / "work" / "lora" / "train" / "model.ckpt"
    model = load_pet_checkpoint(unmerged)
    assert any(isinstance(m, LoRALinear) for m in model.modules())
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)

    base = torch.load(models["base"].trained_checkpoint, weights_only=False)["best_model_state_dict"]
    tuned = torch.load(unmerged, weights_only=False)["best_model_state_dict"]
    frozen = [k for k in tuned if k.startswith("backend.") and "lora_" not in k]
    assert frozen
    for key in frozen:
        original = key.replace(".linear.", ".") if key not in base else key
        torch.testing.assert_close(tuned[key], base[original], rtol=0, atol=0)

    base_energy = _energies(models["base"].exported, models["splits"]["test"])
    lora_energy = _energies(models["lora"].exported, models["splits"]["test"])
    assert np.max(np.abs(base_energy - lora_energy)) > 1e-4


def test_species_offsets_recover_known_per_species_shifts():
    rng = np.random.default_rng(3)
    truth = {1: -0.25, 8: 0.4, 29: 1.5}
    numbers = [rng.choice(list(truth), size=rng.integers(3, 20)) for _ in range(30)]
    residuals = np.array([sum(truth[int(z)] for z in frame) for frame in numbers])
    found = species_offsets(numbers, residuals)
    assert found == pytest.approx(truth, abs=1e-10)
    # one composition: only its total is determined, and it is matched
    water = [np.array([8, 1, 1] * k) for k in (4, 8, 16)]
    found = species_offsets(water, 0.3 * np.array([12, 24, 48]))
    assert found[8] + 2 * found[1] == pytest.approx(0.9, abs=1e-10)


def test_fine_tuning_starts_from_the_base_model_shifted_by_its_offset(models, tmp_path):
    """The shifted base predicts the base model's energies plus its per-species offsets
    (exactly: only the composition baseline changes), which leaves no mean error per
    species on the training set; the LoRA run fine-tuned that checkpoint."""
    base = models["base"].trained_checkpoint
    train_frames = read_extxyz(models["splits"]["train"])
    shifted = tmp_path / "shifted.ckpt"
    offsets = write_shifted_base(base, train_frames, shifted)
    assert max(abs(v) for v in offsets.values()) > 1e-3  # a 2-epoch base is off

    before = predict(checkpoint_calculator(base), train_frames)["energy"]
    after = predict(checkpoint_calculator(shifted), train_frames)["energy"]
    expected = before + np.array([sum(offsets[int(z)] for z in a.numbers) for a in train_frames])
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-4)
    errors = np.array([a.get_potential_energy() for a in train_frames]) - after
    for z in offsets:  # here every frame is one element: its mean error is gone
        assert abs(np.mean([e for e, a in zip(errors, train_frames) if a.numbers[0] == z])) < 1e-4
    options = (models["root"] / "work" / "lora" / "train" / "options.yaml").read_text()
    assert "shifted_base.ckpt" in options
    checkpoint = torch.load(base, weights_only=False)
    with pytest.raises(ValueError, match="species \\[79\\] are not known"):
        shift_energy_baseline(checkpoint, {79: 0.1})
    for state in ("model_state_dict", "best_model_state_dict"):
        (checkpoint.get(state) or {}).pop(ENERGY_BASELINE_KEY, None)
    with pytest.raises(ValueError, match="no per-species energy baseline"):
        shift_energy_baseline(checkpoint, offsets)


def test_merged_lora_predicts_like_unmerged(models, tmp_path):
    unmerged = models["root"] / "work" / "lora" / "train" / "model.ckpt"
    merged = tmp_path / "merged.ckpt"
    assert merge_lora_checkpoint(unmerged, merged) > 0

    with_adapters = load_pet_checkpoint(unmerged)
    exported_unmerged = tmp_path / "unmerged.pt"
    with_adapters.export().save(str(exported_unmerged))
    exported_merged = tmp_path / "merged.pt"
    load_pet_checkpoint(merged).export().save(str(exported_merged))
    np.testing.assert_allclose(_energies(exported_merged, models["splits"]["test"]),
                               _energies(exported_unmerged, models["splits"]["test"]),
                               rtol=1e-5, atol=1e-5)


def test_merge_is_exact_on_a_single_layer():
    from metatrain.pet.modules.finetuning import LoRALinear

    torch.manual_seed(0)
    holder = torch.nn.Sequential(LoRALinear(torch.nn.Linear(5, 3), rank=2, alpha=0.5))
    x = torch.randn(7, 5)
    expected = holder(x).detach()
    assert merge_lora_layers(holder) == 1
    assert isinstance(holder[0], torch.nn.Linear)
    torch.testing.assert_close(holder(x).detach(), expected, rtol=1e-6, atol=1e-6)


def test_ensemble_mean_matches_prediction(models):
    """Members are the trained last layer plus Gaussian noise: their mean sits within a
    few standard errors (σ / sqrt(M)) of the model's own prediction."""
    from metatomic.torch import ModelOutput
    from metatomic_ase import MetatomicCalculator

    calculator = MetatomicCalculator(str(models["lora"].exported))
    outputs = {k: ModelOutput(per_atom=False) for k in ("energy", "energy_ensemble", "energy_uncertainty")}
    for atoms in read_extxyz(models["splits"]["test"]) + read_extxyz(models["splits"]["val"]):
        result = calculator.run_model(atoms, outputs)
        energy = float(result["energy"].block().values[0, 0])
        members = result["energy_ensemble"].block().values[0].detach().numpy()
        sigma = float(result["energy_uncertainty"].block().values[0, 0])
        assert members.shape == (64,)
        assert sigma > 0
        assert abs(members.mean() - energy) < 5 * members.std() / np.sqrt(len(members)) + 1e-6


def test_corrupt_or_foreign_checkpoints_are_refused(tmp_path):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError, match="not a readable metatrain checkpoint"):
        read_pet_checkpoint(garbage)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"architecture_name": "soap_bpnn"}, foreign)
    with pytest.raises(ModelError, match="not a PET checkpoint.*soap_bpnn"):
        read_pet_checkpoint(foreign)
    with pytest.raises(ModelError, match="does not exist"):
        read_pet_checkpoint(tmp_path / "absent.ckpt")


def test_cli_reports_a_bad_base_model_in_one_line(tmp_path, root):
    splits = emt_split(tmp_path / "data", 2, n=10)
    garbage = tmp_path / "published.ckpt"
    garbage.write_bytes(b"\x00" * 64)
    result = subprocess.run(
        [sys.executable, "-m", "petmad", "train-model", "--kind", "pretrain",
         "--data-dir", str(splits["train"].parent), "--training", "{}",
         "--workdir", str(tmp_path / "work"), "--seed", "1",
         "--import-checkpoint", str(garbage), "--trained", str(tmp_path / "t.ckpt"),
         "--checkpoint", str(tmp_path / "c.ckpt"), "--exported", str(tmp_path / "e.pt")],
        capture_output=True, text=True, cwd=root,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "published.ckpt" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "e.pt").exists()


def _energies(model_path, data_path):
    from metatomic_ase import MetatomicCalculator

    calculator = MetatomicCalculator(str(model_path))
    energies = []
    for atoms in read_extxyz(data_path):
        atoms.calc = calculator
        energies.append(atoms.get_potential_energy())
    return np.array(energies)


KILLABLE_TRAINING = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from petmad.config import TrainingSettings
from petmad.models.training import TrainRequest, train
settings = TrainingSettings.model_validate({settings!r})
splits = {{k: Path({data!r}) / f"{{k}}.extxyz" for k in ("train", "val", "test")}}
train(TrainRequest(kind="pretrain", splits=splits, training=settings,
                   workdir=Path({work!r}), seed=1, llpr=False))
"""


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, root, caplog):
    import logging
    import time

    settings = {**TINY, "pretrain": {"num_epochs": 30, "batch_size": 4, "checkpoint_interval": 1}}
    splits = emt_split(tmp_path / "data", 3)
    work = tmp_path / "work"
    script = KILLABLE_TRAINING.format(root=str(root), settings=settings,
                                      data=str(tmp_path / "data"), work=str(work))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((work / "train").glob("model_3.ckpt")) and time.time() < deadline:
        time.sleep(0.2)
    process.kill()
    process.wait()
    assert not (work / "train" / "done").exists(), "the kill should land mid-training"

    with caplog.at_level(logging.INFO, logger="petmad.models"):
        result = train(TrainRequest(kind="pretrain", splits=splits,
                                    training=TrainingSettings.model_validate(settings),
                                    workdir=work, seed=1, llpr=False))
    assert any("resuming from" in record.getMessage() for record in caplog.records)
    checkpoint = torch.load(result.trained_checkpoint, weights_only=False)
    assert checkpoint["epoch"] == 29
    assert result.exported.exists()


def test_zbl_makes_a_merged_pair_cost_thousands_of_eV(tmp_path):
    """pet.zbl adds metatrain's ZBL under the learned energy, through export and LLPR: a
    Cu-Ni pair 0.3 Å apart costs ~5 keV of screened Coulomb repulsion (ZBL's universal
    screening; a PET alone, trained briefly on EMT labels, gives a few eV), and apart from
    that pair the model is the trained PET."""
    from ase import Atoms

    from petmad.models.evaluate import load_calculator

    settings = TrainingSettings.model_validate({**TINY, "pet": {**TINY["pet"], "zbl": True}})
    model = train(TrainRequest(kind="bespoke", splits=emt_split(tmp_path / "data", 3),
                               training=settings, workdir=tmp_path / "work", seed=1))
    calculator = load_calculator(model.exported)

    def pair_energy(distance):
        atoms = Atoms("CuNi", positions=[[5, 5, 5], [5, 5, 5 + distance]], cell=[10] * 3,
                      pbc=True)
        atoms.calc = calculator
        return atoms.get_potential_energy()

    assert pair_energy(0.3) - pair_energy(3.0) > 1000.0


def test_pet_with_llpr_drives_md_and_records_its_ensemble(models, tmp_path):
    import pandas as pd

    from petmad.simulate import (
        DynamicsSettings,
        PotentialSpec,
        SimulationStopped,
        run_dynamics,
    )

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    model = PotentialSpec(kind="metatomic", path=str(models["base"].exported))
    run = DynamicsSettings.model_validate(
        {"steps": 6, "timestep_fs": 1.0,
         "records": {"trajectory_stride": 2, "properties_stride": 1}})
    run_dynamics(tmp_path / "md", atoms, [model], run, progress=False)
    records = np.load(tmp_path / "md" / "records.npz")
    assert records["energy_ensemble"].shape == (4, 64)
    assert (records["energy_uncertainty"] > 0).all()
    potential = pd.read_csv(tmp_path / "md" / "properties.csv").set_index("step")["potential_eV"]
    # The last-layer ensemble is centred on the model's own prediction.
    np.testing.assert_allclose(records["energy_ensemble"].mean(axis=1),
                               potential.loc[records["step"]].to_numpy(), atol=0.05 * len(atoms))
    strict = run.model_copy(update={"stop": {"max_uncertainty_eV_per_atom": 1e-9}})
    strict = DynamicsSettings.model_validate(strict.model_dump())
    with pytest.raises(SimulationStopped, match="step 0: .*uncertainty .* exceeds"):
        run_dynamics(tmp_path / "guarded", atoms, [model], strict, progress=False)


def test_a_model_replaced_in_place_does_not_reuse_the_old_models_run(models, tmp_path):
    """Snakemake reruns a study when its model is retrained, at the same path: the run
    directory must then start afresh, not resume or reuse the old model's trajectory."""
    import shutil

    import pandas as pd

    from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    path = tmp_path / "model.pt"
    model = PotentialSpec(kind="metatomic", path=str(path))
    run = DynamicsSettings.model_validate({"steps": 4, "timestep_fs": 1.0,
                                           "records": {"properties_stride": 1}})

    def energies(exported) -> np.ndarray:
        shutil.copyfile(exported, path)
        run_dynamics(tmp_path / "md", atoms, [model], run, progress=False)
        return pd.read_csv(tmp_path / "md" / "properties.csv")["potential_eV"].to_numpy()

    first = energies(models["base"].exported)
    assert np.array_equal(energies(models["base"].exported), first)  # same model: reused
    retrained = energies(models["lora"].exported)
    assert not np.allclose(retrained, first)
    fresh = PotentialSpec(kind="metatomic", path=str(models["lora"].exported))
    run_dynamics(tmp_path / "fresh", atoms, [fresh], run, progress=False)
    np.testing.assert_allclose(
        retrained, pd.read_csv(tmp_path / "fresh" / "properties.csv")["potential_eV"])


def test_a_truncated_newest_checkpoint_is_skipped_on_resume(tmp_path):
    from petmad.models.training import newest_checkpoint

    torch.save({"epoch": 3}, tmp_path / "model_3.ckpt")
    torch.save({"epoch": 4}, tmp_path / "model_4.ckpt")
    data = (tmp_path / "model_4.ckpt").read_bytes()
    (tmp_path / "model_4.ckpt").write_bytes(data[: len(data) // 2])  # killed mid-write
    assert newest_checkpoint(tmp_path) == tmp_path / "model_3.ckpt"
    assert not (tmp_path / "model_4.ckpt").exists()
    assert newest_checkpoint(tmp_path / "missing") is None


def test_pretrained_model_has_a_direct_force_head_that_drives_mts(models, tmp_path):
    from metatomic_ase import MetatomicCalculator

    from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics
    from petmad.simulate.potentials import DirectForceCalculator
    from petmad.simulate.runner import step_timings

    path = str(models["base"].exported)
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    atoms.positions += np.random.default_rng(0).normal(0.0, 0.05, atoms.positions.shape)
    conservative = MetatomicCalculator(path, uncertainty_threshold=None)
    direct = DirectForceCalculator(path, "cpu", {}, with_stress=False)
    assert "stress" not in direct.implemented_properties
    # one energy head for both; the direct head is a separate, approximate force field
    assert direct.get_potential_energy(atoms) == pytest.approx(
        conservative.get_potential_energy(atoms), abs=1e-5)
    forces = direct.get_forces(atoms)
    assert forces.shape == (len(atoms), 3) and np.isfinite(forces).all()
    assert not np.allclose(forces, conservative.get_forces(atoms), atol=1e-6)

    model = PotentialSpec(kind="metatomic", path=path)
    mts = DynamicsSettings.model_validate(
        {"ensemble": "nve", "steps": 4, "timestep_fs": 2.0, "mts": {"outer_every": 2},
         "records": {"properties_stride": 1, "checkpoint_stride": 2}})
    run_dynamics(tmp_path / "mts", atoms, [model, model.model_copy(
        update={"non_conservative": True})], mts, progress=False)
    assert [chunk[:2] for chunk in step_timings(tmp_path / "mts")] == [(0, 2), (2, 4)]
    npt = DynamicsSettings.model_validate(
        {"ensemble": "npt", "steps": 2, "barostat": {"kind": "isotropic"}})
    with pytest.raises(Exception, match="cannot run at constant pressure"):
        run_dynamics(tmp_path / "npt", atoms, [model.model_copy(
            update={"non_conservative": True})], npt, progress=False)
