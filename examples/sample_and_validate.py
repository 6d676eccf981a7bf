"""Sample molecules from a model and look at validity, uniqueness and properties.

    python examples/sample_and_validate.py                 # the bundled model
    python examples/sample_and_validate.py runs/example    # a model you trained
    python examples/sample_and_validate.py runs/example -n 100   # fewer molecules
"""

import argparse
import sys

from molvae import MolVAE, chem
from molvae.errors import MolvaeError

parser = argparse.ArgumentParser(description="Sample molecules and check them with RDKit.")
parser.add_argument("model", nargs="?", help="model or run directory (default: the bundled model)")
parser.add_argument("-n", type=int, default=500, help="molecules to keep (default 500)")
args = parser.parse_args()
try:
    vae = MolVAE.load(args.model)
except MolvaeError as exc:  # e.g. no model there yet: examples/train_small_model.py trains one
    sys.exit(f"error: {exc}")

# By default only draws written in their molecule's canonical form are kept (the training
# language); attrs["drawn"] says how many draws that took. canonical_only=False keeps them all.
samples = vae.sample(args.n, temperature=1.0, seed=0)
print(f"{len(samples)} kept of {samples.attrs['drawn']} draws in canonical form")
valid = samples[samples["valid"]]
n_unique = valid["canonical"].nunique()
print(f"valid {len(valid) / len(samples):.1%}, unique {n_unique} of {len(valid)}")

# Every valid molecule can be scored with RDKit by property name.
for smiles in valid["canonical"].head(5):
    props = chem.compute_properties(chem.parse_smiles(smiles), ["logP", "QED", "SA", "MW"])
    print(smiles, {k: round(v, 2) for k, v in props.items()})
