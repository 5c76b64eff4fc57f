"""Find an expected string that OCR did not detect, by its shape in the brand font.

Strong blur hides a line from the OCR text detector: its expected string comes out of
the alignment as *missing*, with no line to put it on. The line is still there as a
soft band of ink with the string's proportions and its character / word rhythm. This
module renders the string in the brand font, blurs the rendering and the poster alike,
and searches the poster for it with normalised cross-correlation
(``cv2.matchTemplate``, ``TM_CCOEFF_NORMED``) over font sizes, both polarities (a
negative peak is light text on dark), coarse to fine:

1. *coarse*: each candidate size (16-160 px, steps of ~9 %) is matched on a copy of the
   poster scaled so the rendering's ink is ~``COARSE_HEIGHT`` px tall; windows that
   overlap lines the OCR read (or other masked areas) by more than ``MAX_MASKED`` are
   ignored;
2. *fine*: around the best coarse peaks, sizes +-12 % are matched again at
   ~``FINE_HEIGHT`` px, in a window around the peak only.

A peak is accepted by the caller (:class:`detectors.text.TextDetector`) when it reaches
its threshold. Images are RGB ``uint8`` ``[H, W, 3]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.text_signals import RENDER_SIZE, nan_to_zero, render_text, std_above
from posterqa.fonts import covers_char

COARSE_HEIGHT = 10.0  # ink height (px) of the rendering in the coarse pass
COARSE_MAX_SCALE = 0.5  # the coarse pass never works above half resolution
FINE_HEIGHT = 24.0  # ... in the fine pass
BLUR = 0.12  # matching blur, as a share of the rendering's ink height
MAX_MASKED = 0.2  # windows overlapping read lines more than this are ignored
SIZE_STEP = 1.15
MIN_SIZE, MAX_SIZE = 16, 160  # font sizes (px) searched


@dataclass(frozen=True)
class Found:
    """Best place of a rendered string: ``box`` (x0, y0, x1, y1) of the rendering's ink in
    image pixels, its NCC ``score`` (absolute), ``dark`` (dark text on light), the font
    ``size`` (px) and ``font`` that fitted best."""

    box: tuple[int, int, int, int]
    score: float
    dark: bool
    size: int
    font: str


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


class _Level:
    """The grey poster scaled by ``f``, blurred lightly, with its mask's integral."""

    def __init__(self, grey: np.ndarray, mask: np.ndarray, f: float, height: float) -> None:
        h, w = grey.shape
        self.f = f
        size = (max(int(round(w * f)), 1), max(int(round(h * f)), 1))
        img = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if f < 1 else grey
        self.img = cv2.GaussianBlur(img, (0, 0), BLUR * height)
        # pixel counts (int32: exact, and half the memory traffic of float64); None when
        # nothing is masked
        self.integral: np.ndarray | None = None
        if cv2.countNonZero(mask):
            m = cv2.resize(mask, size, interpolation=cv2.INTER_AREA) if f < 1 else mask
            self.integral = cv2.integral((m > 0).astype(np.uint8))

    def masked_share(self, th: int, tw: int) -> np.ndarray | None:
        """Share of masked pixels in every ``th x tw`` window (matchTemplate's layout);
        None when the level has no masked pixel."""
        s = self.integral
        if s is None:
            return None
        h, w = self.img.shape
        ny, nx = h - th + 1, w - tw + 1
        tot = s[th:th + ny, tw:tw + nx] - s[0:ny, tw:tw + nx] - s[th:th + ny, 0:nx] \
            + s[0:ny, 0:nx]
        return tot / float(th * tw)


def _margin(height: float) -> int:
    """Background margin (px) around a template's ink of ``height`` px."""
    return max(2, int(round(0.35 * height)))


def _template(ref: np.ndarray, height: float) -> np.ndarray | None:
    """The reference rendering ``ref`` (ink crop) scaled to ink ``height``, with a margin
    of background, blurred like the poster levels (ink = 1)."""
    s = height / ref.shape[0]
    tw = max(int(round(ref.shape[1] * s)), 2)
    th = max(int(round(height)), 2)
    small = cv2.resize(ref, (tw, th), interpolation=cv2.INTER_AREA)
    m = _margin(height)
    out = np.zeros((th + 2 * m, tw + 2 * m), np.float32)
    out[m:m + th, m:m + tw] = small
    out = cv2.GaussianBlur(out, (0, 0), BLUR * height)
    lo, hi, _lo_at, _hi_at = cv2.minMaxLoc(out)
    return out if std_above(out, 1e-4, hi - lo) or float(out.std()) > 1e-4 else None


