"""Tests for molvae.data.writing: tables written whole or not at all, every row accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molvae.data.writing import TableWriter, merge_with_rejects, write_table
from molvae.errors import MolvaeError


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz"])
def test_write_table_round_trips(tmp_path, name):
    frame = pd.DataFrame({"smiles": ["CCO", "c1ccccc1"], "value": [1.5, -2.0]})
    path = write_table(frame, tmp_path / name)
    back = pd.read_csv(path, sep="\t" if ".tsv" in name else ",")
    pd.testing.assert_frame_equal(back, frame)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_npy_output_holds_the_numbers(tmp_path):
    frame = pd.DataFrame({"z0": [0.5, 1.0], "z1": [2.0, -1.0]})
    path = write_table(frame, tmp_path / "z.npy")
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), frame.to_numpy(np.float32))


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), TableWriter(path) as writer:
        writer.write(pd.DataFrame({"a": [1]}))
        raise RuntimeError("killed half way")
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_is_a_clear_error(tmp_path):
    with pytest.raises(MolvaeError, match="unsupported output extension"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")


def test_merge_with_rejects_keeps_every_row_in_input_order():
    records = pd.DataFrame({"row": [1, 3], "smiles": ["CCO", "CCN"], "canonical": ["CCO", "CCN"]})
    result = pd.DataFrame({"smiles": ["CCO", "CCN"], "status": ["ok", "ok"]})
    rejects = pd.DataFrame(
        {"row": [2, 4], "smiles": ["xx", ""], "reason": ["invalid SMILES", "empty"]}
    )
    merged = merge_with_rejects(records, result, rejects)
    assert merged["row"].tolist() == [1, 2, 3, 4]
    assert merged["status"].tolist() == ["ok", "invalid SMILES", "ok", "empty"]
