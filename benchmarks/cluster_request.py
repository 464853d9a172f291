"""What a campaign asks a SLURM cluster for: jobs, GPU-hours and CPU-hours per stage,
from the job requests the SLURM profile submits (each job's `runtime` limit × its GPUs,
and × its CPUs), summed over every job of ``snakemake all`` for a preset.

    python benchmarks/cluster_request.py                 # the paper preset
    python benchmarks/cluster_request.py --preset presets/smoke.yaml

These are requests (time limits), an upper bound on what the jobs use: size the real
need from ``results/campaign_cost.csv`` and measured per-atom rates.  Jobs that run on
the submitting node (``localrules``: figures, tables) ask for nothing.  Stages follow
the campaign cost table (``petmad/campaign.py``); the rules it does not count (test-set
predictions, benchmarks' analyses, dipole and shielding models) are ``other``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import defaultdict
from pathlib import Path
from unittest import mock

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def silenced():
    """stdout and stderr to /dev/null at the file-descriptor level (Snakemake's logger
    holds on to the streams it started with)."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)


def planned_jobs(preset: Path, cores: int, targets: tuple[str, ...] = ("all",)) -> list:
    """Every job ``snakemake <targets>`` would submit for ``preset`` from scratch (not the
    local rules), its resources evaluated.  Reading the Snakefile in this process sets
    markers in ``os.environ`` (the refused studies said once); they are not kept, so a
    workflow started later from the same process still says them."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        ResourceSettings,
    )

    with mock.patch.dict(os.environ), SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(cores=cores),
                                config_settings=ConfigSettings(configfiles=[preset]),
                                snakefile=ROOT / "Snakefile", workdir=ROOT)
        with silenced():  # the dry run's job list
            workflow.dag(DAGSettings(targets=set(targets), forceall=True)).execute_workflow(
                executor="dryrun")
        # Evaluated job resources are only reachable through the workflow object.
        inner = workflow._workflow
        return [job for job in inner.dag.jobs if job.rule.name not in inner._localrules
                and not job.rule.norun]


def rule_stages(preset: Path) -> dict[str, str]:
    from petmad import campaign
    from petmad.config import load_config_files

    config = load_config_files([str(ROOT / "config.yaml"), str(preset)])
    table = campaign.campaign_cost(config)
    # The cost table counts labeling in label_shard (and MD in sample_md_trajectory) when
    # labeling is sharded; the jobs around it (build, gather, split) belong to the same stage.
    return {"build_structures": "labeling", "label": "labeling", "split": "labeling",
            "sample_md": "labeling", **dict(zip(table["rule"], table["stage"], strict=False))}


def requests(preset: Path, cores: int) -> pd.DataFrame:
    stages = rule_stages(preset)
    rows: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "gpu_hours": 0.0,
                                                 "cpu_hours": 0.0})
    for job in planned_jobs(preset, cores):
        hours = job.resources.get("runtime", 0) / 60
        tasks = job.resources.get("tasks", 1)
        row = rows[(stages.get(job.rule.name, "other"), job.rule.name)]
        row["jobs"] += 1
        row["gpu_hours"] += hours * job.resources.get("gpu", 0)
        row["cpu_hours"] += hours * job.threads * tasks
    table = pd.DataFrame([{"stage": stage, "rule": rule, **values}
                          for (stage, rule), values in rows.items()])
    return table.sort_values(["stage", "rule"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", type=Path, default=ROOT / "presets" / "paper.yaml")
    parser.add_argument("--cores", type=int, default=256,
                        help="largest thread count a job may ask for (a node's cores)")
    args = parser.parse_args()
    table = requests(args.preset.resolve(), args.cores)
    pd.set_option("display.width", 120)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print()
    stages = table.groupby("stage")[["jobs", "gpu_hours", "cpu_hours"]].sum()
    stages.loc["total"] = stages.sum()
    print(stages.to_string(float_format=lambda v: f"{v:,.0f}"))


if __name__ == "__main__":
    main()
