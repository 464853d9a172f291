"""The simulation engine every case study calls: i-PI integrates, petmad potentials
(trained models, the reference engine, cheap test potentials, biases) are evaluated
in-process.

* :mod:`petmad.simulate.settings` — what a run is (pydantic, embeddable in the config);
* :mod:`petmad.simulate.potentials` — potential terms as ASE calculators and the run guards;
* :mod:`petmad.simulate.q4` — the differentiable Steinhardt Q4 pinning restraint;
* :mod:`petmad.simulate.ipi_input` — the i-PI input file, rendered from settings;
* :mod:`petmad.simulate.runner` — integration with checkpoints and exact resume;
* :mod:`petmad.simulate.records` — i-PI outputs turned into CSV / extxyz / npz / DCD.
"""

from petmad.simulate.potentials import SimulationStopped
from petmad.simulate.runner import run_dynamics
from petmad.simulate.settings import DynamicsSettings, PotentialSpec

__all__ = ["DynamicsSettings", "PotentialSpec", "SimulationStopped", "run_dynamics"]
