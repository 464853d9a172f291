# Validation of the merged configuration, and the helpers every rule file shares.

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from petmad.config import ConfigError, SYSTEMS, dataset_settings, validate_config

try:
    CFG = validate_config(config)
except ConfigError as exc:
    # One line naming the key path, before any job is scheduled.
    sys.exit(f"petmad-bench: {exc}")

# Jobs run `python -m petmad ...`: put the interpreter running Snakemake first on PATH
# (a virtual environment need not be activated) and the project on PYTHONPATH.  With
# --software-deployment-method conda, the rule's environment comes first instead.
def prepend_search_path(variable, directory):
    current = os.getenv(variable)
    os.environ.update({variable: os.pathsep.join(filter(None, [str(directory), current]))})


prepend_search_path("PATH", Path(sys.executable).parent)
prepend_search_path("PYTHONPATH", workflow.basedir)
CONDA_ENV = "../envs/petmad.yaml"
DATASETS = ["mad", *CFG.systems]


wildcard_constraints:
    dataset="|".join(["mad", *SYSTEMS]),


def as_json(section):
    """A config section as compact JSON for a command line (Snakemake reruns a job when
    its params change, so each rule gets exactly the section it uses)."""
    return json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def labeling_input(wildcards):
    """Structures to compute, or the user's labeled file when the engine is 'file'."""
    if CFG.reference.engine == "file":
        return CFG.reference.file.path.format(dataset=wildcards.dataset)
    return f"data/{wildcards.dataset}/structures.extxyz"
