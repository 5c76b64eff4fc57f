"""Lettering styles of real AI posters, painted on a line's glyph mask.

A style turns the glyph mask ``alpha`` (``float32 [h, w]`` 0..1, with a transparent
halo of ``pad`` px) and the line's colour into a premultiplied RGB layer
(``float32 [h, w, 3]`` 0..255), its alpha, and ``core``: the letters' own ink (fill,
outline, extruded sides), the part the truth box is tight on. Glows and shadows are
outside ``core``. Every style leaves the copy readable (a clean line stays clean).

=============  ==========================================================================
``plain``      flat fill (the default generator's look)
``bold``       flat fill, heavy weight (variable font axis, else a faux-bold stroke)
``italic``     flat fill, the family's italic file (Roboto/Noto Sans), else slanted glyphs.
               The installed font packages hold no script font; italic is the nearest.
``shadow``     soft drop shadow, 4-8 % of the size away
``outline``    contrasting stroke 4-8 % of the size around the fill, or hollow letters
``extruded``   3D: the letters' sides drawn 5-10 % of the size deep in a darker tone
``metallic``   gold or chrome: banded vertical gradient and a thin dark rim
``neon``       soft glow of a saturated hue around the letters
``emboss``     bevel lit from the top left (``deboss``: lit from the bottom right)
``textured``   wood grain, mottled noise or woven fabric modulating the fill
``glitter``    speckled fill with bright sparkles on the strokes
``embroidery`` satin stitches (slanted thread stripes 3-5 px apart), a darker stitched
               edge and a faint raised shadow
=============  ==========================================================================
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from catalog.graphics import RGB, hsv_color, luminance, smooth_noise
from posterqa.errors import InputError

LETTERING_STYLES = ("plain", "bold", "italic", "shadow", "outline", "extruded", "metallic",
                    "neon", "emboss", "deboss", "textured", "glitter", "embroidery")
BOLD_STYLES = frozenset({"bold", "extruded", "metallic", "glitter", "embroidery"})
ITALIC_STYLES = frozenset({"italic"})
_GOLD = ((110, 72, 18), (246, 214, 120), (184, 132, 38), (255, 238, 170), (140, 95, 25))
_CHROME = ((70, 74, 84), (235, 238, 244), (120, 126, 138), (250, 252, 255), (90, 94, 104))
_NEON_HUES = (0.92, 0.5, 0.33, 0.08, 0.75, 0.58)


def _shift(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(a, m, (a.shape[1], a.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _dilate(a: np.ndarray, r: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(a, k)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), max(sigma, 0.3))


def _partner(color: RGB) -> np.ndarray:
    """A tone of ``color`` that keeps its side of the contrast (darker for a light colour)."""
    c = np.asarray(color, np.float32)
    return c * np.float32(0.45) if float(luminance(color)) > 0.3 else c + (255 - c) * 0.55


def _toned(color: RGB, t: np.ndarray, amount: float) -> np.ndarray:
    """``[h, w, 3]``: ``color`` moved toward its partner tone by ``amount * t`` (t 0..1)."""
    c = np.asarray(color, np.float32)
    return c + (_partner(color) - c) * (np.clip(t, 0, 1)[..., None] * np.float32(amount))


def _contrasting(color: RGB) -> RGB:
    return (20, 20, 26) if float(luminance(color)) > 0.25 else (248, 248, 244)


def _over(top_rgb: np.ndarray, top_a: np.ndarray, under_rgb: np.ndarray, under_a: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied 'over': ``top`` over ``under``."""
    inv = (1.0 - top_a)[..., None]
    return top_rgb + under_rgb * inv, top_a + under_a * (1.0 - top_a)


def _flat(color: RGB | np.ndarray, a: np.ndarray) -> np.ndarray:
    """Premultiplied RGB of ``color`` (one colour or ``[h, w, 3]``) through alpha ``a``."""
    return np.asarray(color, np.float32) * a[..., None]


