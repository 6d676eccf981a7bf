"""Steering in the latent space: goals, RDKit scoring, gradient search (``generate``) and
seed optimization under a similarity bound (``optimize_seeds``), and design under an oracle
budget (``design``).

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "DesignResult": "molvae.optimize.design",
    "DesignSettings": "molvae.settings",
    "GenerateSettings": "molvae.settings",
    "GenerationResult": "molvae.optimize.search",
    "Goal": "molvae.optimize.goals",
    "design": "molvae.optimize.design",
    "OptimizeSettings": "molvae.settings",
    "SearchSettings": "molvae.settings",
    "SeedSearch": "molvae.optimize.seeds",
    "generate": "molvae.optimize.search",
    "optimize_seeds": "molvae.optimize.seeds",
    "parse_goal": "molvae.optimize.goals",
    "polish_seeds": "molvae.optimize.seeds",
    "rescue_seeds": "molvae.optimize.seeds",
    "score_molecules": "molvae.optimize.scoring",
    "search_seeds": "molvae.optimize.seeds",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
