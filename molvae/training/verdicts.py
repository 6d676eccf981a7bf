"""Verdicts: whether a trained model or a fitted head is usable yet, and what to do if not.

A model that has not learnt its training language still "works": every SELFIES string decodes
to a valid molecule, so sampling reports 100% valid while returning single atoms, and a critic
separates such samples from real molecules perfectly. The numbers that tell the difference are
already measured (validation token accuracy and exact reconstruction, the share of samples in
their molecule's canonical form, unique and not tiny, the critic's held-out AUC, a property
head's held-out R^2); this module holds the thresholds and turns those numbers into one
:class:`Verdict` per model or head. ``molvae train``, ``sample``, ``report``, ``fit-critic`` and
``fit-property`` print its :meth:`Verdict.line` when something is not usable yet.

The thresholds flag models and heads that are clearly not ready, not ones that are merely
weaker than the bundled model: the bundled model has token accuracy 0.98 and exact
reconstruction 0.64 on validation (greedy decoding), keeps about 46% of its draws in canonical
form, and its heads have R^2 well above 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from molvae import chem

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE

__all__ = [
    "MAX_CRITIC_AUC",
    "MAX_SHORT",
    "MIN_CANONICAL_FORM",
    "MIN_CRITIC_AUC",
    "MIN_EXACT_RECONSTRUCTION",
    "MIN_R2",
    "MIN_TOKEN_ACCURACY",
    "MIN_UNIQUE",
    "MIN_VALID",
    "SHORT_HEAVY_ATOMS",
    "SampleStats",
    "Verdict",
    "check_model",
    "critic_verdict",
    "model_verdict",
    "property_verdict",
    "property_verdicts",
    "sample_stats",
]

# Validation metrics of the model (greedy decoding of mu; molvae.training.validate).
MIN_TOKEN_ACCURACY = 0.80
MIN_EXACT_RECONSTRUCTION = 0.20
# Samples from the prior.
MIN_VALID = 0.50  # share of draws that are valid molecules (SMILES models can fail this)
MIN_UNIQUE = 0.50  # share of valid samples that are distinct molecules
MIN_CANONICAL_FORM = 0.05  # share of raw draws written in their molecule's canonical form
SHORT_HEAVY_ATOMS = 6  # a sample with fewer heavy atoms counts as "very short"
MAX_SHORT = 0.20  # share of valid samples that may be very short
# Fitted heads (held-out metrics).
MAX_CRITIC_AUC = 0.98  # above: the critic separates trivially, the samples are not molecules
MIN_CRITIC_AUC = 0.55  # below: the critic cannot tell samples from the reference at all
MIN_R2 = 0.25  # property predictor R^2 on held-out molecules

TRAIN_MORE = "train longer or on more data (see docs/training.md)"


@dataclass(frozen=True)
class Verdict:
    """Whether ``subject`` (``"model"``, ``"critic"``, ``"logP predictor"``) is usable yet.

    ``problems`` lists each failed check with its measured value; empty means usable.
    ``evidence`` lists the values that were checked (for reports), ``advice`` what to do when
    something failed.
    """

    subject: str
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    advice: str = ""

    @property
    def usable(self) -> bool:
        """True when every available check passed (also when nothing could be checked)."""
        return not self.problems

    def line(self) -> str:
        """One line for the user: the problems and what to do, or what was checked."""
        if self.problems:
            return f"{self.subject} not usable yet: {_join(self.problems)}; {self.advice}"
        if self.evidence:
            return f"{self.subject} looks usable: {_join(self.evidence)}"
        return f"{self.subject}: nothing measured to judge it by"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in reports)."""
        return {
            "subject": self.subject,
            "usable": self.usable,
            "problems": list(self.problems),
            "evidence": list(self.evidence),
            "advice": self.advice,
            "line": self.line(),
        }


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class SampleStats:
    """Shares measured on samples from the prior; ``None`` where the samples cannot tell.

    ``valid``: valid molecules among the rows; ``unique``: distinct molecules among the valid
    ones; ``canonical_form``: draws written in their molecule's canonical form among all draws;
    ``short``: valid molecules with fewer than ``SHORT_HEAVY_ATOMS`` heavy atoms.
    """

    n: int
    valid: float | None = None
    unique: float | None = None
    canonical_form: float | None = None
    short: float | None = None


