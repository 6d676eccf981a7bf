"""Models: the architecture config, the GRU VAE, the realism critic, and the model store
(safetensors + JSON directories, bundled models).

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "BUNDLED_DIR": "molvae.models.store",
    "Critic": "molvae.models.critic",
    "GRUVAE": "molvae.models.vae",
    "ModelBundle": "molvae.models.store",
    "ModelConfig": "molvae.models.config",
    "PropertyEnsemble": "molvae.models.vae",
    "featurize": "molvae.models.critic",
    "kl_divergence": "molvae.models.vae",
    "load_critic": "molvae.models.critic",
    "load_model_dir": "molvae.models.store",
    "resolve_model_path": "molvae.models.store",
    "save_critic": "molvae.models.critic",
    "save_model_dir": "molvae.models.store",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
