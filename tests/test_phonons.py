"""Phonon bands (paper S8): the finite-displacement pipeline against an analytic lattice,
ensemble bookkeeping, member forces through a metatomic model, the band paths, the
summary table."""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list

from petmad.config import Config, PhononSettings
from petmad.studies.phonons import (
    PATHS,
    band_path,
    calculator_forces,
    phonon_bands,
    supercell_repeats,
)

THZ = 1e12 * 2 * np.pi  # rad/s per THz
# sqrt(eV / (Å² amu)) in rad/s
EV_A2_AMU = np.sqrt(1.602176634e-19 / 1e-20 / 1.66053906660e-27)


class PairSprings(Calculator):
    """Central springs of stiffness ``k`` (eV/Å²) between atoms closer than ``cutoff``,
    at rest at ``rest`` (Å): E = Σ_pairs k (d − rest)² / 2."""

    implemented_properties = ("energy", "forces")

    def __init__(self, k, rest, cutoff):
        super().__init__()
        self.k, self.rest, self.cutoff = k, rest, cutoff

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        i, vectors = neighbor_list("iD", self.atoms, self.cutoff)
        distances = np.linalg.norm(vectors, axis=1)
        stretch = distances - self.rest
        forces = np.zeros((len(self.atoms), 3))
        np.add.at(forces, i, (self.k * stretch / distances)[:, None] * vectors)
        self.results["energy"] = 0.25 * self.k * float(np.sum(stretch ** 2))  # pairs twice
        self.results["forces"] = forces


def fcc_springs(a=4.0, k=2.0):
    primitive = bulk("Ar", "fcc", a=a)
    return primitive, PairSprings(k, a / np.sqrt(2), 0.85 * a)


def analytic_fcc_frequencies(primitive, k, qpoints):
    """D_ab(q) = (k/m) Σ_δ (1 − cos q·δ) δ̂_a δ̂_b over the 12 nearest neighbours (THz)."""
    a = 2 * primitive.cell.array[0, 1]
    deltas = np.array([v for v in np.ndindex(3, 3, 3)]) - 1
    deltas = deltas[np.abs(deltas).sum(axis=1) == 2] * a / 2  # the 12 (±1, ±1, 0) a/2
    unit = deltas / np.linalg.norm(deltas, axis=1)[:, None]
    reciprocal = 2 * np.pi * np.linalg.inv(primitive.cell.array).T
    mass = primitive.get_masses()[0]
    frequencies = []
    for q in qpoints @ reciprocal:
        weights = 1 - np.cos(deltas @ q)
        dynamical = k / mass * np.einsum("n,na,nb->ab", weights, unit, unit)
        omega = np.sqrt(np.clip(np.linalg.eigvalsh(dynamical), 0, None)) * EV_A2_AMU
        frequencies.append(omega / THZ)
    return np.array(frequencies)


def test_bands_of_a_spring_lattice_match_the_analytic_dynamical_matrix():
    primitive, springs = fcc_springs(k=2.0)
    path = band_path("fcc", primitive.cell.array, 9)
    bands, details = phonon_bands(primitive, calculator_forces(springs), [3, 3, 3], 0.01,
                                  path["qpoints"])
    expected = analytic_fcc_frequencies(primitive, 2.0, path["qpoints"])
    assert bands.shape == (1, len(path["qpoints"]), 3)
    assert details["atoms"] == 27 and details["residual_force_eV_A"] < 1e-12
    assert expected.max() > 5.0  # THz: a scale on which a wrong factor would show
    assert np.abs(bands[0] - expected).max() < 1e-3


def test_ensemble_members_scaled_forces_scale_frequencies_by_the_root():
    primitive, springs = fcc_springs()
    scales = np.array([1.0, 0.25, 4.0, -1.0])
    single = calculator_forces(springs)

    def ensemble(atoms):
        return scales[:, None, None] * single(atoms)

    qpoints = band_path("fcc", primitive.cell.array, 5)["qpoints"]
    bands, _ = phonon_bands(primitive, ensemble, [3, 3, 3], 0.01, qpoints)
    assert bands.shape[0] == 4
    np.testing.assert_allclose(bands[1], 0.5 * bands[0], atol=1e-6)
    np.testing.assert_allclose(bands[2], 2.0 * bands[0], atol=1e-6)
    # an unstable member: imaginary modes, reported as negative frequencies
    np.testing.assert_allclose(np.sort(bands[3], axis=1), np.sort(-bands[0], axis=1),
                               atol=1e-6)


