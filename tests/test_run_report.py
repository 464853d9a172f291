"""benchmarks/run_report.py on synthetic runs: stopped statuses of every shape the studies
write, and metatrain logs (the whole-run road: tests/test_workflow.py)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from run_report import stopped_runs, training_records  # noqa: E402


def test_every_stopped_run_and_replica_is_listed_with_its_reason(tmp_path):
    statuses = {
        "gaas/lora/1000K": {"status": "stopped", "reason": "the bulk solid left\nits order"},
        "gaas/lora/1150K": {"status": "ok"},
        "lps/bespoke/gamma/500K": {"replicas": [{"replica": 0, "status": "ok"},
                                                {"replica": 1, "status": "stopped",
                                                 "reason": "atoms collided"}]},
        "water/pet-mad": {"status": "ok"},
        "hea/bespoke": {"status": "stopped"},  # no reason recorded
    }
    for where, status in statuses.items():
        (tmp_path / "runs" / where).mkdir(parents=True)
        (tmp_path / "runs" / where / "status.json").write_text(json.dumps(status))
    assert stopped_runs(tmp_path).to_dict("records") == [
        {"study": "gaas", "model": "lora", "where": "1000K", "reason": "the bulk solid left"},
        {"study": "hea", "model": "bespoke", "where": "", "reason": ""},
        {"study": "lps", "model": "bespoke", "where": "gamma/500K r1",
         "reason": "atoms collided"}]


def test_a_training_whose_energy_grew_while_its_loss_fell_is_flagged(tmp_path):
    # a log of metatrain epochs holding a retraining: the last training is judged
    line = ("Epoch: {:4d} | learning rate: 1e-3 | training loss: {} | validation energy MAE "
            "(per atom): {} meV | validation forces MAE: 300 meV/A")
    logs = tmp_path / "logs" / "train_bespoke_model"
    logs.mkdir(parents=True)
    (logs / "water.log").write_text("\n".join([
        line.format(0, 50.0, 10.0), line.format(1, 40.0, 5.0), "a warning",
        line.format(0, 900.0, 100.0), line.format(1, 300.0, 150.0),
        line.format(2, 200.0, 200.0)]))
    # energy in eV, falling with the loss: learned
    (tmp_path / "logs" / "train_pet_mad.log").write_text("\n".join([
        line.format(0, 9.0, 1.0).replace(" meV", " eV"),
        line.format(1, 3.0, 0.4).replace(" meV", " eV")]))
    records = training_records(tmp_path).set_index("training")
    water = records.loc["train_bespoke_model/water"]
    assert water["epochs"] == 3
    assert (water["val_energy_first"], water["val_energy_last"]) == (100.0, 200.0)
    assert water["energy_grew_while_loss_fell"]
    pet_mad = records.loc["train_pet_mad"]
    assert (pet_mad["val_energy_first"], pet_mad["val_energy_last"]) == (1000.0, 400.0)
    assert not pet_mad["energy_grew_while_loss_fell"]
