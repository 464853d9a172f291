"""Geometric operations every structure builder shares: contact distances, rattling,
strain, random packing.  Pure functions on :class:`ase.Atoms`; randomness only through the
``numpy.random.Generator`` passed in.

Distances are judged against covalent radii: a pair is *overlapping* when it is closer
than ``OVERLAP_RATIO`` times the sum of the two covalent radii.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list
from ase.units import kB

OVERLAP_RATIO = 0.5


class GeometryError(RuntimeError):
    """A builder could not place atoms without overlaps."""


def radii(atoms: Atoms) -> np.ndarray:
    return covalent_radii[atoms.numbers]


def contact_ratios(atoms: Atoms, cutoff: float | None = None) -> np.ndarray:
    """d_ij / (r_i + r_j) for every pair (with periodic images) closer than ``cutoff``."""
    if len(atoms) < 2 and not atoms.pbc.any():
        return np.array([])
    r = radii(atoms)
    if cutoff is None:
        cutoff = 2.0 * 2.0 * float(r.max())
    i, j, d = neighbor_list("ijd", atoms, cutoff, self_interaction=False)
    return d / (r[i] + r[j])


def min_contact_ratio(atoms: Atoms) -> float:
    """Smallest d_ij / (r_i + r_j); ``inf`` when no pair is within reach."""
    ratios = contact_ratios(atoms)
    return float(ratios.min()) if ratios.size else float("inf")


def has_overlap(atoms: Atoms, ratio: float = OVERLAP_RATIO) -> bool:
    # Only pairs closer than ratio × 2 r_max can overlap: a short neighbour search suffices.
    reach = 1.001 * ratio * 2.0 * float(radii(atoms).max()) if len(atoms) else 0.0
    return bool((contact_ratios(atoms, cutoff=reach) < ratio).any())


def scale_to_contact(atoms: Atoms, target: float = 1.0) -> Atoms:
    """Scale isotropically so the closest pair sits at ``target`` × the sum of covalent radii.

    Periodic structures scale their cell with the atoms; vacuum structures scale about
    their centre of positions.
    """
    current = min_contact_ratio(atoms)
    if not np.isfinite(current):
        return atoms.copy()
    factor = target / current
    scaled = atoms.copy()
    if scaled.pbc.any():
        scaled.set_cell(scaled.cell * factor, scale_atoms=True)
    else:
        centre = scaled.positions.mean(axis=0)
        scaled.positions = centre + (scaled.positions - centre) * factor
    return scaled


def rattle(
    atoms: Atoms,
    sigma: float | np.ndarray,
    rng: np.random.Generator,
    *,
    min_ratio: float = OVERLAP_RATIO,
    max_tries: int = 100,
) -> Atoms:
    """Gaussian displacements (σ per atom or scalar, Å), redrawn until nothing overlaps."""
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (len(atoms),))
    for _ in range(max_tries):
        moved = atoms.copy()
        moved.positions = atoms.positions + rng.normal(size=(len(atoms), 3)) * sigma[:, None]
        if not has_overlap(moved, min_ratio):
            return moved
    raise GeometryError(
        f"could not rattle {atoms.get_chemical_formula()} by σ≈{float(sigma.mean()):.3f} Å "
        f"without overlaps in {max_tries} tries"
    )


def thermal_sigma(temperature_K: float, force_constant_eV_A2: float) -> float:
    """Classical Einstein-oscillator amplitude per Cartesian component, sqrt(kB T / κ)."""
    return float(np.sqrt(kB * temperature_K / force_constant_eV_A2))


def random_strain(atoms: Atoms, max_strain: float, rng: np.random.Generator) -> Atoms:
    """Apply a random symmetric strain with components uniform in ±``max_strain``."""
    eps = rng.uniform(-max_strain, max_strain, size=(3, 3))
    eps = 0.5 * (eps + eps.T)
    strained = atoms.copy()
    strained.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return strained


def random_packing(
    symbols: list[str],
    cell: np.ndarray,
    rng: np.random.Generator,
    *,
    min_ratio: float = 0.8,
    max_tries: int = 20000,
    fixed: Atoms | None = None,
    region: tuple[float, float] = (0.0, 1.0),
) -> Atoms:
    """Insert atoms one by one at random positions of a periodic cell, rejecting overlaps.

    ``fixed`` atoms (already in ``cell``) are kept; new atoms are drawn with fractional z
    within ``region`` (used to fill half a box next to a crystal).
    """
    packed = fixed.copy() if fixed is not None else Atoms(cell=cell, pbc=True)
    packed.set_cell(cell)
    packed.pbc = True
    tries = 0
    for symbol in symbols:
        while True:
            tries += 1
            if tries > max_tries:
                raise GeometryError(
                    f"random packing of {len(symbols)} atoms failed after {max_tries} tries: "
                    "the box is too dense for the requested minimum distance"
                )
            frac = rng.uniform(0.0, 1.0, size=3)
            frac[2] = region[0] + (region[1] - region[0]) * frac[2]
            candidate = Atoms(symbol, scaled_positions=[frac], cell=cell, pbc=True)
            if _fits(packed, candidate, min_ratio):
                packed += candidate
                break
    return packed


def _fits(packed: Atoms, candidate: Atoms, min_ratio: float) -> bool:
    if len(packed) == 0:
        return True
    r_new = covalent_radii[candidate.numbers[0]]
    delta = packed.positions - candidate.positions[0]
    frac = np.linalg.solve(packed.cell.array.T, delta.T).T
    frac -= np.round(frac)
    distances = np.linalg.norm(frac @ packed.cell.array, axis=1)
    return bool(np.all(distances >= min_ratio * (radii(packed) + r_new)))


def in_vacuum(atoms: Atoms, vacuum: float) -> Atoms:
    """A non-periodic copy centred in a box with ``vacuum`` Å on every side."""
    isolated = atoms.copy()
    isolated.pbc = False
    isolated.center(vacuum=vacuum)
    return isolated


def random_molecular_packing(
    molecule: Atoms,
    count: int,
    cell: np.ndarray,
    rng: np.random.Generator,
    *,
    min_distance: float,
    pair_min_distance: dict[tuple[str, str], float] | None = None,
    max_tries: int = 100000,
) -> Atoms:
    """Insert ``count`` randomly oriented copies of ``molecule`` into a periodic cell.

    Each copy is rotated uniformly about its centre of mass, placed at a uniform random
    point and rejected when one of its atoms comes closer to an atom of another copy (or of
    its own periodic images) than ``pair_min_distance[(a, b)]`` (either order), otherwise
    ``min_distance``.  Atoms keep the template's order, copy after copy, and molecules are
    left whole (not wrapped into the cell).
    """
    cell = np.asarray(cell, dtype=float)
    symbols = molecule.get_chemical_symbols()
    pairs = pair_min_distance or {}
    # threshold[i, j]: closest approach allowed between template atoms i and j of two copies
    threshold = np.array(
        [
            [pairs.get((a, b), pairs.get((b, a), min_distance)) for b in symbols]
            for a in symbols
        ]
    )
    template = molecule.positions - molecule.get_center_of_mass()
    image_shifts = _lattice_shifts(cell)
    n_atoms = count * len(molecule)
    placed = np.empty((0, 3))
    for _ in range(max_tries):
        if len(placed) == n_atoms:
            break
        candidate = template @ _random_rotation(rng).T + rng.uniform(0.0, 1.0, 3) @ cell
        if _molecule_fits(candidate, placed, threshold, cell, image_shifts):
            placed = np.vstack([placed, candidate])
    if len(placed) < n_atoms:
        raise GeometryError(
            f"random packing of {count} {molecule.get_chemical_formula()} molecules failed "
            f"after {max_tries} tries: the box is too dense for the requested distances"
        )
    return Atoms(symbols * count, positions=placed, cell=cell, pbc=True)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation matrix (normalised Gaussian quaternion)."""
    w, x, y, z = (q := rng.normal(size=4)) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _lattice_shifts(cell: np.ndarray) -> np.ndarray:
    """The 26 nearest non-zero lattice translations (Cartesian)."""
    grid = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    return grid[np.any(grid != 0, axis=1)] @ cell


def _molecule_fits(
    candidate: np.ndarray,
    placed: np.ndarray,
    threshold: np.ndarray,
    cell: np.ndarray,
    image_shifts: np.ndarray,
) -> bool:
    n_template = len(candidate)
    # a copy must also stay clear of its own periodic images (small boxes)
    own = candidate[:, None, None, :] - candidate[None, :, None, :] - image_shifts[None, None]
    if np.any(np.linalg.norm(own, axis=-1) < threshold[:, :, None]):
        return False
    if len(placed) == 0:
        return True
    delta = placed[None, :, :] - candidate[:, None, :]
    frac = np.linalg.solve(cell.T, delta.reshape(-1, 3).T).T
    frac -= np.round(frac)
    distances = np.linalg.norm(frac @ cell, axis=1).reshape(n_template, len(placed))
    placed_kind = np.tile(np.arange(n_template), len(placed) // n_template)
    return bool(np.all(distances >= threshold[:, placed_kind]))
