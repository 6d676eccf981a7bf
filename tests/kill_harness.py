"""Kill a molvae command with SIGKILL at random moments, restart it until it completes.

Shared by the kill tests (``tests/*/test_kill_*.py``) and by ``benchmarks/robustness.py``.
:func:`run_with_kills` starts ``molvae ARGS`` as a real process (``python -m molvae_cli``, so
nothing of the test process is shared with it), sends SIGKILL after a delay drawn from a seeded
generator, and starts it again (with the restart arguments, e.g. ``train --resume``, or the
same command) until one attempt exits on its own. It returns a :class:`KillReport`: the delay of
every kill, each attempt's exit status and stderr, and between attempts a ``check`` callback
may inspect what the killed process left on disk (e.g. that an output is absent or complete).

:func:`time_command` runs a command once uninterrupted (the reference for the delays and for
the result an interrupted run must reproduce).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "datasets" / "moses_sample.csv"
TEST_SAMPLE = REPO / "datasets" / "moses_test_sample.csv"

# A tiny model and run: a few seconds of training on 2 CPU cores, a checkpoint every 2 steps
# so that kills land inside checkpoint writes as well as between them.
TINY_TRAIN_TOML = """\
epochs = 3
batch_size = 32
kl_warmup_steps = 20
warmup_steps = 5
learning_rate = 0.003
reconstruction_eval_size = 20
log_every_steps = 2
checkpoint_every_steps = 2
precision = "fp32"
seed = 0
max_molecules = 300

