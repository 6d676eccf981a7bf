"""Scoring molecules with RDKit and the objective a latent search climbs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.optimize.goals import Goal
from molvae.runtime import map_chunks


@lru_cache(maxsize=4096)
def _reference_fingerprint(smiles: str):
    mol = chem.parse_smiles(smiles)
    return None if mol is None else chem.morgan_count_fingerprint(mol)


def _score_chunk(
    items: Sequence[tuple[str, str | None]],
    properties: Sequence[str],
    filters: Sequence[str],
    min_similarity: float = 0.0,
) -> list[dict]:
    """RDKit facts about each (candidate, reference) pair: properties, size, similarity, alerts.

    A candidate less similar to its reference than ``min_similarity`` gets its similarity only:
    it cannot be chosen, so its properties (SA and QED are the slow ones) are not computed.
    """
    out = []
    for smiles, reference in items:
        mol = chem.parse_smiles(smiles)
        row: dict = {"valid": mol is not None}
        if mol is None:
            out.append(row)
            continue
        if reference is not None:
            ref_fp = _reference_fingerprint(reference)
            row["similarity"] = (
                chem.tanimoto(ref_fp, chem.morgan_count_fingerprint(mol)) if ref_fp else 0.0
            )
            if row["similarity"] < min_similarity:
                out.append(row)
                continue
        row.update(chem.compute_properties(mol, properties))
        row["HeavyAtoms"] = chem.heavy_atoms(mol)
        row["alerts"] = "; ".join(chem.structural_alerts(mol, filters)) if filters else ""
        out.append(row)
    return out


def score_molecules(
    smiles: Sequence[str],
    properties: Sequence[str],
    references: Sequence[str | None] | None = None,
    filters: Sequence[str] = (),
    min_similarity: float = 0.0,
) -> pd.DataFrame:
    """RDKit properties, heavy atoms, similarity to each row's reference and structural alerts.

    Rows with a reference and ``similarity < min_similarity`` have NaN properties (not computed).
    """
    refs = list(references) if references is not None else [None] * len(smiles)
    rows = map_chunks(
        partial(_score_chunk, properties=list(properties), filters=list(filters),
                min_similarity=min_similarity),
        list(zip(smiles, refs, strict=True)),
        chunk_size=500,
        min_parallel=1500,
    )
    frame = pd.DataFrame(rows, index=range(len(smiles)))
    for name in properties:  # present even when every row was below min_similarity
        if name not in frame:
            frame[name] = np.nan
    return frame


class Objective:
    """The weighted objective on standardized values, shared by predictor and RDKit scoring."""

    def __init__(self, goals: Sequence[Goal], names: Sequence[str], mean, std):
        self.goals = list(goals)
        self.columns = [list(names).index(g.name) for g in goals]
        self.mean = np.asarray([mean[c] for c in self.columns], dtype=np.float64)
        self.std = np.asarray([std[c] for c in self.columns], dtype=np.float64)

    def _term(self, goal: Goal, u, target_u):
        if goal.mode == "max":
            return u
        if goal.mode == "min":
            return -u
        return -abs(u - target_u)

    def predicted(self, members: torch.Tensor, uncertainty_penalty: float) -> torch.Tensor:
        """Objective of standardized ensemble predictions (k, B, P), minus the spread penalty."""
        total = torch.zeros(members.shape[1], device=members.device)
        for j, (goal, col) in enumerate(zip(self.goals, self.columns, strict=True)):
            u = members[:, :, col].mean(0)
            target_u = None if goal.value is None else (goal.value - self.mean[j]) / self.std[j]
            total = total + goal.weight * self._term(goal, u, target_u)
            if uncertainty_penalty > 0 and members.shape[0] > 1:
                total = total - uncertainty_penalty * goal.weight * members[:, :, col].std(0)
        return total

    def actual(self, values: pd.DataFrame) -> np.ndarray:
        """Objective of real values (columns named like the goals)."""
        total = np.zeros(len(values))
        for j, goal in enumerate(self.goals):
            u = (values[goal.name].to_numpy(dtype=np.float64) - self.mean[j]) / self.std[j]
            target_u = None if goal.value is None else (goal.value - self.mean[j]) / self.std[j]
            total += goal.weight * self._term(goal, u, target_u)
        return total


def _predict(model, z: torch.Tensor, objective: Objective) -> tuple[np.ndarray, np.ndarray]:
    """Predicted value (real units) and ensemble std for each goal column: (M, G) each."""
    with torch.no_grad():
        members = model.predict_properties(z)[:, :, objective.columns].numpy()
    mean = members.mean(0) * objective.std + objective.mean
    spread = members.std(0) * objective.std if members.shape[0] > 1 else np.zeros_like(mean)
    return mean, spread


def _predict_molecules(vae, smiles: Sequence[str], objective: Objective
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted value and ensemble spread (M, G) of each molecule, from its own encoding.

    The point of the search that decoded a molecule may lie far outside the training codes,
    where the predictor extrapolates (on the bundled model, logP "predicted" at 37-62 for
    molecules whose RDKit logP was 6-7). The molecule's encoding (mu) is the kind of point the
    predictor was trained on, so that is what a molecule's prediction is taken from. NaN for
    a molecule that cannot be encoded.
    """
    pred = np.full((len(smiles), len(objective.columns)), np.nan)
    spread = np.full_like(pred, np.nan)
    prep = vae.prepare(smiles)
    if len(prep.dataset):
        mu, _ = vae.encode_dataset(prep.dataset)
        rows = np.asarray(prep.dataset.rows, dtype=int)
        pred[rows], spread[rows] = _predict(vae.model, mu, objective)
    return pred, spread


def with_predictions(vae, frame: pd.DataFrame, goals: Sequence[Goal], objective: Objective
                      ) -> pd.DataFrame:
    """``frame`` with ``<goal>_predicted`` and ``<goal>_uncertainty`` after its ``start`` column."""
    pred, spread = _predict_molecules(vae, frame["smiles"].tolist(), objective)
    out = frame.copy()
    at = out.columns.get_loc("start") + 1
    for j, goal in enumerate(goals):
        out.insert(at + 2 * j, f"{goal.name}_predicted", pred[:, j])
        out.insert(at + 2 * j + 1, f"{goal.name}_uncertainty", spread[:, j])
    return out
