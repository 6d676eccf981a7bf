"""Encode molecules to latent means, decode them back, and walk between two molecules.

    python examples/encode_and_decode.py runs/example
"""

import sys

import numpy as np

from molvae import MolVAE, chem
from molvae.generation.refine import reconstruct

chem.set_rdkit_logging(False)
vae = MolVAE.load(sys.argv[1] if len(sys.argv) > 1 else "runs/example")
molecules = ["CC(=O)Nc1ccc(O)cc1", "COc1ccc2[nH]cc(CCN)c2c1", "not a molecule"]

latents = vae.encode(molecules)  # one row per input; rejected inputs keep their reason
print(latents[["smiles", "status"]])

rec = reconstruct(vae, molecules[:2])
print(rec[["canonical", "reconstructed", "match"]])

# Linear interpolation between the first two encodings.
z = latents.filter(regex=r"^z\d+$").to_numpy()[:2]
path = np.stack([(1 - t) * z[0] + t * z[1] for t in np.linspace(0, 1, 6)])
print(vae.decode(path)["canonical"].tolist())
