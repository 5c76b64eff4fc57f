"""Synthetic catalog generator: brand kits, posters, manifests, injected defects, ground truth.

Serves the demo, the tests and the benchmarks. Deterministic from a seed: the same
arguments give byte-identical PNG and JSON bytes (on the same library versions).

- :func:`make_brand` ``(brand_id, seed, *, logo_style=None) -> GeneratedBrand``
- :func:`make_poster` ``(brand, seed, *, size=None, text_defects=None, logo_defect=None,
  with_logo=True, with_manifest=True, poster_id=None, n_lines=None, other_brand=None,
  realism=False, text_styles=None, text_layouts=None)
  -> GeneratedPoster`` (``image``, ``clean``, ``background``, ``manifest``, ``truth``)
- :func:`generate_catalog` ``(seed, n_posters, *, n_brands=2, defect_share=0.5,
  no_manifest=1, text_defect_types=TEXT_DEFECTS, logo_defect_types=LOGO_DEFECTS,
  realism=False) -> Catalog`` (posters generated lazily on access)
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

Realistic copy (opt-in; without it every poster is byte-identical to before), modelled
on what DALL-E 3 and SD-based Chinese poster generators do (``../shared/realset``):

- :data:`REAL_TEXT_DEFECTS` (usable wherever :data:`TEXT_DEFECTS` names are; both in
  :data:`ALL_TEXT_DEFECTS`): ``swapped_letters`` (PEACEFUL -> PEACEUFL),
  ``doubled_letter`` (ECHOES -> ECCHOES), ``dropped_letter`` (FAVOURITE -> FAOURITE),
  ``garbled_word`` (2-3 such slips in one word: COMLCIATED, FASTAINIAIING),
  ``pseudo_letter`` (a letter malformed from the parts of two letters: 'Innovaite'),
  ``pseudo_hanzi`` (a non-character glyph joined from the parts of two real hanzi; both
  pseudo-glyphs are U+FFFD in the truth's ``rendered``), ``lookalike_hanzi`` (腈 -> 睛),
  ``stray_punct``. Drawn
  crisply in the line's own style: the defect is in the spelling, not in the pixels
  (:mod:`catalog.spelling`).
- :data:`LETTERING_STYLES` (``make_poster(text_styles={line: style})``): plain, bold,
  italic, shadow, outline, extruded (3D), metallic (gold/chrome), neon glow, emboss,
  deboss, textured (wood/noise/fabric), glitter, embroidery (:mod:`catalog.lettering`).
- :data:`TEXT_LAYOUTS` (``make_poster(text_layouts={line: layout})``): straight, arc,
  wave, perspective, multiline / sizes / columns (one manifest string over 2-3 lines,
  sizes or columns), vertical (hanzi), repeated (the same copy 2-4 times), tiny (~10 px
  high) (:mod:`catalog.realism`).
- ``make_poster(..., realism=True)`` / ``generate_catalog(..., realism=True)`` draw a
  style and a layout for every line. A line that cannot carry the asked-for defect or
  layout gets another text instead (Chinese; English for ``pseudo_letter``). Realistic
  truth items add ``style``, ``layout`` and ``parts`` (the box of each line/column/copy)
  to the JSON; their ``box`` is tight on the letters (glows and shadows outside) and
  covers only the defective parts.

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
from catalog.lettering import LETTERING_STYLES
from catalog.posters import (
    ALL_TEXT_DEFECTS,
    LOGO_DEFECTS,
    TEXT_DEFECTS,
    GeneratedPoster,
    TruthItem,
    make_poster,
)
from catalog.realism import TEXT_LAYOUTS
from catalog.spelling import REAL_TEXT_DEFECTS

__all__ = [
    "Catalog",
    "PosterSpec",
    "generate_catalog",
    "upload_catalog",
    "write_catalog_dir",
    "ALL_TEXT_DEFECTS",
    "LETTERING_STYLES",
    "LOGO_DEFECTS",
    "REAL_TEXT_DEFECTS",
    "TEXT_DEFECTS",
    "TEXT_LAYOUTS",
    "GeneratedBrand",
    "GeneratedPoster",
    "TruthItem",
    "make_brand",
    "make_logo",
    "make_poster",
]
