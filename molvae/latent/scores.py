"""Per-molecule ELBO terms: an out-of-distribution score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae.data.encoding import collate
from molvae.errors import MolvaeError
from molvae.models.vae import kl_divergence

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE


ELBO_CHUNK = 50_000  # input molecules prepared at a time: memory stays flat on large files


@torch.no_grad()
def elbo(
    vae: MolVAE,
    smiles: Sequence[str],
    samples: int = 0,
    batch_size: int = 256,
    seed: int = 0,
    strict: bool = False,
) -> pd.DataFrame:
    """Per-molecule ELBO terms; one row per input, in order, rejected inputs included.

    Columns: ``smiles``, ``canonical``, ``encoded_as`` (the SMILES scored: the flattened form of
    a molecule the model cannot write as given, see :meth:`MolVAE.prepare`; with ``strict``
    such molecules are rejected instead), ``status`` (``ok`` or why the molecule cannot be
    scored: invalid SMILES, tokens outside the vocabulary, too long), ``tokens`` (sequence
    length with the end token), ``recon_ll_mu`` (teacher-forced log p(x | z = mu), summed over
    tokens), ``recon_ll`` (the ELBO's reconstruction term: ``recon_ll_mu`` when ``samples`` is
    0, else the mean of log p(x | z_k) over ``samples`` draws z_k ~ q(z | x)), ``kl`` (KL of
    q(z | x) to the N(0, I) prior, analytic), ``neg_elbo = kl - recon_ll`` and
    ``neg_elbo_per_token``. Higher ``neg_elbo`` means less like the training data; it grows with
    length, so compare molecules of similar size or use the per-token column.

    Computed in fp32 (no mixed precision) so scores are comparable across machines, in batches
    of ``batch_size`` molecules sorted by length (little padding); ``seed`` fixes the posterior
    draws.
    """
    if samples < 0:
        raise MolvaeError(f"--samples must be 0 or more, got {samples}")
    if batch_size < 1:
        raise MolvaeError(f"batch size must be at least 1, got {batch_size}")
    smiles = list(smiles)
    gen = torch.Generator(device=vae.device)
    gen.manual_seed(seed)
    parts = [
        _elbo_chunk(vae, smiles[start : start + ELBO_CHUNK], samples, batch_size, gen, strict)
        for start in range(0, len(smiles), ELBO_CHUNK)
    ]
    if not parts:
        return _elbo_frame([], None, [], np.zeros((0, 4)), samples)
    return pd.concat(parts, ignore_index=True)


_ELBO_VALUES = ["tokens", "recon_ll_mu", "recon_ll", "kl"]


def _elbo_chunk(
    vae: MolVAE,
    smiles: list[str],
    samples: int,
    batch_size: int,
    gen: torch.Generator,
    strict: bool = False,
) -> pd.DataFrame:
    prep = vae.prepare(smiles, flatten=not strict)
    ds = prep.dataset
    values = np.full((len(ds), len(_ELBO_VALUES)), np.nan)
    order = np.argsort(ds.lengths, kind="stable")
    model = vae.model
    for start in range(0, len(ds), batch_size):
        index = order[start : start + batch_size]
        batch = collate(ds, index).to(vae.device)
        mu, logvar = model.encode(batch.tokens, batch.lengths)
        mu, logvar = mu.float(), logvar.float()
        ll_mu = model.sequence_log_likelihood(mu, batch.decoder_inputs, batch.targets)
        if samples:
            ll = torch.zeros_like(ll_mu)
            for _ in range(samples):
                z = model.reparameterize(mu, logvar, generator=gen)
                ll += model.sequence_log_likelihood(z, batch.decoder_inputs, batch.targets)
            ll /= samples
        else:
            ll = ll_mu
        kl = kl_divergence(mu, logvar).sum(dim=1)
        values[index] = torch.stack(
            [batch.lengths.float(), ll_mu, ll, kl], dim=1
        ).cpu().double().numpy()
    # Position in this chunk of each encoded molecule (prepare's rows are 0-based positions).
    return _elbo_frame(smiles, prep, ds.rows, values, samples)


def _elbo_frame(
    smiles: list[str], prep, rows: Sequence[int], values: np.ndarray, samples: int
) -> pd.DataFrame:
    n = len(smiles)
    full = np.full((n, len(_ELBO_VALUES)), np.nan)
    rows = np.asarray(rows, dtype=np.int64)
    full[rows] = values
    canonical = pd.Series([None] * n, dtype=object)
    encoded_as = pd.Series([None] * n, dtype=object)
    status = pd.Series(["ok"] * n, dtype=object)
    if prep is not None:
        canonical[rows] = [prep.canonical[r] for r in rows.tolist()]
        encoded_as[rows] = prep.dataset.smiles
        status[prep.rejects["row"].to_numpy()] = prep.rejects["reason"].to_numpy()
    frame = pd.DataFrame(
        {"smiles": smiles, "canonical": canonical, "encoded_as": encoded_as, "status": status}
    )
    for j, name in enumerate(_ELBO_VALUES):
        frame[name] = full[:, j]
    frame["tokens"] = frame["tokens"].astype("Int64")
    frame["neg_elbo"] = frame["kl"] - frame["recon_ll"]
    frame["neg_elbo_per_token"] = frame["neg_elbo"] / frame["tokens"].astype(float)
    frame.attrs["samples"] = samples
    return frame
