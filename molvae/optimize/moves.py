"""Edits of good molecules, shared by ``design`` and ``optimize``'s polish rounds.

- Splices, written by the VAE's decoder (:func:`splice_plan`): the decoder is made to write the
  first tokens of one parent's string and writes the rest by sampling from a point near another
  parent's encoding (or the same one's). The molecules stay in the language the model learned.
- Graph-GA children (:func:`graph_ga_children`): Jensen's graph crossovers and mutations
  (Chem. Sci. 2019) as the ``mol-ga`` package implements them; they reach edits the decoder
  does not write. They are not the VAE's proposals, and callers record them as such.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae import chem

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE

# Graph GA's blend of operators, as mol-ga's ``graph_ga_blended_generation`` has it: each
# parent drawn is mutated alone with this probability, else crossed with another parent drawn
# (the child then mutated with probability GA_CROSSOVER_MUTATION).
GA_MUTATE_SHARE = 0.10
GA_CROSSOVER_MUTATION = 1e-2
# Where a molecule came from, as the calls of ``design`` and the candidates of ``optimize`` say.
SOURCE_SPLICE = "vae-splice"
SOURCE_GA = "graph-ga"  # not the VAE's proposal


def _cached(
    cache: dict[str, np.ndarray | None],
    smiles: Sequence[str],
    compute: Callable[[list[str]], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """``compute`` for the molecules ``cache`` lacks (None where it gives nothing), then the
    cached values of ``smiles`` that are not None."""
    todo = [s for s in smiles if s not in cache]
    if todo:
        found = compute(todo)
        for s in todo:
            cache[s] = found.get(s)
    return {s: cache[s] for s in smiles if cache.get(s) is not None}


class Latents:
    """Encodings (mu) of parent molecules, computed once each; None for those that cannot be.
    Also their token ids (:meth:`tokens`), the prefixes of splices.

    ``batch_size`` 1 (the default) encodes each molecule alone: a batch's composition changes
    its members' encodings in the last digits (more under bf16), and which molecules are new
    in a round of ``design`` differs between a run and its resumed copy, which must propose
    the same points. Without resuming (``optimize``'s polish) larger batches are faster.
    """

    def __init__(self, vae: MolVAE, batch_size: int = 1):
        self.vae = vae
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray | None] = {}
        self.token_cache: dict[str, np.ndarray | None] = {}

    def tokens(self, smiles: Sequence[str]) -> dict[str, np.ndarray]:
        return _cached(self.token_cache, smiles, self.vae.token_ids)

    def get(self, smiles: Sequence[str]) -> dict[str, np.ndarray]:
        return _cached(self.cache, smiles, self._encode)

    def _encode(self, smiles: list[str]) -> dict[str, np.ndarray]:
        prep = self.vae.prepare(smiles, flatten=True)
        mu = (self.vae.encode_dataset(prep.dataset, batch_size=self.batch_size)[0].numpy()
              if len(prep.dataset) else [])
        return {smiles[r]: m for r, m in zip(prep.dataset.rows.tolist(), mu, strict=True)}


def splice_plan(
    vae: MolVAE,
    names: Sequence[str],
    ids: dict[str, np.ndarray],
    mus: torch.Tensor,
    n: int,
    radius: float,
    random_writing: float,
    gen: torch.Generator,
) -> tuple[list[np.ndarray], list[int], torch.Tensor, int]:
    """What :meth:`MolVAE.decode` needs to write ``n`` splices of ``names`` (best first).

    ``ids`` holds each parent's token ids and ``mus`` (one row per name) its encoding. Each
    child has two parents drawn with weights 1/sqrt(rank), independently (so sometimes the
    same one): the first ``k`` tokens of parent A's string (``k`` uniform from 1 to its
    length; with probability ``random_writing`` the string is a random writing of A, starting
    at another atom, so any part of the molecule can be kept) and a point drawn around parent
    B's encoding with standard deviation ``radius``. With A = B that rewrites the end of one
    molecule (a mutation), else it joins the start of one to what the other's encoding says
    (a crossover). Returns the prefixes' token ids, how many of each to keep, the points and a
    seed for the decoder's sampling; deterministic given ``gen``.
    """
    weights = torch.from_numpy(1.0 / np.sqrt(np.arange(1, len(names) + 1))).float()
    a = torch.multinomial(weights, n, replacement=True, generator=gen)
    b = torch.multinomial(weights, n, replacement=True, generator=gen)
    prefixes = [ids[names[i]] for i in a.tolist()]
    if random_writing > 0:
        chosen = (torch.rand(n, generator=gen) < random_writing).numpy()
        by_parent: dict[int, list[int]] = {}
        for i in np.flatnonzero(chosen):
            by_parent.setdefault(int(a[i]), []).append(int(i))
        for parent, rows in sorted(by_parent.items()):
            seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
            writings = vae.random_writing_ids(names[parent], len(rows), seed)
            for i, w in zip(rows, writings, strict=False):
                prefixes[i] = w
    u = torch.rand(n, generator=gen).numpy()
    keep = [1 + int(x * len(row)) for x, row in zip(u, prefixes, strict=True)]
    z = mus[b] + radius * torch.randn(n, mus.shape[1], generator=gen)
    seed = int(torch.randint(2**62, (1,), generator=gen))
    return prefixes, keep, z, seed


def graph_ga_children(
    data: dict[str, float], parents: list[str], n: int, gen: torch.Generator
) -> pd.DataFrame:
    """Up to ``n`` graph-GA children of ``parents`` (the best molecules, scored in ``data``), as
    a frame like :meth:`MolVAE.decode`'s plus ``parents`` (each child's parents,
    space-separated).

    Blended the way mol-ga's ``graph_ga_blended_generation`` blends its ``mutate`` and
    ``reproduce``, with the same random draws in the same order; parents are drawn by score
    quantile as mol-ga draws its mating pool. Done here rather than by that function so that
    each child's parents are known. Deterministic given ``gen``."""
    from mol_ga.graph_ga.gen_candidates import mutate, reproduce
    from mol_ga.sample_population import uniform_quantile_sampling

    rng = random.Random(int(torch.randint(2**62, (1,), generator=gen)))
    population = [(data[m], m) for m in parents]
    samples = uniform_quantile_sampling(population, n, rng)
    try:
        alone, crossed = [], []
        for smiles in samples:
            (alone if rng.random() < GA_MUTATE_SHARE else crossed).append(smiles)
        alone = alone[: int(n * GA_MUTATE_SHARE + 1)]
        made = [(mutate(m, rng), m) for m in alone]
        partners = list(crossed)
        rng.shuffle(partners)
        made += [
            (reproduce(a, b, GA_CROSSOVER_MUTATION, rng), f"{a} {b}")
            for a, b in zip(crossed[: n - len(made)], partners, strict=False)
        ]
    finally:
        # mol-ga silences RDKit's logging at each call: back to molvae's choice
        # (MOLVAE_RDKIT_LOG), also when it raises.
        chem.set_rdkit_logging(None)
    lineage: dict[str, str] = {}
    for child, parent_smiles in made:
        if child is not None:
            lineage.setdefault(child, parent_smiles)  # the first pair that made it
    children = sorted(lineage)
    canonical = chem.canonicalize(children, n_jobs=1)
    return pd.DataFrame({
        "smiles": children, "canonical": canonical, "valid": [c is not None for c in canonical],
        "canonical_form": True,  # not written by the model: canonical_only does not apply
        "parents": [lineage[c] for c in children],
    })
