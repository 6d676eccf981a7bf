"""Hostile molecule files, and a judge of what each reading command does with them.

This module is shared by the fuzz tests (``tests/data/test_input_fuzz.py``) and by report
scripts that tabulate outcomes over many inputs. It has three parts:

1. **Files.** :func:`molecule_files` is a hypothesis strategy drawing :class:`FuzzFile` values:
   CSV, TSV, SMI or SDF files (optionally gzip-compressed) whose rows mix valid SMILES (from
   ``datasets/moses_test_sample.csv`` and ``datasets/common_drugs.csv``), mutated SMILES and
   junk, with any of the :data:`DEFECTS` real files carry (a byte-order mark, CRLF line ends,
   quoted newlines, NUL bytes, latin-1 bytes, ragged rows, a header only, nothing at all, a
   megabyte-long line, a truncated gzip stream).
2. **A reference count.** :func:`reference_rows` counts the data rows a file really has with a
   parser independent of molvae's (Python's ``csv`` module, a line split, a ``$$$$`` split),
   or returns ``None`` when the file cannot be read at all (a truncated gzip stream).
3. **Outcomes.** :data:`COMMANDS` says, per reading command, how to run it on a file and how to
   count the input rows its outputs account for; :func:`run_case` runs it in-process (with a
   time limit) and returns an :class:`Outcome`: ``output`` (with the rows accounted for),
   ``clear error`` (exit status 1, one ``error:`` line), ``traceback`` or ``hang``.
   :meth:`Outcome.acceptable` is the contract: an output accounting for every row, or a clear
   error.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import signal
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
MOSES_TEST = REPO / "datasets" / "moses_test_sample.csv"
COMMON_DRUGS = REPO / "datasets" / "common_drugs.csv"

FORMATS = ("csv", "tsv", "smi", "sdf")
DEFECTS = (
    "bom",
    "crlf",
    "quoted_newline",
    "nul",
    "latin1",
    "ragged",
    "header_only",
    "empty",
    "long_line",
    "truncated_gzip",
)
LONG = 1_000_000  # characters of the megabyte-long line
MAX_ROWS = 50
ERROR_LINE_MAX = 400  # a "clear" error line is at most this long (no megabyte echoed back)


# ---------------------------------------------------------------------------------------------
# Cells: valid, mutated and junk SMILES
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def valid_smiles() -> tuple[str, ...]:
    """SMILES of the MOSES test sample (first 200) and of the 33 common drugs."""
    moses = pd.read_csv(MOSES_TEST)["SMILES"].head(200).tolist()
    drugs = pd.read_csv(COMMON_DRUGS)["smiles"].tolist()
    return tuple(moses + drugs)


SMILES_ALPHABET = "CNOSPFIclnos()[]=#@+-123456789%/\\.Hr"
JUNK_ALPHABET = SMILES_ALPHABET + ' ,;"\'\t\n\r\x00éß€\ufeffxyz$<>{}|'
JUNK_WORDS = ("", " ", "NA", "None", "nan", "null", "#N/A", "smiles", "SMILES", "$$$$", "M  END",
              "C" * 300, "[Xx]", "C1CC", "c1ccccc", "((((", "\\x00")


def mutated_smiles(rng: random.Random) -> str:
    """A valid SMILES with a few random edits: a character deleted, inserted, replaced or the
    string cut short (the result may still be valid)."""
    text = rng.choice(valid_smiles())
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(("delete", "insert", "replace", "truncate"))
        i = rng.randint(0, max(len(text) - 1, 0))
        char = rng.choice(SMILES_ALPHABET)
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + char + text[i:]
        elif op == "replace":
            text = text[:i] + char + text[i + 1 :]
        else:
            text = text[:i]
    return text


def smiles_cell(rng: random.Random) -> str:
    """What users put in a SMILES column: valid SMILES (about half), nearly valid ones, and
    junk (words such as ``NA`` or ``$$$$``, and random text with quotes, separators, line
    breaks, NUL and non-ASCII characters)."""
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(valid_smiles())
    if kind < 0.65:
        return mutated_smiles(rng)
    if kind < 0.8:
        return rng.choice(JUNK_WORDS)
    return "".join(rng.choice(JUNK_ALPHABET) for _ in range(rng.randint(0, 12)))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzFile:
    """One generated molecule file: its name (the extension sets the format), its exact bytes
    and the defects it was built with."""

    name: str
    data: bytes
    defects: tuple[str, ...] = ()
    fmt: str = "csv"

    def write(self, directory: Path) -> Path:
        """Write the file into ``directory``; returns its path."""
        path = Path(directory) / self.name
        path.write_bytes(self.data)
        return path

    def __repr__(self) -> str:  # hypothesis prints failing examples: not a megabyte of bytes
        return f"FuzzFile({self.describe()!r})"

    def describe(self) -> str:
        """``mols.csv.gz (1,234 bytes; bom, crlf)`` for test failure messages and reports."""
        return f"{self.name} ({len(self.data):,} bytes; {', '.join(self.defects) or 'clean'})"


def _with_defect_text(cell: str, defect: bool, draw: st.DrawFn, what: str) -> str:
    if not defect:
        return cell
    i = draw(st.integers(0, len(cell)))
    return cell[:i] + what + cell[i:]


@st.composite
def molecule_files(
    draw: st.DrawFn,
    formats: Sequence[str] = FORMATS,
    defects: Sequence[str] = DEFECTS,
    max_rows: int = MAX_ROWS,
    min_valid: int = 0,
) -> FuzzFile:
    """A molecule file of a drawn format with a drawn subset of ``defects``.

    ``min_valid`` puts at least that many valid SMILES among the rows (commands that need
    molecules to work on then have some), unless the file is drawn empty or header-only.
    """
    fmt = draw(st.sampled_from(list(formats)))
    chosen = set(draw(st.sets(st.sampled_from(list(defects)), max_size=3)))
    if fmt in ("smi", "sdf"):
        chosen.discard("header_only")
        chosen.discard("quoted_newline")
        chosen.discard("ragged")
    gz = "truncated_gzip" in chosen or draw(st.booleans())
    n = 0 if chosen & {"header_only", "empty"} else draw(st.integers(1, max_rows))
    # The cells come from a seeded generator: drawing each through hypothesis would cost more
    # than running most commands on the file.
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    cells = [smiles_cell(rng) for _ in range(n)]
    for slot in rng.sample(range(n), min(min_valid, n)):
        cells[slot] = rng.choice(valid_smiles())
    names = [f"mol{i}" for i in range(n)]
    if n and "nul" in chosen:
        i = draw(st.integers(0, n - 1))
        cells[i] = _with_defect_text(cells[i], True, draw, "\x00")
        names[i] = names[i] + "\x00x"
    if n and "latin1" in chosen:
        i = draw(st.integers(0, n - 1))
        names[i] = names[i] + " café"  # written below as the latin-1 byte 0xE9
    if n and "long_line" in chosen:
        i = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(("smiles", "junk", "name")))
        if kind == "smiles":
            cells[i] = "C" * LONG
        elif kind == "junk":
            cells[i] = "x" * LONG
        else:
            names[i] = "n" * LONG
    if n and "quoted_newline" in chosen:
        i = draw(st.integers(0, n - 1))
        names[i] = f"two\nlines {i}"
    newline = "\r\n" if "crlf" in chosen else "\n"

    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        header = draw(st.sampled_from((["smiles"], ["smiles", "name"], ["SMILES", "name", "value"],
                                       ["id", "smiles"])))
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=sep, lineterminator=newline)
        writer.writerow(header)
        if "empty" not in chosen:
            ragged = (set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)))
                      if n and "ragged" in chosen else set())
            for i, (cell, name) in enumerate(zip(cells, names, strict=True)):
                values = {"smiles": cell, "SMILES": cell, "name": name, "id": name,
                          "value": str(i / 7)}
                row = [values[h] for h in header]
                if i in ragged:
                    row = row + ["extra"] if rng.random() < 0.5 else row[:-1]
                writer.writerow(row)
        text = buf.getvalue() if "empty" not in chosen else ""
    elif fmt == "smi":
        lines = []
        for cell, name in zip(cells, names, strict=True):
            # A SMILES line holds one SMILES then a name: line breaks and blanks cannot be part
            # of a SMILES there, so junk is cut at them as a real file would be.
            first = re.split(r"[\s]", cell.strip(), maxsplit=1)[0] if cell.strip() else ""
            name = " ".join(name.split())
            lines.append(f"{first} {name}" if first or rng.random() < 0.5 else "")
        text = "".join(line + newline for line in lines)
    else:
        text = "".join(_sdf_record(cell, name, newline) for cell, name in zip(cells, names,
                                                                                strict=True))
        if n and draw(st.booleans()):
            text = text[: len(text) - len("$$$$" + newline)]  # last record without its $$$$
    data = text.encode("latin-1" if "latin1" in chosen else "utf-8", errors="replace"
                       if "latin1" in chosen else "surrogatepass")
    if "bom" in chosen:
        data = b"\xef\xbb\xbf" + data
    name = f"mols.{fmt}"
    if gz:
        data = gzip.compress(data, mtime=0)
        name += ".gz"
        if "truncated_gzip" in chosen:
            data = data[: draw(st.integers(1, max(len(data) - 9, 1)))]
    else:
        chosen.discard("truncated_gzip")
    return FuzzFile(name=name, data=data, defects=tuple(sorted(chosen)), fmt=fmt)


def _sdf_record(cell: str, name: str, newline: str) -> str:
    """One SD record: RDKit's mol block for a SMILES RDKit reads, a junk block otherwise."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(cell) if len(cell) < 10_000 and "\x00" not in cell else None
    title = name.split("\n")[0]
    if mol is not None:
        mol.SetProp("_Name", title)
        block = Chem.MolToMolBlock(mol)
    else:
        block = f"{title}\n  junk\n\n{cell.replace('$$$$', '$$ $$')}\nM  END\n"
    body = block.rstrip("\n") + f"\n>  <name>\n{name.replace('$$$$', '$$ $$')}\n\n$$$$\n"
    return body.replace("\n", newline)


