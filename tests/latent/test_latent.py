"""Latent-space tools: projections, interpolation, neighbourhoods, ELBO scores, maps."""

import sys

import numpy as np
import pandas as pd
import pytest

from molvae import chem
from molvae.data.tables import read_molecules
from molvae.errors import MolvaeError
from molvae.generation.refine import encode_mean, refine_latents
from molvae.latent.maps import check_projection, color_values, latent_map, project
from molvae.latent.paths import interpolate, lerp, neighbors, slerp
from molvae.latent.scores import elbo
from tests.conftest import REPO

BAD_ROWS = REPO / "datasets" / "bad_rows.csv"
# Unusual for drug-like training data: poly-oxygen, polyyne, perbromo, acid anhydride.
OUT_OF_DISTRIBUTION = ["OOOOOOOO", "C#CC#CC#CC#CC#C", "BrC(Br)(Br)C(Br)(Br)Br",
                       "O=S(=O)(O)OS(=O)(=O)O"]


# ------------------------------------------------------------------ interpolation maths


def test_slerp_endpoints_are_the_encodings_and_norms_interpolate():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16) * 3.0, rng.normal(size=16) * 0.5
    t = np.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert path.shape == (11, 16)
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    norms = np.linalg.norm(path, axis=1)
    expected = (1 - t) * np.linalg.norm(a) + t * np.linalg.norm(b)
    np.testing.assert_allclose(norms, expected, rtol=1e-10)
    # The direction turns at constant angular speed, inside the plane of a and b.
    ua = a / np.linalg.norm(a)
    omega = np.arccos(ua @ (b / np.linalg.norm(b)))
    angles = np.arccos(np.clip(path @ ua / norms, -1, 1))
    np.testing.assert_allclose(angles, t * omega, atol=1e-7)
    basis = np.linalg.qr(np.stack([a, b], axis=1))[0]
    np.testing.assert_allclose(basis @ (basis.T @ path.T), path.T, atol=1e-9)


def test_slerp_differs_from_lerp_in_the_middle_only():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=32), rng.normal(size=32)
    t = np.array([0.0, 0.5, 1.0])
    lin, sph = lerp(a, b, t), slerp(a, b, t)
    np.testing.assert_allclose(lin[[0, 2]], sph[[0, 2]])
    # Straight lines cut inside the sphere; slerp keeps the typical norm.
    assert np.linalg.norm(lin[1]) < np.linalg.norm(sph[1])


def test_slerp_degenerate_cases():
    t = np.linspace(0, 1, 5)
    a = np.array([1.0, 2.0, 0.0])
    np.testing.assert_allclose(slerp(a, 3 * a, t), lerp(a, 3 * a, t))  # parallel
    np.testing.assert_allclose(slerp(np.zeros(3), a, t), lerp(np.zeros(3), a, t))  # origin
    path = slerp(a, -2 * a, t)  # antipodal: any great circle, but exact ends and norms
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], -2 * a)
    np.testing.assert_allclose(
        np.linalg.norm(path, axis=1), (1 - t) * np.linalg.norm(a) + t * 2 * np.linalg.norm(a)
    )


# ------------------------------------------------------------------ projections


def test_project_shapes_and_errors():
    mu = np.random.default_rng(0).normal(size=(40, 5))
    xy = project(mu, "pca")
    assert xy.shape == (40, 2)
    # PCA's first axis carries the most variance.
    assert xy[:, 0].var() >= xy[:, 1].var()
    assert project(mu[:, :1], "pca").shape == (40, 2)  # 1-D latent padded
    assert project(mu[:10], "tsne", seed=0).shape == (10, 2)
    with pytest.raises(MolvaeError, match="unknown projection"):
        project(mu, "mds")
    with pytest.raises(MolvaeError, match="at least 2"):
        project(mu[:1], "pca")


def test_umap_missing_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    with pytest.raises(MolvaeError, match="umap-learn") as info:
        check_projection("umap")
    assert "\n" not in str(info.value)
    assert check_projection("pca").name == "pca"


