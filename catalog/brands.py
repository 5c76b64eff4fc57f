"""Brand kits: names, canonical strings, colours, fonts, and a generated logo with alpha."""

from __future__ import annotations

import contextlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from catalog import texts
from catalog.graphics import RGB, hex_color, hsv_color, linear_gradient
from posterqa.errors import ConfigError, InputError
from posterqa.fonts import CJK_FONTS, LATIN_FONTS, available_fonts, find_font
from posterqa.imaging import encode_png
from posterqa.manifest import BrandKit

log = logging.getLogger(__name__)

LOGO_STYLES = ("flat", "textured")
_EMBLEMS = ("circle", "rounded", "hexagon", "diamond", "ring", "shield", "star")
_MOTIFS = ("letter", "letter", "triangle", "bars", "chevron", "dot")
_LOGO_EMBLEM_PX = 256  # final emblem height; drawn at 2x and downsampled


@dataclass(frozen=True)
class GeneratedBrand:
    """A brand kit plus what the generator needs to draw with it.

    ``logo_rgba``: ``[h, w, 4]`` uint8, straight (non-premultiplied) alpha.
    ``font_paths``: (main Latin font, CJK font) as installed files.
    ``files``: kit-relative file name -> bytes (the logo PNG and copies of the fonts),
    the files named in ``kit.logos`` / ``kit.fonts``.
    """

    kit: BrandKit
    logo_rgba: np.ndarray
    font_paths: tuple[Path, ...]
    files: dict[str, bytes] = field(repr=False)
    colors: tuple[RGB, ...] = ()
    cjk_name: str = ""
    logo_style: str = "flat"

    @property
    def id(self) -> str:
        return self.kit.id

    @property
    def latin_font(self) -> Path:
        return self.font_paths[0]

    @property
    def cjk_font(self) -> Path:
        return self.font_paths[1]

    def brand_json(self) -> bytes:
        """``brand.json`` bytes (sorted keys, stable)."""
        return json.dumps(self.kit.to_json(), ensure_ascii=False, sort_keys=True,
                          indent=2).encode("utf-8")


def brand_rng(brand_id: str, seed: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(brand_id.encode()), salt])


def _check_id(brand_id: str) -> None:
    ok = brand_id and all(c.isascii() and (c.isalnum() or c in "-_") for c in brand_id)
    if not ok:
        raise InputError(f"brand id {brand_id!r} must be non-empty ASCII letters, digits, - or _")


def make_brand(brand_id: str, seed: int, *, logo_style: str | None = None) -> GeneratedBrand:
    """Generate the brand kit ``brand_id`` deterministically from ``seed``.

    ``logo_style``: "flat" (solid fills) or "textured" (gradients, stripes, dots); None =
    drawn from the seed.
    """
    _check_id(brand_id)
    if logo_style is not None and logo_style not in LOGO_STYLES:
        raise InputError(f"logo_style {logo_style!r} is not one of {LOGO_STYLES}")
    rng = brand_rng(brand_id, seed)
    latin_name, cjk_name = texts.brand_names(rng)
    hue = float(rng.uniform(0, 1))
    primary = hsv_color(hue, rng.uniform(0.65, 0.95), rng.uniform(0.55, 0.85))
    secondary = hsv_color(hue + rng.choice([0.08, 0.5, -0.12]), rng.uniform(0.5, 0.9),
                          rng.uniform(0.6, 0.95))
    accent = hsv_color(hue + 0.5 + rng.uniform(-0.1, 0.1), rng.uniform(0.7, 1.0),
                       rng.uniform(0.8, 1.0))
    colors = (primary, secondary, accent)
    style = logo_style or str(rng.choice(LOGO_STYLES))

    latin_choices = [n for n in LATIN_FONTS if n in available_fonts(cjk=False)]
    cjk_choices = [n for n in CJK_FONTS if n in available_fonts(cjk=True)]
    if not latin_choices:
        raise ConfigError("no Latin font installed: pip install fontpkg-roboto fontpkg-noto-sans")
    if not cjk_choices:
        raise ConfigError("no CJK font installed: pip install pylopdf-fonts-zh-cn")
    latin_font = find_font(latin_choices[int(rng.integers(len(latin_choices)))])
    cjk_font = find_font(cjk_choices[int(rng.integers(len(cjk_choices)))])

    wordmark = latin_name if rng.random() < 0.5 else None
    logo = make_logo(rng, colors, style=style, wordmark=wordmark, font_path=latin_font,
                     initial=latin_name[0])

    files: dict[str, bytes] = {"logo.png": encode_png(logo)}
    font_names = []
    for spec_name, path in (("latin", latin_font), ("cjk", cjk_font)):
        stem = path.name.split("[")[0].split(".")[0]
        name = f"fonts/{stem}{path.suffix.lower()}"
        files[name] = path.read_bytes()
        font_names.append(name)
        log.debug("brand %s %s font %s", brand_id, spec_name, path)
    slogans = (texts.pick(rng, texts.SLOGANS_EN), texts.pick(rng, texts.SLOGANS_ZH))
    kit = BrandKit(
        id=brand_id,
        display_name=latin_name,
        canonical_strings=(latin_name, cjk_name, *slogans),
        logos=("logo.png",),
        fonts=tuple(font_names),
        colors=tuple(hex_color(c) for c in colors),
    )
    return GeneratedBrand(kit=kit, logo_rgba=logo, font_paths=(latin_font, cjk_font),
                          files=files, colors=colors, cjk_name=cjk_name, logo_style=style)


