from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from molvae import chem
from molvae.chem.conditions import parse_condition
from molvae.errors import MolvaeError
from molvae.generation.refine import refine_latents
from molvae.optimize.goals import Goal, parse_goal
from molvae.optimize.scoring import score_molecules
from molvae.optimize.search import generate
from molvae.optimize.seeds import SeedSearch, optimize_seeds, rescue_seeds, search_seeds
from molvae.settings import OptimizeSettings, SearchSettings

FAST = dict(starts=32, steps=12, decode_every=3, max_rounds=2, seed=0)


def test_parse_goal_forms():
    names = ["logP", "QED", "pIC50"]
    assert parse_goal("logp", names) == Goal("logP", "max")
    assert parse_goal("QED:min", names).mode == "min"
    goal = parse_goal("pIC50=7.5", names, weight=2)
    assert (goal.mode, goal.value, goal.weight) == ("target", 7.5, 2)
    with pytest.raises(MolvaeError, match="fit-property"):
        parse_goal("TPSA", names)
    with pytest.raises(MolvaeError, match="predicts: logP, QED, pIC50"):
        parse_goal("foo", names)
    with pytest.raises(MolvaeError, match="not a number"):
        parse_goal("logP=high", names)


def test_parse_condition():
    cond = parse_condition("mw<=500")
    assert (cond.name, cond.op, cond.value) == ("MW", "<=", 500.0)
    assert cond.holds(499) and not cond.holds(501) and not cond.holds(float("nan"))
    with pytest.raises(MolvaeError):
        parse_condition("MW about 5")
    with pytest.raises(MolvaeError, match="unknown property"):
        parse_condition("XYZ>1")


def test_objective_improves_along_trajectories(tiny_vae):
    """Gradient steps raise the predicted objective, and the decoded molecules follow."""
    import torch

    from molvae.optimize.scoring import Objective
    from molvae.optimize.search import trajectories

    goal = [Goal("logP", "max")]
    obj = Objective(
        goal, tiny_vae.properties, tiny_vae.bundle.property_mean, tiny_vae.bundle.property_std
    )
    z0 = torch.randn(64, tiny_vae.latent_dim, generator=torch.Generator().manual_seed(0))
    settings = SearchSettings(steps=20, decode_every=20)
    points, steps = trajectories(tiny_vae.model, z0, obj, settings)
    with torch.no_grad():
        pred = obj.predicted(tiny_vae.model.predict_properties(points), 0.0)
    assert pred[steps == 20].mean() > pred[steps == 0].mean() + 0.2
    start = tiny_vae.decode(points[steps == 0])
    end = tiny_vae.decode(points[steps == 20])

    def logp(frame):
        mols = [chem.parse_smiles(s) for s in frame["canonical"] if isinstance(s, str)]
        return np.nanmean([chem.logp(m) for m in mols])

    assert logp(end) > logp(start)


def test_generate_reports_rdkit_values_and_honours_constraints(tiny_vae):
    settings = SearchSettings(
        **FAST, max_heavy_atoms=12, conditions=[parse_condition("MW<200")], filters=["pains"]
    )
    res = generate(tiny_vae, [Goal("logP", "max")], n=10, settings=settings)
    table = res.table
    assert 0 < len(table) <= 10 and table["smiles"].is_unique
    assert (table["HeavyAtoms"] <= 12).all() and (table["MW"] < 200).all()
    assert list(table["objective"]) == sorted(table["objective"], reverse=True)
    for row in table.itertuples():
        mol = chem.parse_smiles(row.smiles)
        assert row.logP == pytest.approx(chem.logp(mol))
        assert pytest.approx(chem.molecular_weight(mol)) == row.MW
    assert "logP_uncertainty" in table.columns
    # The prediction shown is the predictor's at each molecule's own encoding (mu), where it was
    # trained, not at the search point that happened to decode the molecule.
    # A molecule whose canonical SELFIES needs tokens the model lacks has no prediction (NaN).
    col = tiny_vae.model.config.all_properties.index("logP")
    enc = tiny_vae.encode(list(table["smiles"]))
    ok = (enc["status"] == "ok").to_numpy()
    assert ok.any()
    mu = torch.tensor(enc.loc[ok, [f"z{i}" for i in range(tiny_vae.latent_dim)]].to_numpy(),
                      dtype=torch.float32)
    with torch.no_grad():
        members = tiny_vae.model.predict_properties(mu)
    expected = (members[:, :, col].mean(0).numpy() * tiny_vae.bundle.property_std[col]
                + tiny_vae.bundle.property_mean[col])
    np.testing.assert_allclose(table.loc[ok, "logP_predicted"], expected, rtol=1e-4, atol=1e-4)
    assert table.loc[~ok, "logP_predicted"].isna().all()


