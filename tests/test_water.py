"""Radial distribution functions against known answers, the ring-polymer heat capacity's
limits, and the water protocol end to end on a cheap potential."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from analysis.pimd import harmonic_ring_polymer
from analysis.rdf import block_radial_distribution, radial_distribution


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


def test_block_errors_need_two_blocks():
    positions = np.random.default_rng(0).uniform(0, 10, size=(1, 10, 3))
    _, g, error = block_radial_distribution(positions, np.eye(3) * 10, ["O"] * 10, ("O", "O"),
                                            5.0, 10)
    assert np.isnan(error).all() and np.isfinite(g).all()
    with pytest.raises(ValueError, match="no O-H pairs"):
        radial_distribution(positions, np.eye(3) * 10, ["O"] * 10, ("O", "H"), 5.0, 10)


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
                                 record_stride=20, rdf_bins=20, blocks=4)
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
