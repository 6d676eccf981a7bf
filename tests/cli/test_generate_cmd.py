"""generate / optimize / fit-property / evaluate / models, in-process (see runner.py)."""

import json

import pandas as pd

from molvae import chem
from tests.conftest import REPO, SAMPLE, TEST_SAMPLE

from .runner import molvae


def test_generate_writes_rdkit_scored_csv(tiny_run, tmp_path):
    out = tmp_path / "gen.csv"
    res = molvae("generate", "--model", str(tiny_run), "--target", "logP", "--target", "QED:min",
                 "--weight", "1", "--weight", "0.5", "-n", "5", "--starts", "16", "--steps", "6",
                 "--where", "MW<250", "--out", str(out), "--any-form")
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert 0 < len(frame) <= 5
    for row in frame.itertuples():
        mol = chem.parse_smiles(row.smiles)
        assert row.logP == chem.logp(mol) or abs(row.logP - chem.logp(mol)) < 1e-9
        assert row.MW < 250
    assert "top" in res.stdout


def test_generate_counts_molecules_not_in_canonical_form(tiny_run, tmp_path):
    """By default only canonical writings are kept; the others are counted, not hidden."""
    res = molvae("generate", "--model", str(tiny_run), "--target", "logP", "-n", "5",
                 "--starts", "16", "--steps", "6", "--max-rounds", "1",
                 "--out", str(tmp_path / "gen.csv"))
    assert res.returncode == 0, res.stderr
    assert "not in canonical form: " in " ".join(res.stdout.split())  # rich wraps lines


def test_generate_unknown_target_lists_heads(tiny_run):
    res = molvae("generate", "--model", str(tiny_run), "--target", "TPSA")
    assert res.returncode == 1
    assert "fit-property" in res.stderr and "logP, QED" in res.stderr
    res = molvae("generate", "--model", str(tiny_run), "--target", "logP", "--weight", "1",
                 "--weight", "2")
    assert res.returncode == 2


def test_optimize_one_row_per_seed(tiny_run, tmp_path):
    seeds = tmp_path / "seeds.smi"
    seeds.write_text("CCOc1ccccc1 a\nnot_smiles b\n\nCC(=O)Nc1ccc(O)cc1 c\n")
    out = tmp_path / "opt.csv"
    res = molvae("optimize", str(seeds), "--model", str(tiny_run), "--target", "logP",
                 "--min-similarity", "0.2", "--steps", "4", "--starts", "4", "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert frame["row"].tolist() == [1, 2, 3, 4]
    assert frame["status"].tolist()[:3] == ["ok", "invalid SMILES", "empty"]
    # The summary says which kind of move found each best molecule, as the column does.
    found = frame.loc[frame["success"].astype(bool), "source"].value_counts()
    text = " ".join(res.stdout.split())  # rich wraps lines
    names = {"latent-search": "the latent search", "vae-splice": "decoder splices",
             "graph-ga": "graph-GA edits"}
    assert len(found) > 0
    for source, n in found.items():
        assert f"{n} from {names[source]}" in text


def test_optimize_polish_rounds_zero_keeps_the_search_alone(tiny_run, tmp_path):
    seeds = tmp_path / "seeds.smi"
    seeds.write_text("CCOc1ccccc1\nCC(=O)Nc1ccc(O)cc1\n")
    out = tmp_path / "opt.csv"
    res = molvae("optimize", str(seeds), "--model", str(tiny_run), "--target", "logP",
                 "--min-similarity", "0.2", "--steps", "4", "--starts", "4",
                 "--polish-rounds", "0", "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert set(frame["source"].dropna()) <= {"latent-search"}


def test_optimize_seed_forms_can_be_turned_off(tiny_run, tmp_path):
    # A protonated amine seed: by default its candidates are also scored protonated like it;
    # with --no-seed-forms only the model's own neutral molecules compete.
    seeds = tmp_path / "seeds.smi"
    seeds.write_text("CCCC[NH2+]CCCC\n")
    rows = {}
    for flag in ("--seed-forms", "--no-seed-forms"):
        out = tmp_path / f"opt{flag}.csv"
        res = molvae("optimize", str(seeds), "--model", str(tiny_run), "--target", "logP",
                     "--min-similarity", "0", "--steps", "4", "--starts", "4", flag,
                     "--out", str(out))
        assert res.returncode == 0, res.stderr
        rows[flag] = pd.read_csv(out).iloc[0]
    assert rows["--seed-forms"]["candidates"] > rows["--no-seed-forms"]["candidates"]
    assert "+" not in str(rows["--no-seed-forms"]["best"])


def test_fit_property_then_generate(tiny_run, tmp_path):
    data = tmp_path / "assay.csv"
    frame = pd.read_csv(SAMPLE).head(120)
    frame["pIC50"] = [5 + (len(s) % 7) / 3 for s in frame["SMILES"]]
    frame.loc[3, "pIC50"] = None
    frame.to_csv(data, index=False)
    new = tmp_path / "m2"
    res = molvae("fit-property", str(data), "--column", "pIC50", "--model", str(tiny_run),
                 "--out", str(new), "--epochs", "50")
    assert res.returncode == 0, res.stderr
    assert "held-out R^2" in res.stdout and "1 without a numeric value" in res.stderr
    config = json.loads((new / "config.json").read_text())
    assert config["properties"]["names"] == ["logP", "QED", "pIC50"]
    res = molvae("generate", "--model", str(new), "--target", "pIC50=6", "-n", "3", "--starts",
                 "8", "--steps", "4", "--out", str(tmp_path / "g.csv"))
    assert res.returncode == 0, res.stderr


def test_evaluate_samples_file(tmp_path):
    gen = tmp_path / "gen.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1", "not valid", "", "CCO"]}).to_csv(gen, index=False)
    report = tmp_path / "r.json"
    res = molvae("evaluate", "--samples", str(gen), "--reference", str(TEST_SAMPLE),
                 "--train", str(SAMPLE), "--out", str(report))
    assert res.returncode == 0, res.stderr
    metrics = json.loads(report.read_text())["metrics"]
    assert metrics["valid"] == 0.6  # the empty row counts as generated and invalid
    assert metrics["Novelty"] == 1.0