# ------------------------------------------------------------------ with the tiny model


def test_interpolate_rows(tiny_vae):
    a, b = "CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1"
    frame = interpolate(tiny_vae, a, b, steps=4, method="slerp", property_name="qed")
    assert list(frame.columns) == ["step", "t", "z_norm", "smiles", "decoded", "valid", "sim_a",
                                   "sim_b", "QED"]
    assert frame["step"].tolist() == [0, 1, 2, 3] and frame["t"].tolist()[::3] == [0.0, 1.0]
    z = encode_mean(tiny_vae, [a, b]).numpy()  # the same faithful encodings as the path's ends
    np.testing.assert_allclose(frame["z_norm"].iloc[[0, -1]], np.linalg.norm(z, axis=1),
                               rtol=1e-5)
    # The end rows are A and B themselves; "decoded" says what their encodings give.
    assert frame["smiles"].iloc[[0, -1]].tolist() == [chem.canonical_smiles(a),
                                                      chem.canonical_smiles(b)]
    ends = tiny_vae.decode(z)
    pairs = zip(ends["canonical"], ends["smiles"], strict=True)
    assert frame["decoded"].iloc[[0, -1]].tolist() == [c or s for c, s in pairs]
    reported = frame.attrs["ends"]
    assert [e.reproduced for e in reported] == [
        d == e.encoded_as for d, e in zip(frame["decoded"].iloc[[0, -1]], reported, strict=True)
    ]
    # Without refinement the ends are the encoder's mu.
    raw = interpolate(tiny_vae, a, b, steps=4, refine_steps=0)
    mu = tiny_vae.encode([a, b]).filter(regex=r"^z\d+$").to_numpy()
    np.testing.assert_allclose(raw["z_norm"].iloc[[0, -1]], np.linalg.norm(mu, axis=1),
                               rtol=1e-5)
    for rec in frame[frame["valid"]].to_dict("records"):
        assert rec["sim_a"] == pytest.approx(chem.similarity_to(a, [rec["smiles"]])[0])
        assert rec["QED"] == pytest.approx(chem.qed(chem.parse_smiles(rec["smiles"])))
    with pytest.raises(MolvaeError, match="not a valid SMILES"):
        interpolate(tiny_vae, a, "xyz")
    with pytest.raises(MolvaeError, match="unknown property"):
        interpolate(tiny_vae, a, b, property_name="potency")
    with pytest.raises(MolvaeError, match="at least 2"):
        interpolate(tiny_vae, a, b, steps=1)


def test_neighbors_stay_within_radius_and_are_sorted(tiny_vae):
    result = neighbors(tiny_vae, "CCOc1ccccc1", n=5, radius=3.0, points=150, seed=1)
    table = result.table
    assert result.points == 150 and result.valid <= 150 and result.radius == 3.0
    assert len(table) <= 5 and len(table) == min(5, result.unique)
    assert (table["distance"] > 0).all() and (table["distance"] <= 3.0 + 1e-9).all()
    assert table["similarity"].is_monotonic_decreasing
    assert table["smiles"].is_unique and result.query not in set(table["smiles"])
    assert table["hits"].sum() + result.decoded_to_query <= result.valid
    again = neighbors(tiny_vae, "CCOc1ccccc1", n=5, radius=3.0, points=150, seed=1)
    pd.testing.assert_frame_equal(table, again.table)
    with pytest.raises(MolvaeError, match="radius"):
        neighbors(tiny_vae, "CCO", radius=0)
    # By default the radius is the query's own posterior spread.
    default = neighbors(tiny_vae, "CCOc1ccccc1", n=3, points=20)
    sigma = tiny_vae.encode(["CCOc1ccccc1"], return_sigma=True).filter(like="sigma").to_numpy()
    assert default.radius == pytest.approx(np.linalg.norm(sigma), rel=1e-5)
    assert (default.table["distance"] <= default.radius + 1e-9).all()


