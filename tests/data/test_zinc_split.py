"""The shipped ZINC-250k samples (``datasets/make_zinc.py``): isomeric canonical SMILES with
stereo marks and charges, train and test disjoint, none of the constrained-benchmark molecules
in any form, and every molecule's SELFIES giving the same isomeric molecule back."""

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from molvae import chem
from molvae.tokens import get_tokenizer
from molvae_datasets import make_zinc, sample_path

REPO = Path(__file__).resolve().parents[2]
STEREO_MARK = re.compile(r"[@/\\]")
CHARGED_ATOM = re.compile(r"\[[^\]]*[+-]")
BENCHMARK = REPO.parent / "shared" / "benchmarks" / "constrained_plogp" / "opt.test.logP-SA"


@pytest.fixture(scope="module")
def samples() -> dict[str, list[str]]:
    return {name: pd.read_csv(sample_path(name))["SMILES"].tolist()
            for name in make_zinc.SAMPLES}


def test_samples_are_isomeric_canonical_and_carry_stereo_and_charges(samples):
    tok = get_tokenizer("selfies")
    for name, smiles in samples.items():
        assert len(smiles) == make_zinc.SAMPLES[name][1]
        assert len(set(smiles)) == len(smiles)
        assert [chem.canonical_smiles(s) for s in smiles] == smiles, name
        # Every SELFIES string gives the same isomeric molecule back (checked on the test
        # sample; make_zinc.py checks all 248,642 molecules).
        if name == "zinc_test_sample.csv":
            back = [chem.canonical_smiles(tok.to_smiles(tok.encode_string(s))) for s in smiles]
            assert back == smiles
        # ZINC-250k: 63% with stereo marks, 32% charged; a sample of 1,000 or more is far from
        # 0 and from 1 on both.
        stereo = sum(bool(STEREO_MARK.search(s)) for s in smiles) / len(smiles)
        charged = sum(bool(CHARGED_ATOM.search(s)) for s in smiles) / len(smiles)
        assert 0.5 < stereo < 0.75 and 0.2 < charged < 0.45, (name, stereo, charged)


def test_train_and_test_samples_are_disjoint(samples):
    assert not set(samples["zinc_sample.csv"]) & set(samples["zinc_test_sample.csv"])


@pytest.mark.skipif(not BENCHMARK.is_file(), reason="needs ../shared/benchmarks")
def test_no_benchmark_molecule_in_any_form(samples):
    bench = [line.split()[0] for line in BENCHMARK.read_text().splitlines() if line.strip()]
    iso = {chem.canonical_smiles(s) for s in bench}
    flat = {chem.flattened_smiles(s) for s in bench}
    for smiles in samples.values():
        assert not iso & set(smiles)
    # Nor a stereoisomer or another charge state of one (same flattened form): the held-out
    # sample is checked here, make_zinc.py checks both splits in full.
    test = samples["zinc_test_sample.csv"]
    assert not flat & {chem.flattened_smiles(s) for s in test}


def test_describe_names_the_cause_of_a_failed_round_trip():
    assert make_zinc.describe("not a molecule") is None
    d = make_zinc.describe("C[C@H](N)C(=O)O")
    assert d["roundtrip"] == "ok" and d["stereo"] and not d["charged"]
    assert d["flat"] == "CC(N)C(=O)O"
    d = make_zinc.describe("CC[NH3+]")
    assert d["charged"] and not d["stereo"] and d["selfies"] == "[C][C][NH3+1]"


def test_readme_states_the_shipped_samples_sha256():
    readme = (REPO / "datasets" / "README.md").read_text()
    for name in make_zinc.SAMPLES:
        digest = hashlib.sha256(sample_path(name).read_bytes()).hexdigest()
        assert f"`{name}`: `{digest}`" in readme, name
