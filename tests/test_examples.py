"""The example scripts run end to end (slow: they train a small model)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_examples_run(tmp_path):
    run = tmp_path / "example"
    # The training example with a small subset and one epoch: seconds instead of minutes. The
    # subset is the documents' quick start's (README.md, docs/training.md), so its tokenized
    # data comes from the test run's shared cache instead of a new read of the 30,000 rows.
    small = {"train_small_model.py": ["--max-molecules", "1000", "--epochs", "1"],
             # A model one epoch old writes 2% of its draws in canonical form: 500 kept take
             # some 25,000 draws, 100 a fifth of that.
             "sample_and_validate.py": ["-n", "100"]}
    for script in ("train_small_model.py", "sample_and_validate.py", "encode_and_decode.py"):
        out = subprocess.run([sys.executable, str(REPO / "examples" / script), str(run),
                              *small.get(script, [])],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{script}: {out.stderr[-2000:]}"
    assert (run / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_sample_to_order_example_runs_on_the_zinc_model():
    script = REPO / "examples" / "sample_to_order.py"
    out = subprocess.run([sys.executable, str(script), "logP=3", "MW=350", "-n", "30"],
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "z from reference: mean absolute error logP" in out.stdout
    assert "z from prior    : mean absolute error logP" in out.stdout
    molecules = [line for line in out.stdout.splitlines() if line.startswith("  ")]
    assert len(molecules) == 10  # ten molecules within the tolerance, one line each
    bad = subprocess.run([sys.executable, str(script), "logP"], capture_output=True, text=True)
    assert bad.returncode == 1 and "expected NAME=VALUE" in bad.stderr
