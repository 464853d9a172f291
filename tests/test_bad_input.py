"""Bad input and faults, as a new user meets them: every class stops with a non-zero exit
and one line naming the cause (the key, the index, the file), writes nothing and removes
nothing; a killed result write leaves no temporary file and no orphan provenance record.

Everything here is fast: configurations go through ``python -m petmad check-config`` or a
``snakemake -n`` dry run into an empty directory, models are fakes, dynamics are a few
steps of a harmonic crystal."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from ase.build import bulk
from ase.io import write

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def dry_run(workdir: Path, overlay: dict | None = None, target: str = "all"
            ) -> subprocess.CompletedProcess:
    """``snakemake -n`` of the smoke preset (plus ``overlay``) planning into ``workdir``."""
    configfiles = [str(ROOT / "config.yaml"), str(ROOT / "presets" / "smoke.yaml")]
    if overlay is not None:
        (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        configfiles.append("overlay.yaml")
    return run("-m", "snakemake", target, "-n", "--quiet", "rules", "--cores", "1",
               "--directory", str(workdir), "--snakefile", str(ROOT / "Snakefile"),
               "--configfile", *configfiles, cwd=workdir)


def files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and modification time."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def the_error(result: subprocess.CompletedProcess, prefix: str = "error: ") -> str:
    """The one line that reports the failure (a traceback or a second line fails)."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


# ----------------------------------------------------------------------- configuration

BAD_VALUES = [
    # list items out of range: the key path and the index
    ({"studies": {"gaas_melting": {"temperatures_K": [-5, 1000]}}},
     "'studies.gaas_melting.temperatures_K.0': Input should be greater than 0"),
    ({"studies": {"lps_conductivity": {"phases": {"alpha": {"temperatures_K": [-600]}}}}},
     "'studies.lps_conductivity.phases.alpha.temperatures_K.0': Input should be greater"),
    ({"studies": {"bto_dielectric": {"temperatures_K": [-100, 100]}}},
     "'studies.bto_dielectric.temperatures_K.0': Input should be greater than 0"),
    ({"studies": {"water_pimd": {"beads": [0, 2]}}},
     "'studies.water_pimd.beads.0': Input should be greater than 0"),
    ({"data": {"water": {"sampling": {"temperatures_K": [300, -50]}}}},
     "'data.water.sampling.temperatures_K.1': Input should be greater than 0"),
    ({"data": {"water": {"md_test": {"temperatures_K": [298, 0]}}}},
     "'data.water.md_test.temperatures_K.1': Input should be greater than 0"),
    ({"studies": {"gaas_melting": {"supercell": [2, 0, 8]}}},
     "'studies.gaas_melting.supercell.1': Input should be greater than 0"),
    ({"training": {"learning_curves": {"fractions": [0.5, 1.5]}}},
     "'training.learning_curves.fractions.1': Input should be less than 1"),
    ({"studies": {"speed": {"sizes": [64, -1]}}},
     "'studies.speed.sizes.1': Input should be greater than 0"),
    ({"studies": {"dimers": {"elements": ["H", "Qq"]}}},
     "'studies.dimers.elements.1': unknown chemical symbol 'Qq'"),
    ({"studies": {"hea_segregation": {"stop": {"max_uncertainty_eV_per_atom": -1}}}},
     "'studies.hea_segregation.stop.max_uncertainty_eV_per_atom': Input should be greater"),
    # already handled before: unknown key, wrong type, unknown name
    ({"studies": {"water_pimd": {"bead": [1]}}}, "'studies.water_pimd.bead' is not known"),
    ({"seed": "many"}, "'seed': Input should be a valid integer"),
    ({"systems": ["lps", "argon"]}, "'systems.1': Input should be 'lps'"),
]


@pytest.mark.parametrize("overlay, message", BAD_VALUES,
                         ids=[m.split("'")[1] for _, m in BAD_VALUES])
def test_check_config_names_the_key_and_the_item(tmp_path, overlay, message):
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(overlay))
    before = files(tmp_path)
    result = run("-m", "petmad", "check-config", str(ROOT / "config.yaml"), "my.yaml",
                 cwd=tmp_path)
    assert result.returncode == 2
    assert message in the_error(result)
    assert files(tmp_path) == before


