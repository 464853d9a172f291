"""Radial distribution functions against known answers, the ring-polymer heat capacity's
limits, and the water protocol end to end on a cheap potential."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from analysis.pimd import harmonic_ring_polymer
from analysis.rdf import (
    first_peak_position,
    frame_radial_distributions,
    parabola_vertex,
    radial_distribution,
    radial_distribution_error,
)


def test_ideal_gas_rdf_is_one_within_counting_noise():
    rng = np.random.default_rng(11)
    length, frames = 12.0, 200
    symbols = ["O"] * 20 + ["H"] * 40
    positions = rng.uniform(0, length, size=(frames, len(symbols), 3))
    for pair, n_pairs in ((("O", "O"), 20 * 19 / 2), (("O", "H"), 20 * 40), (("H", "H"), 40 * 39 / 2)):
        r, g = radial_distribution(positions, np.eye(3) * length, symbols, pair, 6.0, 30)
        edges = np.linspace(0, 6.0, 31)
        shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        expected_counts = n_pairs * frames * shells / length**3
        # Poisson counting noise of each bin; skip the nearly empty innermost bins.
        noise = 1 / np.sqrt(expected_counts)
        far = expected_counts > 100
        assert np.all(np.abs(g[far] - 1) < 5 * noise[far]), (pair, g[far])
        assert abs(np.average(g[far], weights=expected_counts[far]) - 1) < 0.01
        np.testing.assert_allclose(r, (edges[1:] + edges[:-1]) / 2)


def test_simple_cubic_lattice_has_six_first_neighbours():
    spacing = 3.0
    grid = np.array([[i, j, k] for i in range(4) for j in range(4) for k in range(4)], float)
    positions = (grid * spacing)[None]
    cell = np.eye(3) * 4 * spacing
    r, g = radial_distribution(positions, cell, ["Ar"] * 64, ("Ar", "Ar"), 5.9, 59)
    # g is normalised by the N(N-1)/2 pairs, so the partner density is (N - 1)/V.
    density = 63 / np.linalg.det(cell)
    edges = np.linspace(0, 5.9, 60)
    shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    neighbours = np.cumsum(density * g * shells)
    assert neighbours[np.searchsorted(r, 3.5)] == pytest.approx(6.0, rel=1e-9)
    assert neighbours[-1] == pytest.approx(6.0 + 12.0 + 8.0, rel=1e-9)  # shells at 4.24, 5.20 Å
    width = r[1] - r[0]
    assert r[np.flatnonzero(g)[0]] == pytest.approx(spacing, abs=width)  # nothing closer


def test_frame_by_frame_rdf_is_mdtraj_s_and_its_errors_cover_the_ideal_gas():
    rng = np.random.default_rng(5)
    frames, symbols = 400, ["O"] * 12 + ["H"] * 24
    lengths = rng.uniform(9.5, 10.5, size=frames)  # a fluctuating (NPT-like) cell
    positions = rng.uniform(0, 1, size=(frames, len(symbols), 3)) * lengths[:, None, None]
    cells = lengths[:, None, None] * np.eye(3)
    for pair in (("O", "O"), ("O", "H")):
        r, g = radial_distribution(positions, cells, symbols, pair, 4.5, 15)
        r2, h, d = frame_radial_distributions(positions, cells, symbols, pair, 4.5, 15)
        g2, error, n_eff = radial_distribution_error(h, d)
        np.testing.assert_allclose(r2, r)
        np.testing.assert_allclose(g2, g, rtol=1e-5)
        # independent frames: N_eff ≈ frames, and g ± error covers 1 in ~68 % of the bins
        filled = r > 1.5
        assert np.median(n_eff[filled]) > 0.7 * frames
        coverage = np.mean(np.abs(g2[filled] - 1) < error[filled])
        assert 0.45 <= coverage <= 0.9, (pair, coverage)
    # beads of a frame are averaged into one sample of the time series
    _, h_beads, _ = frame_radial_distributions(positions, cells, symbols, ("O", "H"),
                                                     4.5, 15, per_frame=2)
    np.testing.assert_allclose(h_beads, 0.5 * (h[0::2] + h[1::2]))
    with pytest.raises(ValueError, match="no O-H pairs"):
        radial_distribution(positions[:1], np.eye(3) * 10, ["O"] * 36, ("O", "H"), 5.0, 10)
    _, _, few = radial_distribution_error(h[:3], d[:3])
    assert few.shape == (15,)


def test_first_peak_position_finds_a_known_peak_and_its_error_covers():
    # g(r) = 1 + 2 exp(-(r - r0)²/(2 · 0.1²)) on 0.05 Å bins: the parabola fitted around
    # the maximum puts the peak within a tenth of a bin of r0, wherever r0 falls (the
    # window is whole bins, so off-centre for r0 between two bins).
    r = np.arange(0.025, 4.0, 0.05)
    h = np.ones((1, len(r)))
    for r0 in (2.8, 2.81, 2.825, 2.84):
        g = 1 + 2 * np.exp(-((r - r0) ** 2) / (2 * 0.1**2))
        assert first_peak_position(r, g * h, np.ones(1), r_below=3.3).value == pytest.approx(
            r0, abs=0.1 * 0.05)
    assert parabola_vertex(r[40:50], np.exp(r[40:50])) == r[49]  # no maximum: the highest
    assert parabola_vertex(r[40:47], -((r[40:47] - 2.0) ** 2)) == r[40]  # kept in range
    plateau = np.clip(3 - np.abs(r - 2.8), 0, 2.5)  # flat from 2.3 to 3.3 Å
    assert np.isnan(first_peak_position(r, plateau[None] * np.ones((8, 1)), np.ones(8),
                                        r_below=3.3).error)
    # Two humps 0.2 Å apart: the parabola opens upwards and the position falls back to the
    # highest bin, the same in every block; its error is no position, not zero.
    humps = 1 + np.exp(-((r - 2.7) ** 2) / (2 * 0.02**2)) + \
        1.2 * np.exp(-((r - 2.9) ** 2) / (2 * 0.02**2))
    assert np.isnan(first_peak_position(r, humps[None] * np.ones((8, 1)), np.ones(8),
                                        r_below=3.3).error)
    # Per-frame pieces with AR(1) noise (correlation time 5 frames): the error bar covers
    # the noise-free position in about 68 % of 300 seeded runs.
    shifted = 1 + 2 * np.exp(-((r - 2.83) ** 2) / (2 * 0.1**2))
    frames, phi, covered = 400, np.exp(-1 / 5), []
    truth = first_peak_position(r, shifted[None], np.ones(1), r_below=3.3).value
    for seed in range(300):
        rng = np.random.default_rng(seed)
        noise = np.empty((frames, len(r)))
        noise[0] = rng.normal(size=len(r))
        for t in range(1, frames):
            noise[t] = phi * noise[t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=len(r))
        estimate = first_peak_position(r, shifted + 0.3 * noise, np.ones(frames), r_below=3.3)
        covered.append(abs(estimate.value - truth) < estimate.error)
        assert estimate.n_eff < frames / 3  # the correlation was seen
    assert 0.60 <= np.mean(covered) <= 0.76, np.mean(covered)


def test_ring_polymer_heat_capacity_goes_from_classical_to_quantum():
    x = 3.0  # βħω of a stiff mode
    quantum = (x / 2) ** 2 / np.sinh(x / 2) ** 2
    values = [harmonic_ring_polymer(x, beads)[1] for beads in (1, 2, 4, 8, 16, 64, 512)]
    assert values[0] == pytest.approx(1.0)  # P = 1: classical equipartition
    assert all(a > b for a, b in itertools.pairwise(values))  # monotonic approach
    assert values[-1] == pytest.approx(quantum, rel=1e-4)
    assert abs(values[3] - quantum) < 0.1 * abs(values[0] - quantum)  # 8 beads: 90 % there


def test_water_protocol_runs_end_to_end_on_a_tethered_potential(tmp_path):
    from analysis.water_pimd import main as water_main
    from petmad.config import WaterPimdSettings
    from petmad.simulate import PotentialSpec
    from petmad.studies.water import equilibration_job, pimd_job

    # Atoms tethered to their starting sites: cheap, stable, and its classical heat
    # capacity is known (3 k_B per atom).
    settings = WaterPimdSettings(n_molecules=8, beads=[1, 2], relax_steps=0,
                                 equilibration_steps=10, steps=400, heat_capacity_stride=1,
                                 record_stride=20, rdf_bins=20)
    potential = PotentialSpec(kind="harmonic", spring_eV_A2=5.0)
    status = equilibration_job(tmp_path / "h" / "equilibration", potential, settings, seed=3,
                               progress=False)
    assert status == {"status": "ok", "n_molecules": 8, "natoms": 24}
    for beads in settings.beads:
        status = pimd_job(tmp_path / "h" / f"P{beads}", potential,
                          tmp_path / "h" / "equilibration" / "status.json", settings, beads,
                          seed=4 + beads, progress=False)
        assert status["status"] == "ok", status
    records = np.load(tmp_path / "h" / "P2" / "run" / "records.npz")
    assert records["bead_positions"].shape == (21, 2, 24, 3)

    files = {name: tmp_path / name for name in ("t.csv", "r.csv", "f.pdf")}
    water_main(["--status", *[str(tmp_path / "h" / f"P{b}" / "status.json") for b in (1, 2)],
                "--settings", json.dumps(settings.model_dump(mode="json")),
                "--table", str(files["t.csv"]), "--rdf-table", str(files["r.csv"]),
                "--figure", str(files["f.pdf"])])
    table = pd.read_csv(files["t.csv"])
    assert list(table["beads"]) == [1, 2]
    classical = table.iloc[0]
    per_molecule_kB = classical["heat_capacity_kB_per_molecule"]
    error = classical["heat_capacity_error_J_mol_K"] / 8.314462618
    assert abs(per_molecule_kB - 9.0) < max(4 * error, 2.0), (per_molecule_kB, error)
    rdf = pd.read_csv(files["r.csv"])
    assert set(rdf["pair"]) == {"O-O", "O-H"}
    assert rdf["r_A"].max() < 0.5 * (8 * 29.9) ** (1 / 3)  # capped at half the box
    assert files["f.pdf"].stat().st_size > 0
    # the tethers have no LLPR ensemble: no model uncertainty, said so, and no crash
    assert table["heat_capacity_model_uncertainty_J_mol_K"].isna().all()
    assert table["ensemble_note"].str.contains("no LLPR ensemble").all()
    assert table["heat_capacity_n_eff"].gt(0).all() and set(table["converged"]) <= {"yes", "no"}
    assert rdf["g_n_eff"].notna().any() and rdf["g_model_uncertainty"].isna().all()

    # Give the P = 2 run an ensemble whose members differ by β-scaled multiples of the
    # configurational energy proxy: the reweighted C_V and g(r) now spread over members.
    path = tmp_path / "h" / "P2" / "run" / "records.npz"
    records = dict(np.load(path))
    rng = np.random.default_rng(0)
    records["energy_ensemble"] = rng.normal(scale=0.005, size=(len(records["step"]), 4))
    np.savez(path, **records)
    water_main(["--status", str(tmp_path / "h" / "P2" / "status.json"),
                "--settings", json.dumps(settings.model_dump(mode="json")),
                "--table", str(files["t.csv"]), "--rdf-table", str(files["r.csv"]),
                "--figure", str(files["f.pdf"])])
    table, rdf = pd.read_csv(files["t.csv"]), pd.read_csv(files["r.csv"])
    assert table["heat_capacity_model_uncertainty_J_mol_K"].gt(0).all()
    assert table["ensemble_note"].str.contains("4 members").all()
    assert rdf["g_model_uncertainty"].gt(0).any()

    # The reference engine's own MD frames give its classical g(r) as model "reference";
    # every O-O curve has a first-peak position, and the scorecard holds the models' peak
    # positions against the reference's.
    from ase.io import read, write

    from analysis.consistency import headline_observables, scorecard

    # The classical run's frames after its equilibration share, as if the reference's:
    # the two g(r) must then be the same curve.
    frames = read(tmp_path / "h" / "P1" / "run" / "trajectory.extxyz", index=":")
    write(tmp_path / "reference.extxyz",
          frames[int(settings.equilibration_fraction * len(frames)):])
    water_main(["--status", *[str(tmp_path / "h" / f"P{b}" / "status.json") for b in (1, 2)],
                "--settings", json.dumps(settings.model_dump(mode="json")),
                "--reference-md", str(tmp_path / "reference.extxyz"),
                "--table", str(files["t.csv"]), "--rdf-table", str(files["r.csv"]),
                "--figure", str(files["f.pdf"])])
    table, rdf = pd.read_csv(files["t.csv"]), pd.read_csv(files["r.csv"])
    reference = rdf[rdf["model"] == "reference"]
    assert set(reference["pair"]) == {"O-O", "O-H"} and set(reference["beads"]) == {1}
    assert "reference" not in set(table["model"])
    oxygen = rdf[rdf["pair"] == "O-O"]
    # (a tethered "liquid" has spikes, not peaks: some positions come without an error)
    assert oxygen["first_peak_A"].between(2.0, 3.3).all()
    assert (oxygen["first_peak_error_A"].isna() | oxygen["first_peak_error_A"].ge(0)).all()
    curves = {model: rdf[(rdf["model"] == model) & (rdf["beads"] == 1)].reset_index(drop=True)
              for model in ("reference", "h")}
    pd.testing.assert_frame_equal(curves["reference"].drop(columns="model"),
                                  curves["h"].drop(columns="model"))
    peaks = oxygen.groupby(["model", "beads"])["first_peak_A"].first()
    card = scorecard(headline_observables({"water_pimd": table, "water_rdf": rdf}))
    position = card[card["observable"] == "g_OO first peak position (classical)"]
    assert set(position["model"]) == {"h", "reference"}
    model_row = position[position["model"] == "h"].iloc[0]
    assert model_row["delta_vs_reference"] == pytest.approx(
        peaks[("h", 1)] - peaks[("reference", 1)])
