"""Stereo marks and formal charges survive every step a ZINC-style (isomeric) model takes a
molecule through: canonical SMILES, SELFIES and back, the canonical-form check of sampling, the
training-set index behind novelty, and flattening only on request."""

import pytest

from molvae import chem
from molvae.data.index import save_training_set_index, training_set_index
from molvae.tokens import get_tokenizer, in_canonical_form

# (input, what it carries): drawn from ZINC-250k and the common-drugs list.
MOLECULES = [
    ("CN1CCC[C@H]1c1cccnc1", "stereocentre (nicotine)"),
    ("C/C=C/C(=O)[O-]", "double-bond geometry and a carboxylate"),
    ("F/C=C\\F", "cis double bond"),
    ("CC[NH+]1CC[C@@H](CNCc2ccc([O-])c[nH+]2)C1", "ZINC protonation states and a stereocentre"),
    ("C[C@@H]1CC[C@@H](C(N)=O)CN1C(=O)c1nnn[n-]1", "two stereocentres and a tetrazolide"),
    ("O=[N+]([O-])c1ccccc1", "nitro group"),
    ("C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O", "estradiol, [C@] without H"),
]


@pytest.mark.parametrize("smiles", [m for m, _ in MOLECULES])
def test_selfies_round_trip_keeps_stereo_and_charges(smiles):
    tok = get_tokenizer("selfies")
    canonical = chem.canonical_smiles(smiles)
    text = tok.encode_string(canonical)
    back = chem.canonical_smiles(tok.to_smiles(text))
    assert back == canonical
    # The training string of the molecule is its canonical form, stereo tokens included.
    assert in_canonical_form(text, back, tok)
    assert ("@" in canonical) == any("@" in t for t in tok.tokenize(text))
    assert ("+" in canonical) == any("+" in t for t in tok.tokenize(text))


def test_canonical_smiles_is_isomeric_and_flattening_is_explicit():
    assert chem.canonical_smiles("N[C@@H](C)C(=O)O") == "C[C@H](N)C(=O)O"
    assert chem.canonical_smiles("N[C@@H](C)C(=O)O", isomeric=False) == "CC(N)C(=O)O"
    assert chem.canonical_smiles("CC[NH3+]") == "CC[NH3+]"  # charges kept unless standardized
    assert chem.flattened_smiles("CC[NH3+]") == "CCN"
    assert chem.flattened_smiles("C[C@H](N)C(=O)O") == "CC(N)C(=O)O"
    # A salt's parent as given: stereo marks and charges stay, the counter-ion goes.
    assert chem.largest_fragment_smiles("C[C@@H]([NH3+])C(=O)O.[Cl-]") == "C[C@@H]([NH3+])C(=O)O"
    assert chem.largest_fragment_smiles("O.C/C=C/C(=O)[O-].[Na+]") == "C/C=C/C(=O)[O-]"
    assert chem.largest_fragment_smiles("not a molecule") is None


def test_enantiomer_and_geometric_isomer_strings_are_not_the_canonical_form_of_the_other():
    tok = get_tokenizer("selfies")
    l_ala = chem.canonical_smiles("C[C@H](N)C(=O)O")
    d_ala = chem.canonical_smiles("C[C@@H](N)C(=O)O")
    text_l = tok.encode_string(l_ala)
    assert in_canonical_form(text_l, l_ala, tok)
    assert not in_canonical_form(text_l, d_ala, tok)
    trans, cis = chem.canonical_smiles("C/C=C/C"), chem.canonical_smiles("C/C=C\\C")
    assert trans != cis and not in_canonical_form(tok.encode_string(trans), cis, tok)


def test_stereo_on_a_non_stereocentre_is_not_canonical_form():
    """A decoded [C@@H1] on an atom with two equal substituents loses its mark in RDKit: the
    string is not how training data would write that molecule, so the sampler drops it."""
    tok = get_tokenizer("selfies")
    text = "[C][C@@H1][Branch1][C][C][C]"
    canonical = chem.canonical_smiles(tok.to_smiles(text))
    assert canonical == "CC(C)C"
    assert not in_canonical_form(text, canonical, tok)


def test_novelty_index_tells_stereoisomers_and_charge_states_apart(tmp_path):
    train = [chem.canonical_smiles(s) for s in ("C[C@H](N)C(=O)O", "CC[NH3+]", "C/C=C/C")]
    save_training_set_index(train, tmp_path / "training_set.safetensors")
    index = training_set_index(tmp_path)
    queries = ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CC(N)C(=O)O", "CC[NH3+]", "CCN",
               "C/C=C/C", "C/C=C\\C"]
    found = index.contains([chem.canonical_smiles(q) for q in queries]).tolist()
    assert found == [True, False, False, True, False, True, False]
