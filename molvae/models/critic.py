"""A realism critic: discriminator rejection sampling of the VAE's prior samples.

A VAE's samples are not distributed like its training data: the decoder is imperfect and the
prior is not the aggregate posterior (``benchmarks/prior_gap.py``). A classifier trained to
tell training molecules from the model's own samples estimates, through its logit, the density
ratio ``log p_data(x) / p_model(x)`` (with balanced classes). Keeping each sample with
probability ``min(1, exp(logit - log M))`` then moves the sample distribution toward the data:
discriminator rejection sampling (Azadi et al., ICLR 2019; the density-ratio trick of Sugiyama
et al.). The VAE is untouched; the critic is a separate small network stored beside it
(``critic.safetensors`` + ``critic.json``), tied to the weights it was fitted to by their
sha256.

``log M`` is a quantile of the critic's logits on the model's samples: the exact rejection
sampler would need the maximum (keeping almost nothing); a lower quantile trades some of the
correction for a usable acceptance rate (``benchmarks/critic.py`` measures the trade).

The network is deliberately small (16 hidden units by default). A wider one separates the two
classes better, partly by recognizing training-set chemistry, and then accepts more molecules
that are in the training set: at equal FCD/Test a 16-unit critic keeps more novelty than a
256-unit one, on a 24-minute model and on the bundled one (``benchmarks/critic_capacity.py``).

Features are what a chemist would compare two sets of molecules by: Morgan counts (radius 2,
folded, log1p) and ten whole-molecule descriptors (size, logP, TPSA, H-bond donors and
acceptors, rotatable bonds, rings, aromatic rings, fraction sp3). For a model that writes
stereochemistry or formal charges the critic also sees them (``stereo=True``): chiral Morgan
counts and four more descriptors (assigned and unassigned stereocentres, stereo double bonds,
charged atoms), so that samples with the wrong amount of stereo or charge are told apart from
the training molecules too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from molvae.errors import MolvaeError
from molvae.models.store import (
    WEIGHTS,
    _atomic_save_tensors,
    _read_json,
    _read_tensors,
    atomic_write_bytes,
    read_safetensors_header,
)
from molvae.runtime import file_sha256, map_chunks

CRITIC_WEIGHTS = "critic.safetensors"


CRITIC_JSON = "critic.json"


FEATURES = "morgan2-count-log1p+10-descriptors/v1"


FEATURES_STEREO = "morgan2-chiral-count-log1p+14-descriptors/v1"


DESCRIPTORS = (
    "MolWt/100",
    "MolLogP",
    "TPSA/20",
    "NumHDonors",
    "NumHAcceptors",
    "NumRotatableBonds",
    "RingCount",
    "NumAromaticRings",
    "FractionCSP3",
    "HeavyAtoms/10",
)


STEREO_DESCRIPTORS = (
    "AssignedStereocentres",
    "UnassignedStereocentres",
    "StereoDoubleBonds",
    "ChargedAtoms",
)


def n_descriptors(stereo: bool) -> int:
    """How many descriptor columns follow the fingerprint in the features."""
    return len(DESCRIPTORS) + (len(STEREO_DESCRIPTORS) if stereo else 0)


def _stereo_descriptors(mol: Any) -> list[float]:
    from rdkit import Chem

    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True, useLegacyImplementation=False)
    assigned = sum(1 for _, tag in centres if tag != "?")
    double = sum(
        1 for bond in mol.GetBonds() if bond.GetStereo() != Chem.BondStereo.STEREONONE
    )
    charged = sum(1 for atom in mol.GetAtoms() if atom.GetFormalCharge() != 0)
    return [float(assigned), float(len(centres) - assigned), float(double), float(charged)]


def _featurize_chunk(smiles: Sequence[str], n_bits: int, stereo: bool = False) -> list[np.ndarray]:
    from rdkit import Chem
    from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

    gen = rdFingerprintGenerator.GetMorganGenerator(
        radius=2, fpSize=n_bits, includeChirality=stereo
    )
    rows = []
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        if mol is None:
            raise MolvaeError(f"critic: cannot featurize {text!r} (not a valid SMILES)")
        counts = np.log1p(gen.GetCountFingerprintAsNumPy(mol).astype(np.float32))
        desc = np.array(
            [
                Descriptors.MolWt(mol) / 100.0,
                Crippen.MolLogP(mol),
                rdMolDescriptors.CalcTPSA(mol) / 20.0,
                rdMolDescriptors.CalcNumHBD(mol),
                rdMolDescriptors.CalcNumHBA(mol),
                rdMolDescriptors.CalcNumRotatableBonds(mol),
                rdMolDescriptors.CalcNumRings(mol),
                rdMolDescriptors.CalcNumAromaticRings(mol),
                rdMolDescriptors.CalcFractionCSP3(mol),
                mol.GetNumHeavyAtoms() / 10.0,
                *(_stereo_descriptors(mol) if stereo else ()),
            ],
            dtype=np.float32,
        )
        rows.append(np.concatenate([counts, desc]))
    return rows


def featurize(
    smiles: Sequence[str], n_bits: int = 2048, n_jobs: int | None = None, stereo: bool = False
) -> np.ndarray:
    """Critic features ``(n, n_bits + 10)`` float32 of valid SMILES (worker processes for many);
    with ``stereo``, chiral fingerprint counts and ``(n, n_bits + 14)`` columns."""
    if not len(smiles):
        return np.zeros((0, n_bits + n_descriptors(stereo)), dtype=np.float32)
    from functools import partial

    rows = map_chunks(
        partial(_featurize_chunk, n_bits=n_bits, stereo=stereo), list(smiles), n_jobs=n_jobs,
        chunk_size=2000, min_parallel=4000,
    )
    return np.stack(rows)


def critic_tensor_shapes(
    n_bits: int, hidden: int, stereo: bool = False
) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of ``Critic(n_bits, hidden, stereo=stereo)``, without building
    it: what loading checks a critic file against before allocating anything."""
    n_in = n_bits + n_descriptors(stereo)
    return {
        "mean": (n_in,),
        "scale": (n_in,),
        "net.1.weight": (hidden, n_in),
        "net.1.bias": (hidden,),
        "net.4.weight": (1, hidden),
        "net.4.bias": (1,),
    }


