"""One policy in every command that encodes: a molecule the model cannot write as given is
encoded in its flattened form (column ``encoded_as``, a count in the summary), or with
``--strict`` rejected with the reason."""

import pandas as pd
import pytest

from molvae import chem

from .runner import molvae

# The tiny test model, trained on MOSES molecules, has no tokens for stereo marks or charges.
ALANINE = "C[C@H](N)C(=O)O"  # stereo: flattened to CC(N)C(=O)O
ACETATE = "CC(=O)[O-].[Na+]"  # a salt: flattened to CC(=O)O
NITRO = "O=[N+]([O-])c1ccccc1"  # a nitro group has no neutral form: rejected either way
PLAIN = "CCOc1ccccc1"


@pytest.fixture
def molecules(tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"smiles": [PLAIN, ALANINE, ACETATE, NITRO]}).to_csv(path, index=False)
    return path


def test_encode_flattens_and_says_so(tiny_run, molecules, tmp_path):
    out = tmp_path / "z.csv"
    res = molvae("encode", str(molecules), "--model", str(tiny_run), "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["encoded_as"].tolist()[:3] == [PLAIN, "CC(N)C(=O)O", "CC(=O)O"]
    assert frame["canonical"].tolist()[:3] == [chem.canonical_smiles(s)
                                               for s in (PLAIN, ALANINE, ACETATE)]
    assert frame["status"].tolist()[:3] == ["ok"] * 3
    assert "not in vocabulary" in frame["status"][3] and pd.isna(frame["z0"][3])
    assert "2 encoded in flattened form (salt, stereo or charges removed)" in res.stdout
    # --strict: the same molecules are rejected with the reason.
    res = molvae("encode", str(molecules), "--model", str(tiny_run), "--out", str(out),
                 "--strict")
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["status"][0] == "ok"
    assert all("not in vocabulary" in s for s in frame["status"][1:])
    assert "flattened" not in res.stdout and "3 of 4 rows not encoded" in res.stderr


def test_flattened_encoding_is_the_encoding_of_the_flattened_form(tiny_vae):
    both = tiny_vae.encode([ALANINE, "CC(N)C(=O)O"])
    z = both.filter(regex=r"^z\d+$").to_numpy()
    assert (both["encoded_as"] == "CC(N)C(=O)O").all()
    assert (z[0] == z[1]).all()


@pytest.mark.parametrize("command", ["embed", "score", "map"])
def test_every_encoding_command_counts_and_strict_rejects(command, tiny_run, molecules,
                                                          tmp_path):
    suffix = {"embed": ".csv", "score": ".csv", "map": ".html"}[command]
    out = tmp_path / f"out{suffix}"
    res = molvae(command, str(molecules), "--model", str(tiny_run), "--out", str(out),
                 *(["--color", "none"] if command == "map" else []))
    assert res.returncode == 0, res.stderr
    assert "2 " in res.stdout
    assert "in flattened form (salt, stereo or charges removed)" in res.stdout
    if command != "map":
        frame = pd.read_csv(out)
        assert "CC(N)C(=O)O" in set(frame["encoded_as"])
    res = molvae(command, str(molecules), "--model", str(tiny_run), "--out", str(out),
                 "--strict", *(["--color", "none"] if command == "map" else []))
    if command == "map":  # one molecule left: too few to map, said in one line
        assert res.returncode == 1 and "not in vocabulary" in res.stderr
    else:
        assert res.returncode == 0, res.stderr
        assert "flattened" not in res.stdout and "3 of 4 rows not" in res.stderr


def test_reconstruct_says_which_form_was_compared(tiny_run, molecules, tmp_path):
    out = tmp_path / "rec.csv"
    res = molvae("reconstruct", str(molecules), "--model", str(tiny_run), "--out", str(out),
                 "--refine-steps", "10")
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["compared_with"].tolist()[:3] == ["input", "flattened form", "flattened form"]
    ok = frame["status"] == "ok"
    assert (frame.loc[ok, "match"] == (frame.loc[ok, "reconstructed"]
                                       == frame.loc[ok, "encoded_as"])).all()
    assert "2 compared in flattened form (salt, stereo or charges removed)" in res.stdout
    assert "compared flattened: CC(N)C(=O)O" in res.stdout  # the per-row table
    not_back = int((~frame.loc[ok, "match"]).sum())
    if not_back:
        assert f"{not_back} of 3 encodable molecules not reproduced" in res.stderr
    res = molvae("reconstruct", str(molecules), "--model", str(tiny_run), "--strict",
                 "--refine-steps", "0")
    assert res.returncode == 0 and "3 of 4 rows not encoded" in res.stderr


def test_interpolate_and_neighbors_flatten_or_refuse(tiny_run, tmp_path):
    out = tmp_path / "path.csv"
    res = molvae("interpolate", ALANINE, PLAIN, "--model", str(tiny_run), "--steps", "3",
                 "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["smiles"].iloc[0] == chem.canonical_smiles(ALANINE)
    assert "A encoded in flattened form CC(N)C(=O)O" in res.stderr or (
        "A could not be reproduced: its encoding (encoded in flattened form CC(N)C(=O)O"
        in res.stderr
    )
    res = molvae("interpolate", ALANINE, PLAIN, "--model", str(tiny_run), "--strict")
    assert res.returncode == 1 and "cannot encode A" in res.stderr
    res = molvae("neighbors", ALANINE, "--model", str(tiny_run), "-n", "3", "--points", "30")
    assert res.returncode == 0, res.stderr
    assert "encoded in flattened form CC(N)C(=O)O" in res.stderr
    res = molvae("neighbors", ALANINE, "--model", str(tiny_run), "--strict")
    assert res.returncode == 1 and "cannot encode the query" in res.stderr