def test_generate_similarity_and_novelty(tiny_vae):
    seed = "CCOc1ccccc1"
    train = {"CCO"}
    settings = SearchSettings(**FAST, similar_to=seed, min_similarity=0.2, novel=True)
    res = generate(
        tiny_vae,
        [Goal("QED", "max")],
        n=5,
        settings=settings,
        is_novel=lambda smiles: np.array([s not in train for s in smiles]),
    )
    ref = chem.morgan_count_fingerprint(chem.parse_smiles(seed))
    for row in res.table.itertuples():
        sim = chem.tanimoto(ref, chem.morgan_count_fingerprint(chem.parse_smiles(row.smiles)))
        assert sim == pytest.approx(row.similarity) and sim >= 0.2
        assert row.novel and row.smiles not in train
    with pytest.raises(MolvaeError, match="--novel"):
        generate(tiny_vae, [Goal("QED", "max")], settings=SearchSettings(**FAST, novel=True))


def test_optimize_seeds_one_row_per_seed(tiny_vae):
    seeds = ["CCOc1ccccc1", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]
    out = optimize_seeds(
        tiny_vae,
        seeds,
        Goal("logP", "max"),
        0.3,
        SearchSettings(steps=8, starts=8, extra_samples=1, decode_every=2),
    )
    assert len(out) == 3 and out["seed"].tolist() == seeds
    assert out["status"][1] == "invalid SMILES" and not out["success"][1]
    for row in out[out["success"]].itertuples():
        mol = chem.parse_smiles(row.best)
        assert row.similarity >= 0.3
        assert chem.logp(mol) - row.seed_value == pytest.approx(row.improvement)
        assert row.improvement > 0
    assert (out.loc[~out["success"], "improvement"] == 0).all()


def test_optimize_seeds_encodes_charged_and_stereo_seeds_flattened(tiny_vae):
    # The tiny model's MOSES vocabulary has no stereocentres or charged atoms.
    seeds = ["C[C@@H](N)c1ccccc1", "CC[NH3+]", "CCOc1ccccc1"]
    out = optimize_seeds(
        tiny_vae, seeds, Goal("logP", "max"), 0.0,
        SearchSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0),
    )
    assert out["status"].tolist() == ["ok", "ok", "ok"]
    assert out["encoded_as"].tolist()[:2] == ["CC(N)c1ccccc1", "CCN"]
    assert pd.isna(out["encoded_as"][2])
    # Values belong to the seed as given: the ethylammonium cation, not ethylamine.
    assert out["seed_value"][1] == pytest.approx(chem.logp(chem.parse_smiles("CC[NH3+]")))
    assert not ({"CCN", "CC[NH3+]"} & set(out["best"].dropna()))


