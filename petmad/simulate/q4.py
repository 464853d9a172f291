"""Steinhardt Q4 order parameter as a differentiable collective variable, and the harmonic
restraint on it used by the interface-pinning melting-point method.

The paper pins a GaAs solid-liquid interface with ``V = k/2 (s - s_target)^2`` where ``s``
is the mean Q4 of the cell, rescaled so that bulk liquid gives 0 and bulk solid gives 1.
Everything here is written in float64 torch so that forces and stress come from autograd
and are exactly consistent with the energy (what energy-conserving MD needs); the pair
list itself is built in numpy, because it only has to decide which pairs exist.

``plumed_input`` writes the same bias for PLUMED (taper and normalisation included), for
runs that let PLUMED apply it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from petmad.simulate.settings import Q4RestraintSettings

EV_TO_KJ_PER_MOL = units.mol / units.kJ  # CODATA 2014, as ASE has it: 96.485332...
ANGSTROM_TO_NM = 0.1

# Steinhardt's q_l carries sqrt(4 pi / (2l + 1)) so that one neighbour gives q_l = 1;
# PLUMED's Q4 leaves this factor out, i.e. Q4_plumed = sqrt(9 / (4 pi)) * q4.
_Q4_PREFACTOR = 4.0 * math.pi / 9.0
PLUMED_Q4_SCALE = math.sqrt(9.0 / (4.0 * math.pi))

_DTYPE = torch.float64

# The settings live with the other simulation settings (documented and validated there).
Q4Settings = Q4RestraintSettings


@dataclass
class Q4Evaluation:
    """Restraint energy and its derivatives for one structure.

    Attributes:
        energy: ``k/2 (s - target)^2`` in eV.
        forces: ``-dE/dr``, shape (N, 3), eV/Å; zero on atoms outside ``species``.
        stress: (1/V) dE/dε, shape (3, 3), eV/Å^3 (ASE sign convention); zeros when the
            structure has no periodic direction.
        q_mean: mean per-atom q4 over the centre atoms.
        s: normalised order parameter ``(q_mean - q_liquid) / (q_solid - q_liquid)``.
    """

    energy: float
    forces: np.ndarray
    stress: np.ndarray
    q_mean: float
    s: float


# --------------------------------------------------------------------------- math


def _geometric_sum(x: torch.Tensor, terms: int) -> torch.Tensor:
    """``sum_{k<terms} x^k`` by Horner's rule: plain products keep gradients finite at 0."""
    acc = torch.ones_like(x)
    for _ in range(terms - 1):
        acc = acc * x + 1.0
    return acc


def switching_function(r: torch.Tensor, settings: Q4Settings) -> torch.Tensor:
    """PLUMED RATIONAL switching function (without D_MAX and without the taper).

    ``(1 - x^n) / (1 - x^m)`` is rewritten as a ratio of geometric sums, which has no
    removable singularity at x = 1 (it is n/m there); above x = 1 the sums are taken in
    1/x so large x cannot overflow.
    """
    n, m = settings.n, settings.m
    # Clamping at 0 gives exactly 1 (with zero gradient) for r < d0.
    x = torch.clamp((r - settings.d0_A) / settings.r0_A, min=0.0)
    x_low = torch.clamp(x, max=1.0)
    low = _geometric_sum(x_low, n) / _geometric_sum(x_low, m)
    y = 1.0 / torch.clamp(x, min=1.0)
    high = y ** (m - n) * _geometric_sum(y, n) / _geometric_sum(y, m)
    return torch.where(x <= 1.0, low, high)


def taper_function(r: torch.Tensor, settings: Q4Settings) -> torch.Tensor:
    """Cosine taper: 1 below ``cutoff - taper``, 0 at ``cutoff``, C1-continuous."""
    if settings.taper_A == 0.0:
        return torch.where(r < settings.cutoff_A, 1.0, 0.0).to(r)
    start = settings.cutoff_A - settings.taper_A
    u = torch.clamp((r - start) / settings.taper_A, 0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * u))


