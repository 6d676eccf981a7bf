"""Sample molecules from a model and look at validity, uniqueness and properties.

    python examples/sample_and_validate.py                 # the bundled model
    python examples/sample_and_validate.py runs/example    # a model you trained
"""

import sys

from molvae import MolVAE, chem
from molvae.errors import MolvaeError

model = sys.argv[1] if len(sys.argv) > 1 else None  # None: the bundled model
try:
    vae = MolVAE.load(model)
except MolvaeError as exc:  # e.g. no model there yet: examples/train_small_model.py trains one
    sys.exit(f"error: {exc}")

# By default only draws written in their molecule's canonical form are kept (the training
# language); attrs["drawn"] says how many draws that took. canonical_only=False keeps them all.
samples = vae.sample(500, temperature=1.0, seed=0)
print(f"{len(samples)} kept of {samples.attrs['drawn']} draws in canonical form")
valid = samples[samples["valid"]]
n_unique = valid["canonical"].nunique()
print(f"valid {len(valid) / len(samples):.1%}, unique {n_unique} of {len(valid)}")

# Every valid molecule can be scored with RDKit by property name.
for smiles in valid["canonical"].head(5):
    props = chem.compute_properties(chem.parse_smiles(smiles), ["logP", "QED", "SA", "MW"])
    print(smiles, {k: round(v, 2) for k, v in props.items()})
