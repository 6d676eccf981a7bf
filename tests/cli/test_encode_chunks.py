"""``molvae encode`` streams large files chunk by chunk: same rows, statuses and latents."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

from .runner import molvae

BAD_ROWS = REPO / "datasets" / "bad_rows.csv"


def test_chunked_encode_matches_whole_file(tiny_run, tmp_path):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv.gz"
    base = ("encode", str(BAD_ROWS), "--model", str(tiny_run), "--device", "cpu", "--sigma")
    assert molvae(*base, "--out", str(whole)).returncode == 0
    out = molvae(*base, "--out", str(chunked), "--chunk-size", "4", "--batch-size", "3")
    assert out.returncode == 0, out.stderr
    a, b = pd.read_csv(whole), pd.read_csv(chunked)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 13
    pd.testing.assert_frame_equal(a[["row", "smiles", "status"]], b[["row", "smiles", "status"]])
    z = [c for c in a.columns if c.startswith(("z", "sigma"))]
    # Other batch shapes round differently (bf16 autocast where the CPU has it).
    np.testing.assert_allclose(a[z].to_numpy(), b[z].to_numpy(), atol=1e-2, equal_nan=True)
    assert "rows not encoded" in out.stderr
    assert not list(tmp_path.glob(".*"))  # no partial files left behind


def test_chunked_encode_to_npy_and_parquet(tiny_run, tmp_path):
    base = ("encode", str(BAD_ROWS), "--model", str(tiny_run), "--chunk-size", "5")
    out = molvae(*base, "--out", str(tmp_path / "z.npy"))
    assert out.returncode == 0, out.stderr
    latents = np.load(tmp_path / "z.npy", allow_pickle=False)
    rows = pd.read_csv(tmp_path / "z.rows.csv")
    assert latents.shape == (13, 8) and latents.dtype == np.float32 and len(rows) == 13
    ok = (rows["status"] == "ok").to_numpy()
    assert np.isfinite(latents[ok]).all() and np.isnan(latents[~ok]).all()
    pytest.importorskip("pyarrow")
    assert molvae(*base, "--out", str(tmp_path / "z.parquet")).returncode == 0
    table = pd.read_parquet(tmp_path / "z.parquet")
    assert len(table) == 13 and table["status"].tolist() == rows["status"].tolist()
