"""``molvae interpolate``: decode molecules along the latent path between two encodings (greedy)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from molvae.data.writing import write_table
from molvae.settings import FaithfulSettings

from ._bounds import REFINE_STEPS, whole
from ._common import (
    MODEL_HELP,
    STRICT_HELP,
    check_choice,
    check_output,
    console,
    err_console,
    load_model,
    sidecar,
)
from ._config import config_option

FAITHFUL = FaithfulSettings()


def interpolate_command(
    smiles_a: str = typer.Argument(..., help="SMILES of the start molecule (A)."),
    smiles_b: str = typer.Argument(..., help="SMILES of the end molecule (B)."),
    steps: int = typer.Option(10, "--steps", **whole(2, 1000), help="Points on the path, both ends included."),
    method: str = typer.Option("slerp", "--method", help="slerp (spherical, keeps a typical norm) or linear."),
    out: Path | None = typer.Option(None, "--out", "-o", help=".png/.svg grid (a .csv beside it) or .csv only."),
    property_name: str = typer.Option("QED", "--property", help="RDKit property shown per step."),
    refine_steps: int = typer.Option(FAITHFUL.refine_steps, "--refine-steps", **REFINE_STEPS, help="Refine each end's encoding that does not decode back to its molecule, up to N steps (molvae.refine_latents); 0: the encoder's mu."),
    strict: bool = typer.Option(FAITHFUL.strict, "--strict", help=STRICT_HELP),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Decode molecules along the latent path between two encodings (greedy).

    The ends are encodings that decode back to A and B where one is found (mu, refined where
    needed); the first and last rows are A and B themselves, and the column decoded says what
    their encodings give.
    """
    from molvae.latent.paths import INTERPOLATIONS, interpolate

    check_choice(method, INTERPOLATIONS, "--method")
    suffix = check_output(out, (".png", ".svg", ".csv", ".tsv")) if out is not None else None
    vae = load_model(model, device)
    frame = interpolate(vae, smiles_a, smiles_b, steps=steps, method=method,
                        property_name=property_name, refine_steps=refine_steps, strict=strict)
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
        out = sidecar(out, ".csv")
    if out is not None:
        write_table(frame, out)
        written.append(str(out))
    for label, end in zip("AB", frame.attrs["ends"], strict=True):
        _report_end(label, end, refine_steps)
    valid = int(frame["valid"].sum())
    console.print(
        f"{valid} of {steps} steps valid, {frame.loc[frame['valid'], 'smiles'].nunique()} unique"
        + (f"; written to {', '.join(written)}" if written else ""),
        highlight=False,
    )


def _report_end(label: str, end, refine_steps: int) -> None:
    """One stderr line for an end that was flattened or whose encoding does not decode back."""
    flat = f"encoded in flattened form {end.encoded_as} (salt, stereo or charges removed)"
    if end.reproduced and end.flattened:
        said = f"{label} {flat}, which its encoding decodes back to; the row shows {label} as given"
    elif end.reproduced:
        return
    else:
        said = (
            f"{label} could not be reproduced: its encoding"
            + (f" ({flat})" if end.flattened else "")
            + f" decodes to {end.decoded or 'an invalid string'}"
            + (f" after {refine_steps} refinement steps" if refine_steps else "")
            + f"; the row shows {label} itself"
        )
    err_console.print(said, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("interpolate")(interpolate_command)
