"""Phonon bands with the LLPR ensemble (paper S8, Fig. S7): finite-displacement harmonic
phonons (phonopy) of wurtzite BeO, zincblende BeTe and rocksalt LiBr, with the forces of a
model, of each member of its last-layer (LLPR) ensemble, or of the reference engine.

Every model and the reference see the same fixed structure: the primitive cells of
:data:`petmad.studies.relaxations.CRYSTALS` (experimental lattice constants; phononDB's
relaxed cells are not available offline).  Nothing is relaxed, so a model whose minimum
lies elsewhere can show imaginary modes, which phonopy reports, and this module keeps, as
negative frequencies.  Frequencies are in THz (phonopy's unit for eV, Å and amu).

A force provider maps a supercell to an array ``(sets, atoms, 3)``: the first set is the
model's own forces, any further ones are its ensemble members' (forces of each member's
energy, by automatic differentiation).  Each set gives its own force constants and bands.
The forces of the undisplaced supercell are subtracted from the displaced ones (as
phonopy's ``--fz`` does): the unrelaxed cells carry residual forces, and so does the ideal
crystal with a model that is not exactly symmetric.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from ase import Atoms

from petmad.config import PhononSettings
from petmad.io import RowLog, reading
from petmad.studies.relaxations import CRYSTALS

ForceSets = Callable[[Atoms], np.ndarray]

LATTICES = {"beo_wurtzite": "hexagonal", "bete_zincblende": "fcc", "libr_rocksalt": "fcc"}

# Straight segments of the band paths, (label, q) → (label, q), q in reduced coordinates of
# the reciprocal lattice of ASE's primitive cells: fcc a_i = (a/2)(0,1,1), (1,0,1), (1,1,0);
# hexagonal a_1 = (a,0,0), a_2 = (-a/2, a√3/2, 0), a_3 = (0,0,c).  In fcc, X→K runs along
# Σ from the X point (2π/a)(1,1,0) (equivalent to (2π/a)(0,0,1)) so the line continues
# through K to Γ; tests check every point in Cartesian coordinates.
PATHS: dict[str, list[tuple[str, tuple[float, ...], str, tuple[float, ...]]]] = {
    "fcc": [("Γ", (0, 0, 0), "X", (0.5, 0, 0.5)),
            ("X", (0.5, 0.5, 1.0), "K", (0.375, 0.375, 0.75)),
            ("K", (0.375, 0.375, 0.75), "Γ", (0, 0, 0)),
            ("Γ", (0, 0, 0), "L", (0.5, 0.5, 0.5))],
    "hexagonal": [("Γ", (0, 0, 0), "M", (0.5, 0, 0)),
                  ("M", (0.5, 0, 0), "K", (1 / 3, 1 / 3, 0)),
                  ("K", (1 / 3, 1 / 3, 0), "Γ", (0, 0, 0)),
                  ("Γ", (0, 0, 0), "A", (0, 0, 0.5))],
}


def band_path(lattice: str, cell: np.ndarray, points_per_segment: int) -> dict:
    """q-points (reduced), their distance along the path (Cartesian, 1/Å with the 2π) and
    the special points' positions and labels ("A|B" where the path jumps)."""
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    qpoints, distance, ticks, labels = [], [], [0.0], []
    start = 0.0
    for index, (label_a, qa, label_b, qb) in enumerate(PATHS[lattice]):
        qa, qb = np.array(qa, dtype=float), np.array(qb, dtype=float)
        fractions = np.linspace(0.0, 1.0, points_per_segment)
        length = np.linalg.norm((qb - qa) @ reciprocal)
        qpoints.append(qa + fractions[:, None] * (qb - qa))
        distance.append(start + fractions * length)
        previous = PATHS[lattice][index - 1][2] if index else None
        if previous is None:
            labels.append(label_a)
        elif previous != label_a:  # a jump between equivalent or distinct points
            labels[-1] = f"{previous}|{label_a}"
        start += length
        ticks.append(start)
        labels.append(label_b)
    return {"qpoints": np.concatenate(qpoints), "distance": np.concatenate(distance),
            "ticks": ticks, "labels": labels}


