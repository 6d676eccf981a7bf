"""The conditional GRU VAE: condition inputs, the fused decoder path, checked configs, and an
unconditional model left exactly as it was."""

from __future__ import annotations

import json
import math

import pytest
import torch

from molvae.errors import MolvaeError
from molvae.models.config import ModelConfig
from molvae.models.store import (
    CONFIG,
    WEIGHTS,
    ModelBundle,
    expected_tensors,
    load_model_dir,
    read_safetensors_header,
    resolve_model_path,
    save_model_dir,
)
from molvae.models.vae import GRUVAE
from molvae.tokens import Vocabulary

from .test_vae import batch

# Twelve tokens, the four special ones first.
VOCABULARY = Vocabulary.build([["[C]", "[N]", "[O]", "[=C]", "[Ring1]", "[F]", "[S]", "[Cl]"]])


def conditional_config(**kw) -> ModelConfig:
    base = dict(
        vocab_size=12, embedding_dim=8, encoder_hidden=16, latent_dim=4, decoder_hidden=24,
        max_length=20, properties=["QED", "logP", "MW"], conditions=["logP", "MW"],
        condition_mean=[2.0, 300.0], condition_std=[1.0, 30.0], condition_min=[-1.0, 250.0],
        condition_max=[5.0, 350.0],
    )  # fmt: skip
    base.update(kw)
    return ModelConfig(**base)


def make_conditional(**kw) -> GRUVAE:
    torch.manual_seed(0)
    model = GRUVAE(conditional_config(**kw)).eval()
    with torch.no_grad():
        for p in model.parameters():  # larger weights: varied tokens, conditions that matter
            p.mul_(3.0)
    return model


def test_condition_input_is_value_times_mask_then_mask():
    values = torch.tensor([[0.5, float("nan")], [float("nan"), float("nan")]])
    assert GRUVAE.condition_input(values).tolist() == [[0.5, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


@pytest.mark.parametrize("layers", [1, 2])
def test_fused_generation_matches_teacher_forced_decoder_under_a_condition(layers):
    """Greedy tokens from the fused step path equal nn.GRU's teacher-forced argmax with [z, c]."""
    model = make_conditional(decoder_layers=layers)
    z = torch.randn(24, 4, generator=torch.Generator().manual_seed(layers))
    condition = GRUVAE.condition_input(torch.tensor([[1.5, float("nan")]]))[0]
    ids = model.generate(z, strategy="greedy", condition=condition)
    dec_in = torch.cat([torch.full((24, 1), Vocabulary.bos_id), ids[:, :-1]], dim=1)
    dec_in = dec_in.masked_fill(dec_in == Vocabulary.eos_id, Vocabulary.pad_id)
    with torch.no_grad():
        logits = model.decode_logits(z, dec_in, condition.expand(24, -1))
    logits[:, :, [Vocabulary.pad_id, Vocabulary.bos_id, Vocabulary.unk_id]] = float("-inf")
    expected = logits.argmax(-1)
    alive = torch.ones(24, dtype=torch.bool)
    for t in range(ids.shape[1]):
        assert torch.equal(ids[alive, t], expected[alive, t])
        alive &= ids[:, t] != Vocabulary.eos_id
    # The condition changes what is decoded, and None means "nothing asked for" (zeros).
    other = GRUVAE.condition_input(torch.tensor([[-2.0, 1.0]]))[0]
    assert not torch.equal(ids, model.generate(z, strategy="greedy", condition=other))
    assert torch.equal(
        model.generate(z), model.generate(z, condition=torch.zeros(4))
    )


def test_beam_and_likelihood_use_the_condition():
    model = make_conditional()
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(7))
    condition = GRUVAE.condition_input(torch.tensor([[0.3, -1.0]]))[0]
    greedy = model.generate(z, strategy="greedy", condition=condition)
    beam, scores = model.beam_search(z, beam_width=1, condition=condition)
    n = min(greedy.shape[1], beam.shape[2])
    assert torch.equal(greedy[:, :n], beam[:, 0, :n])
    tokens, lengths, dec_in = batch([7, 5, 3, 6, 4])
    with torch.no_grad():
        given = model.sequence_log_likelihood(z, dec_in, tokens, condition.expand(5, -1))
        open_ = model.sequence_log_likelihood(z, dec_in, tokens)
        mu_given, _ = model.encode(tokens, lengths, condition)
        mu_open, _ = model.encode(tokens, lengths)
    assert not torch.allclose(given, open_)
    assert not torch.allclose(mu_given, mu_open)
    out = model(tokens, lengths, dec_in, sample=False, condition=condition.expand(5, -1))
    assert out["logits"].shape == (5, 7, 12) and out["properties"].shape == (4, 5, 3)


def test_wrong_condition_width_and_unconditional_model_refuse():
    model = make_conditional()
    z = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="4 columns"):
        model.generate(z, condition=torch.zeros(3))
    plain = GRUVAE(ModelConfig(vocab_size=12, embedding_dim=8, encoder_hidden=16, latent_dim=4,
                               decoder_hidden=24, max_length=20))
    with pytest.raises(ValueError, match="no conditions"):
        plain.generate(z, condition=torch.zeros(4))


