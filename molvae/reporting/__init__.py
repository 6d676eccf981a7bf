"""Reporting: static figures (matplotlib PNG), HTML pages with the interactive latent map, and
the training-run report.

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "RunData": "molvae.reporting.report",
    "collect_run": "molvae.reporting.report",
    "render_run": "molvae.reporting.report",
    "REPORT_PROPERTIES": "molvae.reporting.report",
    "RunReport": "molvae.reporting.report",
    "build_run_report": "molvae.reporting.report",
    "interpolation_grid": "molvae.reporting.figures",
    "latent_map_png": "molvae.reporting.figures",
    "locate_run": "molvae.reporting.report",
    "map_page": "molvae.reporting.report",
    "property_histograms_png": "molvae.reporting.figures",
    "reconstruction_grid": "molvae.reporting.figures",
    "training_curves_png": "molvae.reporting.figures",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
