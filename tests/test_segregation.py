"""Gibbs surface excess (paper Eq. 6) on hand-built slabs, and the REMD/MC segregation
protocol on a small slab with a species-blind potential."""

import itertools
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from ase.build import fcc111
from ase.io import read

from analysis.hea_segregation import main as segregation_main
from analysis.hea_segregation import nearest_replica
from analysis.segregation import PER_NM2, gibbs_excess, in_plane_area, window_means

ELEMENTS = ["Co", "Cr", "Fe", "Mn", "Ni"]


def layered_slab(layers: list[list[str]], spacing: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Heights and species of a slab given layer by layer (bottom first)."""
    z = np.concatenate([np.full(len(layer), k * spacing) for k, layer in enumerate(layers)])
    return z, np.concatenate([np.array(layer) for layer in layers])


def test_unenriched_slab_has_zero_excess():
    # Every layer has the same composition: the interior looks like the whole slab.
    layer = ["Co", "Co", "Cr", "Cr", "Fe", "Fe", "Mn", "Mn", "Ni", "Ni"]
    z, species = layered_slab([layer] * 9)
    excess = gibbs_excess(z, species, ELEMENTS, area=37.0, bulk_thickness=10.0)
    np.testing.assert_allclose(excess, 0.0, atol=1e-15)


def test_nickel_capped_slab_has_the_hand_counted_excess():
    # Six layers of five atoms at z = 0..10 Å; the two outer layers pure Ni, the four inner
    # ones one atom of each element.  A 7 Å bulk region around z = 5 holds the inner four:
    # N = 30, N^B = 20, N_Ni = 14, N_Ni^B = 4, so Γ_Ni = (14 - 4·30/20)/2A = 4/A and every
    # other element (4 - 4·30/20)/2A = -1/A.
    mixed = list(ELEMENTS)
    z, species = layered_slab([["Ni"] * 5, mixed, mixed, mixed, mixed, ["Ni"] * 5])
    area = 25.0
    excess = gibbs_excess(z, species, ELEMENTS, area=area, bulk_thickness=7.0)[0]
    np.testing.assert_allclose(excess, [-1 / area] * 4 + [4 / area], rtol=1e-14)
    # Only the top surface capped with Ni: half the excess per unit of both surfaces.
    z, species = layered_slab([mixed, mixed, mixed, mixed, mixed, ["Ni"] * 5])
    excess = gibbs_excess(z, species, ELEMENTS, area=area, bulk_thickness=7.0)[0]
    np.testing.assert_allclose(excess, [-0.5 / area] * 4 + [2 / area], rtol=1e-14)


def test_excess_on_an_ase_slab_with_a_segregated_surface_and_drift():
    # A real fcc(111) geometry (layers 2.08 Å apart, oblique cell): the top layer all Ni,
    # the rest equimolar.  Shifting the whole slab along z changes nothing.
    slab = fcc111("Ni", size=(5, 2, 6), a=3.6, vacuum=10.0, periodic=True)
    layer = np.round(slab.positions[:, 2] / (3.6 / np.sqrt(3))).astype(int)
    layer -= layer.min()
    species = np.array(["Ni"] * len(slab), dtype=object)
    for k in range(5):
        atoms = np.flatnonzero(layer == k)
        species[atoms] = np.array(ELEMENTS * 2)[: len(atoms)]
    area = in_plane_area(slab.cell.array)
    assert area == pytest.approx(5 * 2 * 3.6**2 / 2 * np.sqrt(3) / 2, rel=1e-12)
    # 60 atoms, the 10-Å bulk region holds the inner four layers (40 atoms, 8 Ni); the
    # slab has 10 + 10 = 20 Ni: Γ_Ni = (20 - 8·60/40)/2A = 4/A, the others (10 - 12)/2A.
    expected = np.array([-1.0] * 4 + [4.0]) / area
    for shift in (0.0, 7.3):
        z = slab.positions[:, 2] + shift
        np.testing.assert_allclose(gibbs_excess(z, species, ELEMENTS, area)[0], expected,
                                   rtol=1e-12)


def test_excesses_sum_to_zero_for_any_arrangement():
    rng = np.random.default_rng(3)
    z = rng.uniform(0, 20, size=(7, 80))
    species = rng.choice(ELEMENTS, size=80)
    excess = gibbs_excess(z, species, ELEMENTS, area=rng.uniform(30, 40, size=7))
    assert excess.shape == (7, 5)
    np.testing.assert_allclose(excess.sum(axis=1), 0.0, atol=1e-12)
    assert np.abs(excess).max() > 1e-3  # random arrangements are not all unenriched


def test_an_empty_or_all_embracing_bulk_region_is_an_error():
    with pytest.raises(ValueError, match="no atom lies within"):
        gibbs_excess(np.array([0.0, 20.0]), np.array(["Ni", "Co"]), ELEMENTS, 10.0)
    with pytest.raises(ValueError, match="holds the whole slab"):
        gibbs_excess(np.array([0.0, 2.0, 4.0]), np.array(["Ni", "Co", "Ni"]), ELEMENTS, 10.0)


def test_window_means_follow_a_step_series():
    series = np.concatenate([np.zeros(10), np.ones(10)])
    means, centres = window_means(series, 4)
    np.testing.assert_allclose(means, [0, 0, 1, 1])
    np.testing.assert_allclose(centres, [2, 7, 12, 17])


def test_the_analysis_uses_the_replica_nearest_the_requested_temperature():
    assert nearest_replica([500.0, 669.4, 896.3, 1200.0], 800.0) == 2
    assert nearest_replica([640.0, 800.0, 1000.0, 1250.0], 800.0) == 1


def test_remd_with_swaps_keeps_composition_and_feeds_the_analysis(tmp_path):
    from petmad.config import HeaSegregationSettings
    from petmad.simulate import PotentialSpec
    from petmad.studies.hea import run_model

    # Lennard-Jones is blind to species, so every swap is accepted: many swaps happen, and
    # the composition must still be that of the starting slab in every saved frame.
    settings = HeaSegregationSettings(slab=[2, 2, 4], replicas=2, temperature_range_K=[800, 1000],
                                      steps=40, record_stride=2, relax_steps=2,
                                      swap_attempts_per_step=2.0, exchange_stride=2,
                                      barostat_tau_fs=200.0, bulk_thickness_A=3.0)
    potential = PotentialSpec(kind="lj", lj={"epsilon": 0.1, "sigma": 2.27, "rc": 5.0})
    status = run_model(tmp_path / "lj", potential, settings, seed=5, progress=False)
    assert status["status"] == "ok", status
    assert status["temperatures_K"] == [800.0, 1000.0]
    start = sorted(read(tmp_path / "lj" / "remd" / "ipi" / "init_00.extxyz").symbols)
    assert sorted(Counter(start).values()) == [3, 3, 3, 3, 4]  # 16 sites, nearly equimolar
    for replica, target in enumerate(status["temperatures_K"]):
        frames = read(tmp_path / "lj" / "remd" / f"trajectory_T{replica:02d}.extxyz", index=":")
        assert len(frames) == 21
        assert all(sorted(f.symbols) == start for f in frames)
        jumps = [np.linalg.norm(b.positions - a.positions, axis=1).max()
                 for a, b in itertools.pairwise(frames)]
        assert max(jumps) > 1.5  # swapped atoms move by a bond length at once
        table = pd.read_csv(tmp_path / "lj" / "remd" / f"properties_T{replica:02d}.csv")
        assert (table["target_temperature_K"] == target).all()
        assert np.ptp(table["cell_zz_A"]) < 1e-9  # the barostat leaves the normal alone

    csv, pdf = tmp_path / "hea.csv", tmp_path / "hea.pdf"
    segregation_main(["--status", str(tmp_path / "lj" / "status.json"), "--settings",
                      json.dumps(settings.model_dump(mode="json")), "--table", str(csv),
                      "--figure", str(pdf)])
    result = pd.read_csv(csv)
    assert list(result["element"]) == ELEMENTS
    assert (result["temperature_K"] == 800.0).all()
    assert abs(result["gamma_per_nm2"].sum()) < 1e-9 * PER_NM2
    assert result["gamma_error_per_nm2"].notna().all()
    assert pdf.stat().st_size > 0
