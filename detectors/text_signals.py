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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from detectors.ocr import crop_quad
from posterqa.fonts import covers_char, load_font

PANEL_SHARE = 0.55


@dataclass(frozen=True)
class LineImage:
    """A rectified line crop prepared for measurements.

    ``ink`` is float32 ``[h, w]`` in [0, 1] (1 = full ink contrast against the local
    background, whatever the polarity); ``grad`` the gradient magnitude of the grey crop
    divided by the ink contrast; ``contrast`` the ink contrast in grey levels; ``core``
    (bool ``[h, w]``, or None) the glyph blobs themselves, before the halo.
    """

    ink: np.ndarray
    grad: np.ndarray
    contrast: float
    core: np.ndarray | None = None


def crop_line(image: np.ndarray, quad: Sequence[Sequence[float]]) -> np.ndarray:
    """:func:`detectors.ocr.crop_quad` of an OCR line's ``quad`` (no padding): the
    rectified RGB ``uint8`` crop. An upright quad with whole-pixel corners inside the image
    is cut out directly, pixel for pixel what the warp gives (a whole-pixel translation
    samples every pixel at its centre, bicubic weights 0, 1, 0, 0) at ~1/50 of its cost;
    any other quad is warped."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad
    h, w = image.shape[:2]
    if ay == by and cy == dy and ax == dx and bx == cx \
            and all(float(v).is_integer() for v in (ax, ay, cx, cy)) \
            and 0 <= ax < cx <= w and 0 <= ay < cy <= h:
        return image[int(ay):int(cy), int(ax):int(cx)].copy()
    return crop_quad(image, quad)


def prepare_line(crop_rgb: np.ndarray, *, halo: int = 2) -> LineImage:
    """Ink map and normalised gradients of an upright RGB ``uint8`` line crop.

    The crop is split in two classes (Otsu); the ink is the class made of thin strokes
    (less of it survives an erosion), the background the median of the other (when that
    "ink" covers more than ``PANEL_SHARE`` of the crop, it is a backing panel seen
    through the detector's margin: the classes are taken from the crop's centre, the
    middle 60 % of its rows and 90 % of its columns); ink is
    what differs from it towards the ink's side, minus connected blobs that touch the
    crop's top or bottom edge (panel borders, neighbouring elements) unless they are
    glyph-sized (narrower than 1.2x the crop height), reach its middle row and touch only
    one of those edges (a descender the detector's quad cut).
    Ink and gradients are kept only within ``halo`` px of those blobs.
    """
    grey8 = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey8.shape
    # two classes (Otsu); the ink is the class made of thin strokes: less of it survives
    # an erosion than of the background
    k = np.ones((3, 3), np.uint8)
    it = max(1, h // 16)

    def survival(m: np.ndarray) -> float:
        n = cv2.countNonZero(m)
        return float(cv2.countNonZero(cv2.erode(m, k, iterations=it))) / n if n else 1.0

    def classes(g8: np.ndarray) -> tuple[bool, np.ndarray, np.ndarray]:
        _t, dark = cv2.threshold(g8, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)  # g8 <= t
        light = 1 - dark
        ink_dark = survival(dark) < survival(light)
        return ink_dark, (dark if ink_dark else light), (light if ink_dark else dark)

    ink_dark, ink_cls, bg_cls = classes(grey8)
    bg_src = grey8
    # an "ink" class over most of the crop is a backing panel whose edge lies in the
    # detector's margin (its outside is the other class): classify the line's own band
    cy0, cy1, cx0, cx1 = h // 5, h - h // 5, w // 20, w - w // 20
    if ink_cls.mean() > PANEL_SHARE and cy1 - cy0 >= 8 and cx1 - cx0 >= 8:
        ink_dark, ink_cls, bg_cls = classes(grey8[cy0:cy1, cx0:cx1])
        bg_src = grey8[cy0:cy1, cx0:cx1]
    # grey levels are whole numbers: order statistics come from histograms (exactly
    # np.median's and np.percentile's values, without sorting the pixels)
    bg_hist = _histogram(bg_src, bg_cls)
    bg = _hist_median(bg_hist) if bg_hist.any() else _hist_median(_histogram(grey8))
    # the ink difference of a pixel depends on its grey level only: per-level tables
    # (the same float32 operations as on the whole crop), looked up (cv2.LUT)
    sign = -1.0 if ink_dark else 1.0
    level_diff = np.maximum(sign * (_LEVELS - bg), 0.0)
    band = slice(h // 5, max(h - h // 5, h // 5 + 1))
    top = _hist_percentile(level_diff, _histogram(grey8[band]), 99)
    binary = cv2.LUT(grey8, (level_diff > max(16.0, 0.35 * top)).astype(np.uint8))
    mask = _own_blobs(binary)
    contrast = _hist_percentile(level_diff, _histogram(grey8, mask.view(np.uint8)), 95) \
        if mask.any() else top
    contrast = max(contrast, 8.0)
    near = cv2.dilate(mask.view(np.uint8), np.ones((2 * halo + 1, 2 * halo + 1), np.uint8)) > 0
    ink = np.where(near, cv2.LUT(grey8, np.clip(level_diff / contrast, 0.0, 1.0)), 0.0)
    return _line_image(grey8, ink, mask, near, contrast)


SIDE_BAR = 0.15  # a blob this thin at a crop's side and top or bottom edge is a panel's


def _own_blobs(binary: np.ndarray) -> np.ndarray:
    """The blobs of a line's binary ink map that are its own (bool ``[h, w]``): a blob at
    the crop's top or bottom edge is a panel border or a neighbour's stroke, unless it is
    glyph-sized and reaches the line's middle (a descender such as y's or j's that the
    detector's quad cut), and one that also touches its left or right side and is thin
    (<= ``SIDE_BAR`` x the crop height wide) is a panel's side edge (seed 34: 'Scan the
    code to join' compared 0.51 with the edge, 0.94 without)."""
    h, w = binary.shape
    if not (binary[0].any() or binary[-1].any()):
        return binary.astype(bool)  # no blob touches the top or bottom edge: all are kept
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    keep = np.ones(n, dtype=bool)
    keep[0] = False
    y_top = stats[:, cv2.CC_STAT_TOP]
    y_bot = y_top + stats[:, cv2.CC_STAT_HEIGHT]
    edge = (y_top <= 0) | (y_bot >= h)
    own = (y_top < h // 2) & (y_bot > h // 2) & (stats[:, cv2.CC_STAT_WIDTH] < 1.2 * h) \
        & ~((y_top <= 0) & (y_bot >= h))
    x0 = stats[:, cv2.CC_STAT_LEFT]
    x1 = x0 + stats[:, cv2.CC_STAT_WIDTH]
    side_bar = ((x0 <= 0) | (x1 >= w)) & (stats[:, cv2.CC_STAT_WIDTH] <= SIDE_BAR * h)
    keep &= ~(edge & (~own | side_bar))
    return keep[labels]


def _line_image(grey8: np.ndarray, ink: np.ndarray, mask: np.ndarray, near: np.ndarray,
                contrast: float) -> LineImage:
    # whole grey levels: the float32 Sobel of the uint8 crop is that of its float copy,
    # and its quarter (a power of two) is exact either way
    gx = cv2.Sobel(grey8, cv2.CV_32F, 1, 0, ksize=3, scale=0.25)
    gy = cv2.Sobel(grey8, cv2.CV_32F, 0, 1, ksize=3, scale=0.25)
    grad = np.where(near, np.sqrt(gx * gx + gy * gy) / contrast, 0.0)
    return LineImage(ink=ink.astype(np.float32, copy=False),
                     grad=grad.astype(np.float32, copy=False), contrast=contrast, core=mask)


LOCAL_BG_KERNEL = 0.5  # the local background's square, a share of the crop height


def prepare_line_local(crop_rgb: np.ndarray, *, ink_dark: bool, halo: int = 2) -> LineImage:
    """:func:`prepare_line` against the local background instead of one grey level: the
    crop closed (dark ink) or opened (light ink) with a square of ``LOCAL_BG_KERNEL`` x
    its height, which removes strokes and keeps larger shapes, such as the two tones of
    a backdrop split under the line (one grey level makes the darker tone "ink" there).
    Ink is what differs from that towards the ink's side; blobs as in
    :func:`prepare_line`."""
    grey8 = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
    h = grey8.shape[0]
    k = max(3, int(round(LOCAL_BG_KERNEL * h)) | 1)
    op = cv2.MORPH_CLOSE if ink_dark else cv2.MORPH_OPEN
    bg = cv2.morphologyEx(grey8, op, np.ones((k, k), np.uint8))
    diff = (bg.astype(np.float32) - grey8) if ink_dark else (grey8.astype(np.float32) - bg)
    diff = np.maximum(diff, 0.0)
    band = diff[h // 5:max(h - h // 5, h // 5 + 1)]
    top = float(np.percentile(band, 99)) if band.size else 0.0
    mask = _own_blobs((diff > max(16.0, 0.35 * top)).astype(np.uint8))
    contrast = max(float(np.percentile(diff[mask], 95)) if mask.any() else top, 8.0)
    near = cv2.dilate(mask.view(np.uint8), np.ones((2 * halo + 1, 2 * halo + 1), np.uint8)) > 0
    ink = np.where(near, np.clip(diff / contrast, 0.0, 1.0), 0.0)
    return _line_image(grey8, ink, mask, near, contrast)


_LEVELS = np.arange(256, dtype=np.float32)  # the grey levels (shared: read-only)
_LEVELS.flags.writeable = False


def _histogram(grey8: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Pixel count per grey level (int64 ``[256]``) of ``grey8`` where ``mask`` is non-zero."""
    return cv2.calcHist([grey8], [0], mask, [256], [0, 256]).ravel().astype(np.int64)


def _hist_median(hist: np.ndarray) -> float:
    """``np.median`` of the grey levels counted in ``hist`` (as float32 values)."""
    cum = np.cumsum(hist)
    n = int(cum[-1])
    hi = int(np.searchsorted(cum, n // 2, side="right"))
    if n % 2:
        return float(hi)
    lo = int(np.searchsorted(cum, n // 2 - 1, side="right"))
    return float((np.float32(lo) + np.float32(hi)) / 2)


def _hist_percentile(values: np.ndarray, hist: np.ndarray, q: float) -> float:
    """``np.percentile(x, q)`` (linear) of the data ``x`` holding ``hist[i]`` copies of
    ``values[i]`` (float32 ``[256]``), bit for bit: the same order statistics and the
    same float32 interpolation as numpy's ``_lerp``."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(hist[order])
    n = int(cum[-1])
    virtual = (n - 1) * np.true_divide(q, 100)
    if virtual >= n - 1:  # numpy takes the largest value
        return float(values[order[int(np.searchsorted(cum, n - 1, side="right"))]])
    prev = math.floor(virtual)
    a = values[order[int(np.searchsorted(cum, prev, side="right"))]]
    b = values[order[int(np.searchsorted(cum, prev + 1, side="right"))]]
    t = float(virtual - prev)
    d = b - a
    return float(b - d * (1 - t) if t >= 0.5 else a + d * t)


def stroke_sharpness(line: LineImage, cells: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per-cell sharpness: p90 of the normalised gradient where there is an edge."""
    out = np.zeros(len(cells), dtype=np.float64)
    for k, (c0, c1) in enumerate(cells):
        g = line.grad[:, max(c0, 0):max(c1, c0 + 1)]
        edges = g[g > 0.05]
        if edges.size >= 4:  # the 90th percentile (linear), without np.percentile's overhead
            pos = 0.9 * (edges.size - 1)
            lo = int(pos)
            part = np.partition(edges, (lo, min(lo + 1, edges.size - 1)))
            out[k] = float(part[lo] + (pos - lo) * (part[min(lo + 1, edges.size - 1)] - part[lo]))
    return out


RENDER_SIZE = 64


@lru_cache(maxsize=1024)
def render_text(text: str, font_path: str, size: int = RENDER_SIZE
                ) -> tuple[np.ndarray, tuple[float, ...]]:
    """``text`` rendered at ``size`` px: float32 ink ``[h, w]`` cropped to the ink box, and
    the x position of every character boundary (len(text) + 1 values) in that crop."""
    from PIL import Image, ImageDraw

    font = load_font(font_path, int(size))
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
    """Ink bounding box ``(x0, y0, x1, y1)`` that ignores specks of background texture:
    a column counts when it holds >= 2 ink pixels and 2 % of the crop height, a row when
    it holds >= 2 ink pixels and 1 % of the crop width."""
    binary = ink > thresh
    h, w = binary.shape
    cols = np.nonzero(binary.sum(axis=0) >= max(2, 0.02 * h))[0]
    rows = np.nonzero(binary.sum(axis=1) >= max(2, 0.01 * w))[0]
    if cols.size < 2 or rows.size < 2:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


GLYPH_PEAK = 0.7  # a glyph blob's ink reaches this share of the line's contrast
SOFT_REACH = 0.1  # ink boxes reach this share of the strong ink's height past it


def core_ink_box(line: LineImage, thresh: float = 0.2) -> tuple[int, int, int, int] | None:
    """:func:`ink_box` of the ink connected to the glyph blobs at ``thresh``: a blurred
    glyph's soft edge is kept, while what the halo lets in beside it but apart from it
    (a textured background past a panel's edge) is not. Glyph blobs are the blobs of
    ``line.core`` that cross the middle 40 % of the rows and reach ``GLYPH_PEAK``, less
    those cut by the crop's left or right side that lie more than half a glyph height
    from the others and whose ink level differs from theirs (by > 0.15)."""
    if line.core is None:
        return ink_box(line.ink, thresh)
    # glyph blobs cross the line's middle band and reach full ink contrast somewhere;
    # specks of texture above or below, or mid-tone texture beside a panel, do not
    h = line.core.shape[0]
    n, blobs, stats, _ = cv2.connectedComponentsWithStats(line.core.astype(np.uint8),
                                                          connectivity=8)
    # per-blob lookup tables instead of np.maximum.at / np.unique / np.isin (same sets)
    reaches = np.zeros(n, bool)
    reaches[blobs[line.ink >= GLYPH_PEAK]] = True  # the blob's peak ink >= GLYPH_PEAK
    band = blobs[int(0.3 * h):max(int(np.ceil(0.7 * h)), int(0.3 * h) + 1)]
    in_band = np.bincount(band.ravel(), minlength=n) > 0
    in_band[0] = False
    mid = np.flatnonzero(in_band & reaches)
    # a blob cut by the crop's side, apart from the others and of another ink level, lies
    # beyond the line's end (the detector's quad leaves a margin there); a blurred
    # glyph's halo may touch the side too, but it looks like its neighbours
    sides = np.intersect1d(mid, np.union1d(blobs[:, 0], blobs[:, -1]))
    inner = np.setdiff1d(mid, sides)
    if inner.size and sides.size:
        x0 = stats[inner, cv2.CC_STAT_LEFT]
        x1 = x0 + stats[inner, cv2.CC_STAT_WIDTH]
        near = 0.5 * float(np.median(stats[inner, cv2.CC_STAT_HEIGHT]))
        level = float(np.median(line.ink[_member(blobs, inner, n)]))
        for b in sides:
            bx0 = stats[b, cv2.CC_STAT_LEFT]
            bx1 = bx0 + stats[b, cv2.CC_STAT_WIDTH]
            gap = float(np.min(np.maximum(np.maximum(x0 - bx1, bx0 - x1), 0)))
            if gap <= near or abs(float(np.median(line.ink[blobs == b])) - level) <= 0.15:
                inner = np.append(inner, b)
    core = _member(blobs, inner if inner.size else mid, n)
    above = (line.ink > thresh).astype(np.uint8)
    n_above, labels = cv2.connectedComponents(above, connectivity=8)
    touched = np.zeros(n_above, bool)
    touched[labels[core & (above > 0)]] = True
    touched[0] = False
    if not touched.any():
        return None
    ink = np.where(touched[labels], line.ink, 0.0)
    box, strong = ink_box(ink, thresh), ink_box(ink, 0.5)
    if box is None or strong is None:
        return box
    # the soft edge reaches a little past the strong ink (a blurred glyph's halo), not
    # over a background shape of mid-tone ink that touches the glyphs (a disc behind
    # 'Xenbo' doubled a 117 px line's box)
    sx0, sy0, sx1, sy1 = strong
    reach = max(2, int(round(SOFT_REACH * (sy1 - sy0))))
    x0, y0, x1, y1 = box
    return (max(x0, sx0 - reach), max(y0, sy0 - reach), min(x1, sx1 + reach),
            min(y1, sy1 + reach))


def _member(labels: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """``np.isin(labels, ids)`` for labels in ``[0, n)``, by a lookup table."""
    table = np.zeros(n, bool)
    table[ids] = True
    return table[labels]


def _paste(dst: np.ndarray, src: np.ndarray, oy: int, ox: int) -> None:
    """``dst[oy:, ox:] = src``, clipped to both arrays."""
    sy, sx = max(-oy, 0), max(-ox, 0)
    dy, dx = max(oy, 0), max(ox, 0)
    h = min(src.shape[0] - sy, dst.shape[0] - dy)
    w = min(src.shape[1] - sx, dst.shape[1] - dx)
    if h > 0 and w > 0:
        dst[dy:dy + h, dx:dx + w] = src[sy:sy + h, sx:sx + w]


GLYPH_HEIGHT = 32  # comparisons run at this ink height
_MARGIN_X, _MARGIN_Y = 6, 8  # search range (px at comparison scale) for each glyph


MAX_TILT = 0.08  # ink slopes (rise / run) levelled before the glyph comparison
MIN_TILT = 0.01
MIN_TILT_ASPECT = 4.0  # ... on ink boxes at least this many times wider than tall
TILT_AGREE = 0.006  # the slopes of the tops and of the bottoms differ by at most this
SLOPE_MIN_SIM = 0.5  # characters matched at least this well place a line's slope ...
SLOPE_RESIDUAL = 1.5  # ... when 3 in 4 lie within this of it (px at comparison scale)
LEVEL_GAIN = 0.05  # mean glyph similarity a levelled comparison must add to count
LEVEL_BELOW = 0.9  # ... tried where the 3 lowest similarities average under this only
# (a line that fits this well raises no evidence at any height)


def _level(ink: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``ink`` sheared so that its line runs level. The detector's quad may lean a degree
    or two off the text: a crop along it shows the line tilted, and its ink box comes
    out taller than the glyphs (a 300 px line at 1.3 degrees: 7 px), scaling the rendering
    wrong. The slope comes from the ink boxes of the line's first and last thirds: their
    tops and their bottoms must rise alike (within ``TILT_AGREE``), or glyph shapes (a
    descender at one end) rather than a tilt set them, and the line is left alone; so
    are short boxes and slopes under ``MIN_TILT`` or over ``MAX_TILT``."""
    x0, y0, x1, y1 = box
    w = x1 - x0
    if w < MIN_TILT_ASPECT * max(y1 - y0, 1):
        return ink
    third = w // 3
    left = ink_box(ink[y0:y1, x0:x0 + third])
    right = ink_box(ink[y0:y1, x1 - third:x1])
    if left is None or right is None:
        return ink
    run = float((x1 - third + (right[0] + right[2]) / 2) - (x0 + (left[0] + left[2]) / 2))
    top, bottom = (right[1] - left[1]) / run, (right[3] - left[3]) / run
    slope = (top + bottom) / 2
    if abs(top - bottom) > TILT_AGREE or not MIN_TILT <= abs(slope) <= MAX_TILT:
        return ink
    return _shear(ink, slope, box)


def _shear(ink: np.ndarray, slope: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """``ink`` sheared vertically by ``-slope`` about the middle of ``box``'s columns."""
    x0, _y0, x1, _y1 = box
    h, w = ink.shape
    shear = np.float32([[1, 0, 0], [-slope, 1, slope * (x0 + x1) / 2]])
    return cv2.warpAffine(ink, shear, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _grow_rows(ink: np.ndarray, box: tuple[int, int, int, int], thresh: float = 0.5
               ) -> tuple[int, int, int, int]:
    """``box`` grown up and down over the rows next to it that hold >= 2 ink pixels
    inside its columns: the one descender of a long line ('p' in 'Weekend Special') is too
    thin for :func:`ink_box`'s row rule, yet it sets the line's height."""
    x0, y0, x1, y1 = box
    rows = (ink[:, x0:x1] > thresh).sum(axis=1) >= 2
    while y0 > 0 and rows[y0 - 1]:
        y0 -= 1
    while y1 < len(rows) and rows[y1]:
        y1 += 1
    return x0, y0, x1, y1


def glyph_similarity(line: LineImage, text: str, font_path: str
                     ) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    """Per-character similarity of the line's ink to ``text`` in the brand font.

    ``text`` is rendered at the line's size (basic layout, like the poster generator
    and most layout tools without shaping) and stretched onto the line's ink box at an
    ink height of 32 px; both are blurred lightly; each character's rendering is then
    searched for in the line (template matching, normalised cross-correlation) within
    6 px across and 8 px up or down of where the layout puts it, which absorbs small
    tilts and spacing differences but not glyphs whose shape changed.
    A tilted line's ink box is taller than its glyphs, which stretches the rendering: a
    line :func:`_level` leaves alone (short, or its ends' tops and bottoms disagree) is
    levelled by where its characters' renderings matched (:func:`_glyph_slope`), and
    compared again (where its 3 lowest similarities average under ``LEVEL_BELOW``); that
    fit counts where it is better by ``LEVEL_GAIN`` (tilted clean lines of seed 25: +0.2;
    broken strokes gain a little by chance).
    Returns (similarity per character of ``text``, each character's column range in
    the line crop) or None when the line has no ink box to compare or the font lacks a
    character of ``text``.
    """
    box = ink_box(line.ink)
    if box is None or not text.strip() or not all(covers_char(font_path, ch) for ch in text):
        return None
    ink = _level(line.ink, box)
    if ink is not line.ink:
        box = ink_box(ink)
        if box is None:
            return None
    got = _compare_glyphs(ink, box, text, font_path)
    if got is None:
        return None
    sims, cells, places = got
    if ink is line.ink and float(np.sort(sims)[:3].mean()) < LEVEL_BELOW \
            and (slope := _glyph_slope(sims, places)) is not None:
        sheared = _shear(ink, slope, box)
        box2 = ink_box(sheared)
        again = _compare_glyphs(sheared, box2, text, font_path) if box2 is not None else None
        if again is not None and again[0].mean() >= sims.mean() + LEVEL_GAIN:
            sims, cells = again[0], again[1]
    return sims, cells


def _glyph_slope(sims: np.ndarray, places: list[tuple[float, float] | None]) -> float | None:
    """The slope (rise / run) along which the characters' renderings matched: the
    median of the pairwise slopes of their (x, y) offsets (Theil-Sen), over characters
    matched at >= ``SLOPE_MIN_SIM``; None unless there are >= 3 of them, 3 in 4 lie
    within ``SLOPE_RESIDUAL`` px (comparison scale) of it, and it is a tilt
    (``MIN_TILT``-``MAX_TILT``)."""
    pts = np.array([pt for sim, pt in zip(sims.tolist(), places, strict=True)
                    if pt is not None and sim >= SLOPE_MIN_SIM], np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return None
    i, j = np.triu_indices(len(pts), 1)
    dx, dy = pts[j, 0] - pts[i, 0], pts[j, 1] - pts[i, 1]
    run = dx > 1e-6
    if not run.any():
        return None
    slope = float(np.median(dy[run] / dx[run]))
    off = pts[:, 1] - slope * pts[:, 0]
    res = np.abs(off - np.median(off))
    if float(np.percentile(res, 75)) > SLOPE_RESIDUAL or not MIN_TILT <= abs(slope) <= MAX_TILT:
        return None
    return slope


def _compare_glyphs(ink: np.ndarray, box: tuple[int, int, int, int], text: str,
                    font_path: str
                    ) -> tuple[np.ndarray, list[tuple[int, int]],
                               list[tuple[float, float] | None]] | None:
    """:func:`glyph_similarity`'s comparison on one ink map: (similarity per character,
    each character's column range in the crop, where its rendering matched best: the
    centre's x and the vertical offset, at comparison scale)."""
    bx0, by0, bx1, by1 = _grow_rows(ink, box)
    bw, bh = bx1 - bx0, by1 - by0
    ref, bounds = render_text(text, font_path)
    if bw < 4 or bh < 4 or ref.shape[1] < 2:
        return None
    # render again at the line's own size: glyph advances round per pixel size
    size = int(round(RENDER_SIZE * bh / max(ref.shape[0], 1)))
    if 6 <= size < 3 * RENDER_SIZE and size != RENDER_SIZE:
        ref, bounds = render_text(text, font_path, size)
    scale = GLYPH_HEIGHT / bh
    sw = max(int(round(bw * scale)), 4)
    mx, my = _MARGIN_X, _MARGIN_Y
    obs = np.zeros((GLYPH_HEIGHT + 2 * my, sw + 2 * mx), np.float32)
    ph, pw = int(math.ceil(my / scale)), int(math.ceil(mx / scale))
    y0, y1 = max(by0 - ph, 0), min(by1 + ph, ink.shape[0])
    x0, x1 = max(bx0 - pw, 0), min(bx1 + pw, ink.shape[1])
    big = cv2.resize(ink[y0:y1, x0:x1],
                     (max(int(round((x1 - x0) * scale)), 1), max(int(round((y1 - y0) * scale)), 1)),
                     interpolation=cv2.INTER_AREA)
    _paste(obs, big, my - int(round((by0 - y0) * scale)), mx - int(round((bx0 - x0) * scale)))
    exp = cv2.resize(ref, (sw, GLYPH_HEIGHT), interpolation=cv2.INTER_AREA)
    obs = cv2.GaussianBlur(obs, (0, 0), 1.0)
    exp = cv2.GaussianBlur(exp, (0, 0), 1.0)
    sx = sw / ref.shape[1]
    sims = np.zeros(len(text), dtype=np.float64)
    cells: list[tuple[int, int]] = []
    places: list[tuple[float, float] | None] = []  # None: a blank, nothing to place
    for k in range(len(text)):
        c0 = int(round(bounds[k] * sx))
        c1 = int(round(bounds[k + 1] * sx))
        c0, c1 = max(c0, 0), min(max(c1, c0 + 1), sw)
        cells.append((bx0 + int(c0 / scale), bx0 + int(math.ceil(c1 / scale))))
        places.append(None)
        tmpl = exp[:, c0:c1]
        if text[k].isspace() or c1 - c0 < 2:
            sims[k] = 1.0
            continue
        lo, hi, _lo_at, _hi_at = cv2.minMaxLoc(tmpl)
        if hi < 0.05 or (not std_above(tmpl, 1e-3, hi - lo) and float(tmpl.std()) < 1e-3):
            sims[k] = 1.0
            continue
        region = obs[:, c0:c1 + 2 * mx]
        res = nan_to_zero(cv2.matchTemplate(region, tmpl, cv2.TM_CCOEFF_NORMED))
        _lo, best, _lo_at, at = cv2.minMaxLoc(res)
        sims[k] = float(best)
        places[-1] = ((c0 + c1) / 2 + at[0] - mx, float(at[1] - my))
    return sims, cells, places


def std_above(a: np.ndarray, limit: float, spread: float) -> bool:
    """Whether ``a``'s standard deviation surely exceeds ``limit``, from its ``spread``
    (``a.max() - a.min()``) alone: n values that span it have a standard deviation of at
    least ``spread / sqrt(2 n)``; with a 2x margin over ``np.std``'s float32 rounding.
    False means "compute it"."""
    return spread > 2.0 * limit * math.sqrt(2.0 * a.size)


def nan_to_zero(res: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(res, nan=0.0)``, without its copy and masks when every value is
    finite (a finite sum means no NaN and no infinity): the usual matchTemplate result."""
    return res if math.isfinite(float(res.sum())) else np.nan_to_num(res, nan=0.0)


def ink_proposals(image: np.ndarray, covered: Sequence[np.ndarray], *, long_side: int = 640,
                  max_count: int = 8) -> list[tuple[int, int, int, int]]:
    """Text-like ink blobs the OCR detector left out (e.g. text blurred beyond detection).

    Works on a copy scaled to ``long_side``: the grey image's black-hat and top-hat
    (features darker / lighter than their surroundings, smaller than 1/8 of the short
    side), thresholded, with the OCR lines (``covered``: quads as float arrays in image
    pixels) blanked out, closed horizontally so that characters join into lines. Returns
    boxes ``(x0, y0, x1, y1)`` in image pixels, wider than tall, largest first.
    """
    h, w = image.shape[:2]
    f = min(1.0, long_side / max(h, w))
    small = cv2.resize(image, (max(int(w * f), 1), max(int(h * f), 1)),
                       interpolation=cv2.INTER_AREA) if f < 1.0 else image
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    sh, sw = grey.shape
    k = max(9, int(min(sh, sw) / 8) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    hat = np.maximum(cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel),
                     cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel))
    thresh = max(18.0, 0.3 * float(np.percentile(hat, 99.5)))
    binary = (hat > thresh).astype(np.uint8)
    for quad in covered:
        q = np.asarray(quad, np.float64).reshape(4, 2)
        qh = float(np.linalg.norm(q[3] - q[0]))
        # blank the line and a margin of half its height: the gaps between read lines
        # are light (or dark) bands that the hats pick up too
        c = q.mean(axis=0)
        grown = c + (q - c) * (1.0 + qh / max(np.linalg.norm(q[1] - q[0]), 1.0)) \
            + np.sign(q - c) * 0.5 * qh
        pts = np.round(grown * f).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(binary, [pts], 0)
    close_w = max(3, int(sw * 0.02))
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (close_w, 3)))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bh < 4 or bw < 1.2 * bh or area < 0.25 * bw * bh or bw > 0.95 * sw:
            continue
        out.append((area, (int(x / f), int(y / f), int(np.ceil((x + bw) / f)),
                           int(np.ceil((y + bh) / f)))))
    out.sort(key=lambda t: -t[0])
    return [b for _a, b in out[:max_count]]


def ink_tones(crop_rgb: np.ndarray, line: LineImage) -> float | None:
    """Colours in the glyphs that no mix of one ink and the background explains: over the
    core blobs eroded by one pixel, the 90th percentile of each pixel's distance (RGB)
    from the line through the background colour (median outside the ink's halo) and the
    cores' mean colour, divided by the ink contrast. Flat ink gives ~0 and so does
    blurred flat ink (a blur only mixes ink with background, along that line); gold,
    gradient, textured, two-tone or glowing fills give about 0.1-0.3 or more. None when
    the cores erode away (strokes <= 2 px: too thin to tell)."""
    if line.core is None or crop_rgb.shape[:2] != line.core.shape:
        return None
    core = line.core.view(np.uint8)
    inner = cv2.erode(core, np.ones((3, 3), np.uint8)) > 0
    if int(inner.sum()) < 12:
        return None
    px = crop_rgb.astype(np.float32)
    far = cv2.dilate(core, np.ones((5, 5), np.uint8)) == 0
    bg = np.median(px[far] if int(far.sum()) >= 12 else px.reshape(-1, 3), axis=0)
    v = px[inner] - bg
    axis = v.mean(axis=0)
    norm = float(np.linalg.norm(axis))
    if norm < 1e-6:
        return None
    axis /= norm
    off = np.linalg.norm(v - np.outer(v @ axis, axis), axis=1)
    return float(np.percentile(off, 90)) / max(line.contrast, 8.0)


def stroke_cv(line: LineImage) -> float | None:
    """Variation of the stroke width: the coefficient of variation of the glyph cores'
    distance transform at its ridges (local maxima, >= 1 px: half stroke widths). Even
    strokes (most sans fonts) give ~0.2-0.4; brush, script and broken or warped strokes
    more. None with fewer than 8 ridge pixels."""
    if line.core is None:
        return None
    dist = cv2.distanceTransform(line.core.view(np.uint8), cv2.DIST_L2, 3)
    ridge = (dist >= 1.0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    vals = dist[ridge]
    if vals.size < 8:
        return None
    return float(vals.std() / max(float(vals.mean()), 1e-6))
