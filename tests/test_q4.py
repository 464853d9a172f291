"""Steinhardt Q4 collective variable and its pinning restraint: ideal-lattice values checked
against an independent scipy computation, invariances, and forces/stress against finite
differences of the energy."""

import math

import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.md.verlet import VelocityVerlet
from scipy.spatial.transform import Rotation
from scipy.special import sph_harm_y

from petmad.simulate.q4 import (
    ANGSTROM_TO_NM,
    EV_TO_KJ_PER_MOL,
    PLUMED_Q4_SCALE,
    Q4RestraintCalculator,
    Q4Settings,
    evaluate_restraint,
    mean_q4,
    pair_weights,
    per_atom_q4,
    per_atom_q4_values,
    plumed_cell_problem,
    plumed_input,
    real_spherical_harmonics_l4,
    switching_function,
    taper_function,
)

# ------------------------------------------------------------ independent reference


def _complex_q4(neighbour_vectors: np.ndarray) -> float:
    """Textbook Steinhardt q4 with unit weights, from scipy's complex harmonics."""
    v = np.asarray(neighbour_vectors, dtype=float)
    r = np.linalg.norm(v, axis=1)
    theta = np.arccos(np.clip(v[:, 2] / r, -1.0, 1.0))
    phi = np.mod(np.arctan2(v[:, 1], v[:, 0]), 2.0 * np.pi)
    q4m = [sph_harm_y(4, m, theta, phi).mean() for m in range(-4, 5)]
    return math.sqrt(4.0 * math.pi / 9.0 * sum(abs(q) ** 2 for q in q4m))


def _signed_permutations(base) -> np.ndarray:
    import itertools

    vectors = set()
    for perm in itertools.permutations(base):
        for signs in itertools.product((1, -1), repeat=3):
            vectors.add(tuple(s * p for s, p in zip(signs, perm)))
    return np.array(sorted(vectors), dtype=float)


def _hcp_first_shell(a: float) -> np.ndarray:
    c = a * math.sqrt(8.0 / 3.0)
    in_plane = [
        (a * math.cos(k * math.pi / 3), a * math.sin(k * math.pi / 3), 0.0) for k in range(6)
    ]
    triangle = [
        (a / 2, a * math.sqrt(3) / 6),
        (-a / 2, a * math.sqrt(3) / 6),
        (0.0, -a / math.sqrt(3)),
    ]
    out_of_plane = [(x, y, dz) for x, y in triangle for dz in (c / 2, -c / 2)]
    return np.array(in_plane + out_of_plane)


# Ideal shells: (ASE structure, first-shell vectors, cutoff between first and second shell,
# literature q4 with the first shell only).
LATTICES = {
    "fcc": (bulk("Cu", "fcc", a=4.0), _signed_permutations((2.0, 2.0, 0.0)), 3.4, 0.19094),
    "bcc": (bulk("Fe", "bcc", a=3.0), _signed_permutations((1.5, 1.5, 1.5)), 2.85, 0.50918),
    "sc": (bulk("Po", "sc", a=3.0), _signed_permutations((3.0, 0.0, 0.0)), 3.6, 0.76376),
    # Diamond / zincblende: the 4 tetrahedral neighbours; degree 4 is even, so q4 equals
    # that of the 8 cube corners (bcc): 0.50918.
    "diamond": (bulk("Si", "diamond", a=5.43),
                np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * 5.43 / 4,
                3.4, 0.50918),
    "hcp": (
        bulk("Mg", "hcp", a=3.0, c=3.0 * math.sqrt(8.0 / 3.0)),
        _hcp_first_shell(3.0),
        3.6,
        0.09722,
    ),
}


def _first_shell_settings(cutoff: float, first_shell: float) -> Q4Settings:
    # d0 above the first shell gives its pairs weight exactly 1; the cutoff (taper
    # included) lies below the second shell, which therefore weighs exactly 0.
    return Q4Settings(r0_A=0.1, d0_A=first_shell + 0.05, cutoff_A=cutoff, taper_A=0.1, n=6, m=12)