def pair_weights(r: torch.Tensor, settings: Q4Settings) -> torch.Tensor:
    """Neighbour weights ``w(r)``: switching function times taper."""
    return switching_function(r, settings) * taper_function(r, settings)


def real_spherical_harmonics_l4(u: torch.Tensor) -> torch.Tensor:
    """The nine real spherical harmonics of degree 4 (m = -4..4), orthonormal on the sphere.

    ``u`` has shape (..., 3) and should be a unit vector; the polynomials are written in
    homogeneous form (with ``r^2 = x^2 + y^2 + z^2``) so that they stay degree-4
    polynomials in the components.  Real harmonics are a unitary transform of the complex
    ones, so ``sum_m Y_4m^2`` equals ``sum_m |Y_4m|^2``: the Steinhardt norm is unchanged.
    """
    x, y, z = u[..., 0], u[..., 1], u[..., 2]
    x2, y2, z2 = x * x, y * y, z * z
    r2 = x2 + y2 + z2
    pi = math.pi
    harmonics = [
        0.75 * math.sqrt(35.0 / pi) * x * y * (x2 - y2),
        0.75 * math.sqrt(35.0 / (2.0 * pi)) * (3.0 * x2 - y2) * y * z,
        0.75 * math.sqrt(5.0 / pi) * x * y * (7.0 * z2 - r2),
        0.75 * math.sqrt(5.0 / (2.0 * pi)) * y * z * (7.0 * z2 - 3.0 * r2),
        (3.0 / 16.0) * math.sqrt(1.0 / pi) * (35.0 * z2 * z2 - 30.0 * z2 * r2 + 3.0 * r2 * r2),
        0.75 * math.sqrt(5.0 / (2.0 * pi)) * x * z * (7.0 * z2 - 3.0 * r2),
        0.375 * math.sqrt(5.0 / pi) * (x2 - y2) * (7.0 * z2 - r2),
        0.75 * math.sqrt(35.0 / (2.0 * pi)) * (x2 - 3.0 * y2) * x * z,
        (3.0 / 16.0) * math.sqrt(35.0 / pi) * (x2 * (x2 - 3.0 * y2) - y2 * (3.0 * x2 - y2)),
    ]
    return torch.stack(harmonics, dim=-1)


# ------------------------------------------------------------------ neighbour pairs


