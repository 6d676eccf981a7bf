"""The CLI's conventions and main commands, in-process (see runner.py; test_entry_point.py
runs the installed script)."""

import pandas as pd
import pytest

from tests.conftest import REPO, SAMPLE

from .runner import molvae


def test_help_lists_every_command():
    out = molvae("--help")
    assert out.returncode == 0
    for command in ("train", "sample", "encode", "decode", "reconstruct", "datasets"):
        assert command in out.stdout


def test_version():
    from molvae import __version__

    out = molvae("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_usage_error_exits_2():
    out = molvae("sample", "-n", "notanumber")
    assert out.returncode == 2


def test_runtime_error_is_one_line_exit_1(tmp_path):
    out = molvae("sample", "--model", str(tmp_path / "missing"))
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not found" in lines[0] and "Traceback" not in out.stderr
    debug = molvae("--debug", "sample", "--model", str(tmp_path / "missing"))
    assert "Traceback" in debug.stderr


@pytest.mark.slow
def test_train_sample_encode_decode_reconstruct(tmp_path):
    run = tmp_path / "run"
    out = molvae(
        "train",
        str(SAMPLE),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--max-molecules",
        "200",
        "--batch-size",
        "32",
        "--latent-dim",
        "8",
        "--encoder-hidden",
        "32",
        "--decoder-hidden",
        "64",
        "--embedding-dim",
        "16",
        "-p",
        "logP",
        "--quiet",
        "--seed",
        "1",
    )
    assert out.returncode == 0, out.stderr
    assert (run / "model" / "model.safetensors").is_file()
    samples = tmp_path / "s.csv"
    out = molvae("sample", "-n", "50", "--model", str(run), "--out", str(samples), "--seed", "0",
                 "--any-form")
    assert out.returncode == 0, out.stderr
    assert "50 decoded" in out.stdout and len(pd.read_csv(samples)) == 50
    out = molvae("sample", "-n", "5", "--model", str(run), "--out", str(samples), "--seed", "0")
    assert out.returncode == 0, out.stderr
    kept = pd.read_csv(samples)
    assert " kept of " in out.stdout and " drawn " in out.stdout
    assert kept["valid"].all() and len(kept) <= 5
    assert len(kept) == 5 or "warning: only" in out.stderr
    bad = REPO / "datasets" / "bad_rows.csv"
    latents = tmp_path / "z.csv"
    out = molvae("encode", str(bad), "--model", str(run), "--out", str(latents))
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(latents)
    n_rows = len(pd.read_csv(bad, skip_blank_lines=False))
    assert len(frame) == n_rows and frame["row"].tolist() == list(range(1, n_rows + 1))
    decoded = tmp_path / "d.csv"
    out = molvae("decode", str(latents), "--model", str(run), "--out", str(decoded))
    assert out.returncode == 0, out.stderr
    assert len(pd.read_csv(decoded)) == n_rows
    # An undertrained model reconstructs almost nothing, so every molecule goes through the
    # refinement: a slice of the sample keeps this quick.
    head = tmp_path / "head.csv"
    pd.read_csv(SAMPLE).head(100).to_csv(head, index=False)
    out = molvae("reconstruct", str(head), "--model", str(run))
    assert out.returncode == 0 and "exact-match reconstruction" in out.stdout
    assert "of 100 " in out.stdout
    out = molvae("reconstruct", str(head), "--model", str(run), "--beam-width", "3",
                 "--refine-steps", "0")
    assert out.returncode == 0 and "(beam of 3, nearest)" in out.stdout
    out = molvae("reconstruct", str(head), "--model", str(run), "--beam-width", "3",
                 "--beam-pick", "likeliest", "--refine-steps", "0")
    assert out.returncode == 0 and "(beam of 3, likeliest)" in out.stdout
    out = molvae("reconstruct", str(head), "--model", str(run), "--beam-pick", "best")
    assert out.returncode == 2 and "one of likeliest, nearest" in out.stderr
    out = molvae("decode", str(latents), "--model", str(run), "--strategy", "beams")
    assert out.returncode == 2 and "one of greedy, sample, beam" in out.stderr


def test_config_with_unknown_key_is_an_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("epochs = 1\nlearning_rat = 0.1\n")
    out = molvae("train", str(SAMPLE), "--out", str(tmp_path / "r"), "--config", str(cfg))
    assert out.returncode == 1 and "learning_rat" in out.stderr


def test_error_text_with_brackets_is_printed_verbatim(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("model = 3\n")
    out = molvae("train", str(SAMPLE), "--out", str(tmp_path / "r"), "--config", str(cfg))
    assert out.returncode == 1 and "[model] must be a table" in out.stderr
