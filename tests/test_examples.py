"""The example scripts run end to end (slow: they train a small model)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_examples_run(tmp_path):
    run = tmp_path / "example"
    for script in ("train_small_model.py", "sample_and_validate.py", "encode_and_decode.py"):
        out = subprocess.run([sys.executable, str(REPO / "examples" / script), str(run)],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{script}: {out.stderr[-2000:]}"
    assert (run / "model" / "model.safetensors").is_file()
