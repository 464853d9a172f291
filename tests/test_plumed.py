"""PLUMED applying the GaAs pinning bias, against the torch restraint it replaces.

Runs only where ``PLUMED_KERNEL`` names a kernel with the symfunc and adjmat modules and the
``plumed`` Python module imports (README: "PLUMED"); skips with the reason otherwise.  The
project does not ship PLUMED, so CI skips these.
"""

import json

import numpy as np
import pytest
from ase.build import bulk

from petmad.config import GaasMeltingSettings
from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics
from petmad.simulate.q4 import EV_TO_KJ_PER_MOL, evaluate_restraint, plumed_input
from petmad.simulate.runner import plumed_problem
from petmad.studies.gaas import q4_term

pytestmark = [pytest.mark.plumed,
              pytest.mark.skipif(plumed_problem() is not None,
                                 reason=f"no usable PLUMED: {plumed_problem()}")]

# q4 references near what the smoke and default GaAs runs measure: s spans the rattled
# crystal's range, so the restraint's forces are far from zero.
Q_SOLID, Q_LIQUID, KAPPA_EV = 0.62, 0.30, 40.0


def gaas_frame(seed=0):
    """A 64-atom zincblende cell (11.3 Å, above twice the 3.5 Å cutoff), rattled so that
    about a quarter of the Ga-Ga pairs sit in the taper band."""
    atoms = bulk("GaAs", "zincblende", a=5.65, cubic=True).repeat(2)
    atoms.rattle(0.25, seed=seed)
    return atoms


def restraint_spec():
    return q4_term(GaasMeltingSettings(), KAPPA_EV, Q_SOLID, Q_LIQUID)


def plumed_evaluation(atoms, text, tmp_path):
    """Bias (eV), forces (eV/Å) and virial (eV) from PLUMED, given eV and Å."""
    import plumed

    (tmp_path / "plumed.dat").write_text(text)
    natoms = len(atoms)
    forces = np.zeros((natoms, 3))
    virial = np.zeros((3, 3))
    bias = np.zeros(1)
    positions = atoms.positions.copy()
    box = atoms.cell.array.copy()
    with plumed.Plumed() as kernel:
        kernel.cmd("setMDEngine", "petmad-bench-test")
        kernel.cmd("setNatoms", natoms)
        kernel.cmd("setMDLengthUnits", 0.1)  # Å in nm
        kernel.cmd("setMDEnergyUnits", EV_TO_KJ_PER_MOL)  # eV in kJ/mol
        kernel.cmd("setTimestep", 1.0)
        kernel.cmd("setPlumedDat", str(tmp_path / "plumed.dat"))
        kernel.cmd("setLogFile", str(tmp_path / "plumed.log"))
        kernel.cmd("init")
        kernel.cmd("setStep", 0)
        kernel.cmd("setBox", box)
        kernel.cmd("setPositions", positions)
        kernel.cmd("setMasses", atoms.get_masses().copy())
        kernel.cmd("setCharges", np.zeros(natoms))
        kernel.cmd("setForces", forces)
        kernel.cmd("setVirial", virial)
        kernel.cmd("calc")
        kernel.cmd("getBias", bias)
    return bias[0], forces, virial


@pytest.mark.parametrize("seed", range(4))
def test_plumed_gives_the_torch_restraint_energy_forces_and_virial(tmp_path, seed):
    atoms = gaas_frame(seed)
    settings = restraint_spec().q4
    torch_result = evaluate_restraint(atoms, settings)
    assert abs(torch_result.s - settings.target) > 0.05  # a bias with forces to compare
    text = plumed_input(settings, len(atoms), atoms.get_chemical_symbols(),
                        colvar_file=str(tmp_path / "COLVAR"))
    bias, forces, virial = plumed_evaluation(atoms, text, tmp_path)
    scale = np.abs(torch_result.forces).max()
    print(f"seed {seed}: s {torch_result.s:.4f}, E {torch_result.energy:.6f} eV, "
          f"|dE|/E {abs(bias - torch_result.energy) / torch_result.energy:.2e}, "
          f"max|dF|/max|F| {np.abs(forces - torch_result.forces).max() / scale:.2e}")
    assert bias == pytest.approx(torch_result.energy, rel=1e-6)
    np.testing.assert_allclose(forces, torch_result.forces, rtol=0, atol=1e-6 * scale)
    # PLUMED's virial is dE/dε, the stress (ASE's sign) times the volume; i-PI flips it.
    stress_volume = torch_result.stress * atoms.get_volume()
    print(f"seed {seed}: max|dvirial|/max|virial| "
          f"{np.abs(virial - stress_volume).max() / np.abs(stress_volume).max():.2e}")
    np.testing.assert_allclose(virial, stress_volume, rtol=0,
                               atol=1e-6 * np.abs(stress_volume).max())


