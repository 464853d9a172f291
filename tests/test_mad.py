"""The offline MAD analogue: counts, chemistry, geometry rules, determinism, error messages."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.data import covalent_radii

from petmad.config import DEFAULT_MAD_ELEMENTS, MAD_SUBSETS, MadSettings
from petmad.data import mad
from petmad.data.geometry import has_overlap, min_contact_ratio

COUNT = 6
MAX_ATOMS = 24
VACUUM = 6.0 - 1e-6
PERIODIC_SUBSETS = ("bulk", "rattled", "randcomp", "molcrys")
SLAB_SUBSETS = ("surface", "2d")
VACUUM_SUBSETS = ("cluster", "molfrag")


def small_settings(**counts: int) -> MadSettings:
    return MadSettings(
        elements=list(DEFAULT_MAD_ELEMENTS),
        counts={subset: counts.get(subset, COUNT) for subset in MAD_SUBSETS},
        max_atoms=MAX_ATOMS,
    )


@pytest.fixture(scope="module")
def structures() -> list[Atoms]:
    return mad.build_mad(small_settings(), seed=7)


def of_subset(structures: list[Atoms], subset: str) -> list[Atoms]:
    return [atoms for atoms in structures if atoms.info["subset"] == subset]


def same(a: Atoms, b: Atoms) -> bool:
    return (
        np.array_equal(a.numbers, b.numbers)
        and np.array_equal(a.positions, b.positions)
        and np.array_equal(a.cell.array, b.cell.array)
        and np.array_equal(a.pbc, b.pbc)
    )


def test_counts_in_subset_order(structures: list[Atoms]) -> None:
    assert [a.info["subset"] for a in structures] == [s for s in MAD_SUBSETS for _ in range(COUNT)]
    for atoms in structures:
        assert isinstance(atoms.info["source"], str) and atoms.info["source"]


def test_chemistry_size_and_contacts(structures: list[Atoms]) -> None:
    allowed = set(DEFAULT_MAD_ELEMENTS)
    for atoms in structures:
        label = atoms.info["source"]
        assert set(atoms.get_chemical_symbols()) <= allowed, label
        assert 1 <= len(atoms) <= MAX_ATOMS, label
        assert np.isfinite(atoms.positions).all(), label
        assert not has_overlap(atoms), label
        # no magnetic moments or tags from the ASE builders reach the reference calculations
        assert set(atoms.arrays) == {"numbers", "positions"}, label
    assert all(len(a) >= 2 for a in of_subset(structures, "cluster"))


def test_periodic_subsets(structures: list[Atoms]) -> None:
    for subset in PERIODIC_SUBSETS:
        for atoms in of_subset(structures, subset):
            assert atoms.pbc.all(), atoms.info["source"]
            assert atoms.get_volume() > 1.0, atoms.info["source"]


def test_slabs_have_normal_third_vector_and_vacuum(structures: list[Atoms]) -> None:
    for subset in SLAB_SUBSETS:
        for atoms in of_subset(structures, subset):
            label = atoms.info["source"]
            assert atoms.pbc.tolist() == [True, True, False], label
            cell = atoms.cell.array
            np.testing.assert_allclose(cell[2, :2], 0.0, atol=1e-9, err_msg=label)
            np.testing.assert_allclose(cell[:2, 2], 0.0, atol=1e-9, err_msg=label)
            assert abs(np.linalg.det(cell[:2, :2])) > 1.0, label
            z = atoms.positions[:, 2]
            assert z.min() >= VACUUM and cell[2, 2] - z.max() >= VACUUM, label


def test_clusters_and_molecules_sit_in_vacuum(structures: list[Atoms]) -> None:
    for subset in VACUUM_SUBSETS:
        for atoms in of_subset(structures, subset):
            label = atoms.info["source"]
            assert not atoms.pbc.any(), label
            lengths = np.diag(atoms.cell.array)
            assert (atoms.positions.min(axis=0) >= VACUUM).all(), label
            assert (lengths - atoms.positions.max(axis=0) >= VACUUM).all(), label


def test_deterministic_for_a_seed(structures: list[Atoms]) -> None:
    again = mad.build_mad(small_settings(), seed=7)
    assert len(again) == len(structures)
    assert all(same(a, b) and a.info == b.info for a, b in zip(structures, again))
    other = mad.build_mad(small_settings(), seed=8)
    assert not all(same(a, b) for a, b in zip(structures, other))


def test_one_subset_count_leaves_others_unchanged() -> None:
    few = mad.build_mad(small_settings(bulk=2, surface=3, molfrag=0, molcrys=0), seed=3)
    many = mad.build_mad(small_settings(bulk=9, surface=3, molfrag=0, molcrys=0), seed=3)
    for subset in ("surface", "cluster", "2d"):
        before, after = of_subset(few, subset), of_subset(many, subset)
        assert before and all(same(a, b) for a, b in zip(before, after, strict=True)), subset
    # A larger count extends the subset's own stream rather than reshuffling it.
    assert all(same(a, b) for a, b in zip(of_subset(few, "bulk"), of_subset(many, "bulk")))


def test_randcomp_volume_matches_covalent_spheres() -> None:
    settings = small_settings(**{s: 0 for s in MAD_SUBSETS if s != "randcomp"}, randcomp=30)
    structures = mad.build_mad(settings, seed=11)
    rules = [atoms.info["volume_rule"] for atoms in structures]
    assert "covalent" in rules and set(rules) <= {"covalent", "contact"}
    for atoms in structures:
        sphere_volume = np.sum(4.0 / 3.0 * np.pi * covalent_radii[atoms.numbers] ** 3)
        if atoms.info["volume_rule"] == "covalent":
            assert atoms.get_volume() == pytest.approx(sphere_volume, rel=1e-9)
        else:  # expanded just past the overlap limit instead
            assert atoms.get_volume() > sphere_volume
            assert min_contact_ratio(atoms) == pytest.approx(mad.RANDCOMP_FALLBACK_RATIO)


def test_rattled_displacements_follow_covalent_sigma(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs: list[tuple[Atoms, Atoms]] = []
    original_rattle = mad.rattle

    def recording_rattle(atoms: Atoms, *args, **kwargs) -> Atoms:
        moved = original_rattle(atoms, *args, **kwargs)
        pairs.append((atoms, moved))
        return moved

    monkeypatch.setattr(mad, "rattle", recording_rattle)
    settings = small_settings(**{s: 0 for s in MAD_SUBSETS if s != "rattled"}, rattled=60)
    rattled = mad.build_mad(settings, seed=5)

    # The returned structures are exactly the last successful rattle of each draw.
    final = {tuple(moved.positions.ravel()) for _, moved in pairs}
    assert all(tuple(a.positions.ravel()) in final for a in rattled)
    sigma = settings.rattle_fraction * np.concatenate(
        [covalent_radii[ideal.numbers] for ideal, _ in pairs]
    )
    displacement = np.concatenate([moved.positions - ideal.positions for ideal, moved in pairs])
    assert len(sigma) > 200
    normalised_msd = np.mean(np.sum(displacement**2, axis=1) / (3 * sigma**2))
    assert normalised_msd == pytest.approx(1.0, abs=0.2)


def test_restricted_elements_without_molecules() -> None:
    settings = MadSettings(elements=["Cu", "Ni"], counts={"molfrag": 2}, max_atoms=MAX_ATOMS)
    with pytest.raises(ValueError, match="molfrag") as error:
        mad.build_mad(settings, seed=0)
    assert "'H'" in str(error.value) and "Cu" in str(error.value)
    settings = MadSettings(elements=["Cu", "Ni"], counts={"molcrys": 2}, max_atoms=MAX_ATOMS)
    with pytest.raises(ValueError, match="molcrys"):
        mad.build_mad(settings, seed=0)


def test_restricted_elements_still_build_inorganic_subsets() -> None:
    inorganic = ("bulk", "rattled", "randcomp", "surface", "cluster", "2d")
    settings = MadSettings(
        elements=["Cu", "Ni"], counts={s: 3 for s in inorganic}, max_atoms=MAX_ATOMS
    )
    structures = mad.build_mad(settings, seed=0)
    assert len(structures) == 3 * len(inorganic)
    assert {s for atoms in structures for s in atoms.get_chemical_symbols()} <= {"Cu", "Ni"}


def test_every_element_appears_in_the_bulk_subset():
    settings = MadSettings(counts={"bulk": 50}, max_atoms=24)
    frames = mad.build_mad(settings, seed=5)
    seen = {symbol for atoms in frames for symbol in atoms.get_chemical_symbols()}
    assert set(settings.elements) <= seen
