"""Case-study frames from reference-engine MD (petmad.data.md_sampling, data.<system>.md).

The sampler is checked against an analytic answer (equipartition of tethered atoms, with
hydrogen made heavier than it is), the job against a kill and a resume; the roads through
Snakemake (training frames in the split, the held-out test set in the accuracy table)
are checked on the smoke run in tests/test_workflow.py.
"""

import numpy as np
import pytest
from ase import Atoms
from ase.units import kB

from analysis.statistics import mean_error
from petmad.config import MdSampling, ModelMdSampling, WaterData
from petmad.data import md_sampling
from petmad.data.md_sampling import Start, md_starts, sample_dataset, sample_trajectory
from petmad.io import read_extxyz
from petmad.reference import make_engine
from petmad.reference.engines import LabelFileError
from petmad.reference.labeling import LabelingError
from petmad.simulate.potentials import HarmonicCalculator


def tethered_hydrogens(n: int, seed: int) -> tuple[Atoms, np.ndarray]:
    rng = np.random.default_rng(seed)
    sites = rng.uniform(0, 6, size=(n, 3))
    start = Atoms(f"H{n}", positions=sites + rng.normal(0, 0.3, size=(n, 3)))
    return start, sites


@pytest.mark.parametrize("hydrogen_mass", [1.0, 4.0])
def test_frames_sample_the_boltzmann_distribution_whatever_the_hydrogen_mass(hydrogen_mass):
    # Atoms tethered to sites by springs: each of the 3N - 3 coordinates left free by the
    # fixed centre of mass (the relaxation puts it on the sites' centre) holds kT/2 of
    # potential energy on average, whatever the masses.
    n, temperature = 8, 300.0
    start, sites = tethered_hydrogens(n, seed=3)
    md = MdSampling(trajectories=1, frames_per_trajectory=600, stride_steps=10,
                    relax_steps=50, equilibration_steps=200, timestep_fs=1.0,
                    hydrogen_mass_amu=hydrogen_mass)
    frames = list(sample_trajectory(Start(start, temperature, "tethered"),
                                    HarmonicCalculator(sites, spring=1.0), md,
                                    np.random.default_rng(7)))
    assert len(frames) == 600
    energies = np.array([frame.get_potential_energy() for frame in frames])
    estimate = mean_error(energies)
    exact = (3 * n - 3) / 2 * kB * temperature
    assert estimate.error < 0.05 * exact  # the test can tell a wrong temperature apart
    assert abs(estimate.value - exact) < 4 * estimate.error, (estimate, exact)
    # the frames carry the labels of the calculator at their positions
    frame = frames[-1]
    displacement = frame.positions - sites
    np.testing.assert_allclose(frame.get_forces(), -displacement, atol=1e-10)
    assert frame.info["subset"] == "md" and frame.info["temperature_K"] == temperature
    kinetic = np.mean([f.info["md_kinetic_temperature_K"] for f in frames])
    assert kinetic == pytest.approx(temperature, rel=0.1)  # over the 3N - 3 free ones


def test_starts_cover_the_conditions_and_temperatures_and_parts_differ():
    settings = WaterData(n_structures=50, n_molecules=4,
                         sampling={"temperatures_K": [250.0, 350.0]},
                         md=MdSampling(trajectories=4),
                         md_test=MdSampling(trajectories=2, temperatures_K=[298.0]))
    train = md_starts("water", settings, settings.md, seed=1, part="train")
    test = md_starts("water", settings, settings.md_test, seed=1, part="test")
    assert [s.temperature_K for s in train] == [250.0, 350.0, 250.0, 350.0]
    assert {s.condition for s in train} == {"liquid", "liquid_h_delocalised"}
    assert [s.temperature_K for s in test] == [298.0, 298.0]
    assert not np.allclose(train[0].atoms.positions, test[0].atoms.positions)
    assert md_starts("water", settings, MdSampling(), seed=1, part="train") == []


