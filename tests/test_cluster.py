"""profiles/slurm on a real SLURM cluster: a one-node cluster on this machine
(.ci/slurm-cluster.sh, partitions `cpu` and `gpu`) runs a slice of the smoke DAG — the
universal data set, pet-mad, the GaAs melting study, its figure and the configuration
report — through the SLURM executor plugin, with the profile's own settings and only the
blanks an administrator fills in (partitions) filled.

One module fixture drives three Snakemake runs in one working directory (about 4 minutes
on 2 cores, most of it the plugin's status-check interval):

1. ``device: auto`` (rules that evaluate a model ask for a GPU, as with ``cuda``, yet run on
   this CPU-only node), interrupted (SIGINT) while pet-mad trains;
2. the same command again, which finishes the slice;
3. ``device: cuda``: pet-mad's training job is submitted to the GPU partition with a GPU
   request, fails on this node (no CUDA), is retried once (the profile's ``retries: 1``)
   and the workflow stops.

What each run submitted is read twice: from the plugin's ``sbatch call:`` lines (Snakemake
``--verbose``) and from SLURM itself (``scontrol show job``; the cluster keeps finished jobs
for an hour).  Needs root and apt-get; skips with the reason otherwise.
"""

import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from petmad.config import validate_config

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "slurm-cluster.sh"
TARGETS = ["results/gaas_melting.pdf", "results/configuration.yaml"]
CLUSTER_RULES = {"build_structures", "label", "split", "train_pet_mad", "gaas_interface",
                 "gaas_pinning"}
LOCAL_RULES = {"gaas_melting", "configuration"}
# The plugin checks job states this often (seconds): a job of this slice takes 10-22 s
# here, so most are seen finished at the first check (the plugin adds 10 s per check
# that finds none finished).
STATUS_INTERVAL = 25
CLUSTER_START = [0.0]  # seconds, for the timings the fixture prints


@pytest.fixture(scope="module")
def cluster():
    check = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True,
                           check=False)
    if check.returncode != 0:
        pytest.skip(f"cannot run a SLURM cluster on this machine: {check.stdout.strip()}")
    began = time.monotonic()
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                             timeout=900, check=False)
    CLUSTER_START[0] = time.monotonic() - began
    assert started.returncode == 0, started.stderr[-3000:]
    yield
    subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, text=True, timeout=120,
                   check=False)


def filled_profile(tmp_path):
    """profiles/slurm with its blanks filled as an administrator would: the CPU partition
    as default, the GPU partition for the rules the profile lists; plus the status mode
    this cluster needs and a short status interval."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = "cpu"
    for resources in profile["set-resources"].values():
        resources["slurm_partition"] = "gpu"
    profile.update({
        # no accounting database here, so no sacct: squeue, which sees finished jobs for
        # the cluster's MinJobAge (1 hour, more than 3 status intervals as the plugin asks)
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": STATUS_INTERVAL,
        "seconds-between-status-checks": STATUS_INTERVAL,
    })
    directory = tmp_path / "profile"
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return directory, profile


def merged_config(*files):
    """The configuration Snakemake builds from these files (nested sections merge)."""
    def merge(into, new):
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value
        return into

    config = {}
    for path in files:
        merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return validate_config(config)


def rule_requests(cfg):
    """threads, mem_mb and runtime of every rule, read from the rule files' text (as a
    reviewer reads them, independently of Snakemake and the plugin) and evaluated with the
    configuration; a lambda gets the rule's threads.  None where a value is not there or
    needs more than the configuration.  ``gpu``: the rule asks for one when the device is
    cuda or auto (``gpu=model_resources``)."""
    requests = {}
    for path in (ROOT / "rules").glob("*.smk"):
        for block in re.split(r"^(?=rule \w+:)", path.read_text(), flags=re.MULTILINE):
            name = re.match(r"rule (\w+):", block)
            if not name:
                continue
            values = {}
            for key, pattern in [("threads", r"^\s+threads: (.+)$"),
                                 ("mem_mb", r"^\s+mem_mb=(.+),$"),
                                 ("runtime", r"^\s+runtime=(.+),$")]:
                found = re.search(pattern, block, flags=re.MULTILINE)
                try:
                    values[key] = eval(found.group(1), {"CFG": cfg}) if found else None
                except (NameError, AttributeError):
                    values[key] = None
            for key in ("mem_mb", "runtime"):
                if callable(values[key]):
                    values[key] = values[key](None, values["threads"])
            # pet-mad asks for one GPU per training process (one at the smoke preset)
            values["gpu"] = bool(re.search(r"^\s+gpu=(model_resources|pretrain_gpus),", block,
                                           flags=re.MULTILINE))
            requests[name.group(1)] = values
    return requests


def sbatch_calls(log):
    """(rule, wildcards, {option: value}, line) of every job the plugin submitted, from
    its ``sbatch call:`` lines (Snakemake --verbose), the command itself left out."""
    calls = []
    for line in log.splitlines():
        if not line.startswith("sbatch call: "):
            continue
        words = shlex.split(line.removeprefix("sbatch call: ").split(' --wrap="')[0])
        options, i = {}, 1
        while i < len(words):
            word = words[i]
            if "=" in word and word.startswith("--"):
                key, value = word.split("=", 1)
                options[key] = value
            elif i + 1 < len(words) and not words[i + 1].startswith("-"):
                options[word] = words[i + 1]
                i += 1
            else:
                options[word] = True
            i += 1
        rule, _, wildcards = options["--comment"].removeprefix("rule_").partition("_wildcards_")
        calls.append((rule, wildcards, options, line))
    return calls


def slurm_jobs():
    """SLURM's record of every job it still remembers: id -> {field: value}."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True,
                         check=True).stdout
    jobs = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\S+?)=(\S*)", line))
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def minutes(limit):
    """SLURM's [D-]HH:MM:SS as minutes."""
    days, _, clock = limit.rpartition("-")
    hours, mins, _ = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins


