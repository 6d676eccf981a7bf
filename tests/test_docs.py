"""The code blocks of README.md and docs/*.md are tests: every ```bash and ```python block runs.

Each document runs in its own fresh temporary directory, block after block in document order, so
a block can use what an earlier one wrote (``--model runs/demo`` after the training block) and
the outputs (``generated.csv``, ``samples.csv``) never land in the repository. The directory
holds symlinks to the shipped ``datasets/``, ``configs/`` and ``examples/``, which the documents
name relative to the repository root. A block fails the test when a command exits non-zero or
prints a Python traceback.

- ``bash`` blocks: ``pip install`` commands are dropped (CI has installed the project), keeping
  the rest of their line (``pip install -e . && molvae generate`` runs ``molvae generate``). A
  block made only of ``molvae ...`` commands runs them in this process through
  ``tests/cli/runner.py`` (same entry point, no interpreter start-up per command); any other
  block runs in ``bash`` with ``set -eo pipefail``.
- ``python`` blocks: each runs as a script (``python block.py``) in the document's directory.

Annotations: an HTML comment on the line just before a block's opening fence (invisible once
rendered) changes how CI runs it. Two forms:

    <!-- ci: --epochs 5 => --epochs 1 ; -n 30000 => -n 300 -->
        replace text before running (each ``OLD => NEW`` separated by ``;``; every OLD must
        occur in the block, so an annotation cannot silently go stale). For small sizes in CI.

    <!-- ci: skip: downloads the MOSES splits (1.6 GB) -->
        do not run the block; the reason is required.

MOLVAE_DOCS_SUBPROCESS=1 runs every command in a subprocess instead (as a user's shell would).
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# What the documents name relative to the repository root, linked into each working directory.
SHIPPED = ("datasets", "configs", "examples")
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
BLOCK_TIMEOUT = 900  # seconds; a block that hangs fails instead of stalling CI
TRACEBACK = "Traceback (most recent call last)"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)")
_ANNOTATION = re.compile(r"^\s*<!--\s*ci:\s*(?P<body>.*?)\s*-->\s*$")
_PIP = re.compile(r"^\s*(python3?\s+-m\s+)?pip3?\s+install\b")


@dataclass
class Block:
    """One fenced code block of a document, with its CI annotation if it has one."""

    doc: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    annotation: str | None = None
    substitutions: list[tuple[str, str]] = field(default_factory=list)
    skip_reason: str | None = None

    @property
    def where(self) -> str:
        return f"{_rel(self.doc)}:{self.line}"


def _rel(doc: Path) -> str:
    return str(doc.relative_to(REPO)) if doc.is_relative_to(REPO) else doc.name


class AnnotationError(ValueError):
    """A malformed or misplaced ``<!-- ci: ... -->`` annotation."""


def parse_annotation(block: Block, body: str) -> None:
    """Fill ``block.skip_reason`` or ``block.substitutions`` from an annotation's body."""
    block.annotation = body
    if body == "skip" or body.startswith("skip:") or body.startswith("skip "):
        reason = body[4:].lstrip(": ").strip()
        if not reason:
            raise AnnotationError(f"{block.where}: 'ci: skip' needs a reason ('skip: why')")
        block.skip_reason = reason
        return
    for part in body.split(";"):
        if "=>" not in part:
            raise AnnotationError(
                f"{block.where}: annotation part {part.strip()!r} is neither 'skip: REASON' "
                "nor 'OLD => NEW'"
            )
        old, new = (s.strip() for s in part.split("=>", 1))
        if not old:
            raise AnnotationError(f"{block.where}: empty text to replace in {part.strip()!r}")
        if old not in block.code:
            raise AnnotationError(f"{block.where}: {old!r} does not occur in the block")
        block.substitutions.append((old, new))


def parse_blocks(doc: Path) -> list[Block]:
    """Every fenced block of ``doc`` in order (all languages), annotations attached."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: tuple[int, str] | None = None  # (line, body) of an annotation awaiting its block
    i = 0
    while i < len(lines):
        line = lines[i]
        annotation = _ANNOTATION.match(line)
        fence = _FENCE.match(line)
        if annotation:
            if pending is not None:
                raise AnnotationError(f"{_rel(doc)}:{pending[0]}: annotation not "
                                      "followed by a code block")
            pending = (i + 1, annotation.group("body"))
        elif fence:
            marker = fence.group("fence")
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker):
                body.append(lines[j])
                j += 1
            block = Block(doc, i + 1, fence.group("info").lower(), "\n".join(body) + "\n")
            if pending is not None:
                if block.language not in RUN_LANGUAGES:
                    raise AnnotationError(f"{block.where}: annotation on a {block.language!r} "
                                          "block, which CI does not run")
                parse_annotation(block, pending[1])
                pending = None
            blocks.append(block)
            i = j
        elif line.strip() and pending is not None:
            raise AnnotationError(f"{_rel(doc)}:{pending[0]}: annotation not "
                                  "directly before a code block")
        i += 1
    if pending is not None:
        raise AnnotationError(f"{_rel(doc)}:{pending[0]}: annotation at the end")
    return blocks


def runnable_blocks(doc: Path) -> list[Block]:
    return [b for b in parse_blocks(doc) if b.language in RUN_LANGUAGES]


def script_for_ci(block: Block) -> str:
    """The block's code as CI runs it: annotations applied, ``pip install`` commands dropped."""
    code = block.code
    for old, new in block.substitutions:
        code = code.replace(old, new)
    if RUN_LANGUAGES[block.language] != "bash":
        return code
    out = []
    for line in code.splitlines():
        parts = line.split("&&")
        kept = [p for p in parts if not _PIP.match(p)]
        if len(kept) == len(parts):
            out.append(line)
        elif kept:  # "pip install -e . && molvae generate" runs "molvae generate"
            out.append("&&".join(kept).strip())
    return "\n".join(out) + "\n"


