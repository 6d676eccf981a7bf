"""Design's other moves. Blend crossover: children lie between two good molecules' encodings,
are proposed only once two centres exist, and keep within the budget like every other proposal.
Fine-tuning: it changes a copy of the VAE (never the caller's), and a resumed run repeats it,
so it makes the calls the uninterrupted run made."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
                              crossover_share=0.5, splice_share=0.0)
    result = design(oracle, 30, model=vae, settings=settings, seed=3,
                    record=tmp_path / "calls.csv")
    assert result.n_calls == len(sent) == len(set(sent)) == 30
    sources = result.calls["source"]
    # The first round has no scores to cross: prior draws only; later rounds cross.
    assert set(sources[result.calls["round"] == 1]) == {"vae-prior"}
    assert (sources == SOURCE_CROSS).sum() > 0


class Killed(BaseException):
    """A process killed mid-run: not an Exception, so nothing catches it."""


def heavy_atoms(smiles: list[str], sent: list[str], kill_after: int | None = None) -> list[float]:
    if kill_after is not None and len(sent) + len(smiles) > kill_after:
        raise Killed
    sent.extend(smiles)
    return [float(chem.heavy_atoms(chem.parse_smiles(s))) for s in smiles]


TUNE = DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200, tune_every=1,
                      tune_steps=2, tune_batch=4, tune_lr=1e-3)


def test_fine_tuning_changes_a_copy_and_a_resumed_run_repeats_it(vae, tmp_path):
    before = {k: v.clone() for k, v in vae.model.state_dict().items()}
    whole: list[str] = []
    design(lambda m: heavy_atoms(m, whole), 30, model=vae, settings=TUNE, seed=5,
           record=tmp_path / "whole.csv")
    assert all(torch.equal(before[k], v) for k, v in vae.model.state_dict().items())
    # Without fine-tuning the same seed makes other calls: the fine-tunes changed the proposals.
    plain: list[str] = []
    design(lambda m: heavy_atoms(m, plain), 30, model=vae,
           settings=DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200),
           seed=5, record=tmp_path / "plain.csv")
    assert plain[:10] == whole[:10] and plain != whole
    # Killed in the third round, resumed: the calls are those of the uninterrupted run.
    first: list[str] = []
    record = tmp_path / "calls.csv"
    with pytest.raises(Killed):
        design(lambda m: heavy_atoms(m, first, kill_after=25), 30, model=vae, settings=TUNE,
               seed=5, record=record)
    second: list[str] = []
    resumed = design(lambda m: heavy_atoms(m, second), 30, model=vae, settings=TUNE, seed=5,
                     record=record, resume=True)
    assert 0 < resumed.resumed == len(first) < 30 and first + second == whole


def test_the_replayed_trust_region_counts_empty_and_failed_rounds():
    from molvae.optimize.design import _replay_region

    s = DesignSettings(radius=0.4, min_radius=0.1, max_radius=1.6, failure_rounds=2)

    def row(round_: int, status: str = "ok", score: float = 1.0, source: str = "vae-prior"):
        return {"round": round_, "status": status, "score": score, "source": source}

    # Round 1 holds start molecules; round 3 is missing (no new candidate): the radius doubled.
    calls = [row(1, source="start"), row(2, score=2.0), row(4, score=3.0)]
    assert _replay_region(calls, {}, s).radius == 0.8
    # A round whose every call failed is a round without improvement: two of them halve it.
    calls = [row(1, score=2.0), row(2, "failed", float("nan")), row(3, "failed", float("nan"))]
    region = _replay_region(calls, {}, s)
    assert region.radius == 0.2 and region.best == 2.0


def test_sampled_decoding_keeps_a_small_trust_region_productive_and_runs_reproducibly(
    vae, tmp_path
):
    """Around a few good molecules at the smallest radius, greedy decoding writes them back
    and little else; sampling at a temperature writes molecules not scored yet. A run that
    decodes by sampling is as reproducible as a greedy one."""
    from molvae.optimize.design import _propose
    from molvae.optimize.moves import Latents

    start = ["CCOc1ccc(C(=O)Nc2ccccc2)cc1", "Cc1ccc(S(=O)(=O)N2CCCC2)cc1", "O=C(O)c1ccccc1O"]
    data = {chem.canonical_smiles(s): 1.0 for s in start}
    known = set(data)
    found = {}
    for temperature in (0.0, 1.0):
        s = DesignSettings(pool_size=300, centers=3, prior_share=0.0, splice_share=0.0,
                           ga_share=0.0, canonical_only=True,
                           decode_temperature=temperature)  # fmt: skip
        pool = _propose(vae, s, data, known, Latents(vae), _Region(radius=0.05), [], 7, {})
        found[temperature] = len(pool)
    assert found[1.0] > 3 * max(found[0.0], 1)

    def oracle(smiles: list[str]) -> list[float]:
        return [float(chem.heavy_atoms(chem.parse_smiles(s))) for s in smiles]

    settings = DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200,
                              decode_temperature=0.8)  # fmt: skip
    runs = [design(oracle, 30, model=vae, settings=settings, seed=5,
                   record=tmp_path / f"calls{i}.csv").calls for i in range(2)]  # fmt: skip
    assert runs[0]["smiles"].tolist() == runs[1]["smiles"].tolist()
    assert len(set(runs[0]["smiles"])) == 30
    with pytest.raises(MolvaeError, match="decode_temperature"):
        DesignSettings(decode_temperature=-1)


def test_splices_start_with_a_good_molecules_tokens_and_are_recorded_as_vae_proposals(
    vae, tmp_path
):
    """A splice is decoded after the first tokens of one centre's string, so every spliced
    string starts like one of the centres; with canonical_only off, valid molecules the model
    wrote in another form join the pool too. A run with splices keeps the budget, records
    them as a VAE source and is reproducible."""
    from molvae.optimize.design import SOURCE_GA, SOURCE_SPLICE, VAE_SOURCES, _splices
    from molvae.optimize.moves import Latents

    start = ["CCOc1ccc(C(=O)Nc2ccccc2)cc1", "Cc1ccc(S(=O)(=O)N2CCCC2)cc1", "O=C(O)c1ccccc1O"]
    start = [chem.canonical_smiles(s) for s in start]
    latents = Latents(vae)
    centres = latents.get(start)
    ids = vae.token_ids(start)
    seen = {}

    class Spy:  # the model, recording the prefixes it is asked to decode after
        def __getattr__(self, name):
            return getattr(vae, name)

        def decode(self, z, settings, **kw):
            seen["prefix"] = kw["prefix"]
            return vae.decode(z, settings, **kw)

    s = DesignSettings(pool_size=200, splice_share=1.0, prior_share=0.0, ga_share=0.0)
    out = _splices(Spy(), centres, latents, 200, _Region(radius=0.1), s,
                   torch.Generator().manual_seed(0))
    assert len(out) == 200 and out["valid"].mean() > 0.9
    lengths = []
    for row in seen["prefix"].tolist():
        forced = [t for t in row if t != 0]
        lengths.append(len(forced))
        assert forced and any(list(ids[m][: len(forced)]) == forced for m in start)
    assert min(lengths) == 1 and max(lengths) > 10  # short and long prefixes both occur
    # Splices write molecules not among the centres, some not in canonical form.
    assert len(set(out["canonical"].dropna()) - set(start)) > 20
    assert not out["canonical_form"].all()

    def oracle(smiles: list[str]) -> list[float]:
        return [float(chem.heavy_atoms(chem.parse_smiles(m))) for m in smiles]

    settings = DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200,
                              splice_share=0.5, canonical_only=False)
    runs = [design(oracle, 30, model=vae, settings=settings, seed=2,
                   record=tmp_path / f"calls{i}.csv").calls for i in range(2)]  # fmt: skip
    assert runs[0]["smiles"].tolist() == runs[1]["smiles"].tolist()
    assert len(set(runs[0]["smiles"])) == 30
    assert (runs[0]["source"] == SOURCE_SPLICE).sum() > 0
    assert set(runs[0]["source"]) <= {*VAE_SOURCES, SOURCE_GA}


def test_splice_parents_reach_beyond_the_trust_region_centres(vae):
    """With one centre and splice_parents=3, splices start like any of the three best."""
    from molvae.optimize.design import _propose
    from molvae.optimize.moves import Latents

    start = ["CCOc1ccc(C(=O)Nc2ccccc2)cc1", "Cc1ccc(S(=O)(=O)N2CCCC2)cc1", "O=C(O)c1ccccc1O"]
    data = {chem.canonical_smiles(m): 3.0 - i for i, m in enumerate(start)}
    ids = vae.token_ids(list(data))
    used = {}
    seen: list = []

    class Spy:  # the model, recording the prefixes it is asked to decode after
        def __getattr__(self, name):
            return getattr(vae, name)

        def decode(self, z, settings, **kw):
            if kw.get("prefix") is not None:
                seen.append(kw["prefix"])
            return vae.decode(z, settings, **kw)

    for parents in (1, 3):
        seen.clear()
        s = DesignSettings(pool_size=300, centers=1, prior_share=0.0, splice_share=1.0,
                           ga_share=0.0, splice_parents=parents)
        _propose(Spy(), s, data, set(data), Latents(vae), _Region(radius=0.1), [], 1, {})
        rows = [[t for t in row if t != 0] for row in seen[0].tolist()]
        # The parents each prefix can come from (its tokens start that parent's string).
        used[parents] = [{m for m in data if list(ids[m][: len(r)]) == r} for r in rows]
    best = max(data, key=data.get)
    assert all(best in options for options in used[1])
    assert sum(best not in options for options in used[3]) > 50


def test_splice_settings_are_checked():
    with pytest.raises(MolvaeError, match="splice_parents"):
        DesignSettings(splice_parents=0)
    with pytest.raises(MolvaeError, match="splice_share"):
        DesignSettings(splice_share=-0.1)
    with pytest.raises(MolvaeError, match="splice_temperature"):
        DesignSettings(splice_temperature=0)
    with pytest.raises(MolvaeError, match="add up"):
        DesignSettings(prior_share=0.5, splice_share=0.6)


def test_random_writings_spell_the_same_molecule_from_other_starts(vae):
    """Random writings are other strings of the same molecule, so splices after them keep
    other parts of it; with splice_random_writing=1 the prefixes are not all canonical ones."""
    from molvae.optimize.design import _splices
    from molvae.optimize.moves import Latents

    smiles = chem.canonical_smiles("CCOc1ccc(C(=O)Nc2ccccc2)cc1")
    writings = vae.random_writing_ids(smiles, 20, seed=4)
    assert len(writings) == 20
    vocab, tokenizer = vae.bundle.vocabulary, vae.tokenizer
    texts = [tokenizer.detokenize(vocab.decode(w.tolist() + [2])) for w in writings]
    assert {chem.canonical_smiles(tokenizer.to_smiles(t)) for t in texts} == {smiles}
    assert len({tuple(w[:3]) for w in writings}) > 3  # they start at different atoms
    assert vae.random_writing_ids(smiles, 20, seed=4)[0].tolist() == writings[0].tolist()
    latents = Latents(vae)
    canonical = vae.token_ids([smiles])[smiles].tolist()
    seen: list = []

    class Spy:
        def __getattr__(self, name):
            return getattr(vae, name)

        def decode(self, z, settings, **kw):
            seen.append(kw["prefix"])
            return vae.decode(z, settings, **kw)

    s = DesignSettings(splice_share=1.0, prior_share=0.0, ga_share=0.0,
                       splice_random_writing=1.0)
    out = _splices(Spy(), latents.get([smiles]), latents, 100, _Region(radius=0.1), s,
                   torch.Generator().manual_seed(0))
    assert out["valid"].all()
    rows = [[t for t in row if t != 0] for row in seen[0].tolist()]
    assert sum(r != canonical[: len(r)] for r in rows) > 50
    with pytest.raises(MolvaeError, match="splice_random_writing"):
        DesignSettings(splice_random_writing=2)


def test_graph_ga_children_are_valid_new_molecules_made_from_the_parents(vae, tmp_path):
    """ga_share adds graph-GA edits of the best molecules to the pool: valid molecules,
    reproducible from the generator, recorded as graph-ga with their parents and not counted as
    VAE proposals; a run with them keeps the budget."""
    from molvae.optimize.design import SOURCE_GA, VAE_SOURCES
    from molvae.optimize.moves import graph_ga_children

    parents = ["CCOc1ccc(C(=O)Nc2ccccc2)cc1", "Cc1ccc(S(=O)(=O)N2CCCC2)cc1",
               "O=C(O)c1ccccc1O", "CN1CCN(c2ccc(F)cc2)CC1"]
    data = {chem.canonical_smiles(m): float(i) for i, m in enumerate(parents)}
    one = graph_ga_children(data, list(data), 60, torch.Generator().manual_seed(4))
    two = graph_ga_children(data, list(data), 60, torch.Generator().manual_seed(4))
    assert one.equals(two) and 20 < len(one) <= 60
    assert one["valid"].all() and len(set(one["canonical"]) - set(data)) > 10
    assert SOURCE_GA not in VAE_SOURCES
    # Each child names its parent (a mutation) or two (a crossover), all of them parents given.
    named = one["parents"].str.split(" ")
    assert named.map(len).isin([1, 2]).all() and (named.map(len) == 2).any()
    assert set(named.explode()) <= set(data)

    def oracle(smiles: list[str]) -> list[float]:
        return [float(chem.heavy_atoms(chem.parse_smiles(m))) for m in smiles]

    settings = DesignSettings(batch_size=10, pool_size=60, centers=4, max_train=200,
                              splice_share=0.3, ga_share=0.5, tune_every=0)
    calls = design(oracle, 40, model=vae, settings=settings, seed=2,
                   record=tmp_path / "calls.csv").calls
    assert len(calls) == 40 and calls["smiles"].is_unique
    ga = calls[calls["source"] == SOURCE_GA]
    assert len(ga) > 0 and (calls.loc[calls["source"] != SOURCE_GA, "parents"] == "").all()
    # A GA child's parents were scored before it.
    for call, mothers in zip(ga["call"], ga["parents"], strict=True):
        assert set(mothers.split(" ")) <= set(calls.loc[calls["call"] < call, "smiles"])
    assert pd.read_csv(tmp_path / "calls.csv", keep_default_na=False)["parents"].tolist() == (
        calls["parents"].tolist()
    )
    with pytest.raises(MolvaeError, match="ga_share"):
        DesignSettings(ga_share=1.5)
    with pytest.raises(MolvaeError, match="add up"):
        DesignSettings(splice_share=0.5, ga_share=0.6)
