"""The real-DFT road through Snakemake: a small water slice labeled with GPAW (PBEsol), a
bespoke PET trained on it, and the water case study run with that model."""

import json
import os

import pandas as pd
import pytest
from conftest import snakemake

pytestmark = pytest.mark.workflow

# Water boxes of 4 molecules (12 atoms) at a low cutoff and the Γ point only: about 4 s
# of GPAW per structure on one core.  The study itself runs the smoke preset's box.
GPAW_SLICE = """
systems: [water]
models: [bespoke]
reference:
  engine: gpaw
  gpaw: {ecut_eV: 250, kpoint_density: 0.5, setup_dir: setups}
labeling: {max_threads: 2}
data:
  water: {n_structures: 10, n_molecules: 4}
studies:
  water_pimd: {beads: [1]}
"""


def test_gpaw_labels_train_a_bespoke_model_and_run_the_water_study(root, tmp_path):
    if os.environ.get("PETMAD_REQUIRE_GPAW") != "1":
        pytest.importorskip("gpaw")
    config = tmp_path / "gpaw_slice.yaml"
    config.write_text(GPAW_SLICE)
    result = snakemake(root, tmp_path, "results/water_pimd.pdf",
                       configfiles=("config.yaml", "presets/smoke.yaml", str(config)))
    assert result.returncode == 0, result.stderr[-3000:]
    labeled = json.loads((tmp_path / "data" / "water" / "labeled.extxyz.json").read_text())
    assert labeled["engine"] == "gpaw" and labeled["settings"]["xc"] == "PBEsol"
    assert labeled["n_labeled"] == 10, labeled["failures"]
    assert sorted(p.name for p in (tmp_path / "setups").iterdir()) >= ["H.PBEsol", "O.PBEsol"]
    assert (tmp_path / "models" / "water" / "bespoke.pt").stat().st_size > 0
    assert not (tmp_path / "models" / "pet-mad.pt").exists()  # only what the figure needs
    table = pd.read_csv(tmp_path / "results" / "water_pimd.csv")
    assert set(table["model"]) == {"bespoke"}
    finished = table["status"] == "ok"
    assert table.loc[finished, "heat_capacity_J_mol_K"].notna().all()
    assert table.loc[~finished, "reason"].astype(str).str.len().gt(10).all()
    assert (tmp_path / "results" / "water_pimd.pdf").stat().st_size > 10_000