def test_elbo_reproduces_training_validation_terms(tiny_run, tiny_vae):
    """Teacher-forced log-likelihood at mu and KL are exactly what training reported."""
    validation = (tiny_run / "data" / "validation.smi").read_text().split()
    frame = elbo(tiny_vae, validation)
    assert (frame["status"] == "ok").all()
    metrics = tiny_vae.bundle.metrics
    assert -frame["recon_ll_mu"].mean() == pytest.approx(metrics["val_recon"], rel=1e-5)
    assert frame["kl"].mean() == pytest.approx(metrics["val_kl"], rel=1e-5)


def test_elbo_terms_are_consistent(tiny_vae):
    smiles = ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "c1ccncc1"]
    at_mu = elbo(tiny_vae, smiles)
    np.testing.assert_allclose(at_mu["neg_elbo"], at_mu["kl"] - at_mu["recon_ll"])
    np.testing.assert_allclose(at_mu["recon_ll"], at_mu["recon_ll_mu"])
    assert (at_mu["kl"] >= 0).all() and (at_mu["recon_ll"] < 0).all()
    np.testing.assert_allclose(at_mu["neg_elbo_per_token"],
                               at_mu["neg_elbo"] / at_mu["tokens"].astype(float))
    sampled = elbo(tiny_vae, smiles, samples=4, seed=3)
    np.testing.assert_allclose(sampled["neg_elbo"], sampled["kl"] - sampled["recon_ll"])
    np.testing.assert_allclose(sampled["recon_ll_mu"], at_mu["recon_ll_mu"])
    assert not np.allclose(sampled["recon_ll"], sampled["recon_ll_mu"])
    pd.testing.assert_frame_equal(sampled, elbo(tiny_vae, smiles, samples=4, seed=3))


def test_elbo_does_not_depend_on_batching(tiny_vae):
    smiles = pd.read_csv(REPO / "datasets" / "moses_test_sample.csv")["SMILES"].head(40).tolist()
    one = elbo(tiny_vae, smiles, batch_size=1)
    many = elbo(tiny_vae, smiles, batch_size=16)
    np.testing.assert_allclose(one["neg_elbo"], many["neg_elbo"], rtol=1e-4)
    assert one["canonical"].tolist() == many["canonical"].tolist()


def test_elbo_flags_out_of_distribution_molecules(tiny_run, tiny_vae):
    validation = (tiny_run / "data" / "validation.smi").read_text().split()
    typical = elbo(tiny_vae, validation)["neg_elbo_per_token"].mean()
    unusual = elbo(tiny_vae, OUT_OF_DISTRIBUTION)
    assert (unusual["status"] == "ok").all()
    assert unusual["neg_elbo_per_token"].min() > typical


def test_elbo_accounts_for_every_input(tiny_vae):
    smiles = ["CCO", "not smiles", "", "C" * 200, "[Na+].[Cl-]", "c1ccccc1"]
    frame = elbo(tiny_vae, smiles)
    assert frame["smiles"].tolist() == smiles
    status = frame["status"].tolist()
    assert status[0] == "ok" and status[5] == "ok"
    assert status[1] == "invalid SMILES" and status[2] == "empty"
    assert status[3].startswith("too long")
    # The salt cannot be written as given: it is scored in its flattened form (the largest
    # fragment, neutral), and said so; --strict rejects it with the reason.
    assert status[4] == "ok" and frame["encoded_as"][4] == "Cl"
    assert frame["encoded_as"][0] == frame["canonical"][0] == "CCO"
    assert frame.loc[[0, 4, 5], "neg_elbo"].notna().all()
    assert frame.loc[[1, 2, 3], "neg_elbo"].isna().all()
    strict = elbo(tiny_vae, smiles, strict=True)
    assert "not in vocabulary" in strict["status"][4] and np.isnan(strict["neg_elbo"][4])
    assert elbo(tiny_vae, []).empty
    with pytest.raises(MolvaeError, match="samples"):
        elbo(tiny_vae, ["CCO"], samples=-1)


# ------------------------------------------------------------------ maps


