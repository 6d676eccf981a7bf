"""Data-parallel training: joining a torchrun job, or starting one on this machine.

A process trains as one rank of a DistributedDataParallel job when torchrun (or the local
launcher below, which sets the same variables) gives it ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``. The backend is NCCL on CUDA and gloo on CPU. Beside that main group, every rank
joins two small gloo groups for control messages on the CPU, whatever the backend:

- ``setup`` waits (up to a day) while rank 0 prepares the data, so tokenizing a large file
  does not trip the usual 10-30 minute collective timeout;
- ``control`` carries per-step stop flags, log sums, validation results and RNG states.

``launch_local`` is ``molvae train --devices N``: N processes on this machine (spawned, so
CUDA and gloo start clean), rendezvous on a free localhost port, rank 0's result returned.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import pickle
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from molvae.errors import MolvaeError

__all__ = [
    "DistEnv",
    "ProcessGroup",
    "environment",
    "launch_local",
    "shard_batch",
]

SETUP_TIMEOUT = _dt.timedelta(hours=24)


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a multi-process job (torchrun's environment variables)."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int


def environment() -> DistEnv | None:
    """This process's rank and world size from torchrun's variables; None when it runs alone.

    A world of one process (``torchrun --nproc_per_node 1``) is plain single-process training.
    """
    env = os.environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    try:
        world = int(env["WORLD_SIZE"])
        rank = int(env["RANK"])
        local_rank = int(env.get("LOCAL_RANK", rank))
        local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    except ValueError:
        raise MolvaeError(
            "RANK, WORLD_SIZE, LOCAL_RANK must be integers (torchrun sets them)"
        ) from None
    if world <= 1:
        return None
    if not 0 <= rank < world:
        raise MolvaeError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return DistEnv(rank, world, local_rank, local_world)


def shard_batch(batch: np.ndarray, rank: int, world_size: int) -> tuple[np.ndarray, float]:
    """This rank's contiguous part of a global batch and its share of the batch's molecules.

    Every rank gets a part of every global batch, so all ranks take the same number of steps.
    Parts differ by at most one molecule; a rank left without any (a batch smaller than the
    world) gets one molecule with share 0, so it still joins the gradient all-reduce but adds
    nothing. Scaling each rank's mean loss by ``share * world_size`` makes DDP's gradient
    average equal the gradient of the global batch's mean loss.
    """
    part = np.array_split(batch, world_size)[rank]
    if len(part) == 0:
        return batch[:1], 0.0
    return part, len(part) / len(batch)


class ProcessGroup:
    """This process's membership in a DDP job; a context manager that joins and leaves it.

    The helpers are collectives: every rank must call them in the same order.
    """

    def __init__(self, env: DistEnv, device: torch.device):
        self.env = env
        self.rank = env.rank
        self.world_size = env.world_size
        self.device = device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self._owned = False
        self._setup: Any = None
        self._control: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __enter__(self) -> ProcessGroup:
        if not dist.is_available():
            raise MolvaeError("this PyTorch build has no torch.distributed")
        if self.backend == "nccl" and not dist.is_nccl_available():
            raise MolvaeError("CUDA training with several processes needs NCCL")
        if not dist.is_initialized():
            try:
                dist.init_process_group(self.backend, rank=self.rank, world_size=self.world_size)
            except (RuntimeError, ValueError) as exc:
                raise MolvaeError(f"cannot join the process group: {exc}") from None
            self._owned = True
        self._setup = dist.new_group(backend="gloo", timeout=SETUP_TIMEOUT)
        self._control = dist.new_group(backend="gloo")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._owned and dist.is_initialized():
            dist.destroy_process_group()

    # ------------------------------------------------------------------ control messages
    def setup_done(self, ok: bool) -> bool:
        """Rank 0 says whether it prepared the run; every rank learns if all went well."""
        flag = torch.tensor([1 if ok else 0], dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN, group=self._setup)
        return bool(flag.item())

    def any(self, flags: Sequence[bool]) -> list[bool]:
        """Element-wise OR of boolean flags over ranks (stop requests, deadlines)."""
        t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return [bool(v) for v in t.tolist()]

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of floats over ranks (float64)."""
        t = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self._control)
        return t.tolist()

    def broadcast(self, values: Sequence[float]) -> list[float]:
        """Rank 0's floats on every rank (float64)."""
        t = torch.tensor(list(values), dtype=torch.float64)
        dist.broadcast(t, src=0, group=self._control)
        return t.tolist()

    def gather_bytes(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of a uint8 CPU tensor of the same size (RNG states)."""
        tensor = tensor.detach().cpu().contiguous()
        out = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(out, tensor, group=self._control)
        return out


# ----------------------------------------------------------------------------- local launcher


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def picklable(obj: Any) -> bool:
    """Whether ``obj`` can be sent to a spawned process (a lambda cannot)."""
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def print_status(message: str) -> None:
    """Status lines of a rank that was given no callback: stderr, flushed."""
    print(message, file=sys.stderr, flush=True)


def _rank_main(
    index: int, world_size: int, port: int, target: Callable[..., Any], args: tuple, results: Any
) -> None:
    """One spawned rank: torchrun's environment, its share of the cores, then ``target``."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(index),
            "WORLD_SIZE": str(world_size),
            "LOCAL_RANK": str(index),
            "LOCAL_WORLD_SIZE": str(world_size),
        }
    )
    if "OMP_NUM_THREADS" not in os.environ:
        # Ranks on one machine share its cores; torchrun sets OMP_NUM_THREADS=1 likewise.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    try:
        result = target(*args)
    except MolvaeError as exc:
        results.put(("error", index, str(exc)))
        sys.exit(1)
    if index == 0:
        results.put(("result", index, result))


def launch_local(world_size: int, target: Callable[..., Any], args: tuple) -> Any:
    """Run ``target(*args)`` as ranks 0..world_size-1 on this machine; rank 0's result.

    ``target`` must be a module-level function and ``args`` picklable. A ``MolvaeError`` in a
    rank is raised here with its message. While the ranks run, this process ignores SIGINT
    (Ctrl-C reaches the ranks directly; they checkpoint and stop) and passes SIGTERM on.
    """
    import torch.multiprocessing as tmp

    ctx = tmp.get_context("spawn")
    results = ctx.SimpleQueue()
    port = _free_port()
    procs = tmp.start_processes(
        _rank_main,
        args=(world_size, port, target, args, results),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )

    def forward_term(signum: int, frame: Any) -> None:
        for proc in procs.processes:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)

    old: dict[int, Any] = {}
    with contextlib.suppress(ValueError):  # not in the main thread: leave signals alone
        old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        old[signal.SIGTERM] = signal.signal(signal.SIGTERM, forward_term)
    failure: BaseException | None = None
    try:
        while not procs.join(timeout=1.0):
            pass
    except (tmp.ProcessRaisedException, tmp.ProcessExitedException) as exc:
        failure = exc
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    messages = []
    while not results.empty():
        messages.append(results.get())
    for kind, index, payload in messages:
        if kind == "error":
            raise MolvaeError(payload if index == 0 else f"rank {index}: {payload}")
    if failure is not None:
        last = str(failure).strip().splitlines()[-1] if str(failure).strip() else ""
        raise RuntimeError(f"a training process failed: {last}") from failure
    for kind, _, payload in messages:
        if kind == "result":
            return payload
    raise RuntimeError("the training processes ended without a result")
