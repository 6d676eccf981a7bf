"""Encode molecules to latent means, decode them back, and walk between two molecules.

    python examples/encode_and_decode.py                 # the bundled model
    python examples/encode_and_decode.py runs/example    # a model you trained
"""

import sys

import molvae
from molvae.errors import MolvaeError
from molvae.latent.paths import interpolate

model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the bundled model
try:
    vae = molvae.MolVAE.load(model)
except MolvaeError as exc:  # e.g. no model there yet: examples/train_small_model.py trains one
    sys.exit(f"error: {exc}")
molecules = ["CC(=O)Nc1ccc(O)cc1", "COc1ccc2[nH]cc(CCN)c2c1", "not a molecule"]

latents = vae.encode(molecules)  # one row per input; rejected inputs keep their reason
print(latents[["smiles", "status"]])

rec = molvae.reconstruct(vae, molecules[:2])
print(rec[["canonical", "reconstructed", "match"]])

# Decode points between the two molecules. The path runs between encodings that decode back
# to each end (mu, refined where needed); the encoder's mu alone may decode to another molecule.
z = latents.filter(regex=r"^z\d+$").to_numpy()  # mu, the rows of failed inputs NaN
print(vae.decode(z[:2])["canonical"].tolist(), "decoded from mu")
path = interpolate(vae, molecules[0], molecules[1], steps=6)
print(path[["t", "decoded", "sim_a", "sim_b"]])
