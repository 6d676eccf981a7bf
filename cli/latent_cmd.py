"""``molvae map / interpolate / neighbors / score / embed``: looking into the latent space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from molvae.data.writing import merge_with_rejects, write_table

from ._common import (
    MODEL_HELP,
    check_choice,
    check_output,
    console,
    err_console,
    load_model,
    report_reasons,
    report_status,
)
from ._config import config_option

DATA_HELP = "Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."


def _sidecar(out: Path, suffix: str) -> Path:
    """``features.parquet`` -> ``features<suffix>`` (e.g. ``.rejects.csv``), beside ``out``."""
    name = out.name
    for ext in (".csv.gz", ".tsv.gz", ".parquet", ".csv", ".tsv", ".npy", ".html", ".png", ".svg"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + suffix)


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _read(data: Path, smiles_column: str | None):
    from molvae.data.tables import read_molecules

    return read_molecules(data, smiles_column=smiles_column)


def _summarize_rejects(rejects: pd.DataFrame, n_rows: int, what: str, path: Path | None) -> None:
    if len(rejects):
        report_reasons(rejects["reason"], n_rows, what)
    if path is not None:
        write_table(rejects[["row", "smiles", "reason"]], path)
        err_console.print(f"rejected rows and reasons written to {path}", highlight=False)


def map_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(Path("map.html"), "--out", "-o", help="Interactive .html page or static .png."),
    color: str = typer.Option("logP", "--color", "-c", help="RDKit property (logP, QED, SA, MW, TPSA, ...) or a numeric column of DATA; 'none' for no colour."),
    method: str = typer.Option("pca", "--method", help="Projection: pca, tsne or umap (umap needs the umap-learn package)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    max_points: int = typer.Option(10_000, "--max-points", help="Plot a random subset of this many molecules at most."),
    max_structures: int = typer.Option(2000, "--max-structures", help="Embed structure drawings for at most this many points (HTML)."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Write rows that could not be mapped, with reasons (CSV)."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    seed: int = typer.Option(0, "--seed", help="Seed of subsampling and of t-SNE/UMAP."),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """2-D map of the latent space (mu), coloured by a property; hover to see structures."""
    from molvae.latent.maps import PROJECTIONS, check_projection, latent_map

    suffix = check_output(out, (".html", ".htm", ".png"))
    check_choice(method.lower(), PROJECTIONS, "--method")
    if max_points < 2:
        raise typer.BadParameter("must be at least 2", param_hint="--max-points")
    check_projection(method)  # e.g. umap not installed: one line, before the slow part
    vae = load_model(model, device)
    table = _read(data, smiles_column)
    colour = None if color.strip().lower() in ("", "none") else color
    lmap = latent_map(vae, table.records, color=colour, method=method, max_points=max_points,
                      seed=seed)
    all_rejects = pd.concat([table.rejects, lmap.rejects], ignore_index=True)
    all_rejects = all_rejects.sort_values("row", kind="stable").reset_index(drop=True)
    _summarize_rejects(all_rejects, table.n_rows, "mapped", rejects)
    if lmap.note:
        err_console.print(lmap.note, highlight=False)
    if suffix == ".png":
        from molvae.reporting.figures import latent_map_png

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(latent_map_png(lmap, title=f"{data.name}: {lmap.label} of mu"))
    else:
        from molvae.reporting.report import map_page

        if len(lmap.smiles) > max_structures:
            err_console.print(
                f"structures embedded for {max_structures:,} of {len(lmap.smiles):,} points "
                "(--max-structures)",
                highlight=False,
            )
        page = map_page(lmap, title=f"molvae latent map: {data.name}",
                        subtitle=f"Model {vae.path}.", max_structures=max_structures, seed=seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    coloured = f", coloured by {lmap.color_name}" if lmap.color_name else ""
    console.print(
        f"{len(lmap.smiles):,} molecules mapped ({lmap.label}){coloured}; written to {out} "
        f"({_size(out)})",
        highlight=False,
        soft_wrap=True,
    )


def interpolate_command(
    smiles_a: str = typer.Argument(..., help="SMILES of the start molecule (A)."),
    smiles_b: str = typer.Argument(..., help="SMILES of the end molecule (B)."),
    steps: int = typer.Option(10, "--steps", help="Points on the path, both ends included."),
    method: str = typer.Option("slerp", "--method", help="slerp (spherical, keeps a typical norm) or linear."),
    out: Path | None = typer.Option(None, "--out", "-o", help=".png/.svg grid (a .csv beside it) or .csv only."),
    property_name: str = typer.Option("QED", "--property", help="RDKit property shown per step."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Decode molecules along the latent path between two encodings (greedy)."""
    from molvae.latent.paths import INTERPOLATIONS, interpolate

    check_choice(method, INTERPOLATIONS, "--method")
    if steps < 2:
        raise typer.BadParameter("must be at least 2", param_hint="--steps")
    suffix = check_output(out, (".png", ".svg", ".csv", ".tsv")) if out is not None else None
    vae = load_model(model, device)
    frame = interpolate(vae, smiles_a, smiles_b, steps=steps, method=method,
                        property_name=property_name)
    prop = frame.columns[-1]
    table = Table(title=f"{method} path, {steps} steps")
    for name in ("step", "t", "|z|", "SMILES", "sim A", "sim B", prop):
        table.add_column(name, justify="left" if name == "SMILES" else "right")
    for rec in frame.to_dict("records"):
        table.add_row(
            str(rec["step"]), f"{rec['t']:.2f}", f"{rec['z_norm']:.2f}",
            rec["smiles"] if rec["valid"] else f"(invalid) {rec['smiles']}",
            *(f"{rec[k]:.2f}" if pd.notna(rec[k]) else "-" for k in ("sim_a", "sim_b", prop)),
        )
    console.print(table)
    written = []
    if suffix in (".png", ".svg"):
        from molvae.data.tables import write_image
        from molvae.reporting.figures import interpolation_grid

        write_image(interpolation_grid(frame, prop, svg=suffix == ".svg"), out)
        written.append(str(out))
        out = _sidecar(out, ".csv")
    if out is not None:
        write_table(frame, out)
        written.append(str(out))
    valid = int(frame["valid"].sum())
    console.print(
        f"{valid} of {steps} steps valid, {frame.loc[frame['valid'], 'smiles'].nunique()} unique"
        + (f"; written to {', '.join(written)}" if written else ""),
        highlight=False,
    )


