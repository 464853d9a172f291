"""Wall time of one case study for a preset, reusing the data and models already built.

    python benchmarks/case_study.py lps_conductivity --workdir /tmp/petmad-default
    python benchmarks/case_study.py lps_conductivity --workdir /tmp/petmad-smoke --preset smoke

Runs ``snakemake results/<study>.pdf`` in ``--workdir`` (upstream outputs are reused by
modification time, so only the study's own jobs run when the models exist), then prints
the total wall time and each job's wall time and peak memory from its benchmark file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {"smoke": ["config.yaml", "presets/smoke.yaml"], "default": ["config.yaml"]}
JOB_LOGS = {"lps_conductivity": ["lps_md", "lps_conductivity"],
            "gaas_melting": ["gaas_interface", "gaas_pinning", "gaas_melting"],
            "hea_segregation": ["hea_remd", "hea_segregation"],
            "water_pimd": ["water_equilibration", "water_md", "water_pimd"],
            "succinic_nmr": ["succinic_relax", "succinic_md", "succinic_shielding_model",
                             "succinic_nmr"],
            "bto_dielectric": ["bto_dipole_labels", "bto_dipole_model", "bto_md",
                               "bto_dielectric"],
            "dimers": ["dimer_curves", "dimers"],
            "relaxations": ["relaxation_runs", "relaxations"],
            "phonons": ["phonon_bands", "phonons"],
            "speed": ["speed_benchmark", "speed"],
            "nc_mts": ["nc_mts_md", "nc_mts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", choices=sorted(JOB_LOGS))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    # Targets before the options that take several values (--rerun-triggers, --configfile).
    command = [sys.executable, "-m", "snakemake", f"results/{args.study}.pdf",
               "-s", str(ROOT / "Snakefile"), "--directory", str(args.workdir),
               "--cores", args.cores, "--rerun-triggers", "mtime",
               "--configfile", *[str(ROOT / f) for f in PRESETS[args.preset]]]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    rows = []
    for name in JOB_LOGS[args.study]:
        for path in sorted(args.workdir.glob(f"logs/{name}.benchmark.tsv")) + sorted(
                args.workdir.glob(f"logs/{name}/*.benchmark.tsv")):
            table = pd.read_csv(path, sep="\t")
            rows.append({"job": path.name.replace(".benchmark.tsv", ""),
                         "wall_s": table["s"].iloc[-1], "max_rss_MB": table["max_rss"].iloc[-1]})
    jobs = pd.DataFrame(rows)
    print(jobs.to_string(index=False))
    print(f"{args.study} ({args.preset}): {wall:.0f} s wall on {args.cores} cores, "
          f"{jobs['wall_s'].sum():.0f} s summed over {len(jobs)} jobs")


if __name__ == "__main__":
    main()