@pytest.mark.parametrize("name", sorted(LATTICES))
def test_ideal_lattice_q4(name):
    atoms, shell, cutoff, literature = LATTICES[name]
    assert len(shell) == {"fcc": 12, "bcc": 8, "sc": 6, "hcp": 12, "diamond": 4}[name]
    reference = _complex_q4(shell)
    assert reference == pytest.approx(literature, abs=1e-3)

    first = float(np.linalg.norm(shell, axis=1).max())
    settings = _first_shell_settings(cutoff, first)
    for structure in (atoms, atoms.repeat((2, 2, 2))):
        values = per_atom_q4_values(structure, settings)
        np.testing.assert_allclose(values, reference, atol=1e-6)
        assert mean_q4(structure, settings) == pytest.approx(reference, abs=1e-6)


def test_ideal_lattices_are_distinguished():
    # A guard on the reference itself: the shells must not all give the same number
    # (diamond shares bcc's value by symmetry, see LATTICES).
    values = [_complex_q4(LATTICES[name][1]) for name in sorted(LATTICES) if name != "diamond"]
    assert min(np.diff(sorted(values))) > 0.05


# ------------------------------------------------------------------- building blocks


def test_real_harmonics_match_scipy_complex_ones():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(50, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    real = real_spherical_harmonics_l4(torch.tensor(u)).numpy()

    theta = np.arccos(u[:, 2])
    phi = np.mod(np.arctan2(u[:, 1], u[:, 0]), 2.0 * np.pi)
    for k, m in enumerate(range(-4, 5)):
        y = sph_harm_y(4, abs(m), theta, phi)
        if m > 0:
            expected = math.sqrt(2.0) * (-1) ** m * y.real
        elif m < 0:
            expected = math.sqrt(2.0) * (-1) ** m * y.imag
        else:
            expected = y.real
        np.testing.assert_allclose(real[:, k], expected, atol=1e-12, err_msg=f"m={m}")
    np.testing.assert_allclose((real**2).sum(axis=1), 9.0 / (4.0 * math.pi), rtol=1e-12)


def test_switching_function_values_and_singularity():
    settings = Q4Settings(r0_A=1.0, d0_A=0.5, n=6, m=10, cutoff_A=5.0, taper_A=1.0)
    r = torch.tensor([0.1, 0.5, 0.9, 1.3, 2.2, 4.5], dtype=torch.float64)
    x = np.clip((r.numpy() - 0.5) / 1.0, 0.0, None)
    expected = (1 - x**6) / (1 - x**10)
    expected[x == 0] = 1.0
    np.testing.assert_allclose(switching_function(r, settings).numpy(), expected, rtol=1e-12)

    # The removable singularity at x = 1 (r = 1.5): value n/m, smooth on both sides.
    at_one = torch.tensor([1.5 - 1e-7, 1.5, 1.5 + 1e-7], dtype=torch.float64, requires_grad=True)
    values = switching_function(at_one, settings)
    np.testing.assert_allclose(values.detach().numpy(), 0.6, atol=1e-6)
    (grad,) = torch.autograd.grad(values.sum(), at_one)
    # d/dx (1-x^n)/(1-x^m) at x = 1 is n (n - m) / (2 m).
    np.testing.assert_allclose(grad.numpy(), 6 * (6 - 10) / 20, rtol=1e-5)

    # Large x, where x^m overflows float64 (x = 3e4, x^80 ~ 1e358), still works: ~x^(n-m).
    sharp = Q4Settings(r0_A=1e-4, n=40, m=80, cutoff_A=5.0, taper_A=0.5)
    far = torch.tensor([5e-5, 3.0], dtype=torch.float64, requires_grad=True)
    w = switching_function(far, sharp)
    assert w[0].item() == pytest.approx(1.0, rel=1e-12)
    assert w[1].item() == pytest.approx(3e4**-40, rel=1e-12)
    (g,) = torch.autograd.grad(w.sum(), far)
    assert torch.isfinite(g).all()


def test_taper_is_continuous_with_its_slope():
    settings = Q4Settings(cutoff_A=4.0, taper_A=0.5)
    r = torch.tensor([3.0, 3.5, 3.75, 4.0, 4.2], dtype=torch.float64, requires_grad=True)
    t = taper_function(r, settings)
    np.testing.assert_allclose(t.detach().numpy(), [1.0, 1.0, 0.5, 0.0, 0.0], atol=1e-15)
    (slope,) = torch.autograd.grad(t.sum(), r)
    np.testing.assert_allclose(slope.numpy()[[0, 1, 3, 4]], 0.0, atol=1e-12)
    assert slope[2] == pytest.approx(-math.pi / (2 * 0.5))


# ------------------------------------------------------------------------ invariances


def _rattled_fcc(seed: int = 3) -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(stdev=0.12, seed=seed)
    return atoms


def test_rotation_and_translation_invariance():
    settings = Q4Settings()
    atoms = _rattled_fcc()
    reference = per_atom_q4_values(atoms, settings)
    assert reference.std() > 1e-3  # rattled: atoms really differ

    rotation = Rotation.random(random_state=7).as_matrix()
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell.array @ rotation.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rotation.T
    np.testing.assert_allclose(per_atom_q4_values(rotated, settings), reference, atol=1e-10)

    translated = atoms.copy()
    translated.positions += np.array([0.37, -1.9, 5.3])
    np.testing.assert_allclose(per_atom_q4_values(translated, settings), reference, atol=1e-10)
    translated.wrap()
    np.testing.assert_allclose(per_atom_q4_values(translated, settings), reference, atol=1e-10)


def test_centers_select_rows_of_the_full_result():
    settings = Q4Settings()
    atoms = _rattled_fcc()
    positions = torch.tensor(atoms.positions)
    cell = torch.tensor(atoms.cell.array)
    full = per_atom_q4(positions, cell, atoms.pbc, settings)
    centers = [5, 0, 17]
    subset = per_atom_q4(positions, cell, atoms.pbc, settings, centers=centers)
    np.testing.assert_allclose(subset.numpy(), full.numpy()[centers], rtol=1e-14)


# ------------------------------------------------------- forces and stress vs energy


def _energy(atoms: Atoms, settings: Q4Settings) -> float:
    return evaluate_restraint(atoms, settings).energy


def _finite_difference_forces(atoms: Atoms, settings: Q4Settings, h: float = 1e-5):
    forces = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for k in range(3):
            shifted = atoms.copy()
            shifted.positions[a, k] += h
            plus = _energy(shifted, settings)
            shifted.positions[a, k] -= 2 * h
            minus = _energy(shifted, settings)
            forces[a, k] = -(plus - minus) / (2 * h)
    return forces


def _finite_difference_stress(atoms: Atoms, settings: Q4Settings, h: float = 1e-6):
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(a, 3):
            energies = []
            for sign in (1, -1):
                strain = np.zeros((3, 3))
                strain[a, b] = strain[b, a] = sign * h  # symmetric strain
                deformed = atoms.copy()
                deformed.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=False)
                deformed.positions = atoms.positions @ (np.eye(3) + strain)
                energies.append(_energy(deformed, settings))
            derivative = (energies[0] - energies[1]) / (2 * h)
            stress[a, b] = stress[b, a] = derivative / (1 if a == b else 2)
    return stress / atoms.get_volume()