@pytest.mark.parametrize("overlay, message", [
    ({"studies": {"gaas_melting": {"temperatures_K": [-5, 1000]}}},
     "config key 'studies.gaas_melting.temperatures_K.0'"),
    ({"studies": {"lps_conductivity": {"phases": {"alpha": {
        "structure": "missing.cif", "supercell": [1, 1, 2], "temperatures_K": [800]}}}}},
     "config key 'studies.lps_conductivity.phases.alpha.structure': file 'missing.cif' "
     "does not exist"),
], ids=["list item", "missing structure file"])
def test_the_workflow_stops_before_planning(tmp_path, overlay, message):
    result = dry_run(tmp_path, overlay)
    assert message in the_error(result, prefix="petmad-bench: ")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".snakemake") == [
        "overlay.yaml"]


def test_a_corrupt_base_checkpoint_stops_the_workflow(tmp_path):
    (tmp_path / "pet-mad.ckpt").write_bytes(b"PK\x03\x04 truncated")
    result = dry_run(tmp_path, {"training": {"base_model": "pet-mad.ckpt"}})
    assert "pet-mad.ckpt" in the_error(result, prefix="petmad-bench: ")


def test_malformed_yaml_is_named_by_check_config(tmp_path):
    (tmp_path / "my.yaml").write_text("studies:\n  water_pimd: {beads: [1, 2}\n")
    result = run("-m", "petmad", "check-config", str(ROOT / "config.yaml"), "my.yaml",
                 cwd=tmp_path)
    assert result.returncode == 2
    line = the_error(result)
    assert "config file 'my.yaml' is not valid YAML" in line and "line 2" in line


def test_the_readme_says_what_to_do_after_a_kill_and_on_config_errors():
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text.split("## Troubleshooting", 1)[1].split("## ", 1)[0]
    for needed in ("snakemake --unlock", "--rerun-incomplete", "python -m petmad check-config",
                   "max_uncertainty_eV_per_atom"):
        assert needed in section + text.split("## Case studies", 1)[1].split("## ", 1)[0]


# ----------------------------------------------------------------------- input files


def test_negative_sampling_temperatures_write_no_structures(tmp_path):
    settings = {"n_structures": 4, "sampling": {"temperatures_K": [-50.0, 300.0]}}
    result = run("-m", "petmad", "build-structures", "--dataset", "water", "--settings",
                 json.dumps(settings), "--seed", "1", "--output", "water.extxyz", cwd=tmp_path)
    assert result.returncode == 2
    assert "sampling.temperatures_K.0: Input should be greater than 0" in the_error(result)
    assert files(tmp_path) == {}


@pytest.fixture
def crystal(tmp_path) -> Path:
    path = tmp_path / "start.extxyz"
    write(path, bulk("Cu", "fcc", a=3.6, cubic=True))
    return path


@pytest.mark.parametrize("content", [b"not a model", b"PK\x03\x04" + bytes(200)],
                         ids=["garbage", "truncated zip"])
