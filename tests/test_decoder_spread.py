"""benchmarks/decoder_spread.py on the tiny model: what its columns mean."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
spread_mod = importlib.import_module("decoder_spread")


def test_one_decode_per_point_has_no_within_spread(tiny_vae):
    row = spread_mod.spread(tiny_vae, points=30, repeats=1, temperature=1.0, seed=0,
                            conditions=None)
    assert row["distinct"] <= 1.0
    for name in spread_mod.PROPERTIES:
        within = row[f"{name} within"]
        assert within == 0.0 or within != within  # 0, or NaN when no decode was kept


def test_repeated_decodes_are_counted_per_point(tiny_vae):
    row = spread_mod.spread(tiny_vae, points=10, repeats=8, temperature=1.0, seed=1,
                            conditions=None)
    assert 0.0 <= row["kept"] <= row["valid"] <= 1.0
    assert 0.0 <= row["distinct"] <= 8.0


def test_conditions_parse_as_name_value():
    assert spread_mod.parse_conditions(["logP=2", "MW = 400"]) == {"logP": 2.0, "MW": 400.0}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        spread_mod.parse_conditions(["logP"])
