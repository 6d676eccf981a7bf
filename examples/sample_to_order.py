"""Sample molecules with the properties asked for, from the bundled conditional `zinc` model.

    python examples/sample_to_order.py                          # logP=2.5, MW=400
    python examples/sample_to_order.py logP=1 QED=0.8 -n 50     # any of logP, QED, MW, SA, TPSA

Prints how far RDKit's values of the sampled molecules are from the request, with z drawn near
the model's reference molecules (the default) and from its learned prior, then asks for molecules
within a tolerance, which RDKit checks one by one.
"""

import argparse
import sys

import numpy as np

from molvae import MolVAE, chem
from molvae.errors import MolvaeError

parser = argparse.ArgumentParser(description="Sample molecules to order from the zinc model.")
parser.add_argument("request", nargs="*", default=["logP=2.5", "MW=400"],
                    help="NAME=VALUE pairs (default: logP=2.5 MW=400)")
parser.add_argument("-n", type=int, default=100, help="molecules per source (default 100)")
args = parser.parse_args()
chem.set_rdkit_logging(False)
request = {}
for item in args.request:
    name, _, value = item.partition("=")
    try:
        request[name] = float(value)
    except ValueError:
        sys.exit(f"error: {item!r}: expected NAME=VALUE with a number, e.g. logP=2.5")
try:
    vae = MolVAE.load("zinc")
    vae.condition_vector(request)  # an unknown name is an error listing the model's conditions
except MolvaeError as exc:
    sys.exit(f"error: {exc}")
print(f"request {request}; the model's conditions: {', '.join(vae.conditions)}")

# Each row holds the request (requested_<name>) and RDKit's value of the molecule (<name>).
for reference in (True, False):
    frame = vae.sample(args.n, seed=0, conditions=request, reference=reference)
    errors = {name: float(np.nanmean(np.abs(frame[name] - value)))
              for name, value in request.items()}  # fmt: skip
    print(f"z from {frame.attrs['latent_source']:9}: mean absolute error "
          + ", ".join(f"{name} {error:.3g}" for name, error in errors.items()))

# The model proposes, RDKit verifies: only molecules within the tolerance are kept.
tolerance = {name: {"logP": 0.3, "QED": 0.05, "MW": 15.0}.get(name, 0.1 * abs(value) or 0.1)
             for name, value in request.items()}  # fmt: skip
within = vae.sample(10, seed=0, conditions=request, tolerance=tolerance, unique=True)
print(f"10 unique molecules within {tolerance}, from {within.attrs['drawn']:,} draws:")
for row in within.itertuples():
    print(" ", row.canonical, {name: round(getattr(row, name), 2) for name in request})
