"""A model whose vocabulary writes stereo marks and charges (as one trained on ZINC-250k does)
encodes such molecules as given: nothing is flattened, in encode, reconstruct or optimize's seed
handling. Flattening is only the fallback for molecules the vocabulary cannot write."""

import pandas as pd
import pytest
import torch

from molvae import chem
from molvae.models import ModelConfig
from molvae.models.store import ModelBundle, save_model_dir
from molvae.models.vae import GRUVAE
from molvae.tokens import Vocabulary, get_tokenizer

from .runner import molvae

# Molecules with [C@@H1], [C@H1], [C@], [NH1+1], [O-1], [N-1], [/C], [\F] in their SELFIES.
STEREO = [
    "CN1CCC[C@H]1c1cccnc1",  # nicotine
    "C[C@@H]1CC[C@@H](C(N)=O)CN1C(=O)c1nnn[n-]1",  # ZINC: stereocentres, tetrazolide
    "CC[NH+]1CC[C@@H](CNCc2ccc([O-])c[nH+]2)C1",  # ZINC: protonated amines, phenolate
    "C/C=C/C(=O)[O-]",
    "F/C=C\\F",
    "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O",  # estradiol
]
PLAIN = ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"]


@pytest.fixture(scope="module")
def stereo_model(tmp_path_factory):
    """An untrained tiny SELFIES model whose vocabulary has the tokens of ``STEREO``."""
    tok = get_tokenizer("selfies")
    vocab = Vocabulary.build(
        tok.smiles_to_tokens(chem.canonical_smiles(s)) for s in STEREO + PLAIN
    )
    assert {"[C@@H1]", "[NH1+1]", "[O-1]", "[/C]", "[\\F]"} <= set(vocab.tokens)
    config = ModelConfig(vocab_size=len(vocab), embedding_dim=8, encoder_hidden=16,
                         latent_dim=4, decoder_hidden=16, max_length=60)
    torch.manual_seed(0)
    bundle = ModelBundle(config=config, vocabulary=vocab, representation="selfies")
    return save_model_dir(GRUVAE(config), bundle, tmp_path_factory.mktemp("stereo") / "model")


@pytest.fixture
def molecules(tmp_path):
    path = tmp_path / "in.csv"
    # A salt of a chiral parent the vocabulary writes; a salt whose parent needs a charge the
    # vocabulary lacks ([NH3+1]) but whose flattened form it writes; a molecule with no Si token.
    pd.DataFrame(
        {"smiles": STEREO + ["C[C@H](N)C(=O)O.Cl", "C[C@@H]([NH3+])C(=O)O.[Cl-]", "C[Si](C)(C)C"]}
    ).to_csv(path, index=False)
    return path


def test_encode_keeps_stereo_and_charges_as_given(stereo_model, molecules, tmp_path):
    out = tmp_path / "z.csv"
    for extra in ([], ["--strict"]):
        res = molvae("encode", molecules, "--model", stereo_model, "--out", out, *extra)
        assert res.returncode == 0, res.stderr
        frame = pd.read_csv(out)
        n = len(STEREO)
        assert frame["status"][:n].tolist() == ["ok"] * n
        assert frame["encoded_as"][:n].tolist() == [chem.canonical_smiles(s) for s in STEREO]
        assert frame["canonical"][:n].tolist() == frame["encoded_as"][:n].tolist()
        assert "not in vocabulary" in frame["status"].iloc[-1]  # no Si token: rejected
    # Without --strict the salt is encoded as its largest fragment, stereo kept; the salt whose
    # parent the vocabulary cannot write as given falls back to the flattened form. Both count
    # as encoded in a reduced form.
    res = molvae("encode", molecules, "--model", stereo_model, "--out", out)
    frame = pd.read_csv(out)
    assert frame["encoded_as"].iloc[-3] == "C[C@H](N)C(=O)O"
    assert frame["encoded_as"].iloc[-2] == "CC(N)C(=O)O"
    assert "2 encoded in flattened form" in res.stdout


def test_reconstruct_compares_isomeric_smiles_with_the_input(stereo_model, tmp_path):
    data = tmp_path / "in.csv"
    pd.DataFrame({"smiles": STEREO}).to_csv(data, index=False)
    out = tmp_path / "rec.csv"
    res = molvae("reconstruct", data, "--model", stereo_model, "--out", out,
                 "--refine-steps", "0")
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert (frame["compared_with"] == "input").all()
    assert frame["encoded_as"].tolist() == [chem.canonical_smiles(s) for s in STEREO]
    # match is exact equality with the isomeric form: a reconstruction is never flattened first.
    decoded = frame["reconstructed"].fillna("")
    assert (frame["match"] == (decoded == frame["encoded_as"])).all()


def test_optimize_seeds_are_taken_as_they_are(stereo_model):
    from molvae import MolVAE
    from molvae.optimize.seeds import _encodable_forms

    vae = MolVAE.load(stereo_model, device="cpu")
    seeds = [chem.canonical_smiles(s) for s in STEREO]
    assert _encodable_forms(vae, seeds) == seeds
    # A salt keeps its parent as given (stereo included); a seed whose parent the vocabulary
    # cannot write as given ([NH3+1]) is flattened for it.
    assert _encodable_forms(vae, ["C[C@H](N)C(=O)O.Cl", "C[C@@H]([NH3+])C(=O)O.[Cl-]"]) == [
        "C[C@H](N)C(=O)O",
        "CC(N)C(=O)O",
    ]
