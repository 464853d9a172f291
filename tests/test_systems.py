"""Case-study structure builders (petmad.data.systems) and crystal loading (crystals)."""

from __future__ import annotations

from collections import Counter
from functools import cache

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from ase.neighborlist import natural_cutoffs, neighbor_list
from ase.units import _amu
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from petmad.config import (
    BtoData,
    GaasData,
    HeaData,
    LpsData,
    SuccinicData,
    ThermalSampling,
    WaterData,
)
from petmad.data import systems
from petmad.data.crystals import SHIPPED_CRYSTALS, load_crystal, load_structure_file
from petmad.data.geometry import has_overlap, rattle, thermal_sigma
from petmad.data.systems import SYSTEM_BUILDERS, allocate, build_system

# Small settings: every condition still gets structures, but cells stay tiny.
SMALL = {
    "lps": LpsData(n_structures=10),
    "gaas": GaasData(n_structures=10, supercell=(1, 1, 1)),
    "hea": HeaData(n_structures=10, supercell=(2, 2, 2)),  # 32 sites: not divisible by 5
    "water": WaterData(n_structures=10),
    "succinic": SuccinicData(n_structures=10),
    "bto": BtoData(n_structures=8, supercell=(1, 1, 1)),
}
SUBSETS = {
    "lps": {"gamma", "beta", "alpha_from_beta", "li_hop"},
    "gaas": {"solid", "liquid", "interface"},
    "hea": {"bulk", "slab_111"},
    "water": {"liquid", "liquid_h_delocalised"},
    "succinic": {"alpha", "beta"},
    "bto": {"cubic", "tetragonal", "orthorhombic", "rhombohedral"},
}
COLD = ThermalSampling(temperatures_K=[1.0], max_strain=0.0)  # near-ideal geometry


@cache
def built(name: str, seed: int = 0) -> tuple[Atoms, ...]:
    return tuple(build_system(name, SMALL[name], seed))


def counts(atoms: Atoms) -> Counter:
    return Counter(atoms.get_chemical_symbols())


def nearest_site_distances(atoms: Atoms, sites: Atoms) -> np.ndarray:
    """Per atom, the minimum-image distance to the closest site of the same species."""
    distances = np.empty(len(atoms))
    for i, (number, position) in enumerate(zip(atoms.numbers, atoms.positions)):
        same = sites.positions[sites.numbers == number]
        frac = np.linalg.solve(atoms.cell.array.T, (same - position).T).T
        frac -= np.round(frac)
        distances[i] = np.linalg.norm(frac @ atoms.cell.array, axis=1).min()
    return distances


# --------------------------------------------------------------------------- all systems


def test_every_system_has_a_builder():
    assert set(SYSTEM_BUILDERS) == set(SUBSETS)


@pytest.mark.parametrize("name", sorted(SUBSETS))
def test_count_subsets_and_geometry(name):
    structures = built(name)
    assert len(structures) == SMALL[name].n_structures
    assert {a.info["subset"] for a in structures} == SUBSETS[name]
    temperatures = set(SMALL[name].sampling.temperatures_K)
    for atoms in structures:
        assert np.isfinite(atoms.positions).all()
        assert not has_overlap(atoms), atoms.info
        assert isinstance(atoms.info["source"], str) and atoms.info["source"]
        assert atoms.info["temperature_K"] in temperatures
        is_slab = atoms.info["subset"] == "slab_111"
        assert atoms.pbc.tolist() == ([True, True, False] if is_slab else [True] * 3)


@pytest.mark.parametrize("name", sorted(SUBSETS))
def test_same_seed_same_structures_other_seed_different(name):
    first, again, other = built(name), build_system(name, SMALL[name], 0), built(name, 1)
    for a, b in zip(first, again):
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.cell.array, b.cell.array)
        assert a.info == b.info
    assert any(
        a.positions.shape != b.positions.shape or not np.allclose(a.positions, b.positions)
        for a, b in zip(first, other)
    )


