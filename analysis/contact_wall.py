"""Where the contact wall acted: for every recorded simulation of a case study, how often
and how hard the wall below the closest contacts of the system's training data pushed
(``contact_wall_eV``, recorded per step by :mod:`petmad.simulate.potentials`).

A run whose wall was active for much of it sampled pairs closer than the reference data
ever came, and its numbers are those of the model plus the wall.

    python -m analysis.contact_wall --runs runs --table results/contact_wall.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.output import write_csv

COLUMNS = ["study", "model", "run", "records", "active_fraction", "max_eV", "mean_eV"]


def wall_activity(runs: Path) -> pd.DataFrame:
    """One row per records file that carries the wall's energy: runs/<study>/<model>/<run>."""
    rows = []
    for path in sorted(runs.glob("*/*/**/records.npz")):
        with np.load(path) as records:
            if "contact_wall_eV" not in records.files:
                continue
            energies = np.asarray(records["contact_wall_eV"], dtype=float).reshape(-1)
        study, model, *run = path.parent.relative_to(runs).parts
        rows.append({"study": study, "model": model, "run": "/".join(run) or ".",
                     "records": energies.size,
                     "active_fraction": float(np.mean(energies > 0)) if energies.size else np.nan,
                     "max_eV": float(energies.max()) if energies.size else np.nan,
                     "mean_eV": float(energies.mean()) if energies.size else np.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--table", type=Path, required=True)
    args = parser.parse_args()
    table = wall_activity(args.runs)
    write_csv(args.table, table)
    active = table[table["active_fraction"] > 0]
    print(f"{len(table)} recorded runs carry the wall; it acted in {len(active)}")
    for row in active.itertuples():
        print(f"  {row.study}/{row.model}/{row.run}: {row.active_fraction:.0%} of "
              f"{row.records} records, up to {row.max_eV:.3g} eV")


if __name__ == "__main__":
    main()
