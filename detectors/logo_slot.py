"""The logo *slot*: where a logo sits when the brand's own logo is not found there.

When the reference cannot be located (another logo in its place, or one too damaged to
match), the defect must still be reported where the logo is, not at the best gradient
match (often a text line). A logo is a compact, solid, high-contrast object; a text line
is an elongated row of thin glyphs. On a coarse copy of the poster (width
:data:`SLOT_WORK_WIDTH`):

1. foreground = pixels further than ΔE :data:`FG_DELTA_E` from the local background (a
   median over :data:`BG_WINDOW` of the width, or over :data:`BG_WINDOW_LARGE`: a plate
   behind a logo can be larger than the small window);
2. glyphs are merged into words/lines (closing with a wide, flat kernel), holes filled;
3. each object whose width is in the logo's range is scored by its solidity (area / box),
   its contrast (median ΔE) and how far its aspect is from a text line's: objects wider
   than :data:`MAX_ASPECT` x their height, or less solid than :data:`MIN_FILL`, are text
   or decoration, not a logo.

The best object's box, widened to the reference's aspect around its centre (another logo
is fitted inside the same box), is the slot.
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.logo_locate import MAX_WIDTH_FRAC, MIN_WIDTH_FRAC
from detectors.logo_reference import LogoReference
from detectors.types import Box

SLOT_WORK_WIDTH = 256
BG_WINDOW = 0.15
BG_WINDOW_LARGE = 0.45
FG_DELTA_E = 18.0
MIN_FILL = 0.5
MAX_ASPECT = 3.2
MIN_SLOT_SCORE = 0.25


def find_slot(image: np.ndarray, ref: LogoReference) -> tuple[Box, float] | None:
    """The most logo-like object's box on ``image`` (RGB uint8 [H, W, 3]), widened to the
    reference's aspect, and its score in [0, 1]; None when nothing qualifies."""
    h_img, w_img = image.shape[:2]
    s = min(1.0, SLOT_WORK_WIDTH / w_img)
    small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s != 1.0 \
        else image
    sh, sw = small.shape[:2]
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    de = np.zeros(lab.shape[:2], np.float32)
    for window in (BG_WINDOW, BG_WINDOW_LARGE):
        # a plate larger than the small window is its own "background" there: the large
        # window still sees it stand out
        k = max(3, int(window * sw) | 1)
        bg = cv2.medianBlur(np.ascontiguousarray(small), min(k, 255))
        lab_bg = cv2.cvtColor(bg.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        de = np.maximum(de, np.sqrt(((lab - lab_bg) ** 2).sum(axis=2)))
    fg = (de > FG_DELTA_E).astype(np.uint8)
    gap = max(3, int(0.02 * sw))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 2 * gap + 1), np.uint8))
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(fg)
    cv2.drawContours(filled, contours, -1, 1, -1)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
    ref_aspect = ref.width / ref.height
    best: tuple[float, Box] | None = None
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (MIN_WIDTH_FRAC * 0.7 * sw <= max(w, h * ref_aspect) <= MAX_WIDTH_FRAC * sw):
            continue
        if h < 4 or w < 4:
            continue
        aspect = w / h
        fill = area / float(w * h)
        if fill < MIN_FILL or aspect > MAX_ASPECT or aspect < 1 / MAX_ASPECT:
            continue
        contrast = float(np.median(de[labels == i]))
        # closer to the reference's aspect is more logo-like; solid and contrasted
        aspect_fit = float(np.exp(-abs(np.log(aspect / ref_aspect))))
        score = fill * min(contrast / 60.0, 1.0) * (0.5 + 0.5 * aspect_fit)
        if best is None or score > best[0]:
            best = (score, Box(x, y, x + w, y + h))
    if best is None or best[0] < MIN_SLOT_SCORE:
        return None
    score, b = best
    # another logo sits centred in the slot: widen the short side to the reference aspect
    cx, cy = (b.x0 + b.x1) / 2 / s, (b.y0 + b.y1) / 2 / s
    w, h = b.width / s, b.height / s
    if w / h < ref_aspect:
        w = h * ref_aspect
    else:
        h = w / ref_aspect
    box = Box(int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(cx + w / 2)),
              int(round(cy + h / 2))).clamp(w_img, h_img)
    return box, float(score)