def test_unknown_system_and_wrong_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown system"):
        build_system("graphene", LpsData(), 0)
    with pytest.raises(TypeError, match="GaasData"):
        build_system("gaas", LpsData(), 0)


def test_allocate_keeps_proportions_and_every_condition():
    assert allocate(60, [0.3, 0.3, 0.2, 0.2]) == [18, 18, 12, 12]
    assert allocate(10, [0.4, 0.3, 0.3]) == [4, 3, 3]
    assert allocate(4, [0.97, 0.01, 0.01, 0.01]) == [1, 1, 1, 1]
    assert allocate(5, [0.6, 0.0]) == [5, 0]
    assert sum(allocate(7, [0.25] * 4)) == 7


# --------------------------------------------------------------------------- compositions


def test_lps_stoichiometry():
    for atoms in built("lps"):
        c = counts(atoms)
        assert c["Li"] == 3 * c["P"] and c["S"] == 4 * c["P"] and len(c) == 3


def test_gaas_one_to_one_everywhere_and_liquid_density():
    for atoms in built("gaas"):
        c = counts(atoms)
        assert c["Ga"] == c["As"] and len(c) == 2, atoms.info["subset"]
        if atoms.info["subset"] == "liquid":
            density = atoms.get_masses().sum() * _amu * 1e3 / (atoms.get_volume() * 1e-24)
            assert density == pytest.approx(SMALL["gaas"].liquid_density_g_cm3, rel=1e-6)


def test_hea_equimolar_within_one_atom():
    for atoms in built("hea"):
        c = counts(atoms)
        assert set(c) == {"Co", "Cr", "Fe", "Mn", "Ni"}
        assert max(c.values()) - min(c.values()) <= 1


def test_water_order_and_density():
    settings = SMALL["water"]
    for atoms in built("water"):
        assert atoms.get_chemical_symbols() == ["O", "H", "H"] * settings.n_molecules
        density = atoms.get_masses().sum() * _amu / (atoms.get_volume() * 1e-30)
        assert density == pytest.approx(997.1, rel=0.01)


def test_succinic_whole_c4h6o4_units():
    for atoms in built("succinic"):
        c = counts(atoms)
        assert c["C"] == 8 and c["H"] == 12 and c["O"] == 8  # two molecules per cell
    # near 0 K every bonded cluster must be one C4H6O4 molecule
    cold = build_system("succinic", SuccinicData(n_structures=2, sampling=COLD), 0)
    for atoms in cold:
        i, j = neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=1.25))
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(atoms),) * 2)
        n_molecules, label = connected_components(graph)
        assert n_molecules == 2
        for molecule in range(n_molecules):
            assert counts(atoms[label == molecule]) == Counter(C=4, H=6, O=4)


def test_succinic_without_beta():
    structures = build_system("succinic", SuccinicData(n_structures=3, include_beta=False), 0)
    assert {a.info["subset"] for a in structures} == {"alpha"}


def test_bto_stoichiometry_and_pseudocubic_cells():
    for atoms in built("bto"):
        assert atoms.get_chemical_symbols() == ["Ba", "Ti", "O", "O", "O"]
        lengths, angles = atoms.cell.lengths(), atoms.cell.angles()
        assert np.all(np.abs(lengths - 4.0) < 0.2), atoms.info["subset"]
        assert np.all(np.abs(angles - 90.0) < 6.0)  # strain ≤ 3 % tilts by < 3.5°


# --------------------------------------------------------------------------- GaAs interface


