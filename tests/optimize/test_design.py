"""molvae.design: the oracle budget, the record and resume, failing oracles, and that the search
beats sampling from the prior on a simple oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from molvae import chem
from molvae.errors import MolvaeError
from molvae.optimize.design import CALL_COLUMNS, SOURCE_GA, VAE_SOURCES, design
from molvae.optimize.oracles import (
    CommandOracle,
    OracleError,
    call_oracle,
    check_score,
    load_python_oracle,
)
from molvae.settings import DesignSettings

FAST = DesignSettings(batch_size=10, pool_size=120, centers=4, max_train=200)


@pytest.fixture(scope="module")
def vae():
    """The bundled model (the tiny test model writes too few distinct molecules to search)."""
    from molvae.generation.model import MolVAE

    return MolVAE.load(device="cpu")


class Killed(BaseException):
    """A process killed mid-run: not an Exception, so nothing catches it."""


class Recorder:
    """An oracle (heavy-atom count) that remembers every molecule it was sent."""

    def __init__(self, kill_after: int | None = None):
        self.sent: list[str] = []
        self.kill_after = kill_after

    def __call__(self, smiles: list[str]) -> list[float]:
        if self.kill_after is not None and len(self.sent) + len(smiles) > self.kill_after:
            raise Killed
        self.sent.extend(smiles)
        return [float(chem.heavy_atoms(chem.parse_smiles(s))) for s in smiles]


def test_budget_is_never_exceeded_and_repeats_are_free(vae, tmp_path):
    oracle = Recorder()
    known = pd.DataFrame({"smiles": ["CCO", "c1ccccc1"], "score": [1.0, 2.0]})
    start = ["OCC", "CCO", "c1ccccc1O", "Oc1ccccc1", "not a smiles", "CCN"]
    result = design(oracle, 37, model=vae, settings=FAST, seed=1,
                    record=tmp_path / "calls.csv", start_from=start, scores=known)
    assert result.n_calls == len(oracle.sent) == 37
    assert len(set(oracle.sent)) == 37  # nothing was sent twice
    assert "CCO" not in oracle.sent  # known for free, in the start list twice
    assert oracle.sent[:2] == ["Oc1ccccc1", "CCN"]  # start molecules first, deduplicated
    assert result.skipped == {"start-from: invalid SMILES": 1}
    assert all(chem.canonical_smiles(s) == s for s in oracle.sent)
    calls = result.calls
    assert list(calls.columns) == CALL_COLUMNS
    assert calls["call"].tolist() == list(range(1, 38))
    assert calls["smiles"].tolist() == oracle.sent
    assert set(calls["source"].iloc[2:]) <= {*VAE_SOURCES, SOURCE_GA}
    assert calls["source"].iloc[:2].tolist() == ["start", "start"]
    on_disk = pd.read_csv(tmp_path / "calls.csv")
    assert on_disk["smiles"].tolist() == oracle.sent
    np.testing.assert_allclose(on_disk["score"], calls["score"])
    assert result.best(3)["score"].is_monotonic_decreasing
    assert result.best(3)["score"].iat[0] == calls["score"].max()


def test_resume_after_a_kill_calls_nothing_twice_and_continues_the_run(vae, tmp_path):
    record = tmp_path / "calls.csv"
    first = Recorder(kill_after=25)
    with pytest.raises(Killed):
        design(first, 50, model=vae, settings=FAST, seed=2, record=record)
    assert len(pd.read_csv(record)) == 20  # two batches of 10 recorded, the third was lost
    second = Recorder()
    resumed = design(second, 50, model=vae, settings=FAST, seed=2, record=record,
                     resume=True)
    assert resumed.resumed == 20
    assert not set(second.sent) & set(first.sent)
    assert len(second.sent) == 30 and resumed.n_calls == 50
    assert pd.read_csv(record)["call"].tolist() == list(range(1, 51))
    # The same run, never interrupted, made the same calls.
    whole = design(Recorder(), 50, model=vae, settings=FAST, seed=2,
                   record=tmp_path / "whole.csv")
    assert whole.calls["smiles"].tolist() == resumed.calls["smiles"].tolist()
    # Resuming a finished run calls nothing.
    third = Recorder()
    again = design(third, 50, model=vae, settings=FAST, seed=2, record=record, resume=True)
    assert third.sent == [] and again.n_calls == 50


def test_a_record_without_the_parents_column_resumes_in_its_own_columns(vae, tmp_path):
    """Records written without ``parents`` continue as they are: same columns, same calls."""
    record = tmp_path / "calls.csv"
    design(Recorder(), 20, model=vae, settings=FAST, seed=3, record=record)
    pd.read_csv(record, keep_default_na=False).drop(columns="parents").to_csv(record, index=False)
    resumed = design(Recorder(), 40, model=vae, settings=FAST, seed=3, record=record,
                     resume=True)
    on_disk = pd.read_csv(record, keep_default_na=False)
    assert list(on_disk.columns) == CALL_COLUMNS[:-1] and len(on_disk) == 40
    assert on_disk["smiles"].tolist() == resumed.calls["smiles"].tolist()
    whole = design(Recorder(), 40, model=vae, settings=FAST, seed=3)
    assert whole.calls["smiles"].tolist() == resumed.calls["smiles"].tolist()


def test_an_existing_record_needs_resume(vae, tmp_path):
    record = tmp_path / "calls.csv"
    design(Recorder(), 5, model=vae, settings=FAST, record=record)
    with pytest.raises(MolvaeError, match="already exists"):
        design(Recorder(), 5, model=vae, settings=FAST, record=record)
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(CALL_COLUMNS) + "\n")  # a run stopped before any call
    assert design(Recorder(), 5, model=vae, settings=FAST, record=header_only).n_calls == 5
    other = tmp_path / "other.csv"
    other.write_text("smiles,value\nCCO,1\n")
    with pytest.raises(MolvaeError, match="missing column"):
        design(Recorder(), 5, model=vae, settings=FAST, record=other, resume=True)


def test_failed_molecules_are_recorded_and_the_run_goes_on(vae, tmp_path):
    def flaky(smiles):
        if any("Cl" in s or "Br" in s for s in smiles):
            raise ValueError("cannot dock halogens")
        out: list = []
        for i, s in enumerate(smiles):
            out.append(None if i == 0 else math.nan if i == 1 else "oops" if i == 2 else len(s))
        return out

    start = ["CCCl", "CCO", "CCN", "CCC", "CCBr", "CCOC"]
    result = design(flaky, 30, model=vae, settings=FAST, start_from=start,
                    record=tmp_path / "calls.csv")
    assert result.n_calls == 30
    calls = result.calls.set_index("smiles")
    assert calls.loc["CCCl", "status"] == "failed"
    assert calls.loc["CCCl", "reason"] == "oracle raised ValueError: cannot dock halogens"
    # sent alone after the batch raised, each molecule is the first of its batch: None
    assert calls.loc["CCO", "reason"] == "oracle returned None"
    for _, batch in result.calls.groupby("round"):
        halogen = batch["smiles"].str.contains("Cl|Br").to_numpy()
        reasons = batch["reason"].tolist()
        if halogen.any():  # the batch raised: each molecule was sent alone
            assert all(r.startswith("oracle raised") for r in batch["reason"][halogen])
            assert all(r == "oracle returned None" for r in batch["reason"][~halogen])
        else:
            assert reasons[:3] == ["oracle returned None", "oracle returned NaN",
                                   "oracle returned a non-number: 'oops'"][: len(reasons)]
            assert all(r == "" for r in reasons[3:])
    assert result.calls.loc[result.calls["status"] == "failed", "score"].isna().all()
    assert (result.calls.loc[result.calls["status"] == "ok", "reason"] == "").all()
    on_disk = pd.read_csv(tmp_path / "calls.csv", keep_default_na=False)
    assert (on_disk["status"] == "failed").sum() == (result.calls["status"] == "failed").sum()


def test_wrong_number_of_values_is_an_error_and_the_record_is_kept(vae, tmp_path):
    batches = []

    def short(smiles):
        batches.append(smiles)
        return [1.0] * (len(smiles) if len(batches) == 1 else len(smiles) - 1)

    record = tmp_path / "calls.csv"
    with pytest.raises(OracleError, match="returned 9 value.s. for 10 molecule"):
        design(short, 30, model=vae, settings=FAST, record=record)
    assert len(pd.read_csv(record)) == 10


def test_an_oracle_failing_for_a_whole_batch_is_an_error(vae, tmp_path):
    def broken(smiles):
        raise RuntimeError("licence server down")

    record = tmp_path / "calls.csv"
    with pytest.raises(OracleError, match="every molecule of a batch of 10: RuntimeError: "
                                          "licence server down"):
        design(broken, 30, model=vae, settings=FAST, record=record)
    assert len(pd.read_csv(record)) == 0
    # one molecule at a time: a few failures in a row stop the run too
    one = DesignSettings(batch_size=1, pool_size=60, centers=2)
    with pytest.raises(OracleError, match="5 molecules in a row"):
        design(broken, 30, model=vae, settings=one)


def test_check_score_and_call_oracle():
    assert check_score(0.5) == (0.5, "")
    assert check_score(np.float32(2))[0] == 2.0
    assert check_score(None)[1] == "oracle returned None"
    assert check_score(float("inf"))[1] == "oracle returned inf"
    assert check_score("x")[1].startswith("oracle returned a non-number")
    with pytest.raises(OracleError, match="returned float"):
        call_oracle(lambda s: 1.0, ["C", "CC"])


def test_command_oracle(tmp_path):
    script = tmp_path / "score.py"
    script.write_text(
        "import sys\n"
        "for line in sys.stdin:\n"
        "    s = line.strip()\n"
        "    print('nan' if 'N' in s else len(s))\n"
    )
    import shlex
    import sys

    oracle = CommandOracle(f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    scores, reasons = call_oracle(oracle, ["CCO", "CCN", "c1ccccc1"])
    assert scores[0] == 3.0 and scores[2] == 8.0 and math.isnan(scores[1])
    assert reasons == ["", "oracle returned NaN", ""]
    failing = CommandOracle(f"{shlex.quote(sys.executable)} -c \"import sys; "
                            "sys.exit('no receptor file')\"")
    with pytest.raises(OracleError, match="exited with status 1: no receptor file"):
        call_oracle(failing, ["CCO", "CCN"])


def test_load_python_oracle_errors(tmp_path):
    path = tmp_path / "oracle.py"
    path.write_text("def score(smiles):\n    return [1.0 for _ in smiles]\nVALUE = 3\n")
    assert load_python_oracle(f"{path}:score")(["C"]) == [1.0]
    with pytest.raises(MolvaeError, match=r"no function 'nope' \(functions defined there: "
                                          r"score\)"):
        load_python_oracle(f"{path}:nope")
    with pytest.raises(MolvaeError, match="'VALUE' is not a function"):
        load_python_oracle(f"{path}:VALUE")
    with pytest.raises(MolvaeError, match="missing.py: file not found"):
        load_python_oracle(f"{tmp_path / 'missing.py'}:score")
    with pytest.raises(MolvaeError, match="expected FILE.py:FUNCTION"):
        load_python_oracle(str(path))
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_here\n")
    with pytest.raises(MolvaeError, match="error while loading: ModuleNotFoundError"):
        load_python_oracle(f"{bad}:score")


def test_constraints_apply_to_proposals(vae):
    settings = DesignSettings(batch_size=10, pool_size=200, centers=4, max_heavy_atoms=20)
    result = design(Recorder(), 20, model=vae, settings=settings)
    sizes = [chem.heavy_atoms(chem.parse_smiles(s)) for s in result.calls["smiles"]]
    assert result.n_calls > 0 and max(sizes) <= 20
    assert result.rejected.get("heavy atoms > 20", 0) > 0


def test_bad_arguments_are_one_line_errors(vae):
    with pytest.raises(MolvaeError, match="budget must be a positive"):
        design(Recorder(), 0, model=vae)
    with pytest.raises(MolvaeError, match="missing column"):
        design(Recorder(), 5, model=vae, scores=pd.DataFrame({"smiles": ["CCO"]}))
    with pytest.raises(MolvaeError, match="surrogate must be"):
        DesignSettings(surrogate="forest")


@pytest.mark.slow
def test_design_beats_sampling_from_the_prior_on_a_similarity_oracle(vae):
    """Similarity to celecoxib, the bundled model, 150 calls, seed 0: the top-10 mean of design
    is above that of 150 molecules sampled from the prior (the same model's sampler)."""
    target = chem.parse_smiles("Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1")
    target_fp = chem.morgan_count_fingerprint(target)

    def similarity(smiles):
        return [chem.tanimoto(target_fp, chem.morgan_count_fingerprint(chem.parse_smiles(s)))
                for s in smiles]

    settings = DesignSettings(batch_size=25, pool_size=300)
    result = design(similarity, 150, model=vae, settings=settings, seed=0)
    sampled = vae.sample(150, seed=0, unique=True)["canonical"].tolist()
    random_top10 = float(np.mean(sorted(similarity(sampled))[-10:]))
    assert result.n_calls == 150
    assert result.top_mean(10) > random_top10 + 0.03


def test_tanimoto_gp_fits_its_data_and_thompson_picks_distinct_candidates():
    from molvae.optimize.surrogate import TanimotoGP, fingerprints, tanimoto_matrix

    train = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1C", "c1ccccc1CC", "CC(=O)O", "CCN"]
    y = np.array([1.0, 1.2, 1.4, 5.0, 5.2, 5.4, 0.0, 0.8])
    x = fingerprints(train)
    assert np.allclose(np.diag(tanimoto_matrix(x, x)), 1.0)
    gp = TanimotoGP(x, y)
    mean, var = gp.posterior(x)
    predicted = mean * gp.y_std + gp.y_mean
    assert np.corrcoef(predicted, y)[0, 1] > 0.9
    pool = fingerprints(["c1ccccc1CCC", "CCCCCO", "OCC(=O)O", "c1ccccc1CCCC"])
    picks = gp.thompson_batch(pool, 3, np.random.default_rng(0))
    assert len(set(picks)) == 3 and all(0 <= i < 4 for i in picks)
    assert gp.thompson_batch(pool, 10, np.random.default_rng(0)) == [0, 1, 2, 3]
    new_mean, _ = gp.posterior(pool)
    assert new_mean[0] > new_mean[2]  # a benzene homologue scores above an acid