# ---------------------------------------------------------------------------------------------
# The reference count
# ---------------------------------------------------------------------------------------------


def decoded_text(file: FuzzFile) -> str | None:
    """The file's text (gzip undone, byte-order mark dropped, bad bytes replaced), or ``None``
    when its gzip stream is truncated or corrupt."""
    data = file.data
    if file.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    return data.decode("utf-8-sig", errors="replace")


def reference_rows(file: FuzzFile) -> int | None:
    """Data rows the file really has, by a parser independent of molvae's, or ``None`` when it
    cannot be read at all.

    CSV/TSV: records of Python's ``csv`` module after the header (a blank line is a record).
    SMI: lines (``\\n``, ``\\r\\n`` or ``\\r`` ends). SDF: records ended by a ``$$$$`` line,
    plus a last record without one when it holds anything but blanks.
    """
    text = decoded_text(file)
    if text is None:
        return None
    if file.fmt in ("csv", "tsv"):
        csv.field_size_limit(sys.maxsize)
        rows = list(csv.reader(io.StringIO(text, newline=""),
                               delimiter="," if file.fmt == "csv" else "\t"))
        return max(len(rows) - 1, 0)
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    if file.fmt == "smi":
        return len(lines)
    records, current = 0, []
    for line in lines:
        if line.rstrip() == "$$$$":
            records += 1
            current = []
        else:
            current.append(line)
    return records + (1 if "".join(current).strip() else 0)