def test_color_values_prefers_input_columns():
    records = pd.DataFrame({"row": [1, 2, 3], "smiles": ["CCO", "CCN", "CCC"],
                            "canonical": ["CCO", "CCN", "CCC"], "pIC50": ["5.1", "x", "7"],
                            "logP": [9.0, 9.0, 9.0], "name": ["a", "b", "c"]})
    name, values = color_values(records, "pIC50")
    assert name == "pIC50" and values[0] == 5.1 and np.isnan(values[1])
    assert color_values(records, "logP")[1].tolist() == [9.0, 9.0, 9.0]  # the user's column
    name, values = color_values(records, "qed")
    assert name == "QED" and values[0] == pytest.approx(chem.qed(chem.parse_smiles("CCO")))
    with pytest.raises(MolvaeError, match="pIC50") as info:
        color_values(records, "potency")
    assert "name" not in str(info.value).split("numeric columns in the input:")[1]
    with pytest.raises(MolvaeError, match="no numeric values"):
        color_values(records, "name")


def test_latent_map_accounts_for_every_row(tiny_vae):
    table = read_molecules(BAD_ROWS)
    assert (table.n_accepted, table.n_rejected) == (8, 5)
    lmap = latent_map(tiny_vae, table.records, color="pIC50", method="pca")
    assert len(lmap.smiles) + len(lmap.rejects) == table.n_accepted
    rows = sorted([*lmap.rows, *lmap.rejects["row"], *table.rejects["row"]])
    assert rows == list(range(1, 14))
    assert lmap.xy.shape == (len(lmap.smiles), 2) and lmap.color_name == "pIC50"
    assert lmap.rejects["reason"].str.len().gt(0).all()


def test_latent_map_needs_encodable_molecules(tiny_vae):
    records = pd.DataFrame({"row": [1, 2], "smiles": ["CCO", "[Na+].[Cl-]"],
                            "canonical": ["CCO", "[Cl-].[Na+]"]})
    with pytest.raises(MolvaeError, match="only 1 of 2 molecules could be encoded.*vocabulary"):
        latent_map(tiny_vae, records, color=None, strict=True)
    # By default the salt is mapped at the encoding of its flattened form (Cl), and counted.
    three = pd.concat([records, pd.DataFrame({"row": [3], "smiles": ["CCN"],
                                              "canonical": ["CCN"]})], ignore_index=True)
    lmap = latent_map(tiny_vae, three, color=None)
    assert len(lmap.smiles) == 3 and lmap.n_flattened == 1 and lmap.rejects.empty


def test_latent_map_subsamples(tiny_vae):
    table = read_molecules(REPO / "datasets" / "moses_test_sample.csv")
    lmap = latent_map(tiny_vae, table.records, color=None, max_points=50, seed=0)
    assert len(lmap.smiles) == 50 and lmap.color is None and "50 of 1,000" in lmap.note
    again = latent_map(tiny_vae, table.records, color=None, max_points=50, seed=0)
    assert np.array_equal(lmap.rows, again.rows)


def test_neighbors_centre_on_the_refined_encoding(tiny_vae):
    query = "CCOc1ccccc1"
    decoded = {}
    for steps in (0, 30):
        centre = encode_mean(tiny_vae, [query], refine_steps=steps)
        decoded[steps] = tiny_vae.decode(centre)["canonical"][0]
        # Within a tiny radius every point decodes like the centre itself.
        res = neighbors(tiny_vae, query, n=3, radius=1e-4, points=10, seed=0, refine_steps=steps)
        found = set(res.table["smiles"]) | ({res.query} if res.decoded_to_query else set())
        assert found == {decoded[steps]}
        assert res.reproduced == (decoded[steps] == query) and res.encoded_as == query
    # Refinement raised the decoder's likelihood of the query, so the centres differ.
    prep = tiny_vae.prepare([query]).dataset
    mu = encode_mean(tiny_vae, [query], refine_steps=0)
    _, ll_mu = refine_latents(tiny_vae, prep, steps=0, z_init=mu)
    _, ll_refined = refine_latents(tiny_vae, prep, steps=30, z_init=mu)
    assert float(ll_refined[0]) > float(ll_mu[0])
