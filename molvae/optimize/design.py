"""Design under an oracle budget (:func:`design`): latent-space optimization with the oracle in
the loop.

The oracle is any function of a list of canonical SMILES returning one score per molecule (a
docking script, a QSAR model, an assay); each call is costly, so the budget counts calls as
PMO does (Gao et al., NeurIPS 2022): one call per unique canonical SMILES, repeats answered
from the record for free, invalid molecules never sent, the budget never exceeded.

Each round (one oracle batch):

1. the VAE proposes latent points: Gaussian trust regions around the encodings of the best
   molecules scored so far, a share of blend crossovers between two of those encodings, a
   share of splices and a share of prior draws (all prior draws before any score);
2. the points are decoded greedily; a splice is decoded by sampling from one good molecule's
   region after the decoder was made to write the first tokens of another's string (or the
   same one's), so the decoder itself writes the crossover or mutation; a share of the pool
   (``ga_share``) are graph-GA children of the best molecules (``mol-ga``), which reach edits
   the decoder does not write; valid molecules (only those written in canonical form, with
   ``canonical_only``), passing the constraints and never scored, form the candidate pool;
3. a Tanimoto-kernel GP on Morgan fingerprints, fitted to the scores so far, picks the batch by
   Thompson sampling (:mod:`molvae.optimize.surrogate`);
4. the oracle scores the batch; the calls are appended to the record and flushed.

The trust-region radius grows after rounds that improve the best score and shrinks after
rounds that do not (TuRBO, as LOLBO uses it in a VAE's latent space). What a round depends on
(radius, centres, random streams, the fine-tuned weights) is derived from the record and the
seed, so a run resumed from its record continues as the uninterrupted run would have; a round
without any new candidate leaves its number out of the record, which is how a resumed run
knows of it.
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.optimize.moves import (
    SOURCE_GA,
    SOURCE_SPLICE,
    Latents,
    graph_ga_children,
    splice_plan,
)
from molvae.optimize.oracles import Oracle, OracleError, call_oracle
from molvae.optimize.scoring import score_molecules
from molvae.optimize.search import _check_constraints
from molvae.optimize.surrogate import TanimotoGP, fingerprints
from molvae.settings import DecodeSettings, DesignSettings

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE

CALL_COLUMNS = ["call", "smiles", "score", "status", "reason", "round", "source", "parents"]
# Columns a record must have (one without ``parents`` still resumes, and is continued without it).
REQUIRED_COLUMNS = CALL_COLUMNS[:-1]
# Where a scored molecule came from (column ``source`` of the calls).
SOURCE_START = "start"
SOURCE_PRIOR = "vae-prior"
SOURCE_TRUST = "vae-trust-region"
SOURCE_CROSS = "vae-crossover"
# SOURCE_SPLICE ("vae-splice") and SOURCE_GA ("graph-ga", graph-GA edits of the best molecules,
# ``ga_share``: proposals that are not the VAE's) come from molvae.optimize.moves.
VAE_SOURCES = (SOURCE_PRIOR, SOURCE_TRUST, SOURCE_CROSS, SOURCE_SPLICE)
# Blend crossover (BLX-alpha, Eshelman and Schaffer 1993) of two parents' latent points: the
# child lies on the line through them, up to this fraction of their distance beyond either one.
BLEND_ALPHA = 0.25
# Molecules in a row (batches of one) for which the oracle raised before the run stops.
MAX_RAISED_IN_A_ROW = 5
# Candidates the GP's joint posterior is drawn over, at most (its covariance is pool x pool).
MAX_THOMPSON_POOL = 3000
# Rounds in a row without a single new candidate before the run stops early.
MAX_EMPTY_ROUNDS = 5


@dataclass
class DesignProgress:
    """State after each oracle batch, for progress displays."""

    calls: int
    budget: int
    round: int
    best: float
    top10: float
    failed: int


@dataclass
class DesignResult:
    """The calls made (``calls``, one row per oracle call, in order) and how the run went.

    ``calls`` columns: ``call`` (1-based), ``smiles`` (canonical), ``score`` (NaN when the
    call failed), ``status`` (``ok``/``failed``), ``reason`` (why it failed), ``round`` and
    ``source`` (``start``, ``graph-ga`` or one of :data:`VAE_SOURCES`) and ``parents`` (a
    graph-GA child's parent molecules, canonical SMILES separated by a space; "" for the
    others: with ``source`` it says which of the GA's children the VAE's molecules made).
    ``prior`` holds the molecules with known scores given to the run (never sent to the
    oracle); ``skipped`` counts input molecules that could not be used, by reason;
    ``rejected`` counts proposed molecules the constraints turned down, by reason; ``resumed``
    is the number of calls read from the record; ``stopped`` says why a run ended before its
    budget ("" when it spent it).
    """

    calls: pd.DataFrame
    budget: int
    prior: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["smiles", "score"]))
    skipped: dict[str, int] = field(default_factory=dict)
    resumed: int = 0
    stopped: str = ""
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def n_calls(self) -> int:
        """Oracle calls made (failed ones included): what the budget counts."""
        return len(self.calls)

    def best(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` best-scored calls, best first (the earlier call first on a tie)."""
        ok = self.calls[self.calls["status"] == "ok"]
        return ok.sort_values(["score", "call"], ascending=[False, True]).head(k).reset_index(
            drop=True
        )

    def top_mean(self, k: int = 10) -> float:
        """Mean score of the ``k`` best calls (NaN before any successful call)."""
        best = self.best(k)
        return float(best["score"].mean()) if len(best) else math.nan