def test_seeds_the_vocabulary_cannot_write_start_from_a_surrogate(tiny_vae):
    # A nitro group has no neutral form; flattening cannot help, the surrogate drops it.
    seeds = ["Cc1ccc([N+](=O)[O-])cc1NC(=O)CCc1ccccc1", "Cc1ccc(I)cc1OCC(=O)NC"]
    assert all(r.reason.startswith("token") for r in tiny_vae.prepare(seeds).rejects.itertuples())
    out = optimize_seeds(
        tiny_vae, seeds, Goal("logP", "max"), 0.0,
        SearchSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0),
    )
    assert out["status"].tolist() == ["ok", "ok"]
    assert out["encoded_as"][0] == "Cc1ccccc1NC(=O)CCc1ccccc1"
    assert out["encoded_as"][1] in {"CNC(=O)COc1cc(Br)ccc1C", "CNC(=O)COc1cc(Cl)ccc1C"}
    assert out["success"].any()
    # Scores and similarities stay against the seeds as given.
    assert out["seed_value"][0] == pytest.approx(chem.logp(chem.parse_smiles(seeds[0])))
    for row in out[out["success"]].itertuples():
        assert row.similarity == pytest.approx(chem.similarity_to(seeds[row.Index], [row.best])[0])


def test_candidates_are_also_scored_in_the_seeds_own_form(tiny_vae):
    # The MOSES vocabulary writes neutral molecules; a protonated amine seed also gets its
    # candidates protonated like itself, each scored by RDKit like any other candidate.
    seeds = ["CCCC[NH2+]CCCC"]
    settings = SearchSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0)
    plain = search_seeds(tiny_vae, seeds, Goal("logP", "max"),
                         replace(settings, seed_sites=False)).candidates
    both = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings).candidates
    charged = both[both["smiles"].str.contains("+", regex=False)]
    assert not plain["smiles"].str.contains("+", regex=False).any()
    assert len(charged) > 0
    assert set(plain["smiles"]) <= set(both["smiles"])
    for row in charged.itertuples():
        mol = chem.parse_smiles(row.smiles)
        assert row.value == pytest.approx(chem.logp(mol))
        assert row.similarity == pytest.approx(chem.similarity_to(seeds[0], [row.smiles])[0])


def test_a_similarity_bound_skips_scoring_only_what_it_excludes(tiny_vae):
    seeds = ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    settings = SearchSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0)
    full = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings)
    bound = float(full.candidates["similarity"].median())  # half the candidates fall under it
    bounded = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings, min_similarity=bound)
    pd.testing.assert_frame_equal(full.candidates[["seed_index", "smiles", "similarity"]],
                                  bounded.candidates[["seed_index", "smiles", "similarity"]])
    close = bounded.candidates["similarity"] >= bound
    assert close.any() and (~close).any()
    assert bounded.candidates.loc[~close, "value"].isna().all()
    np.testing.assert_allclose(bounded.candidates.loc[close, "value"],
                               full.candidates.loc[close, "value"])
    pd.testing.assert_frame_equal(bounded.best(bound), full.best(bound))
    with pytest.raises(ValueError, match="cannot answer"):
        bounded.best(bound - 0.1)


def test_rescue_searches_again_only_for_seeds_that_found_nothing(tiny_vae):
    seeds = ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "not a smiles"]
    settings = SearchSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0,
                              rescue_rounds=1)
    search = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings)
    # Pretend the first search found nothing for seed 1.
    first = SeedSearch(search.goal, search.seeds,
                       search.candidates[search.candidates["seed_index"] != 1])
    missed = set(np.flatnonzero(~first.best(0.0)["success"].to_numpy()))
    assert 1 in missed
    rescued = rescue_seeds(tiny_vae, seeds, first, 0.0, settings)
    old = set(zip(first.candidates["seed_index"], first.candidates["smiles"], strict=True))
    new = set(zip(rescued.candidates["seed_index"], rescued.candidates["smiles"], strict=True))
    assert old <= new and len(new) > len(old)
    added = {i for i, _ in new - old}
    assert 1 in added and added <= missed - {3}  # only seeds that missed; never a bad one
    # No rescue rounds, no new search.
    same = rescue_seeds(tiny_vae, seeds, first, 0.0, SearchSettings(rescue_rounds=0))
    assert same.candidates.equals(first.candidates)


