"""Settings: the dataclasses behind the commands, and strict loading of dicts and TOML files.

Each command's dataclass is the single source of its defaults: the ``molvae`` option, its
``--config`` key and the Python function all read it (``SampleSettings`` for ``sample``,
``GenerateSettings`` for ``generate``, ``OptimizeSettings`` for ``optimize``; ``DecodeSettings``
says how latent points become strings). This module imports neither torch nor RDKit, so the
command line starts fast. An unknown key or a value of the wrong type is a one-line error,
never silently ignored.
"""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molvae.errors import MolvaeError, file_not_found

if TYPE_CHECKING:
    from molvae.chem.conditions import Condition


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check a TOML value against a dataclass field annotation (strings, with postponed eval)."""
    tp = (
        eval(
            annotation,
            {"list": list, "str": str, "int": int, "float": float, "bool": bool, "None": None},
        )
        if isinstance(annotation, str)
        else annotation
    )
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except MolvaeError as exc:
                errors.append(str(exc))
        raise MolvaeError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise MolvaeError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, where) for v in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise MolvaeError(f"{where}: expected true/false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MolvaeError(f"{where}: expected an integer, got {value!r}")
    if tp in (str, float) and not isinstance(value, tp):
        raise MolvaeError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build a config dataclass from a dict, rejecting unknown keys and mistyped values."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise MolvaeError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(known)}"
        )
    kwargs = {k: _coerce(v, known[k].type, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML file; a missing file or a syntax error is a one-line error."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise file_not_found(path) from None
    except tomllib.TOMLDecodeError as exc:
        raise MolvaeError(f"{path}: invalid TOML: {exc}") from None


# How a beam search picks its string: the likeliest under p(x|z), or the one whose own encoding
# lies nearest to z (see MolVAE.decode).
BEAM_PICKS = ("likeliest", "nearest")


STRATEGIES = ("greedy", "sample", "beam")


@dataclass(frozen=True)
class DecodeSettings:
    """How latent points become strings.

    ``strategy`` is ``greedy`` (the likeliest token at each step), ``sample`` (tokens drawn at
    ``temperature``, optionally among the ``top_k`` likeliest) or ``beam``: a beam search of
    ``beam_width`` strings, of which one in canonical form is kept (else the likeliest valid
    string, else the likeliest). ``beam_pick`` says which: ``likeliest`` (highest log p(x|z)) or
    ``nearest``, the one whose own encoding (mu) lies nearest to z, which costs an encoder pass
    per candidate. Beam decoding of the encoder's mu reconstructs more molecules exactly than
    greedy decoding, and ``nearest`` more than ``likeliest`` (``benchmarks/beam_width.py``), at
    about ``beam_width`` times the cost.
    """

    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int | None = None
    beam_width: int = 8
    beam_pick: str = "likeliest"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise MolvaeError(f"strategy must be greedy, sample or beam, got {self.strategy!r}")
        if self.strategy == "beam" and self.beam_width < 1:
            raise MolvaeError(f"the beam width must be at least 1, got {self.beam_width}")
        if self.beam_pick not in BEAM_PICKS:
            raise MolvaeError(f"beam_pick must be likeliest or nearest, got {self.beam_pick!r}")

    @property
    def picks_nearest(self) -> bool:
        """Whether each beam keeps the string whose encoding lies nearest to z."""
        return self.strategy == "beam" and self.beam_pick == "nearest"


@dataclass(frozen=True)
class SampleSettings:
    """Settings of ``molvae sample`` and :meth:`MolVAE.sample`: the command's defaults.

    By default draws are kept only in their molecule's canonical form and, with a model that has
    one, by the realism critic (see :meth:`MolVAE.sample`).
    """

    temperature: float = 1.0
    strategy: str = "sample"
    top_k: int | None = None
    unique: bool = False
    batch_size: int = 1024
    max_rounds: int = 50
    canonical_only: bool = True
    critic: bool = True
    # A conditional request draws z near the reference molecules closest to it, when the model
    # ships them (molvae.generation.reference); this many of them.
    reference: bool = True
    reference_pool: int = 500


@dataclass
class SearchSettings:
    """Knobs of the latent search; the defaults suit a 64-d latent space trained with beta<=1."""

    steps: int = 60
    step_size: float = 0.05
    decode_every: int = 4
    starts: int = 256
    prior_weight: float = 0.05
    max_norm: float | None = None  # default: sqrt(latent_dim) + 3 (the prior's typical shell)
    trust_radius: float | None = None
    uncertainty_penalty: float = 0.0
    extra_samples: int = 0  # stochastic decodes per point, besides the greedy one
    refine_steps: int = 0  # latent refinement of encoded starts (molvae.refine_latents)
    refine_prior_weight: float = 0.1  # weight of log p(z) in that refinement
    jitter: float = 0.3  # std of the Gaussian noise added to a seed's z for its other starts
    rescue_rounds: int = 0  # optimize: searches again, wider, around seeds that found nothing
    # the rescue's starts are spent in this many waves; a seed stops at its first wave with a
    # success (1: all at once, slower, a slightly higher best improvement for rescued seeds)
    rescue_waves: int = 4
    seed_sites: bool = True  # optimize: also score candidates in the seed's charges/nitro groups
    # optimize: rounds of edits of each seed's best molecules after the search
    # (:func:`molvae.optimize.seeds.polish_seeds`): polish_children new molecules per seed and
    # round from its polish_parents best, a polish_ga_share of them graph-GA children and the
    # rest splices written by the decoder around the parents' encodings (polish_radius).
    polish_rounds: int = 0
    polish_children: int = 60
    polish_parents: int = 20
    polish_ga_share: float = 0.5
    polish_radius: float = 0.4
    # generate: keep only molecules decoded at least once as the canonical form of their string
    # (the training language); the others are counted as "not in canonical form".
    canonical_only: bool = False
    elite: int = 0  # generate: rounds after the first restart from the best molecules so far
    temperature: float = 0.7
    max_rounds: int = 8
    min_rounds: int = 1
    seed: int | None = 0
    # constraints
    similar_to: str | None = None
    min_similarity: float = 0.0
    max_heavy_atoms: int | None = None
    conditions: list[Condition] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    novel: bool = False


@dataclass
class GenerateSettings(SearchSettings):
    """Settings of ``molvae generate`` and :func:`generate`: the command's defaults.

    Encodings of ``--start-from``/``--similar-to`` molecules are refined for 30 steps so that
    the search starts from points that decode back to them, and only molecules the model wrote
    in their canonical form are kept (as in its training data).
    """

    refine_steps: int = 30
    canonical_only: bool = True


@dataclass
class OptimizeSettings(SearchSettings):
    """Settings of ``molvae optimize`` and :func:`optimize_seeds`: the command's defaults.

    Many short trajectories with small steps near each seed's encoding (32 starts x 8 steps of
    0.02, a snapshot every 2 steps, decoded greedily and 3 times stochastically): a similarity
    bound rewards molecules close to the seed, and on the first 40 seeds of the constrained
    benchmark this found a candidate at similarity >= 0.4 for more seeds than 16 starts x 40
    steps of 0.05 (``benchmarks/optimization.py``). Each seed's encoding is first refined for
    30 steps (:func:`molvae.refine_latents`), so the search starts from a point that decodes
    back to the seed. Seeds that find nothing get two rescue rounds (:func:`rescue_seeds`).
    A charged or nitro-bearing seed also gets its candidates in its own form
    (:func:`chem.seed_sites`). Then 6 polish rounds edit each seed's best molecules
    (:func:`molvae.optimize.seeds.polish_seeds`), half decoder-written splices, half graph-GA
    children.
    """

    steps: int = 8
    starts: int = 32
    step_size: float = 0.02
    decode_every: int = 2
    extra_samples: int = 3
    refine_steps: int = 30
    rescue_rounds: int = 2
    polish_rounds: int = 6
    min_similarity: float = 0.4  # the similarity bound each seed's best molecule must meet


@dataclass(frozen=True)
class FaithfulSettings:
    """How ``reconstruct``, ``interpolate`` and ``neighbors`` encode their molecules: the
    defaults of the commands and of the Python functions alike.

    Each molecule's mu is decoded greedily; where it does not give the molecule back, it is
    refined (:func:`molvae.refine_latents`) ``refine_every`` steps at a time, up to
    ``refine_steps`` steps (0: mu as it is), so that these commands start from encodings that
    decode back to their input. On 1,000 MOSES test molecules that gives 0.989 of them back
    (0.639 from mu, 0.884 with a beam of 8 and the nearest pick), and on common drugs 17 of 32
    (1 from mu); 100 steps gave 0.991 and the same 17, in more time
    (``benchmarks/faithful_encoding.py``). A molecule the model
    cannot write as given (stereo marks, charges, salts for a MOSES vocabulary) is encoded in
    its flattened form, or, with ``strict``, rejected.
    """

    refine_steps: int = 30
    refine_every: int = 10
    strict: bool = False


@dataclass
class DesignSettings:
    """Settings of ``molvae design`` and :func:`molvae.design`: the command's defaults.

    Each round the VAE proposes ``pool_size`` latent points: Gaussian trust regions around the
    encodings of the ``centers`` best-scored molecules (a share ``prior_share`` drawn from the
    prior instead, a share ``crossover_share`` blended between two of those encodings, and a
    share ``splice_share`` decoded, by sampling, from one good molecule's region after the
    first tokens of another's string, with parents among the ``splice_parents`` best), the
    others decoded greedily; a share ``ga_share`` of the pool are graph-GA children of those
    best molecules instead. The valid molecules (in canonical form only, with
    ``canonical_only``, for the VAE's) that pass the constraints and were never scored form
    the candidate pool. A Gaussian process with a
    Tanimoto kernel on Morgan fingerprints, fitted to at most ``max_train`` scored molecules,
    picks ``batch_size`` of them by Thompson sampling (``surrogate="none"``: a random pick). The
    trust-region radius (the standard deviation of the perturbation, per latent dimension)
    starts at ``radius``, doubles after ``success_rounds`` rounds in a row that improved the best
    score and halves after ``failure_rounds`` that did not, within ``[min_radius, max_radius]``.
    With ``tune_every``, a copy of the VAE is fine-tuned on the best molecules so far every
    ``tune_every`` rounds, so that its decoder writes more molecules like them.
    """

    batch_size: int = 100
    # the method
    pool_size: int = 1500
    centers: int = 10
    radius: float = 0.4
    min_radius: float = 0.1
    max_radius: float = 1.6
    success_rounds: int = 3
    failure_rounds: int = 5
    prior_share: float = 0.1
    crossover_share: float = 0.0
    # A share of each round's pool made by graph-GA edits (Jensen's Graph GA as the ``mol-ga``
    # package implements it: crossovers of two molecular graphs, mutations) of the
    # ``splice_parents`` best molecules, parents drawn by score quantile as mol-ga draws them.
    # Not VAE proposals (source ``graph-ga``); the GP chooses among them and the VAE's alike.
    ga_share: float = 0.2
    # A share of each round's points decoded as splices: the decoder is given the first tokens
    # of one good molecule and writes the rest from the latent point of another (or the same),
    # sampling at ``splice_temperature``: a crossover or a mutation that the decoder writes.
    splice_share: float = 0.5
    splice_temperature: float = 1.0
    # Parents of splices: the ``splice_parents`` best molecules (and the trust regions'
    # centres), so that splicing recombines a wider population than the centres alone.
    splice_parents: int = 100
    # A share of splices whose prefix is taken from a random writing of the parent (RDKit's
    # random SMILES) instead of its canonical string, so that any part of it can be kept.
    splice_random_writing: float = 0.0
    # Keep only proposals the model wrote as the canonical form of their molecule (as in its
    # training data); False keeps every valid molecule it wrote.
    canonical_only: bool = False
    # 0: every point is decoded greedily. > 0: decoded by sampling at this temperature, which
    # keeps a small trust region productive: around the 10 best molecules of a PMO run, at radius
    # 0.1, greedy decoding of 1,350 points gives 1 molecule not scored yet, sampling at 0.7 gives
    # 85 (benchmarks/results/design_pool.md).
    decode_temperature: float = 0.0
    # Fine-tuning the VAE on the best molecules scored so far (LOLBO, Maus et al. 2022): every
    # ``tune_every`` rounds (0: never), ``tune_steps`` Adam steps of ``tune_batch`` molecules
    # drawn from the ``tune_top`` best, at learning rate ``tune_lr``, on the VAE loss with KL
    # weight ``tune_beta``. The decoder then writes more molecules like the best ones, which
    # splices and prior draws both use.
    tune_every: int = 10
    tune_top: int = 500
    tune_steps: int = 50
    tune_batch: int = 64
    tune_lr: float = 3e-4
    tune_beta: float = 0.5
    surrogate: str = "gp"
    max_train: int = 1000
    # constraints on proposed molecules (as in ``generate``)
    similar_to: str | None = None
    min_similarity: float = 0.0
    max_heavy_atoms: int | None = None
    conditions: list[Condition] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise MolvaeError(f"the batch size must be at least 1, got {self.batch_size}")
        if self.pool_size < 1:
            raise MolvaeError(f"the pool size must be at least 1, got {self.pool_size}")
        if self.surrogate not in DESIGN_SURROGATES:
            raise MolvaeError(f"surrogate must be gp or none, got {self.surrogate!r}")
        if not 0.0 <= self.prior_share <= 1.0:
            raise MolvaeError(f"prior_share must be within [0, 1], got {self.prior_share}")
        if self.tune_every < 0 or self.tune_top < 1 or self.tune_steps < 0 or self.tune_batch < 1:
            raise MolvaeError(
                "tune_every and tune_steps must be at least 0, tune_top and tune_batch at least 1"
            )
        if not 0.0 < self.tune_lr <= 1.0 or self.tune_beta < 0:
            raise MolvaeError("tune_lr must be within (0, 1] and tune_beta at least 0")
        if not 0.0 <= self.decode_temperature <= 5.0:
            raise MolvaeError(
                f"decode_temperature must be within [0, 5], got {self.decode_temperature}"
            )
        if not 0.0 <= self.splice_share <= 1.0:
            raise MolvaeError(f"splice_share must be within [0, 1], got {self.splice_share}")
        if not 0.0 <= self.splice_random_writing <= 1.0:
            raise MolvaeError(
                f"splice_random_writing must be within [0, 1], got {self.splice_random_writing}"
            )
        if self.splice_parents < 1:
            raise MolvaeError(f"splice_parents must be at least 1, got {self.splice_parents}")
        if not 0.0 < self.splice_temperature <= 5.0:
            raise MolvaeError(
                f"splice_temperature must be within (0, 5], got {self.splice_temperature}"
            )
        if not 0.0 <= self.ga_share <= 1.0:
            raise MolvaeError(f"ga_share must be within [0, 1], got {self.ga_share}")
        shares = self.prior_share + self.crossover_share + self.splice_share + self.ga_share
        if shares > 1.0 + 1e-9:
            raise MolvaeError(
                "prior_share, crossover_share, splice_share and ga_share must add up to at most 1"
            )
        if not 0.0 <= self.crossover_share <= 1.0:
            raise MolvaeError(
                f"crossover_share must be within [0, 1], got {self.crossover_share}"
            )
        if not 0 < self.min_radius <= self.radius <= self.max_radius:
            raise MolvaeError("the radii must satisfy 0 < min_radius <= radius <= max_radius")


DESIGN_SURROGATES = ("gp", "none")
