"""The README's commands, so the documentation cannot drift from the code.

Every command the README shows (fenced ``bash`` blocks and inline code) is classified:
workflow commands run as dry runs (``snakemake -n``: targets, flags and presets resolve),
cheap commands run for real, commands that need trained models or long runs, or that
contain placeholders, run with ``--help`` (the entry point and its flags exist), and the
few that cannot run here are skipped with the reason below.  A command that fits none of
these fails the test: adding one to the README means deciding how it is checked.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


COMMAND = re.compile(r"^(?:\.venv/bin/)?(snakemake|python|mtt|\./install\.sh|source)\b")
PLACEHOLDER = re.compile(r"<[^>]*>|…|\.\.\.|\bDIR\b|\bmy\.yaml\b")
SKIPPED = {
    "python -m pytest": "the test suite itself",
    "./install.sh": "CI runs it before the tests",
    "source .venv/bin/activate": "changes the calling shell only",
    "snakemake --report": "needs a finished run: tests/test_workflow.py reports the smoke run",
}
RUN_FOR_REAL = ("python -m petmad schema", "snakemake --lint")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    candidates = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            candidates.append(line.split("  #")[0])
    candidates += re.findall(r"`([^`\n]+)`", text)
    commands = []
    for candidate in candidates:
        for part in candidate.split("&&"):
            part = " ".join(part.split())
            if COMMAND.match(part) and part not in commands:
                commands.append(part)
    return commands


def check(command: str) -> tuple[str, list[str] | None]:
    """How a README command is checked: ('skip', None) or (kind, argv)."""
    bare = re.sub(r"^\.venv/bin/", "", command)
    bare = bare.split(" > ")[0]  # output redirection is the shell's business
    for prefix in SKIPPED:
        if bare.startswith(prefix) or f"&& {prefix}" in bare:
            return "skip", None
    words = shlex.split(bare)
    if words[0] == "snakemake":
        if bare.startswith(RUN_FOR_REAL):
            return "run", [sys.executable, "-m", "snakemake", *words[1:]]
        return "dry-run", [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules",
                           "--snakefile", str(ROOT / "Snakefile"), *words[1:]]
    if bare.startswith(RUN_FOR_REAL):
        return "run", [sys.executable, *words[1:]]
    if words[0] == "mtt":
        return "help", [str(Path(sys.executable).parent / "mtt"), words[1], "--help"]
    if words[0] == "python":
        # the script or module, then its sub-command and arguments up to the first option
        # or placeholder
        head = words[1:3] if words[1] == "-m" else words[1:2]
        if not head or PLACEHOLDER.search(head[-1]):
            return "skip", None  # a pattern such as `python -m analysis.…`, not a command
        for word in words[len(head) + 1:]:
            if PLACEHOLDER.search(word) or word.startswith("-"):
                break
            head.append(word)
        return "help", [sys.executable, *head, "--help"]
    raise AssertionError(f"README command {command!r}: no rule says how to check it")


COMMANDS = readme_commands()


def test_the_readme_shows_the_quick_start_and_many_commands():
    assert "./install.sh && .venv/bin/snakemake --cores all all" in " ".join(
        (ROOT / "README.md").read_text().split())
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command(command, tmp_path):
    kind, argv = check(command)
    if kind == "skip":
        pytest.skip("not run here: " + next(
            (reason for prefix, reason in SKIPPED.items() if prefix in command),
            "a pattern, not a command"))
    cwd = ROOT
    if kind == "dry-run":
        # as in the project root, but planning into an empty directory
        for name in ("config.yaml", "presets", "profiles"):
            (tmp_path / name).symlink_to(ROOT / name)
        cwd = tmp_path
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, f"{kind}: {' '.join(argv)}\n{result.stderr[-2000:]}"


def own_road_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own data, checkpoint and model")[1].split("\n## ")[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_the_readme_shows_every_road():
    assert len(own_road_snippets()) >= 4


@pytest.mark.parametrize("snippet", own_road_snippets(),
                         ids=[f"snippet{i}" for i in range(len(own_road_snippets()))])
def test_readme_road_snippet_is_a_valid_config(snippet, tmp_path):
    """Each config snippet of 'Your own data, checkpoint and model', laid over the smoke
    preset, passes check-config (the files it names made, empty, where it runs)."""
    (tmp_path / "snippet.yaml").write_text(snippet)
    for name in re.findall(r"[\w./-]+\.(?:pt|ckpt)\b", snippet):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    result = subprocess.run(
        [sys.executable, "-m", "petmad", "check-config", str(ROOT / "config.yaml"),
         str(ROOT / "presets" / "smoke.yaml"), "snippet.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, f"{snippet}\n{result.stderr[-2000:]}"
