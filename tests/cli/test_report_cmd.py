"""``molvae report``, in-process (see runner.py)."""

import shutil

from .runner import molvae


def test_report_of_a_run(tiny_run, tmp_path):
    out = tmp_path / "report.html"
    res = molvae("report", str(tiny_run), "--out", str(out), "--samples", "100",
                 "--map-points", "20")
    assert res.returncode == 0, res.stderr
    assert "training curves, metrics, sample grid, property histograms, latent map" in res.stdout
    assert "not in the report" not in res.stderr
    assert out.read_text().count("data:image/png;base64,") == 3


def test_report_of_a_model_directory_explains_what_is_missing(tiny_run, tmp_path):
    model = tmp_path / "model_only"
    shutil.copytree(tiny_run / "model", model)
    out = tmp_path / "report.html"
    res = molvae("report", str(model), "--out", str(out), "--samples", "50", "--map-points", "10")
    assert res.returncode == 0, res.stderr
    assert "not in the report: training curves: no metrics.jsonl" in res.stderr
    assert "--reference FILE" in res.stderr and out.is_file()


def test_report_errors(tmp_path):
    res = molvae("report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html"))
    assert res.returncode == 1 and "not found" in res.stderr and "Traceback" not in res.stderr
    assert molvae("report", "default", "--out", str(tmp_path / "r.pdf")).returncode == 2
    res = molvae("report", "default", "--out", str(tmp_path / "r.html"), "-p", "potency")
    assert res.returncode == 1 and "unknown property" in res.stderr
