"""Force filter and per-subset 80/10/10 split."""

import numpy as np
from ase import Atoms

from petmad.data.split import filter_and_split, split_counts
from petmad.reference.engines import attach_labels, nan_stress


def labeled(subset: str, index: int, max_force: float) -> Atoms:
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 1.0]])
    forces = np.zeros((2, 3))
    forces[0, 2] = max_force
    atoms.info.update(subset=subset, structure_index=index)
    return attach_labels(atoms, -1.0, forces, nan_stress())


def test_split_counts_follow_fractions():
    assert split_counts(100, (0.8, 0.1, 0.1)) == (80, 10, 10)
    assert split_counts(9, (0.8, 0.1, 0.1)) == (7, 1, 1)
    assert split_counts(2, (0.8, 0.1, 0.1)) == (2, 0, 0)
    assert split_counts(5, (1.0, 0.0, 0.0)) == (5, 0, 0)
    assert split_counts(25, (0.8, 0.1, 0.1)) == (21, 2, 2)
    assert sum(split_counts(37, (0.5, 0.3, 0.2))) == 37


def test_filter_and_split_per_subset():
    frames = [labeled("a", i, 1.0) for i in range(50)] + [labeled("b", 50 + i, 1.0) for i in range(20)]
    frames += [labeled("a", 70, 60.0), labeled("b", 71, 120.0), labeled("b", 72, 90.0)]
    result = filter_and_split(frames, (0.8, 0.1, 0.1), {"b": 100.0, "default": 50.0}, seed=3)
    assert sorted(f["structure_index"] for f in result.filtered) == [70, 71]
    indices = {name: [a.info["structure_index"] for a in part] for name, part in result.parts.items()}
    everything = sorted(sum(indices.values(), []))
    assert everything == sorted(set(range(70)) | {72})
    for subset, expected in (("a", (40, 5, 5)), ("b", (17, 2, 2))):
        got = tuple(sum(a.info["subset"] == subset for a in result.parts[n]) for n in ("train", "val", "test"))
        assert got == expected
    again = filter_and_split(frames, (0.8, 0.1, 0.1), {"b": 100.0, "default": 50.0}, seed=3)
    assert [a.info["structure_index"] for a in again.parts["test"]] == indices["test"]
    other = filter_and_split(frames, (0.8, 0.1, 0.1), {"b": 100.0, "default": 50.0}, seed=4)
    assert [a.info["structure_index"] for a in other.parts["test"]] != indices["test"]


def test_adding_a_subset_leaves_other_splits_alone():
    base = [labeled("a", i, 1.0) for i in range(30)]
    more = [labeled("z", 100 + i, 1.0) for i in range(10)] + base
    one = filter_and_split(base, (0.8, 0.1, 0.1), {"default": 50.0}, seed=1)
    two = filter_and_split(more, (0.8, 0.1, 0.1), {"default": 50.0}, seed=1)
    ids = lambda part: [a.info["structure_index"] for a in part if a.info["subset"] == "a"]
    assert ids(one.parts["test"]) == ids(two.parts["test"])


def test_species_unseen_in_training_move_to_training():
    frames = [labeled("a", i, 1.0) for i in range(20)]
    odd = Atoms("HeH", positions=[[0, 0, 0], [0, 0, 1.0]])
    odd.info.update(subset="b", structure_index=99)
    frames += [attach_labels(odd, -1.0, np.zeros((2, 3)), nan_stress())]
    frames += [labeled("b", 100 + i, 1.0) for i in range(9)]
    for seed in range(5):
        result = filter_and_split(frames, (0.8, 0.1, 0.1), {"default": 50.0}, seed=seed)
        train_ids = [a.info["structure_index"] for a in result.parts["train"]]
        assert 99 in train_ids
        assert sum(len(p) for p in result.parts.values()) == len(frames)


def test_energy_outliers_are_dropped_with_their_reason():
    rng = np.random.default_rng(0)
    frames = []
    for i in range(40):
        atoms = Atoms("H2O", positions=[[0, 0, 0], [0, 0, 1.0], [1.0, 0, 0]]) if i % 2 else \
            Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.2]])
        energy = -3.0 * (atoms.numbers == 1).sum() - 5.0 * (atoms.numbers == 8).sum()
        atoms.info.update(subset="mol", structure_index=i)
        frames.append(attach_labels(atoms, energy + rng.normal(0, 0.1), np.zeros((len(atoms), 3)),
                                    nan_stress()))
    frames[7] = attach_labels(frames[7], 1000.0 * len(frames[7]), np.zeros((3, 3)), nan_stress())
    result = filter_and_split(frames, (0.8, 0.1, 0.1), {"default": 50.0}, seed=0,
                              energy_threshold=10.0)
    assert [f["structure_index"] for f in result.filtered] == [7]
    assert "composition fit" in result.filtered[0]["reason"]
    kept = filter_and_split(frames, (0.8, 0.1, 0.1), {"default": 50.0}, seed=0)
    assert not kept.filtered


def test_pre_split_structures_keep_their_split_and_order():
    frames = [labeled("a" if i % 2 else "b", i, 1.0) for i in range(12)]
    frames.append(labeled("a", 12, 500.0))  # still filtered
    for atoms, split in zip(frames, ["val", "train", "test", "train"] * 4):
        atoms.info["split"] = split
    result = filter_and_split(frames, (0.8, 0.1, 0.1), {"default": 50.0}, seed=3)
    for name in ("train", "val", "test"):
        expected = [a.info["structure_index"] for a in frames[:12] if a.info["split"] == name]
        assert [a.info["structure_index"] for a in result.parts[name]] == expected
    assert [record["structure_index"] for record in result.filtered] == [12]
