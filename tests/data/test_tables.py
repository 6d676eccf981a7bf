"""Tests for molvae.data.tables: every input row ends in exactly one of records/rejects."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molvae.data.tables as mio
from molvae.errors import MolvaeError
from molvae_datasets import sample_path

BAD_ROWS = sample_path("bad_rows")
N_BAD_ROWS = 13  # data rows in bad_rows.csv, header excluded

# Ethanol, a record RDKit rejects (4-valent neutral nitrogen), phenol.
SDF_TEXT = """ethanol
     RDKit          2D

  3  2  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.2990    0.7500    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    2.5981   -0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  1  0
M  END
>  <pIC50>  (1)
5.5

$$$$
broken
     RDKit          2D

  5  4  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 N   0  0  0  0  0  0  0  0  0  0  0  0
    1.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -1.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    1.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000   -1.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  1  3  1  0
  1  4  1  0
  1  5  1  0
M  END
>  <pIC50>  (2)
9.9

$$$$
phenol
     RDKit          2D

  7  7  0  0  0  0  0  0  0  0999 V2000
    1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.7500    1.2990    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -0.7500    1.2990    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -0.7500   -1.2990    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.7500   -1.2990    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.5000   -2.5981    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  2  0
  3  4  1  0
  4  5  2  0
  5  6  1  0
  6  7  1  0
  6  1  2  0
M  END
>  <pIC50>  (3)
6.1

