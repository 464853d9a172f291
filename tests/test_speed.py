"""Speed benchmark machinery: sizes, timing protocol, out-of-memory and slow-model cut-offs."""

import time

import numpy as np
import pytest
from ase.calculators.calculator import Calculator

from petmad.config import SpeedSettings
from petmad.studies.speed import (
    is_out_of_memory,
    material_structure,
    material_unit,
    speed_rows,
    time_step,
)


class Recorder(Calculator):
    """Counts evaluations and remembers the positions it saw; can fail above a size or
    sleep per atom."""

    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self, fail_above=None, seconds_per_atom=0.0):
        super().__init__()
        self.seen, self.fail_above, self.seconds_per_atom = [], fail_above, seconds_per_atom

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        if self.fail_above is not None and len(atoms) > self.fail_above:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        time.sleep(self.seconds_per_atom * len(atoms))
        self.seen.append(atoms.positions.copy())
        self.results = {"energy": 0.0, "forces": np.zeros((len(atoms), 3)),
                        "stress": np.zeros(6)}


def test_structures_repeat_the_unit_to_the_nearest_size():
    assert len(material_structure("aluminium", 250)) == 256  # 4 × 4³
    assert len(material_structure("diamond", 1000)) == 1000  # 8 × 5³
    water = material_unit("water")
    density = water.get_masses().sum() * 1.66054 / water.get_volume()
    assert density == pytest.approx(0.997, rel=1e-3)
    assert len(material_structure("water", 200, water)) == 192  # 24 × 2³


def test_each_timed_evaluation_sees_new_positions():
    calculator = Recorder()
    times = time_step(calculator, material_structure("diamond", 8), warmup=2, repeats=3)
    assert len(times) == 3 and len(calculator.seen) == 5
    assert all(not np.array_equal(a, b) for a, b in zip(calculator.seen, calculator.seen[1:]))


def test_out_of_memory_and_slow_points_stop_that_model_only():
    # A limit of 0.5 s, far above what "fast" needs even on a loaded machine (at 50 ms it
    # failed once beside a whole default run).
    settings = SpeedSettings(materials=["diamond"], sizes=[8, 64, 216, 60], warmup=0,
                             repeats=1, max_seconds_per_step=0.5)
    rows = speed_rows({"fast": Recorder, "small": lambda: Recorder(fail_above=10),
                       "slow": lambda: Recorder(seconds_per_atom=0.005)},
                      settings, progress=False)
    status = {(r["model"], r["natoms"]): r["status"] for r in rows}
    assert sorted({n for _, n in status}) == [8, 64, 216]  # 60 and 64 are one supercell
    assert all(status[("fast", n)] == "ok" for n in (8, 64, 216))
    assert status[("small", 64)] == "oom" and status[("small", 216)].startswith("skipped")
    # 64 atoms × 5 ms is within 0.5 s; 216 atoms, extrapolated from 64, is not: not tried
    assert status[("slow", 64)] == "ok" and status[("slow", 216)].startswith("skipped")
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(ValueError("shape"))
