"""Posters: background, copy lines, logo, injected defects and their ground truth.

A poster is built from a background (gradient, texture, shapes, backing panels) and
*elements* (one per copy line, plus the logo). Each element is an alpha layer placed on
the background; elements never overlap: every layer keeps a transparent halo around its
ink and the layout keeps the layers apart. A defect modifies one element's layer only,
so it changes pixels only inside that element's halo. ``clean`` is the same poster with
every element undamaged; ``background`` the poster without any element.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw

from catalog import realism as _real
from catalog import texts
from catalog.brands import GeneratedBrand, make_logo
from catalog.elements import Element, erase_mask, fade_window, halo, stroke_cuts, substitute
from catalog.graphics import (
    RGB,
    composite,
    contrast,
    elastic_maps,
    hex_color,
    hsv_color,
    ink_box,
    linear_gradient,
    luminance,
    radial_gradient,
    rotate_hue,
    smooth_noise,
    to_uint8,
)
from catalog.lettering import LETTERING_STYLES
from catalog.logo_styles import REAL_LOGO_DEFECTS, deform_logo, restyle_logo
from catalog.spelling import REAL_TEXT_DEFECTS
from detectors.types import Box, Quad, normalize_quad
from posterqa.errors import InputError
from posterqa.fonts import has_cjk, load_font, pick_font
from posterqa.manifest import PosterManifest

log = logging.getLogger(__name__)

TEXT_DEFECTS = ("wrong_chars", "erasure", "blur", "warp", "broken_strokes")
ALL_TEXT_DEFECTS = TEXT_DEFECTS + REAL_TEXT_DEFECTS
LOGO_DEFECTS = ("blur", "warp", "color_shift", "erasure", "wrong_logo")
MIN_SIDE, MAX_SIDE = 768, 2048
MIN_TEXT_PX, MAX_TEXT_PX = 16, 160
_ASPECTS = ((1, 1), (3, 4), (2, 3), (9, 16), (4, 5), (4, 3), (16, 9), (3, 2))
_GAP = 4  # px between the halos of two elements
_WHITE: RGB = (250, 250, 248)
_BLACK: RGB = (24, 24, 30)


@dataclass(frozen=True)
class TruthItem:
    """Ground truth of one element of a poster (every text line and the logo).

    ``box`` is tight on the element's pixels in the delivered image *and* in ``clean``
    (the union of both), so it covers what a defect removed or added. ``quad`` is the
    (possibly rotated) rectangle of the line; ``angle_deg`` counter-clockwise.
    ``expected`` is the manifest string (brand display name for the logo); ``rendered``
    what the pixels show (differs from ``expected`` for ``wrong_chars`` / ``wrong_logo``: the
    other brand's name or ``"<random logo>"``).

    Realistic lines (:mod:`catalog.realism`) also carry ``style``, ``layout`` and
    ``parts`` (one box per line, column or copy the layout sets); their ``box`` is tight
    on the letters' ink (glows and drop shadows lie outside it) and, for a defective
    line, covers only the parts that hold the defect.
    """

    kind: str
    defect: str | None
    box: Box
    quad: Quad
    expected: str
    rendered: str
    font_path: str | None
    size_px: int
    color: str | None
    angle_deg: float
    line_index: int | None = None
    font_file: str | None = None  # the brand kit's copy of the font ("fonts/...")
    style: str | None = None  # lettering style (realistic lines only)
    layout: str | None = None  # text layout (realistic lines only)
    parts: tuple[Box, ...] = ()  # boxes of the lines/columns/copies a layout sets

    def to_json(self) -> dict[str, Any]:
        doc = {
            "kind": self.kind,
            "defect": self.defect,
            "box": self.box.as_list(),
            "quad": [[round(x, 2), round(y, 2)] for x, y in self.quad],
            "expected": self.expected,
            "rendered": self.rendered,
            "font": self.font_file or (Path(self.font_path).name if self.font_path else None),
            "size_px": self.size_px,
            "color": self.color,
            "angle_deg": round(self.angle_deg, 3),
            "line_index": self.line_index,
        }
        if self.style is not None:  # keys of realistic lines only (older readers skip them)
            doc["style"] = self.style
            doc["layout"] = self.layout
            doc["parts"] = [b.as_list() for b in self.parts]
        return doc


@dataclass(frozen=True)
class GeneratedPoster:
    """A generated poster. Images are RGB ``uint8`` ``[H, W, 3]``.

    ``image``: what the sweep sees (with the injected defects); ``clean``: the same
    poster without any defect; ``background``: without any text line or logo.
    """

    poster_id: str
    brand_id: str
    seed: int
    image: np.ndarray = field(repr=False)
    clean: np.ndarray = field(repr=False)
    manifest: PosterManifest | None
    truth: tuple[TruthItem, ...]
    background: np.ndarray = field(repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def defects(self) -> tuple[TruthItem, ...]:
        return tuple(t for t in self.truth if t.defect is not None)

    def manifest_json(self) -> bytes | None:
        if self.manifest is None:
            return None
        return json.dumps(self.manifest.to_json(), ensure_ascii=False, sort_keys=True,
                          indent=2).encode("utf-8")

    def truth_json(self, poster_key: str) -> bytes:
        doc = {
            "poster_key": poster_key,
            "poster_id": self.poster_id,
            "brand": self.brand_id,
            "seed": self.seed,
            "size": list(self.size),
            "has_manifest": self.manifest is not None,
            "items": [t.to_json() for t in self.truth],
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")


def poster_rng(poster_id: str, seed: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(poster_id.encode()), salt])


# --------------------------------------------------------------------------- layout


def _pick_size(rng: np.random.Generator) -> tuple[int, int]:
    aw, ah = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    long_over_short = max(aw, ah) / min(aw, ah)
    short = rng.uniform(MIN_SIDE, min(MAX_SIDE / long_over_short, 1600))
    long = short * long_over_short
    s, lg = int(short) // 8 * 8, int(long) // 8 * 8
    return (s, lg) if aw < ah else (lg, s) if aw > ah else (s, s)


def _text_layer(text: str, font_path: str, size: int, angle: float, pad: int,
                origin_text: str | None = None) -> tuple[np.ndarray, Quad]:
    """Alpha ``[h, w]`` of ``text`` with ``pad`` transparent px around its ink box.

    With ``origin_text`` the canvas and pen position are those of ``origin_text`` (so a
    substituted line sits exactly where the expected one would)."""
    font = load_font(font_path, size)
    left, top, right, bottom = font.getbbox(origin_text if origin_text is not None else text)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=255)
    corners = [(pad, pad), (w - pad, pad), (w - pad, h - pad), (pad, h - pad)]
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        cx, cy, ncx, ncy = w / 2, h / 2, img.width / 2, img.height / 2
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        corners = [(ncx + (x - cx) * c + (y - cy) * s, ncy - (x - cx) * s + (y - cy) * c)
                   for x, y in corners]
    quad = normalize_quad(corners)
    return np.asarray(img, dtype=np.float32) / 255.0, quad


_ROLES = ("headline", "secondary", "detail")


def _role_size(rng: np.random.Generator, role: str, short_side: int) -> int:
    lo, hi, mn, mx = {"headline": (0.075, 0.13, 44, MAX_TEXT_PX),
                      "secondary": (0.035, 0.065, 24, 96),
                      "detail": (0.016, 0.03, MIN_TEXT_PX, 40)}[role]
    return int(np.clip(round(short_side * rng.uniform(lo, hi)), mn, mx))


def _role_text(rng: np.random.Generator, role: str, brand: GeneratedBrand) -> str:
    if role == "headline":
        pools = [(brand.kit.display_name, brand.cjk_name), texts.HEADLINES_ZH, texts.HEADLINES_EN]
    elif role == "secondary":
        pools = [texts.MIXED, texts.PRICES, brand.kit.canonical_strings[2:], texts.HEADLINES_ZH,
                 texts.HEADLINES_EN]
    else:
        pools = [texts.DETAILS_ZH, texts.DETAILS_EN, texts.PRICES]
    pool = pools[int(rng.integers(len(pools)))]
    return texts.pick(rng, tuple(pool))


def _plan_lines(rng: np.random.Generator, brand: GeneratedBrand, n: int, width: int,
                short_side: int) -> list[Element]:
    roles = ["headline"] + [str(rng.choice(_ROLES[1:], p=[0.55, 0.45])) for _ in range(n - 1)]
    used: set[str] = set()
    lines: list[Element] = []
    for role in roles:
        for _ in range(30):  # a fresh text until one is new on this poster and fits
            text = _role_text(rng, role, brand)
            if text in used:
                continue
            prefer = [brand.cjk_font, brand.latin_font] if has_cjk(text) else \
                [brand.latin_font, brand.cjk_font]
            font_path = str(pick_font(text, prefer))
            size = _role_size(rng, role, short_side)
            text_w = load_font(font_path, size).getlength(text)
            max_w = 0.84 * width
            if text_w > max_w:
                size = int(size * max_w / text_w)
            if size >= MIN_TEXT_PX:
                break
        else:
            continue
        used.add(text)
        angle = float(rng.uniform(-4.0, 4.0)) if rng.random() < 0.2 else 0.0
        lines.append(Element(kind="text", alpha=np.zeros((0, 0), np.float32), pad=halo(size),
                              text=text, font_path=font_path, size=size, angle=angle))
    return lines


def _render_lines(lines: list[Element], scale: float) -> None:
    for el in lines:
        if el.real is not None:
            if scale != 1.0:
                el.size = max(min(MIN_TEXT_PX, el.size), int(el.size * scale))
                el.pad = halo(el.size)
            _real.render(el)
            continue
        if scale != 1.0:
            el.size = max(MIN_TEXT_PX, int(el.size * scale))
            el.pad = halo(el.size)
        el.alpha, el.quad = _text_layer(el.text, str(el.font_path), el.size, el.angle, el.pad)


def _logo_layer(logo_rgba: np.ndarray, width: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied RGB ``[h, w, 3]`` and alpha ``[h, w]`` of the logo scaled to ``width``
    with ``pad`` transparent px around it."""
    h0, w0 = logo_rgba.shape[:2]
    height = max(1, round(h0 * width / w0))
    rgba = logo_rgba.astype(np.float32)
    a = rgba[..., 3:] / 255.0
    prem = np.concatenate([rgba[..., :3] * a, a], axis=2)
    interp = cv2.INTER_AREA if width < w0 else cv2.INTER_CUBIC
    small = cv2.resize(prem, (width, height), interpolation=interp)
    small = np.clip(small, 0.0, None)
    small[..., 3] = np.clip(small[..., 3], 0.0, 1.0)
    small[..., :3] = np.minimum(small[..., :3], small[..., 3:] * 255.0)
    small = np.pad(small, ((pad, pad), (pad, pad), (0, 0)))
    return small[..., :3].copy(), small[..., 3].copy()


def _layout(rng: np.random.Generator, width: int, height: int, lines: list[Element],
            logo: Element | None) -> list[Element]:
    """Place the logo in a top or bottom band and stack the lines in the rest."""
    my = int(0.04 * height)
    zone0, zone1 = my, height - my
    if logo is not None:
        top = rng.random() < 0.6
        where = str(rng.choice(["left", "center", "right"]))
        margin = int(0.05 * width)
        x = {"left": margin - logo.pad, "right": width - margin - logo.w + logo.pad,
             "center": (width - logo.w) // 2}[where]
        logo.x = int(np.clip(x, 0, width - logo.w))
        if top:
            logo.y = max(0, my - logo.pad)
            zone0 = logo.y + logo.h + _GAP
        else:
            logo.y = min(height - logo.h, height - my - logo.h + logo.pad)
            zone1 = logo.y - _GAP
    zone_h = zone1 - zone0
    for _ in range(6):
        total = sum(el.h for el in lines) + _GAP * (len(lines) - 1)
        if total <= zone_h:
            break
        if len(lines) > 3 and total > 1.6 * zone_h:
            lines = lines[:-1]
            continue
        _render_lines(lines, 0.92 * zone_h / total)
    total = sum(el.h for el in lines) + _GAP * (len(lines) - 1)
    if total > zone_h:
        raise InputError(f"poster {width}x{height} is too small for {len(lines)} lines")
    free = zone_h - total
    weights = rng.dirichlet(np.full(len(lines) + 1, 2.0))
    align = str(rng.choice(["left", "center", "right"], p=[0.4, 0.4, 0.2]))
    margin = int(0.07 * width)
    y = float(zone0)
    for i, el in enumerate(lines):
        y += free * weights[i]
        el.y = int(y)
        y = el.y + el.h + _GAP
        jitter = int(rng.integers(0, max(1, int(0.03 * width))))
        x = {"left": margin - el.pad + jitter, "right": width - margin - el.w + el.pad - jitter,
             "center": (width - el.w) // 2 + jitter - int(0.015 * width)}[align]
        el.x = int(np.clip(x, 0, max(0, width - el.w)))
    return lines


# --------------------------------------------------------------------------- background


def _palette(rng: np.random.Generator, brand: GeneratedBrand) -> tuple[list[RGB], bool]:
    """Background colours: light (pastel) or dark, derived from the brand's hues."""
    import colorsys

    hues = [colorsys.rgb_to_hsv(*(c / 255 for c in col))[0] for col in brand.colors]
    dark = rng.random() < 0.4
    cols = []
    for _ in range(int(rng.integers(2, 4))):
        h = hues[int(rng.integers(len(hues)))] + rng.uniform(-0.06, 0.06)
        if dark:
            cols.append(hsv_color(h, rng.uniform(0.4, 0.9), rng.uniform(0.12, 0.4)))
        else:
            cols.append(hsv_color(h, rng.uniform(0.08, 0.35), rng.uniform(0.85, 1.0)))
    return cols, dark


def _background(rng: np.random.Generator, width: int, height: int, brand: GeneratedBrand
                ) -> np.ndarray:
    cols, dark = _palette(rng, brand)
    if rng.random() < 0.65:
        bg = linear_gradient(height, width, cols, float(rng.uniform(0, 2 * np.pi)))
    else:
        bg = radial_gradient(height, width, cols, float(rng.uniform(0.2, 0.8)),
                             float(rng.uniform(0.2, 0.8)))
    kind = rng.random()
    if kind < 0.35:  # mottled texture
        noise = smooth_noise(rng, height, width, int(rng.integers(6, 20)))
        noise += 0.5 * smooth_noise(rng, height, width, int(rng.integers(30, 80)))
        bg *= (1.0 + np.float32(rng.uniform(0.05, 0.12)) * noise)[..., None]
    elif kind < 0.55:  # fine stripes or a dot grid
        step = int(rng.integers(14, 40))
        pattern = np.zeros((height, width), np.uint8)
        if rng.random() < 0.5:
            for k in range(-height, width, step):
                cv2.line(pattern, (k, 0), (k + height, height), 255, max(2, step // 5),
                         cv2.LINE_AA)
        else:
            tile = np.zeros((step, step), np.uint8)
            cv2.circle(tile, (step // 2, step // 2), max(2, step // 6), 255, -1, cv2.LINE_AA)
            pattern = np.tile(tile, (height // step + 1, width // step + 1))[:height, :width]
        tint = np.float32(255.0 if dark else 0.0)
        strength = np.float32(rng.uniform(0.05, 0.12))
        bg += (tint - bg) * (pattern[..., None].astype(np.float32) / 255.0 * strength)
    if rng.random() < 0.6:  # translucent shapes
        for _ in range(int(rng.integers(3, 9))):
            col = brand.colors[int(rng.integers(len(brand.colors)))]
            cx, cy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
            r = int(rng.uniform(0.05, 0.3) * min(width, height))
            reach = int(1.2 * r) + 4  # the shape lies inside the square cx, cy +- reach
            mask = np.zeros((2 * reach, 2 * reach), np.uint8)
            lc = (reach, reach)
            shape = rng.integers(4)
            if shape == 0:
                cv2.circle(mask, lc, r, 255, -1, cv2.LINE_AA)
            elif shape == 1:
                cv2.circle(mask, lc, r, 255, max(4, r // 6), cv2.LINE_AA)
            elif shape == 2:
                pts = np.array([[reach + r * math.cos(a), reach + r * math.sin(a)]
                                for a in rng.uniform(0, 2 * np.pi, 3)], np.int32)
                cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
            else:
                ang = float(rng.uniform(0, 180))
                box = cv2.boxPoints((lc, (r * 2.0, r * 0.7), ang)).astype(np.int32)
                cv2.fillPoly(mask, [box], 255, cv2.LINE_AA)
            strength = np.float32(rng.uniform(0.12, 0.45) / 255.0)
            composite(bg, mask.astype(np.float32) * strength, col, cx - reach, cy - reach)
    return np.clip(bg, 0.0, 255.0, out=bg)


def _choose_color(rng: np.random.Generator, region: np.ndarray, brand: GeneratedBrand
                  ) -> tuple[RGB, float]:
    """The text colour with the best worst-case contrast on ``region`` (brand colours
    preferred when they are legible)."""
    lum = luminance(region.reshape(-1, 3)[:: max(1, region.size // 3 // 4000)])
    lo, hi = np.percentile(lum, [2, 98])
    candidates = list(brand.colors[:2])
    rng.shuffle(candidates)
    candidates += [_WHITE, _BLACK]

    def worst(col: RGB) -> float:
        lc = float(luminance(col))
        return min((max(lc, e) + 0.05) / (min(lc, e) + 0.05) for e in (lo, hi))

    for col in candidates[:2]:
        if worst(col) >= 4.5:
            return col, worst(col)
    best = max(candidates, key=worst)
    return best, worst(best)


def _add_panel(rng: np.random.Generator, bg: np.ndarray, el: Element, dark_text: bool) -> None:
    """A rounded backing panel under a line (inside its halo) so the text stays legible."""
    col = (252, 252, 250) if dark_text else (20, 20, 28)
    ys, xs = np.nonzero(el.alpha > 0)
    inset = max(1, el.pad // 3)
    x0, y0 = el.x + xs.min() - el.pad + inset, el.y + ys.min() - el.pad + inset
    x1, y1 = el.x + xs.max() + el.pad - inset, el.y + ys.max() + el.pad - inset
    mask = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, x1 - x0, y1 - y0),
                                           radius=max(2, el.pad // 2), fill=255)
    alpha = np.asarray(mask, np.float32) / 255.0 * np.float32(rng.uniform(0.85, 0.95))
    composite(bg, alpha, col, int(x0), int(y0))


# --------------------------------------------------------------------------- defects


def _text_defect(rng: np.random.Generator, el: Element, defect: str) -> tuple[np.ndarray, str]:
    """The defective alpha layer of a line and the text it now shows."""
    a = el.alpha
    fade = fade_window(el.h, el.w, el.pad)
    if defect == "wrong_chars":
        rendered = substitute(rng, el.text, str(el.font_path))
        alpha, _ = _text_layer(rendered, str(el.font_path), el.size, el.angle, el.pad,
                               origin_text=el.text)
        return alpha, rendered
    if defect == "erasure":
        total = float(a.sum())
        for _ in range(10):  # a band that really takes away ink (>= 20 %)
            mask = erase_mask(rng, a)
            if float((a * mask).sum()) >= 0.2 * total:
                break
        return a * (1.0 - mask), el.text
    if defect == "blur":
        sigma = max(2.0, el.size * rng.uniform(0.10, 0.16))
        return cv2.GaussianBlur(a, (0, 0), sigma) * fade, el.text
    if defect == "warp":
        amp = max(2.5, el.size * rng.uniform(0.10, 0.15))
        wavelength = max(6.0, el.size * rng.uniform(0.35, 0.6))
        map_x, map_y = elastic_maps(rng, el.h, el.w, amp, wavelength)
        out = cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0)
        return out * fade, el.text
    if defect == "broken_strokes":
        return a * (1.0 - stroke_cuts(rng, a, el.size, len(el.text))), el.text
    raise InputError(f"unknown text defect {defect!r}; known: {', '.join(TEXT_DEFECTS)}")


def _logo_defect(rng: np.random.Generator, el: Element, defect: str, brand: GeneratedBrand,
                 other_brand: GeneratedBrand | None = None, background: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """Defective premultiplied RGB and alpha of the logo layer and what it now shows
    (``background``: the poster under the layer, for :data:`REAL_LOGO_DEFECTS`)."""
    assert el.rgb is not None
    rgb, a = el.rgb, el.alpha
    inner = max(el.h, el.w) - 2 * el.pad
    fade = fade_window(el.h, el.w, el.pad)
    name = brand.kit.display_name
    if defect == "blur":
        sigma = max(2.0, inner * rng.uniform(0.025, 0.045))
        stack = cv2.GaussianBlur(np.dstack([rgb, a]), (0, 0), sigma) * fade[..., None]
        return stack[..., :3], stack[..., 3], name
    if defect == "warp":
        amp = max(3.0, inner * rng.uniform(0.05, 0.08))
        map_x, map_y = elastic_maps(rng, el.h, el.w, amp, max(8.0, inner * rng.uniform(0.2, 0.35)))
        stack = cv2.remap(np.dstack([rgb, a]), map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) * fade[..., None]
        return stack[..., :3], stack[..., 3], name
    if defect == "color_shift":
        straight = np.where(a[..., None] > 0, rgb / np.maximum(a[..., None], 1e-6), 0)
        shifted = rotate_hue(to_uint8(straight), float(rng.choice([-1, 1]) * rng.uniform(90, 180)))
        return shifted.astype(np.float32) * a[..., None], a, name
    if defect == "erasure":
        ys, xs = np.nonzero(a > 0.5)
        ang = rng.uniform(0, 2 * np.pi)
        proj = xs * math.cos(ang) + ys * math.sin(ang)
        cut = np.quantile(proj, 1.0 - rng.uniform(0.25, 0.45))
        yy, xx = np.mgrid[0:el.h, 0:el.w]
        keep = ((xx * math.cos(ang) + yy * math.sin(ang)) < cut).astype(np.float32)
        return rgb * keep[..., None], a * keep, name
    if defect in REAL_LOGO_DEFECTS:
        return (*deform_logo(rng, defect, rgb, a, background), name)
    if defect == "wrong_logo":
        if other_brand is not None and other_brand.id != brand.id:
            other, shown = other_brand.logo_rgba, other_brand.kit.display_name
        else:
            hue = float(rng.uniform(0, 1))
            cols = (hsv_color(hue, 0.8, 0.7), hsv_color(hue + 0.45, 0.7, 0.85),
                    hsv_color(hue + 0.2, 0.9, 0.95))
            other = make_logo(rng, cols, style=str(rng.choice(["flat", "textured"])),
                              font_path=brand.latin_font)
            shown = "<random logo>"
        ih, iw = el.h - 2 * el.pad, el.w - 2 * el.pad
        scale = min(iw / other.shape[1], ih / other.shape[0])
        ow = max(1, int(other.shape[1] * scale))
        orgb, oa = _logo_layer(other, ow, 0)
        out_rgb, out_a = np.zeros_like(rgb), np.zeros_like(a)
        oy = el.pad + (ih - oa.shape[0]) // 2
        ox = el.pad + (iw - oa.shape[1]) // 2
        out_rgb[oy:oy + oa.shape[0], ox:ox + oa.shape[1]] = orgb
        out_a[oy:oy + oa.shape[0], ox:ox + oa.shape[1]] = oa
        return out_rgb, out_a, shown
    raise InputError(f"unknown logo defect {defect!r}; known: "
                     f"{', '.join(LOGO_DEFECTS + REAL_LOGO_DEFECTS)}")


# --------------------------------------------------------------------------- assembly


def _compose(background: np.ndarray,
             layers: list[tuple[Element, np.ndarray, np.ndarray | None]]) -> np.ndarray:
    """Blend each layer onto a copy of the uint8 background, region by region."""
    out = background.copy()
    for el, alpha, rgb in layers:
        sl = (slice(el.y, el.y + el.h), slice(el.x, el.x + el.w))
        region = out[sl].astype(np.float32)
        if rgb is None:
            composite(region, alpha, el.color, 0, 0)
        else:  # premultiplied logo
            region = region * (1.0 - alpha[..., None]) + rgb
        out[sl] = to_uint8(region)
    return out


def make_poster(
    brand: GeneratedBrand,
    seed: int,
    *,
    size: tuple[int, int] | None = None,
    text_defects: Mapping[int, str] | None = None,
    logo_defect: str | None = None,
    with_logo: bool = True,
    with_manifest: bool = True,
    poster_id: str | None = None,
    n_lines: int | None = None,
    other_brand: GeneratedBrand | None = None,
    realism: bool = False,
    text_styles: Mapping[int, str] | None = None,
    text_layouts: Mapping[int, str] | None = None,
    logo_restyle: str | None = None,
) -> GeneratedPoster:
    """Generate one poster of ``brand`` deterministically from ``seed``.

    ``size``: ``(width, height)``, each 768..2048 (None = drawn from the seed).
    ``text_defects``: line index -> one of :data:`TEXT_DEFECTS` (indices past the last
    line are ignored); ``logo_defect``: one of :data:`LOGO_DEFECTS` (needs ``with_logo``).
    ``poster_id`` defaults to ``"<brand id>-<seed>"``; ``n_lines`` (3..8) to the seed.
    ``wrong_logo`` shows ``other_brand``'s logo when given, else a random logo; the truth's
    ``rendered`` is the other brand's display name or ``"<random logo>"``.

    Realistic copy (:mod:`catalog.realism`; all off by default, and the poster is then
    the same as without these arguments): ``text_defects`` may also name
    :data:`REAL_TEXT_DEFECTS` (misspellings, pseudo-hanzi, look-alike hanzi, stray
    punctuation); ``text_styles`` / ``text_layouts`` give line index -> one of
    :data:`LETTERING_STYLES` / :data:`TEXT_LAYOUTS`; ``realism=True`` draws a style and a
    layout for every other line too (a third straight; fine print under 28 px only
    plain, bold, italic or shadowed).
    Realistic logos (:mod:`catalog.logo_styles`, opt-in): ``logo_restyle``, one of
    ``LOGO_RESTYLES``, renders the logo faithfully in that style (the clean poster too);
    ``logo_defect`` may also be one of ``REAL_LOGO_DEFECTS`` (applied after the restyle).
    """
    # 1. Check inputs
    text_defects = dict(text_defects or {})
    text_styles = dict(text_styles or {})
    text_layouts = dict(text_layouts or {})
    for idx, name in text_defects.items():
        if name not in ALL_TEXT_DEFECTS:
            raise InputError(f"text defect {name!r} for line {idx} is not one of "
                             f"{ALL_TEXT_DEFECTS}")
    for idx, name in text_styles.items():
        if name not in LETTERING_STYLES:
            raise InputError(f"lettering style {name!r} for line {idx} is not one of "
                             f"{LETTERING_STYLES}")
    for idx, name in text_layouts.items():
        if name not in _real.TEXT_LAYOUTS:
            raise InputError(f"text layout {name!r} for line {idx} is not one of "
                             f"{_real.TEXT_LAYOUTS}")
    if logo_defect is not None:
        if logo_defect not in LOGO_DEFECTS + REAL_LOGO_DEFECTS:
            raise InputError(f"logo defect {logo_defect!r} is not one of "
                             f"{LOGO_DEFECTS + REAL_LOGO_DEFECTS}")
        if not with_logo:
            raise InputError("logo_defect needs with_logo=True")
    if size is not None:
        w, h = size
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
            raise InputError(f"poster size {size} must be {MIN_SIDE}..{MAX_SIDE} px per side")
    if n_lines is not None and not 3 <= n_lines <= 8:
        raise InputError(f"n_lines {n_lines} must be 3..8")
    poster_id = poster_id or f"{brand.id}-{seed}"
    rng = poster_rng(poster_id, seed)
    width, height = size or _pick_size(rng)
    short = min(width, height)

    # 2. Plan the copy lines and the logo, then lay them out
    n = n_lines or int(rng.integers(3, 9))
    lines = _plan_lines(rng, brand, n, width, short)
    if not lines:
        raise InputError(f"poster {poster_id}: no copy line fits a {width}px wide poster")
    used = {el.text for el in lines}
    for i, el in enumerate(lines):
        defect = text_defects.get(i)
        if realism or i in text_styles or i in text_layouts or defect in REAL_TEXT_DEFECTS:
            _real.plan_line(el, i, poster_rng(poster_id, seed, salt=300 + i),
                            poster_rng(poster_id, seed, salt=100 + i), brand, width, used,
                            realism=realism, style=text_styles.get(i),
                            layout=text_layouts.get(i), defect=defect)
    _render_lines(lines, 1.0)
    logo = None
    if with_logo:
        lh0, lw0 = brand.logo_rgba.shape[:2]
        lw = int(width * rng.uniform(0.05, 0.40))
        lw = max(24, min(lw, int(0.22 * height * lw0 / lh0)))
        pad = int(math.ceil(0.12 * lw)) + 3
        rgb, alpha = _logo_layer(brand.logo_rgba, lw, pad)
        logo = Element(kind="logo", alpha=alpha, rgb=rgb, pad=pad, size=lw)
    lines = _layout(rng, width, height, lines, logo)
    for el in [*lines, *([logo] if logo else [])]:
        if el.x < 0 or el.y < 0 or el.x + el.w > width or el.y + el.h > height:
            raise InputError(f"poster {poster_id}: {el.text or 'logo'!r} does not fit a "
                             f"{width}x{height} poster")
    for i, el in enumerate(lines):
        el.line_index = i

    # 3. Background, backing panels where the text would not be legible, colours
    bg = _background(rng, width, height, brand)
    for el in lines:
        region = bg[el.y:el.y + el.h, el.x:el.x + el.w]
        color, worst = _choose_color(rng, region, brand)
        if worst < 3.0 or rng.random() < 0.1:
            dark_text = float(luminance(color)) < 0.4
            _add_panel(rng, bg, el, dark_text)
            region = bg[el.y:el.y + el.h, el.x:el.x + el.w]
            color, worst = _choose_color(rng, region, brand)
        el.color = color
    if logo is not None:
        region = bg[logo.y:logo.y + logo.h, logo.x:logo.x + logo.w]
        if float(contrast(region.reshape(-1, 3).mean(0), brand.colors[0])) < 1.6:
            light = float(luminance(brand.colors[0])) < 0.3
            plate = Image.new("L", (logo.w - logo.pad, logo.h - logo.pad), 0)
            ImageDraw.Draw(plate).rounded_rectangle((0, 0, plate.width - 1, plate.height - 1),
                                                    radius=logo.pad, fill=255)
            composite(bg, np.asarray(plate, np.float32) / 255.0 * np.float32(0.9),
                      (250, 250, 250) if light else (25, 25, 30),
                      logo.x + logo.pad // 2, logo.y + logo.pad // 2)

    # 4. Clean and defective layers
    clean_layers: list[tuple[Element, np.ndarray, np.ndarray | None]] = []
    bad_layers: list[tuple[Element, np.ndarray, np.ndarray | None]] = []
    rendered: dict[int, str] = {}
    defect_of: dict[int, str] = {}
    real_truth: dict[int, _real.RealLayers] = {}
    for i, el in enumerate(lines):
        defect = text_defects.get(i)
        if el.real is not None:
            got = _real.layers(el, defect, _style_rng(poster_id, seed, i),
                               poster_rng(poster_id, seed, salt=100 + i))
            clean_layers.append((el, got.clean[1], got.clean[0]))
            bad_layers.append((el, got.shown[1], got.shown[0]))
            real_truth[i] = got
            if defect is not None:
                rendered[i], defect_of[i] = got.rendered, defect
            continue
        clean_layers.append((el, el.alpha, None))
        if defect is None:
            bad_layers.append((el, el.alpha, None))
            continue
        drng = poster_rng(poster_id, seed, salt=100 + i)
        alpha, shown = _text_defect(drng, el, defect)
        bad_layers.append((el, alpha, None))
        rendered[i], defect_of[i] = shown, defect
    logo_shown = brand.kit.display_name
    if logo is not None and logo_restyle is not None:
        assert logo.rgb is not None
        logo.rgb, logo.alpha = restyle_logo(
            poster_rng(poster_id, seed, salt=98), logo_restyle, logo.rgb, logo.alpha,
            bg[logo.y:logo.y + logo.h, logo.x:logo.x + logo.w])
    if logo is not None:
        assert logo.rgb is not None
        clean_layers.append((logo, logo.alpha, logo.rgb))
        if logo_defect is None:
            bad_layers.append((logo, logo.alpha, logo.rgb))
        else:
            drng = poster_rng(poster_id, seed, salt=99)
            rgb, alpha, logo_shown = _logo_defect(
                drng, logo, logo_defect, brand, other_brand,
                bg[logo.y:logo.y + logo.h, logo.x:logo.x + logo.w])
            bad_layers.append((logo, alpha, rgb))
    background = to_uint8(bg)
    clean = _compose(background, clean_layers)
    image = _compose(background, bad_layers) if (defect_of or logo_defect) else clean.copy()

    # 5. Ground truth: boxes tight on the pixels that differ from the background
    truth: list[TruthItem] = []
    for i, el in enumerate(lines):
        if i in real_truth:
            got = real_truth[i]
            box = _real.box_in_poster(el, got.box)
            truth.append(TruthItem(
                kind="text", defect=defect_of.get(i), box=box,
                quad=_shift_quad(el) if el.quad is not None else box.as_quad(),
                expected=el.text, rendered=rendered.get(i, el.text), font_path=el.font_path,
                size_px=el.size, color=hex_color(el.color), angle_deg=el.angle, line_index=i,
                font_file=_kit_font(brand, el.font_path), style=el.real.style,
                layout=el.real.layout,
                parts=tuple(_real.box_in_poster(el, b) for b in got.parts)))
            continue
        box = _element_box(el, background, clean, image)
        quad = box.as_quad() if not el.angle else _shift_quad(el)
        truth.append(TruthItem(
            kind="text", defect=defect_of.get(i), box=box, quad=quad, expected=el.text,
            rendered=rendered.get(i, el.text), font_path=el.font_path, size_px=el.size,
            color=hex_color(el.color), angle_deg=el.angle, line_index=i,
            font_file=_kit_font(brand, el.font_path)))
    if logo is not None:
        box = _element_box(logo, background, clean, image)
        truth.append(TruthItem(
            kind="logo", defect=logo_defect, box=box, quad=box.as_quad(),
            expected=brand.kit.display_name, rendered=logo_shown, font_path=None,
            size_px=logo.size, color=brand.kit.colors[0] if brand.kit.colors else None,
            angle_deg=0.0))

    manifest = None
    if with_manifest:
        manifest = PosterManifest.model_validate({
            "brand": brand.id, "copy": [el.text for el in lines], "logo_required": with_logo})
    return GeneratedPoster(poster_id=poster_id, brand_id=brand.id, seed=int(seed), image=image,
                           clean=clean, manifest=manifest, truth=tuple(truth),
                           background=background)


def _style_rng(poster_id: str, seed: int, index: int) -> Callable[[], np.random.Generator]:
    """A factory of identically seeded generators for line ``index``'s lettering style."""
    return lambda: poster_rng(poster_id, seed, salt=200 + index)


def _kit_font(brand: GeneratedBrand, font_path: str | None) -> str | None:
    for path, name in zip(brand.font_paths, brand.kit.fonts, strict=False):
        if font_path is not None and str(path) == font_path:
            return name
    return None


def _element_box(el: Element, background: np.ndarray, clean: np.ndarray, image: np.ndarray
                 ) -> Box:
    sl = (slice(el.y, el.y + el.h), slice(el.x, el.x + el.w))
    bg = background[sl]
    ink = (clean[sl] != bg).any(axis=2) | (image[sl] != bg).any(axis=2) | \
        (image[sl] != clean[sl]).any(axis=2)
    box = ink_box(ink)
    if box is None:
        raise InputError(f"element {el.text or 'logo'!r} left no pixels on the poster")
    x0, y0, x1, y1 = box
    return Box(el.x + x0, el.y + y0, el.x + x1, el.y + y1)


def _shift_quad(el: Element) -> Quad:
    assert el.quad is not None
    return normalize_quad([(el.x + x, el.y + y) for x, y in el.quad])