def supercell_repeats(cell: np.ndarray, min_width: float) -> list[int]:
    """Repeats of each cell vector making the supercell at least ``min_width`` wide between
    every pair of opposite faces (the width along a_i is V / |a_j × a_k|)."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3]))
              for i in range(3)]
    return [max(1, int(np.ceil(min_width / width - 1e-9))) for width in widths]


def _to_phonopy(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms

    # ASE's masses, so that every engine and the tests agree on them
    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(),
                        masses=atoms.get_masses())


def _to_ase(cell) -> Atoms:
    return Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                 pbc=True)


def phonon_bands(primitive: Atoms, forces: ForceSets, repeats: list[int],
                 displacement: float, qpoints: np.ndarray) -> tuple[np.ndarray, dict]:
    """Frequencies (THz), ``(sets, q-points, branches)``, at ``qpoints`` (reduced
    coordinates of ``primitive``'s reciprocal cell), and a note of the work done."""
    from phonopy import Phonopy

    phonon = Phonopy(_to_phonopy(primitive), supercell_matrix=np.diag(repeats),
                     primitive_matrix="P")  # the cell given is the primitive one
    phonon.generate_displacements(distance=displacement)
    pristine = forces(_to_ase(phonon.supercell))
    displaced = np.stack([forces(_to_ase(cell)) - pristine
                          for cell in phonon.supercells_with_displacements], axis=1)
    bands = []
    for sets in displaced:
        phonon.forces = sets
        phonon.produce_force_constants(show_drift=False)
        phonon.run_qpoints(qpoints)
        bands.append(phonon.get_qpoints_dict()["frequencies"])
    return np.array(bands), {"supercell": [int(r) for r in repeats],
                             "atoms": len(phonon.supercell),
                             "displacements": len(phonon.supercells_with_displacements),
                             "residual_force_eV_A": float(np.abs(pristine[0]).max())}


def crystal_bands(crystal: str, forces: ForceSets, settings: PhononSettings) -> dict:
    """One crystal's bands along its path: the model's own and, where the force provider
    gives them, every ensemble member's (frequencies rounded to 1e-3 THz)."""
    primitive = CRYSTALS[crystal]()
    path = band_path(LATTICES[crystal], primitive.cell.array, settings.points_per_segment)
    repeats = supercell_repeats(primitive.cell.array, settings.supercell_min_width_A)
    start = time.perf_counter()
    bands, details = phonon_bands(primitive, forces, repeats, settings.displacement_A,
                                  path["qpoints"])
    bands = np.round(bands, 3)
    return {"crystal": crystal, "lattice": LATTICES[crystal], **details,
            "wall_s": time.perf_counter() - start,
            "distance": path["distance"].round(6).tolist(), "ticks": path["ticks"],
            "labels": path["labels"], "qpoints": path["qpoints"].round(6).tolist(),
            "frequencies_THz": bands[0].tolist(), "ensemble_THz": bands[1:].tolist()}


def phonon_runs(forces: ForceSets, settings: PhononSettings, log: RowLog | None = None,
                progress: bool = True) -> list[dict]:
    """One result per crystal; crystals already in ``log`` (a killed job's) are not redone,
    and every new one is added to it."""
    from tqdm import tqdm

    rows = []
    for crystal in tqdm(settings.crystals, desc="phonons", disable=not progress):
        row = log.get(crystal) if log is not None else None
        if row is None:
            row = crystal_bands(crystal, forces, settings)
            if log is not None:
                log.add(row, crystal)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- force providers


def calculator_forces(calculator) -> ForceSets:
    """One force set from an ASE calculator (a model without an ensemble)."""

    def forces(atoms: Atoms) -> np.ndarray:
        atoms = atoms.copy()
        atoms.calc = calculator
        return atoms.get_forces()[None]

    return forces


def reference_forces(reference: dict, elements: set[str]) -> ForceSets:
    """Forces of the reference engine, through the labeling path itself."""
    from petmad.reference import make_engine

    engine = make_engine(reference)
    engine.check_available()
    engine.prepare(elements)  # e.g. PAW setups

    def forces(atoms: Atoms) -> np.ndarray:
        return engine.compute(atoms).get_forces()[None]

    return forces


def metatomic_forces(model, device: str = "cpu") -> ForceSets:
    """Forces of a metatomic model's ``energy`` and, when it has one, of every column of
    its ``energy_ensemble`` (each an energy of its own), all by differentiating the
    energies of one evaluation with respect to the positions."""
    import torch
    from metatomic.torch import ModelEvaluationOptions, ModelOutput, systems_to_torch
    from vesin.metatomic import neighbor_lists_for_model

    capabilities = model.capabilities()
    dtype = getattr(torch, capabilities.dtype)
    names = [name for name in ("energy", "energy_ensemble") if name in capabilities.outputs]
    options = ModelEvaluationOptions(
        length_unit="angstrom",
        outputs={name: ModelOutput(sample_kind="system") for name in names})
    model = model.to(device)
    neighbours = neighbor_lists_for_model("angstrom", model)

    def forces(atoms: Atoms) -> np.ndarray:
        system = systems_to_torch(atoms, dtype=dtype, device=device,
                                  positions_requires_grad=True)
        for calculator in neighbours:
            calculator.add_neighbor_list([system], copy=True)
        outputs = model([system], options, check_consistency=False)
        energies = torch.cat([outputs[name].block().values[0] for name in names])
        # One backward pass per energy, on one graph (retained until the last); batched
        # gradients (vmap) do not go through every TorchScript model.
        gradients = [torch.autograd.grad(energy, system.positions,
                                         retain_graph=index < len(energies) - 1)[0]
                     for index, energy in enumerate(energies)]
        return -torch.stack(gradients).detach().cpu().double().numpy()

    return forces


def model_forces(model: str, device: str = "cpu") -> ForceSets:
    """Forces of an exported model (.pt, with its ensemble if it has one) or of any other
    model ``load_calculator`` takes (no ensemble)."""
    if not str(model).endswith(".pt"):
        from petmad.models.evaluate import load_calculator

        return calculator_forces(load_calculator(model, device))
    from metatomic.torch import load_atomistic_model

    from petmad.models.training import resolve_device

    with reading(model, "exported model"):
        loaded = load_atomistic_model(str(model))
    return metatomic_forces(loaded, resolve_device(device))
