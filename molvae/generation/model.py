"""``MolVAE``: the Python face of a trained model (load, encode, decode, sample).

Every method takes and returns plain Python / pandas / numpy / torch objects, so the CLI and a
notebook use exactly the same code. Decoded strings are turned into canonical SMILES by RDKit in
worker processes while the next batch decodes on the device, so RDKit does not stall the GRU.
"""

from __future__ import annotations

import multiprocessing as mp
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.data.encoding import (
    EncodedDataset,
    collate,
    compute_property_matrix,
    concat_datasets,
    encode_molecules,
)
from molvae.errors import MolvaeError
from molvae.generation.decoding import (
    Postprocessor,
    batch_rows,
    check_string,
    decode_in_workers,
    pick_beam,
)
from molvae.generation.reference import (
    REFERENCE_FILE,
    ReferenceSet,
    load_reference,
    pool_sampler,
)
from molvae.models.critic import Critic, load_critic
from molvae.models.store import ModelBundle, load_model_dir, resolve_model_path
from molvae.models.vae import GRUVAE
from molvae.runtime import autocast_dtype, default_jobs, resolve_device
from molvae.settings import DecodeSettings, SampleSettings
from molvae.tokens import Vocabulary, get_tokenizer

SAMPLE = SampleSettings()


class FewerSamplesWarning(UserWarning):
    """:meth:`MolVAE.sample` returned fewer rows than asked (see its docstring for when)."""


class ConditionRangeWarning(UserWarning):
    """A condition was asked for outside the range of the model's training data."""


@dataclass(frozen=True)
class _Within:
    """Keeps molecules whose RDKit value of each property is within ``tolerance`` of
    ``requested`` (both keyed by property name)."""

    requested: dict[str, float]
    tolerance: dict[str, float]

    def __call__(self, canonical: pd.Series, ok: np.ndarray) -> np.ndarray:
        """Rows of ``ok`` (valid molecules, ``canonical`` SMILES) within the tolerance."""
        rows = np.flatnonzero(ok)
        names = list(self.tolerance)
        values = compute_property_matrix(canonical.iloc[rows].tolist(), names)
        hit = np.ones(len(rows), dtype=bool)
        for j, name in enumerate(names):
            # NaN (RDKit could not compute it) compares False: not kept.
            hit &= np.abs(values[:, j] - self.requested[name]) <= self.tolerance[name]
        keep = np.zeros(len(ok), dtype=bool)
        keep[rows[hit]] = True
        return keep


@dataclass
class EncodedInput:
    """Molecules prepared for the encoder, plus the rows that could not be encoded.

    ``dataset.smiles`` holds what is encoded, ``canonical`` each input's own canonical SMILES
    (``None`` where it does not parse): the two differ where a molecule was encoded in a
    reduced form, its largest fragment or its flattened form (:meth:`MolVAE.prepare`).
    """

    dataset: EncodedDataset
    rejects: pd.DataFrame  # row (0-based position in the input), smiles, reason
    canonical: list[str | None] = field(default_factory=list)

    @property
    def encoded_as(self) -> list[str | None]:
        """Per input row, the SMILES actually encoded (``None`` for a rejected row)."""
        out: list[str | None] = [None] * len(self.canonical)
        for row, smiles in zip(self.dataset.rows.tolist(), self.dataset.smiles, strict=True):
            out[row] = smiles
        return out

    @property
    def flattened(self) -> np.ndarray:
        """Input rows (0-based) encoded in a reduced form (largest fragment or flattened form)
        rather than as given."""
        rows = self.dataset.rows
        changed = [
            self.canonical[r] != smiles
            for r, smiles in zip(rows.tolist(), self.dataset.smiles, strict=True)
        ]
        return np.asarray(rows[np.asarray(changed, dtype=bool)], dtype=np.int64)