def _interruptible():
    """Run in the child before exec: a shell without job control starts background commands
    with SIGINT ignored, and Python then installs no KeyboardInterrupt handler; restore the
    default so the controller takes the interrupt as it takes a user's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(workdir, profile_dir, override, log_path):
    command = [sys.executable, "-m", "snakemake", "--profile", str(profile_dir),
               "--directory", str(workdir), "--snakefile", str(ROOT / "Snakefile"),
               "--verbose", *TARGETS, "--configfile", str(ROOT / "config.yaml"),
               str(ROOT / "presets" / "smoke.yaml"), str(override)]
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                text=True, preexec_fn=_interruptible)


def finish(process, log_path, timeout=600):
    process.wait(timeout=timeout)
    return process.returncode, Path(log_path).read_text()


def run_id(log):
    return re.search(r"SLURM run ID: (\S+)", log).group(1)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The three runs (module docstring); their exit codes and logs, and SLURM's records."""
    tmp = tmp_path_factory.mktemp("cluster")
    profile_dir, profile = filled_profile(tmp)
    workdir = tmp / "work"
    auto = tmp / "auto.yaml"
    # The contact wall off: it would add GaAs's reference data (labels and MD) to this
    # pet-mad slice; its road is the smoke run's (tests/test_workflow.py).
    no_wall = "studies: {contact_wall: {enabled: false}}\n"
    auto.write_text("systems: [gaas]\ndevice: auto\n" + no_wall)
    cuda = tmp / "cuda.yaml"
    cuda.write_text("systems: [gaas]\ndevice: cuda\n" + no_wall)
    timings = {}

    # 1. interrupted while pet-mad trains
    began = time.monotonic()
    timings["cluster start"] = CLUSTER_START[0]
    process = start(workdir, profile_dir, auto, tmp / "run1.log")
    deadline = time.monotonic() + 400
    training = None
    while training is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
        for job in slurm_jobs().values():
            if (job.get("Comment") == "rule_train_pet_mad" and job["JobState"] == "RUNNING"):
                training = job["JobId"]
    assert training, Path(tmp / "run1.log").read_text()[-3000:]
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    first = finish(process, tmp / "run1.log", timeout=120)
    timings["interrupted run"] = time.monotonic() - began
    timings["of which the interrupt"] = time.monotonic() - interrupted

    # 2. the same command again, and meanwhile 3. device: cuda on a node without CUDA, in a
    # copy of the interrupted run's directory (its data are done; SLURM has room for both)
    cuda_workdir = tmp / "work-cuda"
    shutil.copytree(workdir, cuda_workdir, symlinks=True,
                    ignore=shutil.ignore_patterns("locks", "slurm_logs"))
    began = time.monotonic()
    resumed = start(workdir, profile_dir, auto, tmp / "run2.log")
    failing = start(cuda_workdir, profile_dir, cuda, tmp / "run3.log")
    third = finish(failing, tmp / "run3.log")
    timings["cuda run (alongside)"] = time.monotonic() - began
    second = finish(resumed, tmp / "run2.log")
    timings["resumed run"] = time.monotonic() - began
    print("cluster test timings [s]:", {k: round(v) for k, v in timings.items()})
    return {"workdir": workdir, "cuda_workdir": cuda_workdir, "profile": profile,
            "training": training, "first": first, "second": second, "third": third,
            "jobs": slurm_jobs(),
            "auto": merged_config(ROOT / "config.yaml", ROOT / "presets/smoke.yaml", auto),
            "cuda": merged_config(ROOT / "config.yaml", ROOT / "presets/smoke.yaml", cuda)}


def submitted(log):
    return [rule for rule, *_ in sbatch_calls(log)]


