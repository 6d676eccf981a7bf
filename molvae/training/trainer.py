"""Training: from a molecule file to a checkpointed, resumable GRU VAE run directory.

Run directory layout::

    RUN_DIR/run.json          train + model config, data provenance (what ``--resume`` reads)
    RUN_DIR/data/             tokenized dataset cache (resume does not re-tokenize)
    RUN_DIR/rejects.csv       every input row that was not used, with the reason
    RUN_DIR/checkpoint/       latest weights + optimizer/RNG/step state (safetensors + JSON)
    RUN_DIR/model/            best model by validation loss (what ``--model RUN_DIR`` loads)
    RUN_DIR/metrics.jsonl     train log every ``log_every_steps`` and one validation row per epoch

Checkpoints are written to a temporary directory and swapped in, so a run killed at any moment
loses at most the work since the last checkpoint. The learning rate and beta are pure functions
of the step and the batch order a pure function of (seed, epoch), so resuming replays exactly.

The tokenized data and property targets also go to the user-level dataset cache
(``molvae.data.encoded_cache``), so the next run on the same file skips that work. With several
processes (``devices=N`` or torchrun; see ``molvae.training.distributed``) every rank runs the
same loop on its share of each global batch; rank 0 alone prepares data, logs and writes.

``train`` opens or creates the run (``molvae.training.run``) and hands it to a ``Trainer``:
``Trainer.fit`` is the loop, ``Trainer.step`` one optimizer step (the benchmarks call it alone),
``Trainer.validate`` and ``Trainer.save_checkpoint`` what ends each epoch; ``TrainState`` is
where the run is (the counters each checkpoint saves).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae._version import __version__
from molvae.data.encoding import (
    LengthBucketSampler,
    collate,
)
from molvae.errors import MolvaeError
from molvae.models.config import ModelConfig
from molvae.models.store import (
    ModelBundle,
    atomic_write_bytes,
    load_model_dir,
    load_training_state,
    replace_directory,
    resolve_model_path,
    save_model_dir,
    save_training_state,
)
from molvae.models.vae import GRUVAE
from molvae.runtime import autocast_dtype, device_summary, resolve_device
from molvae.tokens import Vocabulary
from molvae.training import distributed
from molvae.training.annealing import kl_weight
from molvae.training.config import TrainConfig, train_config_from_record
from molvae.training.loss import learning_rate, vae_loss
from molvae.training.run import (
    Run,
    create_run,
    latest_checkpoint,
    open_run,
    read_run_json,
    set_run_epochs,
    truncate_metrics,
    write_metrics_csv,
)
from molvae.training.validate import evaluate


@dataclass
class TrainResult:
    """Where the run put things and how it ended."""

    run_dir: Path
    model_dir: Path
    steps: int
    epochs_completed: int
    best_val_loss: float
    stopped: str
    wall_seconds: float


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop at the next step.

    A second signal a second or more after the first stops at once. Signals closer together
    are one request: Ctrl-C under torchrun reaches each rank from the terminal and again from
    torchrun, and the rank should still write its checkpoint.
    """

    def __init__(self) -> None:
        self.requested = False
        self._first = 0.0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if time.monotonic() - self._first >= 1.0:  # a second request: stop now
                raise KeyboardInterrupt
            return
        self.requested = True
        self._first = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _optimizer_state_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict, info: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in info.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def _rank_device(name: str, local_rank: int) -> torch.device:
    """The device of one DDP rank: the GPU of its local rank, or the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = resolve_device(name)
    if device.type != "cuda":
        return device
    if device.index is not None:
        raise MolvaeError(
            f"--device {name}: with several processes each one takes the GPU of its local "
            "rank; use --device cuda (or auto)"
        )
    if local_rank >= torch.cuda.device_count():
        raise MolvaeError(
            f"local rank {local_rank} has no GPU: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    return device


def _rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """A seed for rank ``rank`` > 0 (rank 0 keeps the single-process random stream)."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


@dataclass
class _Request:
    """What ``train`` was asked to do: handed to the local launcher and to every DDP rank."""

    data_path: str | Path | None
    run_dir: Path
    cfg: TrainConfig | None
    model_cfg: ModelConfig | None
    resume: bool
    init_from: str | Path | None
    progress: bool
    status: Callable[[str], None] | None
    stop_after_steps: int | None