def tiny_metatomic_model(scales, k=1.5, rest=2.5, cutoff=3.2):
    """A metatomic model of pair springs whose LLPR-like ensemble member j has the energy
    scales[j] × E."""
    # typing's generics: AtomisticModel checks forward's annotations as TorchScript spells them
    from typing import Dict, List, Optional  # noqa: UP035

    import torch
    from metatensor.torch import Labels, TensorBlock, TensorMap
    from metatomic.torch import (
        AtomisticModel,
        ModelCapabilities,
        ModelMetadata,
        ModelOutput,
        NeighborListOptions,
        System,
    )

    class Springs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scales", torch.tensor(scales, dtype=torch.float64))
            self.options = NeighborListOptions(cutoff=cutoff, full_list=False, strict=True)

        def requested_neighbor_lists(self) -> List[NeighborListOptions]:  # noqa: UP006
            return [self.options]

        def forward(self, systems: List[System], outputs: Dict[str, ModelOutput],  # noqa: UP006
                    selected_atoms: Optional[Labels] = None,  # noqa: UP045
                    ) -> Dict[str, TensorMap]:  # noqa: UP006
            energies = []
            for system in systems:
                vectors = system.get_neighbor_list(self.options).values.reshape(-1, 3)
                stretch = torch.linalg.vector_norm(vectors, dim=1) - rest
                energies.append(0.5 * k * torch.sum(stretch ** 2))
            energy = torch.stack(energies).reshape(-1, 1)
            samples = Labels("system", torch.arange(len(systems)).reshape(-1, 1))
            keys = Labels("_", torch.tensor([[0]]))
            values = {"energy": energy, "energy_ensemble": energy * self.scales[None, :]}
            result: Dict[str, TensorMap] = {}  # noqa: UP006
            for name, value in values.items():
                if name in outputs:
                    properties = Labels("energy", torch.arange(value.shape[1]).reshape(-1, 1))
                    block = TensorBlock(values=value, samples=samples, components=[],
                                        properties=properties)
                    result[name] = TensorMap(keys, [block])
            return result

    output = ModelOutput(unit="eV", sample_kind="system")
    capabilities = ModelCapabilities(
        outputs={"energy": output, "energy_ensemble": output}, atomic_types=[18],
        interaction_range=cutoff, length_unit="angstrom", supported_devices=["cpu"],
        dtype="float64")
    return AtomisticModel(Springs().eval(), ModelMetadata(), capabilities)