def molvae_commands(script: str) -> list[list[str]] | None:
    """The argument lists when every command of a bash script is a plain ``molvae ...``
    (no variables, pipes or redirections); None otherwise."""
    joined = re.sub(r"\\\n", " ", script)
    commands = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""  # bash starts a comment only at a word's start: C#N is a SMILES
        words = list(lexer)
        words = words[: next((i for i, w in enumerate(words) if w.startswith("#")), len(words))]
        if not words:
            continue
        operators = [w for w in words if w and set(w) <= set("();<>|&")]
        if words[0] != "molvae" or operators or "$" in line or "`" in line:
            return None
        commands.append(words[1:])
    return commands


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"COLUMNS": "100", "NO_COLOR": "1"})
    return env


def run_block(block: Block, cwd: Path) -> tuple[bool, str]:
    """Run one block in ``cwd``; returns (passed, what it printed, for the failure message)."""
    script = script_for_ci(block)
    if RUN_LANGUAGES[block.language] == "python":
        path = cwd / f"_block_line{block.line}.py"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.run([sys.executable, path.name], cwd=cwd, env=_env(),
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
        return _verdict(proc.returncode, proc.stdout, proc.stderr)
    commands = molvae_commands(script)
    if commands is not None and not os.environ.get("MOLVAE_DOCS_SUBPROCESS"):
        from tests.cli.runner import molvae

        log = []
        for args in commands:
            proc = molvae(*args, cwd=cwd, env={"COLUMNS": "100"})
            log.append(f"$ molvae {shlex.join(args)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
            passed, _ = _verdict(proc.returncode, proc.stdout, proc.stderr)
            if not passed:
                return False, f"exit {proc.returncode}\n" + "\n".join(log)
        return True, "\n".join(log)
    proc = subprocess.run(["bash", "-c", "set -eo pipefail\n" + script], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    return _verdict(proc.returncode, proc.stdout, proc.stderr)


def _verdict(code: int, stdout: str, stderr: str) -> tuple[bool, str]:
    printed = f"exit {code}\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    return code == 0 and TRACEBACK not in stdout + stderr, printed


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children: a measure of a block's cost that
    other jobs on the machine disturb less than wall time does."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def working_directory(tmp_path: Path) -> Path:
    """A fresh directory that sees the shipped files as the documents name them."""
    for name in SHIPPED:
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    return tmp_path


def test_annotations_are_well_formed():
    """Fast check of every document's annotations (a malformed one raises while parsing)."""
    blocks = [b for doc in DOCUMENTS for b in runnable_blocks(doc)]
    assert len(blocks) > 20
    assert all(b.skip_reason is None or b.skip_reason.strip() for b in blocks)


def test_parser_and_ci_script(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(
        "text\n\n<!-- ci: -n 30000 => -n 30 ; --epochs 5 => --epochs 1 -->\n```bash\n"
        "pip install -e . && molvae sample -n 30000 --epochs 5\npip install torch\n```\n\n"
        "<!-- ci: skip: needs a GPU -->\n```python\nimport torch\n```\n\n```text\nout\n```\n",
        encoding="utf-8",
    )
    blocks = parse_blocks(doc)
    assert [b.language for b in blocks] == ["bash", "python", "text"]
    assert script_for_ci(blocks[0]) == "molvae sample -n 30 --epochs 1\n"
    assert blocks[1].skip_reason == "needs a GPU"
    assert molvae_commands(script_for_ci(blocks[0])) == [["sample", "-n", "30", "--epochs",
                                                          "1"]]
    assert molvae_commands("head -n 3 a.csv > b.csv\n") is None
    assert molvae_commands('molvae generate --where "QED>0.5"\n') == [
        ["generate", "--where", "QED>0.5"]]
    for bad in ("<!-- ci: skip -->", "<!-- ci: -n 5 -->", "<!-- ci: -n 7 => -n 1 -->"):
        doc.write_text(f"{bad}\n```bash\nmolvae sample -n 5\n```\n", encoding="utf-8")
        with pytest.raises(AnnotationError):
            parse_blocks(doc)
    doc.write_text("<!-- ci: skip: x -->\n\nprose\n```bash\nls\n```\n", encoding="utf-8")
    with pytest.raises(AnnotationError):
        parse_blocks(doc)


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: str(d.relative_to(REPO)))
def test_document_blocks_run(doc: Path, tmp_path: Path) -> None:
    blocks = runnable_blocks(doc)
    if not blocks:
        pytest.skip("no bash or python blocks")
    cwd = working_directory(tmp_path)
    timings = []
    for block in blocks:
        if block.skip_reason:
            timings.append(f"{block.where}: skipped ({block.skip_reason})")
            continue
        start, cpu = time.perf_counter(), _cpu_seconds()
        passed, printed = run_block(block, cwd)
        timings.append(f"{block.where}: {time.perf_counter() - start:.1f} s wall, "
                       f"{_cpu_seconds() - cpu:.1f} s CPU")
        assert passed, (f"{block.where} failed as written in the document:\n{printed}\n"
                        + "\n".join(timings))
    print("\n".join(timings))