def test_waves_stop_a_seed_at_its_first_success(tiny_vae, monkeypatch):
    import molvae.optimize.seeds as opt

    decoded = []
    real = opt.decode_points

    def counting(vae, z, s, round_seed):
        decoded.append(len(z))
        return real(vae, z, s, round_seed)

    monkeypatch.setattr(opt, "decode_points", counting)
    seeds = ["CCO"]  # ethanol: almost any other molecule has a higher logP
    settings = SearchSettings(steps=2, starts=8, extra_samples=1, decode_every=1, seed=0)
    snapshots = 3  # the start and 2 steps
    easy = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings, waves=4)
    assert bool(easy.best(0.0)["success"].iloc[0])
    assert decoded == [2 * snapshots]  # one wave of 8 / 4 starts, then it stopped
    decoded.clear()
    # A bound no candidate can reach: every wave runs, each with its share of the starts.
    hard = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings, waves=3,
                        success_similarity=1.5)
    assert decoded == [3 * snapshots, 3 * snapshots, 2 * snapshots]
    assert len(hard.candidates) >= len(easy.candidates)
    with pytest.raises(MolvaeError, match="waves"):
        search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings, waves=9)


def test_elite_restarts_from_the_best_molecules_so_far(tiny_vae):
    from molvae.optimize.search import _elite_starts

    accepted = [{"smiles": "CCO", "objective": 0.1}, {"smiles": "c1ccccc1CCN", "objective": 2.0},
                {"smiles": "CCOC(C)=O", "objective": 1.0}]
    s = SearchSettings(elite=2)
    z = _elite_starts(tiny_vae, accepted, s)
    best_two = tiny_vae.prepare(["c1ccccc1CCN", "CCOC(C)=O"]).dataset
    assert torch.allclose(z, refine_latents(tiny_vae, best_two, steps=30)[0])
    assert _elite_starts(tiny_vae, accepted, SearchSettings(elite=0)) is None
    res = generate(tiny_vae, [Goal("logP", "max")], n=5,
                   settings=SearchSettings(**{**FAST, "max_rounds": 3}, min_rounds=3, elite=4))
    assert res.rounds == 3 and len(res.table) == 5
    assert res.table["objective"].is_monotonic_decreasing


def test_flattened_smiles():
    assert chem.flattened_smiles("C[C@H](O)Cl.[Na+].[Cl-]") == "CC(O)Cl"
    assert chem.flattened_smiles("CC(=O)[O-]") == "CC(=O)O"
    assert chem.flattened_smiles("nonsense") is None


def test_score_molecules_alerts_and_similarity():
    frame = score_molecules(
        ["O=C(C=Cc1ccccc1)c1ccc(O)cc1", "CCO"], ["QED"], ["CCO", "CCO"], filters=["brenk"]
    )
    assert frame["alerts"][0].startswith("BRENK") and frame["alerts"][1] == ""
    assert frame["similarity"][1] == pytest.approx(1.0)
    assert isinstance(frame, pd.DataFrame)


def test_generate_canonical_only_keeps_canonical_writings(tiny_vae):
    """Molecules only ever decoded from off-language strings are rejected and counted."""
    settings = SearchSettings(**FAST, canonical_only=True)
    res = generate(tiny_vae, [Goal("logP", "max")], n=1000, settings=settings)
    off = res.rejected.get("not in canonical form", 0)
    assert off > 0 and len(res.table) > 0
    assert res.unique_valid == res.evaluated + off
    every = generate(tiny_vae, [Goal("logP", "max")], n=1000, settings=SearchSettings(**FAST))
    assert "not in canonical form" not in every.rejected
    # Same trajectories (same seed): the kept molecules are the unconstrained ones minus those
    # never written in canonical form.
    assert set(res.table["smiles"]) < set(every.table["smiles"])
    assert len(every.table) - len(res.table) == off