CASES = {
    "fcc_all": (
        _rattled_fcc,
        Q4Settings(kappa_eV=5.0, q_solid=0.3, q_liquid=0.02),
    ),
    "gaas_ga_only": (
        lambda: _rattled_gaas(),
        Q4Settings(r0_A=3.5, cutoff_A=4.6, taper_A=0.5, kappa_eV=3.0, q_solid=0.3, species=("Ga",)),
    ),
}


def _rattled_gaas() -> Atoms:
    atoms = bulk("GaAs", "zincblende", a=5.65, cubic=True).repeat((2, 1, 1))
    atoms.rattle(stdev=0.15, seed=11)
    return atoms


@pytest.mark.parametrize("case", sorted(CASES))
def test_forces_and_stress_match_finite_differences(case):
    build, settings = CASES[case]
    atoms = build()
    result = evaluate_restraint(atoms, settings)
    assert abs(result.s - settings.target) > 0.05  # a real restoring force
    assert result.energy == pytest.approx(
        0.5 * settings.kappa_eV * (result.s - settings.target) ** 2, rel=1e-12
    )
    # Pairs inside the taper region exist, so the taper is exercised too.
    distances = atoms.get_all_distances(mic=True)
    inner = settings.cutoff_A - settings.taper_A
    assert ((distances > inner) & (distances < settings.cutoff_A)).any()

    expected = _finite_difference_forces(atoms, settings)
    assert np.abs(result.forces).max() > 1e-4
    np.testing.assert_allclose(result.forces, expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=1e-12)

    if settings.species is not None:
        outside = ~np.isin(atoms.get_chemical_symbols(), settings.species)
        assert outside.any()
        np.testing.assert_array_equal(result.forces[outside], 0.0)

    stress = _finite_difference_stress(atoms, settings)
    assert np.abs(result.stress).max() > 1e-6
    np.testing.assert_allclose(result.stress, result.stress.T, atol=1e-15)
    np.testing.assert_allclose(result.stress, stress, rtol=1e-5, atol=1e-10)


