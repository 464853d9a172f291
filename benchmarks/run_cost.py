"""What one finished run cost, stage by stage, from its jobs' benchmark files.

    python benchmarks/run_cost.py /tmp/petmad-default

Every rule writes ``logs/<rule>[/<wildcards>].benchmark.tsv`` (wall seconds, peak memory);
a stage is the rule file the rule lives in (``rules/data.smk``, ``rules/models.smk``, one
file per case study, ``rules/supplementary.smk`` ...).  Prints, per stage, the jobs, their
summed job time (what the stage costs a machine that runs one job at a time) and the
longest job; the run's own wall time is the command's (jobs run side by side).  A job run
twice (rerun after a change) counts its last run only.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = re.compile(r'benchmark:\s*\n\s*f?"logs/([A-Za-z0-9_]+)')


def rule_stages(rules_dir: Path = ROOT / "rules") -> dict[str, str]:
    """The log folder (or file stem) of every rule's benchmark, mapped to its rule file."""
    stages = {}
    for path in sorted(rules_dir.glob("*.smk")):
        for key in BENCHMARK.findall(path.read_text()):
            stages[key.removesuffix(".benchmark")] = path.stem
    return stages


def job_times(workdir: Path, stages: dict[str, str]) -> pd.DataFrame:
    rows = []
    for path in sorted((workdir / "logs").rglob("*.benchmark.tsv")):
        relative = path.relative_to(workdir / "logs")
        key = relative.parts[0].removesuffix(".benchmark.tsv")
        table = pd.read_csv(path, sep="\t")
        rows.append({"stage": stages.get(key, "other"), "rule": key,
                     "job": str(relative).removesuffix(".benchmark.tsv"),
                     "wall_s": float(table["s"].iloc[-1]),
                     "max_rss_MB": float(pd.to_numeric(table["max_rss"], errors="coerce")
                                         .iloc[-1])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir", type=Path, help="a run directory (its logs/ folder)")
    args = parser.parse_args()
    jobs = job_times(args.workdir, rule_stages())
    if jobs.empty:
        raise SystemExit(f"run_cost: no benchmark files under {args.workdir / 'logs'}")
    summary = jobs.groupby("stage").agg(
        jobs=("job", "size"), job_min=("wall_s", lambda s: s.sum() / 60),
        longest_min=("wall_s", lambda s: s.max() / 60),
        peak_rss_MB=("max_rss_MB", "max")).sort_values("job_min", ascending=False)
    pd.set_option("display.width", 120)
    print(summary.round(1).to_string())
    print(f"\n{len(jobs)} jobs, {jobs['wall_s'].sum() / 60:.1f} min of job time in all")
    longest = jobs.sort_values("wall_s", ascending=False).head(10)
    print("\nlongest jobs (min):")
    print((longest.set_index("job")["wall_s"] / 60).round(1).to_string())


if __name__ == "__main__":
    main()