def train(
    data_path: str | Path | None,
    run_dir: str | Path,
    cfg: TrainConfig | None = None,
    model_cfg: ModelConfig | None = None,
    resume: bool = False,
    init_from: str | Path | None = None,
    progress: bool = True,
    status: Callable[[str], None] = print,
    stop_after_steps: int | None = None,
    devices: int | None = None,
    resume_epochs: int | None = None,
) -> TrainResult:
    """Train a GRU VAE on ``data_path`` into ``run_dir`` (or continue it with ``resume``).

    ``resume_epochs`` (with ``resume``) changes the run's length: the cosine learning-rate
    schedule and the last epoch follow the new value from the next step on, and ``run.json``
    records it. Shortening a long run this way anneals it now instead of epochs later.

    ``init_from`` starts from an existing model (fine-tuning; a path, a run directory or a
    bundled model's name such as ``"default"``): its architecture and vocabulary are kept and
    molecules with unknown tokens are rejected with those tokens named.
    ``stop_after_steps`` ends the run right after that global step's checkpoint, as if killed
    (used to test resuming).

    Data-parallel training (DistributedDataParallel): ``devices=N`` > 1 prepares the data here,
    then trains in N processes on this machine (one per GPU, or N gloo processes on the CPU).
    A process started by torchrun (``RANK``/``WORLD_SIZE`` set) joins its job instead; rank 0
    prepares the data while the others wait. ``cfg.batch_size`` is the global batch: each
    step's batch is split across the processes and their gradients averaged, so the loss curve
    and learning rate are those of one process with the same batch size. Only rank 0 logs and
    writes checkpoints, metrics and the model.
    """
    if init_from is not None:
        # A model directory, a training run directory, or a bundled model's name ("default").

        init_from = resolve_model_path(init_from)
    request = _Request(
        data_path,
        Path(run_dir),
        cfg,
        model_cfg,
        resume,
        init_from,
        progress,
        status,
        stop_after_steps,
    )
    started = time.monotonic()
    if devices is not None and devices < 1:
        raise MolvaeError(f"--devices must be at least 1, got {devices}")
    if resume_epochs is not None:
        if not resume:
            raise MolvaeError("resume_epochs needs resume (a new run takes cfg.epochs)")
        set_run_epochs(Path(run_dir), resume_epochs, status)
    env = distributed.environment()
    if env is not None:
        if devices is not None and devices != env.world_size and env.rank == 0:
            status(f"--devices {devices} ignored: torchrun started {env.world_size} processes")
        return _train_rank(env, request, run_created=False)
    if devices is not None and devices > 1:
        return _launch(devices, request)
    if resume:
        run = open_run(request.run_dir)
    else:
        run = create_run(data_path, request.run_dir, cfg, model_cfg, init_from, status)
    device = resolve_device(run.cfg.device)
    return _fit(run, request, started, device, None)


def _launch(devices: int, request: _Request) -> TrainResult:
    """``--devices N``: prepare the run once in this process, then train in N spawned ranks."""
    status = request.status or print
    if request.resume:
        device_name = train_config_from_record(read_run_json(request.run_dir)["train"]).device
    else:
        device_name = (request.cfg or TrainConfig()).device
    wants_cuda = device_name.startswith("cuda") or (
        device_name == "auto" and torch.cuda.is_available()
    )
    if wants_cuda and devices > torch.cuda.device_count():
        raise MolvaeError(
            f"--devices {devices}: this machine has {torch.cuda.device_count()} CUDA device(s); "
            "use torchrun to train on several machines"
        )
    if not request.resume:
        # Tokenizing and RDKit properties happen here, once, before any rank exists.
        r = request
        create_run(r.data_path, r.run_dir, r.cfg, r.model_cfg, r.init_from, status)
    status(f"starting {devices} training processes ({'nccl' if wants_cuda else 'gloo'})")
    # The ranks get this request by pickling: a lambda status becomes printing to stderr.
    spawned = replace(
        request,
        data_path=None,
        cfg=None,
        model_cfg=None,
        status=status if distributed.picklable(status) else None,
    )
    return distributed.launch_local(devices, _spawned_rank, (spawned,))


