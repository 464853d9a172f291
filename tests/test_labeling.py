"""Reference engines and the resumable labeling job, on ASE's EMT (fast, deterministic)."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from petmad.io import StructureFileError, read_extxyz, write_extxyz
from petmad.reference import EngineUnavailable, LabelFileError, make_engine
from petmad.reference.engines import EmtEngine
from petmad.reference import labeling
from petmad.reference.labeling import LabelingError, label_structures


def emt_structures(n: int) -> list[Atoms]:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        atoms = bulk(["Cu", "Ni", "Au"][i % 3], "fcc", a=3.6 + 0.05 * (i % 5), cubic=True)
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.info["subset"] = f"s{i % 2}"
        frames.append(atoms)
    frames.append(molecule("CH4"))  # non-periodic: no stress
    frames[-1].info["subset"] = "s0"
    return frames


def test_labels_equal_direct_engine_calls(tmp_path):
    frames = emt_structures(5)
    summary = label_structures(frames, EmtEngine(), tmp_path / "out.extxyz", chunk_size=2,
                               progress=False)
    labeled = read_extxyz(tmp_path / "out.extxyz")
    assert summary["n_labeled"] == len(frames) == len(labeled)
    for atoms, result in zip(frames, labeled):
        direct = atoms.copy()
        direct.calc = EMT()
        assert result.get_potential_energy() == pytest.approx(direct.get_potential_energy(), abs=1e-9)
        # extxyz stores 8 decimals
        np.testing.assert_allclose(result.get_forces(), direct.get_forces(), atol=1e-7)
        if atoms.pbc.all():
            np.testing.assert_allclose(result.get_stress(), direct.get_stress(), atol=1e-7)
        else:
            assert np.isnan(result.get_stress()).all()
        assert result.info["subset"] == atoms.info["subset"]
    assert not (tmp_path / "out.extxyz.chunks").exists()
    assert summary["engine"] == "emt" and summary["version"]


def test_parallel_workers_match_serial(tmp_path, monkeypatch):
    monkeypatch.setattr(labeling, "MIN_ITEMS_PER_WORKER", 1)
    frames = emt_structures(6)
    label_structures(frames, EmtEngine(), tmp_path / "serial.extxyz", chunk_size=4, progress=False)
    label_structures(frames, EmtEngine(), tmp_path / "parallel.extxyz", chunk_size=4, workers=2,
                     progress=False)
    assert (tmp_path / "serial.extxyz").read_bytes() == (tmp_path / "parallel.extxyz").read_bytes()


KILLABLE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from petmad.io import read_extxyz
    from petmad.reference.engines import EmtEngine
    from petmad.reference.labeling import label_structures

    class SlowEmt(EmtEngine):
        def compute(self, atoms):
            time.sleep(0.2)  # long enough to be killed between chunks
            return super().compute(atoms)

    label_structures(read_extxyz({inp!r}), SlowEmt(), {out!r}, chunk_size=2, progress=False)
""")