$$$$
"""


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _reasons_by_row(table: mio.MoleculeTable) -> dict[int, str]:
    return dict(zip(table.rejects["row"].tolist(), table.rejects["reason"].tolist(), strict=True))


def _assert_accounted(table: mio.MoleculeTable, n_rows: int) -> None:
    rows = sorted(table.records["row"].tolist() + table.rejects["row"].tolist())
    assert rows == list(range(1, n_rows + 1))  # each row exactly once
    assert len(table.records) + len(table.rejects) == n_rows == table.n_rows


# --------------------------------------------------------------------------------------------
# bad_rows.csv: the accounting contract
# --------------------------------------------------------------------------------------------


def test_bad_rows_every_row_accounted_for():
    table = mio.read_molecules(BAD_ROWS)
    _assert_accounted(table, N_BAD_ROWS)
    assert _reasons_by_row(table) == {
        2: "empty",
        4: "invalid SMILES",
        5: "invalid SMILES",
        7: "empty",
        10: "invalid SMILES",
    }
    assert table.summary() == {"invalid SMILES": 3, "empty": 2}
    assert table.describe() == "read 13 rows: 8 accepted, 5 rejected (3 invalid SMILES, 2 empty)"
    assert list(table.records.columns) == ["row", "smiles", "canonical", "pIC50"]
    assert list(table.rejects.columns) == ["row", "smiles", "reason"]
    assert table.source == BAD_ROWS


def test_bad_rows_extra_numeric_column_kept():
    records = mio.read_molecules(BAD_ROWS).records.set_index("row")
    assert pd.api.types.is_float_dtype(records["pIC50"])
    assert records.loc[1, "pIC50"] == pytest.approx(5.1)
    assert np.isnan(records.loc[9, "pIC50"])  # empty cell in an extra column -> NaN
    assert records.loc[13, "smiles"] == "CCN"  # surrounding spaces stripped
    assert records.loc[11, "canonical"] == "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


def test_standardize_strips_salts_and_neutralizes():
    plain = mio.read_molecules(BAD_ROWS).records.set_index("row")["canonical"]
    std = mio.read_molecules(BAD_ROWS, standardize=True).records.set_index("row")["canonical"]
    assert plain[6] == "CC(=O)[O-].[Na+]"
    assert std[6] == "CC(=O)O"
    assert std[12] == "CN"


def test_canonicalize_off_keeps_input_strings():
    records = mio.read_molecules(BAD_ROWS, canonicalize=False).records
    assert records["canonical"].tolist() == records["smiles"].tolist()
    assert "OC(=O)c1ccccc1" in records["canonical"].tolist()


def test_standardization_failure_is_a_reason(monkeypatch):
    real = mio.chem.standardize

    def fail_on_benzene(mol, *args, **kwargs):
        return None if mio.chem.canonical_smiles(mol) == "c1ccccc1" else real(mol, *args, **kwargs)

    monkeypatch.setattr(mio.chem, "standardize", fail_on_benzene)
    table = mio.read_molecules(BAD_ROWS, standardize=True, workers=1)
    _assert_accounted(table, N_BAD_ROWS)
    assert _reasons_by_row(table)[3] == "standardization failed"


def test_na_like_text_in_smiles_column_is_invalid_not_empty(tmp_path):
    path = _write(tmp_path / "na.csv", "smiles,y\nNA,1\nNone,2\n,3\nCC,NA\n")
    table = mio.read_molecules(path)
    assert _reasons_by_row(table) == {1: "invalid SMILES", 2: "invalid SMILES", 3: "empty"}
    assert table.rejects["smiles"].tolist() == ["NA", "None", ""]
    assert np.isnan(table.records["y"].iloc[0])


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

MOLECULES = ["CCO", "c1ccccc1O", "bad(", "", "CC(=O)O"]
EXPECTED_CANONICAL = ["CCO", "Oc1ccccc1", "CC(=O)O"]
EXPECTED_REASONS = {3: "invalid SMILES", 4: "empty"}


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    ("extension", "sep"), [(".csv", ","), (".tsv", "\t"), (".smi", " "), (".smiles", " ")]
)
def test_text_formats_agree(tmp_path, extension, sep, suffix):
    if extension in (".csv", ".tsv"):
        lines = [f"SMILES{sep}id"] + [f"{s}{sep}m{i}" for i, s in enumerate(MOLECULES, 1)]
    else:  # SMILES files: no header, the name is optional
        lines = [f"{s}{sep}m{i}" if s else "" for i, s in enumerate(MOLECULES, 1)]
    path = _write(tmp_path / f"mols{extension}{suffix}", "\n".join(lines) + "\n")
    table = mio.read_molecules(path)
    _assert_accounted(table, len(MOLECULES))
    assert table.records["canonical"].tolist() == EXPECTED_CANONICAL
    assert _reasons_by_row(table) == EXPECTED_REASONS
    extra = "id" if extension in (".csv", ".tsv") else "name"
    assert table.records[extra].tolist() == ["m1", "m2", "m5"]


def test_smi_names_with_spaces_and_blank_lines(tmp_path):
    path = _write(tmp_path / "mols.txt", "CCO ethanol absolute\n\n  \nC1CC broken\nCN\n")
    table = mio.read_molecules(path)
    _assert_accounted(table, 5)
    assert table.records["name"].tolist() == ["ethanol absolute", None]
    assert _reasons_by_row(table) == {2: "empty", 3: "empty", 4: "invalid SMILES"}


@pytest.mark.parametrize("name", ["mols.sdf", "mols.sd", "mols.sdf.gz"])
def test_sdf(tmp_path, name):
    table = mio.read_molecules(_write(tmp_path / name, SDF_TEXT))
    _assert_accounted(table, 3)
    assert table.records["canonical"].tolist() == ["CCO", "Oc1ccccc1"]
    assert table.records["name"].tolist() == ["ethanol", "phenol"]
    assert table.records["pIC50"].tolist() == [5.5, 6.1]
    assert _reasons_by_row(table) == {2: mio.REASON_INVALID_RECORD}


def test_first_smi_line_that_does_not_parse_is_a_reject(tmp_path):
    path = _write(tmp_path / "mols.smi", "smiles name\nCCO ethanol\n")
    table = mio.read_molecules(path)
    assert _reasons_by_row(table) == {1: "invalid SMILES"}
    assert table.records["row"].tolist() == [2]


def test_unknown_extension_is_named(tmp_path):
    path = _write(tmp_path / "mols.xlsx", "x")
    with pytest.raises(MolvaeError, match=r"'\.xlsx'"):
        mio.read_molecules(path)
    assert mio.detect_format("a/b.SMI.GZ") == "smi"
    assert mio.detect_format("b.sd") == "sdf"


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(MolvaeError, match="not found"):
        mio.read_molecules(tmp_path / "nope.csv")
    with pytest.raises(MolvaeError, match="empty"):
        mio.read_molecules(_write(tmp_path / "empty.csv", ""))
    header_only = mio.read_molecules(_write(tmp_path / "header.csv", "smiles,y\n"))
    assert header_only.n_rows == 0
    assert list(header_only.records.columns) == ["row", "smiles", "canonical", "y"]


def test_malformed_csv_is_a_one_line_error(tmp_path):
    path = _write(tmp_path / "bad.csv", "smiles,y\nCCO,1\nCCN,2,3,4\n")
    with pytest.raises(MolvaeError, match="cannot read") as info:
        mio.read_molecules(path)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# SMILES column
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["id", "smiles"], "smiles"),
        (["SMILES"], "SMILES"),
        (["Smiles", "y"], "Smiles"),
        (["canonical_smiles", "pIC50"], "canonical_smiles"),
        (["smiles_in", "canonical_smiles"], "canonical_smiles"),
        (["mol_smiles", "y"], "mol_smiles"),
        (["SMILES", "canonical_smiles"], "SMILES"),
    ],
)
def test_smiles_column_detection(columns, expected):
    assert mio.find_smiles_column(columns) == expected


def test_smiles_column_errors_list_columns(tmp_path):
    with pytest.raises(MolvaeError, match=r"no column 'smiles' \(columns: id, structure\)"):
        mio.find_smiles_column(["id", "structure"])
    with pytest.raises(MolvaeError, match="several columns"):
        mio.find_smiles_column(["smiles_a", "smiles_b"])
    path = _write(tmp_path / "m.csv", "id,structure\n1,CCO\n")
    with pytest.raises(MolvaeError, match=r"m.csv: no column 'mol' \(columns: id, structure\)"):
        mio.read_molecules(path, smiles_column="mol")
    table = mio.read_molecules(path, smiles_column="structure")
    assert table.records["canonical"].tolist() == ["CCO"]
    assert table.records["id"].tolist() == [1]


def test_extra_columns_named_like_ours_are_prefixed(tmp_path):
    path = _write(tmp_path / "m.csv", "mol,smiles,canonical,row\nCCO,x,y,7\n")
    records = mio.read_molecules(path, smiles_column="mol").records
    assert list(records.columns) == [
        "row",
        "smiles",
        "canonical",
        "input_smiles",
        "input_canonical",
        "input_row",
    ]
    assert records.iloc[0].tolist() == [1, "CCO", "CCO", "x", "y", 7]


# --------------------------------------------------------------------------------------------
# Chunks, workers, reject(), write_rejects()
# --------------------------------------------------------------------------------------------


def test_chunks_have_global_rows_and_concat_to_full_read():
    chunks = list(mio.iter_molecule_chunks(BAD_ROWS, chunksize=4))
    assert [c.n_rows for c in chunks] == [4, 4, 4, 1]
    assert chunks[1].records["row"].min() >= 5
    joined = mio.MoleculeTable.concat(chunks)
    full = mio.read_molecules(BAD_ROWS)
    pd.testing.assert_frame_equal(joined.records, full.records)
    pd.testing.assert_frame_equal(joined.rejects, full.rejects)


def test_worker_pool_gives_the_same_table():
    path = sample_path("moses_test_sample")
    alone = mio.read_molecules(path, workers=1)
    pooled = mio.read_molecules(path, workers=2)
    assert alone.n_accepted == 1000 and alone.n_rejected == 0
    pd.testing.assert_frame_equal(alone.records, pooled.records)


def test_moses_sample_reads_clean():
    table = mio.read_molecules(sample_path("moses_sample.csv"))
    assert table.n_accepted == 2000 and table.n_rejected == 0
    # MOSES SMILES are already RDKit-canonical.
    assert (table.records["canonical"] == table.records["smiles"]).mean() > 0.99


def test_reject_moves_rows_with_one_or_many_reasons():
    table = mio.read_molecules(BAD_ROWS)
    long = table.records["canonical"].str.len() > 100
    moved = mio.reject(table, long, "too long (137 tokens > max 100)")
    _assert_accounted(moved, N_BAD_ROWS)
    assert _reasons_by_row(moved)[8] == "too long (137 tokens > max 100)"
    assert moved.rejects["row"].is_monotonic_increasing
    assert moved.records.index.tolist() == list(range(moved.n_accepted))

    per_row = [f"token {s[0]!r} not in vocabulary" for s in moved.records["canonical"]]
    mask = moved.records["canonical"].str.startswith("c").to_numpy()
    again = mio.reject(moved, mask, per_row)
    _assert_accounted(again, N_BAD_ROWS)
    assert _reasons_by_row(again)[3] == "token 'c' not in vocabulary"
    assert mio.reject(again, np.zeros(again.n_accepted, bool), "x") is again

    with pytest.raises(ValueError, match="mask"):
        mio.reject(table, [True], "x")
    with pytest.raises(ValueError, match="reasons"):
        mio.reject(table, np.ones(table.n_accepted, bool), ["x"])


def test_write_rejects_round_trip(tmp_path):
    table = mio.read_molecules(BAD_ROWS)
    out = mio.write_rejects(table, tmp_path / "sub" / "rejects.csv")
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back.columns) == ["row", "smiles", "reason"]
    assert back["row"].tolist() == [2, 4, 5, 7, 10]
    assert back["reason"].tolist() == table.rejects["reason"].tolist()


def test_from_dataframe():
    frame = pd.DataFrame({"SMILES": ["CCO", None, "xx"], "y": [1.0, 2.0, 3.0]})
    table = mio.from_dataframe(frame)
    _assert_accounted(table, 3)
    assert table.records["y"].tolist() == [1.0]
    assert _reasons_by_row(table) == {2: "empty", 3: "invalid SMILES"}
