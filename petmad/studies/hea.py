"""CoCrFeMnNi (111) surface segregation by replica exchange with Monte Carlo swaps (paper
II.F, S11.C).

Per model: a random equimolar fcc(111) slab, periodic in-plane and across a vacuum gap
along z, its positions relaxed with the model, then one replica-exchange run over a
logarithmic temperature ladder.  Every replica alternates MD (NPT with only the in-plane
cell free, zero pressure) with Monte Carlo swaps of unlike atoms: swaps move composition
between surface and interior far faster than diffusion does, and exchanges let the cold
replicas escape the random start.  The records of each temperature (``*_T<k>``) feed the
Gibbs-excess analysis (:mod:`analysis.hea_segregation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from petmad.config import SYSTEM_ELEMENTS, HeaSegregationSettings
from petmad.io import write_json
from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped, run_dynamics
from petmad.simulate.protocol import relax

ELEMENTS = list(SYSTEM_ELEMENTS["hea"])


def random_slab(settings: HeaSegregationSettings, seed: int) -> Atoms:
    """Equimolar CoCrFeMnNi on the sites of an fcc(111) slab with the shipped lattice
    constant, in random order; periodic along z across ``2 * vacuum_A`` of vacuum."""
    from ase.build import fcc111

    from petmad.data.crystals import load_crystal
    from petmad.data.systems import equimolar_species

    lattice_constant = float(load_crystal("hea_fcc").cell.cellpar()[0])
    slab = fcc111("Ni", size=tuple(settings.slab), a=lattice_constant,
                  vacuum=settings.vacuum_A, periodic=True)
    slab.set_chemical_symbols(equimolar_species(len(slab), np.random.default_rng(seed)))
    return slab


def remd_settings(settings: HeaSegregationSettings, seed: int) -> DynamicsSettings:
    temperatures = settings.temperatures_K()
    stride = settings.record_stride
    return DynamicsSettings.model_validate({
        "ensemble": "npt", "temperature_K": temperatures[0], "steps": settings.steps,
        "timestep_fs": settings.timestep_fs, "seed": seed,
        "thermostat": {"kind": "langevin", "tau_fs": settings.thermostat_tau_fs},
        "barostat": {"kind": "plane", "axis": "z", "pressure_bar": settings.pressure_bar,
                     "tau_fs": settings.barostat_tau_fs},
        "replica_exchange": {"temperatures_K": temperatures,
                             "attempt_stride": settings.exchange_stride},
        "atom_swaps": {"species": ELEMENTS,
                       "attempts_per_step": settings.swap_attempts_per_step},
        "records": {"properties_stride": stride, "trajectory_stride": stride,
                    "checkpoint_stride": max(stride, 500 // stride * stride)},
        "stop": settings.stop})


def run_model(directory: str | Path, potential: PotentialSpec,
              settings: HeaSegregationSettings, seed: int, progress: bool = True
              ) -> dict[str, Any]:
    """The REMD/MC run of one model into ``directory/remd``; writes and returns
    ``status.json`` ('ok', or 'stopped' with the reason: an unstable model is a result)."""
    directory = Path(directory)
    slab = random_slab(settings, seed)
    status: dict[str, Any] = {
        "natoms": len(slab), "slab": settings.slab, "elements": ELEMENTS,
        "temperatures_K": settings.temperatures_K(), "status": "ok"}
    try:
        start = relax(slab, potential, settings.relax_steps)
        run_dynamics(directory / "remd", start, [potential], remd_settings(settings, seed + 1),
                     progress=progress, description="REMD/MC CoCrFeMnNi(111)")
    except SimulationStopped as exc:
        status.update(status="stopped", reason=str(exc))
    write_json(directory / "status.json", status)
    return status
