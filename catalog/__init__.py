"""Synthetic catalog generator: brand kits, posters, manifests, injected defects, ground truth.

Serves the demo, the tests and the benchmarks. Deterministic from a seed.
"""

from catalog.brands import GeneratedBrand, make_brand, make_logo
from catalog.dataset import (
    Catalog,
    PosterSpec,
    generate_catalog,
    upload_catalog,
    write_catalog_dir,
)
from catalog.posters import (
    LOGO_DEFECTS,
    TEXT_DEFECTS,
    GeneratedPoster,
    TruthItem,
    make_poster,
)

__all__ = [
    "Catalog",
    "PosterSpec",
    "generate_catalog",
    "upload_catalog",
    "write_catalog_dir",
    "LOGO_DEFECTS",
    "TEXT_DEFECTS",
    "GeneratedBrand",
    "GeneratedPoster",
    "TruthItem",
    "make_brand",
    "make_logo",
    "make_poster",
]
