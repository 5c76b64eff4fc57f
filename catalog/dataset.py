"""A whole catalog: brands, poster specs (which defects where), and writing it out.

Layout (bucket or folder)::

    brands/<brand>/brand.json, brands/<brand>/logo.png, brands/<brand>/fonts/...
    posters/<brand>/<poster_id>.png      the poster (with its injected defects)
    posters/<brand>/<poster_id>.json     its manifest (absent for "no manifest" posters)
    truth/<brand>/<poster_id>.json       ground truth: every line and the logo
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any, overload

import numpy as np

from catalog.brands import GeneratedBrand, make_brand
from catalog.posters import (
    ALL_TEXT_DEFECTS,
    LOGO_DEFECTS,
    TEXT_DEFECTS,
    GeneratedPoster,
    make_poster,
)
from posterqa.errors import InputError
from posterqa.imaging import encode_png

log = logging.getLogger(__name__)

TRUTH_PREFIX = "truth/"
BRAND_IDS = ("acme", "lumen", "orbit", "nova", "zenith", "kite", "pixel", "terra")


@dataclass(frozen=True)
class PosterSpec:
    """What to generate for one poster (everything :func:`make_poster` needs)."""

    poster_id: str
    brand_id: str
    seed: int
    n_lines: int
    text_defects: tuple[tuple[int, str], ...] = ()
    logo_defect: str | None = None
    with_logo: bool = True
    with_manifest: bool = True
    wrong_logo_brand: str | None = None  # whose logo a wrong_logo defect shows (None: random)
    realism: bool = False  # realistic lettering styles and layouts (catalog.realism)


class _LazyPosters(Sequence[GeneratedPoster]):
    """Posters generated on access (a catalog of 2048-px posters does not fit in memory);
    the last few are cached."""

    def __init__(self, catalog: Catalog, cache_size: int = 4) -> None:
        self._catalog = catalog
        self._cache: dict[int, GeneratedPoster] = {}
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self._catalog.specs)

    @overload
    def __getitem__(self, index: int) -> GeneratedPoster: ...
    @overload
    def __getitem__(self, index: slice) -> list[GeneratedPoster]: ...

    def __getitem__(self, index: int | slice) -> GeneratedPoster | list[GeneratedPoster]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"poster index {index} out of range 0..{len(self) - 1}")
        if index not in self._cache:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[index] = self._catalog.make(self._catalog.specs[index])
        return self._cache[index]

    def __iter__(self) -> Iterator[GeneratedPoster]:
        for i in range(len(self)):
            yield self[i]


@dataclass(frozen=True)
class Catalog:
    """Brands and posters.

    Built by :func:`generate_catalog` from ``specs`` (then ``posters`` generates each
    poster when accessed, keeping only the last few in memory), or directly from
    already generated posters: ``Catalog(brands=(brand,), posters=(poster,))``.
    """

    brands: tuple[GeneratedBrand, ...]
    posters: Sequence[GeneratedPoster] = None  # type: ignore[assignment]
    specs: tuple[PosterSpec, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.posters is None:
            object.__setattr__(self, "posters", _LazyPosters(self))
        elif not isinstance(self.posters, _LazyPosters):
            object.__setattr__(self, "posters", tuple(self.posters))

    def brand(self, brand_id: str) -> GeneratedBrand:
        for b in self.brands:
            if b.id == brand_id:
                return b
        raise InputError(f"brand {brand_id!r} is not in this catalog")

    def make(self, spec: PosterSpec) -> GeneratedPoster:
        return make_poster(self.brand(spec.brand_id), spec.seed,
                           text_defects=dict(spec.text_defects), logo_defect=spec.logo_defect,
                           with_logo=spec.with_logo, with_manifest=spec.with_manifest,
                           poster_id=spec.poster_id, n_lines=spec.n_lines,
                           other_brand=(self.brand(spec.wrong_logo_brand)
                                        if spec.wrong_logo_brand else None),
                           **({"realism": True} if spec.realism else {}))


def generate_catalog(
    seed: int,
    n_posters: int,
    *,
    n_brands: int = 2,
    defect_share: float = 0.5,
    no_manifest: int = 1,
    text_defect_types: Sequence[str] = TEXT_DEFECTS,
    logo_defect_types: Sequence[str] = LOGO_DEFECTS,
    realism: bool = False,
) -> Catalog:
    """Plan a deterministic catalog of ``n_posters`` posters over ``n_brands`` brands.

    ``defect_share`` of the posters carry defects: one text defect, a logo defect, one
    text defect and a logo defect, or two text defects (in turn); the defect types
    cycle through ``text_defect_types`` / ``logo_defect_types`` so every type appears.
    A ``wrong_logo`` shows another brand's logo (about half the time, with 2+ brands) or a
    random one.
    The last ``no_manifest`` posters have no manifest. Posters are generated lazily.
    ``text_defect_types`` may name :data:`~catalog.spelling.REAL_TEXT_DEFECTS` too;
    ``realism=True`` sets every poster's copy in realistic styles and layouts.
    """
    # 1. Check inputs
    if n_posters < 1:
        raise InputError(f"n_posters must be >= 1, got {n_posters}")
    if n_brands < 1:
        raise InputError(f"n_brands must be >= 1, got {n_brands}")
    if not 0.0 <= defect_share <= 1.0:
        raise InputError(f"defect_share must be in [0, 1], got {defect_share}")
    if no_manifest < 0 or no_manifest > n_posters:
        raise InputError(f"no_manifest must be 0..{n_posters}, got {no_manifest}")
    for name in text_defect_types:
        if name not in ALL_TEXT_DEFECTS:
            raise InputError(f"text defect type {name!r} is not one of {ALL_TEXT_DEFECTS}")
    for name in logo_defect_types:
        if name not in LOGO_DEFECTS:
            raise InputError(f"logo defect type {name!r} is not one of {LOGO_DEFECTS}")

    # 2. Brands (flat and textured logos in turn)
    ids = [BRAND_IDS[i] if i < len(BRAND_IDS) else f"brand{i + 1}" for i in range(n_brands)]
    brands = tuple(make_brand(b, seed, logo_style=("flat", "textured")[i % 2])
                   for i, b in enumerate(ids))

    # 3. Which posters carry which defects
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xCA7A106])
    n_bad = round(defect_share * n_posters)
    bad = set(rng.permutation(n_posters)[:n_bad].tolist())
    text_types = cycle(list(text_defect_types) or [None])
    logo_types = cycle(list(logo_defect_types) or [None])
    specs = []
    k = 0
    for i in range(n_posters):
        pseed = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, i]).generate_state(1)[0])
        n_lines = int(rng.integers(3, 9))
        text_defects: list[tuple[int, str]] = []
        logo_defect = None
        with_logo = True
        if i in bad:
            pattern = k % 4
            k += 1
            n_text = {0: 1, 1: 0, 2: 1, 3: 2}[pattern]
            if not text_defect_types:
                n_text = 0
            if pattern in (1, 2) and logo_defect_types:
                logo_defect = next(logo_types)
            elif n_text == 0:
                n_text = 1
            lines = sorted(rng.choice(n_lines, n_text, replace=False).tolist())
            text_defects = [(int(li), str(next(text_types))) for li in lines
                            if text_defect_types]
        else:
            with_logo = bool(rng.random() >= 0.1)
        brand = brands[i % n_brands]
        wrong_from = None
        if logo_defect == "wrong_logo" and n_brands > 1 and rng.random() < 0.5:
            wrong_from = brands[(i + 1) % n_brands].id  # another brand's logo, else random
        specs.append(PosterSpec(
            poster_id=f"{brand.id}-{i:04d}", brand_id=brand.id, seed=pseed, n_lines=n_lines,
            text_defects=tuple(text_defects), logo_defect=logo_defect, with_logo=with_logo,
            with_manifest=i < n_posters - no_manifest, wrong_logo_brand=wrong_from,
            realism=realism))
    return Catalog(seed=int(seed), brands=brands, specs=tuple(specs))


def catalog_files(catalog: Catalog, settings: Any | None = None,
                  on_poster: Callable[[GeneratedPoster], None] | None = None
                  ) -> Iterator[tuple[str, bytes, str]]:
    """Every ``(key, bytes, content type)`` of the catalog, brands first; per poster the
    truth and the manifest come before the image (a sweep never sees a poster whose
    manifest is still missing)."""
    brands_prefix = getattr(settings, "brands_prefix", "brands/")
    posters_prefix = getattr(settings, "posters_prefix", "posters/")
    for brand in catalog.brands:
        for name in sorted(brand.files):
            yield f"{brands_prefix}{brand.id}/{name}", brand.files[name], _content_type(name)
        yield f"{brands_prefix}{brand.id}/brand.json", brand.brand_json(), "application/json"
    for poster in catalog.posters:
        key = poster_key(poster, posters_prefix)
        stem = key[: -len(".png")]
        yield (f"{TRUTH_PREFIX}{poster.brand_id}/{poster.poster_id}.json",
               poster.truth_json(key), "application/json")
        manifest = poster.manifest_json()
        if manifest is not None:
            yield f"{stem}.json", manifest, "application/json"
        yield key, encode_png(poster.image), "image/png"
        if on_poster is not None:
            on_poster(poster)


def poster_key(poster: GeneratedPoster, posters_prefix: str = "posters/") -> str:
    return f"{posters_prefix}{poster.brand_id}/{poster.poster_id}.png"


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return {".png": "image/png", ".json": "application/json", ".ttf": "font/ttf",
            ".otf": "font/otf", ".ttc": "font/collection"}.get(suffix, "application/octet-stream")


def upload_catalog(catalog: Catalog, store: Any, settings: Any,
                   on_poster: Callable[[GeneratedPoster], None] | None = None) -> list[str]:
    """Write the catalog into ``store`` (an ``AssetStore``) with the prefixes of
    ``settings``; returns the keys written, in order."""
    keys = []
    for key, data, ctype in catalog_files(catalog, settings, on_poster):
        store.put_bytes(key, data, content_type=ctype)
        keys.append(key)
    log.info("uploaded %d objects of catalog seed %d", len(keys), catalog.seed)
    return keys


def write_catalog_dir(catalog: Catalog, path: str | Path,
                      on_poster: Callable[[GeneratedPoster], None] | None = None) -> list[Path]:
    """Write the catalog under folder ``path`` (same layout as the bucket, default
    prefixes); each file is written to a temporary name and renamed, so no half-written
    file is left behind. Returns the files written."""
    root = Path(path)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        raise InputError(f"cannot write the catalog to {root}: {exc.strerror or exc}") from None
    written = []
    for key, data, _ctype in catalog_files(catalog, None, on_poster):
        target = root / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
        written.append(target)
    return written
