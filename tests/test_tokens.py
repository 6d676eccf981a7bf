import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molvae.tokens import (
    SelfiesTokenizer,
    SmilesTokenizer,
    TokenizationError,
    Vocabulary,
    get_tokenizer,
)
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def moses_smiles() -> list[str]:
    return pd.read_csv(SAMPLE)["SMILES"].tolist()


def test_smiles_round_trip_on_moses(moses_smiles):
    tok = SmilesTokenizer()
    for s in moses_smiles:
        assert "".join(tok.tokenize(s)) == s


def test_selfies_round_trip_on_moses(moses_smiles):
    tok = SelfiesTokenizer()
    for s in moses_smiles[:500]:
        text = tok.encode_string(s)
        tokens = tok.tokenize(text)
        assert "".join(tokens) == text
        assert all(t.startswith("[") and t.endswith("]") for t in tokens)


def test_smiles_special_tokens_are_single_tokens():
    tok = SmilesTokenizer()
    tokens = tok.tokenize("C[C@@H](Cl)Br.c1ccc%12cc1/C=C\\[nH+]%12")
    for single in ("[C@@H]", "Cl", "Br", "%12", "/", "\\", "[nH+]", "."):
        assert single in tokens


def test_smiles_untokenizable_character_is_named():
    with pytest.raises(TokenizationError) as err:
        SmilesTokenizer().tokenize("CC&C")
    assert err.value.token == "&"


SMILES_ALPHABET = list("CNOSFPBIcnosp()=#-+123456789[]@H/\\.%0lr ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=SMILES_ALPHABET, max_size=40))
def test_smiles_tokenizer_round_trips_or_raises(text):
    tok = SmilesTokenizer()
    try:
        tokens = tok.tokenize(text)
    except TokenizationError:
        return
    assert "".join(tokens) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["[C]", "[=C]", "[Ring1]", "[Branch1]", "[O]", "[N]", "[#N]",
                                 "[F]", "[=Branch1]"]), max_size=30))
def test_selfies_tokens_round_trip_and_decode(tokens):
    tok = SelfiesTokenizer()
    text = "".join(tokens)
    assert tok.tokenize(text) == tokens
    assert tok.to_smiles(text) is not None  # every SELFIES string decodes


def test_selfies_rejects_unencodable():
    with pytest.raises(TokenizationError):
        SelfiesTokenizer().encode_string("[Xe]1CC")  # unclosed ring: not a valid molecule


def test_vocabulary_specials_encode_and_json(tmp_path):
    vocab = Vocabulary.build([["C", "C", "O"], ["N"]])
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert vocab.tokens[4] == "C"  # most frequent first
    ids = vocab.encode(["C", "O"])
    assert vocab.decode(ids + [vocab.eos_id, vocab.index["N"]]) == ["C", "O"]
    with pytest.raises(TokenizationError) as err:
        vocab.encode(["Br"])
    assert err.value.token == "Br"
    assert vocab.encode(["Br"], strict=False) == [vocab.unk_id]
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text())["tokens"] == vocab.tokens
    assert Vocabulary.load(path).tokens == vocab.tokens


def test_vocabulary_rejects_bad_json():
    with pytest.raises(ValueError):
        Vocabulary.from_dict({"tokens": ["a", "b"]})


def test_get_tokenizer_unknown():
    assert get_tokenizer("SELFIES").name == "selfies"
    with pytest.raises(ValueError, match="unknown representation"):
        get_tokenizer("inchi")