def sample_stats(frame: pd.DataFrame, drawn: int | None = None) -> SampleStats:
    """The shares of :class:`SampleStats` for decoded samples (``valid``/``canonical`` columns).

    With a ``canonical_form`` column (raw draws decoded with ``check_form``) that share is the
    column's mean; with ``drawn`` (rows kept by canonical-form rejection sampling out of
    ``drawn`` draws, no critic) it is ``len(frame) / drawn``.
    """
    n = len(frame)
    if n == 0:
        return SampleStats(0, canonical_form=0.0 if drawn else None)
    valid_mask = frame["valid"].to_numpy(dtype=bool)
    valid = frame.loc[valid_mask, "canonical"].astype(str).tolist()
    if "canonical_form" in frame:
        form: float | None = float(frame["canonical_form"].to_numpy(dtype=bool).mean())
    elif drawn:
        form = n / drawn
    else:
        form = None
    short = None
    if valid:
        counts = np.array([_heavy_atoms(s) for s in valid])
        short = float((counts < SHORT_HEAVY_ATOMS).mean())
    return SampleStats(
        n,
        valid=len(valid) / n,
        unique=len(set(valid)) / len(valid) if valid else None,
        canonical_form=form,
        short=short,
    )


def _heavy_atoms(smiles: str) -> int:
    mol = chem.parse_smiles(smiles)
    return 0 if mol is None else int(mol.GetNumHeavyAtoms())


def model_verdict(
    metrics: Mapping[str, Any] | None, samples: SampleStats | None = None
) -> Verdict:
    """The model's verdict from its validation ``metrics`` (as ``config.json`` records them:
    ``val_token_accuracy``, ``val_exact_reconstruction``) and statistics of its ``samples``.
    Checks whose numbers are missing are skipped."""
    metrics = metrics or {}
    problems: list[str] = []
    evidence: list[str] = []

    def check(value: Any, ok: bool, text: str) -> None:
        (evidence if ok else problems).append(text)

    acc = _number(metrics.get("val_token_accuracy"))
    if acc is not None:
        check(acc, acc >= MIN_TOKEN_ACCURACY, f"token accuracy {acc:.2f} on validation")
    exact = _number(metrics.get("val_exact_reconstruction"))
    if exact is not None:
        check(exact, exact >= MIN_EXACT_RECONSTRUCTION,
              f"exact reconstruction {exact:.2f} on validation")
    if samples is not None and samples.n:
        if samples.valid is not None:
            check(samples.valid, samples.valid >= MIN_VALID,
                  f"{samples.valid:.0%} of samples valid")
        if samples.canonical_form is not None:
            check(samples.canonical_form, samples.canonical_form >= MIN_CANONICAL_FORM,
                  f"{samples.canonical_form:.0%} of draws in canonical form")
        if samples.unique is not None:
            check(samples.unique, samples.unique >= MIN_UNIQUE,
                  f"{samples.unique:.0%} of valid samples unique")
        if samples.short is not None:
            check(samples.short, samples.short <= MAX_SHORT,
                  f"{samples.short:.0%} of valid samples under {SHORT_HEAVY_ATOMS} heavy atoms")
    return Verdict("model", tuple(problems), tuple(evidence), TRAIN_MORE)


def critic_verdict(auc: float) -> Verdict:
    """A realism critic's verdict from its held-out AUC (model samples against reference)."""
    text = f"held-out AUC {auc:.3f}"
    if auc > MAX_CRITIC_AUC:
        return Verdict(
            "critic",
            (f"{text}: it tells the model's samples from real molecules trivially, so the "
             "samples are not like the training data yet",),
            advice="train the model longer or on more data (see docs/training.md), then fit "
            "the critic again",
        )
    if auc < MIN_CRITIC_AUC:
        return Verdict(
            "critic",
            (f"{text}: it cannot tell the model's samples from the reference, so it would "
             "change nothing",),
            advice="fit it on more samples (--samples) or sample without it (--no-critic)",
        )
    return Verdict("critic", evidence=(text,))


def property_verdict(name: str, r2: float | None) -> Verdict:
    """A property predictor's verdict from its held-out R^2 (``None``/NaN: not measurable)."""
    subject = f"{name} predictor"
    value = _number(r2)
    if value is None:
        return Verdict(subject)
    text = f"held-out R^2 {value:.2f}"
    if value < MIN_R2:
        return Verdict(
            subject,
            (text,),
            advice="fit it on more labelled molecules, or use a model whose latent space "
            "encodes this property (train longer or on more data)",
        )
    return Verdict(subject, evidence=(text,))


def property_verdicts(property_metrics: Mapping[str, Mapping[str, Any]] | None) -> list[Verdict]:
    """One verdict per predictor in a model's ``property_metrics`` (``{name: {"r2": ...}}``)."""
    return [
        property_verdict(name, (m or {}).get("r2"))
        for name, m in (property_metrics or {}).items()
    ]


def check_model(vae: MolVAE, n: int = 500, seed: int = 0) -> Verdict:
    """Verdict of a loaded model: its recorded validation metrics plus ``n`` raw draws from
    the prior (decoded with the sampler's default temperature, canonical form checked)."""
    from molvae.settings import DecodeSettings

    frame = vae.decode(
        vae.sample_prior(n, seed), DecodeSettings(strategy="sample"), seed=seed, check_form=True
    )
    return model_verdict(vae.bundle.metrics, sample_stats(frame))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return None
    value = float(value)
    return value if np.isfinite(value) else None