def _neighbour_pairs(
    points: np.ndarray, box: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import vesin

    periodic: bool | list[bool]
    if pbc.all() or not pbc.any():
        periodic = bool(pbc.all())
    else:
        periodic = [bool(p) for p in pbc]
    if not pbc.any():
        # The box is ignored without periodicity, but vesin still wants a finite one.
        box = np.zeros((3, 3))
    nl = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts = nl.compute(points, box, periodic, quantities="ijS")
    return (
        np.asarray(i, dtype=np.int64),
        np.asarray(j, dtype=np.int64),
        np.asarray(shifts, dtype=np.float64),
    )


def per_atom_q4(
    positions: torch.Tensor,
    cell: torch.Tensor,
    pbc: Sequence[bool] | bool | np.ndarray,
    settings: Q4Settings,
    centers: Sequence[int] | np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-atom Steinhardt q4 of ``centers`` (default: every atom), differentiable.

    ``q4_i = sqrt(4 pi / 9 * sum_m |q4m_i|^2)`` with
    ``q4m_i = sum_j w(r_ij) Y4m(r_ij / |r_ij|) / sum_j w(r_ij)``.  All atoms passed in are
    candidate neighbours (select a species by passing only its atoms).  Gradients flow to
    ``positions`` and ``cell``: pair vectors are ``r_j - r_i + S @ cell`` with the integer
    shifts ``S`` found by the (non-differentiable) neighbour search.  Centres without any
    weighted neighbour get q4 = 0 with zero gradient.  Note that q4 is normalised per
    atom, so it jumps from 0 to a finite value when an isolated atom acquires its first
    neighbour; in a condensed phase every atom always has neighbours.
    """
    positions = torch.as_tensor(positions).to(_DTYPE)
    cell = torch.as_tensor(cell).to(_DTYPE)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {tuple(positions.shape)}")
    n_atoms = positions.shape[0]
    pbc_array = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))

    if centers is None:
        center_index = np.arange(n_atoms)
    else:
        center_index = np.asarray(
            centers.detach().cpu().numpy() if isinstance(centers, torch.Tensor) else centers,
            dtype=np.int64,
        ).reshape(-1)
        if center_index.size and (center_index.min() < 0 or center_index.max() >= n_atoms):
            raise ValueError(f"centers must be atom indices in [0, {n_atoms})")
    n_centers = len(center_index)

    i, j, shifts = _neighbour_pairs(
        positions.detach().cpu().numpy(),
        cell.detach().cpu().numpy(),
        pbc_array,
        settings.cutoff_A,
    )
    # Map every atom to its row among the centres; pairs not starting at a centre drop out.
    slot = np.full(n_atoms, -1, dtype=np.int64)
    slot[center_index] = np.arange(n_centers)
    keep = slot[i] >= 0
    i, j, shifts = i[keep], j[keep], shifts[keep]

    i_t = torch.from_numpy(i).to(positions.device)
    j_t = torch.from_numpy(j).to(positions.device)
    slot_t = torch.from_numpy(slot[i]).to(positions.device)
    shift_t = torch.from_numpy(shifts).to(device=positions.device, dtype=_DTYPE)

    vectors = positions[j_t] - positions[i_t] + shift_t @ cell
    distances = torch.linalg.norm(vectors, dim=1)
    if distances.numel() and float(distances.detach().min()) < 1e-8:
        raise ValueError("two atoms (or an atom and its periodic image) overlap")
    weights = pair_weights(distances, settings)
    harmonics = real_spherical_harmonics_l4(vectors / distances[:, None])

    zeros = positions.new_zeros
    numerator = zeros((n_centers, 9)).index_add(0, slot_t, weights[:, None] * harmonics)
    coordination = zeros(n_centers).index_add(0, slot_t, weights)
    # Double-where so that neither the division nor the square root ever sees 0 in a
    # branch autograd differentiates (0 * inf would turn the gradient into NaN).
    has_neighbours = coordination > 0
    safe_coordination = torch.where(has_neighbours, coordination, 1.0)
    q4m = numerator / safe_coordination[:, None]
    norm2 = _Q4_PREFACTOR * (q4m * q4m).sum(dim=1)
    positive = norm2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, norm2, 1.0)), 0.0)


# ---------------------------------------------------------------------- restraint


def _species_indices(atoms: Atoms, settings: Q4Settings) -> np.ndarray:
    if settings.species is None:
        return np.arange(len(atoms))
    symbols = np.array(atoms.get_chemical_symbols())
    selected = np.flatnonzero(np.isin(symbols, settings.species))
    if selected.size == 0:
        raise ValueError(f"no atom of species {settings.species} in {atoms.get_chemical_formula()}")
    return selected


def _has_volume(atoms: Atoms) -> bool:
    return bool(atoms.pbc.any()) and abs(atoms.cell.volume) > 1e-12


def normalised_order(q_mean: torch.Tensor | float, settings: Q4Settings):
    """``s = (q_mean - q_liquid) / (q_solid - q_liquid)``."""
    return (q_mean - settings.q_liquid) / (settings.q_solid - settings.q_liquid)


def evaluate_restraint(atoms: Atoms, settings: Q4Settings) -> Q4Evaluation:
    """Energy, forces and stress of ``k/2 (s - target)^2`` for ``atoms``.

    Stress is the derivative with respect to a symmetric strain applied to both the
    positions and the cell (``x -> x (I + ε)``), divided by the volume.
    """
    selected = _species_indices(atoms, settings)
    positions = torch.tensor(atoms.positions, dtype=_DTYPE, requires_grad=True)
    cell = torch.tensor(atoms.cell.array, dtype=_DTYPE)
    strain = torch.zeros((3, 3), dtype=_DTYPE, requires_grad=True)
    deformation = torch.eye(3, dtype=_DTYPE) + 0.5 * (strain + strain.T)

    subset = (positions @ deformation)[torch.from_numpy(selected)]
    q4 = per_atom_q4(subset, cell @ deformation, atoms.pbc, settings)
    q_mean = q4.mean()
    s = normalised_order(q_mean, settings)
    energy = 0.5 * settings.kappa_eV * (s - settings.target) ** 2

    d_positions, d_strain = torch.autograd.grad(energy, (positions, strain))
    if _has_volume(atoms):
        stress = d_strain.detach().numpy() / abs(atoms.cell.volume)
    else:
        stress = np.zeros((3, 3))
    return Q4Evaluation(
        energy=float(energy.detach()),
        forces=-d_positions.detach().numpy(),
        stress=stress,
        q_mean=float(q_mean.detach()),
        s=float(s.detach()),
    )


def per_atom_q4_values(atoms: Atoms, settings: Q4Settings) -> np.ndarray:
    """Per-atom q4 of the atoms of ``settings.species`` (all atoms when None), in order."""
    selected = _species_indices(atoms, settings)
    with torch.no_grad():
        q4 = per_atom_q4(
            torch.tensor(atoms.positions[selected], dtype=_DTYPE),
            torch.tensor(atoms.cell.array, dtype=_DTYPE),
            atoms.pbc,
            settings,
        )
    return q4.numpy()


def mean_q4(atoms: Atoms, settings: Q4Settings) -> float:
    """Mean per-atom q4 (no restraint): the q_solid / q_liquid reference of a bulk run."""
    return float(per_atom_q4_values(atoms, settings).mean())


class Q4RestraintCalculator(Calculator):
    """ASE calculator for the Q4 pinning restraint alone (add it to the potential's
    calculator with ``ase.calculators.mixing.SumCalculator``).

    Besides energy, forces and stress (Voigt order), ``results`` holds ``q4_mean`` and
    ``s`` as floats.
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: Q4Settings, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        result = evaluate_restraint(self.atoms, self.settings)
        self.results = {
            "energy": result.energy,
            "free_energy": result.energy,
            "forces": result.forces,
            "stress": full_3x3_to_voigt_6_stress(result.stress),
            "q4_mean": result.q_mean,
            "s": result.s,
        }


# ------------------------------------------------------------------------- PLUMED


def _index_ranges(indices: Sequence[int]) -> str:
    """1-based PLUMED atom list with consecutive runs collapsed: ``1-4,7,9-10``."""
    parts: list[str] = []
    ordered = sorted(indices)
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start] + 1, ordered[end] + 1
        parts.append(str(first) if first == last else f"{first}-{last}")
        start = end + 1
    return ",".join(parts)


def _num(value: float) -> str:
    """Shortest text that reads back as the same double: the file is the bias, exactly."""
    return repr(float(value))


def plumed_switching_expression(settings: Q4Settings) -> str:
    """:func:`pair_weights` as a PLUMED (Lepton) expression in ``x``, the distance in nm.

    PLUMED's CUSTOM switching function is given ``x = (r - D_0) / R_0``; with ``R_0=1`` and
    no ``D_0`` that is the distance itself, so the offset, the rational function and the
    cosine taper are all written out here, in the same form as the torch code: the rational
    part of ``y = max(r - d0, 0) / r0`` (``1/(1 + y^n)`` when m = 2n, else the ratio of
    geometric sums, which has no 0/0 at y = 1), times the taper.
    """
    r0 = _num(settings.r0_A * ANGSTROM_TO_NM)
    d0 = settings.d0_A * ANGSTROM_TO_NM
    y = f"(x/{r0})" if d0 == 0.0 else f"(max(x-{_num(d0)},0)/{r0})"
    n, m = settings.n, settings.m
    if m == 2 * n:
        rational = f"1/(1+{y}^{n})"
    else:
        def geometric(terms: int) -> str:
            return "+".join(["1", *(f"{y}^{k}" for k in range(1, terms))])
        rational = f"({geometric(n)})/({geometric(m)})"
    if settings.taper_A == 0.0:
        return rational  # D_MAX cuts at the cutoff, as the torch code does
    start = _num((settings.cutoff_A - settings.taper_A) * ANGSTROM_TO_NM)
    width = _num(settings.taper_A * ANGSTROM_TO_NM)
    return f"({rational})*0.5*(1+cos(pi*min(max(x-{start},0),{width})/{width}))"


def plumed_cell_problem(atoms: Atoms, settings: Q4Settings) -> str | None:
    """Why PLUMED's Q4 would be wrong in this cell, or None.  PLUMED's contact matrix sees
    only the nearest periodic image of each neighbour, so every periodic cell height must
    be at least twice the cutoff (the torch restraint sums over all images)."""
    heights = [1.0 / np.linalg.norm(row) for row in np.linalg.inv(atoms.cell.array).T]
    short = [(axis, height) for axis, (height, periodic) in
             enumerate(zip(heights, atoms.pbc)) if periodic and height < 2 * settings.cutoff_A]
    if not short:
        return None
    axis, height = min(short, key=lambda item: item[1])
    return (f"cell height {height:.2f} Å along axis {'abc'[axis]} is under twice the Q4 "
            f"cutoff ({2 * settings.cutoff_A:g} Å), and PLUMED counts only the nearest "
            "periodic image of each neighbour")


def plumed_input(
    settings: Q4Settings,
    natoms: int,
    symbols: list[str],
    stride: int = 100,
    colvar_file: str = "COLVAR",
) -> str:
    """A PLUMED input applying exactly the torch restraint (PLUMED units: nm and kJ/mol).

    - The neighbour weights are :func:`plumed_switching_expression`, taper included;
      NOSTRETCH keeps PLUMED from shifting them to reach 0 at D_MAX.
    - PLUMED's Q4 omits Steinhardt's sqrt(4 pi / 9) factor, so its mean is rescaled into
      ``q4_mean`` (this module's convention) before ``s`` is formed.
    - ``q4_mean``, ``s`` and ``pin.bias`` are the values an MD engine can read back.
    """
    if len(symbols) != natoms:
        raise ValueError(f"got {len(symbols)} symbols for natoms={natoms}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if settings.species is None:
        indices = list(range(natoms))
    else:
        indices = [k for k, symbol in enumerate(symbols) if symbol in settings.species]
        if not indices:
            raise ValueError(f"no atom of species {settings.species} among the symbols")

    switch = (f"CUSTOM FUNC={plumed_switching_expression(settings)} R_0=1 "
              f"D_MAX={_num(settings.cutoff_A * ANGSTROM_TO_NM)} NOSTRETCH")
    kappa = settings.kappa_eV * EV_TO_KJ_PER_MOL
    lines = [
        "# Q4 interface-pinning restraint V = KAPPA/2 (s - AT)^2 (PLUMED units: nm, kJ/mol),",
        "# the same bias as petmad.simulate.q4 (taper included).  PLUMED's Q4 lacks the",
        "# sqrt(4pi/9) factor: q4_mean puts it back.  Needs the symfunc and adjmat modules,",
        "# and cell heights of at least twice D_MAX (PLUMED sees the nearest image only).",
        f"q4cv: Q4 SPECIES={_index_ranges(indices)} SWITCH={{{switch}}} MEAN",
        f"q4_mean: COMBINE ARG=q4cv.mean COEFFICIENTS={_num(1.0 / PLUMED_Q4_SCALE)} PERIODIC=NO",
        (
            f"s: COMBINE ARG=q4_mean COEFFICIENTS={_num(1.0 / (settings.q_solid - settings.q_liquid))} "
            f"PARAMETERS={_num(settings.q_liquid)} PERIODIC=NO"
        ),
        f"pin: RESTRAINT ARG=s AT={_num(settings.target)} KAPPA={_num(kappa)}",
        f"PRINT ARG=q4_mean,s,pin.bias STRIDE={stride} FILE={colvar_file} FMT=%.15g",
        f"FLUSH STRIDE={stride}",
    ]
    return "\n".join(lines) + "\n"
