"""Isotropic NMR shieldings of a finite cluster by GIAO Hartree-Fock in PySCF.

GIAO (gauge-including atomic orbitals) makes the shielding independent of the gauge
origin.  The coupled-perturbed Hartree-Fock response is solved with our own induced-potential
function handed to ``pyscf.prop.nmr`` (its built-in one assumes all three field directions
are solved at once, which PySCF's current Krylov solver does not do).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms


def _induced_potential(mean_field):
    """The first-order (magnetic, imaginary) response of the Fock matrix to trial
    occupied-orbital coefficients, for any number of field components at once."""
    from pyscf import lib

    response = mean_field.gen_response(singlet=True, hermi=2)
    coefficients = mean_field.mo_coeff
    occupied = coefficients[:, mean_field.mo_occ > 0]
    n_orbitals, n_occupied = coefficients.shape[1], occupied.shape[1]

    def induced(trial: np.ndarray) -> np.ndarray:
        density = np.array([coefficients @ (2 * x) @ occupied.conj().T
                            for x in trial.reshape(-1, n_orbitals, n_occupied)])
        density = density - density.conj().transpose(0, 2, 1)  # antisymmetric: magnetic
        return lib.einsum("xpq,pi,qj->xij", response(density), coefficients.conj(),
                          occupied).ravel()

    return induced


def shielding_tensors(cluster: Atoms, atoms: list[int] | None = None, basis: str = "6-31g",
                      charge: int = 0, threads: int | None = None) -> np.ndarray:
    """GIAO-RHF shielding tensors (ppm, shape (n, 3, 3)) of ``atoms`` (default: all) of a
    closed-shell cluster given in Å."""
    import warnings

    from pyscf import gto, lib, scf

    with warnings.catch_warnings():  # pyscf.prop warns on import about unrelated modules
        warnings.simplefilter("ignore")
        from pyscf.prop import nmr
    if threads:
        lib.num_threads(threads)
    molecule = gto.M(atom=[(s, p) for s, p in zip(cluster.get_chemical_symbols(),
                                                   cluster.positions)],
                     basis=basis, charge=charge, unit="Angstrom", verbose=0)
    mean_field = scf.RHF(molecule)
    mean_field.conv_tol = 1e-10
    mean_field.kernel()
    if not mean_field.converged:
        raise RuntimeError(f"RHF/{basis} did not converge for a {len(cluster)}-atom cluster")
    shielding = nmr.RHF(mean_field)
    shielding.cphf = _induced_potential(mean_field)
    if atoms is not None:
        shielding.shielding_nuc = list(atoms)
    return np.asarray(shielding.kernel())


def isotropic_shieldings(cluster: Atoms, atoms: list[int] | None = None, basis: str = "6-31g",
                         charge: int = 0, threads: int | None = None) -> np.ndarray:
    """σ_iso = tr(σ)/3 (ppm) of ``atoms`` (default: all) of a closed-shell cluster (Å)."""
    tensors = shielding_tensors(cluster, atoms, basis, charge, threads)
    return np.trace(tensors, axis1=1, axis2=2) / 3