def test_killed_job_resumes_to_identical_file(tmp_path, root):
    write_extxyz(tmp_path / "in.extxyz", emt_structures(11))
    frames = read_extxyz(tmp_path / "in.extxyz")  # as the CLI reads them
    label_structures(frames, EmtEngine(), tmp_path / "reference.extxyz", chunk_size=2,
                     progress=False)

    out = tmp_path / "resumed.extxyz"
    script = KILLABLE.format(root=str(root), inp=str(tmp_path / "in.extxyz"), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script])
    chunks = tmp_path / "resumed.extxyz.chunks"
    deadline = time.time() + 60
    while len(list(chunks.glob("*.failed.json"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    finished = sorted(p.name for p in chunks.glob("*.failed.json"))
    assert 2 <= len(finished) < 6, "the kill should land halfway"
    assert not out.exists()

    computed = []

    class CountingEmt(EmtEngine):
        def compute(self, atoms):
            computed.append(1)
            return super().compute(atoms)

    label_structures(frames, CountingEmt(), out, chunk_size=2, progress=False)
    assert len(computed) == len(frames) - 2 * len(finished), "finished chunks are not recomputed"
    assert out.read_bytes() == (tmp_path / "reference.extxyz").read_bytes()


def test_failures_are_listed_with_index_and_message(tmp_path):
    frames = emt_structures(4)
    frames.insert(2, bulk("Fe", "bcc", 2.87))  # EMT has no Fe parameters
    summary = label_structures(frames, EmtEngine(), tmp_path / "out.extxyz", chunk_size=2,
                               progress=False)
    assert summary["n_failed"] == 1
    failure = summary["failures"][0]
    assert failure["index"] == 2 and "Fe" in failure["error"]
    labeled = read_extxyz(tmp_path / "out.extxyz")
    assert [a.info["structure_index"] for a in labeled] == [0, 1, 3, 4, 5]


def test_too_many_failures_stop_with_clear_error(tmp_path):
    frames = [bulk("Fe", "bcc", 2.87), bulk("Cu", "fcc", 3.6)]
    with pytest.raises(LabelingError, match=r"1 of 2 structures failed.*structure 0"):
        label_structures(frames, EmtEngine(), tmp_path / "out.extxyz", max_failed_fraction=0.2,
                         progress=False)
    assert not (tmp_path / "out.extxyz").exists()


def test_missing_engine_is_reported_before_any_work(tmp_path):
    class Missing(EmtEngine):
        module = "no_such_package_for_petmad"

    with pytest.raises(EngineUnavailable, match="no_such_package_for_petmad"):
        label_structures(emt_structures(2), Missing(), tmp_path / "out.extxyz", progress=False)
    assert not (tmp_path / "out.extxyz.chunks").exists()


def test_file_engine_reads_labels_and_names_missing_keys(tmp_path):
    frames = emt_structures(3)
    labeled = label_structures(frames, EmtEngine(), tmp_path / "mine.extxyz", progress=False)
    assert labeled["n_labeled"] == 4
    engine = make_engine({"engine": "file", "file": {"path": "x/{dataset}.extxyz"}})
    read_back = engine.read_labeled(tmp_path / "mine.extxyz")
    assert read_back[0].get_potential_energy() == pytest.approx(
        read_extxyz(tmp_path / "mine.extxyz")[0].get_potential_energy())

    bare = tmp_path / "bare.extxyz"
    plain = [Atoms(a.numbers, a.positions, cell=a.cell, pbc=a.pbc) for a in frames]
    for atoms in plain:
        atoms.info["energy_total"] = -1.0
    write_extxyz(bare, plain)
    engine = make_engine({"engine": "file",
                          "file": {"path": "x/{dataset}.extxyz", "energy_key": "energy_total"}})
    with pytest.raises(LabelFileError, match=r"structure 0: missing forces \('forces'\)"):
        engine.read_labeled(bare)


def test_malformed_extxyz_gives_clear_error(tmp_path):
    broken = tmp_path / "broken.extxyz"
    broken.write_text("3\nLattice=\"1 0 0 0 1 0 0 0 1\" Properties=species:S:1:pos:R:3\nH 0 0 0\n")
    with pytest.raises(StructureFileError, match="broken.extxyz"):
        read_extxyz(broken)
    with pytest.raises(StructureFileError, match="does not exist"):
        read_extxyz(tmp_path / "absent.extxyz")


def test_gpaw_labels_a_tiny_system(tmp_path):
    if os.environ.get("PETMAD_REQUIRE_GPAW") != "1":
        pytest.importorskip("gpaw")
    engine = make_engine({"engine": "gpaw", "gpaw": {"ecut_eV": 250, "kpoint_density": 1.5,
                                                     "setup_dir": str(tmp_path / "setups")}})
    si = bulk("Si", "diamond", 5.43)
    si.positions[1] += [0.05, -0.03, 0.02]
    summary = label_structures([si], engine, tmp_path / "si.extxyz", progress=False)
    assert summary["engine"] == "gpaw" and summary["settings"]["xc"] == "PBEsol"
    result = read_extxyz(tmp_path / "si.extxyz")[0]
    forces = result.get_forces()
    # Newton's third law and a restoring force on the displaced atom.
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-3)
    assert np.dot(forces[1], [0.05, -0.03, 0.02]) < 0
    direct = si.copy()
    direct.calc = engine.make_calculator(si)
    assert result.get_potential_energy() == pytest.approx(direct.get_potential_energy(), abs=1e-6)
    assert (tmp_path / "setups" / "Si.PBEsol").exists()


def test_file_engine_converts_units_and_reads_the_subset_key(tmp_path):
    frames = emt_structures(2)
    labeled = tmp_path / "mine.extxyz"
    label_structures(frames, EmtEngine(), labeled, progress=False)
    in_ev = read_extxyz(labeled)
    in_hartree = []
    for atoms in in_ev:
        plain = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        plain.info.update(E=atoms.get_potential_energy() / units.Hartree, group="bulk")
        plain.arrays["F"] = atoms.get_forces() / units.Hartree
        in_hartree.append(plain)
    write_extxyz(tmp_path / "hartree.extxyz", in_hartree)
    engine = make_engine({"engine": "file", "file": {
        "path": "x/{dataset}.extxyz", "energy_key": "E", "forces_key": "F", "stress_key": None,
        "subset_key": "group", "energy_unit": "Hartree"}})
    read_back = engine.read_labeled(tmp_path / "hartree.extxyz")
    for ours, theirs in zip(read_back, in_ev):
        assert ours.get_potential_energy() == pytest.approx(theirs.get_potential_energy(), rel=1e-6)
        np.testing.assert_allclose(ours.get_forces(), theirs.get_forces(), atol=1e-6)
        assert ours.info["subset"] == "bulk"


@pytest.mark.parametrize(("change", "message"), [
    (lambda a: a.info.update(energy=float("nan")), r"structure 1: energy \('energy'\) is not finite"),
    (lambda a: a.info.update(stress=np.array([np.inf, 0, 0, 0, 0, 0])),
     r"structure 1: stress \('stress'\) is not finite"),
    (lambda a: a.info.update(energy_unit="kcal/mol"), r"structure 1: states energy_unit 'kcal/mol'"),
])
def test_file_engine_refuses_bad_labels_naming_file_structure_and_key(tmp_path, change, message):
    frames = [Atoms("Cu2", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 4], pbc=True)
              for _ in range(2)]
    for atoms in frames:
        atoms.info.update(energy=-1.0, stress=np.zeros(6))
        atoms.arrays["forces"] = np.zeros((2, 3))
    change(frames[1])
    write_extxyz(tmp_path / "bad.extxyz", frames)
    engine = make_engine({"engine": "file", "file": {"path": "x/{dataset}.extxyz"}})
    with pytest.raises(LabelFileError, match="'.*bad.extxyz' " + message):
        engine.read_labeled(tmp_path / "bad.extxyz")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "petmad", *args], capture_output=True,
                          text=True, check=False)


