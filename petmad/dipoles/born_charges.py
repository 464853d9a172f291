"""Cell dipoles of perovskite BaTiO3 supercells from Born effective charges.

M = Σ_i Z*_i u_i, with u_i the displacement of atom i from its ideal cubic-perovskite site
in the structure's own (strained) lattice of 5-atom pseudo-cubic cells: Ba at (0, 0, 0), Ti
at (½, ½, ½), O at (0, ½, ½), (½, 0, ½), (½, ½, 0) of each cell.  Z*_Ba and Z*_Ti are
isotropic; an oxygen's tensor is Z∥ along its Ti-O-Ti chain (the cell axis through the two
Ti it bridges) and Z⊥ across it.  Sites are matched with the ideal lattice's origin on the
first Ba atom, and displacements are taken relative to their mean, which moves the origin
to the best fit; with the acoustic sum rule, M does not depend on where the structure sits
in its cell.

This is the linear (small-displacement) polarization model; the data stage uses it when the
reference engine gives no polarization (``BornCharges`` in the config has the values and
their source).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from petmad.dipoles import DipoleDataError

PSEUDO_CUBIC_LATTICE_A = 4.0  # BaTiO3 is within 2 % of this in every phase
DIPOLE_KEY = "cell_dipole"  # e·Å; not "dipole", which ASE files under calculator results
MAX_DISPLACEMENT_A = 1.0  # farther from every ideal site: not a perovskite frame

# Ideal fractional sites in a 5-atom cell; an oxygen's entry is the cell axis of its chain.
SITES = {
    "Ba": [((0.0, 0.0, 0.0), None)],
    "Ti": [((0.5, 0.5, 0.5), None)],
    "O": [((0.0, 0.5, 0.5), 0), ((0.5, 0.0, 0.5), 1), ((0.5, 0.5, 0.0), 2)],
}


class NotPerovskiteError(DipoleDataError):
    """The structure is not a BaTiO3 supercell close to the ideal perovskite sites."""


def pseudocubic_repeats(atoms: Atoms) -> tuple[int, int, int]:
    """How many 5-atom cells each cell vector spans, from the vectors' lengths."""
    repeats = tuple(max(1, round(length / PSEUDO_CUBIC_LATTICE_A))
                    for length in atoms.cell.lengths())
    symbols = atoms.get_chemical_symbols()
    cells = int(np.prod(repeats))
    counts = {s: symbols.count(s) for s in ("Ba", "Ti", "O")}
    if counts != {"Ba": cells, "Ti": cells, "O": 3 * cells} or len(symbols) != 5 * cells:
        raise NotPerovskiteError(
            f"{atoms.get_chemical_formula()} with cell lengths "
            f"{np.round(atoms.cell.lengths(), 2).tolist()} Å is not a {repeats} supercell of "
            "5-atom BaTiO3 cells")
    return repeats


def site_displacements(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Displacements (Å, relative to their mean) of every atom from its ideal site, and each
    oxygen's chain axis (0, 1, 2; -1 for Ba and Ti)."""
    repeats = np.array(pseudocubic_repeats(atoms))
    unit_cell = atoms.cell.array / repeats[:, None]
    scaled = atoms.get_scaled_positions(wrap=True) * repeats
    # The ideal lattice's origin on the first Ba: the structure may sit anywhere in its cell.
    scaled -= scaled[atoms.get_chemical_symbols().index("Ba")]
    displacements = np.zeros((len(atoms), 3))
    axes = np.full(len(atoms), -1)
    occupied = set()
    for index, symbol in enumerate(atoms.get_chemical_symbols()):
        best = None
        for site, axis in SITES[symbol]:
            offset = scaled[index] - np.array(site)
            cell_index = np.round(offset)
            cartesian = (offset - cell_index) @ unit_cell
            if best is None or np.linalg.norm(cartesian) < np.linalg.norm(best[0]):
                best = (cartesian, axis, tuple(cell_index.astype(int) % repeats), site)
        displacements[index], axes[index] = best[0], -1 if best[1] is None else best[1]
        occupied.add((best[2], best[3]))
    if len(occupied) != len(atoms):
        raise NotPerovskiteError(
            f"{len(atoms) - len(occupied)} ideal perovskite sites hold two atoms: the "
            "structure is too far from a BaTiO3 supercell")
    displacements -= displacements.mean(axis=0)
    largest = np.linalg.norm(displacements, axis=1).max()
    if largest > MAX_DISPLACEMENT_A:
        raise NotPerovskiteError(f"an atom is {largest:.2f} Å from its ideal perovskite site "
                                 f"(more than {MAX_DISPLACEMENT_A} Å)")
    return displacements, axes


def born_charge_tensors(atoms: Atoms, axes: np.ndarray, charges: dict[str, float]
                        ) -> np.ndarray:
    """Z*_i (e, 3 × 3 per atom); ``charges`` has Ba, Ti, O_parallel, O_perpendicular."""
    repeats = np.array(pseudocubic_repeats(atoms))
    chain = atoms.cell.array / repeats[:, None]
    chain /= np.linalg.norm(chain, axis=1, keepdims=True)
    tensors = np.zeros((len(atoms), 3, 3))
    for index, symbol in enumerate(atoms.get_chemical_symbols()):
        if symbol == "O":
            e = chain[axes[index]]
            tensors[index] = charges["O_perpendicular"] * np.eye(3) + \
                (charges["O_parallel"] - charges["O_perpendicular"]) * np.outer(e, e)
        else:
            tensors[index] = charges[symbol] * np.eye(3)
    return tensors


def born_charge_dipole(atoms: Atoms, charges: dict[str, float]) -> np.ndarray:
    """The cell dipole M = Σ Z*_i u_i in e·Å."""
    displacements, axes = site_displacements(atoms)
    tensors = born_charge_tensors(atoms, axes, charges)
    return np.einsum("iab,ib->a", tensors, displacements)


def reference_dipole(frame: Atoms) -> np.ndarray | None:
    """The reference engine's dipole of a labelled frame, if it gave one (ASE keeps a
    ``dipole`` in the calculator results, also when reading extxyz)."""
    if frame.calc is not None and frame.calc.results.get("dipole") is not None:
        return np.asarray(frame.calc.results["dipole"], float)
    return None


def label_dipoles(frames: list[Atoms], charges: dict[str, float]) -> list[Atoms]:
    """Copies of ``frames`` with ``info[DIPOLE_KEY]`` (e·Å) and ``info['dipole_source']``:
    the reference engine's dipole where a frame has one, else the Born-charge dipole."""
    labelled = []
    for frame in frames:
        copy = frame.copy()  # positions, cell and info; energies and forces are not needed
        dipole = reference_dipole(frame)
        copy.info["dipole_source"] = "born_effective_charges" if dipole is None else "reference"
        copy.info[DIPOLE_KEY] = born_charge_dipole(frame, charges) if dipole is None else dipole
        labelled.append(copy)
    return labelled