def test_non_periodic_cluster_and_isolated_atom():
    settings = Q4Settings(kappa_eV=2.0, q_solid=0.5, q_liquid=0.1)
    cluster = molecule("CH3CH2OH")
    cluster += Atoms("H", positions=[[30.0, 0.0, 0.0]])  # no neighbour at all
    values = per_atom_q4_values(cluster, settings)
    assert values[-1] == 0.0 and np.all(values[:-1] > 0)

    result = evaluate_restraint(cluster, settings)
    assert np.all(np.isfinite(result.forces))
    np.testing.assert_array_equal(result.stress, 0.0)
    np.testing.assert_array_equal(result.forces[-1], 0.0)
    np.testing.assert_allclose(
        result.forces, _finite_difference_forces(cluster, settings), rtol=1e-5, atol=1e-9
    )


def test_neighbours_of_vanishing_weight_give_zero_without_nan():
    # x^(n-m) = 3e4^-199 underflows: the pair exists but its weight is exactly 0.
    settings = Q4Settings(r0_A=1e-4, n=1, m=200, q_solid=0.5)
    positions = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]], requires_grad=True)
    q4 = per_atom_q4(positions, torch.zeros((3, 3)), False, settings)
    np.testing.assert_array_equal(q4.detach().numpy(), 0.0)
    (gradient,) = torch.autograd.grad(q4.sum(), positions)
    np.testing.assert_array_equal(gradient.numpy(), 0.0)


def test_missing_species_is_an_error():
    with pytest.raises(ValueError, match="no atom of species"):
        mean_q4(bulk("Cu", "fcc", a=3.6), Q4Settings(species=("Ga",)))


# --------------------------------------------------------------------- ASE calculator


def test_calculator_matches_evaluation_and_conserves_energy():
    settings = Q4Settings(kappa_eV=20.0, q_solid=0.3, q_liquid=0.02)
    atoms = _rattled_fcc(seed=5)
    reference = evaluate_restraint(atoms, settings)

    atoms.calc = Q4RestraintCalculator(settings)
    assert atoms.get_potential_energy() == pytest.approx(reference.energy, rel=1e-14)
    np.testing.assert_allclose(atoms.get_forces(), reference.forces, rtol=1e-14)
    voigt = atoms.get_stress()
    assert voigt.shape == (6,)
    np.testing.assert_allclose(atoms.get_stress(voigt=False), reference.stress, atol=1e-16)
    assert isinstance(atoms.calc.results["q4_mean"], float)
    assert atoms.calc.results["q4_mean"] == pytest.approx(reference.q_mean)
    assert atoms.calc.results["s"] == pytest.approx(reference.s)

    # With no other force acting, velocity Verlet must conserve restraint + kinetic energy.
    # (Forces scaled by 1.01 already give a spread ~100 times the bound below.)
    kT = 300 * units.kB
    rng = np.random.default_rng(2)
    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.normal(size=(len(atoms), 3)) * np.sqrt(masses * kT))
    total, potential = [], []
    dynamics = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    dynamics.attach(lambda: total.append(atoms.get_total_energy()), interval=1)
    dynamics.attach(lambda: potential.append(atoms.get_potential_energy()), interval=1)
    dynamics.run(100)
    assert np.ptp(potential) > 0.1 * reference.energy  # the restraint really does work
    assert np.ptp(total) < 2e-5 * reference.energy