# ---------------------------------------------------------------------------------------------
# Commands and how their outputs account for rows
# ---------------------------------------------------------------------------------------------

ORACLE = '''
def score(smiles):
    """Length of each SMILES: any deterministic number will do for the fuzz runs."""
    return [float(len(s)) for s in smiles]
'''


def _rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        return len(pd.read_csv(path, dtype=str, keep_default_na=False))
    except pd.errors.EmptyDataError:  # a table of no rows, written without a header
        return 0


_READ_LINE = re.compile(r"read ([\d,]+) rows: ([\d,]+) accepted, ([\d,]+) rejected")


def _read_line(stderr: str, prefix: str) -> int | None:
    for line in stderr.splitlines():
        if line.startswith(prefix):
            match = _READ_LINE.search(line)
            if match:
                accepted, rejected = (int(match.group(i).replace(",", "")) for i in (2, 3))
                return accepted + rejected
    return None


@dataclass(frozen=True)
class Command:
    """How to run one reading command on a file and count the rows its outputs account for.

    ``args(data, work)`` builds the argument list (outputs go under ``work``);
    ``accounted(work, stdout, stderr)`` counts the input rows the outputs account for after a
    successful run. ``formats`` are the file formats the command reads.
    """

    name: str
    args: Callable[[Path, Path], list[str]]
    accounted: Callable[[Path, str, str], int | None]
    formats: tuple[str, ...] = FORMATS
    min_valid: int = 0