def test_member_forces_are_minus_the_gradients_of_the_member_energies():
    import torch
    from metatomic.torch import ModelEvaluationOptions, ModelOutput, systems_to_torch
    from vesin.metatomic import neighbor_lists_for_model

    from petmad.studies.phonons import metatomic_forces

    scales = [0.5, 1.0, 3.0]
    model = tiny_metatomic_model(scales)
    atoms = bulk("Ar", "fcc", a=3.6, cubic=True)
    atoms.positions += np.random.default_rng(1).normal(0, 0.08, atoms.positions.shape)
    forces = metatomic_forces(model)(atoms)
    assert forces.shape == (4, len(atoms), 3)  # the model's own, then each member
    assert np.abs(forces[0]).max() > 0.1

    calculators = neighbor_lists_for_model("angstrom", model)
    options = ModelEvaluationOptions(length_unit="angstrom", outputs={
        "energy": ModelOutput(sample_kind="system"),
        "energy_ensemble": ModelOutput(sample_kind="system")})

    def energies(moved):
        system = systems_to_torch(moved, dtype=torch.float64)
        for calculator in calculators:
            calculator.add_neighbor_list([system], copy=True)
        outputs = model([system], options, check_consistency=True)
        return np.concatenate([outputs[n].block().values[0].detach().numpy()
                               for n in ("energy", "energy_ensemble")])

    step = 1e-5
    for atom, axis in [(0, 0), (3, 2), (2, 1)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[atom, axis] += step
        minus.positions[atom, axis] -= step
        numerical = -(energies(plus) - energies(minus)) / (2 * step)
        np.testing.assert_allclose(forces[:, atom, axis], numerical, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(forces[1:], np.array(scales)[:, None, None] * forces[0],
                               rtol=1e-12, atol=1e-12)


def reduced_to_first_zone(q_reduced, reciprocal):
    """The shortest Cartesian vector among q + G (G over nearby reciprocal vectors)."""
    shifts = np.array(list(np.ndindex(5, 5, 5))) - 2
    candidates = (np.asarray(q_reduced) + shifts) @ reciprocal
    return candidates[np.argmin(np.linalg.norm(candidates, axis=1))]


def special_points(lattice):
    points = {}
    for label_a, qa, label_b, qb in PATHS[lattice]:
        points.setdefault(label_a, []).append(qa)
        points.setdefault(label_b, []).append(qb)
    return points


def test_fcc_path_points_are_the_special_points_in_cartesian_coordinates():
    a = 5.5
    cell = bulk("LiBr", "rocksalt", a=a).cell.array
    reciprocal = 2 * np.pi * np.linalg.inv(cell).T
    unit = 2 * np.pi / a
    expected = {"Γ": [0, 0, 0], "X": [0, 0, 1], "L": [0.5, 0.5, 0.5], "K": [0.75, 0.75, 0]}
    for label, qs in special_points("fcc").items():
        for q in qs:  # up to the cube's symmetry: sorted absolute components
            cartesian = np.sort(np.abs(reduced_to_first_zone(q, reciprocal))) / unit
            np.testing.assert_allclose(cartesian, np.sort(expected[label]), atol=1e-12)
    # X → K → Γ is one straight line (Σ, along [110])
    x, k = (np.asarray(PATHS["fcc"][1][i]) @ reciprocal for i in (1, 3))
    assert np.linalg.norm(np.cross(x, k)) == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(x) == pytest.approx(np.sqrt(2) * unit)


def test_hexagonal_path_points_are_the_special_points_in_cartesian_coordinates():
    a, c = 2.698, 4.377
    cell = bulk("BeO", "wurtzite", a=a, c=c).cell.array
    reciprocal = 2 * np.pi * np.linalg.inv(cell).T
    lengths = {"Γ": 0.0, "M": 2 * np.pi / (np.sqrt(3) * a), "K": 4 * np.pi / (3 * a),
               "A": np.pi / c}
    for label, qs in special_points("hexagonal").items():
        for q in qs:
            cartesian = np.asarray(q) @ reciprocal
            assert np.linalg.norm(cartesian) == pytest.approx(lengths[label], abs=1e-12)
            # on the zone boundary (or centre): no shorter equivalent
            assert np.linalg.norm(reduced_to_first_zone(q, reciprocal)) == pytest.approx(
                lengths[label], abs=1e-12)
    m, k = (np.asarray(q) @ reciprocal for q in ((0.5, 0, 0), (1 / 3, 1 / 3, 0)))
    assert np.dot(k - m, m) == pytest.approx(0.0, abs=1e-12)  # M–K runs along the edge
    assert np.dot(np.asarray((0, 0, 0.5)) @ reciprocal, m) == pytest.approx(0.0, abs=1e-12)


def test_band_path_labels_and_distances():
    cell = bulk("LiBr", "rocksalt", a=5.5).cell.array
    path = band_path("fcc", cell, 4)
    assert path["labels"] == ["Γ", "X", "K", "Γ", "L"]
    assert len(path["qpoints"]) == len(path["distance"]) == 16
    assert np.all(np.diff(path["distance"]) >= 0)
    assert path["ticks"][1] == pytest.approx(2 * np.pi / 5.5)
    assert path["ticks"][-1] == pytest.approx(path["distance"][-1])


def test_supercells_are_at_least_the_asked_width():
    assert supercell_repeats(bulk("LiBr", "rocksalt", a=5.501).cell.array, 7.0) == [3, 3, 3]
    assert supercell_repeats(bulk("BeO", "wurtzite", a=2.698, c=4.377).cell.array, 7.0) == [
        3, 3, 2]
    assert supercell_repeats(np.eye(3) * 10.0, 7.0) == [1, 1, 1]


def synthetic_bands(tmp_path):
    reference = np.array([[0.0, 0.0, 1.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])
    ensemble = np.stack([reference + 0.2, reference - 0.2])
    ensemble[1, 0, 0] = -0.5  # one member with an imaginary mode
    common = {"crystal": "libr_rocksalt", "lattice": "fcc", "supercell": [2, 2, 2],
              "atoms": 16, "distance": [0.0, 0.5, 1.0], "ticks": [0.0, 1.0],
              "labels": ["Γ", "X"]}
    files = []
    for model, own, members in [("reference", reference, []),
                                ("pet-mad", reference + 0.1, ensemble.tolist())]:
        path = tmp_path / f"{model}.json"
        path.write_text(json.dumps({"model": model, "unit": "THz", "crystals": [
            {**common, "frequencies_THz": own.tolist(), "ensemble_THz": members}]}))
        files.append(path)
    return files


def test_summary_table_on_synthetic_bands(tmp_path):
    import pandas as pd

    from analysis.phonons import main

    files = synthetic_bands(tmp_path)
    main(["--bands", *map(str, files), "--table", str(tmp_path / "t.csv"),
          "--figure", str(tmp_path / "f.pdf")])
    table = pd.read_csv(tmp_path / "t.csv").set_index("model")
    pet = table.loc["pet-mad"]
    assert pet["members"] == 2 and pet["supercell"] == "2x2x2"
    assert pet["rms_vs_reference_THz"] == pytest.approx(0.1, abs=1e-6)
    # members ±0.2 average to the reference but at the one point where member 1 is −0.5
    assert pet["ensemble_mean_rms_vs_reference_THz"] == pytest.approx(
        np.sqrt(0.15 ** 2 / 9), abs=1e-6)
    assert pet["ensemble_lowest_THz"] == -0.5 and pet["members_with_imaginary_modes"] == 1
    assert pet["lowest_THz"] == pytest.approx(0.1)
    assert table.loc["reference", "rms_vs_reference_THz"] == 0.0
    assert np.isnan(table.loc["reference", "ensemble_spread_THz"])
    assert (tmp_path / "f.pdf").stat().st_size > 5_000


def test_a_restarted_job_skips_the_crystals_its_log_holds(tmp_path):
    from petmad.io import RowLog
    from petmad.studies.phonons import phonon_runs

    settings = PhononSettings(crystals=["libr_rocksalt"], supercell_min_width_A=1.0,
                              points_per_segment=2)

    def still(atoms):  # no forces: every frequency zero
        return np.zeros((2, len(atoms), 3))

    first = phonon_runs(still, settings, RowLog(tmp_path / "c.jsonl"), progress=False)
    assert np.allclose(first[0]["frequencies_THz"], 0.0)
    assert len(first[0]["ensemble_THz"]) == 1

    def unusable(atoms):
        raise AssertionError("a logged crystal was recomputed")

    again = phonon_runs(unusable, settings, RowLog(tmp_path / "c.jsonl"), progress=False)
    assert again == first


def test_crystals_need_elements_the_universal_model_knows():
    with pytest.raises(ValueError, match="phonons.crystals need"):
        Config.model_validate({
            "data": {"mad": {"elements": ["Li", "H", "C", "O", "P", "S", "Ga", "As", "Co", "Cr",
                                          "Fe", "Mn", "Ni", "Ti", "Ba", "Br"]}},
            "studies": {"dimers": {"elements": ["H"]},
                        "relaxations": {"crystals": ["libr_rocksalt"]}}})
    assert PhononSettings().displacement_A == 0.01