# ---------------------------------------------------------------------------- PLUMED


def lepton_switching(expression: str, distance_nm: np.ndarray, d_max_nm: float) -> np.ndarray:
    """PLUMED's CUSTOM switching function with R_0=1 and NOSTRETCH, evaluated in numpy:
    the expression of x = r (nm) up to D_MAX, zero beyond.  Lepton's ``^`` is ``**``."""
    namespace = {"x": distance_nm, "max": np.maximum, "min": np.minimum, "cos": np.cos,
                 "pi": np.pi, "__builtins__": {}}
    values = eval(expression.replace("^", "**"), namespace)  # our own text, no builtins
    return np.where(distance_nm <= d_max_nm, values, 0.0)


def _plumed_lines(text: str) -> dict[str, str]:
    return {line.split(":")[0]: line for line in text.splitlines()
            if line and not line.startswith("#")}


@pytest.mark.parametrize("switching", [
    {"r0_A": 3.0, "cutoff_A": 3.5, "taper_A": 0.5},  # the GaAs study's
    {"r0_A": 3.2, "d0_A": 0.4, "n": 8, "m": 14, "cutoff_A": 4.5, "taper_A": 0.7},
    {"r0_A": 2.5, "n": 4, "m": 8, "cutoff_A": 3.0, "taper_A": 0.0},  # a hard cut
])
def test_plumed_switching_function_is_the_torch_weight(switching):
    """The written SWITCH, read the way PLUMED reads it, gives the torch code's neighbour
    weights (taper included) on a fine grid of distances."""
    settings = Q4Settings(**switching)
    q4 = _plumed_lines(plumed_input(settings, 2, ["Cu", "Cu"]))["q4cv"]
    switch = q4.split("SWITCH={")[1].split("}")[0]
    fields = dict(field.split("=", 1) for field in switch.split()[1:] if "=" in field)
    assert switch.startswith("CUSTOM ") and fields["R_0"] == "1" and "NOSTRETCH" in switch
    assert "D_0" not in fields  # the offset is inside the expression
    distance = np.linspace(0.01, settings.cutoff_A + 0.5, 4001)
    torch_weight = pair_weights(torch.tensor(distance, dtype=torch.float64), settings).numpy()
    plumed_weight = lepton_switching(fields["FUNC"], distance * ANGSTROM_TO_NM,
                                     float(fields["D_MAX"]))
    np.testing.assert_allclose(plumed_weight, torch_weight, rtol=1e-12, atol=1e-14)
    if settings.taper_A:  # the taper matters: without it the weights would differ
        band = (distance > settings.cutoff_A - settings.taper_A) & (distance < settings.cutoff_A)
        untapered = switching_function(torch.tensor(distance[band]), settings).numpy()
        assert np.abs(untapered - torch_weight[band]).max() > 0.05


