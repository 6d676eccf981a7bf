"""map / interpolate / neighbors / score / embed / reconstruct --image, in-process."""

import numpy as np
import pandas as pd

from tests.conftest import REPO, TEST_SAMPLE

from .runner import molvae, without_module

BAD = REPO / "datasets" / "bad_rows.csv"
ALL_ROWS = list(range(1, 14))  # bad_rows.csv: 13 data rows, 8 readable, 5 not


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


def test_map_html_accounts_for_every_row(tiny_run, tmp_path):
    out, rejects = tmp_path / "map.html", tmp_path / "rejects.csv"
    res = molvae("map", str(BAD), "--model", str(tiny_run), "--out", str(out), "--color",
                 "pIC50", "--rejects", str(rejects))
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "pIC50" in page
    bad = pd.read_csv(rejects)
    mapped = int(res.stdout.split(" molecules mapped")[0].split()[-1])
    assert mapped + len(bad) == 13 and bad["reason"].notna().all()
    assert f"{len(bad)} of 13 rows not mapped" in res.stderr


def test_map_png_and_errors(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "map.png"
    res = molvae("map", str(TEST_SAMPLE), "--model", str(tiny_run), "--out", str(out),
                 "--method", "tsne", "--max-points", "60")
    assert res.returncode == 0, res.stderr
    assert out.read_bytes().startswith(b"\x89PNG") and "60 of 1,000" in res.stderr
    res = molvae("map", str(BAD), "--model", str(tiny_run), "--color", "potency",
                 "--out", str(tmp_path / "m.html"))
    assert res.returncode == 1 and "pIC50" in one_line_error(res)
    with monkeypatch.context() as patch:
        without_module(patch, "umap")  # as if umap-learn were not installed
        res = molvae("map", str(BAD), "--model", str(tiny_run), "--method", "umap",
                     "--out", str(tmp_path / "m.html"))
    assert res.returncode == 1 and "umap-learn" in one_line_error(res)
    assert molvae("map", str(BAD), "--out", str(tmp_path / "m.txt")).returncode == 2
    assert molvae("map", str(BAD), "--method", "mds").returncode == 2


def test_interpolate_writes_grid_and_csv(tiny_run, tmp_path):
    out = tmp_path / "path.png"
    res = molvae("interpolate", "CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "--model", str(tiny_run),
                 "--steps", "5", "--method", "linear", "--property", "logP", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    frame = pd.read_csv(tmp_path / "path.csv")
    assert list(frame.columns) == ["step", "t", "z_norm", "smiles", "decoded", "valid", "sim_a",
                                   "sim_b", "logP"]
    assert frame["t"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # The path starts and ends at the molecules asked for.
    assert frame["smiles"].iloc[[0, -1]].tolist() == ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    for label, decoded in zip("AB", frame["decoded"].iloc[[0, -1]], strict=True):
        if decoded != frame["smiles"].iloc[0 if label == "A" else -1]:
            assert f"{label} could not be reproduced" in res.stderr
    res = molvae("interpolate", "CCO", "C1CC", "--model", str(tiny_run))
    assert res.returncode == 1 and "B is not a valid SMILES" in one_line_error(res)
    res = molvae("interpolate", "CCO", "CCN", "--method", "cubic")
    assert res.returncode == 2


def test_neighbors_table(tiny_run, tmp_path):
    out = tmp_path / "nb.csv"
    res = molvae("neighbors", "CCOc1ccccc1", "--model", str(tiny_run), "-n", "4", "--radius",
                 "2.5", "--points", "120", "--seed", "3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["smiles", "similarity", "distance", "hits"]
    assert len(frame) <= 4 and (frame["distance"] <= 2.5).all()
    assert "120 points decoded" in res.stdout
    assert molvae("neighbors", "CCO", "--radius", "-1").returncode == 2


def test_tables_print_bracket_atoms(tiny_run):
    """rich must not read "[nH]" in a SMILES as a style tag and drop it from the table."""
    res = molvae("neighbors", "Cc1cc[nH]c1", "--model", str(tiny_run), "-n", "3", "--radius",
                 "2.5", "--points", "60", "--seed", "3")
    assert res.returncode == 0, res.stderr
    assert "neighbours of Cc1cc[nH]c1 within" in res.stdout


def test_score_keeps_every_row(tiny_run, tmp_path):
    out = tmp_path / "scores.csv"
    res = molvae("score", str(BAD), "--model", str(tiny_run), "--out", str(out), "--samples", "2")
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["row"].tolist() == ALL_ROWS
    ok = frame["status"] == "ok"
    assert ok.sum() >= 1 and frame.loc[ok, "neg_elbo"].notna().all()
    assert frame.loc[~ok, "neg_elbo"].isna().all()
    assert set(frame.loc[frame["row"].isin([4, 5, 10]), "status"]) == {"invalid SMILES"}
    assert set(frame.loc[frame["row"].isin([2, 7]), "status"]) == {"empty"}
    np.testing.assert_allclose(frame.loc[ok, "neg_elbo"],
                               frame.loc[ok, "kl"] - frame.loc[ok, "recon_ll"], rtol=1e-6)
    assert "of 13 rows not scored" in res.stderr


def test_embed_features_and_rejects(tiny_run, tmp_path):
    out = tmp_path / "features.parquet"
    res = molvae("embed", str(BAD), "--model", str(tiny_run), "--out", str(out))
    assert res.returncode == 0, res.stderr
    features = pd.read_parquet(out)
    assert list(features.columns) == ["row", "canonical", "encoded_as"] + [
        f"z{i}" for i in range(8)
    ]
    # The salts of rows 6 and 12 are embedded in their flattened form, and counted.
    salts = features.set_index("row").loc[[6, 12], "encoded_as"].tolist()
    assert salts == ["CC(=O)O", "CN"] and "2 embedded in flattened form" in res.stdout
    assert np.isfinite(features.filter(like="z").to_numpy()).all()
    rejects = pd.read_csv(tmp_path / "features.rejects.csv")
    assert sorted(features["row"].tolist() + rejects["row"].tolist()) == ALL_ROWS
    assert rejects["reason"].notna().all()

    npy = tmp_path / "features.npy"
    res = molvae("embed", str(BAD), "--model", str(tiny_run), "--out", str(npy))
    assert res.returncode == 0, res.stderr
    array = np.load(npy, allow_pickle=False)
    index = pd.read_csv(tmp_path / "features.rows.csv")
    assert array.shape == (len(features), 8) and index["row"].tolist() == features["row"].tolist()
    np.testing.assert_allclose(array, features.filter(like="z").to_numpy(), rtol=1e-6)


def test_embed_parquet_without_pyarrow_is_one_line(tiny_run, tmp_path, monkeypatch):
    without_module(monkeypatch, "pyarrow")  # as if pyarrow were not installed
    res = molvae("embed", str(BAD), "--model", str(tiny_run), "--out", str(tmp_path / "f.parquet"))
    assert res.returncode == 1
    line = one_line_error(res)
    assert "molvae[parquet]" in line and ".csv" in line
    assert not (tmp_path / "f.parquet").exists()


def test_reconstruct_image(tiny_run, tmp_path):
    png, svg = tmp_path / "rec.png", tmp_path / "rec.svg"
    res = molvae("reconstruct", str(BAD), "--model", str(tiny_run), "--image", str(png),
                 "--out", str(tmp_path / "rec.csv"))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes().startswith(b"\x89PNG") and "pairs drawn" in res.stdout
    frame = pd.read_csv(tmp_path / "rec.csv")
    ok = frame["status"] == "ok"
    assert (frame.loc[ok, "mean_sigma"] > 0).all() and frame.loc[~ok, "mean_sigma"].isna().all()
    res = molvae("reconstruct", str(BAD), "--model", str(tiny_run), "--image", str(svg),
                 "--image-rows", "2")
    assert res.returncode == 0, res.stderr
    text = svg.read_text()
    assert "<svg" in text and text.rstrip().endswith("</svg>")
    assert molvae("reconstruct", str(BAD), "--image", str(tmp_path / "r.gif")).returncode == 2
