"""Reference molecules of a conditional model: written by training, checked on load, and the
source of z for a conditional request."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import selfies as sf
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.generation.reference import (
    REFERENCE_FILE,
    ReferenceSet,
    load_reference,
    save_reference,
)
from molvae.training.run import write_reference
from tests.generation.conditional_model import CONDITIONS, conditional_run


@pytest.fixture(scope="module")
def cvae() -> MolVAE:
    return MolVAE.load(conditional_run(), device="cpu")


def _copy_model(tmp_path):
    """A copy of the tiny conditional model's directory, its reference file beside it."""
    model = tmp_path / "model"
    shutil.copytree(conditional_run() / "model", model)
    shutil.copy(conditional_run() / REFERENCE_FILE, model / REFERENCE_FILE)
    return model


def test_a_conditional_run_ships_training_molecules_with_their_rdkit_values(cvae):
    reference = cvae.reference
    assert reference is not None and reference.conditions == tuple(CONDITIONS)
    assert 100 < len(reference) <= 800  # all of the tiny training split (under 20,000)
    vocab = cvae.bundle.vocabulary
    assert cvae.bundle.representation == "selfies"
    for i in range(0, len(reference), 97):
        ids = reference.ids[reference.offsets[i] : reference.offsets[i + 1]]
        mol = chem.parse_smiles(sf.decoder(cvae.tokenizer.detokenize(vocab.decode(ids))))
        assert reference.values[i, 0] == pytest.approx(chem.logp(mol), abs=1e-3)
        assert reference.values[i, 1] == pytest.approx(chem.get_property("MW").func(mol), abs=1e-2)


