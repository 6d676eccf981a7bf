"""The top-level Python API mirrors the commands: DataFrames in, DataFrames out."""

from __future__ import annotations

import pandas as pd

import molvae
from molvae_datasets import sample_path


def test_screen_takes_a_list_a_frame_or_a_file_and_accounts_for_every_row(tmp_path) -> None:
    smiles = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1", "CCO"]
    from_list = molvae.screen(smiles)
    assert from_list.n_input == len(smiles)
    assert len(from_list.shortlist) + len(from_list.rejects) == len(smiles)
    assert from_list.rejects["reason"].str.startswith("invalid SMILES").any()

    frame = pd.DataFrame({"compound": smiles, "id": range(len(smiles))})
    from_frame = molvae.screen(frame, smiles_column="compound")
    assert from_frame.shortlist["canonical"].tolist() == from_list.shortlist["canonical"].tolist()

    path = tmp_path / "candidates.csv"  # 200 rows of the shipped test sample: enough to count
    pd.read_csv(sample_path("moses_test_sample")).head(200).to_csv(path, index=False)
    from_file = molvae.screen(path)
    n_rows = len(pd.read_csv(path))
    assert from_file.n_input == n_rows
    assert from_file.n_shortlisted + sum(
        v for k, v in from_file.counts.items() if k != "shortlist"
    ) == n_rows


def test_evaluate_takes_a_sample_frame_and_returns_metrics_as_a_frame() -> None:
    reference = sample_path("moses_test_sample")
    generated = pd.read_csv(sample_path("moses_sample"))["SMILES"].head(200)
    frame = pd.DataFrame({"smiles": [*generated, "not a smiles"]})
    result = molvae.evaluate(frame, reference, k=(100,))
    table = result.to_frame()
    assert list(table.columns) == ["metric", "value", "higher_is_better"]
    values = dict(zip(table["metric"], table["value"], strict=True))
    assert values["valid"] == 200 / 201
    assert values == result.metrics
    assert table.set_index("metric").loc["FCD/Test", "higher_is_better"] == False  # noqa: E712
