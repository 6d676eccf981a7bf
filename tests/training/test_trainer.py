import json

import pandas as pd
import pytest
from safetensors.torch import load_file

from molvae.errors import MolvaeError
from molvae.training.trainer import train
from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config


def _log(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_tiny_run_outputs_and_loss_falls(tiny_run):
    rows = _log(tiny_run)
    train_rows = [r for r in rows if r["split"] == "train"]
    val_rows = [r for r in rows if r["split"] == "validation"]
    assert len(val_rows) == 2
    assert train_rows[-1]["recon"] < 0.8 * train_rows[0]["recon"]
    assert val_rows[-1]["val_recon"] < val_rows[0]["val_recon"]
    for key in ("val_kl", "active_units", "val_token_accuracy", "val_exact_reconstruction"):
        assert key in val_rows[-1]
    assert set(val_rows[-1]["property_metrics"]) == {"logP", "QED"}
    config = json.loads((tiny_run / "model" / "config.json").read_text())
    assert config["properties"]["names"] == ["logP", "QED"]
    assert set(config["properties"]["metrics"]["logP"]) == {"r2", "mae", "n"}
    assert len(config["training"]["data_sha256"]) == 64
    run = json.loads((tiny_run / "run.json").read_text())
    assert run["data"]["input_rows"] == 2000 and run["data"]["unused"] == 1600
    assert run["data"]["train"] + run["data"]["validation"] + run["data"]["rejected"] == 400


def test_resume_after_interruption_matches_uninterrupted(tmp_path):
    cfg = dict(epochs=2, max_molecules=200, batch_size=32, checkpoint_every_steps=3)
    full = tmp_path / "full"
    train(
        SAMPLE,
        full,
        tiny_train_config(**cfg),
        tiny_model_config(),
        progress=False,
        status=lambda s: None,
    )
    part = tmp_path / "part"
    result = train(
        SAMPLE,
        part,
        tiny_train_config(**cfg),
        tiny_model_config(),
        progress=False,
        status=lambda s: None,
        stop_after_steps=4,
    )
    assert result.stopped == "stop_after_steps" and result.steps == 4
    result = train(None, part, resume=True, progress=False, status=lambda s: None)
    assert result.epochs_completed == 2
    a = load_file(full / "checkpoint" / "model.safetensors")
    b = load_file(part / "checkpoint" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
    steps_full = [r["step"] for r in _log(full) if r["split"] == "validation"]
    steps_part = [r["step"] for r in _log(part) if r["split"] == "validation"]
    assert steps_full == steps_part


def test_resume_with_fewer_epochs_anneals_and_stops_sooner(tmp_path):
    cfg = dict(epochs=3, max_molecules=200, batch_size=32, checkpoint_every_steps=3,
               log_every_steps=1)
    full, short = tmp_path / "full", tmp_path / "short"
    for run in (full, short):
        train(SAMPLE, run, tiny_train_config(**cfg), tiny_model_config(), progress=False,
              status=lambda s: None, stop_after_steps=6)
    train(None, full, resume=True, progress=False, status=lambda s: None)
    said = []
    result = train(None, short, resume=True, progress=False, status=said.append,
                   resume_epochs=2)
    assert result.epochs_completed == 2 and "run length changed from 3 to 2 epochs" in said
    assert json.loads((short / "run.json").read_text())["train"]["epochs"] == 2
    lr_full = {r["step"]: r["lr"] for r in _log(full) if r["split"] == "train"}
    lr_short = {r["step"]: r["lr"] for r in _log(short) if r["split"] == "train"}
    after = [step for step in lr_short if step > 6]
    assert after and all(lr_short[step] < lr_full[step] for step in after)
    assert max(lr_short) < max(lr_full)  # it stopped a whole epoch sooner
    with pytest.raises(MolvaeError, match="needs resume"):
        train(SAMPLE, tmp_path / "new", tiny_train_config(**cfg), resume_epochs=2)


def test_run_dir_is_not_overwritten_and_resume_needs_run(tiny_run, tmp_path):
    with pytest.raises(MolvaeError, match="already holds a run"):
        train(SAMPLE, tiny_run, tiny_train_config(), tiny_model_config(), progress=False)
    with pytest.raises(MolvaeError, match="nothing to resume"):
        train(None, tmp_path / "none", resume=True, progress=False)


def test_bad_rows_are_accounted_for(tmp_path):
    from tests.conftest import REPO

    bad = REPO / "datasets" / "bad_rows.csv"
    run = tmp_path / "bad"
    train(
        bad,
        run,
        tiny_train_config(epochs=1, max_length=40, max_molecules=None),
        tiny_model_config(),
        progress=False,
        status=lambda s: None,
    )
    info = json.loads((run / "run.json").read_text())["data"]
    rejects = pd.read_csv(run / "rejects.csv")
    assert info["train"] + info["validation"] + len(rejects) == info["input_rows"]
    assert any("too long" in r for r in rejects["reason"])
    assert any(r == "invalid SMILES" for r in rejects["reason"])


def test_fine_tune_keeps_vocabulary_and_reports_unknown_tokens(tiny_run, tmp_path):
    data = tmp_path / "series.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC", "CC[Se]C", "c1ccccc1CC"]}).to_csv(
        data, index=False
    )
    run = tmp_path / "ft"
    lines: list[str] = []
    train(
        data,
        run,
        tiny_train_config(epochs=1, max_molecules=None),
        init_from=tiny_run,  # a run directory resolves to its model, like --model does
        progress=False,
        status=lines.append,
    )
    assert "left out: token(s) not in vocabulary 1 ('[Se]' x1)" in lines
    parent = json.loads((tiny_run / "model" / "config.json").read_text())
    child = json.loads((run / "model" / "config.json").read_text())
    assert child["vocabulary"] == parent["vocabulary"]
    assert child["properties"]["mean"] == parent["properties"]["mean"]
    lineage = child["training"]["parent"]  # the parent by its weights, not a local path
    assert lineage["weights_sha256"] == parent["weights_sha256"]
    assert lineage["steps"] == parent["training"]["steps"] and lineage["parent"] is None
    rejects = pd.read_csv(run / "rejects.csv")
    assert len(rejects) == 1 and "[Se]" in rejects["reason"][0]


def test_unknown_property_column_is_clear(tmp_path):
    with pytest.raises(MolvaeError, match="property column 'pIC50'"):
        train(
            SAMPLE,
            tmp_path / "r",
            tiny_train_config(property_columns=["pIC50"]),
            tiny_model_config(),
            progress=False,
            status=lambda s: None,
        )


def test_learning_rate_can_follow_the_clock():
    """With a time budget the cosine decay ends when the budget does, even if the steps lag."""
    from molvae.training.config import TrainConfig
    from molvae.training.loss import learning_rate

    cfg = TrainConfig(learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=10)
    assert learning_rate(5, cfg, 1000) == pytest.approx(6e-4)  # warm-up is by steps
    halfway = learning_rate(505, cfg, 1000)
    assert halfway == pytest.approx(5.5e-4)
    assert learning_rate(505, cfg, 1000, time_fraction=0.2) == halfway  # the steps lead
    assert learning_rate(20, cfg, 1000, time_fraction=1.0) == pytest.approx(1e-4)
    assert learning_rate(20, cfg, 1000, time_fraction=0.5) == pytest.approx(5.5e-4)