def test_expected_tensors_match_a_conditional_model():
    for kw in ({}, {"decoder_layers": 2, "bidirectional": False}):
        config = conditional_config(**kw)
        built = {k: tuple(v.shape) for k, v in GRUVAE(config).state_dict().items()}
        assert expected_tensors(config) == built
    # Same tensor names as an unconditional model: only the widths that read c grow, by 2 each.
    plain = expected_tensors(conditional_config(
        conditions=[], condition_mean=[], condition_std=[], condition_min=[], condition_max=[]
    ))  # fmt: skip
    cond = expected_tensors(conditional_config())
    assert plain.keys() == cond.keys()
    grown = {k for k in plain if plain[k] != cond[k] and not k.startswith("predictor.")}
    assert grown == {"to_latent.weight", "latent_to_hidden.weight", "decoder.weight_ih_l0"}
    assert all(cond[k][1] == plain[k][1] + 4 for k in grown)


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"conditions": ["TPSA", "MW"]}, "'TPSA' is not one of the model's properties"),
        ({"conditions": ["MW", "MW"]}, "'MW' is listed more than once"),
        ({"condition_std": [1.0]}, "condition_std has 1 values for 2 conditions"),
        ({"condition_mean": [math.nan, 1.0]}, "condition_mean must be a list of finite numbers"),
        ({"condition_max": [math.inf, 1.0]}, "condition_max must be a list of finite numbers"),
        ({"condition_min": ["a", 1.0]}, "condition_min: expected float"),
        ({"condition_std": [0.0, 1.0]}, "condition_std must be positive"),
        ({"condition_min": [9.0, 250.0]}, "condition_min is above condition_max"),
        ({"conditions": "logP"}, "conditions: expected a list"),
    ],
)
def test_hostile_condition_fields_are_refused_on_load(tmp_path, edit, message):
    """A config.json whose condition fields cannot describe the model: one line, no model."""
    model = make_conditional()
    config = conditional_config()
    vocabulary = VOCABULARY
    bundle = ModelBundle(config, vocabulary, "selfies", [0.0] * 3, [1.0] * 3)
    save_model_dir(model, bundle, tmp_path / "m")
    again, loaded = load_model_dir(tmp_path / "m")
    assert loaded.config == config
    assert torch.equal(again.generate(torch.ones(2, 4)), model.generate(torch.ones(2, 4)))
    data = json.loads((tmp_path / "m" / CONFIG).read_text())
    data["model"].update(edit)
    (tmp_path / "m" / CONFIG).write_text(json.dumps(data))
    with pytest.raises(MolvaeError, match=message):
        load_model_dir(tmp_path / "m")


def test_weights_of_the_wrong_kind_are_refused(tmp_path):
    """Unconditional weights under a conditional config (or the reverse) fail the header check."""
    model = make_conditional()
    vocabulary = VOCABULARY
    bundle = ModelBundle(conditional_config(), vocabulary, "selfies", [0.0] * 3, [1.0] * 3)
    save_model_dir(model, bundle, tmp_path / "m")
    data = json.loads((tmp_path / "m" / CONFIG).read_text())
    data["model"]["conditions"] = ["logP"]
    for key in ("condition_mean", "condition_std", "condition_min", "condition_max"):
        data["model"][key] = data["model"][key][:1]
    (tmp_path / "m" / CONFIG).write_text(json.dumps(data))
    with pytest.raises(MolvaeError, match="tensor to_latent.weight has shape"):
        load_model_dir(tmp_path / "m")


def test_bundled_default_model_is_unconditional_and_its_files_unchanged():
    """The default model's config.json round-trips without condition keys; its weights are
    exactly the tensors an unconditional config implies; conditions are refused."""
    path = resolve_model_path("default")
    model, bundle = load_model_dir(path)
    assert bundle.config.conditions == [] and bundle.config.condition_dim == 0
    data = json.loads((path / CONFIG).read_text())
    assert bundle.to_json()["model"] == data["model"]
    assert not any(k.startswith("condition") for k in data["model"])
    header = {k: v.shape for k, v in read_safetensors_header(path / WEIGHTS).items()}
    assert header == expected_tensors(bundle.config)
    z = torch.randn(16, bundle.config.latent_dim, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.generate(z), model.generate(z, condition=None))
    with pytest.raises(ValueError, match="no conditions"):
        model.generate(z, condition=torch.zeros(2))


