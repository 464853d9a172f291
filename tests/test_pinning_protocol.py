"""The interface-pinning protocol (petmad/studies/gaas.py) on a second crystal: fcc Cu
with EMT in tiny cells, a few steps each.  The crystal, the Q4 settings and the liquid
packing come from the study's settings; each temperature pins the interface at the bulk
solid's own lateral lattice."""

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.io import read, write
from ase.neighborlist import neighbor_list

from petmad.config import GaasMeltingSettings
from petmad.data.geometry import GeometryError
from petmad.simulate import PotentialSpec
from petmad.studies import gaas


@pytest.fixture
def fcc_settings(tmp_path):
    path = tmp_path / "cu_fcc.extxyz"
    write(path, bulk("Cu", "fcc", a=3.61, cubic=True))
    return GaasMeltingSettings.model_validate({
        "crystal": str(path), "supercell": [1, 1, 4], "bulk_supercell": [2, 2, 2],
        "temperatures_K": [300, 900], "timestep_fs": 2.0, "relax_steps": 3,
        "melt_temperature_K": 3000, "melt_steps": 30, "reference_steps": 24,
        "pinning_steps": 4, "record_stride": 2, "equilibration_fraction": 0.25,
        "kappa_eV": 5.0, "q4": {"cutoff_A": 3.0, "taper_A": 0.3, "r0_A": 2.9},
        "liquid_min_distance": 0.7, "stop": {"min_distance_A": 0.5}})


def test_contrast_gate_uses_its_magnitude():
    settings = GaasMeltingSettings(min_order_contrast=0.05)
    # a solid whose Q4 is below its liquid's (possible for fcc with some switching
    # functions) is a valid normalisation
    def references(q_solid, q_liquid):  # a solid that kept its crystal's order
        return {"q_crystal": q_solid, "q_solid": q_solid, "q_liquid": q_liquid,
                "liquid_volume_change": -0.1}

    assert gaas.reference_problem(references(0.10, 0.30), settings) is None
    assert gaas.reference_problem(references(0.50, 0.20), settings) is None
    for q_solid, q_liquid in ((0.20, 0.22), (0.22, 0.20)):
        problem = gaas.reference_problem(references(q_solid, q_liquid), settings)
        assert problem is not None and "too close" in problem


def test_a_solid_that_left_its_crystal_is_refused():
    settings = GaasMeltingSettings(max_solid_drift=0.05)
    # zincblende (q4 0.509) kept by the solid run: a valid solid reference
    kept = {"q_crystal": 0.509, "q_solid": 0.49, "q_liquid": 0.42, "liquid_volume_change": -0.1}
    assert gaas.reference_problem(kept, settings) is None
    # melted (the default run's pet-mad at 1000 K) or turned into another phase (its
    # bespoke PET at 1300 K, which expands to about half its density), whichever side of
    # the liquid it ends on and however far from the liquid
    for q_solid, q_liquid in ((0.397, 0.36), (0.63, 0.73), (0.30, 0.60)):
        problem = gaas.reference_problem({"q_crystal": 0.509, "q_solid": q_solid,
                                          "q_liquid": q_liquid, "liquid_volume_change": 0.0},
                                         settings)
        assert problem is not None and "left its crystal's order" in problem
        assert f"{q_solid:.3f}" in problem and "0.509" in problem


def test_a_liquid_that_is_not_the_crystals_melt_is_refused():
    settings = GaasMeltingSettings(max_liquid_volume_change=0.25)
    melt = {"q_crystal": 0.509, "q_solid": 0.50, "q_liquid": 0.42}
    # liquid GaAs is ~10 % denser than zincblende: a melt
    for change in (-0.10, 0.0, 0.24, -0.24):
        assert gaas.reference_problem({**melt, "liquid_volume_change": change}, settings) is None
    # the default run's bespoke PET (weight 1) at 1000-1150 K: a 'liquid' at 2.1-3.1 g/cm³
    # against 5.3, ordered to q4 0.71-0.75; and a collapsed one
    for change, q_liquid in ((0.9, 0.73), (1.5, 0.71), (-0.3, 0.40)):
        problem = gaas.reference_problem(
            {**melt, "q_liquid": q_liquid, "liquid_volume_change": change}, settings)
        assert problem is not None and "not the crystal's melt" in problem
        assert f"{change:+.0%}" in problem
    # the solid's check speaks first: its crystal is what the interface is made of
    problem = gaas.reference_problem({**melt, "q_solid": 0.30, "liquid_volume_change": 0.9},
                                     settings)
    assert "left its crystal's order" in problem


