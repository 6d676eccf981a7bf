"""Fuzzing the molecule readers and every command that reads a molecule file.

Files come from :mod:`tests.fuzz_inputs` (hypothesis, derandomized): CSV/TSV/SMI/SDF, optionally
gzip-compressed, with byte-order marks, CRLF, quoted newlines, NUL and latin-1 bytes, ragged
rows, a header only, nothing at all, a megabyte-long line or a truncated gzip stream, and SMILES
columns mixing valid, mutated and junk strings. Each command must either write its output with
every input row accounted for (as the reference parser counts them), or print one clear error
line and exit with status 1: never a traceback, a hang or a row lost silently.
"""

from __future__ import annotations

import gzip
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import molvae.data.tables as mio
from molvae.errors import MolvaeError
from tests.fuzz_inputs import (
    CLEAR_ERROR,
    COMMANDS,
    DEFECTS,
    ERROR_LINE_MAX,
    OUTPUT,
    FuzzFile,
    classify,
    molecule_files,
    reference_rows,
    run_case,
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)


# ---------------------------------------------------------------------------------------------
# The harness itself
# ---------------------------------------------------------------------------------------------


def test_reference_parser_counts_rows_the_way_a_reader_sees_them():
    csv_text = 'smiles,name\r\nCCO,"two\nlines"\r\n\r\nc1ccccc1,benzene\r\n'
    assert reference_rows(FuzzFile("m.csv", b"\xef\xbb\xbf" + csv_text.encode())) == 3
    assert reference_rows(FuzzFile("m.csv", b"smiles\n")) == 0
    assert reference_rows(FuzzFile("m.csv", b"")) == 0
    assert reference_rows(FuzzFile("m.smi", b"CCO a\r\n\nCC\n", fmt="smi")) == 3
    sdf = b"a\n\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\nb\nM  END\n"
    assert reference_rows(FuzzFile("m.sdf", sdf, fmt="sdf")) == 2
    packed = gzip.compress(b"smiles\nCCO\nCC\n")
    assert reference_rows(FuzzFile("m.csv.gz", packed)) == 2
    assert reference_rows(FuzzFile("m.csv.gz", packed[:-12])) is None


def test_classifier_tells_a_clear_error_from_a_crash():
    assert classify(0, "model: x\n") == OUTPUT
    assert classify(1, "model: x\nerror: data.csv: file not found\n") == CLEAR_ERROR
    assert classify(1, "error: KeyError: 'x' (run with --debug for the traceback)\n") != CLEAR_ERROR
    assert classify(1, "Traceback (most recent call last):\n  File ...\nValueError\n") != OUTPUT
    assert classify(1, "error: " + "x" * (ERROR_LINE_MAX + 1)) != CLEAR_ERROR
    assert classify(0, "", hung=True) == "hang"


@settings(FUZZ, max_examples=15)
@given(molecule_files())
def test_generated_files_carry_their_defects(file):
    assert set(file.defects) <= set(DEFECTS)
    if "empty" in file.defects or "header_only" in file.defects:
        assert reference_rows(file) in (0, None)
    if "truncated_gzip" in file.defects:
        assert file.name.endswith(".gz")


# ---------------------------------------------------------------------------------------------
# The reader: every row accounted for, or one clear line
# ---------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=60)
@given(molecule_files())
def test_reader_accounts_for_every_row_or_says_why_not(file):
    expected = reference_rows(file)
    with tempfile.TemporaryDirectory() as tmp:
        path = file.write(Path(tmp))
        try:
            table = mio.read_molecules(path, workers=1)
        except MolvaeError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) <= ERROR_LINE_MAX, message[:500]
            assert message.startswith(str(path)), message
            return
    assert expected is not None, f"{file.describe()}: read although it cannot be decoded"
    assert table.n_rows == expected, f"{file.describe()}: {table.describe()}, file has {expected}"
    assert sorted([*table.records["row"], *table.rejects["row"]]) == list(range(1, expected + 1))
    assert table.rejects["reason"].map(lambda r: isinstance(r, str) and r != "").all()


def _read(tmp_path: Path, name: str, data: bytes) -> mio.MoleculeTable:
    path = tmp_path / name
    path.write_bytes(data)
    return mio.read_molecules(path, workers=1)


