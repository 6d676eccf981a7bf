"""Property-steered generation and similarity-constrained optimization in the latent space.

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
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.goals import Condition, Goal, parse_condition, parse_goal
from molvae.parallel import map_chunks

__all__ = [
    "Condition",
    "Goal",
    "SearchSettings",
    "generate",
    "optimize_seeds",
    "parse_condition",
    "parse_goal",
    "rescue_seeds",
    "search_seeds",
    "seed_search_settings",
]

# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


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
    refine_steps: int = 0  # latent refinement of encoded starts (MolVAE.refine_latents)
    refine_prior_weight: float = 0.1  # weight of log p(z) in that refinement
    jitter: float = 0.3  # std of the Gaussian noise added to a seed's z for its other starts
    rescue_rounds: int = 0  # optimize: searches again, wider, around seeds that found nothing
    # the rescue's starts are spent in this many waves; a seed stops at its first wave with a
    # success (1: all at once, slower, a slightly higher best improvement for rescued seeds)
    rescue_waves: int = 4
    seed_sites: bool = True  # optimize: also score candidates in the seed's charges/nitro groups
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


# --------------------------------------------------------------------------------------------
# Scoring with RDKit (in worker processes for large batches)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _reference_fingerprint(smiles: str):
    mol = chem.parse_smiles(smiles)
    return None if mol is None else chem.morgan_count_fingerprint(mol)


def _score_chunk(
    items: Sequence[tuple[str, str | None]],
    properties: Sequence[str],
    filters: Sequence[str],
    min_similarity: float = 0.0,
) -> list[dict]:
    """RDKit facts about each (candidate, reference) pair: properties, size, similarity, alerts.

    A candidate less similar to its reference than ``min_similarity`` gets its similarity only:
    it cannot be chosen, so its properties (SA and QED are the slow ones) are not computed.
    """
    out = []
    for smiles, reference in items:
        mol = chem.parse_smiles(smiles)
        row: dict = {"valid": mol is not None}
        if mol is None:
            out.append(row)
            continue
        if reference is not None:
            ref_fp = _reference_fingerprint(reference)
            row["similarity"] = (
                chem.tanimoto(ref_fp, chem.morgan_count_fingerprint(mol)) if ref_fp else 0.0
            )
            if row["similarity"] < min_similarity:
                out.append(row)
                continue
        row.update(chem.compute_properties(mol, properties))
        row["HeavyAtoms"] = chem.heavy_atoms(mol)
        row["alerts"] = "; ".join(chem.structural_alerts(mol, filters)) if filters else ""
        out.append(row)
    return out


def score_molecules(
    smiles: Sequence[str],
    properties: Sequence[str],
    references: Sequence[str | None] | None = None,
    filters: Sequence[str] = (),
    min_similarity: float = 0.0,
) -> pd.DataFrame:
    """RDKit properties, heavy atoms, similarity to each row's reference and structural alerts.

    Rows with a reference and ``similarity < min_similarity`` have NaN properties (not computed).
    """
    refs = list(references) if references is not None else [None] * len(smiles)
    rows = map_chunks(
        partial(_score_chunk, properties=list(properties), filters=list(filters),
                min_similarity=min_similarity),
        list(zip(smiles, refs, strict=True)),
        chunk_size=500,
        min_parallel=1500,
    )
    frame = pd.DataFrame(rows, index=range(len(smiles)))
    for name in properties:  # present even when every row was below min_similarity
        if name not in frame:
            frame[name] = np.nan
    return frame


# --------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------


class _Objective:
    """The weighted objective on standardized values, shared by predictor and RDKit scoring."""

    def __init__(self, goals: Sequence[Goal], names: Sequence[str], mean, std):
        self.goals = list(goals)
        self.columns = [list(names).index(g.name) for g in goals]
        self.mean = np.asarray([mean[c] for c in self.columns], dtype=np.float64)
        self.std = np.asarray([std[c] for c in self.columns], dtype=np.float64)

    def _term(self, goal: Goal, u, target_u):
        if goal.mode == "max":
            return u
        if goal.mode == "min":
            return -u
        return -abs(u - target_u)

    def predicted(self, members: torch.Tensor, uncertainty_penalty: float) -> torch.Tensor:
        """Objective of standardized ensemble predictions (k, B, P), minus the spread penalty."""
        total = torch.zeros(members.shape[1], device=members.device)
        for j, (goal, col) in enumerate(zip(self.goals, self.columns, strict=True)):
            u = members[:, :, col].mean(0)
            target_u = None if goal.value is None else (goal.value - self.mean[j]) / self.std[j]
            total = total + goal.weight * self._term(goal, u, target_u)
            if uncertainty_penalty > 0 and members.shape[0] > 1:
                total = total - uncertainty_penalty * goal.weight * members[:, :, col].std(0)
        return total

    def actual(self, values: pd.DataFrame) -> np.ndarray:
        """Objective of real values (columns named like the goals)."""
        total = np.zeros(len(values))
        for j, goal in enumerate(self.goals):
            u = (values[goal.name].to_numpy(dtype=np.float64) - self.mean[j]) / self.std[j]
            target_u = None if goal.value is None else (goal.value - self.mean[j]) / self.std[j]
            total += goal.weight * self._term(goal, u, target_u)
        return total


def _trajectories(
    model, z0: torch.Tensor, objective: _Objective, s: SearchSettings
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


def _predict(model, z: torch.Tensor, objective: _Objective) -> tuple[np.ndarray, np.ndarray]:
    """Predicted value (real units) and ensemble std for each goal column: (M, G) each."""
    with torch.no_grad():
        members = model.predict_properties(z)[:, :, objective.columns].numpy()
    mean = members.mean(0) * objective.std + objective.mean
    spread = members.std(0) * objective.std if members.shape[0] > 1 else np.zeros_like(mean)
    return mean, spread


def _predict_molecules(vae, smiles: Sequence[str], objective: _Objective
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted value and ensemble spread (M, G) of each molecule, from its own encoding.

    The point of the search that decoded a molecule may lie far outside the training codes,
    where the predictor extrapolates (on the bundled model, logP "predicted" at 37-62 for
    molecules whose RDKit logP was 6-7). The molecule's encoding (mu) is the kind of point the
    predictor was trained on, so that is what a molecule's prediction is taken from. NaN for
    a molecule that cannot be encoded.
    """
    pred = np.full((len(smiles), len(objective.columns)), np.nan)
    spread = np.full_like(pred, np.nan)
    prep = vae.prepare(smiles)
    if len(prep.dataset):
        mu, _ = vae.encode_dataset(prep.dataset)
        rows = np.asarray(prep.dataset.rows, dtype=int)
        pred[rows], spread[rows] = _predict(vae.model, mu, objective)
    return pred, spread


