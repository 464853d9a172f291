"""i-PI PES that evaluates one petmad potential term in-process (``<ffdirect><pes>custom``).

i-PI imports this file by path, so it only adapts units and calls
:class:`petmad.simulate.potentials.Evaluator`; it must import petmad absolutely (the
project directory is on ``PYTHONPATH`` in the workflow).  Parameters, from the XML:
``template`` (structure file giving species and periodicity), ``spec`` (JSON file with the
:class:`~petmad.simulate.settings.PotentialSpec`) and ``stop`` (JSON file with the
:class:`~petmad.simulate.settings.StopCriteria`, optional).
"""

from __future__ import annotations

import json

import numpy as np
from ipi.pes.dummy import Dummy_driver
from ipi.utils.units import unit_to_internal, unit_to_user

__DRIVER_NAME__ = "petmad"
__DRIVER_CLASS__ = "PetmadPES"


class PetmadPES(Dummy_driver):
    def __init__(self, template, spec, stop="", *args, **kwargs):
        self.template = template
        self.spec_file = spec
        self.stop_file = stop
        super().__init__(*args, **kwargs)

    def check_parameters(self):
        from ase.io import read

        from petmad.simulate.potentials import Evaluator
        from petmad.simulate.settings import PotentialSpec, StopCriteria

        with open(self.spec_file) as handle:
            spec = PotentialSpec.model_validate(json.load(handle))
        stop = StopCriteria()
        if self.stop_file:
            with open(self.stop_file) as handle:
                stop = StopCriteria.model_validate(json.load(handle))
        self.evaluator = Evaluator(spec, read(self.template), stop)

    def compute_structure(self, cell, pos):
        # i-PI works in atomic units with cell vectors as columns; ASE in Å, rows.
        positions = unit_to_user("length", "angstrom", np.asarray(pos).reshape(-1, 3))
        cell_rows = unit_to_user("length", "angstrom", np.asarray(cell).T)
        result = self.evaluator.evaluate(cell_rows, positions)
        volume = abs(np.linalg.det(cell_rows)) if self.evaluator.atoms.pbc.all() else 0.0
        virial = -result.stress * volume
        return (
            unit_to_internal("energy", "electronvolt", result.energy),
            unit_to_internal("force", "ev/ang", result.forces),
            unit_to_internal("energy", "electronvolt", virial.T),
            json.dumps(result.extras),
        )
