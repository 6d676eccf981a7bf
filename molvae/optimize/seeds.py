"""Improving given seed molecules under a similarity bound (``molvae optimize``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.refine import refine_latents
from molvae.optimize.goals import Goal, as_goals
from molvae.optimize.moves import (
    SOURCE_GA,
    SOURCE_SPLICE,
    Latents,
    graph_ga_children,
    splice_plan,
)
from molvae.optimize.scoring import Objective, score_molecules
from molvae.optimize.search import decode_points, trajectories
from molvae.runtime import map_chunks
from molvae.settings import DecodeSettings, OptimizeSettings, SearchSettings

# ``on_stage(name, total)`` of :func:`optimize_seeds`: called as a stage starts, it returns the
# callback the stage advances with (seeds or rounds done).
StageCallback = Callable[[str, int], Callable[[int], None]]

# Where a candidate came from (column ``source``): the gradient search, or a polish round's
# splice (SOURCE_SPLICE) or graph-GA child (SOURCE_GA).
SOURCE_LATENT = "latent-search"


@dataclass
class SeedSearch:
    """Everything one latent search around a set of seeds found, before any similarity cut.

    ``seeds`` has one row per seed (``seed``, ``status``, ``encoded_as``, ``seed_value``);
    ``candidates`` one row per distinct decoded molecule per seed (``seed_index``, ``smiles``,
    ``value``, ``similarity``, ``source``: the search or a polish round). :meth:`best` picks
    the result for a similarity bound, so a benchmark at several bounds pays for the search
    once.
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
        out["source"] = None
        cand = self.candidates
        if "source" not in cand:
            cand = cand.assign(source=SOURCE_LATENT)
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
            out.loc[idx, "source"] = top["source"].to_numpy()
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

    Tried in order: the seed; its largest fragment as given (stereo and charges kept,
    :func:`chem.largest_fragment_smiles`); its flattened form (no stereo, neutralized where
    possible, :func:`chem.flattened_smiles`); its surrogate (nitro/azide groups removed,
    other charges reduced, :func:`chem.surrogate_smiles`); the surrogate with iodine written
    as bromine, then with both as chlorine. The first form that encodes is kept; a seed none
    of them encode stays as given (and is reported with the tokens the vocabulary lacks).
    """
    forms = list(seeds)
    attempts: list[Callable[[str], str | None]] = [
        chem.largest_fragment_smiles,
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
    s = settings or OptimizeSettings()
    if not 1 <= waves <= s.starts:
        raise MolvaeError(f"waves must be between 1 and the starts ({s.starts}), got {waves}")
    wave_starts = [len(part) for part in np.array_split(np.arange(s.starts), waves)]
    bound = min_similarity if success_similarity is None else success_similarity
    if goal.name not in chem.PROPERTIES:
        raise MolvaeError(f"optimize needs an RDKit property to score, got {goal.name!r}")
    names = vae.model.config.all_properties
    objective = Objective([goal], names, vae.bundle.property_mean, vae.bundle.property_std)
    seeds = list(seeds)
    forms = _encodable_forms(vae, seeds)
    prep = vae.prepare(forms)
    mu, _ = vae.encode_dataset(prep.dataset)
    if s.refine_steps > 0 and len(mu):
        mu, _ = refine_latents(vae, prep.dataset, steps=s.refine_steps, z_init=mu,
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
            points, _ = trajectories(vae.model, z0, objective, s)
            round_seed = None if s.seed is None else s.seed + b + 7907 * w
            dec = decode_points(vae, points, s, round_seed)
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
            if not pairs:  # nothing decoded that differs from its seed: no candidate this wave
                continue
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
    on_stage: StageCallback | None = None,
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
    ``on_stage`` (see :func:`optimize_seeds`) is told of each round and its seeds.
    """
    s = settings or OptimizeSettings()
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
        advance = on_stage(f"rescue round {r + 1}", len(retry)) if on_stage else None
        more = search_seeds(vae, [seeds[i] for i in retry], search.goal, wider,
                            batch_seeds * s.rescue_waves, advance,
                            min_similarity=search.scored_from, waves=s.rescue_waves,
                            success_similarity=min_similarity)
        found = more.candidates.assign(seed_index=retry[more.candidates["seed_index"].to_numpy()])
        merged = pd.concat([search.candidates, found], ignore_index=True)
        search = SeedSearch(
            search.goal, search.seeds, merged.drop_duplicates(["seed_index", "smiles"]),
            scored_from=search.scored_from,
        )
    return search