def _polygon(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if kind == "hexagon":
        angles = np.deg2rad(np.arange(6) * 60 + 30)
        return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]
    if kind == "diamond":
        return [(cx, cy - r), (cx + r * 0.85, cy), (cx, cy + r), (cx - r * 0.85, cy)]
    if kind == "shield":
        return [(cx - r * 0.85, cy - r * 0.9), (cx + r * 0.85, cy - r * 0.9),
                (cx + r * 0.85, cy + r * 0.1), (cx, cy + r), (cx - r * 0.85, cy + r * 0.1)]
    if kind == "star":
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.5
            a = np.deg2rad(-90 + i * 36)
            pts.append((cx + rad * np.cos(a), cy + rad * np.sin(a)))
        return pts
    raise ValueError(kind)


def _shape_mask(kind: str, size: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    c, r = size / 2, size * 0.47
    if kind == "circle":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=255)
    elif kind == "ring":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=255)
        ri = r * 0.62
        draw.ellipse((c - ri, c - ri, c + ri, c + ri), fill=0)
    elif kind == "rounded":
        draw.rounded_rectangle((c - r, c - r, c + r, c + r), radius=r * 0.35, fill=255)
    else:
        draw.polygon(_polygon(kind, c, c, r), fill=255)
    return mask


def _motif_mask(kind: str, size: int, letter: str, font_path: Path) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    c = size / 2
    if kind == "letter":
        font = ImageFont.truetype(str(font_path), int(size * 0.5))
        with contextlib.suppress(OSError, ValueError):
            font.set_variation_by_name("Bold")
        draw.text((c, c), letter, font=font, fill=255, anchor="mm")
    elif kind == "triangle":
        r = size * 0.24
        draw.polygon([(c, c - r), (c + r, c + r * 0.8), (c - r, c + r * 0.8)], fill=255)
    elif kind == "bars":
        w = size * 0.07
        for i, h in enumerate((0.18, 0.3, 0.22)):
            x = c + (i - 1) * w * 1.8
            bottom = c + size * 0.18
            draw.rectangle((x - w / 2, bottom - size * h * 1.3, x + w / 2, bottom), fill=255)
    elif kind == "chevron":
        r = size * 0.22
        draw.line([(c - r, c - r * 0.2), (c, c + r * 0.5), (c + r, c - r * 0.2)], fill=255,
                  width=int(size * 0.08), joint="curve")
        draw.line([(c - r, c - r * 0.8), (c, c - r * 0.1), (c + r, c - r * 0.8)], fill=255,
                  width=int(size * 0.08), joint="curve")
    else:  # dot
        r = size * 0.12
        draw.ellipse((c - r, c - r, c + r, c + r), fill=255)
    return mask


