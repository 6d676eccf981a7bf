"""Training a conditional VAE: condition names, dropout of conditions, heads, fine-tuning."""

from __future__ import annotations

import json

import pytest
import torch

from molvae.errors import MolvaeError
from molvae.training.config import TrainConfig
from molvae.training.prepare import resolve_conditions
from molvae.training.run import open_run
from molvae.training.trainer import Trainer, train
from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config
from tests.generation.conditional_model import conditional_run


def test_conditions_are_named_canonically_and_become_property_targets():
    cfg = TrainConfig(properties=["QED", "logp"], property_columns=["pIC50"],
                      conditions=["LOGP", "molwt", "pic50", "activity"])  # fmt: skip
    resolve_conditions(cfg)
    assert cfg.conditions == ["logP", "MW", "pIC50", "activity"]
    assert cfg.properties == ["QED", "logp", "MW"]  # logp was there already, as an alias
    assert cfg.property_columns == ["pIC50", "activity"]
    with pytest.raises(MolvaeError, match="'logP' is given more than once"):
        resolve_conditions(TrainConfig(conditions=["logP", "clogp"]))


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"condition_dropout": 1.0}, "condition_dropout must be in"),
        ({"condition_drop_all": -0.1}, "condition_drop_all must be in"),
        ({"conditions": [" "]}, "conditions must be a list of property names"),
    ],
)
def test_condition_options_are_checked(kw, message):
    with pytest.raises(MolvaeError, match=message):
        TrainConfig(**kw).validate()


def test_run_records_the_conditions_for_resume():
    run = open_run(conditional_run())
    assert run.model_cfg.conditions == ["logP", "MW"]
    assert run.cfg.conditions == ["logP", "MW"]
    assert len(run.model_cfg.condition_min) == 2


def test_conditions_are_dropped_per_molecule_and_heads_learn_only_hidden_ones():
    """About condition_dropout of each condition and condition_drop_all of all of them are
    hidden; a hidden or missing value has mask 0; the heads' target of a condition is kept
    only where the encoder was not told it."""
    run = open_run(conditional_run())
    run.cfg.condition_dropout, run.cfg.condition_drop_all = 0.3, 0.2
    trainer = Trainer(run, "cpu", status=lambda s: None)
    names = run.model_cfg.properties
    at = [names.index("logP"), names.index("MW")]
    n = 20000
    torch.manual_seed(0)
    props = torch.randn(n, len(names))
    props[:100, at[0]] = float("nan")  # missing in the data
    condition, targets = trainer._condition_batch(props)
    assert condition.shape == (n, 4)
    mask = condition[:, 2:]
    assert (mask[:100, 0] == 0).all()
    hidden = 1 - mask[100:].mean(0)
    expected = 0.2 + 0.8 * 0.3
    assert torch.allclose(hidden, torch.full((2,), expected), atol=0.02)
    all_hidden = float((mask[100:].sum(1) == 0).float().mean())
    assert abs(all_hidden - (0.2 + 0.8 * 0.3**2)) < 0.02
    # The value seen is the property standardized with the model's condition statistics.
    c = run.model_cfg
    raw = props[:, at] * torch.tensor(run.prop_std[at]) + torch.tensor(run.prop_mean[at])
    seen = (raw - torch.tensor(c.condition_mean)) / torch.tensor(c.condition_std)
    given = mask.bool()
    assert torch.allclose(condition[:, :2][given], seen[given], atol=1e-4)
    assert (condition[:, :2][~given] == 0).all()
    assert torch.isnan(targets[:, at][given]).all()
    assert torch.equal(targets[:, at][~given & ~props[:, at].isnan()],
                       props[:, at][~given & ~props[:, at].isnan()])  # fmt: skip
    others = [i for i in range(len(names)) if i not in at]
    assert torch.equal(targets[:, others], props[:, others])


def test_an_unconditional_trainer_feeds_no_condition(tiny_run):
    run = open_run(tiny_run)
    trainer = Trainer(run, "cpu", status=lambda s: None)
    props = torch.randn(8, len(run.model_cfg.properties))
    state = torch.get_rng_state()
    condition, targets = trainer._condition_batch(props)
    assert condition is None and targets is props
    assert torch.equal(torch.get_rng_state(), state)  # no random draws: runs replay as before
    data = json.loads((tiny_run / "model" / "config.json").read_text())
    assert not any(k.startswith("condition") for k in data["model"])


def test_fine_tuning_keeps_the_parent_conditions(tmp_path):
    with pytest.raises(MolvaeError, match=r"keeps the conditions of .* \(logP, MW\)"):
        train(SAMPLE, tmp_path / "ft", tiny_train_config(conditions=["QED"]),
              tiny_model_config(), init_from=conditional_run(), progress=False,
              status=lambda s: None)  # fmt: skip


def test_fine_tuning_can_add_a_learned_prior_that_moves_with_the_request(tmp_path):
    """``conditional_prior`` in the model table of a fine-tuning run adds p(z|c) to the parent:
    every parent weight is taken over, the prior starts as N(0, I) and learns; sampling with a
    condition then draws z from it."""
    from molvae import MolVAE
    from molvae.models.store import load_model_dir

    parent = conditional_run()
    run = tmp_path / "prior"
    train(SAMPLE, run, tiny_train_config(epochs=1, max_molecules=300, kl_schedule="constant"),
          tiny_model_config(conditional_prior=True, prior_hidden=16), init_from=parent,
          progress=False, status=lambda s: None)  # fmt: skip
    model, bundle = load_model_dir(run / "model")
    assert bundle.config.conditional_prior and bundle.config.conditions == ["logP", "MW"]
    assert bundle.config.prior_hidden == 16  # the size asked for, not the default
    assert model.prior_net[2].weight.abs().sum() > 0  # learnt away from its zero start
    vae = MolVAE.load(run / "model")
    assert vae.has_conditional_prior
    high = vae.sample_prior(2000, seed=0, conditions={"MW": 340})
    low = vae.sample_prior(2000, seed=0, conditions={"MW": 260})
    assert not torch.allclose(high.mean(0), low.mean(0), atol=1e-3)
    standard = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(vae.sample_prior(5, seed=0), standard)  # nothing asked for: N(0, I)
    frame = vae.sample(20, seed=0, conditions={"MW": 300})
    assert len(frame) == 20 and frame["requested_MW"].eq(300).all()


def test_a_learned_prior_needs_a_conditional_parent(tiny_run, tmp_path):
    with pytest.raises(MolvaeError, match="conditional_prior needs a conditional model"):
        train(SAMPLE, tmp_path / "ft", tiny_train_config(), tiny_model_config(
            conditional_prior=True), init_from=tiny_run, progress=False, status=lambda s: None)