def test_a_pinned_run_with_plumed_tracks_the_torch_run(tmp_path, monkeypatch):
    """The same short pinned MD twice, PLUMED applying the bias and then the torch code:
    s, q4 and the bias energy agree step by step, and PLUMED's COLVAR has the run."""
    from petmad.simulate import runner

    atoms = gaas_frame(seed=7)
    potentials = [PotentialSpec(kind="harmonic", spring_eV_A2=2.0), restraint_spec()]
    run = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": 1000.0, "timestep_fs": 2.0, "steps": 40,
        "seed": 3, "records": {"properties_stride": 1, "trajectory_stride": 2}})
    run_dynamics(tmp_path / "plumed", atoms, potentials, run, progress=False)
    assert "<ffplumed" in (tmp_path / "plumed" / "ipi" / "input.xml").read_text()
    colvar = np.loadtxt(tmp_path / "plumed" / "ipi" / "sim.colvar", ndmin=2)
    monkeypatch.delenv("PLUMED_KERNEL")
    runner.plumed_problem.cache_clear()
    try:
        run_dynamics(tmp_path / "torch", atoms, potentials, run, progress=False)
    finally:
        monkeypatch.undo()
        runner.plumed_problem.cache_clear()
    assert "<ffplumed" not in (tmp_path / "torch" / "ipi" / "input.xml").read_text()
    plumed_run = np.load(tmp_path / "plumed" / "records.npz")
    torch_run = np.load(tmp_path / "torch" / "records.npz")
    assert len(plumed_run["s"]) == len(torch_run["s"]) == 21  # steps 0, 2, ..., 40
    drift = np.abs(plumed_run["s"] - torch_run["s"]).max()
    print(f"pinned run: s from {torch_run['s'][0]:.4f} to {torch_run['s'][-1]:.4f}, "
          f"max |Δs| PLUMED - torch {drift:.2e} over {run.steps} steps")
    assert np.ptp(torch_run["s"]) > 1e-3  # the system moved
    assert drift < 1e-5
    np.testing.assert_allclose(plumed_run["q4_mean"], torch_run["q4_mean"], atol=1e-5)
    import pandas as pd

    plumed_table = pd.read_csv(tmp_path / "plumed" / "properties.csv")
    torch_table = pd.read_csv(tmp_path / "torch" / "properties.csv")
    for column in ("potential_q4restraint1_eV", "potential_eV", "conserved_eV"):
        np.testing.assert_allclose(plumed_table[column], torch_table[column], rtol=1e-5,
                                   atol=1e-6, err_msg=column)
    # COLVAR: PLUMED's update count (i-PI's step), q4_mean, s and pin.bias (kJ/mol) every
    # trajectory stride.
    assert len(colvar) >= 20
    bias = plumed_table.set_index("step").loc[colvar[:, 0].astype(int), "potential_q4restraint1_eV"]
    # i-PI converts kJ/mol to eV with its own 8-digit constants: 8e-8 from CODATA's.
    np.testing.assert_allclose(colvar[:, 3] / EV_TO_KJ_PER_MOL, bias, rtol=2e-7)


def test_a_resumed_plumed_run_ends_as_an_uninterrupted_one(tmp_path):
    """Stopped after a checkpoint and resumed (i-PI's restart carries PLUMED's step, and
    the resume cuts sim.colvar back to the checkpoint), the run writes what one run does."""
    from petmad.simulate.records import write_records
    from petmad.simulate.runner import integrate, prepare

    atoms = gaas_frame(seed=11)
    potentials = [PotentialSpec(kind="harmonic", spring_eV_A2=2.0), restraint_spec()]
    run = DynamicsSettings.model_validate({
        "ensemble": "nvt", "temperature_K": 1000.0, "timestep_fs": 2.0, "steps": 24,
        "seed": 5, "records": {"properties_stride": 1, "trajectory_stride": 2,
                               "checkpoint_stride": 8}})
    outputs = {}
    for how in ("whole", "resumed"):
        work = tmp_path / how / "ipi"
        work.mkdir(parents=True)
        terms = prepare(work, [atoms], potentials, run)
        assert terms[1].plumed_file
        if how == "resumed":  # as if killed after the second checkpoint
            integrate(work, run.model_copy(update={"steps": 16}), progress=False)
            checkpoint = json.loads((work / "checkpoint.json").read_text())
            assert checkpoint["step"] == 16 and "<total_steps>16</total_steps>" in \
                checkpoint["restart"]
            # The run being killed had 24 steps to go to.
            checkpoint["restart"] = checkpoint["restart"].replace(
                "<total_steps>16</total_steps>", "<total_steps>24</total_steps>")
            (work / "checkpoint.json").write_text(json.dumps(checkpoint))
            with open(work / "sim.colvar", "a") as colvar:
                colvar.write(" 17 0.5 0.5 0.0\n")  # a line written after that checkpoint
        integrate(work, run, progress=False)
        write_records(work, work.parent, run, terms, atoms)
        outputs[how] = (np.load(work.parent / "records.npz")["s"],
                        np.loadtxt(work / "sim.colvar", ndmin=2))
    (whole_s, whole_colvar), (resumed_s, resumed_colvar) = outputs["whole"], outputs["resumed"]
    np.testing.assert_allclose(resumed_s, whole_s, rtol=1e-12)
    np.testing.assert_allclose(resumed_colvar, whole_colvar, rtol=1e-12)