def neighbors_command(
    smiles: str = typer.Argument(..., help="SMILES of the query molecule."),
    n: int = typer.Option(20, "-n", help="Neighbours to list (most similar first)."),
    radius: float | None = typer.Option(None, "--radius", help="Largest latent distance from the query's mu (default: the norm of its posterior sigma)."),
    points: int | None = typer.Option(None, "--points", help="Latent points decoded (default max(10 n, 100))."),
    seed: int = typer.Option(0, "--seed"),
    refine_steps: int = typer.Option(30, "--refine-steps", min=0, help="Centre on mu refined for this many steps so that it decodes back to the query (0: mu)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the neighbours (.csv/.tsv/.parquet)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Molecules decoded from points around a molecule's encoding, most similar first."""
    from molvae.latent.paths import neighbors

    if n < 1:
        raise typer.BadParameter("must be at least 1", param_hint="-n")
    if radius is not None and not radius > 0:
        raise typer.BadParameter("must be positive", param_hint="--radius")
    if out is not None:
        check_output(out, (".csv", ".tsv", ".parquet", ".csv.gz"))
    vae = load_model(model, device)
    result = neighbors(vae, smiles, n=n, radius=radius, points=points, seed=seed,
                       refine_steps=refine_steps)
    table = Table(title=f"neighbours of {result.query} within latent radius {result.radius:.3g}")
    for name in ("#", "SMILES", "similarity", "latent distance", "hits"):
        table.add_column(name, justify="left" if name == "SMILES" else "right")
    for i, rec in enumerate(result.table.to_dict("records"), start=1):
        table.add_row(str(i), rec["smiles"], f"{rec['similarity']:.3f}", f"{rec['distance']:.3f}",
                      str(rec["hits"]))
    console.print(table)
    if out is not None:
        write_table(result.table, out)
    console.print(
        f"{result.points:,} points decoded: {result.valid:,} valid, {result.decoded_to_query:,} "
        f"back to the query, {result.unique:,} other unique molecules"
        + (f"; {len(result.table):,} written to {out}" if out is not None else ""),
        highlight=False,
        soft_wrap=True,
    )
    if result.unique < n:
        err_console.print(
            f"fewer than {n} neighbours: a larger --radius reaches further (the query's "
            f"posterior sigma has norm {result.posterior_scale:.3g})",
            highlight=False,
            soft_wrap=True,
        )


def score_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(Path("scores.csv"), "--out", "-o", help="Per-row scores (.csv/.tsv/.parquet)."),
    samples: int = typer.Option(0, "--samples", help="Average the reconstruction term over K posterior samples (0: at z = mu)."),
    batch_size: int = typer.Option(256, "--batch-size"),
    seed: int = typer.Option(0, "--seed", help="Seed of the posterior samples."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Per-molecule ELBO terms: an out-of-distribution score (higher neg_elbo = more unusual)."""
    if samples < 0:
        raise typer.BadParameter("must be 0 or more", param_hint="--samples")
    if batch_size < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--batch-size")
    check_output(out, (".csv", ".tsv", ".parquet", ".csv.gz"))
    vae = load_model(model, device)
    table = _read(data, smiles_column)
    from molvae.latent import elbo

    scores = elbo(vae, table.records["smiles"].tolist(), samples=samples,
                  batch_size=batch_size, seed=seed)
    frame = merge_with_rejects(table.records, scores, table.rejects)
    write_table(frame, out)
    report_status(frame, "scored")
    ok = frame["status"] == "ok"
    if ok.any():
        q = frame.loc[ok, "neg_elbo"].quantile([0.05, 0.5, 0.95]).to_numpy()
        spread = f"; neg ELBO median {q[1]:.2f} (5%: {q[0]:.2f}, 95%: {q[2]:.2f})"
    else:
        spread = ""
    basis = f"{samples} posterior samples" if samples else "z = mu"
    console.print(
        f"{int(ok.sum()):,} of {len(frame):,} rows scored ({basis}){spread}; written to {out}",
        highlight=False,
        soft_wrap=True,
    )


def embed_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Features: .parquet, .csv, .tsv or .npy."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Rows not embedded, with reasons (default: OUT's name + .rejects.csv, when any)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """mu as feature columns z0..z{d-1}, with row id and canonical SMILES, for scikit-learn.

    Only embedded molecules are in the features (no NaN rows); every other input row is in
    the rejects file with its reason.
    """
    suffix = check_output(out, (".parquet", ".csv", ".tsv", ".npy", ".csv.gz"))
    vae = load_model(model, device)
    table = _read(data, smiles_column)
    enc = vae.encode(table.records["smiles"].tolist())
    frame = merge_with_rejects(table.records, enc, table.rejects)
    ok = (frame["status"] == "ok").to_numpy()
    z_cols = [f"z{i}" for i in range(vae.latent_dim)]
    features = frame.loc[ok, ["row", "canonical", *z_cols]].reset_index(drop=True)
    features[z_cols] = features[z_cols].astype(np.float32)
    bad = frame.loc[~ok, ["row", "smiles", "status"]].rename(columns={"status": "reason"})
    if suffix == ".npy":
        write_table(features[z_cols], out)
        index = _sidecar(out, ".rows.csv")
        write_table(features[["row", "canonical"]], index)
        err_console.print(f"row ids and SMILES of the array rows written to {index}",
                          highlight=False)
    else:
        write_table(features, out)
    if len(bad) or rejects is not None:
        rejects = rejects or _sidecar(out, ".rejects.csv")
        write_table(bad, rejects)
        report_status(frame, "embedded")
        err_console.print(f"rejected rows and reasons written to {rejects}", highlight=False)
    console.print(
        f"{len(features):,} of {len(frame):,} rows embedded ({vae.latent_dim} features); "
        f"written to {out}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
    app.command("interpolate")(interpolate_command)
    app.command("neighbors")(neighbors_command)
    app.command("score")(score_command)
    app.command("embed")(embed_command)

