"""The roads to real results, driven through Snakemake the way a user drives them: your own
labels (one file per dataset, or pre-split train/val/test files), a published checkpoint.

They start from the smoke run the other workflow tests share (tests/conftest.py) and copy
what they need out of it; nothing here writes into that run.
"""

import hashlib
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from ase.io import read, write
from conftest import snakemake

pytestmark = pytest.mark.workflow

DATASETS = ["mad", "lps", "gaas", "hea", "water", "succinic", "bto"]
SPLITS = ["train", "val", "test"]
SMOKE = ("config.yaml", "presets/smoke.yaml")


def own_labels_config(tmp_path, path, **keys):
    settings = {"path": path, **keys}
    lines = "".join(f"    {key}: {value!r}\n" for key, value in settings.items())
    config = tmp_path / "own_labels.yaml"
    config.write_text(f"reference:\n  engine: file\n  file:\n{lines}")
    return (*SMOKE, str(config))


def tree_digest(directory):
    """What every file under ``directory`` holds (missing directory: empty)."""
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def error_lines(result):
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith("petmad-bench:")]


def frames_equal(path_a, path_b):
    a, b = read(path_a, ":"), read(path_b, ":")
    assert len(a) == len(b), (path_a, len(a), len(b))
    for x, y in zip(a, b):
        assert np.array_equal(x.numbers, y.numbers)
        np.testing.assert_allclose(x.positions, y.positions, atol=1e-8)
        assert x.get_potential_energy() == pytest.approx(y.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(x.get_forces(), y.get_forces(), atol=1e-8)
        assert x.info.get("subset") == y.info.get("subset")


# Models a user brings, one of each kind of the model library: an exported metatomic model
# (here the smoke run's own pet-mad, standing in for the published one), a SevenNet and a
# CHGNet shipped in their wheels, and an ASE calculator made by a factory function (EMT,
# which covers only water's and succinic acid's species among the studies).  Every kind
# but the SevenNet runs every case study; the SevenNet (7net-l3i5, the smoke preset's own
# external model) only the benchmarks: in the studies it cost 13 of this run's 32 minutes
# of job time, and its registry entry is the one the benchmarks resolve.
USER_MODELS = """
models: [pet-mad, published-pet-mad, chgnet, emt]
model_library:
  chgnet: {kind: chgnet, version: "0.3.0"}
  emt: {kind: ase, factory: "ase.calculators.emt:EMT",
        species: [H, C, N, O, Al, Ni, Cu, Pd, Ag, Pt, Au]}
  published-pet-mad: {kind: metatomic, path: published-pet-mad.pt}
training:
  external_models: [7net-l3i5, chgnet, published-pet-mad]
"""
STUDY_TABLES = {"lps": "lps_conductivity", "gaas": "gaas_melting", "hea": "hea_segregation",
                "water": "water_pimd", "succinic": "succinic_nmr", "bto": "bto_dielectric"}


@pytest.fixture(scope="module")
def own_labels_run(smoke_run, tmp_path_factory):
    """The whole smoke DAG again, labeled from the files the SevenNet-labeled run wrote, and
    with every case study run by the models of USER_MODELS too."""
    root, smoke = smoke_run
    workdir = tmp_path_factory.mktemp("own-labels")
    (workdir / "labels").mkdir()
    for dataset in DATASETS:
        # the labeled rattles and, where the smoke run sampled them, its MD training frames
        # and its active-learning rounds' frames: all the labels its split saw, in order
        data = smoke / "data" / dataset
        parts = [data / "labeled.extxyz", data / "md_train.extxyz",
                 *sorted((data / "md_model").glob("round*.extxyz"))]
        with open(workdir / "labels" / f"{dataset}.extxyz", "wb") as labels:
            for part in parts:
                if part.exists():
                    labels.write(part.read_bytes())
    shutil.copyfile(smoke / "models" / "pet-mad.pt", workdir / "published-pet-mad.pt")
    (workdir / "user_models.yaml").write_text(USER_MODELS)
    configfiles = (*own_labels_config(workdir, "labels/{dataset}.extxyz"),
                   str(workdir / "user_models.yaml"))
    result = snakemake(root, workdir, "all", configfiles=configfiles)
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(root=root, smoke=smoke, workdir=workdir, configfiles=configfiles,
                           result=result)


def test_own_labels_build_every_figure_and_the_same_accuracy(own_labels_run):
    smoke, workdir = own_labels_run.smoke, own_labels_run.workdir
    figures = sorted(p.name for p in (smoke / "results").glob("*.pdf"))
    assert figures and figures == sorted(p.name for p in (workdir / "results").glob("*.pdf"))
    datasets = pd.read_csv(workdir / "results" / "datasets.csv")
    assert datasets["reference_engine"].str.startswith("file").all()
    # Same labels and seed: the same splits, the same models, the same errors.
    for dataset in DATASETS:
        for split in SPLITS:
            frames_equal(smoke / "data" / dataset / f"{split}.extxyz",
                         workdir / "data" / dataset / f"{split}.extxyz")
    ours = pd.read_csv(workdir / "results" / "accuracy.csv")
    theirs = pd.read_csv(smoke / "results" / "accuracy.csv")
    # The 'file' engine runs no MD: the held-out reference-MD test sets are the smoke run's.
    assert not ours["dataset"].str.endswith("-md").any()
    theirs = theirs[~theirs["dataset"].str.endswith("-md")]
    keys = ["family", "model", "system", "dataset", "subset"]
    keys = [key for key in keys if key in ours.columns]
    merged = theirs.merge(ours, on=keys, suffixes=("_sevennet", "_file"))
    assert len(merged) == len(theirs)  # ours has the user's models besides
    assert set(merged["subset"]) > {"all"}  # MAD's subsets came through the file
    for column in [c for c in theirs.columns if "mae" in c or "rmse" in c]:
        np.testing.assert_allclose(merged[f"{column}_file"], merged[f"{column}_sevennet"],
                                   rtol=1e-5, atol=1e-6, err_msg=column)
    # Nothing asks the 'file' engine to compute: no reference curve or band.
    assert "reference" not in set(pd.read_csv(workdir / "results" / "dimers.csv")["model"])


def test_own_labels_rerun_with_nothing_changed_does_nothing(own_labels_run):
    run = own_labels_run
    result = snakemake(run.root, run.workdir, "all", "-n", configfiles=run.configfiles)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_pre_split_labels_keep_their_split(smoke_run, tmp_path):
    """The layout published sets come in: labels/<dataset>/<split>.extxyz, with the subset
    under another key and energies in another unit."""
    root, smoke = smoke_run
    for dataset in DATASETS:
        (tmp_path / "labels" / dataset).mkdir(parents=True)
        for split in SPLITS:
            frames = read(smoke / "data" / dataset / f"{split}.extxyz", ":")
            for atoms in frames:
                results = atoms.calc.results
                atoms.info["mad_subset"] = atoms.info.pop("subset")
                atoms.info["E_meV"] = results["energy"] * 1e3
                atoms.arrays["F_meV_A"] = results["forces"] * 1e3
                if "stress" in results and atoms.pbc.all():
                    atoms.info["S_meV_A3"] = results["stress"] * 1e3
                atoms.calc = None
            write(tmp_path / "labels" / dataset / f"{split}.extxyz", frames, format="extxyz")
    configfiles = own_labels_config(
        tmp_path, "labels/{dataset}/{split}.extxyz", energy_key="E_meV", forces_key="F_meV_A",
        stress_key="S_meV_A3", subset_key="mad_subset", energy_unit="meV")
    result = snakemake(root, tmp_path, "results/datasets.csv", configfiles=configfiles)
    assert result.returncode == 0, result.stderr[-3000:]
    for dataset in DATASETS:
        for split in SPLITS:
            frames_equal(smoke / "data" / dataset / f"{split}.extxyz",
                         tmp_path / "data" / dataset / f"{split}.extxyz")
            stress_file = read(tmp_path / "data" / dataset / f"{split}.extxyz", ":")
            stress_smoke = read(smoke / "data" / dataset / f"{split}.extxyz", ":")
            for x, y in zip(stress_file, stress_smoke):
                np.testing.assert_allclose(x.calc.results["stress"], y.calc.results["stress"],
                                           atol=1e-10)
    table = pd.read_csv(tmp_path / "results" / "datasets.csv")
    assert set(table.loc[table["dataset"] == "mad", "subset"]) == {
        "bulk", "rattled", "randcomp", "surface", "cluster", "2d", "molcrys", "molfrag"}


def _break_labels(path, how):
    frames = read(path, ":")
    atoms = frames[2]
    if how == "nan force":
        forces = atoms.get_forces()
        forces[1, 0] = np.nan
        atoms.calc.results["forces"] = forces
    elif how == "missing key":
        atoms.calc = None
    elif how == "wrong unit":
        atoms.info["energy_unit"] = "Hartree"
    write(path, frames, format="extxyz")


@pytest.mark.parametrize(("how", "expected"), [
    ("nan force", "structure 2: forces ('forces') is not finite"),
    ("missing key", "structure 2: missing energy ('energy'), forces ('forces')"),
    ("wrong unit", "structure 2: states energy_unit 'Hartree', but reference.file.energy_unit is 'eV'"),
])
def test_bad_labels_are_refused_before_data_changes(own_labels_run, tmp_path, how, expected):
    root, finished = own_labels_run.root, own_labels_run.workdir
    shutil.copytree(finished / "data", tmp_path / "data")
    shutil.copytree(finished / "labels", tmp_path / "labels")
    configfiles = own_labels_config(tmp_path, "labels/{dataset}.extxyz")
    before = tree_digest(tmp_path / "data")
    _break_labels(tmp_path / "labels" / "gaas.extxyz", how)
    result = snakemake(root, tmp_path, "data/gaas/train.extxyz", configfiles=configfiles)
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "'labels/gaas.extxyz'" in lines[0] and expected in lines[0], lines[0]
    assert tree_digest(tmp_path / "data") == before


def _downgrade_to_v15(source, target):
    """A PET checkpoint as metatrain wrote it before format 16, made by undoing the one
    change metatrain's ``model_update_v15_v16`` documents (the ``backend.`` prefix)."""
    import metatomic.torch  # noqa: F401  (registers the classes checkpoints hold)
    import torch

    checkpoint = torch.load(source, weights_only=False, map_location="cpu")
    assert checkpoint["model_ckpt_version"] == 16, "metatrain changed: update this test"
    for key in ("model_state_dict", "best_model_state_dict"):
        if checkpoint.get(key) is not None:
            checkpoint[key] = {name.removeprefix("backend."): value
                               for name, value in checkpoint[key].items()
                               if not (name.startswith("system_conditioning.")
                                       and f"backend.{name}" in checkpoint[key])}
    checkpoint["model_ckpt_version"] = 15
    torch.save(checkpoint, target)
    return checkpoint


def assert_same_state(ours, theirs, where="best_model_state_dict"):
    """Equal tensors under equal keys, recursing into the nested entries a state holds."""
    import torch

    assert set(ours) == set(theirs), where
    for name, value in theirs.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(ours[name], value), f"{where}.{name}"
        elif isinstance(value, dict):
            assert_same_state(ours[name], value, f"{where}.{name}")
        else:
            assert ours[name] == value, f"{where}.{name}"


def test_an_older_published_checkpoint_is_upgraded_and_used(smoke_run, tmp_path):
    import torch

    root, smoke = smoke_run
    shutil.copytree(smoke / "data" / "mad", tmp_path / "data" / "mad")
    old = _downgrade_to_v15(smoke / "models" / "pet-mad.trained.ckpt", tmp_path / "published.ckpt")
    override = tmp_path / "checkpoint.yaml"
    override.write_text("training:\n  base_model: published.ckpt\n")
    # a system's LoRA model fine-tunes it, its energy baseline first shifted to the system
    result = snakemake(root, tmp_path, "models/pet-mad.pt", "models/gaas/lora.pt",
                       configfiles=(*SMOKE, str(override)))
    assert result.returncode == 0, result.stderr[-3000:]
    shifted = torch.load(tmp_path / "models" / "work" / "gaas" / "lora" / "shifted_base.ckpt",
                         weights_only=False)
    assert shifted["model_ckpt_version"] == 16
    assert (tmp_path / "models" / "gaas" / "lora.pt").stat().st_size > 0
    imported = torch.load(tmp_path / "models" / "pet-mad.trained.ckpt", weights_only=False)
    assert imported["model_ckpt_version"] == 16
    original = torch.load(smoke / "models" / "pet-mad.trained.ckpt", weights_only=False)
    assert_same_state(imported["best_model_state_dict"], original["best_model_state_dict"])
    assert old["model_ckpt_version"] == 15
    assert (tmp_path / "models" / "pet-mad.pt").stat().st_size > 0


@pytest.mark.parametrize("content", [b"not a checkpoint", b""])
def test_a_corrupt_base_model_leaves_models_untouched(root, tmp_path, content):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("pet-mad.trained.ckpt", "pet-mad.ckpt", "pet-mad.pt"):
        (models / name).write_bytes(b"an earlier model")
    (tmp_path / "published.ckpt").write_bytes(content)
    override = tmp_path / "checkpoint.yaml"
    override.write_text("training:\n  base_model: published.ckpt\n")
    before = tree_digest(models)
    result = snakemake(root, tmp_path, "models/pet-mad.pt", configfiles=(*SMOKE, str(override)))
    assert result.returncode != 0
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "training.base_model" in lines[0] and "'published.ckpt'" in lines[0], lines[0]
    assert tree_digest(models) == before


def test_every_model_runs_every_study_it_covers(own_labels_run):
    workdir = own_labels_run.workdir
    refused = [line for line in own_labels_run.result.stderr.splitlines()
               if "not run with it" in line]
    assert len(refused) == 4  # once, by the controller, not again by its jobs
    assert sorted(refused) == sorted(
        f"petmad-bench: model 'emt' lacks {missing} needed by the {system} study: "
        "not run with it"
        for system, missing in (("lps", ["Li", "P", "S"]), ("gaas", ["As", "Ga"]),
                                ("hea", ["Co", "Cr", "Fe", "Mn"]), ("bto", ["Ba", "Ti"])))
    for system, table in STUDY_TABLES.items():
        rows = pd.read_csv(workdir / "results" / f"{table}.csv")
        if "kind" in rows:  # BaTiO3's table has a row for its dipole model besides
            rows = rows[rows["kind"] != "dipole_model"]
        models = set(rows["model"])
        expected = {"pet-mad", "published-pet-mad", "chgnet"} | (
            {"emt"} if system in ("water", "succinic") else set())
        assert models == expected, (system, models)
    accuracy = pd.read_csv(workdir / "results" / "accuracy.csv")
    assert {"7net-l3i5", "chgnet", "published-pet-mad"} <= set(accuracy["model"])
    # the exported model's LLPR ensemble is found and used, as for the trained pet-mad
    published = accuracy[(accuracy["model"] == "published-pet-mad") & (accuracy["subset"] == "all")]
    trained = accuracy[(accuracy["family"] == "pet-mad") & (accuracy["subset"] == "all")]
    np.testing.assert_allclose(published.sort_values("dataset")["forces_mae [meV/Å]"],
                               trained.sort_values("dataset")["forces_mae [meV/Å]"], rtol=1e-6)
    for benchmark in ("dimers", "relaxations"):
        assert {"chgnet", "published-pet-mad"} <= set(
            pd.read_csv(workdir / "results" / f"{benchmark}.csv")["model"]), benchmark
    assert {"chgnet", "published-pet-mad"} <= set(
        pd.read_csv(workdir / "results" / "speed.csv")["model"])
    report = snakemake(own_labels_run.root, workdir, "--report", str(workdir / "report.html"),
                       configfiles=own_labels_run.configfiles)
    assert report.returncode == 0, report.stderr[-2000:]
