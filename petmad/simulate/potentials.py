"""The potential-energy terms a simulation sums, as ASE calculators, plus the run guards.

Every term is an ASE calculator so trained models, the reference engine and cheap test
potentials run through the same code.  :class:`Evaluator` adds what a long run needs on top
of a calculator: the LLPR ensemble energies and uncertainty as extras, and the checks that
stop a run going wrong (non-finite numbers, collapse, atoms flying apart, a model far out of
its domain) with a message naming the cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from petmad.io import reading
from petmad.simulate.settings import PotentialSpec, StopCriteria


class SimulationStopped(RuntimeError):
    """A guard tripped: the run cannot go on meaningfully (the message says why)."""


class HarmonicCalculator(Calculator):
    """Each atom tied to its starting site by a spring (an Einstein crystal), optionally with
    a rotational force field added in the xy plane.

    The rotational term has a curl, so it is not the gradient of any energy: it plays the
    part of a direct-force model whose errors make NVE dynamics drift (its linear stiffness
    matrix is not symmetric, so one normal mode grows).  Stress is zero: tethered atoms
    have no meaningful virial.
    """

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, sites: np.ndarray, spring: float, curl: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.sites = np.array(sites, dtype=float)
        self.spring = float(spring)
        self.curl = float(curl)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        displacement = self.atoms.positions - self.sites
        if self.atoms.pbc.any():
            fractional = np.linalg.solve(self.atoms.cell.array.T, displacement.T).T
            periodic = self.atoms.pbc[None, :]
            fractional -= np.where(periodic, np.round(fractional), 0.0)
            displacement = fractional @ self.atoms.cell.array
        forces = -self.spring * displacement
        forces[:, 0] -= self.curl * displacement[:, 1]
        forces[:, 1] += self.curl * displacement[:, 0]
        self.results["energy"] = 0.5 * self.spring * float(np.sum(displacement**2))
        self.results["free_energy"] = self.results["energy"]
        self.results["forces"] = forces
        self.results["stress"] = np.zeros(6)


class DirectForceCalculator(Calculator):
    """A metatomic model's direct-force head as an ASE calculator: one forward pass gives
    the energy (energy head, no gradients) and the forces (``non_conservative_forces``).
    The stress comes from ``non_conservative_stress`` when the model has that head; without
    it the calculator has no stress, so it suits constant-volume runs only.  (metatomic's
    own calculator in "forces" mode would still back-propagate for the stress of a periodic
    system, losing the speed direct forces are for.)"""

    def __init__(self, path: str, device: str, extra_outputs: dict, with_stress: bool):
        from metatomic.torch import ModelOutput
        from metatomic_ase import MetatomicCalculator

        super().__init__()
        self.implemented_properties = ["energy", "free_energy", "forces"] + (
            ["stress"] if with_stress else [])
        heads = {"non_conservative_forces": ModelOutput(per_atom=True)}
        if with_stress:
            heads["non_conservative_stress"] = ModelOutput(per_atom=False)
        self._heads = tuple(heads)
        self.model = MetatomicCalculator(path, device=device, uncertainty_threshold=None,
                                         do_gradients_with_energy=False,
                                         additional_outputs={**heads, **extra_outputs})
        self.additional_outputs: dict = {}

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.model.calculate(self.atoms, ["energy"], system_changes)
        outputs = self.model.additional_outputs
        energy = float(self.model.results["energy"])
        self.results = {"energy": energy, "free_energy": energy,
                        "forces": outputs["non_conservative_forces"].block().values
                        .detach().cpu().numpy().reshape(len(self.atoms), 3).astype(float)}
        if "non_conservative_stress" in outputs:
            stress = outputs["non_conservative_stress"].block().values.detach().cpu().numpy()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress.reshape(3, 3))
        self.additional_outputs = {name: value for name, value in outputs.items()
                                   if name not in self._heads}


def _metatomic_calculator(spec: PotentialSpec) -> Calculator:
    from metatomic.torch import ModelOutput
    from metatomic_ase import MetatomicCalculator

    from petmad.models.training import resolve_device

    device = resolve_device(spec.device)
    # Loaded twice (a TorchScript model is cheap to load) to learn its outputs first.
    with reading(spec.path, "exported model"):
        probe = MetatomicCalculator(spec.path, device=device, uncertainty_threshold=None)
        outputs = probe.model().capabilities().outputs
    if spec.non_conservative and "non_conservative_forces" not in outputs:
        raise SimulationStopped(
            f"model '{spec.path}' has no direct-force head (non_conservative_forces), "
            "so it cannot run non-conservative dynamics or multiple time stepping"
        )
    extra = {}
    if spec.ensemble:
        extra = {name: ModelOutput(per_atom=False)
                 for name in ("energy_uncertainty", "energy_ensemble") if name in outputs}
    if spec.non_conservative:
        return DirectForceCalculator(spec.path, device, extra,
                                     with_stress="non_conservative_stress" in outputs)
    return MetatomicCalculator(spec.path, device=device, uncertainty_threshold=None,
                               additional_outputs=extra or None)


# Loaded models by (spec, file identity): loading a TorchScript model and its first two
# (optimising) calls cost seconds, and a job builds the same term several times (the probe
# before i-PI starts, the i-PI force field, every run of a chain).  Sharing is safe: an ASE
# calculator recomputes whenever it is handed different atoms.
_LOADED_MODELS: dict[tuple, Calculator] = {}


def build_calculator(spec: PotentialSpec, atoms: Atoms) -> Calculator:
    """The ASE calculator for one potential term, for structures like ``atoms``."""
    if spec.kind == "metatomic":
        stat = Path(spec.path).stat()
        key = (spec.model_dump_json(), str(Path(spec.path).resolve()), stat.st_mtime_ns,
               stat.st_size)
        if key not in _LOADED_MODELS:
            _LOADED_MODELS[key] = _metatomic_calculator(spec)
            if spec.contact_wall is not None:
                from petmad.simulate.contact_wall import ContactWall, WalledCalculator

                _LOADED_MODELS[key] = WalledCalculator(_LOADED_MODELS[key],
                                                       ContactWall(spec.contact_wall))
        return _LOADED_MODELS[key]
    if spec.kind == "library":
        from petmad.models.registry import entry_json, make_calculator

        key = ("library", entry_json(spec.library), spec.device)
        if key not in _LOADED_MODELS:
            _LOADED_MODELS[key] = make_calculator(spec.library, spec.device)
        return _LOADED_MODELS[key]
    if spec.kind == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if spec.kind == "lj":
        from ase.calculators.lj import LennardJones

        return LennardJones(smooth=True, **spec.lj)
    if spec.kind == "harmonic":
        return HarmonicCalculator(atoms.positions, spec.spring_eV_A2, spec.curl_eV_A2)
    if spec.kind == "reference":
        from petmad.reference import make_engine

        return make_engine(spec.reference).calculator_for(atoms)
    if spec.kind == "q4_restraint":
        from petmad.simulate.q4 import Q4RestraintCalculator

        return Q4RestraintCalculator(spec.q4)
    raise ValueError(f"unknown potential kind {spec.kind!r}")


def model_potential(model: str, model_file: str | None = None,
                    reference: dict[str, Any] | None = None, device: str = "cpu",
                    library: dict[str, Any] | None = None,
                    contact_wall: str | None = None) -> PotentialSpec:
    """The potential of one of the workflow's models: an exported model (``model_file``: a
    trained PET or a metatomic library entry, with its LLPR ensemble where it has one, and
    the wall of the ``contact_wall`` file when one is given), a
    model library entry (``library``), or the reference engine itself when ``model`` is
    'reference'."""
    if model == "reference":
        return PotentialSpec(kind="reference", reference=reference or {})
    if library is not None and library.get("kind") != "metatomic":
        from petmad.models.training import resolve_device

        return PotentialSpec(kind="library", library=library, device=resolve_device(device))
    if model_file is None or not Path(model_file).is_file():
        raise FileNotFoundError(f"model file '{model_file}' of model '{model}' does not exist")
    from petmad.simulate.contact_wall import read_wall

    spec = PotentialSpec(kind="metatomic", path=str(model_file), device=device,
                         contact_wall=read_wall(contact_wall) if contact_wall else None)
    # Loaded (and kept for the job) now, so that a corrupt file stops the job before it
    # writes anything.
    build_calculator(spec, Atoms())
    return spec


def _extras(calculator: Calculator) -> dict[str, Any]:
    """Per-structure numbers worth recording besides energy, forces and stress."""
    extras: dict[str, Any] = {}
    additional = getattr(calculator, "additional_outputs", None)
    if additional:
        for name, tensor_map in additional.items():
            values = tensor_map.block().values.detach().cpu().numpy().reshape(-1)
            extras[name] = values.tolist() if name == "energy_ensemble" else float(values[0])
    for name in ("q4_mean", "s", "contact_wall_eV"):
        if name in calculator.results:
            extras[name] = float(calculator.results[name])
    return extras


@dataclass
class Evaluation:
    energy: float
    forces: np.ndarray
    stress: np.ndarray  # 3x3, eV/Å³, ASE sign convention
    extras: dict[str, Any] = field(default_factory=dict)


class Evaluator:
    """Energy, forces, stress and extras of one potential term, with the run guards."""

    def __init__(self, spec: PotentialSpec, template: Atoms, stop: StopCriteria | None = None):
        self.spec = spec
        self.stop = stop or StopCriteria()
        self.atoms = Atoms(template.numbers, template.positions, cell=template.cell,
                           pbc=template.pbc)
        self.calculator = build_calculator(spec, self.atoms)
        self.atoms.calc = self.calculator
        # A direct-force head without a stress head contributes no virial.
        self.has_stress = "stress" in self.calculator.implemented_properties
        self.start_energy: float | None = None
        # Geometry guards need looking at only once per structure, not per force term.
        self.checks_geometry = spec.kind != "q4_restraint"

    def evaluate(self, cell: np.ndarray, positions: np.ndarray) -> Evaluation:
        atoms = self.atoms
        atoms.positions[:] = positions
        # Only a real cell change may touch the cell: unit round-trips alter the last bits,
        # and calculators (EMT, LJ) rebuild their neighbour lists on any cell change.
        if atoms.pbc.any() and not np.allclose(atoms.cell.array, cell, rtol=0, atol=1e-9):
            atoms.cell[:] = cell
        if self.checks_geometry:
            check_geometry(atoms, self.stop)
        periodic = bool(atoms.pbc.all()) and self.has_stress
        # Calculators compute what a step needs in one pass and cache it (metatomic's
        # do_gradients_with_energy), so these three calls cost one evaluation.
        energy = float(atoms.get_potential_energy())
        forces = np.array(atoms.get_forces(), dtype=float)
        stress = np.array(atoms.get_stress(voigt=False), dtype=float) if periodic \
            else np.zeros((3, 3))
        extras = _extras(self.calculator)
        self._check_values(energy, forces, stress, extras)
        return Evaluation(energy, forces, stress, extras)

    def _check_values(self, energy, forces, stress, extras) -> None:
        name = self.describe()
        if not (np.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()):
            raise SimulationStopped(f"{name} returned non-finite energy, forces or stress")
        natoms = len(self.atoms)
        if self.start_energy is None:
            self.start_energy = energy
        limit = self.stop.max_energy_change_eV_per_atom
        if limit is not None and self.checks_geometry:
            change = abs(energy - self.start_energy) / natoms
            if change > limit:
                raise SimulationStopped(
                    f"{name}: energy moved {change:.3g} eV/atom from the start "
                    f"(limit {limit:g}); the run is exploding")
        limit = self.stop.max_uncertainty_eV_per_atom
        if limit is not None and "energy_uncertainty" in extras:
            per_atom = extras["energy_uncertainty"] / natoms
            if per_atom > limit:
                raise SimulationStopped(
                    f"{name}: LLPR energy uncertainty {per_atom:.3g} eV/atom exceeds the "
                    f"threshold {limit:g} eV/atom; the structure is outside the model's domain")

    def describe(self) -> str:
        return f"{self.spec.kind} potential" + (f" '{self.spec.path}'" if self.spec.path else "")


def check_geometry(atoms: Atoms, stop: StopCriteria) -> None:
    """Raise :class:`SimulationStopped` when atoms collide or fly apart."""
    volume = abs(np.linalg.det(atoms.cell.array)) if atoms.pbc.any() else 1.0
    if not (np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell.array).all()
            and volume > 1e-6):
        raise SimulationStopped("positions or cell became non-finite or degenerate")
    if stop.min_distance_A is None and stop.max_neighbour_distance_A is None:
        return
    from vesin import NeighborList

    reach = max(stop.min_distance_A or 0.0, stop.max_neighbour_distance_A or 0.0)
    # vesin: a C++ cell list, ~100x faster than ASE's on small cells (it runs every step).
    first, second, distances = NeighborList(cutoff=reach, full_list=False).compute(
        atoms.positions, atoms.cell.array, atoms.pbc.tolist(), quantities="ijd")
    if stop.min_distance_A is not None and len(distances) and distances.min() < stop.min_distance_A:
        k = int(np.argmin(distances))
        raise SimulationStopped(
            f"atoms collided: distance {distances[k]:.3f} Å < {stop.min_distance_A} Å "
            f"(atom {int(first[k])})")
    if stop.max_neighbour_distance_A is not None:
        lonely = np.setdiff1d(np.arange(len(atoms)), np.concatenate([first, second]))
        if len(lonely):
            raise SimulationStopped(
                f"atoms flying apart: atom {int(lonely[0])} ({atoms[int(lonely[0])].symbol}) "
                f"has no neighbour within {stop.max_neighbour_distance_A} Å "
                f"({len(lonely)} such atoms)")
