"""Training configurations for the six case studies, from geometric sampling.

Every case-study dataset starts from its crystals (or random packings for liquids),
distorted by Einstein-model thermal rattles, σ = sqrt(kB T / κ) per Cartesian component
(``sampling.temperatures_K``, ``sampling.force_constant_eV_A2``), and random symmetric cell
strains up to ``sampling.max_strain``.  Temperatures are cycled over a condition's
structures, so every temperature is covered evenly.  Frames of reference-engine MD started
from such rattles join them (:mod:`petmad.data.md_sampling`).

:func:`build_system` returns exactly ``settings.n_structures`` structures, deterministic for
``(settings, seed)``, with

* ``info["subset"]``: the condition label (datasets are split 80/10/10 per label),
* ``info["temperature_K"]``: the temperature whose thermal amplitude was used,
* ``info["source"]``: a short description of how the structure was made.

Structures are spread over conditions in fixed proportions (each builder's docstring) by
largest remainder; every condition gets at least one structure when ``n_structures``
allows.  Condition ``k`` of system ``s`` draws from ``default_rng([seed, s, k])`` with ``s``
the system's index in :data:`petmad.config.SYSTEMS`, so changing one condition's share
leaves the others' random streams alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import cut, fcc111, molecule
from ase.units import _amu

from petmad.config import (
    SYSTEM_ELEMENTS,
    SYSTEMS,
    BtoData,
    GaasData,
    HeaData,
    LpsData,
    SuccinicData,
    ThermalSampling,
    WaterData,
)
from petmad.data.crystals import load_crystal, load_structure_file
from petmad.data.geometry import (
    GeometryError,
    radii,
    random_molecular_packing,
    random_packing,
    random_strain,
    rattle,
    thermal_sigma,
)

# Classical rattles miss the zero-point spread of protons that the water and succinic acid
# path-integral studies sample; widening σ_H by this factor is a crude, uncalibrated
# stand-in (for stiff X-H modes at room temperature the quantum spread is larger still).
H_DELOCALISATION_FACTOR = 1.5

LI_HOP_DISTANCE_A = (1.0, 2.0)
# Hopping Li may come closer to its neighbours than a relaxed crystal allows, but not closer
# than random liquid packings do: the same 0.8 × sum of covalent radii.
CLOSE_CONTACT_RATIO = 0.8

# Random packings of liquid GaAs: 0.9 × (r_Ga + r_As) ≈ 2.2 Å, below the liquid's first
# peak (~2.5 Å); at 0.8 a third of the packings exceeded the 50 eV/Å force filter.
LIQUID_CONTACT_RATIO = 0.9

WATER_MIN_DISTANCE_A = 1.5  # any intermolecular pair involving H
WATER_OO_MIN_DISTANCE_A = 2.5

HEA_ELEMENTS = SYSTEM_ELEMENTS["hea"]
BTO_PHASES = ("cubic", "tetragonal", "orthorhombic", "rhombohedral")

Sampler = Callable[[np.random.Generator, int], list[Atoms]]


@dataclass(frozen=True)
class Condition:
    subset: str
    weight: float  # share of the structures; 0 disables the condition
    sample: Sampler  # (rng, count) -> count structures


@dataclass(frozen=True)
class Phase:
    """A crystal to sample, the temperatures it is sampled at and how it was obtained."""

    atoms: Atoms
    subset: str
    source: str
    temperatures: Sequence[float]


# --------------------------------------------------------------------------- shared


def allocate(n: int, weights: Sequence[float]) -> list[int]:
    """Split ``n`` in proportion to ``weights`` (largest remainder), at least one per
    non-zero weight when ``n`` allows."""
    share = np.asarray(weights, dtype=float) / float(np.sum(weights))
    exact = n * share
    counts = np.floor(exact).astype(int)
    by_remainder = np.argsort(-(exact - counts), kind="stable")
    counts[by_remainder[: n - counts.sum()]] += 1
    enabled = share > 0
    while n >= enabled.sum() and np.any(counts[enabled] == 0):
        counts[np.argmax(counts)] -= 1
        counts[np.flatnonzero(enabled & (counts == 0))[0]] += 1
    return counts.tolist()


def sample_conditions(
    system: str, conditions: Sequence[Condition], n: int, seed: int
) -> list[Atoms]:
    system_index = SYSTEMS.index(system)
    structures: list[Atoms] = []
    for index, (condition, count) in enumerate(
        zip(conditions, allocate(n, [c.weight for c in conditions]))
    ):
        if count:
            rng = np.random.default_rng([seed, system_index, index])
            for atoms in condition.sample(rng, count):
                atoms.info["subset"] = condition.subset
                structures.append(atoms)
    return structures


def labelled(atoms: Atoms, source: str, temperature_K: float) -> Atoms:
    """Replace the inherited info with how this structure was made."""
    atoms.info = {"source": source, "temperature_K": float(temperature_K)}
    return atoms


def distort(
    atoms: Atoms,
    temperature_K: float,
    rng: np.random.Generator,
    sampling: ThermalSampling,
    *,
    strain: bool = True,
    sigma_scale: float | np.ndarray = 1.0,
) -> Atoms:
    """Random cell strain (unless ``strain`` is False), then a thermal rattle."""
    if strain:
        atoms = random_strain(atoms, sampling.max_strain, rng)
    sigma = thermal_sigma(temperature_K, sampling.force_constant_eV_A2) * sigma_scale
    return rattle(atoms, sigma, rng)


def thermal_samples(
    make_base: Callable[[np.random.Generator], Atoms],
    count: int,
    rng: np.random.Generator,
    sampling: ThermalSampling,
    *,
    source: str,
    temperatures: Sequence[float] | None = None,
    strain: bool = True,
    sigma_scale: float | np.ndarray = 1.0,
) -> list[Atoms]:
    """``count`` distorted copies of ``make_base(rng)``, cycling over the temperatures."""
    temperatures = temperatures or sampling.temperatures_K
    samples = []
    for i in range(count):
        temperature = temperatures[i % len(temperatures)]
        atoms = distort(
            make_base(rng), temperature, rng, sampling, strain=strain, sigma_scale=sigma_scale
        )
        samples.append(labelled(atoms, source, temperature))
    return samples


def fixed(atoms: Atoms) -> Callable[[np.random.Generator], Atoms]:
    return lambda _rng: atoms


def upper_half(temperatures: Sequence[float]) -> list[float]:
    """The hotter half of the temperatures (at least the hottest)."""
    ordered = sorted(temperatures)
    return ordered[len(ordered) // 2 :]


def require_stoichiometry(atoms: Atoms, formula: dict[str, int], what: str) -> None:
    symbols = atoms.get_chemical_symbols()
    counts = {element: symbols.count(element) for element in set(symbols)}
    units = gcd(*counts.values())
    if {element: n // units for element, n in counts.items()} != formula:
        raise ValueError(
            f"{what} has composition {atoms.get_chemical_formula()}, expected "
            + "".join(f"{element}{n if n > 1 else ''}" for element, n in formula.items())
        )


def hydrogen_scale(atoms: Atoms) -> np.ndarray:
    return np.where(atoms.numbers == 1, H_DELOCALISATION_FACTOR, 1.0)


# --------------------------------------------------------------------------- Li3PS4


def build_lps(settings: LpsData, seed: int) -> list[Atoms]:
    """Li3PS4 γ, β and α phases plus Li hops.

    Shares: ``gamma`` 30 %, ``beta`` 30 %, α 20 %, ``li_hop`` 20 %.  γ and β come from the
    shipped CIFs (or ``structure_files``) and are sampled at every temperature.  α has no
    offline coordinates: unless a file is given (subset ``alpha``), it is β with the volume
    expanded isotropically by ``alpha_volume_expansion`` (subset ``alpha_from_beta``); α is
    sampled only at the hotter half of the temperatures, where it is stable.  ``li_hop``
    cycles over the three phases and moves one random Li by 1–2 Å in a random direction
    (redrawn while it lands closer than 0.8 × the covalent contact), for diffusion barriers.
    """
    sampling = settings.sampling
    gamma = _lps_phase("gamma", settings, sampling.temperatures_K)
    beta = _lps_phase("beta", settings, sampling.temperatures_K)
    hot = upper_half(sampling.temperatures_K)
    if settings.structure_files.get("alpha") is None:
        alpha = _alpha_from_beta(beta, settings.alpha_volume_expansion, hot)
    else:
        alpha = _lps_phase("alpha", settings, hot)
    phases = (gamma, beta, alpha)

    def phase_sampler(phase: Phase) -> Sampler:
        return lambda rng, n: thermal_samples(
            fixed(phase.atoms),
            n,
            rng,
            sampling,
            source=phase.source,
            temperatures=phase.temperatures,
        )

    def li_hops(rng: np.random.Generator, count: int) -> list[Atoms]:
        samples = []
        for i in range(count):
            phase = phases[i % len(phases)]
            temperature = phase.temperatures[(i // len(phases)) % len(phase.temperatures)]
            hopped, distance = _displace_one_li(
                distort(phase.atoms, temperature, rng, sampling), rng
            )
            source = f"{phase.source}; one Li displaced by {distance:.2f} Å"
            samples.append(labelled(hopped, source, temperature))
        return samples

    conditions = [
        Condition(gamma.subset, 0.3, phase_sampler(gamma)),
        Condition(beta.subset, 0.3, phase_sampler(beta)),
        Condition(alpha.subset, 0.2, phase_sampler(alpha)),
        Condition("li_hop", 0.2, li_hops),
    ]
    return sample_conditions("lps", conditions, settings.n_structures, seed)


def _lps_phase(phase: str, settings: LpsData, temperatures: Sequence[float]) -> Phase:
    """The user's file for ``phase`` if given, else the shipped CIF, as a supercell."""
    repeats = "x".join(map(str, settings.supercell))
    user_file = settings.structure_files.get(phase)
    if user_file is not None:
        cell = load_structure_file(user_file)
        what = f"{phase}-Li3PS4 file {user_file}"
        require_stoichiometry(cell, {"Li": 3, "P": 1, "S": 4}, what)
        source = f"{phase}-Li3PS4 from {Path(user_file).name}, {repeats} supercell"
        return Phase(cell.repeat(settings.supercell), phase, source, temperatures)
    cell = load_crystal(f"lps_{phase}").repeat(settings.supercell)
    return Phase(cell, phase, f"{phase}-Li3PS4 shipped CIF, {repeats} supercell", temperatures)


