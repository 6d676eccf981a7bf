"""MOSES metrics on small hand-checked cases, the bulk-similarity kernels, and the cache."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from rich.console import Console

from molvae import chem
from molvae.errors import MolvaeError
from molvae.evaluation import (
    ReferenceStats,
    TrainingSetIndex,
    cosine_similarity,
    evaluate,
    evaluate_smiles,
    fraction_unique,
    internal_diversity,
    metrics_table,
    moses_chem,
    novelty,
    similarity,
    snn,
)
from molvae.evaluation.chemnet import chemnet_activations, fcd_statistics, frechet_distance

# Drug-like molecules with BRICS bonds and two-ring scaffolds, so every metric has data.
REFERENCE = [
    "CCOC(=O)c1ccccc1",
    "CC(=O)Nc1ccc(O)cc1",
    "O=C(Nc1ccccc1)c1ccccn1",
    "c1ccc(-c2ccccc2)cc1",
    "Cc1ccc(S(=O)(=O)N2CCCC2)cc1",
    "COc1ccc(CN2CCN(C)CC2)cc1",
    "O=C(O)c1ccc(-c2ccncc2)cc1",
    "CN1CCC(Oc2ccc(F)cc2)CC1",
]
OTHER = ["CCCCCC", "CCCCO", "CCN(CC)CC", "OCCOCCO"]


def fingerprints(smiles: list[str]) -> np.ndarray:
    return np.stack([moses_chem.fingerprint_bits(chem.parse_smiles(s)) for s in smiles])


def rdkit_tanimoto(a: str, b: str) -> float:
    fa, fb = chem.morgan_fingerprints([chem.parse_smiles(a), chem.parse_smiles(b)], 2, 1024)
    return chem.tanimoto(fa, fb)


@pytest.fixture(scope="module")
def reference_stats() -> ReferenceStats:
    """Statistics of REFERENCE; loads ChemNet once for the module."""
    return ReferenceStats.compute(REFERENCE, n_jobs=1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------
# validity, uniqueness, novelty
# --------------------------------------------------------------------------------------------


def test_validity_counts_invalid_and_empty_strings(reference_stats):
    generated = ["CCO", "", "not a smiles", "C1CC", "c1ccccc1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = evaluate_smiles(generated, reference_stats, n_jobs=1)
    assert metrics["valid"] == pytest.approx(2 / 5)


def test_unique_takes_first_k_valid_molecules(reference_stats):
    # Invalid strings are dropped before gen[:k], as in MOSES: the first 2 valid are CCO twice.
    generated = ["CCO", "xx", "OCC", "CCN", "CCC"]
    metrics = evaluate_smiles(generated, reference_stats, k=(2, 4), n_jobs=1)
    assert metrics["unique@2"] == pytest.approx(0.5)
    assert metrics["unique@4"] == pytest.approx(3 / 4)


def test_fraction_unique_warns_when_short_and_is_nan_when_empty():
    with pytest.warns(UserWarning, match="unique@10"):
        assert fraction_unique(["CCO", "CCO", "CCN"], 10) == pytest.approx(2 / 3)
    assert math.isnan(fraction_unique([], None))


def test_novelty_counts_distinct_molecules_and_canonicalizes_train():
    train = TrainingSetIndex.compute(["OCC", "c1ccccc1", "not a smiles"], n_jobs=1)
    assert len(train) == 2 and train.n_input == 3
    # "CCO" is in train although train spells it "OCC"; CCN is novel; duplicates count once.
    assert novelty(["CCO", "CCO", "CCO", "CCN"], train) == pytest.approx(0.5)
    assert math.isnan(novelty([], train))
    assert train.contains(["c1ccccc1", "CCCl"]).tolist() == [True, False]


# --------------------------------------------------------------------------------------------
# similarity: SNN and IntDiv
# --------------------------------------------------------------------------------------------


def test_snn_identical_disjoint_and_hand_checked():
    fps = fingerprints(REFERENCE)
    assert snn(fps, fps) == pytest.approx(1.0)
    expected = np.mean([max(rdkit_tanimoto(g, r) for r in REFERENCE) for g in OTHER])
    assert snn(fingerprints(OTHER), fps) == pytest.approx(expected, abs=1e-6)
    assert rdkit_tanimoto("CCO", "CCN") == pytest.approx(1 / 3)
    assert snn(fingerprints(["CCO"]), fingerprints(["CCN"])) == pytest.approx(1 / 3)
    assert math.isnan(snn(fps[:0], fps))


def test_internal_diversity_includes_self_pairs():
    t = rdkit_tanimoto("CCO", "CCN")
    div = internal_diversity(fingerprints(["CCO", "CCN"]))
    # Pairs (a,a), (a,b), (b,a), (b,b): mean similarity (1 + t) / 2.
    assert div[1] == pytest.approx(1 - (1 + t) / 2, abs=1e-6)
    assert div[2] == pytest.approx(1 - math.sqrt((1 + t**2) / 2), abs=1e-6)
    assert internal_diversity(fingerprints(["CCO"] * 3))[1] == pytest.approx(0.0, abs=1e-7)
    assert math.isnan(internal_diversity(fingerprints(["CCO"])[:0])[1])


def test_blocked_kernels_match_brute_force(monkeypatch):
    # Tiny blocks exercise the block bookkeeping (ragged last blocks, symmetric crediting).
    monkeypatch.setattr(similarity, "_QUERY_BLOCK", 3)
    monkeypatch.setattr(similarity, "_REFERENCE_BLOCK", 2)
    monkeypatch.setattr(similarity, "_SELF_BLOCK", 3)
    rng = np.random.default_rng(0)
    query = np.packbits(rng.random((7, 64)) < 0.2, axis=1)
    query[0] = 0  # an empty fingerprint: similarity 1 to another empty one, as in MOSES
    ref = np.packbits(rng.random((5, 64)) < 0.2, axis=1)
    ref[3] = 0

    def brute(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.unpackbits(a, axis=1).astype(float), np.unpackbits(b, axis=1).astype(float)
        both = a @ b.T
        union = a.sum(1)[:, None] + b.sum(1)[None, :] - both
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(both / union, nan=1.0)

    np.testing.assert_allclose(similarity.max_tanimoto(query, ref), brute(query, ref).max(1))
    means = similarity.mean_tanimoto_powers(query, (1, 2))
    sim = brute(query, query)
    np.testing.assert_allclose(means[1], sim.mean(1), rtol=1e-6)
    np.testing.assert_allclose(means[2], (sim**2).mean(1), rtol=1e-6)


# --------------------------------------------------------------------------------------------
# fragments, scaffolds, filters
# --------------------------------------------------------------------------------------------


def test_cosine_similarity_hand_checked():
    assert cosine_similarity({"a": 1, "b": 2}, {"a": 2, "b": 1}) == pytest.approx(4 / 5)
    assert cosine_similarity({"a": 3}, {"a": 1}) == pytest.approx(1.0)
    assert cosine_similarity({"a": 1}, {"b": 1}) == 0.0
    assert math.isnan(cosine_similarity({}, {"a": 1}))


def test_brics_fragments_and_scaffolds():
    mol = chem.parse_smiles("CCOC(=O)c1ccccc1")
    assert sorted(moses_chem.brics_fragments(mol)) == [
        "[1*]C([6*])=O",
        "[16*]c1ccccc1",
        "[3*]O[3*]",
        "[4*]CC",
    ]
    # MOSES keeps only scaffolds with at least two rings.
    assert moses_chem.murcko_scaffold(mol) is None
    amide = chem.parse_smiles("CC(C)Oc1ccc(NC(=O)c2ccccn2)cc1")
    assert moses_chem.murcko_scaffold(amide) == "O=C(Nc1ccccc1)c1ccccn1"


@pytest.mark.parametrize(
    ("smiles", "passes"),
    [
        ("c1ccccc1", True),
        ("CCO", True),
        ("C1CCCCCC1", True),  # a 7-ring is allowed
        ("C1CCCCCCC1", False),  # rings of 8+ atoms are not
        ("C[N+](C)(C)C", False),  # charged
        ("CCI", False),  # iodine is not an allowed element
        ("CC[Se]C", False),
        ("CC=O", False),  # MCF7: aldehyde
        ("C1CO1", False),  # MCF5: epoxide
    ],
)
def test_moses_filters(smiles, passes):
    assert moses_chem.passes_filters(chem.parse_smiles(smiles)) is passes


def test_filter_patterns_are_the_moses_lists():
    assert len(moses_chem.filter_patterns()) == 22 + 480


def test_filter_screening_gives_the_plain_moses_answer():
    # The first NCI molecules shipped with RDKit: diverse, and about 20% match a pattern.
    from rdkit import Chem, RDConfig

    path = f"{RDConfig.RDDataDir}/NCI/first_5K.smi"
    with open(path) as handle:
        smiles = [line.split()[0] for line, _ in zip(handle, range(160), strict=False)]
    mols = [Chem.AddHs(m) for m in map(chem.parse_smiles, smiles) if m is not None]
    plain = [moses_chem._matches_any_filter(m, screen=False) for m in mols]
    assert [moses_chem._matches_any_filter(m) for m in mols] == plain
    assert sum(plain) >= 10


# --------------------------------------------------------------------------------------------
# FCD
# --------------------------------------------------------------------------------------------


def test_fcd_identical_sets_is_zero_and_grows_with_difference(reference_stats):
    ref = (reference_stats.fcd_mu, reference_stats.fcd_sigma)
    mu, sigma = fcd_statistics(REFERENCE)
    assert np.allclose(mu, ref[0])
    assert abs(frechet_distance(*ref, mu, sigma)) < 1e-3
    assert frechet_distance(*ref, *fcd_statistics(OTHER)) > 1.0
    assert math.isnan(frechet_distance(*ref, *fcd_statistics(["CCO"])))


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")
def test_frechet_distance_matches_fcd_package():
    from fcd import calculate_frechet_distance

    rng = np.random.default_rng(0)
    for n_a, n_b in ((300, 200), (40, 7)):  # (40, 7): a singular covariance
        a, b = rng.normal(size=(n_a, 30)), rng.normal(size=(n_b, 30)) * 1.3 + 0.2
        args = (a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
        assert frechet_distance(*args) == pytest.approx(calculate_frechet_distance(*args), rel=1e-6)


def test_chemnet_truncates_long_smiles_like_fcd_torch():
    long_smiles = "C" * 500
    act = chemnet_activations([long_smiles, "C" * 349])
    assert act.shape == (2, 512)
    np.testing.assert_allclose(act[0], act[1], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# the whole evaluation
# --------------------------------------------------------------------------------------------


def test_identical_sets_score_perfectly(reference_stats):
    result = evaluate(REFERENCE, reference_stats, train=REFERENCE, k=(8,), n_jobs=1)
    m = result.metrics
    assert list(m) == [
        "valid", "unique@8", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test",
        "IntDiv", "IntDiv2", "Filters", "logP", "SA", "QED", "weight", "Novelty",
    ]  # fmt: skip
    assert m["valid"] == 1.0 and m["unique@8"] == 1.0
    assert abs(m["FCD/Test"]) < 1e-3
    for key in ("SNN/Test", "Frag/Test", "Scaf/Test", "Filters"):
        assert m[key] == pytest.approx(1.0), key
    for key in ("logP", "SA", "QED", "weight", "Novelty"):
        assert m[key] == pytest.approx(0.0, abs=1e-9), key
    assert 0.5 < m["IntDiv"] < 1.0 and 0.5 < m["IntDiv2"] < m["IntDiv"]
    assert result.n_valid == len(REFERENCE)
    assert {"featurize", "FCD", "SNN", "IntDiv"} <= set(result.timings)


def test_disjoint_sets(reference_stats):
    m = evaluate_smiles(OTHER, reference_stats, train=REFERENCE, k=(4,), n_jobs=1)
    assert m["SNN/Test"] < 0.3
    assert m["FCD/Test"] > 1.0
    assert m["Frag/Test"] < 0.2
    assert math.isnan(m["Scaf/Test"])  # acyclic molecules have no scaffold
    assert m["Novelty"] == 1.0
    assert m["weight"] > 50


def test_duplicates_count_in_every_metric_but_unique(reference_stats):
    m = evaluate_smiles(["c1ccc(-c2ccccc2)cc1"] * 4, reference_stats, k=(4,), n_jobs=1)
    assert m["unique@4"] == 0.25
    assert m["SNN/Test"] == pytest.approx(1.0)
    assert m["IntDiv"] == pytest.approx(0.0, abs=1e-7)


def test_all_invalid_gives_nan_not_a_crash(reference_stats):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = evaluate_smiles(["", "xyz", "C1CC"], reference_stats, train=["CCO"], n_jobs=1)
    assert m["valid"] == 0.0
    assert all(math.isnan(v) for key, v in m.items() if key != "valid")


def test_empty_input_is_a_user_error(reference_stats):
    with pytest.raises(MolvaeError, match="no generated SMILES"):
        evaluate_smiles([], reference_stats)


def test_metrics_table_renders_nan_as_na():
    console = Console(width=120, record=True)
    console.print(metrics_table({"valid": 0.5, "FCD/Test": float("nan"), "custom": 1.0}))
    text = console.export_text()
    assert "0.5000" in text and "n/a" in text and "custom" in text and "↓" in text


def test_parallel_featurize_matches_in_process(monkeypatch):
    monkeypatch.setattr(moses_chem, "PARALLEL_MIN_MOLECULES", 4)
    monkeypatch.setattr(moses_chem, "_CHUNK_SIZE", 5)
    smiles = (REFERENCE + OTHER + ["bad"]) * 2
    serial = moses_chem.featurize(smiles, reparse_canonical=True, with_filters=True, n_jobs=1)
    parallel = moses_chem.featurize(smiles, reparse_canonical=True, with_filters=True, n_jobs=2)
    assert parallel.canonical == serial.canonical
    np.testing.assert_array_equal(parallel.fingerprints, serial.fingerprints)
    np.testing.assert_array_equal(parallel.properties, serial.properties)
    np.testing.assert_array_equal(parallel.passes_filters, serial.passes_filters)
    assert parallel.fragments == serial.fragments and parallel.scaffolds == serial.scaffolds


# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------


def _assert_same_stats(a: ReferenceStats, b: ReferenceStats) -> None:
    np.testing.assert_array_equal(a.fcd_mu, b.fcd_mu)
    np.testing.assert_array_equal(a.fcd_sigma, b.fcd_sigma)
    np.testing.assert_array_equal(a.fingerprints, b.fingerprints)
    np.testing.assert_array_equal(a.properties, b.properties)
    assert dict(a.fragments) == dict(b.fragments) and dict(a.scaffolds) == dict(b.scaffolds)


@pytest.fixture
def fake_chemnet(monkeypatch):
    """Deterministic stand-in for ChemNet statistics: the cache tests need arrays, not FCD."""

    def fake_statistics(smiles):
        rng = np.random.default_rng(len(smiles))
        act = rng.normal(size=(max(len(smiles), 2), 512))
        return act.mean(0), np.cov(act.T)

    monkeypatch.setattr("molvae.evaluation.reference.fcd_statistics", fake_statistics)
    monkeypatch.setattr("molvae.evaluation.metrics.fcd_statistics", fake_statistics)


def test_reference_cache_round_trip_keyed_by_file_hash(tmp_path, monkeypatch, fake_chemnet):
    ref_file = tmp_path / "reference.smi"
    ref_file.write_text("\n".join(REFERENCE + ["not_a_smiles"]) + "\n")
    cache = tmp_path / "stats"
    first = ReferenceStats.load_or_compute(ref_file, cache=cache, n_jobs=1)
    _assert_same_stats(first, ReferenceStats.compute(REFERENCE, n_jobs=1))
    assert first.n_input == len(REFERENCE) + 1 and first.n_molecules == len(REFERENCE)
    (json_file,) = cache.glob("reference-*.json")
    meta = json.loads(json_file.read_text())
    assert meta["source_sha256"] in json_file.name and meta["n_molecules"] == len(REFERENCE)
    with np.load(json_file.with_suffix(".npz"), allow_pickle=False) as data:
        assert data["fingerprints"].dtype == np.uint8 and data["fingerprints"].shape[1] == 128

    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    with monkeypatch.context() as patch:
        patch.setattr(ReferenceStats, "compute", classmethod(no_compute))
        second = ReferenceStats.load_or_compute(ref_file, cache=cache)
        _assert_same_stats(first, second)
        by_path = evaluate_smiles(OTHER, ref_file, n_jobs=1, k=(4,), cache=cache)
    assert by_path == pytest.approx(evaluate_smiles(OTHER, first, n_jobs=1, k=(4,)), nan_ok=True)

    # A changed file has another hash: a new entry is computed next to the old one.
    ref_file.write_text("\n".join(REFERENCE[:-1]) + "\n")
    changed = ReferenceStats.load_or_compute(ref_file, cache=cache, n_jobs=1)
    assert changed.n_molecules == len(REFERENCE) - 1
    assert len(list(cache.glob("reference-*.json"))) == 2


def test_corrupt_cache_entry_is_recomputed(tmp_path, fake_chemnet):
    ref_file = tmp_path / "reference.csv"
    ref_file.write_text("SMILES\n" + "\n".join(REFERENCE) + "\n")
    first = ReferenceStats.load_or_compute(ref_file, cache=tmp_path, n_jobs=1)
    (json_file,) = tmp_path.glob("reference-*.json")
    json_file.write_text("{ not json")
    again = ReferenceStats.load_or_compute(ref_file, cache=tmp_path, n_jobs=1)
    _assert_same_stats(first, again)
    assert json.loads(json_file.read_text())["n_molecules"] == len(REFERENCE)
    with pytest.raises(MolvaeError):
        ReferenceStats.load(tmp_path / "missing")


def test_training_index_cache_round_trip(tmp_path, monkeypatch):
    train_file = tmp_path / "train.smi"
    train_file.write_text("OCC\nc1ccccc1\nCCN\n")
    first = TrainingSetIndex.load_or_compute(train_file, n_jobs=1)  # $MOLVAE_CACHE_DIR
    monkeypatch.setattr(
        TrainingSetIndex, "_from_canonical", classmethod(lambda *a: pytest.fail("recomputed"))
    )
    second = TrainingSetIndex.load_or_compute(train_file)
    np.testing.assert_array_equal(first.hashes, second.hashes)
    assert second.n_input == 3 and novelty(["CCO", "CCCl"], second) == 0.5


def test_evaluate_model_checks_its_files_before_sampling(tmp_path):
    """A missing reference or training file fails at once, before minutes of sampling."""
    from molvae.evaluation.model_side import evaluate_model

    class NeverSample:
        path = tmp_path

        def sample(self, *args, **kwargs):
            raise AssertionError("sampled before checking the files")

    with pytest.raises(MolvaeError, match="file not found"):
        evaluate_model(tmp_path / "missing.csv", vae=NeverSample())
    reference = tmp_path / "ref.csv"
    reference.write_text("SMILES\nCCO\n")
    with pytest.raises(MolvaeError, match="train.csv: file not found"):
        evaluate_model(reference, vae=NeverSample(), train=tmp_path / "train.csv")