def water_settings(**md) -> WaterData:
    sampling = MdSampling(trajectories=2, frames_per_trajectory=2, stride_steps=2,
                          relax_steps=2, equilibration_steps=2, **md)
    return WaterData(n_structures=10, n_molecules=2, md_test=sampling)


def test_a_killed_job_resumes_at_the_trajectory_it_was_running(tmp_path, monkeypatch):
    engine = make_engine({"engine": "emt"})  # cheap; knows H and O
    settings = water_settings()
    whole = sample_dataset("water", settings, "test", 5, engine, tmp_path / "a/md_test.extxyz",
                           progress=False)
    assert whole["n_frames"] == 4 and len(whole["trajectories"]) == 2

    real = md_sampling.sample_trajectory
    calls = []

    def dies_on_the_second(start, *args, **kwargs):
        calls.append(start)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(start, *args, **kwargs)

    output = tmp_path / "b/md_test.extxyz"
    monkeypatch.setattr(md_sampling, "sample_trajectory", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        sample_dataset("water", settings, "test", 5, engine, output, progress=False)
    assert not output.exists()  # no half-written output
    monkeypatch.setattr(md_sampling, "sample_trajectory", real)
    calls.clear()
    resumed = sample_dataset("water", settings, "test", 5, engine, output, progress=False)
    assert resumed["trajectories"][0]["seconds"] is None  # kept from the killed job
    assert not any(output.parent.glob(".*.work"))  # the finished job leaves no cache
    expected, got = read_extxyz(tmp_path / "a/md_test.extxyz"), read_extxyz(output)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-12)
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-10)

    # changed settings start afresh instead of reusing a killed job's trajectories
    monkeypatch.setattr(md_sampling, "sample_trajectory", dies_on_the_second)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        sample_dataset("water", settings, "test", 5, engine, output, progress=False)
    monkeypatch.setattr(md_sampling, "sample_trajectory", real)
    hotter = water_settings(temperatures_K=[400.0])
    changed = sample_dataset("water", hotter, "test", 5, engine, output, progress=False)
    assert all(t["seconds"] is not None for t in changed["trajectories"])
    assert {f.info["temperature_K"] for f in read_extxyz(output)} == {400.0}


def test_the_file_engine_cannot_run_md(tmp_path):
    engine = make_engine({"engine": "file", "file": {"path": "labels/{dataset}.extxyz"}})
    with pytest.raises(LabelFileError, match="reference MD needs an engine that computes"):
        sample_dataset("water", water_settings(), "test", 5, engine,
                       tmp_path / "md_test.extxyz", progress=False)
    assert not (tmp_path / "md_test.extxyz").exists()


def test_a_slab_runs_in_the_engines_periodic_box_and_stays_a_slab(tmp_path, monkeypatch):
    from ase.build import fcc111

    from petmad.reference.engines import EmtEngine, GpawEngine

    # A plane-wave engine computes a slab padded into a periodic box (GPAW's own rule);
    # EMT stands in for it here, with the same padding.
    class PaddedEmt(EmtEngine):
        periodic_box = GpawEngine.periodic_box

    engine = PaddedEmt(settings={"vacuum_A": 6.0})
    slab = fcc111("Cu", (2, 2, 3), vacuum=4.0)
    slab.pbc = (True, True, False)
    box = engine.periodic_box(slab)
    assert box.pbc.all() and box.cell[2, 2] == pytest.approx(
        np.ptp(slab.positions[:, 2]) + 12.0)
    monkeypatch.setattr(md_sampling, "md_starts",
                        lambda *args: [Start(slab, 300.0, "slab_111")])
    sample_dataset("water", water_settings(), "test", 5, engine, tmp_path / "md.extxyz",
                   progress=False)
    frames = read_extxyz(tmp_path / "md.extxyz")
    assert len(frames) == 2
    for frame in frames:
        assert frame.pbc.tolist() == [True, True, False]
        assert np.isnan(frame.get_stress(voigt=True)).all()  # no stress for a slab
        assert frame.cell[2, 2] == pytest.approx(box.cell[2, 2])  # integrated in the box


