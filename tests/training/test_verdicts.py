"""Verdicts on models and heads (molvae.training.verdicts): thresholds and real models."""

import math

import pandas as pd
import pytest

from molvae.training import verdicts as v


def test_model_verdict_flags_each_failed_check_with_its_value():
    verdict = v.model_verdict({"val_token_accuracy": 0.38, "val_exact_reconstruction": 0.0})
    assert not verdict.usable
    assert verdict.problems == ("token accuracy 0.38 on validation",
                                "exact reconstruction 0.00 on validation")
    line = verdict.line()
    assert line.startswith("model not usable yet: token accuracy 0.38")
    assert "train longer or on more data (see docs/training.md)" in line
    assert "\n" not in line


def test_model_verdict_thresholds_are_inclusive_and_missing_numbers_are_skipped():
    good = {"val_token_accuracy": v.MIN_TOKEN_ACCURACY,
            "val_exact_reconstruction": v.MIN_EXACT_RECONSTRUCTION}
    assert v.model_verdict(good).usable
    worse = {**good, "val_exact_reconstruction": v.MIN_EXACT_RECONSTRUCTION - 0.01}
    assert not v.model_verdict(worse).usable
    # Nothing recorded: nothing to judge by, no warning.
    assert v.model_verdict(None).usable and v.model_verdict({"val_loss": 3.0}).usable
    assert v.model_verdict({"val_token_accuracy": float("nan")}).usable


def test_sample_statistics_catch_tiny_repetitive_samples():
    # What an untrained SELFIES model writes: all valid, but single atoms over and over.
    frame = pd.DataFrame({"smiles": ["C", "N", "C", "O", "CCO", "C"],
                          "canonical": ["C", "N", "C", "O", "CCO", "C"],
                          "valid": [True] * 6})
    stats = v.sample_stats(frame, drawn=6)
    assert stats.valid == 1.0 and stats.canonical_form == 1.0
    assert stats.unique == pytest.approx(4 / 6) and stats.short == 1.0
    verdict = v.model_verdict({"val_token_accuracy": 0.99, "val_exact_reconstruction": 0.9},
                              stats)
    assert verdict.problems == (f"100% of valid samples under {v.SHORT_HEAVY_ATOMS} heavy atoms",)


def test_sample_statistics_of_raw_draws_and_of_nothing():
    frame = pd.DataFrame({"smiles": ["c1ccccc1CCN", "x", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"],
                          "canonical": ["NCCc1ccccc1", None, "CC(C)Cc1ccc(C(C)C(=O)O)cc1"],
                          "valid": [True, False, True],
                          "canonical_form": [False, False, True]})
    stats = v.sample_stats(frame)
    assert stats.valid == pytest.approx(2 / 3) and stats.canonical_form == pytest.approx(1 / 3)
    assert stats.unique == 1.0 and stats.short == 0.0
    assert v.model_verdict(None, stats).usable
    empty = v.sample_stats(frame.iloc[:0], drawn=500)
    assert empty.n == 0 and empty.canonical_form == 0.0


def test_critic_verdict_near_one_and_near_one_half():
    high = v.critic_verdict(0.999)
    assert not high.usable and "trivially" in high.line() and "train the model" in high.advice
    low = v.critic_verdict(0.51)
    assert not low.usable and "--no-critic" in low.line()
    assert v.critic_verdict(0.77).usable  # the bundled critic's held-out AUC


def test_property_verdict():
    assert not v.property_verdict("pIC50", -0.3).usable
    assert "pIC50 predictor not usable yet: held-out R^2 0.05" in v.property_verdict(
        "pIC50", 0.05).line()
    assert v.property_verdict("logP", 0.9).usable
    assert v.property_verdict("logP", math.nan).usable  # not measurable: no claim
    verdicts = v.property_verdicts({"logP": {"r2": 0.9}, "QED": {"r2": 0.1}})
    assert [x.usable for x in verdicts] == [True, False]


def test_verdict_as_json():
    d = v.model_verdict({"val_token_accuracy": 0.5}).to_dict()
    assert d["usable"] is False and d["subject"] == "model" and d["line"].startswith("model not")


def test_bundled_model_is_usable():
    from molvae.generation.model import MolVAE

    vae = MolVAE.load("default", device="cpu")
    verdict = v.check_model(vae, n=300)
    assert verdict.usable, verdict.line()
    assert all(x.usable for x in v.property_verdicts(vae.bundle.property_metrics))
    assert v.critic_verdict(vae.critic.info["held_out_auc"]).usable


def test_tiny_undertrained_model_is_not_usable(tiny_vae):
    verdict = v.check_model(tiny_vae, n=200)
    assert not verdict.usable
    assert "exact reconstruction" in verdict.line()
