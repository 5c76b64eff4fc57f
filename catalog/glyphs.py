"""Drawing copy for :mod:`catalog.realism`: fonts in a heavy or italic instance, lines with
pseudo-glyphs (a character joined from the parts of two), and the pixel transforms of
the layouts (arc, wave and perspective warps, slant, tilt, re-padding).

Glyph masks are ``float32 [h, w]`` alpha in 0..1; a line's *parts* are given per variant
(clean, misspelt) and per part (line, column, copy): ``parts[variant][part]``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from catalog.graphics import ink_box
from posterqa.errors import InputError
from posterqa.fonts import load_font

# --------------------------------------------------------------------------- fonts


@lru_cache(maxsize=128)
def styled_font(path: str, size: int, bold: bool, italic: bool
                ) -> tuple[ImageFont.FreeTypeFont, int, bool]:
    """``(font, faux-bold stroke px, slant needed)`` for ``path`` at ``size`` px: the
    heavy instance of a variable font (else a stroke), the family's italic file when it
    ships one (else the caller slants the glyphs)."""
    slant = False
    if italic:
        sibling = Path(path).with_name(Path(path).name.replace("[", "-Italic[", 1))
        if "[" in Path(path).name and sibling.is_file():
            path = str(sibling)
        else:
            slant = True
    if not bold:
        return (load_font(path, size) if not italic or slant else
                ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)), 0, slant
    font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    try:
        axes = font.get_variation_axes()
    except OSError:
        axes = []
    if any(a.get("name") == b"Weight" for a in axes):
        font.set_variation_by_axes([min(800, a["maximum"]) if a.get("name") == b"Weight"
                                    else a["default"] for a in axes])
        return font, 0, slant
    return font, max(1, round(size * 0.035)), slant


# --------------------------------------------------------------------------- drawing


def text_bbox(text: str, font: ImageFont.FreeTypeFont, stroke: int,
              glyphs: dict[str, tuple[str, str, str]]) -> tuple[int, int, int, int]:
    """Ink box of ``text`` drawn with its pen at (0, 0) (a pseudo-hanzi measured as its base)."""
    plain = "".join(glyphs[c][0] if c in glyphs else c for c in text)
    return font.getbbox(plain, stroke_width=stroke) if plain.strip() else (0, 0, 1, 1)


def draw_text(img: Image.Image, x: float, y: float, text: str, font: ImageFont.FreeTypeFont,
              stroke: int, glyphs: dict[str, tuple[str, str, str]]) -> None:
    """Draw ``text`` with its pen at ``(x, y)``; a private-use character in ``glyphs`` is
    drawn as its pseudo-glyph: one part of the base character and the rest of the
    partner, split where the base's components meet (the base's advance is kept)."""
    plain = "".join(glyphs[c][0] if c in glyphs else c for c in text)
    draw = ImageDraw.Draw(img)
    draw.text((x, y), plain, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    for i, ch in enumerate(text):
        if ch not in glyphs:
            continue
        base, partner, axis = glyphs[ch]
        px = x + font.getlength(plain[:i])
        a = Image.new("L", img.size, 0)
        b = Image.new("L", img.size, 0)
        ImageDraw.Draw(a).text((px, y), base, font=font, fill=255, stroke_width=stroke,
                               stroke_fill=255)
        ImageDraw.Draw(b).text((px, y), partner, font=font, fill=255, stroke_width=stroke,
                               stroke_fill=255)
        an, bn = np.asarray(a, np.float32), np.asarray(b, np.float32)
        composed = compose_glyph(an, bn, axis)
        line = np.clip(np.asarray(img, np.float32) - an, 0, 255)  # the base glyph goes
        merged = np.maximum(line, composed)
        img.paste(Image.fromarray(merged.astype(np.uint8)))


def compose_glyph(a: np.ndarray, b: np.ndarray, axis: str) -> np.ndarray:
    """Base ``a``'s first part (left/top) joined with partner ``b``'s second part, cut at
    the base's emptiest row/column in the middle 30-70 % of its ink (where a radical ends)."""
    ax = 0 if axis == "x" else 1  # sum over rows -> profile along x
    box = ink_box(a > 40)
    if box is None:
        return b
    lo, hi = (box[0], box[2]) if axis == "x" else (box[1], box[3])
    prof = a.sum(axis=ax)
    c0, c1 = lo + int(0.3 * (hi - lo)), lo + int(0.7 * (hi - lo)) + 1
    cut = c0 + int(np.argmin(prof[c0:c1])) if c1 > c0 else (lo + hi) // 2
    out = b.copy()
    if axis == "x":
        out[:, :cut] = a[:, :cut]
    else:
        out[:cut, :] = a[:cut, :]
    return out


# --------------------------------------------------------------------------- transforms