def test_writing_the_reference_again_gives_the_same_molecules(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(conditional_run(), run)
    before = load_reference(run / "model", CONDITIONS, 10_000, 10_000)
    (run / REFERENCE_FILE).unlink()
    write_reference(run)
    after = load_reference(run / "model", CONDITIONS, 10_000, 10_000)
    for field in ("ids", "offsets", "values"):
        assert np.array_equal(getattr(before, field), getattr(after, field))


def test_an_unconditional_run_has_no_reference(tiny_run):
    assert not (tiny_run / REFERENCE_FILE).exists()
    assert MolVAE.load(tiny_run, device="cpu").reference is None
    with pytest.raises(MolvaeError, match="not a conditional run"):
        write_reference(tiny_run)


def test_nearest_takes_the_largest_gap_in_standard_deviations():
    values = np.array(
        [[2.0, 300.0], [2.4, 300.0], [2.0, 340.0], [2.1, 310.0], [np.nan, 300.0]], np.float32
    )
    ref = ReferenceSet(np.zeros(5, np.int16), np.arange(6), values, ("logP", "MW"))
    scale = {"logP": 1.0, "MW": 100.0}
    # Gaps in sd: 0, 0.4, 0.4, 0.1 and unknown (last).
    assert ref.nearest({"logP": 2.0, "MW": 300.0}, scale, 5).tolist()[:2] == [0, 3]
    assert ref.nearest({"logP": 2.0, "MW": 300.0}, scale, 5).tolist()[-1] == 4
    # Only the requested conditions count: a molecule without a logP is fine for an MW request.
    assert set(ref.nearest({"MW": 300.0}, scale, 3).tolist()) == {0, 1, 4}
    assert ref.nearest({"logP": 2.4}, scale, 1).tolist() == [1]
    assert len(ref.nearest({"logP": 0.0}, scale, 50)) == 5


def test_a_request_draws_z_near_its_nearest_reference_molecule(cvae):
    """With a pool of one, draws scatter around that molecule's encoding under the request,
    and come with the condition they are decoded under: the request, where the request is
    silent the molecule's own values."""
    request = {"logP": 3.0}
    config = cvae.model.config
    scale = dict(zip(config.conditions, config.condition_std, strict=True))
    row = cvae.reference.nearest(request, scale, 1)
    own_mw = float(cvae.reference.values[row[0], 1])
    condition = cvae.condition_vector({"logP": 3.0, "MW": own_mw})
    mu, logvar = cvae.encode_dataset(cvae.reference.dataset(row), condition=condition)
    z, rows = cvae.reference_sampler(request, pool=1)(4000, 0)
    assert torch.allclose(rows, condition.expand(4000, -1), atol=1e-5)
    assert torch.allclose(z.mean(0), mu[0], atol=0.15)
    assert torch.allclose(z.std(0), torch.exp(0.5 * logvar[0]), rtol=0.1)


def test_each_point_can_be_decoded_under_its_own_condition(cvae):
    """``condition_rows`` decodes row i under condition i: the same as decoding each group
    alone under its shared condition, whatever the batch size."""
    z = cvae.sample_prior(24, seed=4)
    low, high = cvae.condition_vector({"logP": -1.0}), cvae.condition_vector({"logP": 4.0})
    rows = torch.stack([low if i % 2 else high for i in range(24)])
    mixed = cvae.decode(z, condition_rows=rows, batch_size=5)["smiles"].tolist()
    alone_low = cvae.decode(z[1::2], conditions={"logP": -1.0})["smiles"].tolist()
    alone_high = cvae.decode(z[0::2], conditions={"logP": 4.0})["smiles"].tolist()
    assert mixed[1::2] == alone_low and mixed[0::2] == alone_high
    with pytest.raises(MolvaeError, match="one condition input per latent point"):
        cvae.decode(z, condition_rows=rows[:3])


def test_conditional_samples_use_the_reference_unless_told_not_to(cvae):
    on = cvae.sample(30, seed=1, canonical_only=False, conditions={"logP": 2.0})
    again = cvae.sample(30, seed=1, canonical_only=False, conditions={"logP": 2.0})
    off = cvae.sample(30, seed=1, canonical_only=False, conditions={"logP": 2.0}, reference=False)
    assert on.attrs["latent_source"] == "reference" and off.attrs["latent_source"] == "prior"
    assert on["smiles"].tolist() == again["smiles"].tolist()
    assert on["smiles"].tolist() != off["smiles"].tolist()
    plain = cvae.sample(10, seed=1, canonical_only=False)
    assert plain.attrs["latent_source"] == "prior"  # nothing requested: the prior


def test_a_model_without_reference_molecules_samples_from_its_prior(tmp_path):
    model = _copy_model(tmp_path)
    (model / REFERENCE_FILE).unlink()
    vae = MolVAE.load(model, device="cpu")
    assert vae.reference is None
    frame = vae.sample(10, seed=0, canonical_only=False, conditions={"logP": 2.0})
    assert frame.attrs["latent_source"] == "prior"
    with pytest.raises(MolvaeError, match="has no reference molecules"):
        vae.reference_sampler({"logP": 2.0})


def _rewrite(model, **change):
    ref = load_reference(model, CONDITIONS, 10_000, 10_000)
    fields = {"ids": ref.ids, "offsets": ref.offsets, "values": ref.values,
              "conditions": ref.conditions} | change  # fmt: skip
    save_reference(ReferenceSet(**fields), model / REFERENCE_FILE)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"conditions": ("logP", "QED")}, "written for conditions"),
        ({"ids": None}, "outside the model's vocabulary"),
        ({"values": None}, "do not describe the same molecules"),
    ],
)
def test_a_reference_file_that_does_not_fit_the_model_is_a_one_line_error(
    tmp_path, change, message
):
    model = _copy_model(tmp_path)
    ref = load_reference(model, CONDITIONS, 10_000, 10_000)
    if "ids" in change:
        change = {"ids": np.full_like(ref.ids, 999)}
    if "values" in change:
        change = {"values": ref.values[:-1]}
    _rewrite(model, **change)
    with pytest.raises(MolvaeError, match=message) as caught:
        MolVAE.load(model, device="cpu")
    assert str(model / REFERENCE_FILE) in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


def test_a_damaged_or_pickled_reference_file_is_never_unpickled(tmp_path):
    model = _copy_model(tmp_path)
    (model / REFERENCE_FILE).write_bytes(b"\x80\x04\x95garbage")
    with pytest.raises(MolvaeError, match="pickle"):
        MolVAE.load(model, device="cpu")
    (model / REFERENCE_FILE).write_bytes((model / "config.json").read_bytes()[:100])
    with pytest.raises(MolvaeError, match="not a valid safetensors file"):
        MolVAE.load(model, device="cpu")
