"""Screening: every outcome path, row accounting, streaming, novelty, diversity, outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molvae import chem
from molvae import screening as screen
from molvae.data.tables import read_molecules
from molvae.errors import MolvaeError
from molvae.screening import (
    ReferenceFingerprints,
    ScreenConfig,
    SparseFingerprints,
    Target,
    combine_desirabilities,
    nearest_tanimoto,
    pipeline,
    screen_file,
    screen_frame,
)
from tests.conftest import REPO, TEST_SAMPLE

BAD_ROWS = REPO / "datasets" / "bad_rows.csv"
EXAMPLE_CONFIG = REPO / "configs" / "screen.toml"

# One molecule per outcome; comments give the expected step.
CANDIDATES = [
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",  # 1 ibuprofen
    "not_a_smiles",  # 2 read
    "OC(=O)C(C)c1ccc(CC(C)C)cc1",  # 3 deduplicate: ibuprofen spelled differently
    "[Na+].CC(C)Cc1ccc(cc1)C(C)C(=O)[O-]",  # 4 deduplicate: its sodium salt
    "Oc1ccccn1",  # 5 2-hydroxypyridine
    "O=c1cccc[nH]1",  # 6 deduplicate: its tautomer (same InChIKey)
    "CN1CCC[C@H]1c1cccnc1",  # 7 novelty: in the reference
    "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(=O)O",  # 8 rules: Lipinski (MW, logP)
    "OCCOCCOCCOCCOCCOCCO",  # 9 rules: Veber (rotatable bonds)
    "CC(C)(C)c1ccc(cc1)C(=O)NCCN1CCN(CC1)c1ccc(cc1)C(=O)c1ccccc1",  # 10 thresholds: MW<400
    "c1ccccc1[N+](=O)[O-]",  # 11 smarts: nitro
    "Oc1ccccc1O",  # 12 alerts: PAINS catechol
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",  # 13 score: caffeine's logP is far outside [1, 4]
    "CCc1ccc(cc1)S(=O)(=O)N",  # 14 similarity: close analogue of a reference molecule
    "COc1ccc2[nH]cc(CCN)c2c1",  # 15
    "O=C(Nc1ccccc1)c1ccccn1",  # 16
    "Cc1ccc(C(=O)Nc2ccccc2)cc1",  # 17
    "OC1CCN(Cc2ccccc2)CC1",  # 18
    "",  # 19 read: empty
]
REFERENCE = ["CN1CCC[C@H]1c1cccnc1", "Cc1ccc(cc1)S(=O)(=O)N", "CCCCCC"]


def _config(tmp_path: Path | None = None, **sections) -> ScreenConfig:
    """Default config, in-process (fast for tiny inputs), with a private cache directory."""
    cfg = ScreenConfig(jobs=1)
    if tmp_path is not None:
        cfg.novelty.cache_dir = str(tmp_path / "cache")
    for name, values in sections.items():
        for key, value in values.items():
            setattr(getattr(cfg, name), key, value)
    return cfg


def _outcomes(result) -> dict[int, tuple[str, str]]:
    """Row -> (step or 'shortlist', reason); asserts each row appears exactly once."""
    out: dict[int, tuple[str, str]] = {}
    for row in result.shortlist["row"]:
        out[int(row)] = ("shortlist", "")
    for row, step, reason in result.rejects[["row", "step", "reason"]].itertuples(index=False):
        assert int(row) not in out, f"row {row} appears twice"
        out[int(row)] = (step, reason)
    return out


def _assert_accounting(result, n_rows: int) -> None:
    assert result.n_input == n_rows
    assert sum(result.counts.values()) == n_rows
    if result.rejects is not None:
        assert len(result.shortlist) + len(result.rejects) == n_rows
        assert sorted([*result.shortlist["row"], *result.rejects["row"]]) == list(
            range(1, n_rows + 1)
        )
        for step, n in result.rejects["step"].value_counts().items():
            assert result.counts[step] == n


@pytest.fixture(scope="module")
def full_screen(tmp_path_factory):
    """Every step switched on over CANDIDATES, with a small reference set."""
    tmp = tmp_path_factory.mktemp("screen")
    ref = tmp / "ref.csv"
    pd.DataFrame({"smiles": REFERENCE}).to_csv(ref, index=False)
    cfg = _config(
        tmp,
        thresholds={"where": ["MW<400"]},
        novelty={"references": [str(ref)], "max_similarity": 0.5},
        score={"min_score": 0.1},
        selection={"top": 4},
    )
    cfg.smarts = {"nitro": "[N+](=O)[O-]"}
    frame = pd.DataFrame({"smiles": CANDIDATES, "id": [f"m{i}" for i in range(1, 20)]})
    return screen_frame(frame, cfg)


def test_every_outcome_path(full_screen):
    result = full_screen
    _assert_accounting(result, len(CANDIDATES))
    out = _outcomes(result)
    assert out[2] == ("read", "invalid SMILES")
    assert out[19] == ("read", "empty")
    assert out[3] == ("deduplicate", "duplicate of row 1")
    assert out[4] == ("deduplicate", "duplicate of row 1")
    assert out[6] == ("deduplicate", "duplicate of row 5")
    assert out[7] == ("novelty", "in reference ref.csv")
    assert out[8][0] == "rules" and out[8][1].startswith("Lipinski: 2 violations (MW=")
    assert out[9] == ("rules", "Veber: RotB=16>10")
    assert out[10][0] == "thresholds" and out[10][1].startswith("MW<400 failed (MW=4")
    assert out[11] == ("smarts", "SMARTS: nitro")
    assert out[12] == ("alerts", "BRENK: catechol")  # BRENK is checked before PAINS (cheaper)
    assert out[13] == ("score", "score<0.1 failed (score=0.000)")
    assert out[14][0] == "similarity"
    assert "Tanimoto 0.56 > 0.5" in out[14][1] and "Cc1ccc(S(N)(=O)=O)cc1" in out[14][1]
    assert result.shortlist["row"].tolist() == [17, 16, 1, 15]  # best score first
    assert out[5] == out[18] == ("selection", "below top 4")
    assert result.reasons[("alerts", "BRENK")] == 1
    assert result.reasons[("deduplicate", "duplicate")] == 3


@pytest.mark.parametrize(
    ("catalogs", "reason"),
    [
        (["pains"], "PAINS: catechol_A(92)"),
        (["pains", "brenk"], "BRENK: catechol"),  # cheapest set first, whatever the given order
        (["nih", "pains"], "NIH: ortho_hydroquinone"),
        (["zinc"], None),
    ],
)
def test_alert_sets_run_cheapest_first(catalogs, reason):
    frame = pd.DataFrame({"smiles": ["Oc1ccccc1O"]})
    result = screen_frame(frame, _config(alerts={"catalogs": catalogs}, score={"enabled": False}))
    out = _outcomes(result)
    assert out[1] == (("alerts", reason) if reason else ("shortlist", out[1][1]))


def test_shortlist_columns_and_ranking(full_screen):
    short = full_screen.shortlist
    assert list(short["rank"]) == [1, 2, 3, 4]
    assert short["score"].is_monotonic_decreasing
    for column in ["row", "smiles", "canonical", "inchikey", "novel", "id", *chem.PROPERTIES]:
        assert column in short.columns
    assert short["novel"].all()
    # Nearest neighbours were computed during the similarity filter, against the reference.
    assert short["nn_similarity"].between(0, 0.5).all()
    assert set(short["nn_smiles"]) <= {chem.canonical_smiles(s) for s in REFERENCE}
    assert (short["nn_reference"] == "ref.csv").all()
    row1 = short.set_index("row").loc[1]
    assert row1["canonical"] == "CC(C)Cc1ccc(C(C)C(=O)O)cc1" and row1["id"] == "m1"


def test_summary_table_counts_every_outcome(full_screen):
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(full_screen.summary_table())
    text = console.export_text()
    for outcome in full_screen.counts:
        assert outcome in text
    assert "total" in text and str(len(CANDIDATES)) in text


def test_bad_rows_file_accounting(tmp_path):
    result = screen_file(BAD_ROWS, _config())
    n_rows = len(pd.read_csv(BAD_ROWS, skip_blank_lines=False))
    _assert_accounting(result, n_rows)
    out = _outcomes(result)
    assert out[4] == ("read", "invalid SMILES")
    assert out[2] == ("read", "empty")
    assert out[8][1].startswith("Lipinski")
    # The salt and the charged amine are standardized to their neutral parents.
    short = result.shortlist.set_index("row")
    assert short.loc[6, "canonical"] == "CC(=O)O"
    assert short.loc[12, "canonical"] == "CN"
    assert short.loc[13, "smiles"] == "CCN"


def test_streamed_chunks_dedup_across_chunks_and_rejects_file(tmp_path):
    smiles = ["CCO", "c1ccccc1", "OCC", "CCN", "C(C)O", "bad", "NCC", "c1ccccc1"]
    data = tmp_path / "in.smi"
    data.write_text("".join(f"{s} name{i}\n" for i, s in enumerate(smiles, 1)))
    rejects = tmp_path / "out" / "rejects.csv"
    cfg = _config(alerts={"catalogs": []})
    cfg.chunk_size = 3
    result = screen_file(data, cfg, rejects_path=rejects)
    assert result.rejects is None and result.rejects_path == rejects
    assert sum(result.counts.values()) == len(smiles)
    rej = pd.read_csv(rejects)
    assert list(rej.columns) == ["row", "smiles", "step", "reason"]
    assert len(rej) + result.n_shortlisted == len(smiles)
    reasons = dict(zip(rej["row"], rej["reason"], strict=True))
    assert reasons == {
        3: "duplicate of row 1",
        5: "duplicate of row 1",
        6: "invalid SMILES",
        7: "duplicate of row 4",
        8: "duplicate of row 2",
    }
    assert set(result.shortlist["name"]) == {"name1", "name2", "name4"}
    assert result.counts == {"shortlist": 3, "read": 1, "deduplicate": 4}


def test_max_rows_reads_only_the_first_rows():
    result = screen_file(TEST_SAMPLE, _config(alerts={"catalogs": []}), max_rows=7)
    assert result.n_input == 7 and sum(result.counts.values()) == 7


def test_seen_keys_compact_dedup():
    seen = pipeline._SeenKeys()
    first = seen.first_rows(np.array([5, 3, 5], dtype=np.uint64), np.array([1, 2, 3]))
    assert first.tolist() == [-1, -1, 1]
    first = seen.first_rows(np.array([3, 9, 9, 5], dtype=np.uint64), np.array([4, 5, 6, 7]))
    assert first.tolist() == [2, -1, 5, 1]
    assert len(seen) == 3 and seen.keys.dtype == np.uint64


def test_diversity_picks_n_distinct_among_best():
    cfg = _config(selection={"diverse": 6, "diversity_pool": 4})
    result = screen_file(TEST_SAMPLE, cfg, max_rows=80)
    _assert_accounting(result, 80)
    short = result.shortlist
    assert len(short) == 6
    assert short["row"].is_unique and short["inchikey"].is_unique
    assert short["canonical"].is_unique
    reasons = set(result.rejects.loc[result.rejects["step"] == "selection", "reason"])
    assert reasons == {"below top 24", "not selected (diversity)"}
    assert (result.rejects["reason"] == "not selected (diversity)").sum() == 24 - 6
    # The best-scored candidate seeds the picker, so it is always kept and ranked first.
    all_scores = screen_file(TEST_SAMPLE, _config(), max_rows=80).shortlist
    assert short["row"].iat[0] == all_scores["row"].iat[0]


def test_maxmin_pick_returns_distinct_indices():
    mols = [chem.parse_smiles(s) for s in pd.read_csv(TEST_SAMPLE)["SMILES"][:50]]
    picks = chem.maxmin_pick(chem.morgan_fingerprints(mols), 10, first_picks=[0])
    assert len(picks) == len(set(picks)) == 10 and picks[0] == 0


def test_novelty_exact_and_nearest_neighbour(tmp_path):
    ref = tmp_path / "ref.smi"
    ref.write_text("".join(f"{s}\n" for s in REFERENCE))
    candidates = pd.DataFrame(
        {"smiles": ["Cc1ccc(S(N)(=O)=O)cc1", "CCc1ccc(cc1)S(=O)(=O)N", "CCCCCCO"]}
    )
    cfg = _config(tmp_path, alerts={"catalogs": []}, rules={"lipinski": False, "veber": False})
    cfg.novelty.references = [str(ref)]
    messages: list[str] = []
    result = screen_frame(candidates, cfg, log=messages.append)
    out = _outcomes(result)
    assert out[1] == ("novelty", "in reference ref.smi")
    short = result.shortlist.set_index("row")
    expected = chem.tanimoto(
        *chem.morgan_fingerprints(
            [chem.parse_smiles(candidates.smiles[1]), chem.parse_smiles(REFERENCE[1])]
        )
    )
    assert short.loc[2, "nn_similarity"] == pytest.approx(expected, abs=1e-6)
    assert short.loc[2, "nn_smiles"] == "Cc1ccc(S(N)(=O)=O)cc1"
    assert short.loc[3, "nn_smiles"] == "CCCCCC"
    assert any("fingerprinting" in m for m in messages)
    # Second run: the reference fingerprints come from the cache (.npz, no pickle).
    messages.clear()
    cfg.novelty.reject_known = False
    again = screen_frame(candidates, cfg, log=messages.append)
    assert any("loaded cached fingerprints" in m for m in messages)
    assert again.n_shortlisted == 3
    assert again.shortlist.set_index("row").loc[1, "nn_similarity"] == pytest.approx(1.0)
    assert not again.shortlist.set_index("row").loc[1, "novel"]
    cached = list((tmp_path / "cache").glob("screen-fingerprints-*.npz"))
    assert len(cached) == 1
    with np.load(cached[0], allow_pickle=False) as data:
        assert data["on_bits"].dtype == np.uint16 and len(data["bit_offsets"]) == 3 + 1


def test_nearest_tanimoto_matches_rdkit(monkeypatch):
    # Small blocks, so the search crosses block boundaries as on a large reference.
    monkeypatch.setattr(screen.novelty, "_BLOCK_CELLS", 64)
    monkeypatch.setattr(screen.novelty, "_QUERY_BLOCK", 3)
    smiles = pd.read_csv(TEST_SAMPLE)["SMILES"].tolist()
    mols = [chem.parse_smiles(s) for s in smiles[:2100]]
    query, reference = mols[:7], mols[7:]
    sims, where = nearest_tanimoto(
        SparseFingerprints.from_mols(query), SparseFingerprints.from_mols(reference)
    )
    ref_fps = chem.morgan_fingerprints(reference)
    for i, fp in enumerate(chem.morgan_fingerprints(query)):
        brute = chem.bulk_tanimoto(fp, ref_fps)
        assert sims[i] == pytest.approx(brute.max(), abs=1e-6)
        assert where[i] == int(np.argmax(brute))
    refs = ReferenceFingerprints.from_smiles(["CCO", "not smiles", "c1ccccc1"], n_jobs=1)
    assert len(refs) == 2 and refs.smiles(1) == "c1ccccc1"
    dense = refs.fingerprints.dense()
    assert dense.shape == (2, 2048) and dense.sum() == refs.fingerprints.counts().sum()


def test_parallel_workers_give_the_same_result(monkeypatch):
    monkeypatch.setattr(pipeline, "_PARALLEL_MIN", 0)
    frame = pd.DataFrame({"smiles": pd.read_csv(TEST_SAMPLE)["SMILES"][:40]})
    serial = screen_frame(frame, _config())
    parallel_cfg = _config()
    parallel_cfg.jobs = 2
    parallel = screen_frame(frame, parallel_cfg)
    pd.testing.assert_frame_equal(serial.shortlist, parallel.shortlist)
    pd.testing.assert_frame_equal(serial.rejects, parallel.rejects)


def test_sdf_round_trip(full_screen, tmp_path):
    path = tmp_path / "short.sdf"
    assert screen.write_sdf(full_screen.shortlist, path) == full_screen.n_shortlisted
    table = read_molecules(path)
    assert table.n_rejected == 0
    back = table.records
    short = full_screen.shortlist
    assert back["canonical"].tolist() == short["canonical"].tolist()
    assert back["input_smiles"].tolist() == short["smiles"].tolist()
    np.testing.assert_allclose(back["score"].to_numpy(float), short["score"].to_numpy(float))
    np.testing.assert_allclose(back["QED"].to_numpy(float), short["QED"].to_numpy(float))
    assert back["input_row"].tolist() == short["row"].tolist()
    # Another tool's SDF (here ours, gzipped) is a valid screening input too.
    gz = tmp_path / "short.sdf.gz"
    screen.write_sdf(short, gz)
    again = screen_file(gz, _config(alerts={"catalogs": []}))
    assert again.n_input == again.n_shortlisted == len(short)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_grid_image(full_screen, tmp_path, suffix):
    path = screen.write_grid(full_screen.shortlist, tmp_path / f"grid{suffix}", n=3)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
    if suffix == ".svg":
        assert b"class='legend'" in data  # legends are drawn (as paths)


def test_toml_example_matches_defaults_and_unknown_keys_fail(tmp_path):
    defaults = ScreenConfig()
    defaults.validate()
    assert ScreenConfig.from_toml(EXAMPLE_CONFIG) == defaults
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules]\nlipinsky = true\n")
    with pytest.raises(MolvaeError, match=r"section rules: unknown key\(s\) lipinsky"):
        ScreenConfig.from_toml(bad)
    bad.write_text("chunksize = 10\n")
    with pytest.raises(MolvaeError, match="unknown key"):
        ScreenConfig.from_toml(bad)
    bad.write_text('[[score.targets]]\nproperty = "QED"\ngaol = "max"\n')
    with pytest.raises(MolvaeError, match="gaol"):
        ScreenConfig.from_toml(bad)
    bad.write_text('[thresholds]\nwhere = ["SA<<4"]\n')
    with pytest.raises(MolvaeError, match="SA<<4"):
        ScreenConfig.from_toml(bad)
    bad.write_text('[smarts]\nbroken = "C(("\n')
    with pytest.raises(MolvaeError, match="broken"):
        ScreenConfig.from_toml(bad)


def test_toml_sections_and_overrides(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        "jobs = 1\n[alerts]\ncatalogs = ['PAINS']\n[smarts]\nnitro = '[N+](=O)[O-]'\n"
        "[score]\ncombine = 'arithmetic'\n[[score.targets]]\nproperty = 'qed'\n"
    )
    cfg = ScreenConfig.from_toml(path)
    assert cfg.alerts.catalogs == ["pains"] and cfg.smarts == {"nitro": "[N+](=O)[O-]"}
    assert [t.property for t in cfg.score.targets] == ["QED"]
    cfg2 = cfg.override(where=["SA<4.5"], filters=["none"], top=5, diverse=2)
    assert cfg2.alerts.catalogs == [] and cfg.alerts.catalogs == ["pains"]
    assert cfg2.thresholds.where == ["SA<4.5"] and cfg.thresholds.where == []
    assert cfg2.pool_size() == 5
    with pytest.raises(MolvaeError, match="unknown filter set"):
        cfg.override(filters=["painz"])


def test_desirability_and_combination():
    assert Target("QED", "max", 0.2, 0.9).desirability(0.55) == pytest.approx(0.5)
    assert Target("SA", "min", 2, 6).desirability(1.0) == 1.0
    assert Target("SA", "min", 2, 6).desirability(7.0) == 0.0
    band = Target("logP", "range", 1, 4, tolerance=2)
    assert [band.desirability(x) for x in (2.5, 5.0, 0.0, -2.0)] == [1.0, 0.5, 0.5, 0.0]
    assert band.desirability(float("nan")) == 0.0
    assert combine_desirabilities([0.25, 1.0], [1, 1]) == pytest.approx(0.5)
    assert combine_desirabilities([0.25, 1.0], [1, 1], "arithmetic") == pytest.approx(0.625)
    assert combine_desirabilities([0.0, 1.0], [1, 3]) == 0.0


def test_profile_steps_reports_every_step():
    smiles = pd.read_csv(TEST_SAMPLE)["SMILES"][:20].tolist()
    ms = screen.profile_steps(smiles, _config())
    assert {"standardize", "deduplicate", "rules", "alerts", "properties", "score"} <= set(ms)
    assert all(v >= 0 for v in ms.values())