def _spawned_rank(request: _Request) -> TrainResult:
    """Body of one rank started by ``_launch`` (the run directory already exists)."""
    env = distributed.environment()
    if env is None:
        raise MolvaeError("a training rank was started without RANK/WORLD_SIZE")
    return _train_rank(env, request, run_created=True)


def _train_rank(env: distributed.DistEnv, request: _Request, run_created: bool) -> TrainResult:
    """One DDP rank: join the group, get the run (rank 0 creates a new one), train."""
    started = time.monotonic()
    r = request
    if r.resume or run_created:
        device_name = train_config_from_record(read_run_json(r.run_dir)["train"]).device
    else:
        device_name = (r.cfg or TrainConfig()).device
    device = _rank_device(device_name, env.local_rank)
    status = r.status or distributed.print_status
    quiet_unless_main = replace(r, status=status if env.rank == 0 else (lambda s: None))
    with distributed.ProcessGroup(env, device) as group:
        run = None
        if not (r.resume or run_created):
            ok = False
            try:
                if group.is_main:
                    run = create_run(
                        r.data_path, r.run_dir, r.cfg, r.model_cfg, r.init_from, status
                    )
                ok = True
            finally:
                # Collective: the other ranks wait here while rank 0 prepares the data.
                all_ok = group.setup_done(ok)
            if not all_ok:
                raise MolvaeError("rank 0 could not prepare the run (see its error)")
        if run is None:
            run = open_run(r.run_dir)
        return _fit(run, quiet_unless_main, started, device, group)


def _parallel_info(cfg: TrainConfig, group: distributed.ProcessGroup | None) -> dict[str, Any]:
    world = 1 if group is None else group.world_size
    return {
        "world_size": world,
        "backend": None if group is None else group.backend,
        "global_batch_size": cfg.batch_size,
        "batch_size_per_process": round(cfg.batch_size / world, 2),
        "learning_rate": cfg.learning_rate,
        "batch_semantics": "batch_size is global: each step's batch is split across processes",
    }


@dataclass
class LogWindow:
    """Running sums since the last train row of ``metrics.jsonl`` (this rank's share under DDP)."""

    molecules: int = 0
    started: float = field(default_factory=time.monotonic)
    loss: float = 0.0
    recon: float = 0.0
    kl: float = 0.0
    prop: float = 0.0
    n: int = 0


# The checkpoint's "counters", in the order state.json has always written them.
_COUNTERS = (
    "step",
    "epoch",
    "batch_in_epoch",
    "best_val_loss",
    "bad_epochs",
    "wall_seconds",
    "history",
)


@dataclass
class TrainState:
    """Where a run is. The counters go into every checkpoint; the rest lives for one process.

    ``step`` counts optimizer steps (the learning rate and beta are functions of it);
    ``epoch`` and ``batch_in_epoch`` are the position in the epoch-deterministic batch order,
    so a resumed run replays the batches it has not trained on yet.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val_loss: float = math.inf
    bad_epochs: int = 0  # complete epochs in a row without a new best (early stopping)
    wall_seconds: float = 0.0  # wall time of the whole run, at the last checkpoint
    history: list[Any] = field(default_factory=list)  # always empty; kept in the format
    # Counters of a checkpoint this version does not know, written back as they were read.
    other_counters: dict[str, Any] = field(default_factory=dict)
    # Not saved as counters:
    lr: float = 0.0  # learning rate of the last step
    beta: float = 0.0  # KL weight of the last step (at an epoch's start: of the next one)
    # Generator states at the last checkpoint written or resumed from (every rank's, keyed as
    # in state.safetensors); the live state is torch's global generator.
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    window: LogWindow = field(default_factory=LogWindow)

    def counters(self) -> dict[str, Any]:
        """What a checkpoint's ``state.json`` holds under ``"counters"``."""
        return {**{name: getattr(self, name) for name in _COUNTERS}, **self.other_counters}

    def load_counters(self, counters: dict[str, Any]) -> None:
        """Take the counters of a checkpoint, as saved (unknown ones are kept and re-saved)."""
        for name, value in counters.items():
            if name in _COUNTERS:
                setattr(self, name, value)
            else:
                self.other_counters[name] = value


