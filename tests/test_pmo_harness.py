"""The PMO benchmark harness: PMO's top_auc, budget accounting, and (when installed) its oracles.

The pure pieces live in ``benchmarks/pmo_protocol.py`` and need only numpy and RDKit; the tests
of the GuacaMol oracles and the mol-ga baseline are skipped when those packages are absent (CI
installs only ``.[dev]``).
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

protocol = importlib.import_module("pmo_protocol")
BudgetExhausted = protocol.BudgetExhausted
CountingOracle = protocol.CountingOracle
top_auc = protocol.top_auc


def pmo_reference_top_auc(buffer, top_n, finish, freq_log, max_oracle_calls):
    """``top_auc`` from wenhao-gao/mol_opt main/optimizer.py (MIT license), verbatim logic.

    ``buffer`` maps SMILES to [score, call index starting at 1].
    """
    total = 0
    prev = 0
    called = 0
    ordered = sorted(buffer.items(), key=lambda kv: kv[1][1])
    for idx in range(freq_log, min(len(buffer), max_oracle_calls), freq_log):
        temp = sorted(ordered[:idx], key=lambda kv: kv[1][0], reverse=True)[:top_n]
        top_n_now = np.mean([item[1][0] for item in temp])
        total += freq_log * (top_n_now + prev) / 2
        prev = top_n_now
        called = idx
    temp = sorted(ordered, key=lambda kv: kv[1][0], reverse=True)[:top_n]
    top_n_now = np.mean([item[1][0] for item in temp])
    total += (len(buffer) - called) * (top_n_now + prev) / 2
    if finish and len(buffer) < max_oracle_calls:
        total += (max_oracle_calls - len(buffer)) * top_n_now
    return total / max_oracle_calls


@pytest.mark.parametrize("n_calls", [1, 57, 100, 450, 1000, 1234, 3000])
@pytest.mark.parametrize("top_n", [1, 10, 100])
def test_top_auc_matches_pmo_reference(n_calls, top_n):
    rng = np.random.default_rng(n_calls + top_n)
    scores = rng.random(n_calls).tolist()
    buffer = {f"m{i}": [s, i + 1] for i, s in enumerate(scores)}
    for finish in (True, False):
        expected = pmo_reference_top_auc(buffer, top_n, finish, 100, 3000)
        assert math.isclose(top_auc(scores, top_n, 3000, 100, finish), expected, rel_tol=1e-12)


def test_top_auc_constant_run_and_padding():
    # A full run at a constant top-10 mean c: the first 100-call segment rises from 0, so 0.995c.
    assert math.isclose(top_auc([0.8] * 10_000), 0.8 * 0.995, rel_tol=1e-12)
    # A run stopping at 500 calls is padded with its last top-10 mean up to the budget.
    early = top_auc([0.5] * 500, budget=10_000)
    assert math.isclose(early, (50 * 0.5 + 400 * 0.5 + 9_500 * 0.5) / 10_000, rel_tol=1e-12)
    assert top_auc([0.5] * 500, budget=10_000, finish=False) < early
    # Later improvements count less than early ones.
    late = [0.0] * 9_000 + [1.0] * 1_000
    soon = [1.0] * 1_000 + [0.0] * 9_000
    assert top_auc(soon) > top_auc(late)
    with pytest.raises(ValueError):
        top_auc([0.1] * 11, budget=10)


def test_summary_reports_top_means_at_1k_and_at_budget():
    scores = [0.1] * 999 + [0.9] + [0.2] * 500 + [1.0]
    s = protocol.summarize(scores, budget=2_000)
    assert s["top1_1k"] == pytest.approx(0.9)
    assert s["top10_1k"] == pytest.approx((0.9 + 9 * 0.1) / 10)
    assert s["top1_end"] == pytest.approx(1.0)
    assert s["n_calls"] == len(scores)


class ToyScorer:
    """Counts what reaches the underlying oracle; scores by heavy-atom count / 20."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, smiles):
        from rdkit import Chem

        self.seen.extend(smiles)
        return [Chem.MolFromSmiles(s).GetNumHeavyAtoms() / 20 for s in smiles]


def test_repeats_and_invalid_are_free_and_canonical():
    toy = ToyScorer()
    oracle = CountingOracle(toy, budget=10)
    out = oracle(["OCC", "CCO", "C(O)C", "not a smiles", "", "c1ccccc1"])
    assert oracle.calls == 2  # ethanol once (three spellings), benzene
    assert toy.seen == ["CCO", "c1ccccc1"]  # canonical, first appearance order
    assert out[:3] == [out[0]] * 3
    assert out[3] == out[4] == 0.0
    assert oracle.n_invalid == 2 and oracle.n_repeats == 2
    out2 = oracle(["CCO", "CCCO"])
    assert oracle.calls == 3 and toy.seen[-1] == "CCCO"
    assert out2[0] == out[0]


def test_budget_is_never_exceeded_and_partial_batch_is_recorded():
    toy = ToyScorer()
    oracle = CountingOracle(toy, budget=5)
    oracle(["C", "CC", "CCC"])
    with pytest.raises(BudgetExhausted):
        oracle(["CCCC", "CCCCC", "CCCCCC", "CCCCCCC"])
    assert oracle.calls == 5 and oracle.finished
    assert oracle.smiles == ["C", "CC", "CCC", "CCCC", "CCCCC"]
    assert len(toy.seen) == 5
    # Repeats and invalid SMILES still answer after the budget; anything new raises.
    assert oracle(["CC", "xx"]) == [pytest.approx(0.1), 0.0]
    with pytest.raises(BudgetExhausted):
        oracle(["CCCCCCCC"])
    assert len(toy.seen) == 5