def rotate(a: np.ndarray, angle: float) -> np.ndarray:
    """``a`` turned ``angle`` degrees counter-clockwise on a canvas grown to hold it."""
    img = Image.fromarray(np.clip(np.rint(a * 255), 0, 255).astype(np.uint8))
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(img, np.float32) / 255.0


def shear(a: np.ndarray, k: float) -> np.ndarray:
    """Slant ``a`` to the right by ``k`` (top row moved ``k * h`` px right)."""
    h, w = a.shape
    m = np.float32([[1, -k, k * h], [0, 1, 0]])
    return cv2.warpAffine(a, m, (w + int(math.ceil(k * h)) + 1, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp(layout: str, p: dict[str, Any], parts: list[list[np.ndarray]], size: int, pad: int
         ) -> list[list[np.ndarray]]:
    """Arc, wave or perspective warp of every part (same map for all)."""
    h, w = parts[0][0].shape
    if layout == "perspective":
        r, sq = p["ratio"], p["squash"]
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        if p["mode"] == "back":  # top edge narrower: the line lies on a plane tilted back
            inset = w * (1 - r) / 2
            dst = np.float32([[inset, 0], [w - inset, 0], [w, h * sq], [0, h * sq]])
        else:
            dh = h * (1 - r) / 2
            far = [[w * sq, dh], [w * sq, h - dh]]
            dst = np.float32([[0, 0], far[0], far[1], [0, h]]) if p["mode"] == "right" else \
                np.float32([[0, dh], [w * sq, 0], [w * sq, h], [0, h - dh]])
        ow, oh = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
        m = cv2.getPerspectiveTransform(src, dst)
        return [[cv2.warpPerspective(a, m, (ow, oh), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                 for a in vp] for vp in parts]
    if layout == "wave":
        amp = p["amp"] * size
        lam = max(size * 2.0, p["period"] * (w - 2 * pad))
        oh = h + 2 * int(math.ceil(amp)) + 2
        xs = np.arange(w, dtype=np.float32)[None, :]
        ys = np.arange(oh, dtype=np.float32)[:, None]
        shift = amp + amp * np.sin(2 * np.pi * xs / lam + p["phase"])
        map_y = (ys - shift).astype(np.float32)
        map_x = np.broadcast_to(xs, (oh, w)).astype(np.float32)
        return [[cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0) for a in vp] for vp in parts]
    # arc: the text's middle line on a circle of radius R
    sweep = p["sweep"]
    rad = max((w - 2 * pad) / sweep, 3.0 * size)  # glyphs squeezed/stretched <= ~17 %
    mid = h / 2
    up = p["up"]
    # bounds of the forward map of the canvas border
    xs = np.concatenate([np.linspace(0, w, 64), np.linspace(0, w, 64), np.zeros(16),
                         np.full(16, w)])
    ys = np.concatenate([np.zeros(64), np.full(64, h), np.linspace(0, h, 16),
                         np.linspace(0, h, 16)])
    th = (xs - w / 2) / rad
    rr = rad - (ys - mid) if up else rad + (ys - mid)
    fx = rr * np.sin(th)
    fy = -rr * np.cos(th) if up else rr * np.cos(th)
    x0, x1, y0, y1 = fx.min(), fx.max(), fy.min(), fy.max()
    ow, oh = int(math.ceil(x1 - x0)) + 2, int(math.ceil(y1 - y0)) + 2
    gx, gy = np.meshgrid(np.arange(ow, dtype=np.float32) + np.float32(x0),
                         np.arange(oh, dtype=np.float32) + np.float32(y0))
    if up:
        theta, rr = np.arctan2(gx, -gy), np.hypot(gx, gy)
        map_y = mid + (rad - rr)
    else:
        theta, rr = np.arctan2(gx, gy), np.hypot(gx, gy)
        map_y = mid + (rr - rad)
    map_x = w / 2 + rad * theta
    map_x, map_y = map_x.astype(np.float32), map_y.astype(np.float32)
    return [[cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0) for a in vp] for vp in parts]


def repad(parts: list[list[np.ndarray]], pad: int
          ) -> tuple[list[list[np.ndarray]], tuple[int, int]]:
    """Crop every part to the union of all ink plus ``pad`` transparent px; also the
    offset of the new canvas in the old one."""
    union = np.maximum.reduce([p for vp in parts for p in vp])
    box = ink_box(union > 1.0 / 255.0)
    if box is None:
        raise InputError("a copy line drew no ink")
    x0, y0, x1, y1 = box
    out = [[np.pad(np.clip(p[y0:y1, x0:x1], 0, 1), ((pad, pad), (pad, pad))).astype(np.float32)
            for p in vp] for vp in parts]
    return out, (x0 - pad, y0 - pad)