def test_gaas_interface_lower_half_crystalline_upper_half_not():
    settings = SMALL["gaas"]
    ideal = load_crystal("gaas").repeat((1, 1, settings.interface_cells_z))
    interfaces = [a for a in built("gaas") if a.info["subset"] == "interface"]
    assert interfaces
    for atoms in interfaces:
        np.testing.assert_allclose(atoms.cell.array, ideal.cell.array)
        z = atoms.get_scaled_positions()[:, 2]
        distances = nearest_site_distances(atoms, ideal)
        lower = distances[(z > 0.05) & (z < 0.45)]
        upper = distances[(z > 0.55) & (z < 0.95)]
        assert len(lower) >= 10 and len(upper) >= 8
        assert lower.max() < 0.6  # rattled crystal: σ ≈ 0.11 Å at 900 K
        assert np.median(upper) > 0.8


def test_gaas_interface_in_plane_repeats_fall_back_to_1x1():
    wide = GaasData(n_structures=3, supercell=(2, 2, 1), interface_cells_z=2)
    narrow = wide.model_copy(update={"interface_max_atoms": 32})
    sizes = {}
    for label, settings in (("wide", wide), ("narrow", narrow)):
        structures = build_system("gaas", settings, 0)
        (interface,) = [a for a in structures if a.info["subset"] == "interface"]
        sizes[label] = len(interface)
    assert sizes == {"wide": 2 * 2 * 2 * 8, "narrow": 2 * 8}


# --------------------------------------------------------------------------- HEA slab


def test_hea_slab_pbc_and_vacuum():
    settings = SMALL["hea"]
    slabs = [a for a in built("hea") if a.info["subset"] == "slab_111"]
    assert slabs
    for slab in slabs:
        assert slab.pbc.tolist() == [True, True, False]
        assert len(slab) == np.prod(settings.slab)
        z = slab.positions[:, 2]
        assert z.min() > settings.vacuum_A - 0.5
        assert slab.cell[2, 2] - z.max() > settings.vacuum_A - 0.5


# --------------------------------------------------------------------------- Li3PS4


def test_lps_alpha_stand_in_is_expanded_beta_at_hot_temperatures():
    unstrained = ThermalSampling(temperatures_K=[300.0, 600.0, 900.0], max_strain=0.0)
    structures = build_system("lps", LpsData(n_structures=10, sampling=unstrained), 0)
    volumes = {a.info["subset"]: a.get_volume() for a in structures}
    assert volumes["alpha_from_beta"] / volumes["beta"] == pytest.approx(1.03, rel=1e-9)
    alphas = [a for a in structures if a.info["subset"] == "alpha_from_beta"]
    assert {a.info["temperature_K"] for a in alphas} <= {600.0, 900.0}
    assert all("beta" in a.info["source"] for a in alphas)


def test_lps_li_hop_moves_exactly_one_li_by_one_to_two_angstrom():
    structures = build_system("lps", LpsData(n_structures=10, sampling=COLD), 0)
    references = [a for a in structures if a.info["subset"] != "li_hop"]
    hops = [a for a in structures if a.info["subset"] == "li_hop"]
    assert hops
    for hop in hops:
        reference = next(r for r in references if np.allclose(r.cell.array, hop.cell.array))
        delta = hop.positions - reference.positions
        frac = np.linalg.solve(hop.cell.array.T, delta.T).T
        moved = np.linalg.norm((frac - np.round(frac)) @ hop.cell.array, axis=1)
        assert np.sum(moved > 0.1) == 1
        assert hop.get_chemical_symbols()[int(np.argmax(moved))] == "Li"
        assert 0.98 < moved.max() < 2.02


def test_lps_user_structure_files_are_used(tmp_path):
    gamma = load_crystal("lps_gamma")
    gamma.set_cell(gamma.cell * 1.02, scale_atoms=True)  # distinguishable from the shipped one
    path = tmp_path / "my_gamma.cif"
    write(path, gamma)
    files = {"gamma": str(path), "alpha": str(path)}
    settings = LpsData(n_structures=8, sampling=COLD, structure_files=files)
    structures = build_system("lps", settings, 0)
    assert {a.info["subset"] for a in structures} == {"gamma", "beta", "alpha", "li_hop"}
    for atoms in structures:
        if atoms.info["subset"] in ("gamma", "alpha"):
            assert "my_gamma.cif" in atoms.info["source"]
            assert atoms.get_volume() == pytest.approx(gamma.get_volume(), rel=1e-6)


