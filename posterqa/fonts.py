"""Fonts shipped by installed PyPI packages, and glyph-coverage checks.

Shared by the catalog generator (typesetting), the compositor (re-typesetting) and the
text detector (rendering the expected copy).

No system fonts, no download: every font comes from a wheel in the virtual environment
(``fontpkg-roboto``, ``fontpkg-noto-sans``, ``pylopdf-fonts-zh-cn``,
``paperang-p2-fonts-cjk``). Variable fonts are used at their default instance (Regular),
so that anyone re-typesetting with the same file gets the same glyphs.
"""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

from posterqa.errors import ConfigError, InputError

log = logging.getLogger(__name__)

# a noncharacter: no font maps it, so it renders the font's .notdef glyph
_NOTDEF_PROBE = "\uffff"
_PROBE_SIZE = 24


@dataclass(frozen=True)
class FontSpec:
    """A font file inside an installed package."""

    name: str
    package: str  # import name of the package that ships the file
    distribution: str  # the PyPI name to install when it is missing
    file_prefix: str  # the file name starts with this (".ttf"/".otf"/".ttc" follows)
    cjk: bool


FONT_SPECS: tuple[FontSpec, ...] = (
    FontSpec("roboto", "fontpkg_roboto", "fontpkg-roboto", "Roboto[", False),
    FontSpec("noto-sans", "fontpkg_noto_sans", "fontpkg-noto-sans", "NotoSans[", False),
    FontSpec("noto-sans-sc", "pylopdf_fonts_zh_cn", "pylopdf-fonts-zh-cn", "NotoSansSC-", True),
    FontSpec("noto-serif-sc", "pylopdf_fonts_zh_cn", "pylopdf-fonts-zh-cn", "NotoSerifSC-", True),
    FontSpec("wqy-microhei", "paperang_p2_fonts_cjk", "paperang-p2-fonts-cjk", "wqy-microhei",
             True),
)
LATIN_FONTS = tuple(s.name for s in FONT_SPECS if not s.cjk)
CJK_FONTS = tuple(s.name for s in FONT_SPECS if s.cjk)
_FONT_EXTENSIONS = (".ttf", ".otf", ".ttc")


def _spec(name: str) -> FontSpec:
    for spec in FONT_SPECS:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown font {name!r}; known: {', '.join(s.name for s in FONT_SPECS)}")


def _package_dir(package: str) -> Path | None:
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


@cache
def find_font(name: str) -> Path:
    """Path of the font file ``name`` (one of :data:`FONT_SPECS`) in site-packages.

    Raises :class:`ConfigError` naming the PyPI package to install when it is missing.
    """
    spec = _spec(name)
    root = _package_dir(spec.package)
    if root is not None:
        candidates = sorted(
            p for p in root.rglob("*")
            if p.suffix.lower() in _FONT_EXTENSIONS and p.name.startswith(spec.file_prefix)
            and "italic" not in p.name.lower()
        )
        if candidates:
            return candidates[0]
    raise ConfigError(
        f"font {name!r} not found: install the PyPI package {spec.distribution!r} "
        f"(pip install {spec.distribution}); it ships {spec.file_prefix}*"
    )


def available_fonts(*, cjk: bool | None = None) -> tuple[str, ...]:
    """Names of the fonts whose package is installed (optionally only CJK / only Latin)."""
    out = []
    for spec in FONT_SPECS:
        if cjk is not None and spec.cjk != cjk:
            continue
        try:
            find_font(spec.name)
        except ConfigError:
            continue
        out.append(spec.name)
    return tuple(out)


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A Pillow font at ``size`` px with the basic (deterministic, shaping-free) layout.

    Raises :class:`InputError` naming the file when it cannot be loaded.
    """
    try:
        return ImageFont.truetype(str(path), max(1, int(size)),
                                  layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise InputError(f"font {path} cannot be loaded: {exc}") from None


def _glyph_key(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


@lru_cache(maxsize=16)
def _cmap(path: str) -> frozenset[int] | None:
    """The font's character map via fontTools when installed, else None."""
    try:
        from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-not-found]
    except ImportError:
        return None
    if path.lower().endswith(".ttc"):
        font = TTCollection(path, lazy=True).fonts[0]
    else:
        font = TTFont(path, lazy=True)
    cmap = font.getBestCmap() or {}
    return frozenset(cmap)


@lru_cache(maxsize=65536)
def covers_char(path: str, char: str) -> bool:
    """True when the font at ``path`` has a real glyph for ``char`` (not .notdef/tofu).

    Whitespace counts as covered. Uses the font's cmap via fontTools when installed,
    else renders the character and compares it with the rendered .notdef glyph.
    """
    if char.isspace():
        return True
    cmap = _cmap(path)
    if cmap is not None:
        return ord(char) in cmap
    font = load_font(path, _PROBE_SIZE)
    glyph = _glyph_key(font, char)
    if glyph == _glyph_key(font, _NOTDEF_PROBE):
        return False
    # an empty rendering of a visible character also means "no glyph"
    return not (glyph[0][0] * glyph[0][1] == 0 and unicodedata.category(char)[0] in "LNPS")


def missing_chars(path: str | Path, text: str) -> str:
    """The characters of ``text`` the font does not cover, in order, without repeats."""
    seen: list[str] = []
    for char in text:
        if char not in seen and not covers_char(str(path), char):
            seen.append(char)
    return "".join(seen)


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK ideograph or CJK punctuation / full-width form."""
    return any(
        "\u3000" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"
        for c in text
    )


def pick_font(text: str, preferred: list[str | Path] | tuple[str | Path, ...]) -> Path:
    """The first font in ``preferred`` (paths) that covers every character of ``text``.

    Falls back to any installed font that covers it; raises :class:`ConfigError` naming
    the missing characters when none does.
    """
    tried = [Path(p) for p in preferred]
    for path in tried:
        if not missing_chars(path, text):
            return path
    for name in available_fonts():
        path = find_font(name)
        if path not in tried and not missing_chars(path, text):
            return path
    missing = missing_chars(tried[0], text) if tried else text
    raise ConfigError(
        f"no installed font covers {missing!r} of {text!r}; install pylopdf-fonts-zh-cn "
        f"(CJK) or fontpkg-noto-sans (Latin)"
    )