def test_a_corrupt_exported_model_is_named(tmp_path, crystal, content):
    (tmp_path / "model.pt").write_bytes(content)
    before = files(tmp_path)
    potential = json.dumps({"kind": "metatomic", "path": "model.pt"})
    result = run("-m", "petmad", "simulate", "--structure", crystal.name, "--potential",
                 potential, "--settings", '{"steps": 4}', "--output-dir", "run", "--quiet",
                 cwd=tmp_path)
    assert result.returncode == 2
    assert "exported model" in (line := the_error(result)) and "model.pt' cannot be read" in line
    result = run("-m", "petmad", "bto-md", "--model", "pet-mad", "--model-file", "model.pt",
                 "--settings", "{}", "--temperature", "100", "--seed", "1",
                 "--output-dir", "runs/bto", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "'model.pt' cannot be read" in the_error(result)
    assert files(tmp_path) == before


def test_a_missing_structure_file_is_named(tmp_path):
    result = run("-m", "petmad", "simulate", "--structure", "absent.extxyz", "--potential",
                 '{"kind": "emt"}', "--settings", '{"steps": 4}', "--output-dir", "run",
                 cwd=tmp_path)
    assert result.returncode == 2
    assert "structure file 'absent.extxyz' does not exist" in the_error(result)
    assert files(tmp_path) == {}


# ----------------------------------------------------------------------- outputs

CURVES = "model,element,distance_A,binding_energy_eV,error\npet-mad,H,0.7,-4.0,\npet-mad,H,2.0,0.0,\n"


def dimers_analysis(directory: Path) -> subprocess.CompletedProcess:
    return run("-m", "analysis.dimers", "--curves", "curves.csv", "--table",
               "results/dimers.csv", "--figure", "results/dimers.pdf", cwd=directory)


def test_an_output_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "curves.csv").write_text(CURVES)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "provenance").write_text("a file where a directory belongs")
    before = files(tmp_path)
    result = dimers_analysis(tmp_path)
    assert result.returncode == 2
    assert "cannot write 'results/provenance/dimers.csv.json'" in the_error(result)
    assert files(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_results_directory_is_named(tmp_path):
    (tmp_path / "curves.csv").write_text(CURVES)
    (tmp_path / "results").mkdir()
    (tmp_path / "results").chmod(0o555)
    try:
        result = dimers_analysis(tmp_path)
    finally:
        (tmp_path / "results").chmod(0o755)
    assert result.returncode == 2
    assert "cannot write 'results/" in the_error(result) and "Permission denied" in result.stderr
    assert list((tmp_path / "results").iterdir()) == []


KILLED_WRITE = textwrap.dedent("""
    import os, signal, sys
    import pandas as pd
    from analysis.output import write_csv

    class Killed(pd.DataFrame):
        def to_csv(self, path, **kwargs):
            pd.DataFrame(self).to_csv(path, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # as kill -9 before the rename

    write_csv(sys.argv[1], Killed({"a": [1, 2], "b": [3.0, 4.0]}) if len(sys.argv) > 2
              else pd.DataFrame({"a": [5], "b": [6.0]}))
""")


def test_a_killed_result_write_leaves_no_temporaries_or_orphan_records(tmp_path):
    (tmp_path / "write.py").write_text(KILLED_WRITE)
    assert run("write.py", "results/t.csv", cwd=tmp_path).returncode == 0
    record = tmp_path / "results" / "provenance" / "t.csv.json"
    assert record.exists()
    (tmp_path / "results" / "t.csv").unlink()  # as Snakemake does before rerunning a job
    killed = run("write.py", "results/t.csv", "kill", cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "results" / "t.csv").exists()
    assert not record.exists(), "the record of a table that is gone stayed behind"
    # the next write sweeps what the killed one left
    assert run("write.py", "results/t.csv", cwd=tmp_path).returncode == 0
    assert sorted(files(tmp_path / "results")) == ["provenance/t.csv.json", "t.csv"]
    status = run("-m", "petmad.provenance", "results/t.csv", cwd=tmp_path)
    assert status.returncode == 0, status.stderr


def test_a_failed_write_leaves_no_temporary(tmp_path):
    from petmad.io import atomic_path

    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- runs


def harmonic_run(directory: Path, stop: dict, steps: int = 4):
    from petmad.simulate import DynamicsSettings, PotentialSpec, run_dynamics

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    settings = DynamicsSettings.model_validate({
        "steps": steps, "fix_com": False, "stop": stop,
        "records": {"properties_stride": 1, "trajectory_stride": 1, "checkpoint_stride": 2}})
    return run_dynamics(directory, atoms, [PotentialSpec(kind="harmonic")], settings,
                        progress=False)


def test_a_successful_rerun_removes_the_stop_marker(tmp_path):
    from petmad.simulate import SimulationStopped

    with pytest.raises(SimulationStopped, match="collided"):
        harmonic_run(tmp_path / "run", {"min_distance_A": 3.0})
    assert (tmp_path / "run" / "stopped.json").exists()
    harmonic_run(tmp_path / "run", {"min_distance_A": 1.0})
    assert not (tmp_path / "run" / "stopped.json").exists()
    assert (tmp_path / "run" / "properties.csv").exists()


def test_a_stopped_stage_drops_the_later_stages_of_an_earlier_attempt(tmp_path):
    from petmad.simulate import DynamicsSettings, PotentialSpec, SimulationStopped
    from petmad.simulate.protocol import Stage, run_stages

    def stages(min_distance):
        settings = DynamicsSettings.model_validate({
            "steps": 2, "fix_com": False, "stop": {"min_distance_A": min_distance},
            "records": {"properties_stride": 1, "trajectory_stride": 1}})
        return [Stage("equilibration", settings), Stage("sampling", settings)]

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    harmonic = [PotentialSpec(kind="harmonic")]
    run_stages(tmp_path, atoms, harmonic, stages(1.0), progress=False)
    assert (tmp_path / "sampling" / "properties.csv").exists()
    with pytest.raises(SimulationStopped):
        run_stages(tmp_path, atoms, harmonic, stages(3.0), progress=False)
    assert (tmp_path / "equilibration" / "stopped.json").exists()
    assert not (tmp_path / "sampling").exists()


@pytest.mark.parametrize("study", ["lps_conductivity", "gaas_melting", "hea_segregation",
                                   "water_pimd", "succinic_nmr", "bto_dielectric", "nc_mts"])
def test_every_study_takes_its_guards_from_its_section(study):
    """The uncertainty guard is off by default and reaches every run of a study that sets
    it, as do the other guards."""
    from petmad.config import validate_config

    default = getattr(validate_config({}).studies, study).stop
    assert default.max_uncertainty_eV_per_atom is None
    config = validate_config({"studies": {study: {"stop": {
        "max_uncertainty_eV_per_atom": 0.05, "min_distance_A": 0.7}}}})
    settings = getattr(config.studies, study)
    guards = {json.dumps(s.stop.model_dump(), sort_keys=True)
              for s in study_run_settings(study, settings)}
    assert guards == {json.dumps({"max_uncertainty_eV_per_atom": 0.05, "min_distance_A": 0.7,
                                  "max_neighbour_distance_A": None,
                                  "max_energy_change_eV_per_atom": None}, sort_keys=True)}


def study_run_settings(study, settings):
    """The DynamicsSettings of a study's runs, built the way its jobs build them."""
    from petmad.studies import bto, hea, lps, nc_mts, succinic, water

    if study == "lps_conductivity":
        return [s.settings for s in lps.stages(settings, 600.0, 1)]
    if study == "bto_dielectric":
        return [s.settings for s in bto.stages(settings, 100.0, 1)]
    if study == "succinic_nmr":
        return [s.settings for s in succinic.sampling_stages(settings, 2, 1)]
    if study == "hea_segregation":
        return [hea.remd_settings(settings, 1)]
    if study == "water_pimd":
        return [water.pimd_settings(settings, 2, 1)]
    if study == "nc_mts":
        return [nc_mts.run_settings(settings, "conservative", "nve", 1)]
    return gaas_run_settings(settings)


def gaas_run_settings(settings):
    """gaas builds its runs inside its jobs: record what it hands to run_dynamics."""
    from unittest import mock

    from petmad.studies import gaas

    seen = []

    def record(directory, atoms, potentials, dynamics, **kwargs):
        seen.append(dynamics)
        raise StopIteration

    with mock.patch.object(gaas, "run_dynamics", record), \
            mock.patch.object(gaas, "relax", lambda atoms, *a, **k: atoms):
        with pytest.raises(StopIteration):
            gaas.build_interface(Path("unused"), None, settings, 1)
    return seen


def test_no_absolute_path_in_planned_commands(tmp_path):
    """Snakemake records input paths: an absolute one (the shipped shielding set) replans
    every job that reads it when the project is copied or moved."""
    result = run("-m", "snakemake", "models/succinic/shielding.npz", "-n", "-p", "--cores", "1",
                 "--directory", str(tmp_path), "--snakefile", str(ROOT / "Snakefile"),
                 "--configfile", str(ROOT / "config.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    command = next(line for line in result.stdout.splitlines() if "--reference-set" in line)
    shipped = command.split("--reference-set ", 1)[1].split()[0]
    assert not os.path.isabs(shipped)
    assert (tmp_path / shipped).resolve() == (
        ROOT / "petmad/shielding/data/succinic_alpha_giao.extxyz").resolve()