def test_random_search_loop_spends_exactly_the_budget():
    rng = np.random.default_rng(0)
    pool = ["C" * k for k in range(1, 40)] + ["c1ccccc1" + "C" * k for k in range(20)]
    toy = ToyScorer()
    oracle = CountingOracle(toy, budget=50)
    batches = 0
    while not oracle.finished:
        batches += 1
        try:
            oracle([pool[i] for i in rng.integers(0, len(pool), size=7)])
        except BudgetExhausted:
            break
        assert batches < 1_000
    assert oracle.calls == 50 == len(toy.seen) == len(set(toy.seen))
    assert oracle.n_repeats > 0


def test_failed_scores_cost_a_call_and_score_zero():
    oracle = CountingOracle(lambda smiles: [float("nan"), None, 0.7][: len(smiles)], budget=10)
    assert oracle(["C", "CC", "CCC"]) == [0.0, 0.0, 0.7]
    assert oracle.calls == 3 and oracle.n_failed == 2
    bad = CountingOracle(lambda smiles: [1.0], budget=10)
    with pytest.raises(ValueError, match="2 molecules"):
        bad(["C", "CC"])


def test_guacamol_oracles_score_their_targets():
    pytest.importorskip("guacamol")
    pmo = importlib.import_module("pmo")
    objectives = pmo.guacamol_objectives()
    assert set(objectives) == set(pmo.TASKS)

    def score(task, smiles):
        return pmo.task_scorer(objectives[task])([smiles])[0]

    celecoxib = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
    assert score("celecoxib_rediscovery", celecoxib) == pytest.approx(1.0)
    assert score("albuterol_similarity", "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1") == pytest.approx(1.0)
    assert score("troglitazone_rediscovery", celecoxib) < 0.5
    assert score("qed", "CCO") == pytest.approx(0.4068, abs=1e-3)
    valsartan = "CCCCC(=O)N(Cc1ccc(cc1)-c1ccccc1-c1nn[nH]n1)C(C(C)C)C(O)=O"
    assert score("valsartan_smarts", valsartan) > 0.0
    assert score("valsartan_smarts", "CCO") == 0.0


def test_graph_ga_spends_exactly_a_small_budget():
    pytest.importorskip("guacamol")
    pytest.importorskip("mol_ga")
    pmo = importlib.import_module("pmo")
    if not pmo.ZINC.exists():
        pytest.skip("ZINC-250k not available")
    objectives = pmo.guacamol_objectives()
    oracle = CountingOracle(pmo.task_scorer(objectives["qed"]), budget=200)
    extra = pmo.run_graph_ga(oracle, seed=0, args=None)
    assert oracle.calls == 200 and len(set(oracle.smiles)) == 200
    assert extra["generations"] >= 1


def test_vae_share_counts_every_source_design_marks_as_the_vae():
    pmo = importlib.import_module("pmo")
    from molvae.optimize.design import VAE_SOURCES

    assert set(pmo.VAE_SOURCES) == set(VAE_SOURCES)
    run = {"top10_sources": {"vae-splice": 6, "vae-trust-region": 3, "start": 1},
           "vae_share_top10": 0.3}
    assert pmo.vae_share(run, set(pmo.VAE_SOURCES)) == pytest.approx(0.9)
    assert pmo.vae_share({"vae_share_top10": 0.5}, set(pmo.VAE_SOURCES)) == 0.5


def test_top10_lineage_tells_graph_ga_children_of_vae_molecules_from_the_others():
    import pandas as pd

    pmo = importlib.import_module("pmo")
    calls = pd.DataFrame({
        "smiles": ["A", "B", "C", "D", "E", "F"],
        "source": ["start", "vae-prior", "graph-ga", "graph-ga", "vae-splice", "graph-ga"],
        "parents": ["", "", "A B", "A", "", "C D"],
    })
    counts = pmo.top10_lineage(calls, [5, 4, 3, 2, 1, 0], set(pmo.VAE_SOURCES))
    assert counts == {"ga-of-other": 2, "vae": 2, "ga-of-vae": 1, "start": 1}
    # A record without parents (or with none filled in) has no lineage to report.
    assert pmo.top10_lineage(calls.drop(columns="parents"), [0, 1], set(pmo.VAE_SOURCES)) is None


def test_lineage_cell_averages_the_runs_that_recorded_a_lineage_and_says_how_many():
    pmo = importlib.import_module("pmo")
    old = {"auc_top10": 0.5}  # a record from before the lineage column
    none = {"top10_lineage": None}  # a record whose calls had no parents
    assert pmo.lineage_cell([old, none]) == "-"
    runs = [{"top10_lineage": {"ga-of-vae": 4, "vae": 6}}, {"top10_lineage": {"vae": 10}}]
    assert pmo.lineage_cell(runs) == "2.0"
    assert pmo.lineage_cell([old, *runs]) == "2.0 (2 of 3 seeds)"