class Trainer:
    """The training loop of one process, one step at a time.

    ``fit`` trains ``run`` into ``run_dir`` as ``train`` does: the epochs of batches, with
    ``step`` for each one, a train row of metrics every ``log_every_steps``, ``validate`` and
    ``save_checkpoint`` after each epoch and checkpoints every ``checkpoint_every_steps``.
    A Trainer with no ``run_dir`` (see ``Run.in_memory``) can ``step`` and ``validate`` but
    writes nothing. Constructing one seeds torch's global generator with ``cfg.seed`` (the
    model's initial weights, then the noise of every step) as ``train`` always has.

    With ``resume`` it continues from the run's latest checkpoint (weights, optimizer, RNG
    and counters). With ``group`` this process is one rank of a DDP job: ``step`` takes the
    global batch and trains on this rank's shard; ``step`` (the gradient all-reduce),
    ``validate`` and ``save_checkpoint`` are collectives that every rank calls at the same
    points.
    """

    def __init__(
        self,
        run: Run,
        device: torch.device | str | None = None,
        *,
        run_dir: Path | None = None,
        resume: bool = False,
        group: distributed.ProcessGroup | None = None,
        status: Callable[[str], None] = print,
        started: float | None = None,
    ) -> None:
        if resume and run_dir is None:
            raise MolvaeError("resuming needs the run directory")
        cfg, model_cfg = run.cfg, run.model_cfg
        device = resolve_device(cfg.device) if device is None else torch.device(device)
        self.run, self.cfg, self.model_cfg = run, cfg, model_cfg
        self.device, self.run_dir, self.group, self.status = device, run_dir, group, status
        # Wall time (time budget, schedule_by_time) counts from here, or from ``started``.
        self.started = time.monotonic() if started is None else started
        self.is_main = group is None or group.is_main
        self.rank = 0 if group is None else group.rank
        self.world = 1 if group is None else group.world_size
        self.amp = autocast_dtype(cfg.precision, device)
        torch.manual_seed(cfg.seed)
        self.model = model = GRUVAE(model_cfg).to(device)
        ckpt = latest_checkpoint(run_dir) if run_dir is not None and resume else None
        if resume and ckpt is None:
            status("no checkpoint yet: starting the run from step 0")
        data_info = run.data_info
        if ckpt is None and (run.init_model is not None or data_info.get("init_from")):
            if run.init_model is None:  # a rank that did not create the run loads it itself
                run.init_model, _ = load_model_dir(data_info["init_from"])
            # A learned prior added by the fine-tuning starts from its own (N(0, I)) weights.
            missing, unexpected = model.load_state_dict(
                run.init_model.state_dict(), strict=False
            )
            if unexpected or any(not k.startswith("prior_net.") for k in missing):
                raise MolvaeError(
                    f"the weights of {data_info.get('init_from')} do not fit the run's model "
                    f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
        if self.rank > 0:
            # Each rank draws its own reparameterization noise and word dropout.
            torch.manual_seed(_rank_seed(cfg.seed, self.rank))
        self.bundle = ModelBundle(
            model_cfg,
            run.vocabulary,
            cfg.representation,
            run.prop_mean.tolist(),
            run.prop_std.tolist(),
            training={
                "data_sha256": data_info["sha256"],
                "data_path": data_info["path"],
                "molvae_version": __version__,
                "train_config": asdict(cfg),
                "train_molecules": len(run.train_set),
                "init_from": data_info.get("init_from"),
                "parent": data_info.get("parent"),
            },
        )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        self.scaler = (
            torch.amp.GradScaler("cuda")
            if self.amp == torch.float16 and device.type == "cuda"
            else None
        )
        n_joint = len(model_cfg.properties)
        self._joint_mean, self._joint_std = run.prop_mean[:n_joint], run.prop_std[:n_joint]
        # A conditional model's conditions are columns of the property targets, re-standardized
        # with the model's own condition statistics (the same numbers for a fresh run).
        self._conditions: tuple[list[int], torch.Tensor, torch.Tensor] | None = None
        if model_cfg.conditions:
            if len(self._joint_mean) < n_joint:
                raise MolvaeError(
                    "a conditional model trains on property targets; this run has none"
                )
            at = [model_cfg.properties.index(n) for n in model_cfg.conditions]
            cmean = torch.tensor(model_cfg.condition_mean, dtype=torch.float32)
            cstd = torch.tensor(model_cfg.condition_std, dtype=torch.float32)
            jmean = torch.as_tensor(self._joint_mean[at], dtype=torch.float32)
            jstd = torch.as_tensor(self._joint_std[at], dtype=torch.float32)
            # standardized target * scale + shift = standardized condition
            self._conditions = (at, (jstd / cstd).to(device), ((jmean - cmean) / cstd).to(device))
        self.sampler = LengthBucketSampler(run.train_set.lengths, cfg.batch_size, cfg.seed)
        self.steps_per_epoch = len(self.sampler)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.state = TrainState()
        self._metrics_bytes: int | None = 0
        if ckpt is not None:
            self._restore(ckpt)
        if resume and self.is_main and run_dir is not None:
            # The steps after the checkpoint run again and log their rows again.
            truncate_metrics(run_dir / "metrics.jsonl", self._metrics_bytes)
        self.net: torch.nn.Module = model
        if group is not None:
            from torch.nn.parallel import DistributedDataParallel

            # Heads added by ``fit-property`` take no part in the VAE loss: DDP must not wait
            # for their gradients (one process leaves them alone just the same, they get none).
            for param in model.fitted_predictors.parameters():
                param.requires_grad_(False)
            self.net = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
            status(
                f"data-parallel: {self.world} processes ({group.backend}, {device.type}); "
                f"global batch {cfg.batch_size} (about {cfg.batch_size / self.world:.1f} per "
                f"process), learning rate {cfg.learning_rate:g}: as one process with batch "
                f"{cfg.batch_size}"
            )
        self._wall_before = float(self.state.wall_seconds)

    def _restore(self, ckpt: Path) -> None:
        """Weights, optimizer, counters and this rank's generator state from ``ckpt``."""
        state, rank = self.state, self.rank
        tensors, info = load_training_state(ckpt)
        weights, _ = load_model_dir(ckpt)
        self.model.load_state_dict(weights.state_dict())
        _restore_optimizer(self.optimizer, tensors, info["optimizer"])
        state.load_counters(info["counters"])
        self._metrics_bytes = info.get("metrics_bytes")
        state.rng = {k: v for k, v in tensors.items() if k.startswith("rng.")}
        suffix = "" if rank == 0 else f".rank{rank}"
        if f"rng.torch{suffix}" in tensors:
            torch.set_rng_state(tensors[f"rng.torch{suffix}"])
            if self.device.type == "cuda" and f"rng.cuda{suffix}" in tensors:
                torch.cuda.set_rng_state(tensors[f"rng.cuda{suffix}"])
        else:
            # Saved by fewer processes: this rank's noise starts afresh (still seeded).
            torch.manual_seed(_rank_seed(self.cfg.seed, rank, int(state.step)))
        saved_world = int(info.get("world_size", 1))
        self.status(
            f"resuming at step {state.step} (epoch {state.epoch + 1}, "
            f"batch {state.batch_in_epoch})"
            + (
                f"; checkpoint written by {saved_world} process(es)"
                if saved_world != self.world
                else ""
            )
        )

    def beta_at(self, step: int) -> float:
        """The KL weight of optimizer step ``step``."""
        cfg = self.cfg
        return kl_weight(
            step, cfg.kl_schedule, cfg.beta, cfg.kl_warmup_steps, cfg.kl_start_step,
            cfg.kl_cycles,
        )

    def step(self, batch: np.ndarray) -> dict[str, float]:
        """One optimizer step on the training-set molecules ``batch`` (their positions).

        Sets the learning rate and beta of ``state.step``, applies word dropout, runs the
        forward pass under autocast, backpropagates the VAE loss (through the gradient scaler
        for fp16 on CUDA), clips and steps the optimizer; then advances ``state.step`` and adds
        the terms to ``state.window``. Under DDP ``batch`` is the global batch: this rank
        trains on its shard and gradients are averaged across ranks. Returns this process's
        loss terms (``loss``, ``recon``, ``kl``, and ``property_mse`` with property heads).
        """
        cfg, device, state, group = self.cfg, self.device, self.state, self.group
        share = 1.0
        local = batch
        if group is not None:
            local, share = distributed.shard_batch(batch, self.rank, self.world)
        step = state.step
        data = collate(self.run.train_set, local, self._joint_mean, self._joint_std).to(device)
        if cfg.word_dropout > 0:
            drop = torch.rand(data.decoder_inputs.shape, device=device) < cfg.word_dropout
            drop[:, 0] = False  # keep bos
            drop &= data.decoder_inputs != Vocabulary.pad_id
            data.decoder_inputs = data.decoder_inputs.masked_fill(drop, Vocabulary.unk_id)
        clock = (
            (time.monotonic() - self.started) / (cfg.max_minutes * 60)
            if cfg.schedule_by_time and cfg.max_minutes
            else 0.0
        )
        lr = learning_rate(step, cfg, self.total_steps, clock)
        for param_group in self.optimizer.param_groups:
            param_group["lr"] = lr
        beta = self.beta_at(step)
        amp = self.amp
        condition, targets = self._condition_batch(data.properties)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = self.net(data.tokens, data.lengths, data.decoder_inputs, condition=condition)
        terms = vae_loss(out, data.targets, targets, beta, cfg.free_bits, cfg.property_weight)
        # DDP averages gradients over ranks; weighting each rank's mean loss by its share of
        # the molecules makes that the gradient of the global batch's mean. Exact for
        # reconstruction and KL; free bits (clamped per-shard KL means) and properties with
        # missing values (per-shard counts) are close, not identical.
        objective = terms["loss"] if group is None else terms["loss"] * (share * self.world)
        self.optimizer.zero_grad(set_to_none=True)
        scaler = self.scaler
        if scaler is not None:
            scaler.scale(objective).backward()
            scaler.unscale_(self.optimizer)
        else:
            objective.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()
        state.step += 1
        state.lr, state.beta = lr, beta
        values = {name: float(term.detach()) for name, term in terms.items()}
        window = state.window
        window.molecules += len(batch)
        window.n += 1
        for key, term in (("loss", "loss"), ("recon", "recon"), ("kl", "kl"),
                          ("prop", "property_mse")):
            if term in values:
                weighted = values[term] if group is None else values[term] * share
                setattr(window, key, getattr(window, key) + weighted)
        if not math.isfinite(values["loss"]):
            raise MolvaeError(
                f"loss became {values['loss']} at step {step}; try a lower learning rate or "
                "--precision fp32"
            )
        return values

    def _condition_batch(
        self, properties: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The condition input of a batch and the property targets to train the heads on.

        Each condition is hidden with probability ``condition_dropout`` and all of a molecule's
        with ``condition_drop_all`` (a missing value is hidden too), so the same model learns
        to decode with any subset of its conditions, none included. The predictor heads learn a
        condition's property only from molecules encoded without it: given the value, the
        encoder need not put it into mu, and the heads serve ``generate`` and ``optimize``,
        which encode without conditions.
        """
        if self._conditions is None or properties is None:
            return None, properties
        at, scale, shift = self._conditions
        cfg = self.cfg
        values = properties[:, at] * scale + shift
        drop = torch.rand(values.shape, device=values.device) < cfg.condition_dropout
        drop |= torch.rand(values.shape[0], 1, device=values.device) < cfg.condition_drop_all
        values = values.masked_fill(drop, float("nan"))
        given = torch.isfinite(values)
        targets = properties.clone()
        targets[:, at] = properties[:, at].masked_fill(given, float("nan"))
        return GRUVAE.condition_input(values), targets

    def validate(self) -> dict[str, Any]:
        """Validation metrics of the current weights (``molvae.training.validate.evaluate``).

        Under DDP rank 0 evaluates and the others get only ``val_loss`` (a collective).
        """
        val: dict[str, Any] = {}
        if self.is_main:
            val = evaluate(
                self.model, self.run.val_set, self.cfg, self.bundle, self.device, self.amp,
                self.state.beta,
            )
        if self.group is not None:
            val["val_loss"] = self.group.broadcast([val.get("val_loss", 0.0)])[0]
        return val

    def save_checkpoint(self, is_best: bool = False, val: dict[str, Any] | None = None) -> None:
        """Write ``checkpoint/`` (weights, optimizer, RNG, counters), and with ``is_best`` also
        ``model/`` with ``val``'s metrics. A collective under DDP (every rank's generator
        state is gathered); rank 0 alone writes."""
        run_dir = self._need_run_dir()
        rng = self._rng_states()
        self.state.rng = rng
        if not self.is_main:
            return
        state, bundle = self.state, self.bundle
        state.wall_seconds = self._wall_before + (time.monotonic() - self.started)
        bundle.training["steps"] = state.step
        bundle.training["wall_seconds"] = round(state.wall_seconds, 1)
        bundle.training["hardware"] = device_summary(self.device)
        if self.world > 1:
            bundle.training["processes"] = self.world
        # The best model first: a process killed between the two writes resumes from the
        # previous checkpoint, replays this validation and writes the same model again.
        if is_best:
            if val is not None:
                bundle.metrics = {k: v for k, v in val.items() if k != "property_metrics"}
                bundle.property_metrics = val.get("property_metrics", {})
            self._write_swapped(run_dir, "model", None)
        self._write_swapped(run_dir, "checkpoint", rng)

    def _need_run_dir(self) -> Path:
        if self.run_dir is None:
            raise MolvaeError("this Trainer has no run directory to write to")
        return self.run_dir

    def _rng_states(self) -> dict[str, torch.Tensor]:
        """Every rank's generator state, so a resumed run draws the same noise on every rank."""
        own = {"rng.torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            own["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        if self.group is None:
            return own
        states = {}
        for key, tensor in own.items():
            for r, gathered in enumerate(self.group.gather_bytes(tensor)):
                states[key if r == 0 else f"{key}.rank{r}"] = gathered
        return states

    def _write_swapped(
        self, run_dir: Path, name: str, rng: dict[str, torch.Tensor] | None
    ) -> None:
        # Written in full under a temporary name, then swapped in (see replace_directory).
        tmp = run_dir / f"{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            save_model_dir(self.model, self.bundle, tmp)
            if rng is not None:
                tensors, opt_info = _optimizer_state_tensors(self.optimizer)
                tensors.update(rng)
                info: dict[str, Any] = {"optimizer": opt_info, "counters": self.state.counters()}
                # metrics.jsonl as of this checkpoint: a resume drops the rows logged after it.
                metrics = run_dir / "metrics.jsonl"
                info["metrics_bytes"] = metrics.stat().st_size if metrics.exists() else 0
                if self.world > 1:
                    info["world_size"] = self.world
                save_training_state(tmp, tensors, info)
        except OSError:  # e.g. a full disk: free what was written, keep the last checkpoint
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        replace_directory(tmp, run_dir / name)

    def _log(self, row: dict[str, Any]) -> None:
        if self.is_main:
            with open(self._need_run_dir() / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")

    def _log_train(self, bar: Any, task: Any) -> None:
        """A train row from ``state.window`` (summed over ranks), then a fresh window."""
        state = self.state
        window = state.window
        if self.group is not None:  # each rank holds its share of the batch means
            window.loss, window.recon, window.kl, window.prop = self.group.sum(
                [window.loss, window.recon, window.kl, window.prop]
            )
        elapsed = max(time.monotonic() - window.started, 1e-9)
        n = max(window.n, 1)
        row = {
            "split": "train",
            "step": state.step,
            "epoch": state.epoch + 1,
            "loss": window.loss / n,
            "recon": window.recon / n,
            "kl": window.kl / n,
            "beta": state.beta,
            "lr": state.lr,
            "molecules_per_s": window.molecules / elapsed,
        }
        if self.model_cfg.properties:
            row["property_mse"] = window.prop / n
        self._log(row)
        bar.update(
            task,
            completed=state.step,
            info=(
                f"loss {row['loss']:.2f} recon {row['recon']:.2f} kl {row['kl']:.2f} "
                f"beta {state.beta:.3f} {row['molecules_per_s']:.0f} mol/s"
            ),
        )
        state.window = LogWindow()

    def _result(self, stopped: str) -> TrainResult:
        run_dir, state = self._need_run_dir(), self.state
        return TrainResult(
            run_dir,
            run_dir / "model",
            state.step,
            state.epoch,
            state.best_val_loss,
            stopped,
            state.wall_seconds,
        )

    def fit(self, progress: bool = False, stop_after_steps: int | None = None) -> TrainResult:
        """Train to the end of the run's epochs (or early stopping, the time limit, a signal).

        ``stop_after_steps`` ends right after that global step's checkpoint, as if killed.
        """
        run_dir = self._need_run_dir()
        cfg, state, is_main = self.cfg, self.state, self.is_main
        if is_main:
            saved = json.loads((run_dir / "run.json").read_text())
            if saved.get("parallel") != _parallel_info(cfg, self.group):
                saved["parallel"] = _parallel_info(cfg, self.group)
                atomic_write_bytes(run_dir / "run.json", json.dumps(saved, indent=1).encode())
        deadline = self.started + cfg.max_minutes * 60 if cfg.max_minutes else None
        stopped = "epochs"
        self.model.train()
        with _StopFlag() as stop_flag, _progress(progress and is_main) as bar:
            task = bar.add_task("training", total=self.total_steps, completed=state.step, info="")
            state.window = LogWindow()
            while state.epoch < cfg.epochs:
                batches = self.sampler.batches(state.epoch)
                # Defined even when a resume lands after an epoch's last batch, before validation.
                state.beta = self.beta_at(state.step)
                while state.batch_in_epoch < len(batches):
                    self.step(batches[state.batch_in_epoch])
                    state.batch_in_epoch += 1
                    if (
                        state.step % cfg.log_every_steps == 0
                        or state.batch_in_epoch == len(batches)
                    ):
                        self._log_train(bar, task)
                    requested = stop_flag.requested
                    out_of_time = deadline is not None and time.monotonic() >= deadline
                    if self.group is not None:  # every rank stops at the same step
                        requested, out_of_time = self.group.any([requested, out_of_time])
                    if requested or out_of_time:
                        stopped = "signal" if requested else "max_minutes"
                        break
                    if state.step % cfg.checkpoint_every_steps == 0:
                        self.save_checkpoint()
                    if stop_after_steps is not None and state.step >= stop_after_steps:
                        self.save_checkpoint()
                        return self._result("stop_after_steps")
                epoch_done = state.batch_in_epoch >= len(batches)
                # Rank 0 validates; the others only need the loss, for the same decisions.
                val = self.validate()
                val.update(
                    split="validation",
                    step=state.step,
                    epoch=state.epoch + 1,
                    epoch_complete=epoch_done,
                )
                self._log(val)
                is_best = val["val_loss"] < state.best_val_loss
                if is_best:
                    state.best_val_loss = val["val_loss"]
                    state.bad_epochs = 0
                elif epoch_done:
                    state.bad_epochs += 1
                if epoch_done:
                    state.epoch += 1
                    state.batch_in_epoch = 0
                if is_main:
                    summary = (
                        f"epoch {val['epoch']}: val loss {val['val_loss']:.3f} recon "
                        f"{val['val_recon']:.3f} kl {val['val_kl']:.2f} token acc "
                        f"{val['val_token_accuracy']:.3f} exact "
                        f"{val.get('val_exact_reconstruction', 0):.3f} "
                        f"active units {val['active_units']}/{self.model_cfg.latent_dim}"
                    )
                    if progress:
                        bar.console.print(summary, highlight=False, soft_wrap=True)
                    else:
                        self.status(summary)
                self.save_checkpoint(is_best=is_best, val=val)
                if cfg.metrics_format == "csv" and is_main:
                    write_metrics_csv(run_dir / "metrics.jsonl", run_dir / "metrics.csv")
                if not epoch_done:
                    break
                if state.bad_epochs >= cfg.early_stopping_patience:
                    stopped = "early_stopping"
                    break
        if is_main and not (run_dir / "model").exists():
            raise MolvaeError(f"{run_dir}: training stopped before any validation; nothing saved")
        return self._result(stopped)


def _fit(
    run: Run,
    request: _Request,
    started: float,
    device: torch.device,
    group: distributed.ProcessGroup | None,
) -> TrainResult:
    """Train ``run`` as ``request`` asks; with ``group`` this process is one rank of a DDP job."""
    trainer = Trainer(
        run,
        device,
        run_dir=request.run_dir,
        resume=request.resume,
        group=group,
        status=request.status or print,
        started=started,
    )
    return trainer.fit(request.progress, request.stop_after_steps)


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not enabled,
        transient=False,
    )
