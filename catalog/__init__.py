"""Synthetic catalog generator: brand kits, posters, manifests, injected defects, ground truth.

Serves the demo, the tests and the benchmarks. Deterministic from a seed: the same
arguments give byte-identical PNG and JSON bytes (on the same library versions).

- :func:`make_brand` ``(brand_id, seed, *, logo_style=None) -> GeneratedBrand``
- :func:`make_poster` ``(brand, seed, *, size=None, text_defects=None, logo_defect=None,
  with_logo=True, with_manifest=True, poster_id=None, n_lines=None, other_brand=None)
  -> GeneratedPoster`` (``image``, ``clean``, ``background``, ``manifest``, ``truth``)
- :func:`generate_catalog` ``(seed, n_posters, *, n_brands=2, defect_share=0.5,
  no_manifest=1, text_defect_types=TEXT_DEFECTS, logo_defect_types=LOGO_DEFECTS)
  -> Catalog`` (posters generated lazily on access)
- :func:`write_catalog_dir` / :func:`upload_catalog`: the bucket layout on disk / in S3.

Defect strengths (``size`` = font size in px, ``L`` = logo's long side):

- text ``wrong_chars``: 1-3 characters replaced (look-alikes such as O->0, e->c, 优->忧 or
  a random character), same pen position; ``rendered != expected``.
- text ``erasure``: a vertical band (25-50 % of the line) or the upper/lower 35-55 % of the
  line over 40-80 % of its width shows the background; >= 20 % of the ink removed.
- text ``blur``: Gaussian blur of the whole line, sigma = 10-16 % of ``size`` (>= 2 px).
- text ``warp``: smooth random displacement of 10-15 % of ``size`` with features 35-60 %
  of ``size`` apart plus a sine wave; glyph detail collapses.
- text ``broken_strokes``: straight background-coloured cuts 8-12 % of ``size`` thick
  through the strokes, ~1-2 per character, >= 15 % of the ink cut.
- logo ``blur`` sigma 2.5-4.5 % of ``L``; ``warp`` displacement 5-8 % of ``L``;
  ``color_shift`` hue rotated by 90-180 degrees; ``erasure`` a straight cut removing
  25-45 % of the logo; ``wrong_logo`` another brand's logo or a random one, same box.

Ground truth: one :class:`TruthItem` per text line and for the logo (``defect=None`` when
intact); its ``box`` is tight on the union of the element's pixels in ``clean`` and in
``image``, and a defect changes pixels only inside its own box.
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
