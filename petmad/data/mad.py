"""An offline analogue of the MAD universal training set (paper II.A and IV.A).

The paper's eight subsets are built from published databases (MC3D, MC2D, SHIFTML);
here every subset comes from generators over ``MadSettings.elements`` so the workflow needs
no download:

* ``bulk``      ASE element reference states, plus binary/ternary prototypes with random
                species, scaled to covalent contact (stands in for MC3D);
* ``rattled``   bulk structures with Gaussian noise, σ = fraction × covalent radius;
* ``randcomp``  bulk sites with random species, volume = Σ 4/3 π r_cov³;
* ``surface``   slabs cleaved from bulk along a random (hkl), max |index| ≤ 3;
* ``cluster``   the 2–8 atoms nearest to a random site of a (rattled) bulk crystal;
* ``2d``        honeycomb and MX2 layers (stand-in for MC2D);
* ``molcrys``   2–4 g2 molecules packed into an orthorhombic cell (stand-in for SHIFTML);
* ``molfrag``   single g2 molecules, slightly rattled.

:func:`build_mad` is pure: structures depend only on ``(settings, seed)``, and each subset
draws from its own random stream so one subset's count never changes another's structures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache, reduce
from typing import TypeVar

import numpy as np
from ase import Atoms
from ase.build import bulk, graphene, molecule, mx2, surface
from ase.collections import g2
from ase.data import atomic_numbers, covalent_radii, reference_states
from ase.neighborlist import neighbor_list
from scipy.spatial.transform import Rotation

from petmad.config import MAD_SUBSETS, MadSettings
from petmad.data.geometry import (
    GeometryError,
    has_overlap,
    in_vacuum,
    rattle,
    random_strain,
    scale_to_contact,
)

CONTACT_TARGET = (0.95, 1.10)  # nearest-pair distance / sum of covalent radii after scaling
ELEMENT_REFERENCE_FRACTION = 0.3  # share of bulk draws that are elemental reference states
MIN_CELL_ATOMS = 4  # small bulk cells are repeated up to this size (within max_atoms)
RANDCOMP_FALLBACK_RATIO = 0.6  # contact ratio when the covalent volume would overlap
MAX_MILLER = 3
CLUSTER_SIZES = (2, 8)
MOLFRAG_SIGMA_A = 0.05
MOLCRYS_COPIES = (2, 4)
MOLCRYS_CONTACT = (1.1, 1.2)  # intermolecular distance ≥ 1.1 (r_i + r_j) + 1.2 Å
MOLCRYS_MAX_STRAIN = 0.02
MAX_DRAWS = 200

# Two-dimensional chemistry: honeycomb layers and MX2 (2H/1T) layers.
GROUP_14 = ("C", "Si", "Ge", "Sn", "Pb")
GROUP_13 = ("B", "Al", "Ga", "In")
GROUP_15 = ("N", "P", "As", "Sb")
CHALCOGENS_HALOGENS = ("O", "S", "Se", "Te", "F", "Cl", "Br", "I")
TRANSITION_METALS = tuple(
    symbol
    for symbol, z in atomic_numbers.items()
    if 21 <= z <= 30 or 39 <= z <= 48 or 72 <= z <= 80
)

Draw = Callable[[np.random.Generator], Atoms]
T = TypeVar("T")


class _Redraw(Exception):
    """This random draw cannot give a valid structure; draw again."""


# --------------------------------------------------------------------------- public


def build_mad(settings: MadSettings, seed: int) -> list[Atoms]:
    """``settings.generated_count(subset)`` structures per subset (its count times its
    oversampling factor), in ``MAD_SUBSETS`` order.

    Each structure carries ``info["subset"]`` and ``info["source"]`` (randcomp also
    ``info["volume_rule"]``: ``"covalent"`` or ``"contact"``).  Raises ``ValueError`` when a
    subset cannot be built from ``settings.elements`` / ``settings.max_atoms``.
    """
    structures: list[Atoms] = []
    for index, subset in enumerate(MAD_SUBSETS):
        count = settings.generated_count(subset)
        if count == 0:
            continue
        draw = _SUBSET_DRAWS[subset](settings)
        draws = [draw] * count
        if subset == "bulk":
            # Every element first, so models trained on this set know every species
            # (fine-tuning cannot add species to a PET).
            covering = [_element_draw(symbol, settings) for symbol in settings.elements]
            draws = covering[:count] + draws[len(covering):]
        rng = np.random.default_rng([seed, index])
        structures.extend(_valid_structure(subset, d, rng, settings) for d in draws)
    return structures


def _valid_structure(
    subset: str, draw: Draw, rng: np.random.Generator, settings: MadSettings
) -> Atoms:
    problem = ""
    for _ in range(MAX_DRAWS):
        try:
            atoms = draw(rng)
        except (GeometryError, _Redraw) as exc:
            problem = str(exc)
            continue
        if not 1 <= len(atoms) <= settings.max_atoms:
            problem = f"{len(atoms)} atoms (max_atoms={settings.max_atoms})"
        elif not np.isfinite(atoms.positions).all():
            problem = "non-finite positions"
        elif has_overlap(atoms):
            problem = f"overlapping atoms in {atoms.info['source']}"
        else:
            return _clean(atoms, subset)
    raise ValueError(
        f"MAD subset {subset!r}: no valid structure in {MAX_DRAWS} draws "
        f"(last problem: {problem})"
    )


def _clean(atoms: Atoms, subset: str) -> Atoms:
    """Only numbers, positions and cell survive: ASE builders attach magnetic moments
    (Fe, Ni, radicals) that would make the reference calculations spin-polarised."""
    clean = Atoms(
        numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc
    )
    clean.info = {"subset": subset, **atoms.info}
    return clean


def _tagged(atoms: Atoms, source: str, **extra: str) -> Atoms:
    atoms.info = {"source": source, **extra}
    return atoms


# --------------------------------------------------------------------------- bulk


def _cell(symbols: str, cell: list[float], scaled: list[tuple[float, float, float]]) -> Atoms:
    return Atoms(symbols, scaled_positions=scaled, cell=cell, pbc=True)


def _rutile(u: float = 0.305) -> Atoms:
    return _cell(
        "Ti2O4",
        [4.59, 4.59, 2.96],
        [(0, 0, 0), (0.5, 0.5, 0.5), (u, u, 0), (1 - u, 1 - u, 0),
         (0.5 + u, 0.5 - u, 0.5), (0.5 - u, 0.5 + u, 0.5)],
    )


def _perovskite() -> Atoms:
    return _cell(
        "SrTiO3",
        [3.905] * 3,
        [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
    )


def _l1_2() -> Atoms:
    return _cell("AuCu3", [3.75] * 3, [(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)])


# name -> (template with placeholder species, placeholders in order, formula pattern)
PROTOTYPES: dict[str, tuple[Callable[[], Atoms], tuple[str, ...], str]] = {
    "rocksalt": (lambda: bulk("NaCl", "rocksalt", a=5.64), ("Na", "Cl"), "{0}{1}"),
    "cesiumchloride": (lambda: bulk("CsCl", "cesiumchloride", a=4.12), ("Cs", "Cl"), "{0}{1}"),
    "zincblende": (lambda: bulk("ZnS", "zincblende", a=5.41), ("Zn", "S"), "{0}{1}"),
    "wurtzite": (lambda: bulk("ZnO", "wurtzite", a=3.25, c=5.21), ("Zn", "O"), "{0}{1}"),
    "fluorite": (lambda: bulk("CaF2", "fluorite", a=5.46), ("Ca", "F"), "{0}{1}2"),
    "rutile": (_rutile, ("Ti", "O"), "{0}{1}2"),
    "perovskite": (_perovskite, ("Sr", "Ti", "O"), "{0}{1}{2}3"),
    "L1_2": (_l1_2, ("Cu", "Au"), "{0}3{1}"),
}


@cache
def _reference_state_elements(elements: tuple[str, ...]) -> tuple[str, ...]:
    """Elements for which ``ase.build.bulk(symbol)`` knows a crystal (not H, N, Mn, ...)."""
    usable = []
    for symbol in elements:
        try:
            bulk(symbol)
        except ValueError:
            continue
        usable.append(symbol)
    return tuple(usable)


def _pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    return options[rng.integers(len(options))]


def _species(rng: np.random.Generator, elements: list[str], n: int) -> list[str]:
    """``n`` species, distinct while the element list allows."""
    return [str(s) for s in rng.choice(elements, size=n, replace=len(elements) < n)]


def _random_crystal(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    """A primitive/conventional cell: an elemental reference state (ASE's experimental
    lattice constant) or a prototype with random species scaled to covalent contact."""
    references = _reference_state_elements(tuple(settings.elements))
    if references and rng.random() < ELEMENT_REFERENCE_FRACTION:
        symbol = _pick(rng, references)
        structure = reference_states[atomic_numbers[symbol]]["symmetry"]
        return _tagged(bulk(symbol), f"{symbol} {structure} (ASE reference state)")
    name = _pick(rng, list(PROTOTYPES))
    build_template, placeholders, formula = PROTOTYPES[name]
    species = _species(rng, settings.elements, len(placeholders))
    substitution = dict(zip(placeholders, species))
    crystal = build_template()
    crystal.symbols = [substitution[s] for s in crystal.get_chemical_symbols()]
    crystal = scale_to_contact(crystal, rng.uniform(*CONTACT_TARGET))
    return _tagged(crystal, f"{name} {formula.format(*species)}")


def _element_draw(symbol: str, settings: MadSettings) -> Draw:
    """A crystal containing ``symbol``: its ASE reference state when there is one, else
    a rocksalt cell with a random partner scaled to covalent contact."""

    def draw(rng: np.random.Generator) -> Atoms:
        if symbol in _reference_state_elements(tuple(settings.elements)):
            structure = reference_states[atomic_numbers[symbol]]["symmetry"]
            crystal = _tagged(bulk(symbol), f"{symbol} {structure} (ASE reference state)")
        else:
            partner = _pick(rng, [e for e in settings.elements if e != symbol] or [symbol])
            crystal = bulk("NaCl", "rocksalt", a=5.0)
            crystal.symbols = [symbol if s == "Na" else partner for s in crystal.get_chemical_symbols()]
            crystal = scale_to_contact(crystal, rng.uniform(*CONTACT_TARGET))
            crystal = _tagged(crystal, f"rocksalt {symbol}{partner}")
        if len(crystal) > settings.max_atoms:
            raise _Redraw(f"{crystal.info['source']} has more than {settings.max_atoms} atoms")
        return _repeat_small_cell(crystal, settings.max_atoms)

    return draw


def _repeat_small_cell(atoms: Atoms, max_atoms: int) -> Atoms:
    """Double the shortest axis until the cell has ``MIN_CELL_ATOMS`` (within max_atoms)."""
    repeats = np.ones(3, dtype=int)
    while (
        len(atoms) * repeats.prod() < MIN_CELL_ATOMS
        and 2 * len(atoms) * repeats.prod() <= max_atoms
    ):
        repeats[np.argmin(atoms.cell.lengths() * repeats)] *= 2
    repeated = atoms.repeat(tuple(repeats))
    repeated.info = dict(atoms.info)
    return repeated


def _bulk(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    crystal = _random_crystal(rng, settings)
    if len(crystal) > settings.max_atoms:
        raise _Redraw(f"{crystal.info['source']} has more than {settings.max_atoms} atoms")
    return _repeat_small_cell(crystal, settings.max_atoms)


def _rattled(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    base = _bulk(rng, settings)
    if len(base) < 2:  # rattling a single atom is only a translation
        raise _Redraw("single-atom cell")
    sigma = settings.rattle_fraction * covalent_radii[base.numbers]
    return _tagged(rattle(base, sigma, rng), f"rattled {base.info['source']}")


def _randcomp(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    base = _bulk(rng, settings)
    atoms = base.copy()
    atoms.symbols = [str(s) for s in rng.choice(settings.elements, size=len(atoms))]
    covalent_volume = float(np.sum(4.0 / 3.0 * np.pi * covalent_radii[atoms.numbers] ** 3))
    atoms.set_cell(atoms.cell * (covalent_volume / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
    volume_rule = "covalent"
    # Rare: a site whose nearest neighbour sits far below the mean spacing.
    if has_overlap(atoms):
        atoms = scale_to_contact(atoms, RANDCOMP_FALLBACK_RATIO)
        volume_rule = "contact"
    source = f"random species on {base.info['source']} sites"
    return _tagged(atoms, source, volume_rule=volume_rule)


# --------------------------------------------------------------------------- surface


def _random_miller(rng: np.random.Generator) -> tuple[int, int, int]:
    while True:
        hkl = rng.integers(-MAX_MILLER, MAX_MILLER + 1, size=3)
        if hkl.any():
            divisor = reduce(math.gcd, (abs(int(i)) for i in hkl))
            return tuple(int(i) // divisor for i in hkl)


def _surface(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    crystal = _random_crystal(rng, settings)
    hkl = _random_miller(rng)
    # ase.build.surface uses a unimodular basis: one layer holds one crystal cell.
    max_layers = settings.max_atoms // len(crystal)
    min_layers = max(2, math.ceil(min(MIN_CELL_ATOMS, settings.max_atoms) / len(crystal)))
    if max_layers < min_layers:
        raise _Redraw(f"{crystal.info['source']}: {min_layers} layers exceed max_atoms")
    layers = int(rng.integers(min_layers, max_layers + 1))
    # ase.build.surface already makes the third vector normal to the plane (along z) and
    # centres the slab with ``vacuum`` on both sides.
    slab = surface(crystal, hkl, layers, vacuum=settings.vacuum_A)
    hkl_text = ",".join(map(str, hkl))
    return _tagged(slab, f"{crystal.info['source']} ({hkl_text}) slab, {layers} layers")


# --------------------------------------------------------------------------- cluster


def _cluster(rng: np.random.Generator, settings: MadSettings) -> Atoms:
    crystal = _rattled(rng, settings) if rng.random() < 0.5 else _bulk(rng, settings)
    size = int(rng.integers(CLUSTER_SIZES[0], min(CLUSTER_SIZES[1], settings.max_atoms) + 1))
    centre = int(rng.integers(len(crystal)))
    cutoff = 3.0
    while True:  # widen until the centre has enough neighbours (periodic images included)
        first, neighbours, vectors = neighbor_list("ijD", crystal, cutoff)
        mine = first == centre
        if mine.sum() >= size - 1:
            break
        cutoff *= 1.5
    nearest = np.argsort(np.linalg.norm(vectors[mine], axis=1), kind="stable")[: size - 1]
    origin = crystal.positions[centre]
    cluster = Atoms(
        numbers=[crystal.numbers[centre], *crystal.numbers[neighbours[mine][nearest]]],
        positions=np.vstack([origin, origin + vectors[mine][nearest]]),
    )
    centre_symbol = crystal.get_chemical_symbols()[centre]
    source = f"{size}-atom environment of {centre_symbol} in {crystal.info['source']}"
    return _tagged(in_vacuum(cluster, settings.vacuum_A), source)


# --------------------------------------------------------------------------- 2d


def _layer_draw(settings: MadSettings) -> Draw:
    elements = settings.elements
    honeycombs = [(x, x) for x in GROUP_14 if x in elements] + [
        (a, b) for a in GROUP_13 for b in GROUP_15 if a in elements and b in elements
    ]
    metals = [m for m in TRANSITION_METALS if m in elements]
    anions = [x for x in CHALCOGENS_HALOGENS if x in elements]
    dichalcogenides = [(m, x) for m in metals for x in anions]
    # Without any layered chemistry in the list, random species keep the subset available.
    random_species = not honeycombs and not dichalcogenides

    if random_species:
        lattices = ["honeycomb", "mx2"]
    else:
        lattices = ["honeycomb"] * bool(honeycombs) + ["mx2"] * bool(dichalcogenides)

    def draw(rng: np.random.Generator) -> Atoms:
        if _pick(rng, lattices) == "honeycomb":
            a, b = _species(rng, elements, 2) if random_species else _pick(rng, honeycombs)
            layer = graphene("C2", vacuum=settings.vacuum_A)
            layer.symbols = [a, b]
            source = f"honeycomb {a}{b}" if a != b else f"honeycomb {a}"
        else:
            m, x = _species(rng, elements, 2) if random_species else _pick(rng, dichalcogenides)
            kind = _pick(rng, ["2H", "1T"])
            layer = mx2("MoS2", kind=kind, vacuum=settings.vacuum_A)
            layer.symbols = [m, x, x]
            source = f"{kind}-{m}{x}2"
        if random_species:
            source += " (random species)"
        # Isotropic scaling keeps the MX2 bond angles while bringing the nearest pair to
        # covalent contact; the vacuum is re-set afterwards.
        layer = scale_to_contact(layer, rng.uniform(*CONTACT_TARGET))
        layer.center(vacuum=settings.vacuum_A, axis=2)
        options = [
            (i, j) for i in (1, 2, 3) for j in (1, 2, 3) if i * j * len(layer) <= settings.max_atoms
        ]
        if not options:
            raise _Redraw(f"{source} has more than {settings.max_atoms} atoms")
        repeats = _pick(rng, options)
        return _tagged(layer.repeat((*repeats, 1)), f"{source} {repeats[0]}x{repeats[1]}")

    return draw


# --------------------------------------------------------------------------- molecules


@cache
def _g2_molecules() -> dict[str, Atoms]:
    return {name: molecule(name) for name in g2.names}


def _molecules(subset: str, settings: MadSettings, max_size: int) -> list[str]:
    """g2 molecules (≥2 atoms, ≤ max_size) made only of the allowed elements."""
    allowed = set(settings.elements)
    polyatomic = {n: m for n, m in _g2_molecules().items() if len(m) >= 2}
    usable = [n for n, m in polyatomic.items() if set(m.get_chemical_symbols()) <= allowed]
    if not usable:
        missing = sorted(
            {tuple(sorted(set(m.get_chemical_symbols()) - allowed)) for m in polyatomic.values()},
            key=lambda symbols: (len(symbols), symbols),
        )
        raise ValueError(
            f"MAD subset {subset!r}: no g2 molecule is made only of the elements "
            f"{settings.elements}; elements missing (add any one group): "
            f"{[list(s) for s in missing[:6]]}"
        )
    fitting = [n for n in usable if len(polyatomic[n]) <= max_size]
    if not fitting:
        raise ValueError(
            f"MAD subset {subset!r}: no usable g2 molecule is small enough "
            f"(≤ {max_size} atoms each, from max_atoms={settings.max_atoms})"
        )
    return sorted(fitting)


def _molfrag_draw(settings: MadSettings) -> Draw:
    names = _molecules("molfrag", settings, settings.max_atoms)

    def draw(rng: np.random.Generator) -> Atoms:
        name = _pick(rng, names)
        rattled = rattle(_g2_molecules()[name], MOLFRAG_SIGMA_A, rng)
        return _tagged(in_vacuum(rattled, settings.vacuum_A), f"g2 molecule {name}")

    return draw


def _intermolecular_clearance(crystal: Atoms, molecule_ids: np.ndarray) -> float:
    """Smallest d_ij − (1.1 (r_i + r_j) + 1.2 Å) over atom pairs in different molecules
    (a molecule's own periodic images count as different)."""
    r = covalent_radii[crystal.numbers]
    factor, offset = MOLCRYS_CONTACT
    cutoff = factor * 2 * r.max() + offset
    i, j, d, vectors = neighbor_list("ijdD", crystal, cutoff)
    direct = crystal.positions[j] - crystal.positions[i]
    same_image = np.linalg.norm(vectors - direct, axis=1) < 1e-6
    inter = ~((molecule_ids[i] == molecule_ids[j]) & same_image)
    if not inter.any():
        return math.inf
    return float(np.min(d[inter] - (factor * (r[i] + r[j])[inter] + offset)))


def _molecular_crystal(copies: list[Atoms], grid: np.ndarray, spacing: np.ndarray) -> Atoms:
    cell = np.diag(grid * spacing)
    crystal = Atoms(cell=cell, pbc=True)
    sites = np.array(np.meshgrid(*(np.arange(n) for n in grid), indexing="ij")).reshape(3, -1).T
    for copy, site in zip(copies, sites):
        placed = copy.copy()
        placed.positions += (site + 0.5) * spacing
        crystal += placed
    return crystal


def _molcrys_draw(settings: MadSettings) -> Draw:
    names = _molecules("molcrys", settings, settings.max_atoms // MOLCRYS_COPIES[0])
    grids = {2: [(2, 1, 1)], 3: [(3, 1, 1)], 4: [(2, 2, 1), (4, 1, 1)]}

    def draw(rng: np.random.Generator) -> Atoms:
        name = _pick(rng, names)
        template = _g2_molecules()[name]
        most = min(MOLCRYS_COPIES[1], settings.max_atoms // len(template))
        n_copies = int(rng.integers(MOLCRYS_COPIES[0], most + 1))
        grid = rng.permutation(_pick(rng, grids[n_copies]))
        copies = []
        for rotation in Rotation.random(n_copies, rng=rng).as_matrix():
            copy = template.copy()
            rotated = copy.positions @ rotation.T
            # Centre the bounding box so neighbouring boxes `spacing` apart cannot touch.
            copy.positions = rotated - 0.5 * (rotated.min(axis=0) + rotated.max(axis=0))
            copies.append(copy)
        extent = np.max([np.ptp(c.positions, axis=0) for c in copies], axis=0)
        factor, offset = MOLCRYS_CONTACT
        gap = factor * 2 * covalent_radii[template.numbers].max() + offset
        spacing = extent + gap  # boxes this far apart cannot violate the contact rule
        ids = np.repeat(np.arange(n_copies), len(template))
        # Shrink the grid (molecules rigid) to the densest packing obeying the contact rule.
        loose, dense = 1.0, 0.2
        for _ in range(14):
            trial = 0.5 * (loose + dense)
            crystal = _molecular_crystal(copies, grid, spacing * trial)
            if _intermolecular_clearance(crystal, ids) >= 0:
                loose = trial
            else:
                dense = trial
        crystal = _molecular_crystal(copies, grid, spacing * loose)
        crystal = random_strain(crystal, MOLCRYS_MAX_STRAIN, rng)
        return _tagged(crystal, f"{n_copies} × {name} molecular crystal")

    return draw


# --------------------------------------------------------------------------- registry


def _with_settings(
    draw: Callable[[np.random.Generator, MadSettings], Atoms],
) -> Callable[[MadSettings], Draw]:
    return lambda settings: lambda rng: draw(rng, settings)


_SUBSET_DRAWS: dict[str, Callable[[MadSettings], Draw]] = {
    "bulk": _with_settings(_bulk),
    "rattled": _with_settings(_rattled),
    "randcomp": _with_settings(_randcomp),
    "surface": _with_settings(_surface),
    "cluster": _with_settings(_cluster),
    "2d": _layer_draw,
    "molcrys": _molcrys_draw,
    "molfrag": _molfrag_draw,
}
