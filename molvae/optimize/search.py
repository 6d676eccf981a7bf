"""Property-steered generation (:func:`generate`): gradient search in the latent space.

The latent property predictor is differentiable, so z can climb its gradient. It only steers:
every decoded molecule is validated and scored with the real RDKit property, and the reported
numbers are RDKit's. Four things keep the search honest:

- a penalty on ||z||^2 (the prior's log-density) and a hard norm bound keep z where the decoder
  has seen data (far from the prior the predictor extrapolates and the decoder produces junk);
- an optional penalty on the predictor ensemble's disagreement steers away from regions where
  the predictor is unsure (``uncertainty_penalty``);
- decoding along the whole trajectory, not just its end, collects the molecules passed on the way;
- a molecule's predicted values are taken at its own encoding, where the predictor was trained,
  not at the search point that decoded it (which may be far outside the training codes).

``generate`` searches from prior samples (or given start molecules) for the best unique molecules;
``optimize_seeds`` improves each seed molecule under a Tanimoto similarity constraint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.refine import encode_mean, refine_latents
from molvae.optimize.goals import Goal, as_goals
from molvae.optimize.scoring import Objective, score_molecules, with_predictions
from molvae.settings import DecodeSettings, GenerateSettings, SearchSettings


def trajectories(
    model, z0: torch.Tensor, objective: Objective, s: SearchSettings
) -> tuple[torch.Tensor, np.ndarray]:
    """Gradient ascent from each row of ``z0``; returns snapshots (M, d) and their step numbers."""
    d = z0.shape[1]
    max_norm = s.max_norm if s.max_norm is not None else math.sqrt(d) + 3.0
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=s.step_size)
    snaps, steps = [z0.detach().clone()], [0]
    for step in range(1, s.steps + 1):
        members = model.predict_properties(z)
        gain = objective.predicted(members, s.uncertainty_penalty)
        loss = -(gain - s.prior_weight * 0.5 * z.pow(2).sum(1)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            if s.trust_radius is not None:
                delta = z - z0
                scale = (s.trust_radius / delta.norm(dim=1, keepdim=True).clamp(min=1e-9)).clamp(
                    max=1.0
                )
                z.copy_(z0 + delta * scale)
            norms = z.norm(dim=1, keepdim=True).clamp(min=1e-9)
            z.mul_((max_norm / norms).clamp(max=1.0))
        if step % s.decode_every == 0 or step == s.steps:
            snaps.append(z.detach().clone())
            steps.append(step)
    n = z0.shape[0]
    step_ids = np.repeat(np.asarray(steps), n)
    return torch.cat(snaps), step_ids


def decode_points(vae, z: torch.Tensor, s: SearchSettings, round_seed: int | None) -> pd.DataFrame:
    check = s.canonical_only
    frames = [vae.decode(z, check_form=check).assign(point=np.arange(len(z)))]
    for k in range(s.extra_samples):
        seed = None if round_seed is None else round_seed * 1000 + k
        dec = vae.decode(
            z,
            DecodeSettings(strategy="sample", temperature=s.temperature),
            seed=seed,
            check_form=check,
        )
        frames.append(dec.assign(point=np.arange(len(z))))
    return pd.concat(frames, ignore_index=True)


@dataclass
class GenerationResult:
    """Best molecules (``table``), what was rejected and why (``rejected``), and effort spent."""

    table: pd.DataFrame
    rejected: dict[str, int]
    decoded: int
    unique_valid: int
    evaluated: int
    rounds: int


def _check_constraints(
    scored: pd.DataFrame, s: SearchSettings, novel_mask, user_goals: Sequence[str] = ()
) -> pd.Series:
    """Reason each candidate fails (empty string when it passes every constraint).

    ``user_goals`` are goal columns whose values are predictions (no RDKit value): a molecule
    without one (it could not be encoded) cannot be ranked.
    """
    reasons = pd.Series([""] * len(scored), index=scored.index, dtype=object)

    def fail(mask, reason):
        mask = np.asarray(mask, dtype=bool) & (reasons.to_numpy() == "")
        if not isinstance(reason, str):
            reason = np.asarray(reason, dtype=object)[mask]
        reasons[mask] = reason

    if s.similar_to is not None and s.min_similarity > 0:
        fail(scored["similarity"] < s.min_similarity, f"similarity < {s.min_similarity:g}")
    if s.max_heavy_atoms is not None:
        fail(scored["HeavyAtoms"] > s.max_heavy_atoms, f"heavy atoms > {s.max_heavy_atoms}")
    for cond in s.conditions:
        fail(~scored[cond.name].map(cond.holds).astype(bool), f"not {cond}")
    if s.filters:
        fail(scored["alerts"] != "", scored["alerts"].to_numpy())
    if s.novel and novel_mask is not None:
        fail(~novel_mask, "in training set")
    if user_goals:
        fail(scored[list(user_goals)].isna().any(axis=1), "no value (cannot be encoded)")
    return reasons


def _needed_properties(goals: Sequence[Goal], s: SearchSettings) -> list[str]:
    names = [g.name for g in goals if g.name in chem.PROPERTIES]
    names += [c.name for c in s.conditions]
    return list(dict.fromkeys(names))


def _elite_starts(vae, accepted: list[dict], s: SearchSettings) -> torch.Tensor | None:
    """Refined encodings of the ``s.elite`` best accepted molecules, best first (or None).

    Restarting the climb from the best molecules found so far (a latent-space evolution
    strategy) lets later rounds go past where one trajectory from the prior stops; refining
    each encoding (:func:`molvae.refine_latents`) makes the restart decode to that molecule.
    """
    if s.elite <= 0 or not accepted:
        return None
    best = sorted(accepted, key=lambda r: r["objective"], reverse=True)[: s.elite]
    prep = vae.prepare([r["smiles"] for r in best])
    if len(prep.dataset) == 0:
        return None
    return refine_latents(vae, prep.dataset, steps=max(s.refine_steps, 30))[0]


def generate(
    vae,
    goals: str | Goal | Sequence[str | Goal],
    n: int = 20,
    settings: SearchSettings | None = None,
    start_from: Sequence[str] | None = None,
    is_novel: Callable[[Sequence[str]], np.ndarray] | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Search the latent space for ``n`` unique valid molecules that best meet ``goals``.

    Starts from prior samples (or the encodings of ``start_from`` or ``similar_to``, refined
    for ``settings.refine_steps`` steps), climbs the predicted objective, decodes along every
    trajectory, scores each unique valid molecule with RDKit, applies the constraints and keeps
    the best ``n`` by the actual objective. Rounds repeat (with new starts) until ``n``
    molecules pass or ``max_rounds`` is reached; with ``settings.elite``, a round after the
    first starts from the best molecules so far instead of the prior (:func:`_elite_starts`).
    ``is_novel`` maps canonical SMILES to a boolean array (needed for ``settings.novel``).

    Each molecule's ``<goal>_predicted`` (and ensemble ``_uncertainty``) is the predictor's
    value at the molecule's own encoding, not at the search point that decoded it
    (:func:`_predict_molecules`); for a goal RDKit cannot compute (a user's fitted column) that
    prediction is the value the molecules are ranked by.
    """
    s = settings or GenerateSettings()
    goals = as_goals(goals, vae.model.config.all_properties)
    if not goals:
        raise MolvaeError("give at least one --target")
    names = vae.model.config.all_properties
    objective = Objective(goals, names, vae.bundle.property_mean, vae.bundle.property_std)
    if s.novel and is_novel is None:
        raise MolvaeError("--novel needs the model's training-set index or --train-file")
    if s.similar_to is not None and chem.parse_smiles(s.similar_to) is None:
        raise MolvaeError(f"--similar-to: {s.similar_to!r} is not a valid SMILES")
    model = vae.model
    d = vae.latent_dim
    gen = torch.Generator().manual_seed(s.seed if s.seed is not None else int(torch.seed() % 2**31))
    start_z = None
    if start_from is not None or s.similar_to is not None:
        # Refined, the starts sit where the decoder gives the start molecules back.
        starts = list(start_from) if start_from is not None else [s.similar_to]
        start_z = encode_mean(vae, starts, refine_steps=s.refine_steps)
    props = _needed_properties(goals, s)
    user_goals = [g.name for g in goals if g.name not in chem.PROPERTIES]
    seen: dict[str, dict] = {}
    accepted: list[dict] = []
    rejected: dict[str, int] = {}
    off_form: set[str] = set()  # molecules only ever decoded from non-canonical strings
    decoded = 0
    rounds = 0
    for round_ in range(s.max_rounds):
        rounds = round_ + 1
        elite_z = _elite_starts(vae, accepted, s) if round_ > 0 and start_z is None else None
        if elite_z is not None:
            reps = max(1, s.starts // len(elite_z))
            z0 = elite_z.repeat_interleave(reps, 0)
            z0[reps:] += s.jitter * torch.randn(len(z0) - reps, d, generator=gen)
            start_index = np.arange(len(z0)) + round_ * s.starts
        elif start_z is None:
            z0 = torch.randn(s.starts, d, generator=gen)
            start_index = np.arange(s.starts) + round_ * s.starts
        else:
            reps = max(1, s.starts // len(start_z))
            idx = np.repeat(np.arange(len(start_z)), reps)
            noise = 0.0 if round_ == 0 and reps == 1 else 0.5
            z0 = start_z[idx] + noise * torch.randn(len(idx), d, generator=gen)
            start_index = idx
        points, step_ids = trajectories(model, z0, objective, s)
        point_start = np.tile(start_index, len(step_ids) // len(start_index))
        dec = decode_points(vae, points, s, None if s.seed is None else s.seed + round_)
        decoded += len(dec)
        if s.canonical_only:
            in_form = dec["canonical_form"].to_numpy()
            off_form.update(dec.loc[~in_form & dec["valid"].to_numpy(), "canonical"])
            dec = dec[in_form]
        new = []
        for can, point in zip(dec["canonical"], dec["point"], strict=True):
            if isinstance(can, str) and can not in seen:
                info = {
                    "smiles": can,
                    "step": int(step_ids[point]),
                    "start": int(point_start[point]),
                }
                seen[can] = info
                new.append(info)
        if new:
            smiles = [r["smiles"] for r in new]
            frame = pd.DataFrame(new)
            if user_goals:  # their values are predictions, needed now to rank
                frame = with_predictions(vae, frame, goals, objective)
            scored = score_molecules(
                smiles, props, [s.similar_to] * len(smiles) if s.similar_to else None, s.filters
            )
            frame = frame.join(scored.drop(columns=["valid"]))
            for goal in goals:  # a user column has no RDKit value: its prediction stands in
                if goal.name not in frame.columns:
                    frame[goal.name] = frame[f"{goal.name}_predicted"]
            novel_mask = np.asarray(is_novel(smiles)) if is_novel is not None else None
            if novel_mask is not None:
                frame["novel"] = novel_mask
            reasons = _check_constraints(frame, s, novel_mask, user_goals)
            kinds = reasons[reasons != ""].str.split(":").str[0]  # "PAINS: x" counts as PAINS
            for reason, count in kinds.value_counts().items():
                rejected[reason] = rejected.get(reason, 0) + int(count)
            ok = frame[reasons == ""].copy()
            ok["objective"] = objective.actual(ok)
            accepted.extend(ok.to_dict("records"))
        if on_round:
            on_round(rounds, len(accepted))
        if len(accepted) >= n and rounds >= s.min_rounds:
            break
    n_off = len(off_form.difference(seen))
    if n_off:
        rejected["not in canonical form"] = n_off
    table = pd.DataFrame(accepted)
    if len(table):
        table = table.sort_values("objective", ascending=False, kind="stable").head(n)
        table = table.reset_index(drop=True)
        if not user_goals:  # RDKit ranked them; predictions are only shown, for these n
            table = with_predictions(vae, table, goals, objective)
    return GenerationResult(table, rejected, decoded, len(seen) + n_off, len(seen), rounds)
