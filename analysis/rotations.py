"""Rotational discrepancy: spread of the energy over a Lebedev grid of rotations, per
structure and summarised per subset (paper Fig. 2, right)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.metrics import weighted_std
from analysis.output import write_csv

# Float32 models reproduce rotated energies to ~1e-6 eV/atom; a model whose spread
# exceeds this is not rotationally invariant.
INVARIANCE_TOLERANCE_MEV_PER_ATOM = 1e-2


def discrepancy_table(energies: np.ndarray, weights: np.ndarray, n_atoms: np.ndarray,
                      subsets: np.ndarray) -> pd.DataFrame:
    """One row per structure and one per subset (and 'all'), std in meV/atom."""
    spread = 1000 * weighted_std(energies, weights, axis=1) / n_atoms
    rows = [{"level": "structure", "subset": str(s), "structure": i, "n_structures": 1,
             "std_mean [meV/atom]": v, "std_median [meV/atom]": v, "std_max [meV/atom]": v}
            for i, (s, v) in enumerate(zip(subsets, spread))]
    for subset in ["all", *sorted(set(subsets.tolist()))]:
        values = spread if subset == "all" else spread[subsets == subset]
        rows.append({"level": "subset", "subset": subset, "structure": -1,
                     "n_structures": len(values), "std_mean [meV/atom]": float(np.mean(values)),
                     "std_median [meV/atom]": float(np.median(values)),
                     "std_max [meV/atom]": float(np.max(values))})
    table = pd.DataFrame(rows)
    table["rotationally_invariant"] = table["std_max [meV/atom]"] < INVARIANCE_TOLERANCE_MEV_PER_ATOM
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--energies", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    with np.load(args.energies) as data:
        table = discrepancy_table(data["energies"], data["weights"], data["n_atoms"], data["subset"])
    write_csv(args.output, table)
    print(table[table["level"] == "subset"].to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