def _alpha_from_beta(
    beta: Phase, volume_expansion: float, temperatures: Sequence[float]
) -> Phase:
    expanded = beta.atoms.copy()
    expanded.set_cell(beta.atoms.cell * (1.0 + volume_expansion) ** (1 / 3), scale_atoms=True)
    source = (
        f"stand-in for alpha-Li3PS4: {beta.source} with volume "
        f"+{100 * volume_expansion:.1f} % (no alpha coordinates offline)"
    )
    return Phase(expanded, "alpha_from_beta", source, temperatures)


def _displace_one_li(
    atoms: Atoms, rng: np.random.Generator, max_tries: int = 200
) -> tuple[Atoms, float]:
    lithium = np.flatnonzero(atoms.numbers == 3)
    contact = radii(atoms)
    for _ in range(max_tries):
        index = int(rng.choice(lithium))
        direction = rng.normal(size=3)
        distance = rng.uniform(*LI_HOP_DISTANCE_A)
        moved = atoms.copy()
        moved.positions[index] += distance * direction / np.linalg.norm(direction)
        others = np.delete(np.arange(len(moved)), index)
        gaps = moved.get_distances(index, others, mic=True)
        if np.all(gaps >= CLOSE_CONTACT_RATIO * (contact[index] + contact[others])):
            return moved, distance
    raise GeometryError(f"no Li could hop 1-2 Å without a close contact in {max_tries} tries")