def test_models_lists_bundled_or_explains():
    res = molvae("models")
    assert res.returncode == 0
    bundled = REPO / "molvae" / "pretrained"
    if any(bundled.glob("*/config.json")):
        assert "default" in res.stdout
    if (bundled / "default" / "critic.json").is_file():
        assert "AUC" in res.stdout  # the critic column
    else:
        assert "no bundled model" in res.stdout


def test_generate_then_screen(tiny_run, tmp_path):
    out = tmp_path / "gen.csv"
    res = molvae("generate", "--model", str(tiny_run), "--target", "QED", "-n", "8", "--starts",
                 "16", "--steps", "4", "--screen", str(REPO / "configs" / "screen.toml"),
                 "--out", str(out))
    assert res.returncode == 0, res.stderr
    kept = pd.read_csv(out) if out.exists() else pd.DataFrame()
    rejects_file = tmp_path / "gen.rejects.csv"
    rejected = pd.read_csv(rejects_file) if rejects_file.exists() else pd.DataFrame()
    import re

    screened = int(re.search(r"screened ([\d,]+) rows", res.stdout).group(1).replace(",", ""))
    assert screened >= 1 and len(kept) + len(rejected) == screened


def test_fit_critic_writes_a_model_copy_that_samples_with_it(tiny_run, tmp_path):
    out = tmp_path / "with_critic"
    res = molvae("fit-critic", str(SAMPLE), "--model", str(tiny_run), "--out", str(out),
                 "--samples", "40", "--epochs", "2", "--hidden", "16")
    assert res.returncode == 0, res.stderr
    assert "held-out AUC" in res.stdout
    assert (out / "critic.json").is_file() and (out / "model.safetensors").is_file()
    assert not (tiny_run / "model" / "critic.json").exists()  # the source model is untouched
    record = json.loads((out / "critic.json").read_text())
    assert record["reference"]["file"] == SAMPLE.name and record["reference"]["rows"] == 2000
    assert record["hidden"] == 16
    res = molvae("sample", "--model", str(out), "-n", "5", "--seed", "0",
                 "--out", str(tmp_path / "s.csv"))
    assert res.returncode == 0, res.stderr
    assert "turned down by the critic" in " ".join(res.stdout.split())
    assert len(pd.read_csv(tmp_path / "s.csv")) == 5
    # A non-empty --out is refused before the fit (nothing is sampled), and a file as --out too.
    res = molvae("fit-critic", str(SAMPLE), "--model", str(tiny_run), "--out", str(out))
    assert res.returncode == 1 and "not empty" in res.stderr
    assert "samples" not in res.stderr
    res = molvae("fit-critic", str(SAMPLE), "--model", str(tiny_run), "--out",
                 str(tmp_path / "s.csv"))
    assert res.returncode == 1 and "not empty" in res.stderr


def test_generate_that_finds_nothing_replaces_the_previous_output(tiny_run, tmp_path):
    out = tmp_path / "gen.csv"
    out.write_text("smiles\nCCO\n")  # a previous run's result
    res = molvae("generate", "--model", str(tiny_run), "--target", "logP", "-n", "3",
                 "--starts", "8", "--steps", "2", "--max-rounds", "1", "--where", "MW<1",
                 "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "nothing passed" in res.stdout
    assert "CCO" not in out.read_text()