@pytest.mark.parametrize("shard_size", [3, 4, 100])
def test_shards_gather_into_the_file_one_job_writes(tmp_path, shard_size):
    """``label --shard`` jobs over consecutive ranges (the last open-ended, as the workflow
    plans them), then ``label --gather``: the same bytes and summary as one ``label`` job,
    failures numbered as in the whole file."""
    frames = emt_structures(8)
    frames.insert(5, bulk("Fe", "bcc", 2.87))  # EMT has no Fe: one failure, in a shard
    write_extxyz(tmp_path / "structures.extxyz", frames)
    engine, labeling_settings = '{"engine": "emt"}', '{"chunk_size": 2}'
    whole = _cli("label", "--input", str(tmp_path / "structures.extxyz"), "--output",
                 str(tmp_path / "whole.extxyz"), "--reference", engine,
                 "--labeling", labeling_settings)
    assert whole.returncode == 0, whole.stderr
    starts = range(0, len(frames), shard_size)
    ranges = [f"{s}:{s + shard_size}" if s + shard_size < len(frames) else f"{s}:"
              for s in starts]
    shards = []
    for index, structures in enumerate(ranges):
        shards.append(tmp_path / f"shard{index}.extxyz")
        result = _cli("label", "--input", str(tmp_path / "structures.extxyz"), "--shard",
                      structures, "--output", str(shards[-1]), "--reference", engine,
                      "--labeling", labeling_settings)
        assert result.returncode == 0, result.stderr
    gathered = _cli("label", "--gather", "--input", *map(str, shards), "--output",
                    str(tmp_path / "gathered.extxyz"), "--reference", engine,
                    "--labeling", labeling_settings)
    assert gathered.returncode == 0, gathered.stderr
    assert f"gathered from {len(ranges)} shards" in gathered.stdout
    for suffix in ("", ".json"):
        assert (tmp_path / f"gathered.extxyz{suffix}").read_bytes() == \
            (tmp_path / f"whole.extxyz{suffix}").read_bytes(), suffix
    assert "structure 5" in whole.stdout


def test_gathering_checks_the_failed_fraction_over_the_dataset(tmp_path):
    """Each shard labels what it can; the dataset-wide limit is applied when gathering."""
    frames = [bulk("Fe", "bcc", 2.87), bulk("Fe", "bcc", 2.9), bulk("Cu", "fcc", 3.6),
              bulk("Cu", "fcc", 3.65)]
    write_extxyz(tmp_path / "structures.extxyz", frames)
    for index, structures in enumerate(["0:2", "2:"]):
        result = _cli("label", "--input", str(tmp_path / "structures.extxyz"), "--shard",
                      structures, "--output", str(tmp_path / f"{index}.extxyz"),
                      "--reference", '{"engine": "emt"}', "--labeling",
                      '{"max_failed_fraction": 0.25}')
        assert result.returncode == 0, result.stderr  # shard 0: both of its structures failed
    gathered = _cli("label", "--gather", "--input", str(tmp_path / "0.extxyz"),
                    str(tmp_path / "1.extxyz"), "--output", str(tmp_path / "all.extxyz"),
                    "--reference", '{"engine": "emt"}', "--labeling",
                    '{"max_failed_fraction": 0.25}')
    assert gathered.returncode == 2
    assert gathered.stderr.strip().splitlines()[-1].startswith(
        "error: 2 of 4 structures failed with engine 'emt'")
    assert not (tmp_path / "all.extxyz").exists()


@pytest.mark.parametrize("structures", ["5", "a:b", "4:2", "1:x", "3:3"])
def test_a_malformed_shard_range_is_refused_in_one_line(tmp_path, structures):
    write_extxyz(tmp_path / "structures.extxyz", emt_structures(2))
    result = _cli("label", "--input", str(tmp_path / "structures.extxyz"), "--shard",
                  structures, "--output", str(tmp_path / "out.extxyz"), "--reference",
                  '{"engine": "emt"}')
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"argument --shard: '{structures}' is not a range FIRST:END" in result.stderr
    assert not (tmp_path / "out.extxyz").exists()
