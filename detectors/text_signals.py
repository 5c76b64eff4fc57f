"""Cheap image signals for collapsed text detail (blur, warp, broken strokes).

Everything here works on one line at a time, in *line coordinates*: the line's quad is
rectified to an upright crop at native resolution (:func:`detectors.ocr.crop_quad`), so
that rotated lines and straight ones are measured the same way, and each character owns
a range of crop columns (a *cell*).

* :func:`stroke_sharpness` -- the 90th percentile of the gradient magnitude inside a cell,
  divided by the line's ink contrast. A crisp anti-aliased edge steps from background to
  ink within a pixel or two whatever the font size or colour, so the ratio is comparable
  between lines of similar height on one poster; blur spreads the step and lowers it.
* :func:`glyph_similarity` -- the expected characters rendered in the brand font, scaled
  onto the line's ink box, compared cell by cell with normalised cross-correlation after
  a light blur (a small horizontal shift search absorbs spacing differences). Warps and
  broken strokes move or remove ink and lower it; so does blur, less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class LineImage:
    """A rectified line crop prepared for measurements.

    ``ink`` is float32 ``[h, w]`` in [0, 1] (1 = full ink contrast against the local
    background, whatever the polarity); ``grad`` the gradient magnitude of the grey crop
    divided by the ink contrast; ``contrast`` the ink contrast in grey levels.
    """

    ink: np.ndarray
    grad: np.ndarray
    contrast: float


def prepare_line(crop_rgb: np.ndarray) -> LineImage:
    """Ink map and normalised gradients of an upright RGB ``uint8`` line crop."""
    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    band = max(1, h // 8)
    border = np.concatenate([grey[:band].ravel(), grey[-band:].ravel()])
    bg = float(np.median(border))
    diff = np.abs(grey - bg)
    contrast = float(np.percentile(diff, 99)) if diff.size else 0.0
    contrast = max(contrast, 8.0)
    ink = np.clip(diff / contrast, 0.0, 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 4.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 4.0
    grad = np.sqrt(gx * gx + gy * gy) / contrast
    return LineImage(ink=ink.astype(np.float32), grad=grad.astype(np.float32),
                     contrast=contrast)


def stroke_sharpness(line: LineImage, cells: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per-cell sharpness: p90 of the normalised gradient where there is an edge."""
    out = np.zeros(len(cells), dtype=np.float64)
    for k, (c0, c1) in enumerate(cells):
        g = line.grad[:, max(c0, 0):max(c1, c0 + 1)]
        edges = g[g > 0.05]
        out[k] = float(np.percentile(edges, 90)) if edges.size >= 4 else 0.0
    return out


@lru_cache(maxsize=16)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


_RENDER_SIZE = 64


@lru_cache(maxsize=512)
def render_text(text: str, font_path: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """``text`` rendered at 64 px: float32 ink ``[h, w]`` cropped to the ink box, and the
    x position of every character boundary (len(text) + 1 values) in that crop."""
    from PIL import Image, ImageDraw

    font = _font(font_path, _RENDER_SIZE)
    x0, y0, x1, y1 = font.getbbox(text)
    w, h = max(x1 - x0, 1) + 4, max(y1 - y0, 1) + 4
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((2 - x0, 2 - y0), text, font=font, fill=255)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(arr > 0.5)
    if xs.size == 0:
        return np.zeros((1, 1), np.float32), tuple(0.0 for _ in range(len(text) + 1))
    cx0, cx1, cy0, cy1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bounds = [font.getlength(text[:k]) + 2 - x0 - cx0 for k in range(len(text) + 1)]
    return arr[cy0:cy1, cx0:cx1], tuple(float(b) for b in bounds)


def ink_box(ink: np.ndarray, thresh: float = 0.5) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(ink > thresh)
    if xs.size < 4:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def glyph_similarity(line: LineImage, text: str, font_path: str
                     ) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    """Per-character similarity of the line's ink to ``text`` in the brand font.

    Returns (similarities per character of ``text``, cells: each character's column range
    in the line crop) or None when the line has no ink box to compare.
    """
    box = ink_box(line.ink)
    if box is None or not text.strip():
        return None
    bx0, by0, bx1, by1 = box
    ref, bounds = render_text(text, font_path)
    bw, bh = bx1 - bx0, by1 - by0
    if bw < 4 or bh < 4 or ref.shape[1] < 2:
        return None
    scaled = cv2.resize(ref, (bw, bh), interpolation=cv2.INTER_AREA)
    sx = bw / ref.shape[1]
    sigma = max(bh / 24.0, 0.8)
    obs = cv2.GaussianBlur(line.ink[by0:by1, bx0:bx1], (0, 0), sigma)
    exp = cv2.GaussianBlur(scaled, (0, 0), sigma)
    shift = max(1, int(round(bh * 0.08)))
    sims = np.zeros(len(text), dtype=np.float64)
    cells: list[tuple[int, int]] = []
    for k in range(len(text)):
        c0 = int(round(bounds[k] * sx))
        c1 = int(round(bounds[k + 1] * sx))
        c0, c1 = max(c0, 0), min(max(c1, c0 + 1), bw)
        cells.append((c0 + bx0, c1 + bx0))
        if text[k].isspace() or c1 - c0 < 2:
            sims[k] = 1.0
            continue
        e = exp[:, c0:c1]
        if float(e.max()) < 0.05:  # glyph without ink at this size
            sims[k] = 1.0
            continue
        best = -1.0
        for dx in range(-shift, shift + 1, max(1, shift // 2)):
            o0, o1 = c0 + dx, c1 + dx
            if o0 < 0 or o1 > bw:
                continue
            best = max(best, _ncc(obs[:, o0:o1], e))
        sims[k] = best
    return sims, cells