# --------------------------------------------------------------------------- GaAs


def build_gaas(settings: GaasData, seed: int) -> list[Atoms]:
    """GaAs solid, liquid and solid–liquid interface (melting-point study).

    Shares: ``solid`` 40 %, ``liquid`` 30 %, ``interface`` 30 %.  The solid is the
    zincblende supercell, strained and rattled at every temperature.  The liquid packs the
    same Ga/As atoms at random (contacts ≥ 0.8 × covalent) into a cubic box at
    ``liquid_density_g_cm3``.  The interface cell stacks ``interface_cells_z`` cubic cells
    along z (in-plane repeats of the supercell, or 1×1 above ``interface_max_atoms``); its
    lower half stays crystalline and rattled, its upper half is a random packing of the
    removed atoms, so both halves stay 1:1.  Liquid and interface are rattled at the
    hottest temperature (the melting regime) and never strained (the pinning study keeps
    the in-plane cell fixed).
    """
    sampling = settings.sampling
    cubic = load_crystal("gaas")
    solid = cubic.repeat(settings.supercell)
    hottest = max(sampling.temperatures_K)
    liquid_box = _cubic_box(solid.get_masses().sum(), settings.liquid_density_g_cm3)
    interface_repeats = _interface_repeats(len(cubic), settings)
    template = cubic.repeat(interface_repeats)
    in_lower_half = _fractional_z(template) < 0.5
    repeats = "x".join(map(str, settings.supercell))

    def liquid(rng: np.random.Generator) -> Atoms:
        return random_packing(
            solid.get_chemical_symbols(), liquid_box, rng, min_ratio=LIQUID_CONTACT_RATIO
        )

    def interface(rng: np.random.Generator) -> Atoms:
        crystal = rattle(
            template[in_lower_half], thermal_sigma(hottest, sampling.force_constant_eV_A2), rng
        )
        return random_packing(
            template[~in_lower_half].get_chemical_symbols(),
            template.cell.array,
            rng,
            min_ratio=LIQUID_CONTACT_RATIO,
            fixed=crystal,
            region=(0.5, 1.0),
        )

    interface_source = (
        "GaAs zincblende {}x{}x{} cells, upper half replaced by a random packing".format(
            *interface_repeats
        )
    )
    conditions = [
        Condition(
            "solid",
            0.4,
            lambda rng, n: thermal_samples(
                fixed(solid),
                n,
                rng,
                sampling,
                source=f"GaAs zincblende, {repeats} cubic cells",
            ),
        ),
        Condition(
            "liquid",
            0.3,
            lambda rng, n: thermal_samples(
                liquid,
                n,
                rng,
                sampling,
                source=f"random packing at {settings.liquid_density_g_cm3} g/cm3",
                temperatures=[hottest],
                strain=False,
            ),
        ),
        Condition(
            "interface",
            0.3,
            lambda rng, n: [
                labelled(interface(rng), interface_source, hottest)
                for _ in range(n)
            ],
        ),
    ]
    return sample_conditions("gaas", conditions, settings.n_structures, seed)


