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