# The share of polish splices whose prefix is a random writing of the parent (any part of it
# kept, not only its canonical string's start).
POLISH_RANDOM_WRITING = 0.5
# Parents encoded per batch (a polish is not resumed, so batches need not be of one).
POLISH_ENCODE_BATCH = 1024


def _ga_chunk(items: Sequence[tuple[dict[str, float], list[str], int, int]]) -> list[list[str]]:
    """Graph-GA children (canonical SMILES) for each (scores, parents, n, seed) item."""
    out = []
    for data, parents, n, seed in items:
        children = graph_ga_children(data, parents, n, torch.Generator().manual_seed(seed))
        out.append([c for c in children["canonical"] if isinstance(c, str)])
    return out


def polish_seeds(
    vae,
    seeds: Sequence[str],
    search: SeedSearch,
    min_similarity: float,
    settings: SearchSettings | None = None,
    on_stage: StageCallback | None = None,
) -> SeedSearch:
    """Local rounds of edits of each seed's best molecules within the similarity bound.

    For ``settings.polish_rounds`` rounds, each seed's parents are its ``polish_parents`` best
    candidates at ``similarity >= min_similarity`` and the seed itself; from them it gets
    ``polish_children`` new molecules, a ``polish_ga_share`` of them graph-GA children
    (:func:`~molvae.optimize.moves.graph_ga_children`, source ``graph-ga``) and the rest
    splices written by the decoder (:func:`~molvae.optimize.moves.splice_plan`, parent B's
    point drawn with standard deviation ``polish_radius``, source ``vae-splice``). Every new
    molecule is scored with RDKit and joins the candidates, so the next round edits the best
    so far. The gradient search moves a seed only as far as the latent predictor sees; these
    edits keep most of the best molecule and change a part, which is what a similarity bound
    rewards. ``seeds`` are the inputs of ``search``, in order. ``on_stage`` (see
    :func:`optimize_seeds`) is told of the polish and its rounds.
    """
    s = settings or OptimizeSettings()
    if s.polish_rounds <= 0 or s.polish_children <= 0:
        return search
    advance = on_stage("polish", s.polish_rounds) if on_stage else None
    goal = search.goal
    sign = -1.0 if goal.mode == "min" else 1.0
    table = search.seeds
    rows = np.flatnonzero((table["status"] == "ok").to_numpy())
    canon = {int(i): chem.canonical_smiles(seeds[i]) for i in rows}
    encoded = {int(i): (chem.canonical_smiles(table.at[i, "encoded_as"])
                        if table.at[i, "encoded_as"] else canon[int(i)]) for i in rows}
    sites = {int(i): chem.seed_sites(seeds[i]) if s.seed_sites else () for i in rows}
    n_ga = int(round(s.polish_children * s.polish_ga_share))
    n_splice = s.polish_children - n_ga
    candidates = search.candidates
    if "source" not in candidates:
        candidates = candidates.assign(source=SOURCE_LATENT)
    gen = torch.Generator().manual_seed(7727 + (s.seed if s.seed is not None else 0))
    latents = Latents(vae, batch_size=POLISH_ENCODE_BATCH)
    for _ in range(s.polish_rounds):
        good = candidates[(candidates["similarity"] >= min_similarity)
                          & np.isfinite(candidates["value"].to_numpy(dtype=float))]
        good = good.assign(rank=sign * good["value"]).sort_values(
            ["seed_index", "rank"], ascending=[True, False])
        top = good.groupby("seed_index", sort=False).head(s.polish_parents)
        by_seed = {int(i): dict(zip(g["smiles"], g["rank"], strict=True))
                   for i, g in top.groupby("seed_index")}
        pools: dict[int, dict[str, float]] = {}
        for i in rows:
            pool = by_seed.get(int(i), {})
            seed_value = float(table.at[i, "seed_value"])
            if canon[int(i)] and np.isfinite(seed_value):
                pool = {**pool, canon[int(i)]: sign * seed_value}
            if pool:
                pools[int(i)] = dict(sorted(pool.items(), key=lambda kv: -kv[1]))
        made: list[tuple[int, str, str]] = []
        if n_splice > 0:
            parents = sorted({m for pool in pools.values() for m in pool})
            ids, mus = latents.tokens(parents), latents.get(parents)
            prefixes, keep, points, owners = [], [], [], []
            for i, pool in pools.items():
                names = [m for m in pool if m in ids and m in mus]
                if not names:
                    continue
                block = torch.from_numpy(np.stack([mus[m] for m in names])).float()
                p, k, z, _ = splice_plan(vae, names, ids, block, n_splice, s.polish_radius,
                                         POLISH_RANDOM_WRITING, gen)
                prefixes += p
                keep += k
                points.append(z)
                owners += [i] * len(p)
            if points:
                seed = int(torch.randint(2**62, (1,), generator=gen))
                dec = vae.decode(torch.cat(points), DecodeSettings(strategy="sample"),
                                 seed=seed, prefix=vae.token_prefixes(prefixes, keep))
                made += [(i, c, SOURCE_SPLICE) for i, c in zip(owners, dec["canonical"],
                                                                 strict=True)
                         if isinstance(c, str)]
        if n_ga > 0:
            items = [(pool, list(pool), n_ga, int(torch.randint(2**62, (1,), generator=gen)))
                     for pool in pools.values()]
            children = map_chunks(_ga_chunk, items, chunk_size=50, min_parallel=100)
            made += [(i, c, SOURCE_GA) for i, kids in zip(pools, children, strict=True)
                     for c in kids]
        known = set(zip(candidates["seed_index"].tolist(), candidates["smiles"].tolist(),
                            strict=True))
        source: dict[tuple[int, str], str] = {}
        for src in (SOURCE_SPLICE, SOURCE_GA):
            mine = list(dict.fromkeys((i, c) for i, c, m in made if m == src and c != canon[i]
                                      and c != encoded[i]))
            # Each with its seed's charges and nitro groups too (a MOSES model's candidates).
            for pair in _with_seed_sites(mine, sites, canon, encoded):
                if pair not in known:
                    source.setdefault(pair, src)
        pairs = list(source)
        if pairs:
            scored = score_molecules([c for _, c in pairs], [goal.name],
                                     [canon[j] for j, _ in pairs], min_similarity=min_similarity)
            found = pd.DataFrame({
                "seed_index": [j for j, _ in pairs],
                "smiles": [c for _, c in pairs],
                "value": scored[goal.name].to_numpy(dtype=float),
                "similarity": scored["similarity"].to_numpy(dtype=float),
                "source": [source[p] for p in pairs],
            })
            candidates = pd.concat([candidates, found], ignore_index=True)
        if advance:
            advance(1)
    return SeedSearch(goal, table, candidates, scored_from=search.scored_from)