def test_every_cluster_job_ran_as_a_slurm_job_and_figures_ran_locally(runs):
    (_, log1), (rc2, log2) = runs["first"], runs["second"]
    assert rc2 == 0, log2[-3000:]
    jobs = runs["jobs"]
    for log in (log1, log2):
        mine = {i: j for i, j in jobs.items() if j["JobName"] == run_id(log)}
        # one SLURM job per submission, named by the run, and each said so in the log
        assert len(mine) == len(sbatch_calls(log))
        for slurm_id in mine:
            assert re.search(rf"has been submitted with SLURM jobid {slurm_id} ", log)
    rules = submitted(log1) + submitted(log2)
    assert set(rules) == CLUSTER_RULES
    assert not LOCAL_RULES & set(rules)  # localrules: never submitted ...
    for target in TARGETS:  # ... yet built, on this (the submitting) node
        assert (runs["workdir"] / target).stat().st_size > 0
    second_ids = [i for i, j in jobs.items() if j["JobName"] == run_id(log2)]
    assert all(jobs[i]["JobState"] == "COMPLETED" for i in second_ids)


def test_each_request_matches_its_rule(runs):
    expected = rule_requests(runs["auto"])
    gpu_partition_rules = set(runs["profile"]["set-resources"])
    jobs = runs["jobs"]
    calls = sbatch_calls(runs["first"][1]) + sbatch_calls(runs["second"][1])
    for rule, _, options, line in calls:
        want = expected[rule]
        assert options["-p"] == ("gpu" if rule in gpu_partition_rules else "cpu"), line
        assert int(options["--cpus-per-task"]) == want["threads"], line
        assert int(options["--mem"]) == want["mem_mb"], line
        assert int(options["-t"]) == want["runtime"], line
        # device: auto asks for a GPU on the rules that evaluate a model
        assert options.get("--gpus") == ("1" if want["gpu"] else None), line
    assert {rule for rule, *_ in calls if expected[rule]["gpu"]} == {
        "train_pet_mad", "gaas_interface", "gaas_pinning"}
    # and SLURM holds exactly that (one record per submission)
    for job in jobs.values():
        rule = job["Comment"].removeprefix("rule_").partition("_wildcards_")[0]
        if job["JobName"] not in (run_id(runs["first"][1]), run_id(runs["second"][1])):
            continue
        want = expected[rule]
        assert job["Partition"] == ("gpu" if rule in gpu_partition_rules else "cpu")
        assert int(job["NumCPUs"]) == want["threads"]
        assert job["MinMemoryNode"] == f"{want['mem_mb']}M"
        assert minutes(job["TimeLimit"]) == want["runtime"]
        assert job.get("TresPerJob") == ("gres:gpu:1" if want["gpu"] else None)
    # the values the configuration sets came from it
    assert expected["train_pet_mad"]["runtime"] == runs["auto"].training.runtime_min
    assert expected["label"]["threads"] == runs["auto"].labeling.max_threads


def test_interrupted_controller_cancels_its_job_and_the_rerun_resumes(runs):
    (rc1, log1), (rc2, log2) = runs["first"], runs["second"]
    assert rc1 != 0
    # the plugin's documented interrupt handling: scancel of the jobs it was waiting for
    assert runs["jobs"][runs["training"]]["JobState"] == "CANCELLED"
    assert submitted(log1) == ["build_structures", "label", "split", "train_pet_mad"]
    # finished jobs are not submitted again; the cancelled one is (rerun-incomplete)
    assert sorted(submitted(log2)) == ["gaas_interface", "gaas_pinning", "gaas_pinning",
                                       "train_pet_mad"]
    assert rc2 == 0


def test_cuda_sends_model_rules_to_the_gpu_partition_and_a_failed_job_stops_the_run(runs):
    rc, log = runs["third"]
    assert rc != 0
    calls = sbatch_calls(log)
    # pet-mad's training reruns (its device changed), fails on this CUDA-less node, is
    # retried once (retries: 1) and fails again; nothing after it is submitted
    assert [rule for rule, *_ in calls] == ["train_pet_mad", "train_pet_mad"]
    want = rule_requests(runs["cuda"])["train_pet_mad"]
    for _, _, options, line in calls:
        assert options["-p"] == "gpu" and options["--gpus"] == "1", line
        assert int(options["--cpus-per-task"]) == want["threads"], line
        assert int(options["--mem"]) == want["mem_mb"] and int(options["-t"]) == want["runtime"]
    failed = [j for j in runs["jobs"].values() if j["JobName"] == run_id(log)]
    assert [j["JobState"] for j in failed] == ["FAILED", "FAILED"]
    assert all(j["Partition"] == "gpu" and j["TresPerJob"] == "gres:gpu:1" for j in failed)
    # each failure names its SLURM log and the rule's log, and the rule's log says why
    assert "Error in rule train_pet_mad" in log
    for job in failed:
        assert re.search(rf"log: logs/train_pet_mad\.log, {re.escape(job['StdOut'])} ", log)
        assert Path(job["StdOut"]).exists()
    rule_log = runs["cuda_workdir"] / "logs" / "train_pet_mad.log"
    assert "cuda is not available" in rule_log.read_text()
