"""What the reference engine would cost as a case-study model at a preset: the basis for
choosing where ``study_models`` adds it.

    python benchmarks/reference_cost.py                    # default preset, 1 thread
    python benchmarks/reference_cost.py --preset smoke

Per study: the reference engine's measured time per force call (energy, forces, stress)
on the study's own starting structure (median of ``--calls`` calls, each after a fresh
random displacement so that no result is cached, after one warm-up call), and the atom-
steps the study would ask of it (the campaign cost table's rows for the model
'reference', ``petmad/campaign.py``), hence its job time.  The estimate counts force calls
only (the MD driver, the estimators and the analyses come on top) and takes relaxations
at their step limit.  Threads default to 1: the case-study jobs run on one thread each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRESETS = {"smoke": ["config.yaml", "presets/smoke.yaml"], "default": ["config.yaml"],
           "paper": ["config.yaml", "presets/paper.yaml"]}
STUDY_SYSTEMS = {"lps_conductivity": "lps", "gaas_melting": "gaas",
                 "hea_segregation": "hea", "water_pimd": "water", "succinic_nmr": "succinic",
                 "bto_dielectric": "bto"}


def starting_structure(config, study: str):
    """The largest structure a study's MD starts from, built as its jobs build it."""
    settings = getattr(config.studies, study)
    if study == "lps_conductivity":
        from petmad.studies.lps import phase_structure

        return max((phase_structure(phase, settings)[0] for phase in settings.phases), key=len)
    if study == "gaas_melting":
        from petmad.studies.gaas import pinning_crystal

        return pinning_crystal(settings, settings.supercell)
    if study == "hea_segregation":
        from petmad.studies.hea import random_slab

        return random_slab(settings, config.seed)
    if study == "water_pimd":
        from petmad.data.systems import water_box

        return water_box(settings.n_molecules, settings.density_kg_m3,
                         np.random.default_rng(config.seed))
    if study == "succinic_nmr":
        from petmad.data.crystals import load_crystal

        return load_crystal("succinic_alpha").repeat(settings.supercell)
    from petmad.studies.bto import start_structure

    return start_structure(settings)


def seconds_per_call(engine, atoms, calls: int, rng: np.random.Generator) -> float:
    atoms = atoms.copy()
    atoms.calc = engine.calculator_for(atoms)
    reference_positions = atoms.positions.copy()
    times = []
    for call in range(calls + 1):
        atoms.positions = reference_positions + rng.normal(0.0, 0.02, atoms.positions.shape)
        start = time.perf_counter()
        atoms.get_potential_energy()
        atoms.get_forces()
        if atoms.pbc.all():
            atoms.get_stress()
        if call:  # the first call loads the model
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_atom_steps(config) -> pd.Series:
    """Atom-steps of the reference engine per study, were it every study's only model."""
    from petmad.campaign import campaign_cost

    planned = config.model_copy(update={
        "study_models": {system: ["reference"] for system in config.systems}})
    table = campaign_cost(planned)
    rows = table[(table["stage"] == "simulation") & (table["model"] == "reference")
                 & table["study"].isin(STUDY_SYSTEMS)]
    return rows.groupby("study")["atom_steps"].sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()

    import torch

    from petmad.config import load_config_files
    from petmad.reference import make_engine

    torch.set_num_threads(args.threads)
    config = load_config_files([str(ROOT / f) for f in PRESETS[args.preset]])
    engine = make_engine(config.reference)
    atom_steps = reference_atom_steps(config)
    rng = np.random.default_rng(0)
    rows = []
    for study, atom_step_count in atom_steps.items():
        atoms = starting_structure(config, study)
        seconds = seconds_per_call(engine, atoms, args.calls, rng)
        rows.append({"study": study, "atoms": len(atoms), "s_per_call": seconds,
                     "ms_per_atom_step": 1e3 * seconds / len(atoms),
                     "atom_steps": int(atom_step_count),
                     "estimated_min": atom_step_count * seconds / len(atoms) / 60})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"reference engine {config.reference.engine}, {args.threads} thread(s), "
          f"{args.preset} preset: {table['estimated_min'].sum():.0f} min of job time in all "
          "(force calls only)")


if __name__ == "__main__":
    main()