def _interface_repeats(atoms_per_cell: int, settings: GaasData) -> tuple[int, int, int]:
    nx, ny = settings.supercell[:2]
    if atoms_per_cell * nx * ny * settings.interface_cells_z > settings.interface_max_atoms:
        nx = ny = 1
    return nx, ny, settings.interface_cells_z


def _fractional_z(atoms: Atoms) -> np.ndarray:
    # rounding first keeps atoms sitting on z = 0 at 0 instead of wrapping them to 1
    return np.round(atoms.get_scaled_positions(wrap=False)[:, 2], 8) % 1.0


def _cubic_box(mass_amu: float, density_g_cm3: float) -> np.ndarray:
    volume_A3 = mass_amu * _amu * 1e3 / density_g_cm3 * 1e24
    return np.eye(3) * volume_A3 ** (1 / 3)


# --------------------------------------------------------------------------- CoCrFeMnNi


def build_hea(settings: HeaData, seed: int) -> list[Atoms]:
    """Equimolar CoCrFeMnNi random alloy: bulk and (111) slabs (segregation study).

    Shares: ``bulk`` 60 %, ``slab_111`` 40 %.  Bulk: fcc supercell of the 4-atom cell with
    the shipped lattice constant, strained and rattled.  Slabs: ``fcc111`` with
    ``slab = (nx, ny, layers)``, ``vacuum_A`` each side, pbc (True, True, False), rattled
    only.  Each structure gets a fresh random permutation of a composition as equimolar as
    the site count allows (the elements receiving the extra atoms are drawn at random).
    """
    sampling = settings.sampling
    fcc_cell = load_crystal("hea_fcc")
    lattice_constant = float(fcc_cell.cell.cellpar()[0])
    bulk = fcc_cell.repeat(settings.supercell)
    slab = fcc111("Ni", size=settings.slab, a=lattice_constant, vacuum=settings.vacuum_A)

    def random_alloy(template: Atoms) -> Callable[[np.random.Generator], Atoms]:
        def make(rng: np.random.Generator) -> Atoms:
            alloy = template.copy()
            alloy.set_chemical_symbols(equimolar_species(len(alloy), rng))
            return alloy

        return make

    repeats = "x".join(map(str, settings.supercell))
    conditions = [
        Condition(
            "bulk",
            0.6,
            lambda rng, n: thermal_samples(
                random_alloy(bulk),
                n,
                rng,
                sampling,
                source=f"random fcc CoCrFeMnNi, {repeats} cells, a = {lattice_constant} Å",
            ),
        ),
        Condition(
            "slab_111",
            0.4,
            lambda rng, n: thermal_samples(
                random_alloy(slab),
                n,
                rng,
                sampling,
                source="random CoCrFeMnNi fcc(111) slab {}x{}x{}, {} Å vacuum".format(
                    *settings.slab, settings.vacuum_A
                ),
                strain=False,
            ),
        ),
    ]
    return sample_conditions("hea", conditions, settings.n_structures, seed)