def _latents(
    draw: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A ``latent_sampler``'s result as (z, per-row condition input or None)."""
    return draw if isinstance(draw, tuple) else (draw, None)


class MolVAE:
    """A trained GRU VAE with its vocabulary, tokenizer and property predictor."""

    def __init__(
        self, model: GRUVAE, bundle: ModelBundle, device: torch.device, path: Path | None = None
    ):
        self.model = model
        self.bundle = bundle
        self.device = device
        self.path = path
        self.tokenizer = get_tokenizer(bundle.representation)
        self.amp = autocast_dtype("auto", device)
        # The realism critic fitted to these weights (molvae.models.critic), if the directory has
        # one.
        self.critic: Critic | None = load_critic(path) if path is not None else None
        # Training molecules a conditional request draws z near (molvae.generation.reference).
        config = model.config
        self.reference: ReferenceSet | None = (
            load_reference(path, config.conditions, config.vocab_size, config.max_length)
            if path is not None and config.conditions
            else None
        )

    def __repr__(self) -> str:
        heads = ", ".join(self.properties) or "none"
        return (
            f"MolVAE({str(self.path)!r}, {self.bundle.representation}, "
            f"latent_dim={self.latent_dim}, properties=[{heads}], "
            f"critic={'yes' if self.critic is not None else 'no'}, device={self.device.type})"
        )

    @classmethod
    def load(cls, model: str | Path | None = "default", device: str = "auto") -> MolVAE:
        """Load a model directory, a run directory or a bundled model by name."""
        path = resolve_model_path(model)
        dev = resolve_device(device)
        net, bundle = load_model_dir(path, dev)
        return cls(net, bundle, dev, path)

    # ------------------------------------------------------------------ properties
    @property
    def latent_dim(self) -> int:
        return self.model.config.latent_dim

    @property
    def properties(self) -> list[str]:
        """Names of the properties the latent predictor was trained on."""
        return list(self.model.config.properties)

    @property
    def conditions(self) -> list[str]:
        """Properties a conditional model samples to order (empty for an unconditional one)."""
        return list(self.model.config.conditions)

    def condition_ranges(self) -> dict[str, tuple[float, float]]:
        """Each condition's (min, max) in the model's training data."""
        c = self.model.config
        return {
            name: (lo, hi)
            for name, lo, hi in zip(c.conditions, c.condition_min, c.condition_max, strict=True)
        }

    def _condition_name(self, name: str) -> str:
        """The model's name of a condition (``logp`` and ``clogp`` are ``logP``), or an error
        listing the conditions it has."""
        have = self.conditions
        matched = chem.match_property_name(name, have)
        if matched is not None:
            return matched
        if not have:
            raise MolvaeError(
                f"condition {name!r}: this model has no conditions (it was trained without "
                "--condition; conditions it has: none)"
            )
        raise MolvaeError(
            f"condition {name!r}: not a condition of this model; conditions it has: "
            f"{', '.join(have)}"
        )

    def condition_vector(
        self, conditions: Mapping[str, float] | None
    ) -> torch.Tensor | None:
        """The model's condition input [value * mask, mask] for ``{name: value}`` (property
        units, e.g. ``{"logP": 2.5, "MW": 400}``); conditions not named are left open.

        None or an empty mapping gives None: no condition (an unconditional sample). A name
        the model does not have is an error listing those it has; a value outside the
        training range is allowed with a :class:`ConditionRangeWarning` naming the range.
        """
        if not conditions:
            return None
        c = self.model.config
        values = torch.full((len(c.conditions),), float("nan"))
        for name, value in conditions.items():
            key = self._condition_name(str(name))
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise MolvaeError(f"condition {key}: value must be a number, got {value!r}")
            value = float(value)
            if not np.isfinite(value):
                raise MolvaeError(f"condition {key}: value must be finite, got {value}")
            i = c.conditions.index(key)
            if not torch.isnan(values[i]):
                raise MolvaeError(f"condition {key} is given more than once")
            lo, hi = c.condition_min[i], c.condition_max[i]
            if not lo <= value <= hi:
                warnings.warn(
                    f"condition {key}={value:g} is outside the training range "
                    f"{lo:.4g} to {hi:.4g}: expect the molecules to miss it",
                    ConditionRangeWarning,
                    stacklevel=2,
                )
            values[i] = (value - c.condition_mean[i]) / c.condition_std[i]
        return GRUVAE.condition_input(values.unsqueeze(0))[0]

    def autocast(self):
        """The mixed-precision context this model runs its forward passes in (none on fp32)."""
        return torch.autocast(
            self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None
        )

    # ------------------------------------------------------------------ decoding
    def _ids_to_texts(self, ids: torch.Tensor) -> list[str]:
        vocab = self.bundle.vocabulary
        return [self.tokenizer.detokenize(vocab.decode(row)) for row in ids.cpu().numpy()]

    def _generate_batch(
        self,
        z: torch.Tensor,
        start: int,
        batch_size: int,
        seed: int,
        settings: DecodeSettings,
        condition: torch.Tensor | None = None,
        prefix: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids of ``z[start:start + batch_size]``, sampled with its own seeded stream."""
        condition = batch_rows(condition, start, batch_size)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        zb = z[start : start + batch_size].to(self.device, torch.float32)
        with self.autocast():
            return self.model.generate(
                zb,
                strategy=settings.strategy,
                temperature=settings.temperature,
                top_k=settings.top_k,
                generator=gen,
                condition=condition,
                prefix=None if prefix is None else prefix[start : start + batch_size],
            )

    def _generate_texts(
        self,
        z: torch.Tensor,
        start: int,
        batch_size: int,
        seed: int,
        settings: DecodeSettings,
        condition: torch.Tensor | None = None,
        prefix: torch.Tensor | None = None,
    ) -> list[str] | list[list[str]]:
        """Decoded strings of one batch; for ``beam``, each row's beam (best first)."""
        if settings.strategy != "beam":
            ids = self._generate_batch(z, start, batch_size, seed, settings, condition, prefix)
            return self._ids_to_texts(ids)
        zb = z[start : start + batch_size].to(self.device, torch.float32)
        with self.autocast():
            ids, _ = self.model.beam_search(
                zb, beam_width=settings.beam_width,
                condition=batch_rows(condition, start, batch_size),
            )
        return [self._ids_to_texts(row) for row in ids]

    def decode(
        self,
        z: torch.Tensor | np.ndarray,
        settings: DecodeSettings | None = None,
        *,
        batch_size: int = 1024,
        seed: int | None = None,
        n_jobs: int | None = None,
        on_progress: Callable[[int], None] | None = None,
        check_form: bool = False,
        conditions: Mapping[str, float] | None = None,
        prefix: torch.Tensor | None = None,
        condition_rows: torch.Tensor | None = None,
    ) -> pd.DataFrame:
        """Decode latent points: columns ``smiles`` (as decoded), ``canonical``, ``valid``.

        ``settings`` (:class:`DecodeSettings`, greedy by default) says how: greedy, sampled or
        beam decoding, and which string of a beam is kept.

        ``conditions`` (a conditional model only, :meth:`condition_vector`) decodes every point
        under the same requested property values; without, nothing is requested.
        ``condition_rows`` instead gives each point its own condition input, one row per
        point as :meth:`condition_vector` builds it (:meth:`reference_sampler` draws them).

        ``prefix`` (token ids, one row per point, ``<pad>`` where the decoder is free: see
        :meth:`token_prefixes`) forces each string's first tokens; greedy or sampled decoding
        only.

        With ``check_form`` also ``canonical_form``: whether the decoded string is exactly the
        training writing of its molecule (:func:`in_canonical_form`; about 70% more RDKit and
        SELFIES work per string, so it is off unless asked for).

        Runs in batches of at most ``batch_size`` (smaller when that gives fewer than 8
        batches, to keep every worker busy); RDKit checks a few batches behind the decoder, never
        the whole input at once. ``on_progress(n)`` is called as each batch's ``n`` rows finish.
        """
        if not torch.is_tensor(z):
            z = torch.from_numpy(np.array(z, dtype=np.float32))
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise MolvaeError(
                f"latent points must have shape (n, {self.latent_dim}), got {tuple(z.shape)}"
            )
        # At least 8 batches when each can keep 256 rows: with fewer, the last ones leave the
        # worker processes idle (5,120 points decode about 15% faster as 8 batches of 640 than
        # as 5 of 1,024 on 2 cores). It depends on len(z) only, never on the number of workers.
        batch_size = min(batch_size, max(256, -(-len(z) // 8)))
        # One random stream per batch, derived from ``seed``: the result depends only on the
        # seed and the batch size, not on how many processes decode.
        starts = list(range(0, len(z), batch_size))
        base = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        seeds = np.random.SeedSequence(base).generate_state(len(starts), dtype=np.uint64)
        seeds = [int(x) & 0x7FFF_FFFF_FFFF_FFFF for x in seeds]
        settings = settings or DecodeSettings()
        condition = self.condition_vector(conditions)
        if condition_rows is not None:
            width = self.model.config.condition_dim
            if not width or tuple(condition_rows.shape) != (len(z), width):
                raise MolvaeError(
                    "condition_rows needs a conditional model and one condition input per "
                    f"latent point ({len(z)}), got shape {tuple(condition_rows.shape)}"
                )
            condition = condition_rows.float()
        if prefix is not None:
            if settings.strategy == "beam":
                raise MolvaeError("a forced prefix works with greedy or sampled decoding, not beam")
            if prefix.ndim != 2 or prefix.shape[0] != len(z):
                raise MolvaeError(
                    f"the prefix must have one row per latent point ({len(z)}), "
                    f"got shape {tuple(prefix.shape)}"
                )
        rows: list[tuple] = []
        jobs = default_jobs() if n_jobs is None else n_jobs
        if (
            self.device.type == "cpu"
            and jobs > 1
            and len(starts) > 1
            and "fork" in mp.get_all_start_methods()
        ):
            # On the CPU, whole batches go to forked workers that each decode on one thread and
            # check their own molecules: 1.6x the molecules/s of one process decoding on every
            # core while others run RDKit (measured by benchmarks/throughput.py).
            for part in decode_in_workers(
                self, z, batch_size, settings, check_form, starts, seeds, min(jobs, len(starts)),
                condition, prefix,
            ):
                rows.extend(part)
                if on_progress:
                    on_progress(len(part))
        else:
            with Postprocessor(
                self.bundle.representation, jobs if len(z) >= 2000 else 1, check_form
            ) as post:
                pending: deque[tuple[Callable[[], list[tuple]], int]] = deque()

                def collect() -> None:
                    get, size = pending.popleft()
                    rows.extend(get())
                    if on_progress:
                        on_progress(size)

                for start, batch_seed in zip(starts, seeds, strict=True):
                    texts = self._generate_texts(
                        z, start, batch_size, batch_seed, settings, condition, prefix
                    )
                    if settings.picks_nearest:
                        part = self._pick_nearest(
                            z[start : start + batch_size], texts, check_form,
                            batch_rows(condition, start, batch_size),
                        )
                        pending.append(((lambda part=part: part), len(texts)))
                    else:
                        pending.append((post.submit(texts), len(texts)))
                    while len(pending) > max(2, post.n_jobs):  # bounded: the rest waits
                        collect()
                while pending:
                    collect()
        columns = ["smiles", "canonical"] + (["canonical_form"] if check_form else [])
        frame = pd.DataFrame(rows, columns=columns)
        frame.insert(2, "valid", frame["canonical"].notna())
        if check_form:
            frame["canonical_form"] = frame["canonical_form"].astype(bool)
        return frame

    def _pick_nearest(
        self,
        z: torch.Tensor,
        beams: Sequence[Sequence[str]],
        check_form: bool,
        condition: torch.Tensor | None = None,
    ) -> list[tuple]:
        """Per row, of its beam's strings in canonical form the one whose mu is nearest its z.

        A beam often holds the molecule that was encoded, ranked below another string the
        decoder finds likelier from the same z; the encoder tells them apart, since it maps
        the right one back near z (cycle consistency). Uses the encoder and decoder only, no
        per-molecule optimization, so reconstruction this way is still amortized. Rows
        without a string in canonical form keep :func:`pick_beam`'s choice.
        """
        tokenizer = self.tokenizer
        checked = [[check_string(text, tokenizer, True) for text in beam] for beam in beams]
        candidates = sorted({row[1] for beam in checked for row in beam if row[2]})
        position: dict[str, int] = {}
        mu = np.zeros((0, self.latent_dim), dtype=np.float32)
        if candidates:
            # Already canonical; one process, since this may run in a decode worker.
            dataset = self._tokenize(candidates, range(len(candidates)), n_jobs=1)[0]
            mu = self.encode_dataset(dataset, condition=condition)[0].numpy()
            position = {candidates[r]: i for i, r in enumerate(dataset.rows)}
        points = z.detach().float().cpu().numpy()
        rows: list[tuple] = []
        for point, beam in zip(points, checked, strict=True):
            options = [row for row in beam if row[2] and row[1] in position]
            if options:
                at = [position[row[1]] for row in options]
                row = options[int(np.argmin(np.linalg.norm(mu[at] - point, axis=1)))]
            else:
                row = pick_beam(beam)
            rows.append(row if check_form else row[:2])
        return rows

    def sample_prior(
        self, n: int, seed: int | None = None, conditions: Mapping[str, float] | None = None
    ) -> torch.Tensor:
        """``n`` points from the prior: N(0, I), or, for a model with a learned conditional
        prior and ``conditions`` asked for, p(z|c) (the same noise, shifted and scaled)."""
        gen = torch.Generator()
        if seed is not None:
            gen.manual_seed(seed)
        else:
            gen.seed()
        eps = torch.randn(n, self.latent_dim, generator=gen)
        if not conditions or not self.has_conditional_prior:
            return eps
        with torch.no_grad():
            mu, logvar = self.model.prior(self.condition_vector(conditions), 1)
        return mu.cpu() + eps * torch.exp(0.5 * logvar.cpu())

    @property
    def has_conditional_prior(self) -> bool:
        """Whether conditional samples come from a learned prior p(z|c) (else N(0, I))."""
        return self.model.prior_net is not None

    def sample(
        self,
        n: int,
        temperature: float = SAMPLE.temperature,
        strategy: str = SAMPLE.strategy,
        top_k: int | None = SAMPLE.top_k,
        unique: bool = SAMPLE.unique,
        seed: int | None = None,
        batch_size: int = SAMPLE.batch_size,
        max_rounds: int = SAMPLE.max_rounds,
        on_progress: Callable[[int], None] | None = None,
        canonical_only: bool = SAMPLE.canonical_only,
        latent_sampler: Callable[[int, int | None], torch.Tensor] | None = None,
        critic: bool = SAMPLE.critic,
        conditions: Mapping[str, float] | None = None,
        tolerance: Mapping[str, float] | None = None,
        reference: bool = SAMPLE.reference,
        reference_pool: int = SAMPLE.reference_pool,
    ) -> pd.DataFrame:
        """Decode prior samples: ``n`` rows of ``smiles``, ``canonical``, ``valid``.

        With ``canonical_only`` (the default) this is rejection sampling: a draw (z and its
        string together) is kept only when the string is the training writing of its molecule
        (:func:`in_canonical_form`), and draws go on until ``n`` are kept. That samples the
        model restricted to the strings its training data can contain. On the bundled model
        about 42% of draws are kept, and FCD/Test falls from 3.4 to 1.2
        (``benchmarks/canonical_form.py``). ``frame.attrs["drawn"]`` is the number of draws
        used (up to the last one kept: ``n / drawn`` is the acceptance rate) and
        ``frame.attrs["decoded"]`` the number decoded, a little more because each round is
        sized ahead. Without it, every draw is returned as decoded (the MOSES protocol for
        models whose strings are always valid).

        With ``unique``, only the first occurrence of each valid molecule is kept, again until
        ``n``. Either way, after ``max_rounds`` rounds, or once ``50 * n`` strings (at least
        10,000) were drawn, the rows found so far are returned: fewer than ``n``, and the caller
        warns (a model that keeps under 2% of its draws has not learnt its training language).

        With ``critic`` (the default) and a model that has one (:mod:`molvae.models.critic`), a
        canonical-form draw is further kept with the critic's acceptance probability
        (discriminator rejection sampling): on the bundled model that takes FCD/Test from 0.92
        to 0.38 (``benchmarks/critic.py``). ``frame.attrs["critic"]`` says whether it was
        applied; it is only used together with ``canonical_only``.

        ``latent_sampler(count, seed)`` replaces the prior (:meth:`sample_prior`) as the
        source of z (for example a density fitted to the training posteriors); it must return
        a ``(count, latent_dim)`` tensor, or that and one condition input per row to decode
        each point under (``decode``'s ``condition_rows``).

        ``conditions`` (a conditional model, see :attr:`conditions`) asks for property values,
        e.g. ``{"logP": 2.5, "MW": 400}``; properties not named are left open. z then comes
        from the model's learned prior p(z|c) if it has one. The frame then
        also has, per condition, ``requested_<name>`` and, for an RDKit property, ``<name>``:
        RDKit's value of the molecule (NaN where invalid), so the miss is visible.

        ``reference`` (the default), with a model that ships reference molecules
        (:mod:`molvae.generation.reference`) and no ``latent_sampler``: z for a request comes
        instead from the posteriors of the reference molecules nearest to it
        (``reference_pool`` of them; :meth:`reference_sampler`). On the
        ``zinc`` model that lowers the mean error of every requested property
        (``benchmarks/conditional_prior.py``). ``frame.attrs["latent_source"]`` says which
        source was used: ``"reference"``, ``"prior"`` or ``"given"`` (a ``latent_sampler``).

        ``tolerance`` (with ``conditions``), e.g. ``{"logP": 0.3}``, keeps only valid molecules
        whose RDKit value is within that distance of the request, drawing until ``n`` are
        kept: the model proposes, RDKit verifies. The model alone misses a request by a mean
        of 0.6 logP units on the bundled ``zinc`` model (``benchmarks/conditional.py``), so
        this is how to get molecules a chemist can use as asked. ``frame.attrs["tolerance"]``
        holds it; ``n / frame.attrs["drawn"]`` is then the share of draws that were kept.
        Draws then go on up to ``500 * n`` (at least 100,000) before fewer rows are returned.
        """
        if n <= 0:
            raise MolvaeError("the number of samples must be positive")
        if tolerance and not conditions:
            raise MolvaeError("a tolerance needs the conditions it applies to")
        if conditions:
            self.condition_vector(conditions)  # unknown names fail before any decoding
            within = self._within_tolerance(conditions, tolerance) if tolerance else None
            source = "given" if latent_sampler is not None else "prior"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConditionRangeWarning)  # warned just above
                if latent_sampler is None and reference and self.reference is not None:
                    latent_sampler = self.reference_sampler(conditions, reference_pool)
                    source = "reference"
                frame = self._sample(
                    n, temperature, strategy, top_k, unique, seed, batch_size, max_rounds,
                    on_progress, canonical_only, latent_sampler, critic, conditions, within,
                )
            frame.attrs["tolerance"] = dict(within.tolerance) if within else {}
            frame.attrs["latent_source"] = source
            return self._with_requested(frame, conditions)
        frame = self._sample(
            n, temperature, strategy, top_k, unique, seed, batch_size, max_rounds, on_progress,
            canonical_only, latent_sampler, critic, None,
        )
        frame.attrs["latent_source"] = "given" if latent_sampler is not None else "prior"
        return frame

    def reference_sampler(
        self, conditions: Mapping[str, float], pool: int = SAMPLE.reference_pool
    ) -> Callable[[int, int | None], tuple[torch.Tensor, torch.Tensor]]:
        """A ``latent_sampler`` for :meth:`sample` that draws z for ``conditions`` from the
        ``pool`` reference molecules nearest to them (distance: the largest gap over the
        requested conditions, in training standard deviations): a random one's mean plus its
        posterior noise, returned with the condition input it is decoded under. Each molecule
        is encoded and decoded under its own values with the requested ones in their place,
        so the conditions not asked for are a real molecule's rather than left open. The model
        must ship reference molecules (:attr:`reference`)."""
        if self.reference is None:
            raise MolvaeError(
                f"{self.path}: this model has no reference molecules ({REFERENCE_FILE})"
            )
        if pool < 1:
            raise MolvaeError(f"the reference pool must hold at least one molecule, got {pool}")
        config = self.model.config
        named = {self._condition_name(str(k)): float(v) for k, v in conditions.items()}
        scale = dict(zip(config.conditions, config.condition_std, strict=True))
        rows = self.reference.nearest(named, scale, pool)
        # Each molecule is encoded and decoded under its own values with the requested ones
        # put in their place: the conditions not asked for are the molecule's, not left open.
        values = self.reference.values[rows].astype(np.float32)
        for name, value in named.items():
            values[:, config.conditions.index(name)] = value
        mean = np.asarray(config.condition_mean, dtype=np.float32)
        std = np.asarray(config.condition_std, dtype=np.float32)
        condition = GRUVAE.condition_input(torch.from_numpy((values - mean) / std))
        return pool_sampler(
            lambda dataset: self.encode_dataset(dataset, condition=condition),
            self.reference, rows, condition,
        )

    def _within_tolerance(
        self, conditions: Mapping[str, float], tolerance: Mapping[str, float]
    ) -> _Within:
        """The check that keeps molecules within ``tolerance`` of the requested values;
        every name must be a requested RDKit property and every tolerance a positive number."""
        requested = {self._condition_name(str(k)): float(v) for k, v in conditions.items()}
        checked: dict[str, float] = {}
        for name, value in tolerance.items():
            key = self._condition_name(str(name))
            if key not in requested:
                raise MolvaeError(
                    f"tolerance {key}: not among the requested conditions "
                    f"({', '.join(requested)}); a tolerance applies to a requested value"
                )
            if key not in chem.PROPERTIES:
                raise MolvaeError(
                    f"tolerance {key}: RDKit cannot compute this property, so it cannot be "
                    "checked; tolerances apply to RDKit properties"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MolvaeError(f"tolerance {key}: must be a number, got {value!r}")
            if not np.isfinite(value) or value <= 0:
                raise MolvaeError(f"tolerance {key}: must be a positive number, got {value:g}")
            if key in checked:
                raise MolvaeError(f"tolerance {key} is given more than once")
            checked[key] = float(value)
        return _Within({k: requested[k] for k in checked}, checked)

    def _with_requested(
        self, frame: pd.DataFrame, conditions: Mapping[str, float]
    ) -> pd.DataFrame:
        """``frame`` with each requested value and RDKit's value of its property."""
        attrs = dict(frame.attrs)
        named = {self._condition_name(str(k)): float(v) for k, v in conditions.items()}
        rdkit = [name for name in named if name in chem.PROPERTIES]
        smiles = frame["canonical"].where(frame["valid"], "").fillna("").tolist()
        computed = compute_property_matrix(smiles, rdkit)
        for j, name in enumerate(rdkit):
            frame[name] = np.where(frame["valid"].to_numpy(), computed[:, j], np.nan)
        for name, value in named.items():
            frame[f"requested_{name}"] = value
        frame.attrs.update(attrs)
        return frame

    def _sample(
        self,
        n: int,
        temperature: float,
        strategy: str,
        top_k: int | None,
        unique: bool,
        seed: int | None,
        batch_size: int,
        max_rounds: int,
        on_progress: Callable[[int], None] | None,
        canonical_only: bool,
        latent_sampler: Callable[[int, int | None], torch.Tensor] | None,
        critic: bool,
        conditions: Mapping[str, float] | None,
        within: _Within | None = None,
    ) -> pd.DataFrame:
        """:meth:`sample` once its conditions are checked."""
        def draw_prior(count: int, draw_seed: int | None) -> torch.Tensor:
            return self.sample_prior(count, draw_seed, conditions)

        draw = latent_sampler or draw_prior
        decoding = DecodeSettings(strategy=strategy, temperature=temperature, top_k=top_k)
        use_critic = bool(critic and canonical_only and self.critic is not None)
        if not unique and not canonical_only and within is None:
            z, rows = _latents(draw(n, seed))
            frame = self.decode(
                z, decoding, batch_size=batch_size, seed=seed, on_progress=on_progress,
                conditions=conditions, condition_rows=rows,
            )
            frame.attrs["drawn"] = frame.attrs["decoded"] = n
            frame.attrs["critic"] = False
            return frame
        seen: set[str] = set()
        frames = []
        found = drawn = decoded = last_n = 0
        # Molecules within a tolerance can be a small share of the draws (0.5% for
        # logP=2.5 +- 0.3 and MW=400 +- 15 on the zinc model), so the cap is wider then.
        draws_per_kept = 500 if within is not None else 50
        max_drawn = max(draws_per_kept * n, 100_000 if within is not None else 10_000)
        for round_ in range(max_rounds):
            want = n - found
            # Ask for more than needed: rejected and duplicate strings are discarded. The
            # acceptance rate so far (a prior guess before the first round) sizes the round,
            # taken as at least one in draws_per_kept, so the rounds do not run out first.
            rate = found / drawn if drawn else (0.35 if canonical_only else 0.9)
            rate = max(rate, 1 / draws_per_kept)
            batch_n = min(int(want / rate * 1.1) + 16, 200_000, max_drawn - decoded)
            if within is not None and decoded:
                # A small first round that kept nothing says little about a rare request:
                # grow at most 8-fold a round rather than jump to the floor's size.
                batch_n = min(batch_n, 8 * last_n)
            last_n = batch_n
            round_seed = None if seed is None else seed + round_
            z, rows = _latents(draw(batch_n, round_seed))
            part = self.decode(
                z,
                decoding,
                batch_size=batch_size,
                seed=round_seed,
                check_form=canonical_only,
                conditions=conditions,
                condition_rows=rows,
            )
            decoded += len(part)
            ok = part["valid"].to_numpy()
            if canonical_only:
                ok = ok & part.pop("canonical_form").to_numpy()
            if use_critic and ok.any():
                ok = ok & self._critic_accepts(part["canonical"], ok, round_seed)
            if within is not None and ok.any():
                ok = ok & within(part["canonical"], ok)
            keep = []
            for i in np.flatnonzero(ok):
                if found >= n:
                    break
                can = part["canonical"].iat[i]
                if unique:
                    if can in seen:
                        continue
                    seen.add(can)
                keep.append(i)
                found += 1
            frames.append(part.iloc[keep])
            # Draws are independent: the ones after the n-th kept were decoded but not needed.
            drawn += int(keep[-1]) + 1 if found >= n else len(part)
            if on_progress:
                on_progress(len(keep))
            if found >= n or decoded >= max_drawn:
                break
        frame = pd.concat(frames, ignore_index=True)
        frame.attrs["drawn"] = drawn
        frame.attrs["decoded"] = decoded
        frame.attrs["critic"] = use_critic
        if len(frame) < n:
            what = "unique molecules" if unique else "molecules in canonical form"
            if within is not None:
                what = f"{'unique ' if unique else ''}molecules within the tolerance"
            warnings.warn(
                f"only {len(frame):,} {what} found of {n:,} requested ({decoded:,} decoded)",
                FewerSamplesWarning,
                stacklevel=3,
            )
        return frame

    def _critic_accepts(self, canonical: pd.Series, ok: np.ndarray, seed: int | None) -> np.ndarray:
        """Rows of ``ok`` the critic keeps, each with its acceptance probability (seeded)."""
        rows = np.flatnonzero(ok)
        prob = self.critic.accept_probability(self.critic.logits(canonical.iloc[rows].tolist()))
        # A stream of its own, so the draws (z and strings) do not depend on the critic.
        rng = np.random.default_rng(None if seed is None else [seed, 0xC417])
        keep = np.zeros(len(ok), dtype=bool)
        keep[rows] = rng.random(len(rows)) < prob
        return keep

    # ------------------------------------------------------------------ encoding
    def _tokenize(
        self, canonical: Sequence[str], rows: Sequence[int], n_jobs: int | None
    ) -> tuple[EncodedDataset, pd.DataFrame]:
        """Encoder input (and rejects) for canonical SMILES with this model's vocabulary."""
        dataset, _, rejects = encode_molecules(
            canonical,
            rows,
            self.bundle.representation,
            self.bundle.vocabulary,
            self.model.config.max_length - 1,
            n_jobs=n_jobs,
        )
        return dataset, rejects

    @staticmethod
    def _ids_without_eos(dataset: EncodedDataset) -> list[np.ndarray]:
        """Each molecule's token ids in ``dataset``, without its ``<eos>``."""
        ends = dataset.offsets
        return [dataset.ids[ends[i] : ends[i + 1] - 1].astype(np.int64)
                for i in range(len(dataset))]

    def token_ids(self, smiles: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's token ids (without ``<eos>``) of each molecule it can write as given,
        keyed by canonical SMILES; molecules it cannot write are left out. With
        :meth:`token_prefixes` they give the forced prefixes of :meth:`decode`."""
        dataset = self.prepare(smiles, flatten=False).dataset
        return dict(zip(dataset.smiles, self._ids_without_eos(dataset), strict=True))

    def random_writing_ids(self, smiles: str, n: int, seed: int) -> list[np.ndarray]:
        """Token ids (without ``<eos>``) of up to ``n`` random writings of a molecule (RDKit's
        random SMILES, seeded), each starting at another atom; writings the model cannot
        write (a token outside its vocabulary, or too long) are left out. As prefixes
        (:meth:`token_prefixes`) they let the decoder keep any part of a molecule, not only
        the start of its canonical string."""
        from rdkit import Chem

        mol = chem.parse_smiles(smiles)
        if mol is None or n < 1:
            return []
        writings = list(Chem.MolToRandomSmilesVect(mol, n, randomSeed=seed % 2**31))
        # Tokenized as written (not canonicalized), as every encoder input is.
        dataset = self._tokenize(writings, range(len(writings)), n_jobs=1)[0]
        return self._ids_without_eos(dataset)

    @staticmethod
    def token_prefixes(ids: Sequence[np.ndarray], keep: Sequence[int]) -> torch.Tensor:
        """Rows of the first ``keep[i]`` tokens of ``ids[i]``, padded with ``<pad>``: the
        ``prefix`` argument of :meth:`decode` (a row of pads leaves the decoder free)."""
        width = max([int(k) for k in keep] + [1])
        out = torch.full((len(ids), width), Vocabulary.pad_id, dtype=torch.long)
        for i, (row, k) in enumerate(zip(ids, keep, strict=True)):
            k = min(int(k), len(row))
            out[i, :k] = torch.from_numpy(np.asarray(row[:k], dtype=np.int64))
        return out

    def prepare(self, smiles: Sequence[str], flatten: bool = False) -> EncodedInput:
        """Canonicalize and tokenize input SMILES; invalid or unencodable ones become rejects.

        With ``flatten``, a molecule the model cannot write as given (a MOSES vocabulary has
        no tokens for stereo marks, charges or a salt's second fragment) is encoded in the
        first reduced form it can write: its largest fragment as given
        (:func:`chem.largest_fragment_smiles`), else its flattened form
        (:func:`chem.flattened_smiles`: stereo removed, the largest fragment, neutralized);
        ``EncodedInput.flattened`` lists those rows. A molecule that cannot be written even
        so is rejected with the reason its flattened form failed. Without ``flatten``
        (strict), it is rejected with the reason it failed as given.
        """
        smiles = list(smiles)
        canon, rows, rejects = [], [], []
        canonical: list[str | None] = [None] * len(smiles)
        for i, s in enumerate(smiles):
            c = chem.canonical_smiles(s) if isinstance(s, str) else None
            if c is None:
                rejects.append(
                    (i, s, "empty" if not (isinstance(s, str) and s.strip()) else "invalid SMILES")
                )
            else:
                canon.append(c)
                rows.append(i)
                canonical[i] = c
        n_jobs = 1 if len(canon) < 20000 else None
        dataset, tok_rejects = self._tokenize(canon, rows, n_jobs=n_jobs)
        if flatten and len(tok_rejects):
            dataset, tok_rejects = self._flatten_rejects(smiles, canonical, dataset, tok_rejects)
        all_rejects = pd.concat(
            [pd.DataFrame(rejects, columns=["row", "smiles", "reason"]), tok_rejects],
            ignore_index=True,
        ).sort_values("row", kind="stable")
        # Report the user's own string, not our canonical form.
        all_rejects["smiles"] = [smiles[r] for r in all_rejects["row"]]
        return EncodedInput(dataset, all_rejects.reset_index(drop=True), canonical)

    def _flatten_rejects(
        self,
        smiles: list,
        canonical: list[str | None],
        dataset: EncodedDataset,
        rejects: pd.DataFrame,
    ) -> tuple[EncodedDataset, pd.DataFrame]:
        """``dataset`` with the rejected molecules whose reduced form encodes added, in row
        order, and the rejects left (with the reason of the flattened form where it exists).

        Two forms are tried in turn: the largest fragment as given (a salt whose parent the
        vocabulary writes keeps its stereo marks and charges), then the flattened form."""
        reasons: dict[int, str] = {}
        for reduce in (chem.largest_fragment_smiles, chem.flattened_smiles):
            retry, forms = [], []
            for row in rejects["row"].tolist():
                form = reduce(smiles[row])
                if form is not None and form != canonical[row]:
                    retry.append(row)
                    forms.append(form)
            if not retry:
                continue
            extra, still = self._tokenize(forms, retry, n_jobs=1 if len(forms) < 20000 else None)
            reasons.update(zip(still["row"].tolist(), still["reason"].tolist(), strict=True))
            rejects = rejects[~rejects["row"].isin(extra.rows.tolist())]
            if len(extra):
                merged = concat_datasets(dataset, extra)
                dataset = merged.subset(np.argsort(merged.rows, kind="stable"))
        left = rejects.copy()
        left["reason"] = [
            f"{reasons[r]} (also in flattened form)" if r in reasons else reason
            for r, reason in zip(left["row"].tolist(), left["reason"].tolist(), strict=True)
        ]
        return dataset, left

    @torch.no_grad()
    def encode_dataset(
        self,
        dataset: EncodedDataset,
        batch_size: int = 1024,
        on_progress: Callable[[int], None] | None = None,
        condition: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) for every molecule of an encoded dataset, in order, batch by batch.

        Only each batch's (mu, logvar) is kept (moved to the CPU as float32), not the encoder's
        activations; ``on_progress(n)`` is called after each batch of ``n`` molecules. A
        conditional model encodes without conditions unless ``condition``
        (:meth:`condition_vector`, or one such row per molecule) is given.
        """
        mus, logvars = [], []
        for start in range(0, len(dataset), batch_size):
            index = np.arange(start, min(start + batch_size, len(dataset)))
            batch = collate(dataset, index).to(self.device)
            rows = batch_rows(condition, start, batch_size)
            with self.autocast():
                mu, logvar = self.model.encode(batch.tokens, batch.lengths, rows)
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
            if on_progress:
                on_progress(len(index))
        if not mus:
            empty = torch.zeros(0, self.latent_dim)
            return empty, empty
        return torch.cat(mus), torch.cat(logvars)


    def encode(
        self,
        smiles: Sequence[str],
        return_sigma: bool = False,
        batch_size: int = 1024,
        on_progress: Callable[[int], None] | None = None,
        strict: bool = False,
    ) -> pd.DataFrame:
        """One row per input: ``smiles``, ``canonical``, ``encoded_as``, ``status``, mu ``z0``...

        ``status`` is ``ok`` or the reason the molecule could not be encoded (NaN latents).
        ``encoded_as`` is the SMILES actually encoded: ``canonical`` itself, or, for a
        molecule the model cannot write as given (stereo marks, charges, salts for a MOSES
        vocabulary), its flattened form (:meth:`prepare`); with ``strict`` such a molecule is
        rejected instead. For inputs larger than memory, call this per chunk (``molvae
        encode`` streams files that way).
        """
        smiles = list(smiles)
        prep = self.prepare(smiles, flatten=not strict)
        mu, logvar = self.encode_dataset(prep.dataset, batch_size, on_progress)
        return self.encoding_table(smiles, prep, mu, logvar, return_sigma)

    def encoding_table(
        self,
        smiles: list[str],
        prep: EncodedInput,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        return_sigma: bool,
    ) -> pd.DataFrame:
        """The table :meth:`encode` returns, from already prepared and encoded inputs."""
        d = self.latent_dim
        mu_full = np.full((len(smiles), d), np.nan, dtype=np.float32)
        rows = prep.dataset.rows
        mu_full[rows] = mu.numpy()
        frame = pd.DataFrame({"smiles": smiles})
        canonical = pd.Series([None] * len(smiles), dtype=object)
        encoded_as = pd.Series([None] * len(smiles), dtype=object)
        encoded_as[rows] = prep.dataset.smiles
        canonical[rows] = (
            [prep.canonical[r] for r in rows.tolist()] if prep.canonical else prep.dataset.smiles
        )
        frame["canonical"] = canonical
        frame["encoded_as"] = encoded_as
        status = pd.Series(["ok"] * len(smiles), dtype=object)
        status[prep.rejects["row"].to_numpy()] = prep.rejects["reason"].to_numpy()
        frame["status"] = status
        z_cols = pd.DataFrame(mu_full, columns=[f"z{i}" for i in range(d)])
        parts = [frame, z_cols]
        if return_sigma:
            sigma = np.full((len(smiles), d), np.nan, dtype=np.float32)
            sigma[rows] = torch.exp(0.5 * logvar).numpy()
            parts.append(pd.DataFrame(sigma, columns=[f"sigma{i}" for i in range(d)]))
        return pd.concat(parts, axis=1)