def test_one_job_per_trajectory_gathers_into_the_one_job_file(tmp_path):
    from petmad.data.md_sampling import gather_samples
    from petmad.io import read_json

    engine = make_engine({"engine": "emt"})
    settings = water_settings()
    whole = sample_dataset("water", settings, "test", 5, engine, tmp_path / "whole.extxyz",
                           progress=False)
    shards = [tmp_path / f"{index}.extxyz" for index in range(2)]
    for index, shard in enumerate(shards):
        sample_dataset("water", settings, "test", 5, engine, shard, progress=False,
                       trajectory=index)
    gathered = gather_samples(shards, tmp_path / "gathered.extxyz")
    assert (tmp_path / "gathered.extxyz").read_bytes() == (tmp_path / "whole.extxyz").read_bytes()
    for key in ("n_frames", "md_steps", "atom_steps", "settings", "engine"):
        assert gathered[key] == whole[key], key
    assert [t["index"] for t in read_json(tmp_path / "gathered.extxyz.json")["trajectories"]] \
        == [0, 1]
    with pytest.raises(LabelingError, match="trajectory 2 of water"):
        sample_dataset("water", settings, "test", 5, engine, tmp_path / "x.extxyz",
                       progress=False, trajectory=2)


def test_a_model_drives_the_round_and_the_reference_labels_its_frames(tmp_path):
    """Part 'model' (data.<system>.model_md): the driver's MD chooses the frames, the
    reference engine's labels are what is kept, and a driver that differs from the
    reference moves the frames elsewhere than the reference's own MD would."""
    from ase.calculators.lj import LennardJones

    engine = make_engine({"engine": "emt"})
    sampling = ModelMdSampling(trajectories=2, frames_per_trajectory=3, stride_steps=3,
                               relax_steps=2, equilibration_steps=2)
    settings = WaterData(n_structures=10, n_molecules=2, model_md=sampling)
    driver = LennardJones(sigma=2.0, epsilon=0.05, rc=6.0, smooth=True)
    output = tmp_path / "md_model.extxyz"
    summary = sample_dataset("water", settings, "model", 5, engine, output, progress=False,
                             driver=driver, driver_name="LJ")
    assert summary["n_frames"] == 6 and summary["part"] == "model"
    frames = read_extxyz(output)
    for frame in frames:
        assert frame.info["subset"] == "model_md" and "LJ MD" in frame.info["source"]
        reference = engine.compute(frame)
        assert frame.get_potential_energy() == pytest.approx(reference.get_potential_energy())
        np.testing.assert_allclose(frame.get_forces(), reference.get_forces(), atol=1e-6)
        driven = frame.copy()
        driven.calc = driver
        assert frame.info["driver_energy"] == pytest.approx(driven.get_potential_energy())
        assert frame.info["driver_energy"] != pytest.approx(frame.get_potential_energy())

    # the same starts and seed with the reference driving give other configurations
    referenced = sample_dataset("water", settings, "model", 5, engine,
                                tmp_path / "b.extxyz", progress=False,
                                driver=engine.calculator_for(frames[0]), driver_name="EMT")
    assert referenced["n_frames"] == 6
    other = read_extxyz(tmp_path / "b.extxyz")
    assert not np.allclose(frames[-1].positions, other[-1].positions, atol=1e-3)

    with pytest.raises(ValueError, match="part 'model'"):
        sample_dataset("water", settings, "model", 5, engine, tmp_path / "c.extxyz",
                       progress=False)
    with pytest.raises(ValueError, match="part 'model'"):
        sample_dataset("water", settings, "test", 5, engine, tmp_path / "c.extxyz",
                       progress=False, driver=driver)
