"""The logo *slot*: where a logo sits when the brand's own logo is not found there.

When the reference cannot be located (another logo in its place, or one too damaged to
match), the defect must still be reported where the logo is, not at the best gradient
match (often a text line). A logo is a compact, solid, high-contrast object; a text line
is an elongated row of thin glyphs. On a coarse copy of the poster (width
:data:`SLOT_WORK_WIDTH`):

1. foreground = pixels further than ΔE *t* from the local background (a median over
   :data:`BG_WINDOW` of the width, or over :data:`BG_WINDOW_LARGE`: a plate behind a
   logo can be larger than the small window), for each *t* of :data:`FG_DELTA_ES` (a
   logo drawn over a faint translucent shape merges with it at the low threshold and
   stands alone at a higher one);
2. glyphs are merged into words/lines (closing with a wide, flat kernel), holes filled;
3. each object inside the poster (one the poster's edge cuts is a background shape) whose
   width is in the logo's range and whose aspect is at most
   :data:`MAX_ASPECT` (or 1.2 x the reference's, if wider) is scored
   ``solid² x min(contrast / 60, 1) x min(colour_std / STRUCTURE_STD, 1)``: ``solid`` is
   the share of its (hole-filled) area that is foreground before the closing (a logo is
   solid ink, a text line a row of thin glyphs with gaps), ``contrast`` its median ΔE,
   ``colour_std`` the spread of its CIELAB colours inside (eroded by 2 px: the outline
   blends with the background everywhere; a logo has a motif, a wordmark, a texture; a
   translucent circle or a bare panel is one flat colour).

The best object's box, widened to the reference's aspect around its centre (another logo
is fitted inside the same box) unless its aspect is already within :data:`KEEP_ASPECT`
of the reference's, is the slot; below :data:`MIN_SLOT_SCORE` nothing on the
poster looks like a logo (``None``).
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
FG_DELTA_ES = (18.0, 30.0, 45.0)
MIN_FILL = 0.4  # hole-filled area / box: a triangle or diamond emblem fills half its box
MAX_ASPECT = 3.2
STRUCTURE_STD = 10.0
MIN_SLOT_SCORE = 0.35
KEEP_ASPECT = 0.75  # an object within this factor of the reference's aspect is not widened


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
    ref_aspect = ref.width / ref.height
    max_aspect = max(MAX_ASPECT, 1.2 * ref_aspect)
    gap = max(3, int(0.02 * sw))
    best: tuple[float, Box] | None = None
    for threshold in FG_DELTA_ES:
        ink = (de > threshold).astype(np.uint8)
        fg = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 2 * gap + 1), np.uint8))
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(fg)
        cv2.drawContours(filled, contours, -1, 1, -1)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
        for i in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[i])
            if not (MIN_WIDTH_FRAC * 0.7 * sw <= max(w, h * ref_aspect) <= MAX_WIDTH_FRAC * sw):
                continue
            if h < 4 or w < 4:
                continue
            if x == 0 or y == 0 or x + w == sw or y + h == sh:
                continue  # cut by the poster's edge: a background shape, not a logo
            aspect = w / h
            if area / float(w * h) < MIN_FILL or not 1 / max_aspect <= aspect <= max_aspect:
                continue
            sel = labels[y:y + h, x:x + w] == i
            solid = float(ink[y:y + h, x:x + w][sel].mean())
            contrast = float(np.median(de[y:y + h, x:x + w][sel]))
            # colour spread inside (its outline blends with the background everywhere)
            core = cv2.erode(sel.astype(np.uint8), np.ones((5, 5), np.uint8),
                             borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
            if core.sum() < 12:
                core = sel
            colour_std = float(lab[y:y + h, x:x + w][core].std(axis=0).mean())
            score = solid * solid * min(contrast / 60.0, 1.0) * min(colour_std / STRUCTURE_STD,
                                                                    1.0)
            if best is None or score > best[0]:
                best = (score, Box(x, y, x + w, y + h))
    if best is None or best[0] < MIN_SLOT_SCORE:
        return None
    score, b = best
    # another logo sits centred in the slot: widen the short side to the reference aspect
    # (an object about the reference's shape - a plate, our own deformed logo - is the
    # slot as it is)
    cx, cy = (b.x0 + b.x1) / 2 / s, (b.y0 + b.y1) / 2 / s
    w, h = b.width / s, b.height / s
    if abs(np.log(w / h / ref_aspect)) > np.log(1 / KEEP_ASPECT):
        if w / h < ref_aspect:
            w = h * ref_aspect
        else:
            h = w / ref_aspect
    box = Box(int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(cx + w / 2)),
              int(round(cy + h / 2))).clamp(w_img, h_img)
    return box, float(score)
