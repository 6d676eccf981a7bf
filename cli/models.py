"""``molvae models``: the models bundled with the package, with their model cards."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markdown import Markdown
from rich.table import Table

from ._common import console
from ._config import config_option


def models(
    card: str | None = typer.Option(None, "--card", help="Show the full model card of this model."),
    config: Path | None = config_option(),
) -> None:
    """List the bundled pretrained models (used when --model is omitted: 'default')."""
    from molvae.models.store import BUNDLED_DIR, resolve_model_path

    if card is not None:
        path = resolve_model_path(card) / "MODEL_CARD.md"
        console.print(Markdown(path.read_text()) if path.is_file() else f"{card}: no model card")
        return
    table = Table(title=f"bundled models ({BUNDLED_DIR})")
    for col in ("name", "representation", "latent", "properties", "trained on", "critic", "card"):
        table.add_column(col)
    found = 0
    for path in sorted(BUNDLED_DIR.glob("*/config.json")):
        cfg = json.loads(path.read_text())
        training = cfg.get("training", {})
        table.add_row(
            path.parent.name,
            cfg.get("representation", "?"),
            str(cfg.get("model", {}).get("latent_dim", "?")),
            ", ".join(cfg.get("properties", {}).get("names", [])) or "-",
            f"{training.get('train_molecules', '?'):,} molecules"
            if isinstance(training.get("train_molecules"), int) else "?",
            _critic_summary(path.parent / "critic.json"),
            "MODEL_CARD.md" if (path.parent / "MODEL_CARD.md").is_file() else "-",
        )
        found += 1
    if found:
        console.print(table)
        console.print("molvae models --card NAME shows a model's card.")
    else:
        console.print("no bundled model is installed; train one with `molvae train`.")


def _critic_summary(path) -> str:
    """One cell on a model's realism critic (``molvae fit-critic``): its held-out AUC."""
    if not path.is_file():
        return "-"
    try:
        auc = json.loads(path.read_text()).get("held_out_auc")
    except (OSError, json.JSONDecodeError):
        return "unreadable"
    return f"yes (AUC {auc:.3f})" if isinstance(auc, float) else "yes"


def register(app: typer.Typer) -> None:
    app.command("models")(models)