def test_the_crystal_is_a_setting(fcc_settings):
    atoms = gaas.pinning_crystal(fcc_settings, [1, 1, 4])
    assert set(atoms.get_chemical_symbols()) == {"Cu"} and len(atoms) == 16
    assert len(gaas.pinning_crystal(GaasMeltingSettings(), [1, 1, 1])) == 8  # zincblende


def test_liquid_packing_minimum_distance_is_settable(fcc_settings):
    crystal = gaas.pinning_crystal(fcc_settings, [2, 2, 2])
    radius = 2 * 1.32  # twice Cu's covalent radius
    for ratio in (0.5, 0.75):
        liquid = gaas.random_liquid(crystal, seed=3, min_ratio=ratio)
        distances = neighbor_list("d", liquid, 3.0)
        assert distances.min() >= ratio * radius - 1e-9
    with pytest.raises(GeometryError, match="too dense"):
        gaas.random_liquid(crystal, seed=3, min_ratio=1.2)


def test_fcc_interface_melts_by_npt_and_pins_at_each_temperatures_lattice(fcc_settings,
                                                                          tmp_path):
    emt = PotentialSpec(kind="emt")
    status = gaas.interface_job(tmp_path / "interface", emt, fcc_settings, seed=1,
                                progress=False)
    assert status["status"] == "ok"
    melt = pd.read_csv(tmp_path / "interface" / "melt" / "properties.csv")
    # NPT along z only: the cell length along z moves, x and y stay
    assert np.ptp(melt["cell_zz_A"]) > 0
    assert np.ptp(melt["cell_xx_A"]) == pytest.approx(0, abs=1e-9)

    lateral = {}
    for temperature in fcc_settings.temperatures_K:
        folder = tmp_path / f"{temperature:g}K"
        # the contrast gate is not what this test is about: accept any references
        settings = fcc_settings.model_copy(update={"min_order_contrast": 1e-9,
                                                   "max_solid_drift": 10.0,
                                                   "max_liquid_volume_change": 10.0})
        result = gaas.temperature_job(folder, emt, tmp_path / "interface" / "status.json",
                                      settings, temperature, seed=5, progress=False)
        assert result["status"] == "ok", result
        expected = gaas.mean_lateral_lattice(folder / "references" / "solid",
                                             settings.bulk_supercell,
                                             settings.equilibration_fraction)
        pinned = pd.read_csv(folder / "pinning" / "properties.csv")
        # x and y of every pinned frame: the bulk solid's mean at this temperature
        np.testing.assert_allclose(pinned["cell_xx_A"], expected[0] * settings.supercell[0],
                                   rtol=1e-6)
        np.testing.assert_allclose(np.hypot(pinned["cell_xy_A"], pinned["cell_yy_A"]),
                                   expected[1] * settings.supercell[1], rtol=1e-6)
        assert result["lateral_lattice_A"] == pytest.approx(expected)
        # the solid run starts from the relaxed fcc crystal (ideal first shell: 0.191)
        assert result["q_crystal"] == pytest.approx(0.191, abs=0.02)
        # and the liquid's volume is measured against that crystal's
        liquid = pd.read_csv(folder / "references" / "liquid" / "quench" / "properties.csv")
        kept = liquid["volume_A3"].iloc[int(settings.equilibration_fraction * len(liquid)):]
        crystal = gaas.relax(gaas.pinning_crystal(settings, settings.bulk_supercell), emt,
                             settings.relax_steps, cell=True)
        assert result["liquid_volume_change"] == pytest.approx(
            kept.mean() / crystal.get_volume() - 1.0)
        lateral[temperature] = expected[0]
    # thermal expansion: the two temperatures use two different lattices
    assert lateral[900] != pytest.approx(lateral[300], rel=1e-4)