def test_plumed_input_units_species_and_full_precision():
    settings = Q4Settings(r0_A=3.2, d0_A=0.4, n=8, m=14, cutoff_A=4.5, taper_A=0.5,
                          kappa_eV=2.5, target=0.5, q_solid=0.6, q_liquid=0.2 / 3,
                          species=("Ga",))
    symbols = ["Ga"] * 4 + ["As"] * 4 + ["Ga", "As", "Ga", "Ga"]
    text = plumed_input(settings, len(symbols), symbols, stride=50)
    lines = _plumed_lines(text)
    assert "Q4 SPECIES=1-4,9,11-12 " in lines["q4cv"] and lines["q4cv"].endswith("MEAN")
    assert "D_MAX=0.45" in lines["q4cv"]

    def number(line, key):
        return float(line.split(f"{key}=")[1].split()[0])

    # q4_mean is this module's q4: PLUMED's mean divided by its missing factor.
    assert number(lines["q4_mean"], "COEFFICIENTS") == 1.0 / PLUMED_Q4_SCALE
    assert PLUMED_Q4_SCALE == pytest.approx(0.846284375, rel=1e-9)
    # Every constant reads back as the double it came from (no 10-digit rounding).
    assert number(lines["s"], "COEFFICIENTS") == 1.0 / (0.6 - 0.2 / 3)
    assert number(lines["s"], "PARAMETERS") == 0.2 / 3
    restraint = lines["pin"]
    assert "RESTRAINT ARG=s AT=0.5" in restraint
    assert number(restraint, "KAPPA") == 2.5 * EV_TO_KJ_PER_MOL
    assert EV_TO_KJ_PER_MOL == pytest.approx(96.485332, rel=1e-8)  # kJ/mol per eV
    assert any(line.startswith("PRINT ARG=q4_mean,s,pin.bias") and "STRIDE=50" in line
               for line in text.splitlines())

    everything = plumed_input(Q4Settings(), 7, ["Cu"] * 7)
    assert "SPECIES=1-7 " in everything
    with pytest.raises(ValueError, match="symbols"):
        plumed_input(Q4Settings(), 8, ["Cu"] * 7)


def test_cells_under_twice_the_cutoff_are_named_for_plumed():
    settings = Q4Settings(cutoff_A=3.5)
    gaas = bulk("GaAs", "zincblende", a=5.65, cubic=True)
    problem = plumed_cell_problem(gaas, settings)
    assert problem and "5.65 Å along axis a" in problem and "7 Å" in problem
    assert plumed_cell_problem(gaas.repeat((2, 2, 2)), settings) is None
    slab = gaas.repeat((2, 2, 1))
    slab.pbc = [True, True, False]  # a non-periodic direction has no images
    assert plumed_cell_problem(slab, settings) is None
    # A skewed cell's height, not its vector length, is what counts.
    skewed = Atoms("Cu", cell=[[10.0, 0, 0], [7.0, 5.0, 0], [0, 0, 10.0]], pbc=True)
    assert np.linalg.norm(skewed.cell[1]) > 7.0
    assert "5.00 Å along axis b" in plumed_cell_problem(skewed, settings)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"q_solid": 0.3, "q_liquid": 0.3}, "q_solid and q_liquid must differ"),
        ({"r0_A": 0.0}, "r0_A\n.*greater than 0"),
        ({"r0_A": -1.0}, "r0_A\n.*greater than 0"),
        ({"cutoff_A": 0.5, "taper_A": 0.5}, "must exceed taper_A"),
        ({"taper_A": -0.1}, "taper_A\n.*greater than or equal to 0"),
        ({"n": 12, "m": 12}, "n < m"),
        ({"n": 14, "m": 12}, "n < m"),
        ({"n": 6.5}, "n\n.*valid integer"),
        ({"species": ()}, "species"),
        ({"kappa_eV": -1.0}, "kappa_eV"),
    ],
)
def test_settings_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Q4Settings(**kwargs)


def test_settings_species_list_becomes_tuple():
    assert Q4Settings(species=["Ga"]).species == ("Ga",)
    assert Q4Settings(taper_A=0.0).taper_A == 0.0


def test_liquid_like_random_arrangement_has_low_q4():
    # GaAs with its first-shell Q4 (the melting study's settings): the tetrahedral crystal
    # sits near the ideal 0.509, the same atoms packed at random (no overlaps) at the same
    # density far below it.
    from petmad.data.geometry import random_packing

    settings = Q4Settings(r0_A=3.0, cutoff_A=3.5, taper_A=0.5)
    crystal = bulk("GaAs", "zincblende", a=5.65).repeat(3)
    crystal.rattle(0.02, seed=0)
    solid = per_atom_q4_values(crystal, settings).mean()
    liquid = random_packing(crystal.get_chemical_symbols(), crystal.cell.array,
                            np.random.default_rng(5))
    disordered = per_atom_q4_values(liquid, settings).mean()
    assert solid == pytest.approx(0.509, abs=0.01)
    assert disordered < solid - 0.1