def _rows_t(a: np.ndarray) -> np.ndarray:
    """0..1 from the top to the bottom of the ink, per row (``[h, 1]``)."""
    rows = np.flatnonzero(a.max(axis=1) > 0.1)
    y0, y1 = (rows[0], rows[-1]) if rows.size else (0, a.shape[0] - 1)
    ys = np.arange(a.shape[0], dtype=np.float32)[:, None]
    return np.clip((ys - y0) / max(1.0, float(y1 - y0)), 0, 1)


def _ramp(stops: tuple[RGB, ...], t: np.ndarray) -> np.ndarray:
    table = np.asarray(stops, np.float32)
    xs = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(t, xs, table[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def paint(style: str, a: np.ndarray, color: RGB, size: int, pad: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(premultiplied rgb [h, w, 3], alpha [h, w], core [h, w])`` of the glyph mask ``a``
    in ``style``; effects stay within ``pad`` px of the glyphs. ``rng`` draws the style's
    parameters (give the clean and the defective variant of a line the same stream)."""
    a = a.astype(np.float32)
    room = max(2.0, pad - 3.0)
    if style in ("plain", "bold", "italic"):
        return _flat(color, a), a, a
    if style == "shadow":
        off = float(np.clip(size * rng.uniform(0.04, 0.08), 1.0, room * 0.45))
        sigma = float(np.clip(size * rng.uniform(0.02, 0.05), 0.6, room / 5))
        ang = rng.uniform(0.35, 1.2)
        s = _blur(_shift(a, off * math.cos(ang), off * math.sin(ang)), sigma)
        s = s * np.float32(rng.uniform(0.45, 0.7))
        dark = float(luminance(color)) < 0.2
        scol = (120, 120, 130) if dark else (12, 12, 18)
        rgb, alpha = _over(_flat(color, a), a, _flat(scol, s), s)
        return rgb, alpha, a
    if style == "outline":
        r = int(np.clip(round(size * rng.uniform(0.04, 0.08)), 1, room / 2))
        dil = _dilate(a, r)
        if rng.random() < 0.3 and size >= 40:  # hollow letters: the stroke in the line's colour
            ring = np.clip(dil - a, 0, 1)
            return _flat(color, ring), ring, dil
        k = _contrasting(color)
        rgb, alpha = _over(_flat(color, a), a, _flat(k, dil), dil)
        return rgb, alpha, dil
    if style == "extruded":
        depth = int(np.clip(round(size * rng.uniform(0.05, 0.10)), 2, room * 0.8))
        ang = rng.uniform(0.5, 1.1) * (1 if rng.random() < 0.6 else -1) + (
            0 if rng.random() < 0.7 else math.pi)
        dx, dy = math.cos(ang), abs(math.sin(ang))
        side = np.zeros_like(a)
        for k in range(1, depth + 1):
            side = np.maximum(side, _shift(a, k * dx, k * dy))
        scol = _partner(color)
        rgb, alpha = _over(_flat(color, a), a, _flat(scol, side), side)
        return rgb, alpha, np.maximum(a, side)
    if style == "metallic":
        t = _rows_t(a)
        phase = rng.uniform(-0.15, 0.15)
        stops = _GOLD if rng.random() < 0.6 else _CHROME
        face = _ramp(stops, np.clip(t + phase, 0, 1))
        face = np.broadcast_to(face, (a.shape[0], a.shape[1], 3))
        r = int(np.clip(round(size * 0.03), 1, room / 3))
        rim = _dilate(a, r)
        rim_col = (52, 34, 8) if stops is _GOLD else (30, 32, 40)
        rgb, alpha = _over(face * a[..., None], a, _flat(rim_col, rim), rim)
        return rgb, alpha, rim
    if style == "neon":
        sigma = float(np.clip(size * rng.uniform(0.06, 0.12), 1.0, room / 3.2))
        glow = np.clip(_blur(a, sigma) * np.float32(rng.uniform(1.3, 2.0)), 0, 1)
        glow = glow * np.float32(rng.uniform(0.6, 0.85))
        gcol = hsv_color(_NEON_HUES[int(rng.integers(len(_NEON_HUES)))], 0.85, 1.0)
        rgb, alpha = _over(_flat(color, a), a, _flat(gcol, glow), glow)
        return rgb, alpha, a
    if style in ("emboss", "deboss"):
        sigma = float(np.clip(size * 0.05, 0.8, 6.0))
        b = _blur(a, sigma)
        gy, gx = np.gradient(b)
        lx, ly = (-0.7071, -0.7071) if style == "emboss" else (0.7071, 0.7071)
        shade = -(gx * lx + gy * ly)
        shade = shade / max(float(np.abs(shade).max()), 1e-6)
        base = np.asarray(color, np.float32)
        light = base + (255 - base) * np.clip(shade, 0, 1)[..., None] * 0.7
        col = light * (1 - np.clip(-shade, 0, 1)[..., None] * 0.6)
        return col * a[..., None], a, a
    if style == "textured":
        h, w = a.shape
        kind = int(rng.integers(3))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        if kind == 0:  # wood grain
            period = max(3.0, size * rng.uniform(0.1, 0.2))
            wobble = smooth_noise(rng, h, w, max(2, w // max(size, 1) + 2)) * period * 1.5
            t = 0.5 + 0.5 * np.sin(2 * np.pi * (ys + wobble) / period)
        elif kind == 1:  # mottled noise
            t = 0.5 + 0.5 * smooth_noise(rng, h, w, max(3, int(w / max(size * 0.25, 2))))
        else:  # woven fabric
            p = float(rng.uniform(3.0, 6.0))
            t = 0.5 + 0.25 * (np.sin(2 * np.pi * xs / p) + np.sin(2 * np.pi * ys / p))
        col = _toned(color, t, float(rng.uniform(0.5, 0.8)))
        return col * a[..., None], a, a
    if style == "glitter":
        h, w = a.shape
        speck = rng.random((h, w)).astype(np.float32)
        col = _toned(color, speck, 0.35)
        bright = (speck > 0.94).astype(np.float32)[..., None]
        col = col * (1 - bright * 0.8) + np.float32(255) * bright * 0.8
        rgb = col * a[..., None]
        alpha = a.copy()
        stars = np.zeros((h, w), np.float32)
        # candidate places drawn over the whole layer, kept where they fall on a stroke
        # (so a misspelt variant keeps the sparkles of the letters it shares)
        n_cand = int(np.clip(h * w / max(size * size, 1) * 2.5, 6, 400))
        cand = rng.random((n_cand, 3))
        for fx, fy, fl in cand:
            cx, cy = int(fx * (w - 1)), int(fy * (h - 1))
            if a[cy, cx] < 0.8:
                continue
            length = max(2, round(size * (0.05 + 0.05 * fl)))
            cv2.line(stars, (cx - length, cy), (cx + length, cy), 1.0, 1, cv2.LINE_AA)
            cv2.line(stars, (cx, cy - length), (cx, cy + length), 1.0, 1, cv2.LINE_AA)
        stars *= np.float32(0.9)
        rgb, alpha = _over(_flat((255, 255, 250), stars), stars, rgb, alpha)
        return rgb, alpha, a
    if style == "embroidery":
        h, w = a.shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        period = float(rng.uniform(3.0, 5.0))
        slope = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.6, 1.4))
        phase = (xs + slope * ys) / np.float32(period)
        thread = 0.5 + 0.5 * np.cos(2 * np.pi * phase)  # 1 at a thread's middle
        col = _toned(color, 1.0 - thread, 0.45)
        r = int(np.clip(round(size * 0.025), 1, room / 3))
        edge = np.clip(_dilate(a, r) - a, 0, 1)
        rgb, alpha = _over(col * a[..., None], a, _flat(_partner(color), edge), edge)
        lift = _blur(_shift(np.maximum(a, edge), 1.0, 1.5), 1.0) * np.float32(0.35)
        rgb, alpha = _over(rgb, alpha, _flat((10, 10, 14), lift), lift)
        return rgb, alpha, np.maximum(a, edge)
    raise InputError(f"unknown lettering style {style!r}; known: {', '.join(LETTERING_STYLES)}")