def test_polish_rounds_add_scored_edits_of_the_best_molecules(tiny_vae):
    from molvae.optimize.moves import SOURCE_GA, SOURCE_SPLICE
    from molvae.optimize.seeds import SOURCE_LATENT, polish_seeds

    seeds = ["CCOc1ccccc1", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]
    settings = OptimizeSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0,
                                rescue_rounds=0, polish_rounds=2, polish_children=12)
    goal = Goal("logP", "max")
    search = search_seeds(tiny_vae, seeds, goal, settings, min_similarity=0.3)
    polished = polish_seeds(tiny_vae, seeds, search, 0.3, settings)
    old, cand = search.candidates, polished.candidates
    pd.testing.assert_frame_equal(cand.iloc[: len(old)].drop(columns="source"), old)
    new = cand.iloc[len(old):]
    assert (cand.iloc[: len(old)]["source"] == SOURCE_LATENT).all()
    assert set(new["source"]) == {SOURCE_SPLICE, SOURCE_GA}
    assert not new.duplicated(["seed_index", "smiles"]).any()
    assert set(new["seed_index"]) <= {0, 2}  # the invalid seed has nothing to edit
    for row in new.sample(min(len(new), 25), random_state=0).itertuples():
        seed = seeds[row.seed_index]
        assert row.smiles != chem.canonical_smiles(seed)
        assert row.similarity == pytest.approx(chem.similarity_to(seed, [row.smiles])[0])
        if row.similarity >= 0.3:
            assert row.value == pytest.approx(chem.logp(chem.parse_smiles(row.smiles)))
    # Candidates only grow, so no seed's best gets worse; the same seed gives the same edits.
    before, after = search.best(0.3), polished.best(0.3)
    assert (after["improvement"] >= before["improvement"]).all()
    again = polish_seeds(tiny_vae, seeds, search, 0.3, settings).candidates
    pd.testing.assert_frame_equal(again, cand)


@pytest.mark.parametrize(("share", "sources"), [(0.0, {"vae-splice"}), (1.0, {"graph-ga"})])
def test_polish_ga_share_chooses_the_kind_of_edit(tiny_vae, share, sources):
    from molvae.optimize.seeds import polish_seeds

    seeds = ["CCOc1ccccc1"]
    settings = OptimizeSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0,
                                rescue_rounds=0, polish_rounds=1, polish_children=10,
                                polish_ga_share=share)
    search = search_seeds(tiny_vae, seeds, Goal("logP", "max"), settings)
    new = polish_seeds(tiny_vae, seeds, search, 0.0, settings).candidates.iloc[
        len(search.candidates):]
    assert len(new) > 0 and set(new["source"]) == sources
    none = polish_seeds(tiny_vae, seeds, search, 0.0, replace(settings, polish_rounds=0))
    assert none is search


def test_optimize_reports_progress_per_stage(tiny_vae):
    """Each stage announces itself with its size and is advanced up to it: the search over the
    usable seeds, a rescue round over the seeds it retries, the polish over its rounds."""
    seeds = ["CCOc1ccccc1", "not a smiles", "CC(=O)Nc1ccc(O)cc1", "c1ccccc1O"]
    stages: list[list] = []

    def on_stage(name: str, total: int):
        stages.append([name, total, 0])
        return lambda n: stages[-1].__setitem__(2, stages[-1][2] + n)

    settings = OptimizeSettings(steps=4, starts=4, extra_samples=1, decode_every=2, seed=0,
                                rescue_rounds=1, polish_rounds=2, polish_children=6)
    out = optimize_seeds(tiny_vae, seeds, Goal("logP", "max"), 0.9, settings, batch_seeds=2,
                         on_stage=on_stage)
    names = [s[0] for s in stages]
    assert names[0] == "latent search" and names[-1] == "polish"
    assert stages[0][1:] == [4, 3]  # three of the four seeds are usable
    assert stages[-1][1:] == [2, 2]
    # At similarity 0.9 some seed finds nothing in the first search, so a rescue round runs
    # over those seeds (all usable: each is advanced).
    assert names[1:-1] == ["rescue round 1"]
    assert 1 <= stages[1][1] <= 3 and stages[1][2] == stages[1][1]
    # The same run without callbacks gives the same result.
    pd.testing.assert_frame_equal(
        out, optimize_seeds(tiny_vae, seeds, Goal("logP", "max"), 0.9, settings, batch_seeds=2))