def test_lps_missing_structure_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere.cif"
    with pytest.raises(FileNotFoundError, match="nowhere.cif"):
        build_system("lps", LpsData(n_structures=4, structure_files={"beta": str(missing)}), 0)


def test_lps_structure_file_with_wrong_composition_is_rejected(tmp_path):
    path = tmp_path / "gaas.cif"
    write(path, load_crystal("gaas"))
    with pytest.raises(ValueError, match="expected Li3PS4"):
        build_system("lps", LpsData(n_structures=4, structure_files={"gamma": str(path)}), 0)


# --------------------------------------------------------------------------- crystals


def test_shipped_crystals_load_with_expected_sizes_and_provenance():
    for name, (_, expected_atoms) in SHIPPED_CRYSTALS.items():
        atoms = load_crystal(name)
        assert len(atoms) == expected_atoms
        assert atoms.pbc.all()
        assert len(atoms.info["provenance"]) > 20
        assert not has_overlap(atoms)
    with pytest.raises(ValueError, match="unknown crystal"):
        load_crystal("diamond")


def test_unreadable_structure_file_names_path_and_reason(tmp_path):
    path = tmp_path / "broken.cif"
    path.write_text("this is not a crystal\n")
    with pytest.raises(ValueError, match="broken.cif"):
        load_structure_file(path)


# --------------------------------------------------------------------------- H delocalisation


def test_rattle_amplitudes_are_thermal_with_wider_hydrogen_where_documented(monkeypatch):
    sigmas = []

    def recording_rattle(atoms, sigma, rng, **kwargs):
        sigmas.append(np.broadcast_to(sigma, (len(atoms),)).copy())
        return rattle(atoms, sigma, rng, **kwargs)

    monkeypatch.setattr(systems, "rattle", recording_rattle)
    structures = build_system("water", WaterData(n_structures=4, n_molecules=4), 0)
    structures += build_system("succinic", SuccinicData(n_structures=2), 0)
    assert len(sigmas) == len(structures)
    for atoms, sigma in zip(structures, sigmas):
        kappa = 6.0  # ThermalSampling default
        heavy = thermal_sigma(atoms.info["temperature_K"], kappa)
        hydrogen = atoms.numbers == 1
        factor = 1.0 if atoms.info["subset"] == "liquid" else systems.H_DELOCALISATION_FACTOR
        np.testing.assert_allclose(sigma[~hydrogen], heavy)
        np.testing.assert_allclose(sigma[hydrogen], factor * heavy)
    assert systems.H_DELOCALISATION_FACTOR == 1.5


def test_shipped_succinic_crystals_have_tetrahedral_ch2():
    """The α source had one CH2 with H–C–H = 64°; the shipped copy is corrected."""
    from ase.neighborlist import neighbor_list

    for name in ("succinic_alpha", "succinic_beta"):
        atoms = load_crystal(name)
        first, second, vectors = neighbor_list("ijD", atoms, 1.2)
        for carbon in np.flatnonzero(atoms.numbers == 6):
            bonds = [v for i, j, v in zip(first, second, vectors)
                     if i == carbon and atoms.numbers[j] == 1]
            if len(bonds) == 2:
                cosine = bonds[0] @ bonds[1] / np.linalg.norm(bonds[0]) / np.linalg.norm(bonds[1])
                assert 100 < np.degrees(np.arccos(cosine)) < 120, name


@pytest.mark.parametrize("name", sorted(SUBSETS))
def test_declared_species_match_what_the_builders_make(name):
    """config.SYSTEM_ELEMENTS drives the check that the universal set covers every study."""
    from petmad.config import SYSTEM_ELEMENTS

    made = {symbol for atoms in built(name) for symbol in atoms.get_chemical_symbols()}
    assert made == set(SYSTEM_ELEMENTS[name])