def optimize_seeds(
    vae,
    seeds: Sequence[str],
    goal: str | Goal,
    min_similarity: float | None = None,
    settings: SearchSettings | None = None,
    batch_seeds: int = 32,
    on_batch: Callable[[int], None] | None = None,
    on_stage: StageCallback | None = None,
) -> pd.DataFrame:
    """Improve each seed under ``similarity >= min_similarity``; one row per seed, in order.

    With the defaults (``settings`` None: :class:`OptimizeSettings`, ``min_similarity`` from it)
    this is what ``molvae optimize`` does. ``goal`` is a ``Goal`` or a spec such as ``"plogP"``.

    See :func:`search_seeds` for the search, :func:`rescue_seeds` for the second chance given
    to seeds that found nothing, :func:`polish_seeds` for the rounds of edits of the best
    molecules, and :meth:`SeedSearch.best` for the columns.

    A run takes minutes to tens of minutes, in stages of very different lengths, so progress
    is told per stage: ``on_stage(name, total)`` is called as each stage starts (``"latent
    search"`` over the seeds, ``"rescue round N"`` over the seeds it retries, ``"polish"``
    over its rounds) and returns the callback that stage advances with the seeds or rounds
    done. ``on_batch(n)``, if given, is called after each batch of the first search.
    """
    settings = settings or OptimizeSettings()
    goal = as_goals(goal, vae.model.config.all_properties)[0]
    min_similarity = settings.min_similarity if min_similarity is None else min_similarity
    seeds = list(seeds)
    advance = on_stage("latent search", len(seeds)) if on_stage else None

    def on_search_batch(n: int) -> None:
        for callback in (on_batch, advance):
            if callback:
                callback(n)

    search = search_seeds(vae, seeds, goal, settings, batch_seeds, on_search_batch,
                          min_similarity)
    search = rescue_seeds(vae, seeds, search, min_similarity, settings, batch_seeds, on_stage)
    search = polish_seeds(vae, seeds, search, min_similarity, settings, on_stage)
    return search.best(min_similarity)