def test_first_row_with_an_extra_field_is_an_error_not_a_shifted_column(tmp_path):
    # pandas would take the first column for an index and read the names as SMILES.
    with pytest.raises(MolvaeError, match="more fields than the header"):
        _read(tmp_path, "m.csv", b"smiles,name\nCCO,ethanol,x\nCC,ethane,y\n")
    with pytest.raises(MolvaeError, match="line 3 has 3 fields, the header 2"):
        _read(tmp_path, "m.csv", b"smiles,name\nCCO,ethanol\nCC,ethane,y\n")


def test_smiles_rdkit_would_read_only_in_part_are_rejected(tmp_path):
    table = _read(tmp_path, "m.csv", "smiles\nC C\nCCé\nCCO |$;;$|\nCCO\n".encode())
    assert table.records["canonical"].tolist() == ["CCO", "CCO"]
    assert table.rejects["reason"].tolist() == [mio.REASON_BLANK, mio.REASON_NOT_ASCII]


def test_a_megabyte_smiles_is_rejected_without_parsing_it(tmp_path):
    start = time.perf_counter()
    table = _read(tmp_path, "m.smi", b"C" * 1_000_000 + b" long\nCCO\n")
    assert time.perf_counter() - start < 20  # RDKit would need hours on this chain
    assert table.rejects["reason"].tolist() == [f"too long (1,000,000 characters > "
                                                f"{mio.MAX_SMILES_CHARS:,})"]
    assert table.records["canonical"].tolist() == ["CCO"]


def test_byte_order_mark_of_a_smiles_file_is_not_part_of_the_first_smiles(tmp_path):
    table = _read(tmp_path, "m.smi", b"\xef\xbb\xbfCCO ethanol\r\nCC ethane\r\n")
    assert table.records["canonical"].tolist() == ["CCO", "CC"]


def test_truncated_gzip_sd_file_is_a_clear_error(tmp_path):
    data = gzip.compress(b"CCO\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"
                         * 30)
    with pytest.raises(MolvaeError, match="gzip stream is truncated or corrupt"):
        _read(tmp_path, "m.sdf.gz", data[: len(data) // 2])


def test_latin1_bytes_are_a_clear_error_naming_the_byte(tmp_path):
    with pytest.raises(MolvaeError, match=r"not UTF-8 text \(byte 0xe9"):
        _read(tmp_path, "m.csv", "smiles,name\nCCO,café\n".encode("latin-1"))


def test_generated_strings_keep_every_row_and_blank_overlong_ones(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("smiles\nCCO\n\nxx\n" + "C" * 5000 + "\n")
    assert mio.read_generated(path, None) == ["CCO", "", "xx", ""]


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------


def _check_command(name: str, file: FuzzFile) -> None:
    command = COMMANDS[name]
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_case(command, file, Path(tmp), timeout=120,
                           env={"MOLVAE_CACHE_DIR": str(Path(tmp) / "cache")})
    assert outcome.acceptable, outcome.explain()


FAST = ["encode", "embed", "score", "screen", "map"]


@pytest.mark.parametrize("name", FAST)
def test_reading_command_accounts_for_every_row_or_fails_in_one_line(name):
    command = COMMANDS[name]

    @settings(FUZZ, max_examples=3)
    @given(molecule_files(formats=command.formats, max_rows=20, min_valid=1))
    def check(file):
        _check_command(name, file)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimize", "generate --start-from", "design --start-from",
                                  "evaluate --samples", "evaluate --reference"])
def test_slower_reading_command_accounts_for_every_row_or_fails_in_one_line(name):
    command = COMMANDS[name]

    @settings(FUZZ, max_examples=1 if name.startswith("evaluate") else 2)
    @given(molecule_files(formats=command.formats, max_rows=4, min_valid=2))
    def check(file):
        _check_command(name, file)

    check()


@pytest.mark.slow
def test_train_accounts_for_every_row_or_fails_in_one_line():
    @settings(FUZZ, max_examples=2)
    @given(molecule_files(formats=("csv", "smi"), max_rows=30, min_valid=12,
                          defects=("bom", "crlf", "quoted_newline", "nul", "long_line")))
    def check(file):
        _check_command("train", file)

    check()


def test_screen_writes_every_row_to_the_shortlist_or_the_default_rejects_file(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\nCCO\nnot a smiles\n\nc1ccccc1O\n")
    outcome = run_case(COMMANDS["screen"], FuzzFile("in.csv", data.read_bytes()), tmp_path)
    assert outcome.kind == OUTPUT and outcome.rows_accounted == 5, outcome.explain()
    rejects = pd.read_csv(tmp_path / "sl.rejects.csv")
    assert list(rejects.columns) == ["row", "smiles", "step", "reason"]
    assert sorted(rejects["row"]) == [2, 3, 4]