def _texture(rng: np.random.Generator, size: int, colors: tuple[RGB, ...]) -> np.ndarray:
    base = linear_gradient(size, size, [colors[0], colors[1]], float(rng.uniform(0, np.pi)))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    period = size / float(rng.uniform(7, 14))
    stripes = (np.sin((xs + ys) * np.float32(2 * np.pi / period)) > 0.55).astype(np.float32)
    light = np.asarray(colors[2], dtype=np.float32)
    base = base + (light - base) * (stripes[..., None] * 0.35)
    dots = np.zeros((size, size), np.uint8)
    step = max(6, size // 18)
    for y in range(step // 2, size, step):
        for x in range(step // 2 + (y // step % 2) * step // 2, size, step):
            cv2.circle(dots, (x, y), max(1, step // 6), 255, -1, cv2.LINE_AA)
    base = base + (255.0 - base) * (dots[..., None].astype(np.float32) / 255.0 * 0.25)
    return base


def make_logo(rng: np.random.Generator, colors: tuple[RGB, ...], *, style: str = "flat",
              wordmark: str | None = None, font_path: Path | None = None,
              initial: str | None = None) -> np.ndarray:
    """Draw a logo: an emblem (shape + motif), optionally followed by a short wordmark.

    Returns RGBA uint8 ``[h, w, 4]`` trimmed to its alpha plus a 4-px transparent border.
    """
    font_path = font_path or find_font(available_fonts(cjk=False)[0])
    size = _LOGO_EMBLEM_PX * 2
    emblem = str(rng.choice(_EMBLEMS))
    motif = str(rng.choice(_MOTIFS))
    letter = (initial or wordmark or "ABCDEFGHKLMNPRSTVXZ"[int(rng.integers(19))])[0].upper()
    shape = np.asarray(_shape_mask(emblem, size), dtype=np.float32) / 255.0
    inner = np.asarray(_motif_mask(motif, size, letter, font_path), dtype=np.float32) / 255.0
    if style == "textured":
        fill = _texture(rng, size, colors)
    else:
        fill = np.broadcast_to(np.asarray(colors[0], np.float32), (size, size, 3)).copy()
    motif_color = np.asarray((255, 255, 255) if style == "flat" or rng.random() < 0.5
                             else colors[2], np.float32)
    if emblem == "ring":  # the motif sits in the hole: draw it in the brand colour
        motif_color = np.asarray(colors[1], np.float32)
    rgb = fill + (motif_color - fill) * inner[..., None]
    alpha = np.maximum(shape, inner)
    if style == "textured":  # a thin accent outline adds high-frequency detail
        edge = cv2.morphologyEx((shape > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT,
                                np.ones((9, 9), np.uint8)).astype(np.float32)
        accent = np.asarray(colors[2], np.float32)
        rgb = rgb + (accent - rgb) * edge[..., None]
    parts = [np.dstack([rgb, alpha * 255.0])]
    if wordmark:
        font = ImageFont.truetype(str(font_path), int(size * 0.42))
        with contextlib.suppress(OSError, ValueError):
            font.set_variation_by_name("Bold")
        left, top, right, bottom = font.getbbox(wordmark)
        mark = Image.new("L", (right - left + 8, size), 0)
        ImageDraw.Draw(mark).text((4 - left, (size - (bottom - top)) / 2 - top), wordmark,
                                  font=font, fill=255)
        a = np.asarray(mark, dtype=np.float32)
        col = np.broadcast_to(np.asarray(colors[0] if style == "flat" else colors[1],
                                         np.float32), (*a.shape, 3))
        gap = np.zeros((size, size // 8, 4), np.float32)
        parts += [gap, np.dstack([col, a])]
    big = np.concatenate(parts, axis=1)
    small = cv2.resize(big, (big.shape[1] // 2, big.shape[0] // 2), interpolation=cv2.INTER_AREA)
    small = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    small[small[..., 3] == 0, :3] = 0
    ys, xs = np.nonzero(small[..., 3])
    crop = small[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.pad(crop, ((4, 4), (4, 4), (0, 0)))