def _with_predictions(vae, frame: pd.DataFrame, goals: Sequence[Goal], objective: _Objective
                      ) -> pd.DataFrame:
    """``frame`` with ``<goal>_predicted`` and ``<goal>_uncertainty`` after its ``start`` column."""
    pred, spread = _predict_molecules(vae, frame["smiles"].tolist(), objective)
    out = frame.copy()
    at = out.columns.get_loc("start") + 1
    for j, goal in enumerate(goals):
        out.insert(at + 2 * j, f"{goal.name}_predicted", pred[:, j])
        out.insert(at + 2 * j + 1, f"{goal.name}_uncertainty", spread[:, j])
    return out


def _decode_points(vae, z: torch.Tensor, s: SearchSettings, round_seed: int | None) -> pd.DataFrame:
    check = s.canonical_only
    frames = [vae.decode(z, strategy="greedy", check_form=check).assign(point=np.arange(len(z)))]
    for k in range(s.extra_samples):
        seed = None if round_seed is None else round_seed * 1000 + k
        dec = vae.decode(
            z, strategy="sample", temperature=s.temperature, seed=seed, check_form=check
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
    each encoding (:meth:`MolVAE.refine_latents`) makes the restart decode to that molecule.
    """
    if s.elite <= 0 or not accepted:
        return None
    best = sorted(accepted, key=lambda r: r["objective"], reverse=True)[: s.elite]
    prep = vae.prepare([r["smiles"] for r in best])
    if len(prep.dataset) == 0:
        return None
    return vae.refine_latents(prep.dataset, steps=max(s.refine_steps, 30))[0]


def generate(
    vae,
    goals: Sequence[Goal],
    n: int = 100,
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
    s = settings or SearchSettings()
    if not goals:
        raise MolvaeError("give at least one --target")
    names = vae.model.config.all_properties
    objective = _Objective(goals, names, vae.bundle.property_mean, vae.bundle.property_std)
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
        start_z = vae.encode_mean(starts, refine_steps=s.refine_steps)
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
        points, step_ids = _trajectories(model, z0, objective, s)
        point_start = np.tile(start_index, len(step_ids) // len(start_index))
        dec = _decode_points(vae, points, s, None if s.seed is None else s.seed + round_)
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
                frame = _with_predictions(vae, frame, goals, objective)
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
            table = _with_predictions(vae, table, goals, objective)
    return GenerationResult(table, rejected, decoded, len(seen) + n_off, len(seen), rounds)


@dataclass
class SeedSearch:
    """Everything one latent search around a set of seeds found, before any similarity cut.

    ``seeds`` has one row per seed (``seed``, ``status``, ``encoded_as``, ``seed_value``);
    ``candidates`` one row per distinct decoded molecule per seed (``seed_index``, ``smiles``,
    ``value``, ``similarity``). :meth:`best` picks the result for a similarity bound, so a
    benchmark at several bounds pays for the search once.
    """

    goal: Goal
    seeds: pd.DataFrame
    candidates: pd.DataFrame
    scored_from: float = 0.0  # candidates less similar than this were not scored (value NaN)

    def best(self, min_similarity: float) -> pd.DataFrame:
        """One row per seed: the best improving candidate with ``similarity >= min_similarity``.

        ``improvement`` is the gain of the actual property over the seed (a decrease for a
        ``min`` goal); a seed with no improving candidate keeps improvement 0, ``success``
        False.
        """
        if min_similarity < self.scored_from:
            raise ValueError(f"this search scored candidates from similarity {self.scored_from} "
                             f"up; it cannot answer for {min_similarity}")
        out = self.seeds.copy()
        out["best"] = None
        out["best_value"] = np.nan
        out["improvement"] = 0.0
        out["similarity"] = np.nan
        out["success"] = False
        cand = self.candidates
        out["candidates"] = np.bincount(cand["seed_index"], minlength=len(out)).astype(int)
        gain, ok = _improving(self.goal, cand["value"].to_numpy(),
                              out["seed_value"].to_numpy()[cand["seed_index"]],
                              cand["similarity"].to_numpy(), min_similarity)
        if ok.any():
            good = cand[ok].assign(gain=gain[ok])
            # Best gain per seed; ties go to the more similar molecule.
            good = good.sort_values(["seed_index", "gain", "similarity"], ascending=[True, False,
                                                                                     False])
            top = good.drop_duplicates("seed_index")
            idx = top["seed_index"].to_numpy()
            out.loc[idx, "best"] = top["smiles"].to_numpy()
            out.loc[idx, "best_value"] = top["value"].to_numpy()
            out.loc[idx, "improvement"] = top["gain"].to_numpy()
            out.loc[idx, "similarity"] = top["similarity"].to_numpy()
            out.loc[idx, "success"] = True
        return out


def _improving(goal: Goal, values: np.ndarray, seed_values: np.ndarray,
               similarity: np.ndarray, min_similarity: float) -> tuple[np.ndarray, np.ndarray]:
    """(gain over the seed, whether it is a success): an improving candidate within the bound."""
    sign = -1.0 if goal.mode == "min" else 1.0
    gain = sign * (values - seed_values)
    return gain, (similarity >= min_similarity) & np.isfinite(gain) & (gain > 0)


def _with_seed_sites(
    pairs: list[tuple[int, str]],
    sites: Sequence[tuple[chem.SeedSite, ...]],
    canon: Sequence[str | None],
    encoded: Sequence[str],
) -> list[tuple[int, str]]:
    """``pairs`` (seed, candidate) plus each candidate in its seed's form.

    A MOSES vocabulary writes neutral molecules without nitro groups; a seed given charged
    (ZINC's protonated amines, carboxylates) or with a nitro group is then less similar to
    every candidate than the candidate's form with the seed's charges and nitro groups is
    (:func:`chem.seed_sites`). Those forms are candidates of their own, scored by RDKit like
    any other.
    """
    todo = [(j, cand) for j, cand in pairs if sites[j]]
    forms = map_chunks(_seed_form_chunk, [(cand, sites[j]) for j, cand in todo],
                       chunk_size=2000, min_parallel=4000)
    extra = [(j, v) for (j, _), variants in zip(todo, forms, strict=True) for v in variants
             if v != canon[j] and v != encoded[j]]
    return list(dict.fromkeys([*pairs, *extra]))


def _seed_form_chunk(items: Sequence[tuple[str, tuple[chem.SeedSite, ...]]]) -> list[list[str]]:
    return [chem.apply_seed_sites(smiles, sites) for smiles, sites in items]


def _encodable_forms(vae, seeds: list[str]) -> list[str]:
    """Each seed as given, or the closest form of it that the model's vocabulary can write.

    Tried in order: the seed; its flattened form (no stereo, neutralized where possible,
    :func:`chem.flattened_smiles`); its surrogate (nitro/azide groups removed, other charges
    reduced, :func:`chem.surrogate_smiles`); the surrogate with iodine written as bromine, then
    with both as chlorine. The first form that encodes is kept; a seed none of them encode
    stays as given (and is reported with the tokens the vocabulary lacks).
    """
    forms = list(seeds)
    attempts: list[Callable[[str], str | None]] = [
        chem.flattened_smiles,
        chem.surrogate_smiles,
        lambda s: chem.surrogate_smiles(s, {"I": "Br"}),
        lambda s: chem.surrogate_smiles(s, {"I": "Cl", "Br": "Cl"}),
    ]

    def unwritable(rows: list[int]) -> list[int]:
        prep = vae.prepare([forms[i] for i in rows])
        return [rows[int(r.row)] for r in prep.rejects.itertuples()
                if str(r.reason).startswith("token")]

    retry = unwritable(list(range(len(seeds))))
    for attempt in attempts:
        if not retry:
            break
        for i in retry:
            forms[i] = attempt(seeds[i]) or seeds[i]
        retry = unwritable(retry)
    for i in retry:
        forms[i] = seeds[i]
    return forms


def seed_search_settings(**overrides) -> SearchSettings:
    """Defaults for improving given seeds under a similarity bound (``optimize``).

    Many short trajectories with small steps near each seed's encoding (32 starts x 8 steps of
    0.02, a snapshot every 2 steps, decoded greedily and 3 times stochastically): a similarity
    bound rewards molecules close to the seed, and on the first 40 seeds of the constrained
    benchmark this found a candidate at similarity >= 0.4 for more seeds than 16 starts x 40
    steps of 0.05 (``benchmarks/optimization.py``). Each seed's encoding is first refined for
    30 steps (:meth:`MolVAE.refine_latents`), so the search starts from a point that decodes
    back to the seed. Seeds that find nothing get two rescue rounds (:func:`rescue_seeds`).
    A charged or nitro-bearing seed also gets its candidates in its own form
    (:func:`chem.seed_sites`). ``overrides`` replace any field.
    """
    values: dict = {"steps": 8, "starts": 32, "step_size": 0.02, "decode_every": 2,
                    "extra_samples": 3, "trust_radius": None, "refine_steps": 30,
                    "rescue_rounds": 2}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SearchSettings(**values)


def search_seeds(
    vae,
    seeds: Sequence[str],
    goal: Goal,
    settings: SearchSettings | None = None,
    batch_seeds: int = 32,
    on_batch: Callable[[int], None] | None = None,
    min_similarity: float = 0.0,
    waves: int = 1,
    success_similarity: float | None = None,
) -> SeedSearch:
    """Gradient search in latent space around each seed's encoding; every candidate is kept.

    From ``settings.starts`` points per seed (its encoding, refined for
    ``settings.refine_steps`` steps so that it decodes back to the seed, and copies jittered by
    ``settings.jitter``) the predicted ``goal`` is followed uphill; snapshots along the way are
    decoded (greedy, plus ``extra_samples`` stochastic decodes) and every distinct molecule
    other than the seed is scored with RDKit, with its Tanimoto similarity to the seed. A seed
    whose tokens the vocabulary lacks (a MOSES model has no stereocentres or charges) is encoded
    in its flattened form or as a surrogate (:func:`_encodable_forms`), shown in
    ``encoded_as``; its value and similarities stay those of the seed as given, and the encoded
    form itself is not a candidate. Seeds that cannot be
    parsed or encoded even so keep the reason in ``status``. Candidates less similar to their
    seed than ``min_similarity`` are kept with their similarity but not scored (value NaN),
    which saves most of the RDKit time when the bound is high.

    With ``waves`` > 1 the starts are spent in that many waves, and a seed that has an
    improving candidate at ``min_similarity`` after a wave gets no more: the rescue rounds
    (:func:`rescue_seeds`) use this, since most rescued seeds succeed in their first wave and
    decoding the rest of their starts was most of the rescue's time. A success there needs
    ``success_similarity`` (default ``min_similarity``). ``waves=1`` spends every start at once
    (the same random numbers as before waves existed).
    """
    s = settings or seed_search_settings()
    if not 1 <= waves <= s.starts:
        raise MolvaeError(f"waves must be between 1 and the starts ({s.starts}), got {waves}")
    wave_starts = [len(part) for part in np.array_split(np.arange(s.starts), waves)]
    bound = min_similarity if success_similarity is None else success_similarity
    if goal.name not in chem.PROPERTIES:
        raise MolvaeError(f"optimize needs an RDKit property to score, got {goal.name!r}")
    names = vae.model.config.all_properties
    objective = _Objective([goal], names, vae.bundle.property_mean, vae.bundle.property_std)
    seeds = list(seeds)
    forms = _encodable_forms(vae, seeds)
    prep = vae.prepare(forms)
    mu, _ = vae.encode_dataset(prep.dataset)
    if s.refine_steps > 0 and len(mu):
        mu, _ = vae.refine_latents(prep.dataset, steps=s.refine_steps, z_init=mu,
                                    prior_weight=s.refine_prior_weight)
    table = pd.DataFrame(
        {
            "seed": seeds,
            "status": "ok",
            "encoded_as": [f if f != s_ else None for f, s_ in zip(forms, seeds, strict=True)],
            "seed_value": np.nan,
        }
    )
    for r in prep.rejects.itertuples():
        table.loc[int(r.row), "status"] = r.reason
    ok_rows = np.asarray(prep.dataset.rows, dtype=int)
    canon = [chem.canonical_smiles(seeds[i]) for i in ok_rows]
    encoded = prep.dataset.smiles
    if len(ok_rows):
        table.loc[ok_rows, "seed_value"] = score_molecules(canon, [goal.name])[goal.name].to_numpy()
    sites = [chem.seed_sites(seeds[i]) if s.seed_sites else () for i in ok_rows]
    found: list[pd.DataFrame] = []
    seed_values = table.loc[ok_rows, "seed_value"].to_numpy(dtype=float)
    solved = np.zeros(len(ok_rows), dtype=bool)
    gen = torch.Generator().manual_seed(s.seed if s.seed is not None else 0)
    for b in range(0, len(ok_rows), batch_seeds):
        batch = np.arange(b, min(b + batch_seeds, len(ok_rows)))
        for w in range(waves):
            sel = batch[~solved[batch]]
            if len(sel) == 0:
                break
            per_wave = wave_starts[w]
            z0 = mu[np.repeat(sel, per_wave)]
            noise = torch.randn(z0.shape, generator=gen) * s.jitter
            if w == 0:
                noise[::per_wave] = 0.0  # one trajectory per seed starts exactly at its encoding
            z0 = z0 + noise
            points, _ = _trajectories(vae.model, z0, objective, s)
            round_seed = None if s.seed is None else s.seed + b + 7907 * w
            dec = _decode_points(vae, points, s, round_seed)
            owner = sel[np.tile(np.repeat(np.arange(len(sel)), per_wave), len(points) // len(z0))]
            pairs = list(
                dict.fromkeys(
                    (int(owner[point]), can)
                    for can, point in zip(dec["canonical"], dec["point"], strict=True)
                    if isinstance(can, str)
                    and can != canon[owner[point]]
                    and can != encoded[owner[point]]
                )
            )
            pairs = _with_seed_sites(pairs, sites, canon, encoded)
            scored = score_molecules([c for _, c in pairs], [goal.name],
                                     [canon[j] for j, _ in pairs], min_similarity=min_similarity)
            owners = np.array([j for j, _ in pairs], dtype=int)
            values = scored[goal.name].to_numpy(dtype=float)
            similarity = scored["similarity"].to_numpy(dtype=float)
            found.append(
                pd.DataFrame(
                    {
                        "seed_index": ok_rows[owners].astype(int),
                        "smiles": [c for _, c in pairs],
                        "value": values,
                        "similarity": similarity,
                    }
                )
            )
            if len(owners):
                _, hit = _improving(goal, values, seed_values[owners], similarity, bound)
                solved[owners[hit]] = True
        if on_batch:
            on_batch(len(batch))
    columns = {"seed_index": int, "smiles": object, "value": float, "similarity": float}
    candidates = (
        pd.concat(found, ignore_index=True)
        if found
        else pd.DataFrame({k: pd.Series(dtype=v) for k, v in columns.items()})
    )
    return SeedSearch(goal, table, candidates, scored_from=min_similarity)


_RESCUE_STARTS = 4  # a rescue round's starts per seed, as a multiple of the first search's


def rescue_seeds(
    vae,
    seeds: Sequence[str],
    search: SeedSearch,
    min_similarity: float,
    settings: SearchSettings | None = None,
    batch_seeds: int = 32,
) -> SeedSearch:
    """Search again around the seeds of ``search`` that found no improving molecule.

    For ``settings.rescue_rounds`` rounds, each seed without a success at ``min_similarity``
    gets a new search with up to 4x the starts, a third of the jitter and fresh random numbers;
    the new candidates join the old ones. The starts are spent in ``settings.rescue_waves``
    waves (4: each the first search's size), and a seed stops after the first wave that finds
    it a success (``waves`` of :func:`search_seeds`). Its start is refined further and without
    the prior term (300 steps in the first round, 900 in the second, maximum likelihood) and
    the search may leave the prior's shell (no ``max_norm``): the seeds that find nothing are
    mostly ones the decoder cannot write from inside the shell. For the 22 benchmark seeds
    that still failed at similarity 0.4 after one round of the ordinary kind, 300 such steps
    found a molecule for 12 (the ordinary refinement: 1); greedy decoding gave the seed itself back
    for 7 of the 22, at a mean z norm of 28. ``seeds`` are the inputs of ``search``, in order.
    """
    s = settings or seed_search_settings()
    seeds = list(seeds)
    for r in range(s.rescue_rounds):
        best = search.best(min_similarity)
        retry = best.index[(~best["success"]) & (best["status"] == "ok")].to_numpy()
        if len(retry) == 0:
            break
        wider = replace(
            s,
            starts=s.starts * _RESCUE_STARTS,
            jitter=s.jitter / 3,
            refine_steps=max(s.refine_steps, 300) * 3**r,
            refine_prior_weight=0.0,
            max_norm=math.inf,
            seed=None if s.seed is None else s.seed + 7919 * (r + 1),
            rescue_rounds=0,
        )
        # A seed stops at its first wave with a success. Batches hold rescue_waves times the
        # seeds, so that with 4 waves a wave decodes as many points as a first-search batch.
        more = search_seeds(vae, [seeds[i] for i in retry], search.goal, wider,
                            batch_seeds * s.rescue_waves, min_similarity=search.scored_from,
                            waves=s.rescue_waves, success_similarity=min_similarity)
        found = more.candidates.assign(seed_index=retry[more.candidates["seed_index"].to_numpy()])
        merged = pd.concat([search.candidates, found], ignore_index=True)
        search = SeedSearch(
            search.goal, search.seeds, merged.drop_duplicates(["seed_index", "smiles"]),
            scored_from=search.scored_from,
        )
    return search


def optimize_seeds(
    vae,
    seeds: Sequence[str],
    goal: Goal,
    min_similarity: float,
    settings: SearchSettings | None = None,
    batch_seeds: int = 32,
    on_batch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Improve each seed under ``similarity >= min_similarity``; one row per seed, in order.

    See :func:`search_seeds` for the search, :func:`rescue_seeds` for the second chance given
    to seeds that found nothing, and :meth:`SeedSearch.best` for the columns.
    """
    seeds = list(seeds)
    search = search_seeds(vae, seeds, goal, settings, batch_seeds, on_batch, min_similarity)
    search = rescue_seeds(vae, seeds, search, min_similarity, settings, batch_seeds)
    return search.best(min_similarity)
