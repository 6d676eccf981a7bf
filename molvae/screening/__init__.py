"""Screening candidate molecules into a ranked, diverse shortlist, every input row accounted for.

A screen runs these steps in order; each can be switched off or tuned in a TOML file
(``configs/screen.toml`` documents every key), and the cheap ones come first so that the
expensive RDKit FilterCatalog search only sees molecules that survived everything else:

1. ``read``: the file reader rejects empty cells, invalid SMILES and unreadable SD records.
2. ``standardize``: keep the largest organic fragment, neutralize, write canonical SMILES.
3. ``deduplicate``: by InChIKey (tautomer-aware), across the whole file: ``duplicate of row 17``.
4. ``novelty``: exact canonical-SMILES match against reference sets (e.g. the training set).
5. ``rules``: Lipinski's rule of five (one violation allowed by default) and Veber's rules.
6. ``thresholds``: property conditions such as ``SA<4.5``.
7. ``smarts``: user SMARTS patterns that must not match.
8. ``alerts``: RDKit FilterCatalog sets (PAINS, BRENK, NIH, ZINC, CHEMBL).
9. ``score``: a weighted desirability score (optionally a minimum score).
10. ``similarity``: optional maximum Tanimoto similarity to the nearest reference molecule.
11. ``selection``: keep the top N by score, optionally a MaxMin-diverse subset of them.

Every input row ends in exactly one place: the shortlist or the rejects (``row``, ``smiles``,
``step``, ``reason``), and :class:`ScreenResult` counts rows per outcome. Files are streamed in
chunks: memory holds one chunk, the compact set of InChIKey hashes seen so far (16 bytes per
unique molecule) and the current top-N pool, so millions of rows screen in flat memory (without
``--top`` the whole shortlist is kept, since it is ranked at the end). RDKit work runs in worker
processes (:func:`molvae.runtime.map_chunks`).

**Score.** Each target property is mapped to a desirability in [0, 1]: ``max`` rises linearly
from 0 at ``low`` to 1 at ``high``; ``min`` falls linearly from 1 at ``low`` to 0 at ``high``;
``range`` is 1 inside ``[low, high]`` and falls linearly to 0 over ``tolerance`` outside. The
score combines them as a weighted *geometric* mean (default; Derringer's desirability, where a
molecule fully undesirable in any one target scores 0) or a weighted *arithmetic* mean.

**Novelty.** Reference sets are indexed once and cached under ``~/.cache/molvae`` (or
``$MOLVAE_CACHE_DIR``) keyed by the file's SHA-256: canonical-SMILES hashes for exact matches,
Morgan fingerprints plus canonical SMILES for nearest neighbours (:mod:`.novelty`). The nearest
neighbour is computed only where needed: for the shortlist, or, with ``max_similarity``, for
candidates that could still enter the top N.

Modules: :mod:`.config` (``ScreenConfig`` and its TOML), :mod:`.steps` (per-molecule work in
worker processes), :mod:`.novelty` (reference sets), :mod:`.pipeline` (streaming, selection,
``screen_file``/``screen_frame``), :mod:`.result` (``ScreenResult``), :mod:`.output` (SDF and
image grids). Typical use::

    from molvae.screening import ScreenConfig, screen_frame
    result = screen_frame(generated, ScreenConfig.from_toml("configs/screen.toml"))
    result.shortlist.head()
"""

from molvae.screening.config import (
    AlertSettings,
    DeduplicateSettings,
    NoveltySettings,
    PropertySettings,
    RuleSettings,
    ScoreSettings,
    ScreenConfig,
    SelectionSettings,
    StandardizeSettings,
    Target,
    ThresholdSettings,
    combine_desirabilities,
)
from molvae.screening.novelty import ReferenceFingerprints, SparseFingerprints, nearest_tanimoto
from molvae.screening.output import write_grid, write_sdf
from molvae.screening.pipeline import screen, screen_file, screen_frame
from molvae.screening.result import OUTCOMES, SHORTLIST, STEPS, ScreenResult
from molvae.screening.steps import (
    LIPINSKI_LIMITS,
    VEBER_LIMITS,
    lipinski_violations,
    profile_steps,
    veber_violations,
)

__all__ = [
    "LIPINSKI_LIMITS",
    "OUTCOMES",
    "SHORTLIST",
    "STEPS",
    "VEBER_LIMITS",
    "AlertSettings",
    "DeduplicateSettings",
    "NoveltySettings",
    "PropertySettings",
    "ReferenceFingerprints",
    "RuleSettings",
    "ScoreSettings",
    "ScreenConfig",
    "ScreenResult",
    "SelectionSettings",
    "SparseFingerprints",
    "StandardizeSettings",
    "Target",
    "ThresholdSettings",
    "combine_desirabilities",
    "lipinski_violations",
    "nearest_tanimoto",
    "profile_steps",
    "screen",
    "screen_file",
    "screen_frame",
    "veber_violations",
    "write_grid",
    "write_sdf",
]