class Critic(nn.Module):
    """Standardized features -> MLP -> logit of "a training molecule, not a model sample"."""

    def __init__(
        self, n_bits: int = 2048, hidden: int = 16, dropout: float = 0.5, stereo: bool = False
    ):
        super().__init__()
        n_in = n_bits + n_descriptors(stereo)
        self.n_bits = n_bits
        self.hidden = hidden
        self.stereo = stereo
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("scale", torch.ones(n_in))
        self.net = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        self.log_m = 0.0  # acceptance threshold (a logit), set by fit_critic
        self.info: dict[str, Any] = {}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.mean) / self.scale).squeeze(-1)

    @torch.no_grad()
    def logits(self, smiles: Sequence[str], n_jobs: int | None = None) -> np.ndarray:
        """Estimated ``log p_data(x) / p_model(x)`` of each (valid) SMILES."""
        was = self.training
        self.eval()
        x = torch.from_numpy(featurize(smiles, self.n_bits, n_jobs, stereo=self.stereo))
        out = torch.cat([self(part) for part in x.split(8192)]) if len(x) else torch.zeros(0)
        self.train(was)
        return out.numpy().astype(np.float64)

    def accept_probability(self, logits: np.ndarray) -> np.ndarray:
        """``min(1, exp(logit - log M))``: the discriminator-rejection-sampling rule."""
        return np.exp(np.minimum(0.0, np.asarray(logits) - self.log_m))


def save_critic(critic: Critic, model_dir: str | Path) -> Path:
    """Write ``critic.safetensors`` + ``critic.json`` into a model directory (whose weights it
    was fitted to: their sha256 is recorded, and :func:`load_critic` checks it)."""

    model_dir = Path(model_dir)
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise MolvaeError(f"{model_dir}: no {WEIGHTS}; save the model before its critic")
    meta = {"format": "molvae-critic"}
    # The record goes first and comes back last: a process killed in between leaves no
    # critic (absent), never new weights under an older record.
    (model_dir / CRITIC_JSON).unlink(missing_ok=True)
    _atomic_save_tensors(critic.state_dict(), model_dir / CRITIC_WEIGHTS, meta)
    record = {
        "format": "molvae-critic",
        "features": FEATURES_STEREO if critic.stereo else FEATURES,
        "n_bits": critic.n_bits,
        "hidden": critic.hidden,
        "log_m": critic.log_m,
        "model_weights_sha256": file_sha256(weights),
        **critic.info,
    }
    atomic_write_bytes(model_dir / CRITIC_JSON, json.dumps(record, indent=1).encode())
    return model_dir / CRITIC_JSON


def load_critic(model_dir: str | Path) -> Critic | None:
    """The critic stored in a model directory, or None if it has none.

    Raises a one-line ``MolvaeError`` if its files are damaged, describe other features, or
    were fitted to other weights than the directory's (a critic is only valid for the model
    whose samples it was trained on).
    """

    model_dir = Path(model_dir)
    path = model_dir / CRITIC_JSON
    if not os.path.lexists(path):  # anything else there (a FIFO, a dangling link) is an error
        return None
    record = _read_json(path)
    features = record.get("features")
    if record.get("format") != "molvae-critic" or features not in (FEATURES, FEATURES_STEREO):
        raise MolvaeError(
            f"{path}: not a molvae critic with features {FEATURES} or {FEATURES_STEREO}"
        )
    stereo = features == FEATURES_STEREO
    if record.get("model_weights_sha256") != file_sha256(model_dir / WEIGHTS):
        raise MolvaeError(
            f"{path}: fitted to other weights than {model_dir / WEIGHTS}; refit it "
            "(molvae fit-critic) or delete critic.json and critic.safetensors"
        )
    try:
        n_bits, hidden = int(record["n_bits"]), int(record["hidden"])
        # The sizes critic.json asks for must be those critic.safetensors declares, before
        # anything is allocated for them.
        implied = critic_tensor_shapes(n_bits, hidden, stereo)
        declared = read_safetensors_header(model_dir / CRITIC_WEIGHTS)
        if {k: tuple(v.shape) for k, v in declared.items()} != implied:
            raise ValueError(f"n_bits and hidden do not match the tensors of {CRITIC_WEIGHTS}")
        critic = Critic(n_bits, hidden, stereo=stereo)
        critic.load_state_dict(_read_tensors(model_dir / CRITIC_WEIGHTS))
        critic.log_m = float(record["log_m"])
    except (KeyError, TypeError, ValueError, OverflowError, RuntimeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MolvaeError(f"{path}: critic does not load ({msg})") from None
    critic.info = {k: v for k, v in record.items() if k not in ("format", "features")}
    critic.eval()
    return critic