Rect = tuple[float, float, float, float]


def keep_rects(keep: Rect | Sequence[Rect]) -> list[Rect]:
    """``keep`` (one rectangle x0, y0, x1, y1 of shares, or several) as a list."""
    return [keep] if isinstance(keep[0], (int, float)) else list(keep)


def _keep_part(tmpl: np.ndarray, height: float,
               keep: Rect | Sequence[Rect] | None) -> list[tuple[int, int, int, int]] | None:
    """Rows and columns ``(y0, y1, x0, x1)`` of a template made by :func:`_template` that
    hold only the part ``keep`` (x0, y0, x1, y1 as shares of the ink box, or several
    such rectangles) and the margin beyond its outer sides."""
    if keep is None:
        return None
    rects = keep_rects(keep)
    th, tw = tmpl.shape
    m = _margin(height)
    ih, iw = th - 2 * m, tw - 2 * m
    out = []
    for kx0, ky0, kx1, ky1 in rects:
        x0 = 0 if kx0 <= 0 else m + int(round(kx0 * iw))
        x1 = tw if kx1 >= 1 else m + int(round(kx1 * iw))
        y0 = 0 if ky0 <= 0 else m + int(round(ky0 * ih))
        y1 = th if ky1 >= 1 else m + int(round(ky1 * ih))
        out.append((y0, y1, x0, x1))
    return out


def _match_parts(level_img: np.ndarray, tmpl: np.ndarray,
                 rects: Sequence[tuple[int, int, int, int]]) -> np.ndarray | None:
    """NCC (``TM_CCOEFF_NORMED``) of ``tmpl`` over the union of ``rects`` only, at every
    place the whole template fits: one correlation of the template made zero-mean on the
    union and zero elsewhere, and the image's sums over the union from its integral
    (OpenCV's masked matching is ~20x slower)."""
    th, tw = tmpl.shape
    keep = np.zeros((th, tw), bool)
    for y0, y1, x0, x1 in rects:
        keep[y0:y1, x0:x1] = True
    n = int(keep.sum())
    if n < 4:
        return None
    t = np.where(keep, tmpl - float(tmpl[keep].mean()), 0.0).astype(np.float32)
    t_ss = float((t * t).sum())
    if t_ss < 1e-8:
        return None
    num = cv2.matchTemplate(level_img, t, cv2.TM_CCORR)
    ny, nx = num.shape
    s1, s2 = cv2.integral2(level_img.astype(np.float64))[:2]
    sum1, sum2 = np.zeros((ny, nx)), np.zeros((ny, nx))
    # the union's pixels once each: rects may overlap, so sum the keep mask's own
    # disjoint pieces (rows of runs)
    for y0, y1, x0, x1 in _disjoint(keep):
        for acc, s in ((sum1, s1), (sum2, s2)):
            acc += (s[y1:y1 + ny, x1:x1 + nx] - s[y0:y0 + ny, x1:x1 + nx]
                    - s[y1:y1 + ny, x0:x0 + nx] + s[y0:y0 + ny, x0:x0 + nx])
    var = sum2 - sum1 * sum1 / n
    return np.where(var > 1e-6 * n, num / np.sqrt(np.maximum(var, 1e-12) * t_ss), 0.0) \
        .astype(np.float32)