[model]
embedding_dim = 16
encoder_hidden = 32
latent_dim = 8
decoder_hidden = 48
"""


def molvae_argv(*args: str | os.PathLike[str]) -> list[str]:
    """The command line of ``molvae ARGS`` in a new interpreter (the console script's code)."""
    return [sys.executable, "-m", "molvae_cli", *(os.fspath(a) for a in args)]


def command_env(**extra: str) -> dict[str, str]:
    """The environment of a killed command: one thread (deterministic, light), no colours."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    env.update(extra)
    return env


@dataclass
class Attempt:
    """One start of the command: killed after ``delay`` seconds, or exited with ``returncode``."""

    delay: float | None  # the planned kill delay (None: no kill planned)
    killed: bool
    returncode: int
    seconds: float
    stderr: str


@dataclass
class KillReport:
    """What :func:`run_with_kills` did: every attempt, and whether the last one completed."""

    attempts: list[Attempt] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what ``check`` found after kills

    @property
    def kills(self) -> int:
        return sum(a.killed for a in self.attempts)

    @property
    def completed(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].returncode == 0

    @property
    def last_stderr(self) -> str:
        return self.attempts[-1].stderr if self.attempts else ""

    def summary(self) -> str:
        runs = ", ".join(
            f"killed at +{a.delay:.2f}s" if a.killed else f"exit {a.returncode} ({a.seconds:.0f}s)"
            for a in self.attempts
        )
        return f"{self.kills} kills, completed={self.completed}: {runs}"


def _run_once(
    argv: Sequence[str], delay: float | None, env: dict[str, str], cwd: Path | None,
    timeout: float, ready: Callable[[float], bool] | None = None,
) -> Attempt:
    """Run ``argv``; SIGKILL it ``delay`` seconds after ``ready(start_time)`` first holds (or
    after its start without ``ready``); SIGKILL it as hung after ``timeout`` seconds."""
    started = time.monotonic()
    wall_start = time.time()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd, text=True,
            start_new_session=True,
        )
        kill_at = None if delay is None or ready is not None else started + delay
        killed = hung = False
        while proc.poll() is None:
            now = time.monotonic()
            if delay is not None and kill_at is None and ready is not None and ready(wall_start):
                kill_at = now + delay
            if kill_at is not None and now >= kill_at:
                killed = True
            elif now - started > timeout:
                hung = True
            if killed or hung:
                os.killpg(proc.pid, signal.SIGKILL)  # the command and any worker it started
                proc.wait()
                break
            time.sleep(0.01)
        err.seek(0)
        stderr = err.read()
    if hung:
        stderr += f"\n[kill_harness] hung: no exit within {timeout:.0f}s"
    return Attempt(delay, killed, proc.returncode, time.monotonic() - started, stderr)


def time_command(
    args: Sequence[str | os.PathLike[str]], env: dict[str, str] | None = None,
    cwd: Path | None = None, timeout: float = 600.0,
) -> Attempt:
    """Run ``molvae ARGS`` once to the end (no kill)."""
    return _run_once(molvae_argv(*args), None, env or command_env(), cwd, timeout)


def run_with_kills(
    args: Sequence[str | os.PathLike[str]],
    *,
    kills: int,
    delay: tuple[float, float],
    seed: int,
    restart_args: Sequence[str | os.PathLike[str]] | None = None,
    restart: Callable[[int], Sequence[str | os.PathLike[str]]] | None = None,
    check: Callable[[int], str | None] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600.0,
    max_attempts: int | None = None,
    ready: Callable[[float], bool] | None = None,
) -> KillReport:
    """Start ``molvae ARGS``, SIGKILL it after a random delay, restart until it completes.

    The first ``kills`` starts are each killed ``random.Random(seed).uniform(*delay)`` seconds
    after their start or, with ``ready``, after ``ready(start_time)`` first holds (polled every
    10 ms, ``start_time`` being the attempt's ``time.time()``): e.g. once the process has
    written something, so that kills land in its work rather than in the interpreter's
    start-up. An attempt that exits before its kill is not killed: a command that completes
    early ends the run with fewer kills. Restarts run ``restart(attempt)`` if given, else
    ``restart_args``, else ``args`` again. After every kill ``check(attempt)`` may return a
    problem (e.g. a half-written output), collected in ``KillReport.problems``. The last
    start runs unkilled to its end; a start that fails (not killed, exit status non-zero)
    also ends the run, so ``KillReport.completed`` is False.
    """
    rng = random.Random(seed)
    env = env or command_env()
    report = KillReport()
    limit = max_attempts if max_attempts is not None else kills + 1
    for attempt in range(limit):
        if attempt == 0:
            current = args
        elif restart is not None:
            current = restart(attempt)
        else:
            current = restart_args if restart_args is not None else args
        planned = rng.uniform(*delay) if report.kills < kills else None
        result = _run_once(molvae_argv(*current), planned, env, cwd, timeout, ready)
        report.attempts.append(result)
        if result.killed:
            if check is not None:
                problem = check(attempt)
                if problem:
                    report.problems.append(f"after kill {report.kills}: {problem}")
            continue
        break
    return report


def tiny_train_config(directory: Path, **overrides: object) -> Path:
    """Write the tiny run's TOML config into ``directory`` (``key = value`` lines override)."""
    text = TINY_TRAIN_TOML
    for key, value in overrides.items():
        rendered = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(
            value, bool) else str(value)
        lines = [
            f"{key} = {rendered}" if line.split(" = ")[0] == key else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tiny.toml"
    path.write_text(text)
    return path


def train_args(data: Path, out: Path, config: Path) -> list[str]:
    """``train`` of the tiny run (no progress bar)."""
    return ["train", str(data), "--out", str(out), "--config", str(config), "--quiet"]


def resume_args(out: Path) -> list[str]:
    """``train --resume`` of a run directory (or, with no run.json yet, nothing to resume)."""
    return ["train", "--resume", "--out", str(out), "--quiet"]


def train_restart(data: Path, out: Path, config: Path) -> Callable[[int], list[str]]:
    """Restart of a killed ``train``: resume when run.json exists, else start the run again.

    A run killed before it wrote ``run.json`` has nothing to resume; its directory may hold
    the data of the killed attempt, which a new ``train`` replaces.
    """

    def restart(attempt: int) -> list[str]:
        if (out / "run.json").is_file():
            return resume_args(out)
        return train_args(data, out, config)

    return restart


def written_since(path: Path) -> Callable[[float], bool]:
    """A ``ready`` test: ``path`` was modified after the attempt started (e.g. a train
    process has logged a row of ``metrics.jsonl``, so it is in its training loop)."""

    def ready(start: float) -> bool:
        try:
            return path.stat().st_mtime >= start
        except OSError:
            return False

    return ready


def weights_of(model_dir: Path) -> dict[str, bytes]:
    """The tensors of a model directory's weights file, as raw bytes per name (bitwise)."""
    from safetensors.numpy import load_file

    return {k: v.tobytes() for k, v in load_file(str(model_dir / "model.safetensors")).items()}


def same_weights(a: Path, b: Path) -> list[str]:
    """Names of tensors that differ (or exist in one only) between two model directories."""
    wa, wb = weights_of(a), weights_of(b)
    return sorted(k for k in set(wa) | set(wb) if wa.get(k) != wb.get(k))