# ------------------------------------------------------------------------------ the record
def recorded_calls(path: str | os.PathLike) -> int:
    """Number of complete call lines in a record file (0 when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return 0
    with path.open("rb") as handle:
        lines = handle.read().count(b"\n")
    return max(lines - 1, 0)


class CallRecord:
    """The calls of a run, in memory and (with a path) in a CSV file appended batch by batch."""

    def __init__(self, path: str | os.PathLike | None, resume: bool):
        self.path = Path(path) if path is not None else None
        self.rows: list[dict] = []
        self.columns = CALL_COLUMNS  # those of the file: an older record has no ``parents``
        if self.path is None:
            return
        if recorded_calls(self.path) > 0:
            if not resume:
                raise MolvaeError(
                    f"{self.path}: a record of calls already exists; pass --resume "
                    "(resume=True) to continue it, or choose another file"
                )
            self.rows, self.columns = self._read(self.path)
        else:  # no file, or a header without calls: start a new record
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerow(CALL_COLUMNS)

    @staticmethod
    def _read(path: Path) -> tuple[list[dict], list[str]]:
        raw = path.read_bytes()
        if not raw.endswith(b"\n"):  # a run killed while writing a line: that line is lost
            cut = raw.rfind(b"\n") + 1
            with path.open("r+b") as handle:
                handle.truncate(cut)
        try:
            frame = pd.read_csv(path, dtype={"smiles": str, "reason": str, "source": str,
                                             "status": str, "parents": str},
                                keep_default_na=False,
                                na_values={"score": ["", "nan", "NaN"]})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise MolvaeError(f"{path}: cannot read the record of calls: {exc}") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise MolvaeError(
                f"{path}: not a record of calls from molvae design (missing column(s) "
                f"{', '.join(missing)})"
            )
        if len(frame) and frame["call"].tolist() != list(range(1, len(frame) + 1)):
            raise MolvaeError(f"{path}: the calls are not numbered 1, 2, ... in order")
        frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
        columns = CALL_COLUMNS if "parents" in frame.columns else REQUIRED_COLUMNS
        if "parents" not in frame.columns:
            frame["parents"] = ""
        return frame[CALL_COLUMNS].to_dict("records"), columns

    def append(self, rows: list[dict]) -> None:
        """Add a batch of calls; with a file, written and flushed to disk before returning."""
        self.rows.extend(rows)
        if self.path is None:
            return
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in rows:
                score = row["score"]
                line = [row["call"], row["smiles"], "" if math.isnan(score) else
                        repr(float(score)), row["status"], row["reason"], row["round"],
                        row["source"], row["parents"]]
                writer.writerow(line[: len(self.columns)])
            handle.flush()
            os.fsync(handle.fileno())

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=CALL_COLUMNS)
        return frame.astype({"call": int, "score": float, "round": int})


# ------------------------------------------------------------------------------ inputs
def _canonical_list(smiles: Sequence[str], skipped: dict[str, int], what: str) -> list[str]:
    out = []
    for s in smiles:
        can = chem.canonical_smiles(s) if isinstance(s, str) and s.strip() else None
        if can is None:
            key = f"{what}: invalid SMILES"
            skipped[key] = skipped.get(key, 0) + 1
        else:
            out.append(can)
    return list(dict.fromkeys(out))


def _prior_scores(scores: pd.DataFrame | None, skipped: dict[str, int]) -> dict[str, float]:
    """Canonical SMILES -> score of the molecules known for free (the last row wins a repeat)."""
    if scores is None:
        return {}
    missing = [c for c in ("smiles", "score") if c not in scores.columns]
    if missing:
        raise MolvaeError(
            f"scores: missing column(s) {', '.join(missing)} (columns: "
            f"{', '.join(map(str, scores.columns))})"
        )
    out: dict[str, float] = {}
    values = pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype=np.float64)
    for s, value in zip(scores["smiles"].tolist(), values, strict=True):
        can = chem.canonical_smiles(s) if isinstance(s, str) and s.strip() else None
        if can is None:
            skipped["scores: invalid SMILES"] = skipped.get("scores: invalid SMILES", 0) + 1
        elif not np.isfinite(value):
            skipped["scores: no numeric score"] = skipped.get("scores: no numeric score", 0) + 1
        else:
            out[can] = float(value)
    return out


def _load_vae(model) -> MolVAE:
    from molvae.generation.model import MolVAE

    if isinstance(model, MolVAE):
        return model
    return MolVAE.load(model if model is not None else "default")


# ------------------------------------------------------------------------------ the search state
@dataclass
class _Region:
    """The trust-region radius and its success/failure streaks, replayed from the record."""

    radius: float
    successes: int = 0
    failures: int = 0
    best: float = -math.inf

    def update(self, batch_best: float, s: DesignSettings) -> None:
        if batch_best > self.best + 1e-3 * max(1.0, abs(self.best)):
            self.successes += 1
            self.failures = 0
        elif math.isfinite(self.best):
            self.failures += 1
            self.successes = 0
        if np.isfinite(batch_best):
            self.best = max(self.best, batch_best)
        if self.successes >= s.success_rounds:
            self.radius = min(self.radius * 2, s.max_radius)
            self.successes = 0
        elif self.failures >= s.failure_rounds:
            self.radius /= 2
            self.failures = 0
            if self.radius < s.min_radius:  # collapsed: restart wide (TuRBO's restart)
                self.radius = s.radius


def proposal_decoding(temperature: float) -> DecodeSettings:
    """How a round's latent points are decoded (``DesignSettings.decode_temperature``): greedily
    at 0, else by sampling at ``temperature``."""
    if temperature > 0:
        return DecodeSettings(strategy="sample", temperature=temperature)
    return DecodeSettings(strategy="greedy")


def _start_rounds(calls: list[dict]) -> set[int]:
    """Rounds of the record that scored ``--start-from`` molecules (no search, no fine-tune)."""
    return {int(row["round"]) for row in calls if row["source"] == SOURCE_START}


def _replay_region(calls: list[dict], prior: dict[str, float], s: DesignSettings) -> _Region:
    """The trust region as the run left it, from its record: each search round updates it with
    its best score (``-inf`` if every call failed), and each round number missing from the
    record was a round without a new candidate, which doubled the radius."""
    region = _Region(s.radius)
    if prior:
        region.best = max(prior.values())
    by_round: dict[int, list[float]] = {}
    for row in calls:
        round_ = int(row["round"])
        if row["source"] == SOURCE_START:
            if row["status"] == "ok":
                region.best = max(region.best, float(row["score"]))
            continue
        scores = by_round.setdefault(round_, [])
        if row["status"] == "ok":
            scores.append(float(row["score"]))
    first = max(_start_rounds(calls), default=0) + 1
    for round_ in range(first, max(by_round, default=0) + 1):
        if round_ in by_round:
            region.update(max(by_round[round_], default=-math.inf), s)
        else:
            region.radius = min(region.radius * 2, s.max_radius)
    return region


def _round_seed(seed: int, round_: int) -> int:
    return int(np.random.SeedSequence([seed, round_]).generate_state(1)[0])


def _constraint_view(s: DesignSettings):
    """The constraint fields of ``s`` as :func:`_check_constraints` reads them."""
    return types.SimpleNamespace(
        similar_to=s.similar_to, min_similarity=s.min_similarity,
        max_heavy_atoms=s.max_heavy_atoms, conditions=s.conditions, filters=s.filters,
        novel=False,
    )


def _has_constraints(s: DesignSettings) -> bool:
    return bool(
        (s.similar_to and s.min_similarity > 0) or s.max_heavy_atoms is not None
        or s.conditions or s.filters
    )


def _apply_constraints(
    smiles: list[str], s: DesignSettings, rejected: dict[str, int]
) -> np.ndarray:
    """Boolean mask of the molecules that pass the constraints; rejections counted by reason."""
    if not smiles or not _has_constraints(s):
        return np.ones(len(smiles), dtype=bool)
    props = list(dict.fromkeys(c.name for c in s.conditions))
    refs = [s.similar_to] * len(smiles) if s.similar_to else None
    scored = score_molecules(smiles, props, refs, s.filters)
    reasons = _check_constraints(scored, _constraint_view(s), None)
    kinds = reasons[reasons != ""].str.split(":").str[0]
    for reason, count in kinds.value_counts().items():
        rejected[reason] = rejected.get(reason, 0) + int(count)
    return (reasons == "").to_numpy()


# ------------------------------------------------------------------------------ fine-tuning
def _tunable_copy(vae: MolVAE) -> MolVAE:
    """A copy of ``vae`` whose weights design may change; the caller's model stays as it is.

    The copy has no realism critic: a critic is tied to the weights it was fitted on.
    """
    import copy

    from molvae.generation.model import MolVAE

    tuned = MolVAE(copy.deepcopy(vae.model), vae.bundle, vae.device, None)
    tuned.critic = None
    return tuned


def _fine_tune(vae: MolVAE, data: dict[str, float], s: DesignSettings, seed: int) -> int:
    """Fine-tune ``vae`` in place on the ``tune_top`` best molecules of ``data`` (LOLBO's
    update of the VAE on the best points found, without the surrogate: ours is not in the
    latent space). Returns the number of molecules trained on (0: nothing was done).

    Deterministic given ``data``, ``s`` and ``seed``, so a resumed run repeats it exactly.
    """
    from molvae.data.encoding import collate
    from molvae.training.loss import vae_loss

    top = sorted(data, key=lambda m: (-data[m], m))[: s.tune_top]
    if len(top) < 2 or s.tune_steps == 0:
        return 0
    dataset = vae.prepare(top, flatten=False).dataset
    if len(dataset) < 2:
        return 0
    net = vae.model
    gen = torch.Generator().manual_seed(seed % 2**63)
    torch.manual_seed(seed % 2**63)  # the reparameterization noise of the forward pass
    opt = torch.optim.Adam(net.parameters(), lr=s.tune_lr)
    net.train()
    try:
        for _ in range(s.tune_steps):
            index = torch.randint(len(dataset), (min(s.tune_batch, len(dataset)),),
                                  generator=gen).numpy()
            batch = collate(dataset, index).to(vae.device)
            with vae.autocast():  # bf16 where the CPU has it, as training does
                out = net(batch.tokens, batch.lengths, batch.decoder_inputs)
                loss = vae_loss(out, batch.targets, None, s.tune_beta)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
    finally:
        net.eval()
    return len(dataset)


def _tune_rounds(round_: int, s: DesignSettings) -> bool:
    return s.tune_every > 0 and round_ > 1 and (round_ - 1) % s.tune_every == 0


# ------------------------------------------------------------------------------ proposals
def _propose(
    vae: MolVAE,
    s: DesignSettings,
    data: dict[str, float],
    known: set[str],
    latents: Latents,
    region: _Region,
    anchors: list[str],
    seed: int,
    rejected: dict[str, int],
) -> pd.DataFrame:
    """Candidates of one round: ``smiles`` (canonical, unscored, passing), ``source`` and
    ``parents`` (a graph-GA child's; "" for the others)."""
    gen = torch.Generator().manual_seed(seed % 2**63)
    d = vae.latent_dim
    ranked = sorted(data, key=lambda m: data[m], reverse=True)
    centre_smiles = list(dict.fromkeys(anchors + ranked[: s.centers]))
    centres = latents.get(centre_smiles) if data or anchors else {}
    n_prior = s.pool_size if not centres else int(round(s.pool_size * s.prior_share))
    n_cross = int(round(s.pool_size * s.crossover_share)) if len(centres) >= 2 else 0
    n_cross = min(n_cross, s.pool_size - n_prior)
    n_splice = int(round(s.pool_size * s.splice_share)) if centres else 0
    n_splice = min(n_splice, s.pool_size - n_prior - n_cross)
    n_ga = int(round(s.pool_size * s.ga_share)) if len(data) >= 2 else 0
    n_ga = min(n_ga, s.pool_size - n_prior - n_cross - n_splice)
    n_trust = s.pool_size - n_prior - n_cross - n_splice - n_ga
    parts, sources = [], []
    if n_cross > 0:
        parts.append(_blend_children(np.stack(list(centres.values())), n_cross, region, gen))
        sources += [SOURCE_CROSS] * n_cross
    if n_trust > 0:
        mus = np.stack(list(centres.values()))
        # More points around the better centres: weights 1/sqrt(rank).
        weights = 1.0 / np.sqrt(np.arange(1, len(mus) + 1))
        counts = np.floor(weights / weights.sum() * n_trust).astype(int)
        counts[0] += n_trust - counts.sum()
        base = torch.from_numpy(np.repeat(mus, counts, axis=0)).float()
        # Radii spread log-uniformly over [r/2, 2r]: some points stay near, some reach out.
        scale = region.radius * torch.exp(
            (torch.rand(len(base), 1, generator=gen) * 2 - 1) * math.log(2.0)
        )
        parts.append(base + scale * torch.randn(len(base), d, generator=gen))
        sources += [SOURCE_TRUST] * len(base)
    if n_prior > 0:
        parts.append(torch.randn(n_prior, d, generator=gen))
        sources += [SOURCE_PRIOR] * n_prior
    frames = []
    if parts:
        decoding = proposal_decoding(s.decode_temperature)
        frames.append(vae.decode(torch.cat(parts), decoding, check_form=True,
                                 seed=seed % 2**63))
    if n_splice > 0:
        parents = centres
        if s.splice_parents > len(centres):
            parents = latents.get(list(dict.fromkeys(centre_smiles + ranked[: s.splice_parents])))
        spliced = _splices(vae, parents, latents, n_splice, region, s, gen)
        if spliced is not None:
            frames.append(spliced)
            sources += [SOURCE_SPLICE] * len(spliced)
    if n_ga > 0:
        children = graph_ga_children(data, ranked[: s.splice_parents], n_ga, gen)
        frames.append(children)
        sources += [SOURCE_GA] * len(children)
    if not frames:
        return pd.DataFrame({"smiles": [], "source": [], "parents": []})
    decoded = pd.concat(frames, ignore_index=True)
    keep = decoded["valid"].to_numpy(copy=True)
    if s.canonical_only:
        keep &= decoded["canonical_form"].to_numpy()
    parents = decoded["parents"].fillna("") if "parents" in decoded else ""
    frame = pd.DataFrame(
        {"smiles": decoded["canonical"], "source": sources, "parents": parents}
    )[keep]
    frame = frame.drop_duplicates("smiles")
    frame = frame[~frame["smiles"].isin(known)].reset_index(drop=True)
    mask = _apply_constraints(frame["smiles"].tolist(), s, rejected)
    return frame[mask].reset_index(drop=True)


def _blend_children(
    mus: np.ndarray, n: int, region: _Region, gen: torch.Generator
) -> torch.Tensor:
    """``n`` latent points between pairs of centres (``mus``, best first): blend crossover.

    Parents are drawn with weights 1/sqrt(rank), two distinct ones per child; the child is
    ``a + t (b - a)`` with ``t`` uniform in ``[-BLEND_ALPHA, 1 + BLEND_ALPHA]``, plus Gaussian
    noise of a quarter of the trust-region radius. Where two good molecules differ in what the
    objective rewards (the two targets of a median task), a point between their encodings can
    combine them, which a region around either one alone does not reach.
    """
    base = torch.from_numpy(mus).float()
    weights = torch.from_numpy(1.0 / np.sqrt(np.arange(1, len(mus) + 1))).float()
    pairs = torch.stack(
        [torch.multinomial(weights, 2, replacement=False, generator=gen) for _ in range(n)]
    )
    a, b = base[pairs[:, 0]], base[pairs[:, 1]]
    t = torch.rand(n, 1, generator=gen) * (1 + 2 * BLEND_ALPHA) - BLEND_ALPHA
    noise = 0.25 * region.radius * torch.randn(n, base.shape[1], generator=gen)
    return a + t * (b - a) + noise


def _splices(
    vae: MolVAE,
    centres: dict[str, np.ndarray],
    latents: Latents,
    n: int,
    region: _Region,
    s: DesignSettings,
    gen: torch.Generator,
) -> pd.DataFrame | None:
    """``n`` splices of the centres (best first), decoded: :meth:`MolVAE.decode`'s frame.

    Parents are drawn from the centres and each child's point from parent B's trust region
    (:func:`~molvae.optimize.moves.splice_plan`); decoded by sampling at
    ``splice_temperature``. None when no centre can be written.
    """
    ids = latents.tokens(list(centres))
    names = [m for m in centres if m in ids]
    if not names:
        return None
    mus = torch.from_numpy(np.stack([centres[m] for m in names])).float()
    prefixes, keep, z, seed = splice_plan(
        vae, names, ids, mus, n, region.radius, s.splice_random_writing, gen
    )
    return vae.decode(
        z, DecodeSettings(strategy="sample", temperature=s.splice_temperature),
        check_form=True, seed=seed, prefix=vae.token_prefixes(prefixes, keep),
    )


def _choose(
    pool: pd.DataFrame, k: int, data: dict[str, float], s: DesignSettings, rng: np.random.Generator
) -> list[int]:
    """Rows of ``pool`` to score: Thompson sampling from the GP, or a random pick."""
    if k >= len(pool):
        return list(range(len(pool)))
    if s.surrogate == "none" or len(data) < 2:
        return sorted(rng.choice(len(pool), size=k, replace=False).tolist())
    smiles = list(data)
    y = np.asarray([data[m] for m in smiles])
    if len(smiles) > s.max_train:
        # The best half, and a random half of the others: the GP must know the top well and
        # still see the landscape.
        order = np.argsort(-y, kind="stable")
        top = order[: s.max_train // 2]
        rest = rng.choice(order[s.max_train // 2 :], size=s.max_train - len(top), replace=False)
        chosen = np.concatenate([top, rest])
        smiles, y = [smiles[i] for i in chosen], y[chosen]
    gp = TanimotoGP(fingerprints(smiles), y)
    rows = np.arange(len(pool))
    if len(pool) > MAX_THOMPSON_POOL:  # joint draws cost O(pool^3): a random subset
        rows = np.sort(rng.choice(len(pool), size=MAX_THOMPSON_POOL, replace=False))
    picks = gp.thompson_batch(fingerprints(pool["smiles"].iloc[rows].tolist()), k, rng)
    return [int(rows[i]) for i in picks]


# ------------------------------------------------------------------------------ the run
def design(
    oracle: Oracle,
    budget: int = 1000,
    *,
    model: str | os.PathLike | MolVAE | None = None,
    settings: DesignSettings | None = None,
    seed: int = 0,
    record: str | os.PathLike | None = None,
    resume: bool = False,
    start_from: Sequence[str] | None = None,
    scores: pd.DataFrame | None = None,
    on_progress: Callable[[DesignProgress], None] | None = None,
) -> DesignResult:
    """Spend at most ``budget`` oracle calls looking for the molecules ``oracle`` scores highest.

    ``oracle`` takes a list of canonical SMILES and returns one score per molecule (higher is
    better; None or NaN: that molecule failed). ``model`` is a bundled model name, a model or
    run directory, or a loaded :class:`MolVAE` (None: the bundled default). ``record`` is the
    CSV file of calls, appended and flushed after every batch; with ``resume`` a run continues
    from it without calling the oracle again for anything in it. ``start_from`` molecules are
    scored first (they count against the budget, as in PMO); ``scores``, a DataFrame with
    columns ``smiles`` and ``score``, is prior knowledge known for free (never sent to the
    oracle, not counted). Proposed molecules must pass the constraints of ``settings``; the
    ``start_from`` molecules are scored as given.

    A molecule the oracle fails for (None, NaN, a non-number, or an exception when it is sent
    alone) is recorded as ``failed`` with the reason and counts as a call; the run goes on. A
    batch that fails as a whole, or an answer of the wrong length, raises
    :class:`~molvae.optimize.oracles.OracleError`; the calls made so far stay in the record.
    """
    s = settings or DesignSettings()
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 1:
        raise MolvaeError(f"the budget must be a positive number of calls, got {budget!r}")
    budget = int(budget)
    if s.similar_to is not None and chem.parse_smiles(s.similar_to) is None:
        raise MolvaeError(f"--similar-to: {s.similar_to!r} is not a valid SMILES")
    skipped: dict[str, int] = {}
    prior = _prior_scores(scores, skipped)
    starts = _canonical_list(start_from or [], skipped, "start-from")
    log = CallRecord(record, resume)
    resumed = len(log.rows)
    if resumed > budget:
        raise MolvaeError(
            f"{log.path}: the record holds {resumed} calls, more than the budget of {budget}"
        )
    vae = _load_vae(model)
    scored: dict[str, float] = {}  # every molecule called: score (NaN when failed)
    for row in log.rows:
        scored[row["smiles"]] = float(row["score"])
    rejected: dict[str, int] = {}
    raised_in_a_row = 0
    stopped = ""

    def progress(round_: int) -> None:
        if on_progress is None:
            return
        ok = sorted((v for v in scored.values() if not math.isnan(v)), reverse=True)
        on_progress(DesignProgress(
            calls=len(log.rows), budget=budget, round=round_,
            best=ok[0] if ok else math.nan,
            top10=float(np.mean(ok[:10])) if ok else math.nan,
            failed=sum(1 for r in log.rows if r["status"] != "ok"),
        ))

    def score_batch(
        smiles: list[str], sources: list[str], round_: int, parents: list[str] | None = None
    ) -> None:
        nonlocal raised_in_a_row
        values, reasons = call_oracle(oracle, smiles)
        parents = parents or [""] * len(smiles)
        rows = []
        for m, value, reason, source, mother in zip(
            smiles, values, reasons, sources, parents, strict=True
        ):
            rows.append({
                "call": len(log.rows) + len(rows) + 1, "smiles": m, "score": value,
                "status": "failed" if reason else "ok", "reason": reason, "round": round_,
                "source": source, "parents": mother,
            })
            scored[m] = value
            raised_in_a_row = raised_in_a_row + 1 if reason.startswith("oracle raised") else 0
        log.append(rows)
        progress(round_)
        if raised_in_a_row >= MAX_RAISED_IN_A_ROW:
            raise OracleError(
                f"the oracle raised for {raised_in_a_row} molecules in a row; last: "
                f"{reasons[-1].removeprefix('oracle raised ')}"
            )

    round_ = max((int(r["round"]) for r in log.rows), default=0)
    progress(round_)
    # The start molecules first (those already called or known are free).
    todo = [m for m in starts if m not in scored and m not in prior]
    while todo and len(log.rows) < budget:
        round_ += 1
        batch = todo[: min(s.batch_size, budget - len(log.rows))]
        todo = todo[len(batch):]
        score_batch(batch, [SOURCE_START] * len(batch), round_)

    if s.tune_every > 0:
        vae = _tunable_copy(vae)
        # A resumed run repeats the fine-tunes of the rounds it already made, each on the
        # molecules scored before that round, so the model is the one the run had.
        done = max((int(r["round"]) for r in log.rows), default=0)
        start_rounds = _start_rounds(log.rows)
        for past in range(2, done + 1):
            if _tune_rounds(past, s) and past not in start_rounds:
                before = {r["smiles"]: float(r["score"]) for r in log.rows
                          if int(r["round"]) < past and r["status"] == "ok"}
                before = {**prior, **before}
                _fine_tune(vae, before, s, _round_seed(seed, past))
    latents = Latents(vae)
    region = _replay_region(log.rows, prior, s)
    anchors = [s.similar_to] if s.similar_to else []
    anchors = [chem.canonical_smiles(a) for a in anchors]
    empty_rounds = 0
    while len(log.rows) < budget:
        round_ += 1
        round_seed = _round_seed(seed, round_)
        rng = np.random.default_rng(round_seed)
        data = {m: v for m, v in prior.items()}
        data.update({m: v for m, v in scored.items() if not math.isnan(v)})
        known = set(scored) | set(prior)
        if _tune_rounds(round_, s) and _fine_tune(vae, data, s, round_seed):
            latents = Latents(vae)  # the encoder changed: encode the centres again
        pool = _propose(vae, s, data, known, latents, region, anchors, round_seed, rejected)
        if pool.empty:
            # No trace in the record but a missing round number, which a resumed run replays
            # (_replay_region).
            empty_rounds += 1
            if empty_rounds >= MAX_EMPTY_ROUNDS:
                stopped = (
                    f"no new molecule passed the constraints in {MAX_EMPTY_ROUNDS} rounds in a row"
                )
                break
            region.radius = min(region.radius * 2, s.max_radius)
            continue
        empty_rounds = 0
        k = min(s.batch_size, budget - len(log.rows))
        picks = _choose(pool, k, data, s, rng)
        batch = pool.iloc[picks]
        score_batch(batch["smiles"].tolist(), batch["source"].tolist(), round_,
                    batch["parents"].tolist())
        new = [scored[m] for m in batch["smiles"]]
        finite = [v for v in new if not math.isnan(v)]
        region.update(max(finite) if finite else -math.inf, s)
    prior_frame = pd.DataFrame({"smiles": list(prior), "score": list(prior.values())})
    return DesignResult(log.frame(), budget, prior_frame, skipped, resumed, stopped, rejected)