def _disjoint(keep: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The mask ``keep`` as disjoint rectangles ``(y0, y1, x0, x1)``: bands of rows with
    the same runs of columns."""
    out: list[tuple[int, int, int, int]] = []
    h = keep.shape[0]
    y = 0
    while y < h:
        row = keep[y]
        y1 = y + 1
        while y1 < h and np.array_equal(keep[y1], row):
            y1 += 1
        d = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
        for x0, x1 in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            out.append((y, y1, int(x0), int(x1)))
        y = y1
    return out


def _match(level_img: np.ndarray, tmpl: np.ndarray, masked: np.ndarray | None,
           part: Sequence[tuple[int, int, int, int]] | None = None) -> np.ndarray | None:
    """NCC of ``tmpl`` at every place it fits on ``level_img`` (0 where ``masked``);
    with ``part`` (see :func:`_keep_part`), of that part of it only, still indexed by the
    whole template's place."""
    th, tw = tmpl.shape
    if th > level_img.shape[0] or tw > level_img.shape[1]:
        return None
    if part is None:
        res = cv2.matchTemplate(level_img, tmpl, cv2.TM_CCOEFF_NORMED)
    elif len(part) > 1:
        res = _match_parts(level_img, tmpl, part)
        if res is None:
            return None
    else:
        y0, y1, x0, x1 = part[0]
        sub = tmpl[y0:y1, x0:x1]
        if sub.shape[0] < 2 or sub.shape[1] < 2 or float(sub.std()) < 1e-4:
            return None
        ny, nx = level_img.shape[0] - th + 1, level_img.shape[1] - tw + 1
        res = cv2.matchTemplate(level_img, sub, cv2.TM_CCOEFF_NORMED)[y0:y0 + ny, x0:x0 + nx]
    res = nan_to_zero(res)
    if masked is not None:
        res[masked > MAX_MASKED] = 0.0
    return res


def search_rendered(image: np.ndarray, text: str, fonts: Sequence[str], *,
                    mask: np.ndarray | None = None, max_peaks: int = 2,
                    keep: Rect | Sequence[Rect] | None = None) -> Found | None:
    """Best place on ``image`` of ``text`` rendered in one of ``fonts`` (see module doc).

    ``mask``: uint8 ``[H, W]``, non-zero where the string cannot be (lines already read).
    ``keep``: compare only this part of the rendering (x0, y0, x1, y1 as shares of its
    ink box, or several such rectangles: both ends of a line whose middle is erased;
    the rest may be erased); the box found is still the whole rendering's.
    Returns None when no font draws every character or the poster is too small.
    """
    text = " ".join(text.split())
    fonts = [f for f in fonts if all(covers_char(f, ch) for ch in text)]
    if not text or not fonts:
        return None
    grey = _grey(image)
    h, w = grey.shape
    if mask is None:
        mask = np.zeros((h, w), np.uint8)
    levels: dict[tuple[float, float], _Level] = {}
    # one rendering per font, scaled to each size (under the matching blur, hinting and
    # per-size advances do not matter)
    refs = {f: render_text(text, f)[0] for f in fonts}
    refs = {f: r for f, r in refs.items() if r.shape[0] >= 2 and r.shape[1] >= 2}
    fonts = [f for f in fonts if f in refs]
    if not fonts:
        return None

    def extent(font: str, size: int) -> tuple[float, float]:
        """Ink height and width of the string at font ``size`` px."""
        r = size / RENDER_SIZE
        return refs[font].shape[0] * r, refs[font].shape[1] * r

    def level(f: float, height: float) -> _Level:
        f = min(1.0, 2.0 ** (round(math.log2(f) * 2) / 2))  # half-octave steps
        if (f, height) not in levels:
            levels[f, height] = _Level(grey, mask, f, height)
        return levels[f, height]

    # coarse: every size, template ink ~COARSE_HEIGHT px
    peaks: list[tuple[float, float, float, str, int, float]] = []  # score, x, y (image px)..
    n_sizes = int(math.log(MAX_SIZE / MIN_SIZE) / math.log(SIZE_STEP)) + 1
    for font in fonts[:1]:  # the coarse pass places; the fine pass picks the font
        for k in range(n_sizes):
            size = int(round(MIN_SIZE * SIZE_STEP ** k))
            ih, iw = extent(font, size)
            if iw > 0.95 * w or ih > 0.5 * h or ih < 2:
                continue
            lv = level(min(COARSE_HEIGHT / ih, COARSE_MAX_SCALE), COARSE_HEIGHT)
            th_ = ih * lv.f
            tmpl = _template(refs[font], th_)
            if tmpl is None:
                continue
            masked = None
            if tmpl.shape[0] <= lv.img.shape[0] and tmpl.shape[1] <= lv.img.shape[1]:
                masked = lv.masked_share(*tmpl.shape)
            res = _match(lv.img, tmpl, masked, _keep_part(tmpl, th_, keep))
            if res is None:
                continue
            a = np.abs(res)
            y, x = np.unravel_index(int(np.argmax(a)), a.shape)
            m = (tmpl.shape[0] - th_) / 2.0
            peaks.append((float(a[y, x]), (x + m) / lv.f, (y + m) / lv.f, font, size,
                          float(np.sign(res[y, x]))))
    if not peaks:
        return None
    peaks.sort(key=lambda p: -p[0])
    # fine: around the best coarse peaks, sizes +-12 %, template ink ~FINE_HEIGHT px, on a
    # crop around each peak only
    best: Found | None = None
    for _score0, px, py, font0, size0, _sign in peaks[:max_peaks]:
        ih0, iw0 = extent(font0, size0)
        f_fine = min(FINE_HEIGHT / ih0, 1.0)
        cx0, cy0 = int(max(px - 0.2 * iw0 - ih0, 0)), int(max(py - 1.0 * ih0, 0))
        cx1 = int(min(px + 1.2 * iw0 + ih0, w))
        cy1 = int(min(py + 2.0 * ih0, h))
        crop, crop_mask = grey[cy0:cy1, cx0:cx1], mask[cy0:cy1, cx0:cx1]
        lv = _Level(crop, crop_mask, f_fine, FINE_HEIGHT)
        for font in fonts:
            for size in sorted({int(round(size0 * r)) for r in (0.88, 0.94, 1.0, 1.06, 1.12)}):
                ih, iw = extent(font, size)
                th_ = ih * lv.f
                tmpl = _template(refs[font], th_)
                if tmpl is None or tmpl.shape[0] > lv.img.shape[0] \
                        or tmpl.shape[1] > lv.img.shape[1]:
                    continue
                res = _match(lv.img, tmpl, lv.masked_share(*tmpl.shape),
                             _keep_part(tmpl, th_, keep))
                if res is None:
                    continue
                a = np.abs(res)
                y, x = np.unravel_index(int(np.argmax(a)), a.shape)
                sc = float(a[y, x])
                if best is None or sc > best.score:
                    m = (tmpl.shape[0] - th_) / 2.0
                    bx0 = cx0 + (x + m) / lv.f
                    by0 = cy0 + (y + m) / lv.f
                    box = (int(round(bx0)), int(round(by0)), int(round(bx0 + iw)),
                           int(round(by0 + ih)))
                    best = Found(box=box, score=sc, dark=bool(res[y, x] < 0), size=size,
                                 font=font)
    return best


def edge_width(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How soft the ink's edges are in ``box``: ink contrast / 90th percentile of the grey
    gradient on the ink's edges, in px (a crisp anti-aliased edge: 1-2 px; a blurred one
    about 2.5 sigma)."""
    x0, y0, x1, y1 = box
    crop = image[max(y0, 0):y1, max(x0, 0):x1]
    if crop.shape[0] < 3 or crop.shape[1] < 3:
        return 0.0
    grey = _grey(crop)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 4.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 4.0
    mag = np.sqrt(gx * gx + gy * gy)
    lo, hi = np.percentile(grey, [2, 98])
    contrast = float(hi - lo)
    edges = mag[mag > 0.02 * max(contrast, 1.0)]
    if contrast < 8.0 or edges.size < 8:
        return 0.0
    return contrast / max(float(np.percentile(edges, 90)), 1e-3)


NEAR_HEIGHTS = (0.5, 1.15)  # rendered ink height / anchor box height searched near a line
NEAR_STEP = 1.08


def _covers(px0: np.ndarray, py0: np.ndarray, iw: float, ih: float,
            box: tuple[int, int, int, int], area: float) -> np.ndarray:
    """Which placements (columns starting at ``px0``, rows at ``py0``, ``iw`` x ``ih``)
    cover at least half of ``box`` (of ``area``) or of themselves, whichever is smaller:
    a boolean ``[rows, columns]`` map (the overlap's width depends on the column only,
    its height on the row only)."""
    x0, y0, x1, y1 = box
    ox = np.clip(np.minimum(px0 + iw, x1) - np.maximum(px0, x0), 0, None)
    oy = np.clip(np.minimum(py0 + ih, y1) - np.maximum(py0, y0), 0, None)
    return oy[:, None] * ox[None, :] >= 0.5 * min(area, iw * ih)


def search_near(image: np.ndarray, text: str, fonts: Sequence[str],
                box: tuple[int, int, int, int], *, mask: np.ndarray | None = None,
                pieces: Sequence[tuple[int, int, int, int]] = (),
                starts: bool = False, ends: bool = False,
                keep: Rect | None = None) -> Found | None:
    """Best place of ``text`` rendered in one of ``fonts`` that overlaps ``box`` (an OCR
    line that may hold only part of the string, or a garbled read of it).

    The rendering's ink height runs over ``NEAR_HEIGHTS`` of the box height in steps of
    8 %, matched at ~``FINE_HEIGHT`` px in a window that lets the string start anywhere it
    still overlaps the box (so a fragment's match reaches over its erased neighbours).
    Windows overlapping ``mask`` by more than ``MAX_MASKED`` are ignored, and so are
    placements covering less than half of the box, or of any of ``pieces`` (the lines
    of a run that ``box`` joins: each holds part of the string); with ``starts`` /
    ``ends`` (the box's read, or its run of pieces, begins / ends as the string does)
    also placements reaching more than half the box height beyond its start / end.
    ``keep``: compare only this part of the rendering (as in :func:`search_rendered`:
    the end of the string that the box's read holds, the rest erased); the box found is
    still the whole rendering's. Returns None when no font draws every character.
    """
    text = " ".join(text.split())
    fonts = [f for f in fonts if all(covers_char(f, ch) for ch in text)]
    refs = {f: render_text(text, f)[0] for f in fonts} if text else {}
    refs = {f: r for f, r in refs.items() if r.shape[0] >= 2 and r.shape[1] >= 2}
    if not refs:
        return None
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    bh = max(y1 - y0, 2)
    longest = max(r.shape[1] / r.shape[0] for r in refs.values()) * NEAR_HEIGHTS[1] * bh
    cx0, cx1 = int(max(x0 - longest, 0)), int(min(x1 + longest, w))
    cy0, cy1 = int(max(y0 - 0.5 * bh, 0)), int(min(y1 + 0.5 * bh, h))
    if cx1 - cx0 < 4 or cy1 - cy0 < 4:
        return None
    crop = _grey(image[cy0:cy1, cx0:cx1])
    crop_mask = np.zeros(crop.shape, np.uint8) if mask is None else mask[cy0:cy1, cx0:cx1]
    ink_h = NEAR_HEIGHTS[0] * bh
    heights = []
    while ink_h <= NEAR_HEIGHTS[1] * bh:
        heights.append(ink_h)
        ink_h *= NEAR_STEP
    f = min(FINE_HEIGHT / max(heights[0] * 1.3, 1.0), 1.0)
    lv = _Level(crop, crop_mask, f, FINE_HEIGHT)
    best: Found | None = None
    for font, ref in refs.items():
        for ih in heights:
            iw = ref.shape[1] * ih / ref.shape[0]
            th_ = ih * lv.f
            tmpl = _template(ref, th_)
            if tmpl is None or tmpl.shape[0] > lv.img.shape[0] or tmpl.shape[1] > lv.img.shape[1]:
                continue
            res = _match(lv.img, tmpl, lv.masked_share(*tmpl.shape),
                         _keep_part(tmpl, th_, keep))
            if res is None:
                continue
            m = (tmpl.shape[0] - th_) / 2.0
            # placements that cover at least half of the box and of each piece
            px0 = cx0 + (np.arange(res.shape[1]) + m) / lv.f
            py0 = cy0 + (np.arange(res.shape[0]) + m) / lv.f
            ok = _covers(px0, py0, iw, ih, (x0, y0, x1, y1), (x1 - x0) * bh)
            for q in pieces:
                ok &= _covers(px0, py0, iw, ih, q, (q[2] - q[0]) * (q[3] - q[1]))
            if starts:
                ok &= (px0 >= x0 - 0.5 * bh)[None, :]
            if ends:
                ok &= (px0 + iw <= x1 + 0.5 * bh)[None, :]
            a = np.where(ok, np.abs(res), 0.0)
            y, x = np.unravel_index(int(np.argmax(a)), a.shape)
            sc = float(a[y, x])
            if best is None or sc > best.score:
                bx0, by0 = float(px0[x]), float(py0[y])
                best = Found(box=(int(round(bx0)), int(round(by0)), int(round(bx0 + iw)),
                                  int(round(by0 + ih))),
                             score=sc, dark=bool(res[y, x] < 0),
                             size=int(round(RENDER_SIZE * ih / ref.shape[0])), font=font)
    return best