def _count_line(stderr: str, pattern: str) -> int | None:
    match = re.search(pattern, stderr)
    return int(match.group(1).replace(",", "")) if match else None


def _evaluate_samples_accounted(work: Path, stdout: str, stderr: str) -> int | None:
    # Every string of the samples file is scored (invalid ones count against validity).
    return _count_line(stderr, r"featurizing ([\d,]+) generated SMILES")


def _evaluate_reference_accounted(work: Path, stdout: str, stderr: str) -> int | None:
    return _read_line(stderr, "reference: read")


def _map_accounted(work: Path, stdout: str, stderr: str) -> int | None:
    match = re.search(r"([\d,]+) molecules mapped", stdout)
    mapped = int(match.group(1).replace(",", "")) if match else 0
    return mapped + _rows(work / "map.rejects.csv")


def _train_accounted(work: Path, stdout: str, stderr: str) -> int | None:
    data = json.loads((work / "run" / "run.json").read_text())["data"]
    total = data["train"] + data["validation"] + data["rejected"] + data["unused"]
    rejects = _rows(work / "run" / "rejects.csv")
    return total if rejects == data["rejected"] and total == data["input_rows"] else -1


def _write_oracle(work: Path) -> str:
    path = work / "oracle.py"
    path.write_text(ORACLE)
    return f"{path}:score"


def _small_reference(work: Path) -> Path:
    """40 MOSES test molecules: a reference (or samples) file that is quick to featurize."""
    path = work / "reference.csv"
    pd.read_csv(MOSES_TEST).head(40).to_csv(path, index=False)
    return path


TINY_TRAIN = ["--epochs", "1", "--embedding-dim", "8", "--encoder-hidden", "8", "--latent-dim",
              "4", "--decoder-hidden", "8", "--batch-size", "8", "--quiet"]

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("encode", lambda d, w: ["encode", d, "--out", w / "z.csv"],
                lambda w, o, e: _rows(w / "z.csv")),
        Command("embed", lambda d, w: ["embed", d, "--out", w / "f.csv"],
                lambda w, o, e: _rows(w / "f.csv") + _rows(w / "f.rejects.csv")),
        Command("score", lambda d, w: ["score", d, "--out", w / "s.csv"],
                lambda w, o, e: _rows(w / "s.csv")),
        Command("screen", lambda d, w: ["screen", d, "--out", w / "sl.csv", "--no-progress",
                                        "--jobs", "1"],
                lambda w, o, e: _rows(w / "sl.csv") + _rows(w / "sl.rejects.csv")),
        Command("evaluate --samples",
                lambda d, w: ["evaluate", "--samples", d, "--reference", _small_reference(w),
                              "--out", w / "report.json"],
                _evaluate_samples_accounted),
        Command("evaluate --reference",
                lambda d, w: ["evaluate", "--samples", _small_reference(w), "--reference", d,
                              "--out", w / "report.json"],
                _evaluate_reference_accounted),
        Command("map", lambda d, w: ["map", d, "--out", w / "map.html", "--rejects",
                                     w / "map.rejects.csv", "--max-structures", "5"],
                _map_accounted),
        Command("generate --start-from",
                lambda d, w: ["generate", "--start-from", d, "--target", "logP", "-n", "2",
                              "--starts", "4", "--steps", "2", "--max-rounds", "1",
                              "--min-rounds", "1", "--out", w / "g.csv"],
                lambda w, o, e: _read_line(e, "--start-from:")),
        Command("optimize",
                lambda d, w: ["optimize", d, "--target", "logP", "--steps", "2", "--starts", "1",
                              "--decode-every", "1", "--extra-samples", "0", "--refine-steps",
                              "0", "--rescue-rounds", "0", "--out", w / "o.csv"],
                lambda w, o, e: _rows(w / "o.csv")),
        Command("design --start-from",
                lambda d, w: ["design", "--oracle", _write_oracle(w), "--budget", "3",
                              "--pool-size", "8", "--start-from", d, "--out", w / "calls.csv"],
                lambda w, o, e: _read_line(e, "--start-from:")),
        Command("train",
                lambda d, w: ["train", d, "--out", w / "run", *TINY_TRAIN],
                _train_accounted, min_valid=2),
    )
}


