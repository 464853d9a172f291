"""Dataset statistics table and overview figure: ``results/datasets.{csv,pdf}``.

Reads the split files and the labeling/split reports the data stage writes, and each
system's held-out reference-MD test set (dataset ``<system>-md``); computes nothing
physical beyond summary statistics of the labels.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from ase.io import read

from analysis.output import pyplot, save_figure, write_csv

SPLITS = ("train", "val", "test")
MD_TEST_SUFFIX = "-md"  # '<system>-md': data/<system>/md_test.extxyz


def _frames(path: Path) -> list:
    return read(path, index=":", format="extxyz") if path.stat().st_size else []


def dataset_table(data_dir: Path, datasets: list[str]) -> tuple[pd.DataFrame, dict]:
    """One row per (dataset, subset); also the raw arrays the figure needs."""
    rows, raw = [], {"forces": {}, "sizes": {}, "elements": Counter()}
    for dataset in datasets:
        if dataset.endswith(MD_TEST_SUFFIX):
            # a system's held-out reference-MD frames: a test set only, never filtered
            folder = data_dir / dataset.removesuffix(MD_TEST_SUFFIX)
            sampling = json.loads((folder / "md_test.extxyz.json").read_text())
            labeling = {**sampling["engine"], "failures": []}
            parts = {"test": folder / "md_test.extxyz"}
            filtered = Counter()
        else:
            folder = data_dir / dataset
            labeling = json.loads((folder / "labeled.extxyz.json").read_text())
            parts = {part: folder / f"{part}.extxyz" for part in SPLITS}
            split = json.loads((folder / "split.json").read_text())
            filtered = Counter(f["subset"] for f in split["filtered"])
        failed = Counter(f["subset"] for f in labeling["failures"])
        per_subset: dict[str, dict] = {}
        forces_all, sizes_all = [], []
        for part, path in parts.items():
            for atoms in _frames(path):
                entry = per_subset.setdefault(
                    str(atoms.info.get("subset", "all")),
                    {"counts": Counter(), "epa": [], "forces": [], "sizes": []},
                )
                entry["counts"][part] += 1
                entry["epa"].append(atoms.get_potential_energy() / len(atoms))
                entry["forces"].append(atoms.get_forces().ravel())
                entry["sizes"].append(len(atoms))
                raw["elements"].update(atoms.get_chemical_symbols())
        for subset in sorted(set(per_subset) | set(failed) | set(filtered)):
            entry = per_subset.get(subset, {"counts": Counter(), "epa": [], "forces": [], "sizes": []})
            forces = np.concatenate(entry["forces"]) if entry["forces"] else np.array([np.nan])
            epa = np.array(entry["epa"]) if entry["epa"] else np.array([np.nan])
            forces_all.append(forces[np.isfinite(forces)])
            sizes_all.extend(entry["sizes"])
            rows.append({
                "dataset": dataset,
                "subset": subset,
                "n_train": entry["counts"]["train"],
                "n_val": entry["counts"]["val"],
                "n_test": entry["counts"]["test"],
                "n_filtered": filtered[subset],
                "n_failed_labeling": failed[subset],
                "atoms_per_structure_mean": float(np.mean(entry["sizes"])) if entry["sizes"] else np.nan,
                "energy_per_atom_mean [eV/atom]": float(np.mean(epa)),
                "energy_per_atom_std [eV/atom]": float(np.std(epa)),
                "force_rms [eV/Å]": float(np.sqrt(np.mean(forces**2))),
                "force_component_max_abs [eV/Å]": float(np.max(np.abs(forces))),
                "reference_engine": f"{labeling['engine']} {labeling['version']}",
            })
        raw["forces"][dataset] = np.concatenate(forces_all) if forces_all else np.array([])
        raw["sizes"][dataset] = np.array(sizes_all)
    return pd.DataFrame(rows), raw


def dataset_figure(table: pd.DataFrame, raw: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    labels = [f"{d}:{s}" for d, s in zip(table["dataset"], table["subset"])]
    bottom = np.zeros(len(table))
    ax = axes[0, 0]
    for part, colour in zip(SPLITS, ("tab:blue", "tab:orange", "tab:green")):
        ax.barh(labels, table[f"n_{part}"], left=bottom, color=colour, label=part)
        bottom += table[f"n_{part}"].to_numpy()
    ax.set_xlabel("structures")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=6)
    ax.legend()
    ax.set_title("(a) structures per subset")

    ax = axes[0, 1]
    elements = sorted(raw["elements"], key=lambda s: -raw["elements"][s])
    ax.bar(elements, [raw["elements"][e] for e in elements], color="tab:gray")
    ax.set_yscale("log")
    ax.set_ylabel("atoms")
    ax.tick_params(axis="x", labelsize=6, rotation=90)
    ax.set_title(f"(b) composition: {len(elements)} elements")

    ax = axes[1, 0]
    for dataset, forces in raw["forces"].items():
        if forces.size:
            magnitude = np.abs(forces) + 1e-6
            ax.hist(magnitude, bins=np.logspace(-4, 2.5, 60), histtype="step", label=dataset)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("|force component| (eV/Å)")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    ax.set_title("(c) force distributions")

    ax = axes[1, 1]
    for dataset, sizes in raw["sizes"].items():
        if sizes.size:
            ax.hist(sizes, bins=np.arange(0.5, sizes.max() + 1.5, max(1, sizes.max() // 40)),
                    histtype="step", label=dataset)
    ax.set_xlabel("atoms per structure")
    ax.set_ylabel("structures")
    ax.legend(fontsize=7)
    ax.set_title("(d) structure sizes")

    engines = ", ".join(sorted(set(table["reference_engine"])))
    fig.suptitle(f"Datasets labeled with {engines}")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--pdf", type=Path, required=True)
    args = parser.parse_args(argv)

    table, raw = dataset_table(args.data_dir, args.datasets)
    write_csv(args.csv, table)
    dataset_figure(table, raw, args.pdf)
    print(table.to_string(index=False))


if __name__ == "__main__":
    from petmad.errors import run_reporting_errors

    raise SystemExit(run_reporting_errors(main))
