"""``molvae sample / encode / decode / reconstruct``: the model's basic operations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from molvae.errors import MolvaeError

from ._common import MODEL_HELP, console, err_console, load_model, write_table


def sample(
    n: int = typer.Option(
        1000, "-n", help="Number of molecules to decode (or unique ones with --unique)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(Path("samples.csv"), "--out", "-o", help="Output CSV/TSV/parquet."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="Softmax temperature."),
    strategy: str = typer.Option("sample", "--strategy", help="sample (multinomial) or greedy."),
    top_k: int | None = typer.Option(
        None, "--top-k", help="Sample only among the k most likely tokens."
    ),
    unique: bool = typer.Option(
        False, "--unique", help="Keep sampling until n unique valid molecules."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (reproducible on CPU)."),
    batch_size: int = typer.Option(1024, "--batch-size"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Sample molecules from the prior and check each with RDKit."""
    if n <= 0:
        raise typer.BadParameter("must be positive", param_hint="-n")
    if strategy not in ("sample", "greedy"):
        raise typer.BadParameter("must be 'sample' or 'greedy'", param_hint="--strategy")
    vae = load_model(model, device)
    frame = vae.sample(
        n,
        temperature=temperature,
        strategy=strategy,
        top_k=top_k,
        unique=unique,
        seed=seed,
        batch_size=batch_size,
    )
    write_table(frame, out)
    valid = int(frame["valid"].sum())
    n_unique = frame.loc[frame["valid"], "canonical"].nunique()
    console.print(
        f"{len(frame):,} decoded, {valid:,} valid ({valid / max(len(frame), 1):.1%}), "
        f"{n_unique:,} unique valid; written to {out}",
        highlight=False,
    )
    if unique and len(frame) < n:
        err_console.print(f"warning: only {len(frame):,} unique molecules found of {n:,} requested")


def _read_input(path: Path, smiles_column: str | None):
    from molvae.io import read_molecules

    table = read_molecules(path, smiles_column=smiles_column)
    return table


def _merge_with_rejects(
    records: pd.DataFrame, result: pd.DataFrame, rejects: pd.DataFrame
) -> pd.DataFrame:
    """Every input row once: encoded rows beside file-level rejects, in input order."""
    result = result.copy()
    result.insert(0, "row", records["row"].to_numpy())
    bad = pd.DataFrame(
        {"row": rejects["row"], "smiles": rejects["smiles"], "status": rejects["reason"]}
    )
    merged = pd.concat([result, bad], ignore_index=True) if len(bad) else result
    return merged.sort_values("row", kind="stable").reset_index(drop=True)


def _report(frame: pd.DataFrame) -> None:
    bad = frame["status"] != "ok"
    if bad.any():
        from molvae.io import reason_kinds

        counts = reason_kinds(frame.loc[bad, "status"]).value_counts()
        detail = ", ".join(f"{k.strip()}: {v}" for k, v in counts.items())
        err_console.print(
            f"{int(bad.sum()):,} of {len(frame):,} rows not encoded ({detail})", highlight=False
        )


def encode(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="latents .csv, .tsv, .parquet or .npy"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    sigma: bool = typer.Option(False, "--sigma", help="Also write the posterior sigma."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Encode molecules to their latent means (mu); every input row is in the output."""
    vae = load_model(model, device)
    table = _read_input(data, smiles_column)
    enc = vae.encode(table.records["smiles"].tolist(), return_sigma=sigma)
    frame = _merge_with_rejects(table.records, enc, table.rejects)
    if out.suffix == ".npy":
        cols = [c for c in frame.columns if c.startswith(("z", "sigma")) and c[-1].isdigit()]
        write_table(frame[cols], out)
        meta = out.with_suffix(".rows.csv")
        write_table(frame[["row", "smiles", "canonical", "status"]], meta)
        err_console.print(f"row index and status written to {meta}", highlight=False)
    else:
        write_table(frame, out)
    _report(frame)
    console.print(
        f"{int((frame['status'] == 'ok').sum()):,} molecules encoded to {out}", highlight=False
    )


def _read_latents(path: Path, dim: int) -> np.ndarray:
    if not path.exists():
        raise MolvaeError(f"{path}: file not found")
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise MolvaeError(f"{path}: not a numeric .npy array ({exc})") from None
    else:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if ".tsv" in path.name else ",")
        cols = [f"z{i}" for i in range(dim)]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise MolvaeError(f"{path}: missing latent columns ({', '.join(missing[:3])}...)")
        arr = frame[cols].to_numpy(dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] < dim:
        raise MolvaeError(f"{path}: expected an array of shape (n, {dim}), got {arr.shape}")
    return arr[:, :dim].astype(np.float32)


def decode(
    latents: Path = typer.Argument(
        ..., help="Latents file from `molvae encode` (.csv/.tsv/.parquet/.npy)."
    ),
    out: Path = typer.Option(Path("decoded.csv"), "--out", "-o"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    strategy: str = typer.Option("greedy", "--strategy", help="greedy or sample."),
    temperature: float = typer.Option(1.0, "--temperature", "-t"),
    seed: int | None = typer.Option(None, "--seed"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Decode latent points to molecules; rows with missing latents are reported, not dropped."""
    vae = load_model(model, device)
    z = _read_latents(latents, vae.latent_dim)
    finite = np.isfinite(z).all(axis=1)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, len(z) + 1),
            "smiles": None,
            "canonical": None,
            "valid": False,
            "status": "missing latent values",
        }
    )
    if finite.any():
        dec = vae.decode(z[finite], strategy=strategy, temperature=temperature, seed=seed)
        idx = np.flatnonzero(finite)
        frame.loc[idx, "smiles"] = dec["smiles"].to_numpy()
        frame.loc[idx, "canonical"] = dec["canonical"].to_numpy()
        frame.loc[idx, "valid"] = dec["valid"].to_numpy()
        frame.loc[idx, "status"] = "ok"
    write_table(frame, out)
    console.print(
        f"{int(finite.sum()):,} decoded ({int(frame['valid'].sum()):,} valid), "
        f"{int((~finite).sum()):,} rows skipped for missing values; written to {out}",
        highlight=False,
    )


def reconstruct(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Per-molecule results CSV."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Exact-match reconstruction rate (greedy decoding of mu, canonical SMILES compared)."""
    vae = load_model(model, device)
    table = _read_input(data, smiles_column)
    rec = vae.reconstruct(table.records["smiles"].tolist())
    frame = _merge_with_rejects(table.records, rec, table.rejects)
    frame["match"] = frame["match"].fillna(False).astype(bool)
    ok = frame["status"] == "ok"
    n_ok = int(ok.sum())
    rate = float(frame.loc[ok, "match"].mean()) if n_ok else float("nan")
    if out is not None:
        write_table(frame, out)
    _report(frame)
    console.print(
        f"exact-match reconstruction: {rate:.4f} ({int(frame['match'].sum()):,} of "
        f"{n_ok:,} encodable molecules)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)
    app.command("encode")(encode)
    app.command("decode")(decode)
    app.command("reconstruct")(reconstruct)
