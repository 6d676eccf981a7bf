"""Blend crossover in design: children lie between two good molecules' encodings, are proposed
only once two centres exist, and keep within the budget like every other proposal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.optimize.design import BLEND_ALPHA, SOURCE_CROSS, _blend_children, _Region, design
from molvae.settings import DesignSettings


def test_blend_children_lie_on_the_segment_between_two_distinct_centres():
    mus = np.stack([np.zeros(8), np.ones(8) * 4.0, np.full(8, -4.0)]).astype(np.float32)
    gen = torch.Generator().manual_seed(0)
    # Noise off (radius 0): each child is exactly a + t (b - a) for two of the centres.
    children = _blend_children(mus, 500, _Region(radius=0.0), gen).numpy()
    ok = 0
    for c in children:
        for i in range(3):
            for j in range(3):
                if i == j:
                    continue
                d = mus[j] - mus[i]
                t = float(np.dot(c - mus[i], d) / np.dot(d, d))
                if np.allclose(mus[i] + t * d, c, atol=1e-5) and (
                    -BLEND_ALPHA - 1e-6 <= t <= 1 + BLEND_ALPHA + 1e-6
                ):
                    ok += 1
                    break
            else:
                continue
            break
    assert ok == len(children)
    # Both ends are reached and the midpoints between the two far centres are used too.
    assert (np.abs(children.mean(axis=1)) < 0.5).any()
    assert (children.mean(axis=1) > 3.5).any() and (children.mean(axis=1) < -3.5).any()


def test_the_best_centre_is_a_parent_most_often():
    mus = np.eye(4, dtype=np.float32) * 10
    children = _blend_children(mus, 2000, _Region(radius=0.0), torch.Generator().manual_seed(1))
    # The parents of a child are the centres with the largest weights in it.
    top_two = torch.topk(children.abs(), 2, dim=1).indices.numpy()
    counts = np.bincount(top_two.ravel(), minlength=4)
    assert counts[0] > counts[3]


def test_crossover_share_is_checked():
    with pytest.raises(MolvaeError, match="crossover_share"):
        DesignSettings(crossover_share=1.5)


@pytest.fixture(scope="module")
def vae():
    from molvae.generation.model import MolVAE

    return MolVAE.load(device="cpu")


def test_design_with_crossover_proposes_children_and_keeps_the_budget(vae, tmp_path):
    sent: list[str] = []

    def oracle(smiles: list[str]) -> list[float]:
        sent.extend(smiles)
        return [float(chem.heavy_atoms(chem.parse_smiles(s))) for s in smiles]

    settings = DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200,
                              crossover_share=0.5)
    result = design(oracle, 30, model=vae, settings=settings, seed=3,
                    record=tmp_path / "calls.csv")
    assert result.n_calls == len(sent) == len(set(sent)) == 30
    sources = result.calls["source"]
    # The first round has no scores to cross: prior draws only; later rounds cross.
    assert set(sources[result.calls["round"] == 1]) == {"vae-prior"}
    assert (sources == SOURCE_CROSS).sum() > 0