def equimolar_species(n_sites: int, rng: np.random.Generator) -> list[str]:
    """CoCrFeMnNi on ``n_sites`` sites in random order, as equimolar as the count allows."""
    counts = np.full(len(HEA_ELEMENTS), n_sites // len(HEA_ELEMENTS))
    counts[rng.choice(len(HEA_ELEMENTS), n_sites % len(HEA_ELEMENTS), replace=False)] += 1
    return rng.permutation(np.repeat(HEA_ELEMENTS, counts)).tolist()


# --------------------------------------------------------------------------- water


def water_box(n_molecules: int, density_kg_m3: float, rng: np.random.Generator) -> Atoms:
    """A cubic periodic box of randomly placed and oriented H2O (O, H, H per molecule) at
    the given density, with intermolecular O–O ≥ 2.5 Å and H–any ≥ 1.5 Å."""
    water = molecule("H2O")
    box = _cubic_box(water.get_masses().sum() * n_molecules, density_kg_m3 / 1e3)
    return random_molecular_packing(
        water, n_molecules, box, rng, min_distance=WATER_MIN_DISTANCE_A,
        pair_min_distance={("O", "O"): WATER_OO_MIN_DISTANCE_A})


def build_water(settings: WaterData, seed: int) -> list[Atoms]:
    """Liquid water boxes (quantum-nuclear-effects study).

    Shares: ``liquid`` 50 %, ``liquid_h_delocalised`` 50 %.  Each box holds
    ``n_molecules`` randomly oriented H2O at ``density_kg_m3`` (cubic box from the mass),
    inserted with intermolecular O–O ≥ 2.5 Å and H–any ≥ 1.5 Å, then rattled without
    strain (the density is a fixed condition).  ``liquid_h_delocalised`` rattles H with
    σ × ``H_DELOCALISATION_FACTOR``.  Atoms are ordered O, H, H per molecule.
    """
    sampling = settings.sampling
    h_scale = np.tile(hydrogen_scale(molecule("H2O")), settings.n_molecules)

    def liquid(rng: np.random.Generator) -> Atoms:
        return water_box(settings.n_molecules, settings.density_kg_m3, rng)

    source = f"{settings.n_molecules} random H2O at {settings.density_kg_m3} kg/m3"
    conditions = [
        Condition(
            "liquid",
            0.5,
            lambda rng, n: thermal_samples(
                liquid, n, rng, sampling, source=source, strain=False
            ),
        ),
        Condition(
            "liquid_h_delocalised",
            0.5,
            lambda rng, n: thermal_samples(
                liquid,
                n,
                rng,
                sampling,
                source=f"{source}; H rattled x{H_DELOCALISATION_FACTOR}",
                strain=False,
                sigma_scale=h_scale,
            ),
        ),
    ]
    return sample_conditions("water", conditions, settings.n_structures, seed)


# --------------------------------------------------------------------------- succinic acid


def build_succinic(settings: SuccinicData, seed: int) -> list[Atoms]:
    """Succinic acid crystals (NMR-crystallography study).

    Shares: ``alpha`` 60 %, ``beta`` 40 % (``alpha`` 100 % without ``include_beta``).  Both
    polymorphs use ``supercell`` repeats, are strained and rattled, with H rattled at
    σ × ``H_DELOCALISATION_FACTOR`` as a crude stand-in for the quantum delocalisation the
    path-integral study samples.
    """
    sampling = settings.sampling
    repeats = "x".join(map(str, settings.supercell))

    def polymorph(name: str) -> Sampler:
        crystal = load_crystal(f"succinic_{name}").repeat(settings.supercell)
        return lambda rng, n: thermal_samples(
            fixed(crystal),
            n,
            rng,
            sampling,
            source=f"{name}-succinic acid shipped CIF, {repeats} supercell, "
            f"H sigma x{H_DELOCALISATION_FACTOR}",
            sigma_scale=hydrogen_scale(crystal),
        )

    conditions = [
        Condition("alpha", 0.6, polymorph("alpha")),
        Condition("beta", 0.4 if settings.include_beta else 0.0, polymorph("beta")),
    ]
    return sample_conditions("succinic", conditions, settings.n_structures, seed)


# --------------------------------------------------------------------------- BaTiO3


def build_bto(settings: BtoData, seed: int) -> list[Atoms]:
    """BaTiO3 cubic, tetragonal, orthorhombic and rhombohedral phases (dielectric study).

    Shares: 25 % each.  Every phase is a ``supercell`` of a 5-atom pseudo-cubic cell, so all
    phases have the same atom count and axes: the A-centred 10-atom Amm2 cell is reduced to
    its primitive cell (a, (b+c)/2, (c−b)/2), which carries the orthorhombic distortion
    onto the 5-atom cell (polarisation along pseudo-cubic [011]).  Cells are rotated to
    a ∥ x, b in the xy plane, atoms ordered Ba, Ti, O, O, O; strained and rattled.
    """
    sampling = settings.sampling
    repeats = "x".join(map(str, settings.supercell))

    def phase_sampler(phase: str) -> Sampler:
        crystal = bto_pseudocubic_cell(phase).repeat(settings.supercell)
        return lambda rng, n: thermal_samples(
            fixed(crystal),
            n,
            rng,
            sampling,
            source=f"{phase} BaTiO3 shipped CIF, {repeats} 5-atom cells",
        )

    conditions = [Condition(phase, 0.25, phase_sampler(phase)) for phase in BTO_PHASES]
    return sample_conditions("bto", conditions, settings.n_structures, seed)


def bto_pseudocubic_cell(phase: str) -> Atoms:
    """The shipped ``phase`` of BaTiO3 as a 5-atom pseudo-cubic cell (Ba, Ti, O, O, O; a ∥ x,
    b in the xy plane); see :func:`build_bto`."""
    crystal = load_crystal(f"bto_{phase}")
    if phase == "orthorhombic":
        crystal = cut(crystal, a=(1, 0, 0), b=(0, 0.5, 0.5), c=(0, -0.5, 0.5))
    order = {"Ba": 0, "Ti": 1, "O": 2}
    species_rank = [order[symbol] for symbol in crystal.get_chemical_symbols()]
    crystal = crystal[np.argsort(species_rank, kind="stable")]
    # same fractional coordinates in the standard orientation: a rigid rotation
    crystal.set_cell(crystal.cell.cellpar(), scale_atoms=True)
    return crystal


# --------------------------------------------------------------------------- entry point

SYSTEM_BUILDERS: dict[str, Callable[..., list[Atoms]]] = {
    "lps": build_lps,
    "gaas": build_gaas,
    "hea": build_hea,
    "water": build_water,
    "succinic": build_succinic,
    "bto": build_bto,
}

SETTINGS_TYPES = {
    "lps": LpsData,
    "gaas": GaasData,
    "hea": HeaData,
    "water": WaterData,
    "succinic": SuccinicData,
    "bto": BtoData,
}


def build_system(name: str, settings: object, seed: int) -> list[Atoms]:
    """``settings.n_structures`` configurations of case study ``name`` (see module doc)."""
    if name not in SYSTEM_BUILDERS:
        raise ValueError(f"unknown system {name!r}; known: {list(SYSTEM_BUILDERS)}")
    if not isinstance(settings, SETTINGS_TYPES[name]):
        raise TypeError(
            f"system {name!r} needs {SETTINGS_TYPES[name].__name__} settings, "
            f"got {type(settings).__name__}"
        )
    return SYSTEM_BUILDERS[name](settings, seed)