# ---------------------------------------------------------------------------------------------
# Running a case and judging it
# ---------------------------------------------------------------------------------------------

OUTPUT, CLEAR_ERROR, TRACEBACK, HANG = "output", "clear error", "traceback", "hang"


@dataclass
class Outcome:
    """What one command did with one file.

    ``kind``: ``output`` (exit 0), ``clear error`` (exit 1 and one short ``error:`` line, no
    traceback, not an unexpected exception), ``traceback`` (anything else) or ``hang`` (over the
    time limit). ``rows_in`` is :func:`reference_rows`; ``rows_accounted`` what the outputs
    account for (``None`` unless ``output``).
    """

    command: str
    file: str
    kind: str
    exit_code: int
    rows_in: int | None
    rows_accounted: int | None = None
    stderr: str = field(default="", repr=False)

    @property
    def acceptable(self) -> bool:
        """An output accounting for every row of the file, or a clear error."""
        if self.kind == OUTPUT:
            return self.rows_in is not None and self.rows_accounted == self.rows_in
        return self.kind == CLEAR_ERROR

    def explain(self) -> str:
        """A few lines for an assertion message."""
        tail = "\n".join(self.stderr.strip().splitlines()[-12:])
        tail = tail if len(tail) < 3000 else tail[:3000] + "..."
        return (f"{self.command} on {self.file}: {self.kind} (exit {self.exit_code}), rows in "
                f"{self.rows_in}, accounted {self.rows_accounted}\n{tail}")


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def classify(exit_code: int, stderr: str, hung: bool = False) -> str:
    """``output``, ``clear error``, ``traceback`` or ``hang`` (see :class:`Outcome`)."""
    if hung:
        return HANG
    if "Traceback (most recent call last)" in stderr:
        return TRACEBACK
    if exit_code == 0:
        return OUTPUT
    errors = error_lines(stderr)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if (exit_code == 1 and len(errors) == 1 and last == errors[0]
            and "run with --debug" not in last and len(last) <= ERROR_LINE_MAX):
        return CLEAR_ERROR
    return TRACEBACK


class _TimeLimit(BaseException):
    """Raised by the alarm inside a command that ran past its time limit (a BaseException, so
    no ``except Exception`` in the command turns it into an ordinary error)."""


def run_case(command: Command, file: FuzzFile, work: Path, timeout: float = 60.0,
             env: dict[str, str] | None = None) -> Outcome:
    """Write ``file`` under ``work``, run ``command`` on it in-process and judge the outcome.

    A run longer than ``timeout`` seconds is stopped (SIGALRM, main thread only) and is a
    ``hang``.
    """
    from tests.cli.runner import molvae

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    path = file.write(work)
    args = command.args(path, work)
    hung = False

    def on_alarm(signum, frame):  # noqa: ARG001
        nonlocal hung
        hung = True
        raise _TimeLimit(f"over {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = molvae(*args, env=env)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    kind = classify(result.returncode, result.stderr, hung)
    outcome = Outcome(command.name, file.describe(), kind, result.returncode,
                      reference_rows(file), stderr=result.stderr)
    if kind == OUTPUT:
        try:
            outcome.rows_accounted = command.accounted(work, result.stdout, result.stderr)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
            outcome.stderr += f"\n(accounting failed: {type(exc).__name__}: {exc})"
    return outcome