# ---------------------------------------------------------------------- learned prior p(z|c)
def test_learned_prior_is_standard_normal_unless_something_is_asked_for():
    """Zero-initialized it is N(0, I) for every request; trained (here: random weights) it
    moves with the request, but a row with nothing asked for stays exactly N(0, I)."""
    model = GRUVAE(conditional_config(conditional_prior=True, prior_hidden=16))
    asked = GRUVAE.condition_input(torch.tensor([[1.5, float("nan")], [float("nan"), -1.0]]))
    mu, logvar = model.prior(asked, 2)
    assert torch.equal(mu, torch.zeros(2, 4)) and torch.equal(logvar, torch.zeros(2, 4))
    torch.nn.init.normal_(model.prior_net[2].weight)
    nothing = torch.zeros(1, 4)
    mu, logvar = model.prior(torch.cat([asked, nothing]), 3)
    assert (mu[:2].abs() > 0).all() and (logvar[:2].abs() > 0).all()
    assert not torch.allclose(mu[0], mu[1])
    assert torch.equal(mu[2], torch.zeros(4)) and torch.equal(logvar[2], torch.zeros(4))
    mu_none, _ = model.prior(None, 5)
    assert torch.equal(mu_none, torch.zeros(5, 4))
    # A model without a learned prior reports N(0, I) and has no prior tensors.
    plain = GRUVAE(conditional_config())
    assert plain.prior_net is None
    assert torch.equal(plain.prior(asked, 2)[0], torch.zeros(2, 4))


def test_forward_reports_the_prior_and_the_kl_is_taken_against_it():
    from molvae.models.vae import kl_divergence
    from molvae.training.loss import vae_loss

    model = GRUVAE(conditional_config(conditional_prior=True, prior_hidden=16)).eval()
    torch.nn.init.normal_(model.prior_net[2].weight)
    tokens, lengths, dec_in = batch([7, 5, 3, 6, 4])
    condition = GRUVAE.condition_input(torch.tensor([[0.3, -1.0]])).expand(5, -1)
    with torch.no_grad():
        out = model(tokens, lengths, dec_in, sample=False, condition=condition)
    assert out["prior_mu"].shape == (5, 4)
    # Closed form against a direct computation of KL between diagonal Gaussians.
    mu, lv, pm, plv = out["mu"], out["logvar"], out["prior_mu"], out["prior_logvar"]
    q = torch.distributions.Normal(mu, (0.5 * lv).exp())
    p = torch.distributions.Normal(pm, (0.5 * plv).exp())
    assert torch.allclose(kl_divergence(mu, lv, pm, plv), torch.distributions.kl_divergence(q, p),
                          atol=1e-5)  # fmt: skip
    assert torch.allclose(kl_divergence(mu, lv, pm * 0, plv * 0), kl_divergence(mu, lv), atol=1e-6)
    assert torch.allclose(kl_divergence(pm, plv, pm, plv), torch.zeros(5, 4), atol=1e-6)
    targets = tokens.clone()
    with_prior = vae_loss(out, targets, None, beta=1.0)["kl"]
    standard = vae_loss({k: v for k, v in out.items() if not k.startswith("prior")}, targets,
                        None, beta=1.0)["kl"]  # fmt: skip
    assert torch.allclose(with_prior, kl_divergence(mu, lv, pm, plv).mean(0).sum())
    assert not torch.allclose(with_prior, standard)


def test_a_model_with_a_learned_prior_saves_loads_and_declares_its_tensors(tmp_path):
    config = conditional_config(conditional_prior=True, prior_hidden=16)
    model = GRUVAE(config)
    torch.nn.init.normal_(model.prior_net[2].weight)
    built = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert expected_tensors(config) == built
    bundle = ModelBundle(config, VOCABULARY, "selfies", [0.0] * 3, [1.0] * 3)
    save_model_dir(model, bundle, tmp_path / "m")
    again, loaded = load_model_dir(tmp_path / "m")
    assert loaded.config.conditional_prior and loaded.config.prior_hidden == 16
    c = GRUVAE.condition_input(torch.tensor([[0.3, -1.0]]))
    assert torch.equal(again.prior(c, 1)[0], model.prior(c, 1)[0])
    # A config that names a learned prior the weights lack is refused before building.
    data = json.loads((tmp_path / "m" / CONFIG).read_text())
    data["model"]["prior_hidden"] = 32
    (tmp_path / "m" / CONFIG).write_text(json.dumps(data))
    with pytest.raises(MolvaeError, match="prior_net.0.weight has shape"):
        load_model_dir(tmp_path / "m")


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"conditional_prior": "yes"}, "conditional_prior must be true or false"),
        ({"conditional_prior": True, "conditions": [], "condition_mean": [],
          "condition_std": [], "condition_min": [], "condition_max": []},
         "conditional_prior needs conditions"),
        ({"conditional_prior": True, "prior_hidden": 0}, "prior_hidden must be positive"),
    ],
)  # fmt: skip
def test_learned_prior_settings_are_checked(edit, message):
    with pytest.raises(MolvaeError, match=message):
        conditional_config(**edit).validate()
