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

4. a **copy panel** is not a logo (:func:`copy_panel`): a plain plate (a backing panel
   under a line of copy) holding a row of thin glyphs across it scores like a logo on a
   plate (solid, contrasted, two colours) but has no emblem (no part dwarfing the rest).
   Tuning seeds 1-16: 8 of the 24 posters without a logo that were reported "another
   logo" (at 7b648a9) had such a panel as their slot and are now "missing";
   no poster with a logo lost its slot.

The best object that is not a copy panel, its box widened to the reference's aspect
around its centre (another logo is fitted inside the same box) unless its aspect is
already within :data:`KEEP_ASPECT` of the reference's (:data:`PLATE_KEEP_ASPECT` for a
plate: a backing plate is made for the logo it holds, and another logo fitted in it lies
inside it - seeds 1-20: widening plates at 0.67-0.74 of the reference's aspect cost 3
posters their box, IoU 0.34-0.45 -> 0.50-0.59; 21 slots changed, no poster lost), and
that does not read as copy (``copy_share``, the detector's OCR: lines of copy span
:data:`COPY_SPAN` of its width, :data:`WEAK_COPY_SPAN` of a faint object's - under
:data:`SURE_SLOT_SCORE` a plate of copy merged with a shape beside it is a faint object
too), is the slot; below :data:`MIN_SLOT_SCORE` nothing on the poster looks like a logo
(``None``). That bar was 0.35 while copy was not read (hanzi on a plate score like an
emblem); with copy read, 0.25 recovers deformed and other logos that score 0.25-0.35 (a
warp's waves, an erasure's remains: 16 posters of seeds 1-20 reported "missing" were
found), for one poster without a logo whose decoration now scores as a slot.
"""

from __future__ import annotations

from collections.abc import Callable

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
MIN_SLOT_SCORE = 0.25
SURE_SLOT_SCORE = 0.35  # under it a faint slot: it only says where an unfound logo is
COPY_SPAN = 0.75  # lines of copy spanning this share of an object's width: copy, no logo
WEAK_COPY_SPAN = 0.3  # ... of a faint object's
PLATE_KEEP_ASPECT = 0.6  # ... for a plate-shaped object (a backing plate made for its logo)
KEEP_ASPECT = 0.75  # an object within this factor of the reference's aspect is not widened
PANEL_FILL = 0.9  # a plate fills (hole-filled) at least this share of its box
PANEL_SOLID = 0.85  # ... and is foreground (differs from the background) over this share
PANEL_INSET = 0.06  # the plate's rim left out of its inside, fraction of its short side
PANEL_INK_DE = 20.0  # ΔE from the plate's colour above which a pixel inside it is ink
PANEL_FLAT_DE = 3.0  # 90th percentile ΔE of the plate's non-ink pixels: a plain plate
PANEL_MIN_PART = 0.002  # ink components under this share of the inside are specks
PANEL_SPAN = 0.75  # the ink of a line of copy spans at least this share of its panel
PANEL_GLYPH = 0.36  # largest ink part / ink height²: below, thin glyphs (no emblem)
PANEL_EMBLEM = 3.0  # largest ink part / the next: from this on, an emblem beside letters


def find_slot(image: np.ndarray, ref: LogoReference, *,
              copy_share: Callable[[Box], float] | None = None
              ) -> tuple[Box, float] | None:
    """The most logo-like object's box on ``image`` (RGB uint8 [H, W, 3]), widened to the
    reference's aspect, and its score in [0, 1]; None when nothing qualifies.

    ``copy_share``: told an object's box (poster pixels, before widening), says how much
    of its width reads as copy (the detector reads it,
    :meth:`detectors.logo.LogoDetector._copy_share`); an object read as copy is passed
    over like a copy panel."""
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
    found: list[tuple[float, Box, bool]] = []  # score, box (work px), plate-shaped
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
            if score >= MIN_SLOT_SCORE:
                found.append((score, Box(x, y, x + w, y + h),
                              solid >= PANEL_SOLID and area / float(w * h) >= PANEL_FILL))
    best: tuple[float, Box, bool] | None = None
    panels: dict[tuple[int, int, int, int], bool] = {}
    read: dict[tuple[int, int, int, int], float] = {}
    for score, b, plate in sorted(found, key=lambda t: -t[0]):
        full = Box(int(b.x0 / s), int(b.y0 / s), int(np.ceil(b.x1 / s)),
                   int(np.ceil(b.y1 / s))).clamp(w_img, h_img)
        key = (full.x0, full.y0, full.x1, full.y1)
        if plate:
            if key not in panels:
                panels[key] = copy_panel(image[full.slice()])
            if panels[key]:
                continue  # a backing panel under a line of copy, not a logo
        if copy_share is not None:
            if key not in read:
                read[key] = copy_share(full)
            if read[key] >= (COPY_SPAN if score >= SURE_SLOT_SCORE else WEAK_COPY_SPAN):
                continue  # it reads as copy
        best = (score, b, plate)
        break
    if best is None:
        return None
    score, b, plate = best
    # another logo sits centred in the slot: widen the short side to the reference aspect
    # (an object about the reference's shape - a plate, our own deformed logo - is the
    # slot as it is)
    cx, cy = (b.x0 + b.x1) / 2 / s, (b.y0 + b.y1) / 2 / s
    w, h = b.width / s, b.height / s
    keep = PLATE_KEEP_ASPECT if plate else KEEP_ASPECT
    if abs(np.log(w / h / ref_aspect)) > np.log(1 / keep):
        if w / h < ref_aspect:
            w = h * ref_aspect
        else:
            h = w / ref_aspect
    box = Box(int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(cx + w / 2)),
              int(round(cy + h / 2))).clamp(w_img, h_img)
    return box, float(score)


def copy_panel(crop: np.ndarray) -> bool:
    """Is this plate-shaped object (RGB uint8 ``[h, w, 3]``, cropped to its box) a backing
    panel under a line of copy rather than a logo?

    Inside the plate (its rim of :data:`PANEL_INSET` left out) the plate's colour is the
    median; pixels further than :data:`PANEL_INK_DE` from it are ink. A copy panel is a
    plain plate (its other pixels within :data:`PANEL_FLAT_DE`: no texture, no gradient
    fill) holding two or more ink parts (not touching the inside's edge, where a rounded
    plate's corners show the background) that span :data:`PANEL_SPAN` of its width, the
    largest of them thin: its area under :data:`PANEL_GLYPH` x the ink's height² (a glyph;
    an emblem is a solid shape about as high as the ink). Tuning seeds: copy panels
    0.17-0.35; logos on a plate 0.42-0.98 (one warped logo 0.33), and their emblem
    spans less of a plate made for a wider logo. Nor is it a copy panel when one part
    is :data:`PANEL_EMBLEM` times the next or more: letters of a line of copy are alike,
    an emblem dwarfs a wordmark's letters even when an erasure left only a thin arc of it
    (under :data:`PANEL_GLYPH`). Seeds 1-18 at d558e1e: of the plates judged copy panels,
    the 8 with a part 3.0-6.8 times the next were each the logo's own plate (a logo on
    a plate, some partly erased: seed 18's erased logo was then "missing"); copy panels
    on posters without a logo 1.0-2.3, the others 1.0-2.3."""
    h, w = crop.shape[:2]
    m = max(2, int(round(PANEL_INSET * min(h, w))))
    core = crop[m:h - m, m:w - m]
    if core.shape[0] < 8 or core.shape[1] < 8:
        return False
    lab = cv2.cvtColor(core.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    plate = np.median(lab.reshape(-1, 3), axis=0)
    de = np.sqrt(((lab - plate) ** 2).sum(axis=2))
    ink = (de > PANEL_INK_DE).astype(np.uint8)
    rest = de[ink == 0]
    if rest.size == 0 or float(np.percentile(rest, 90)) > PANEL_FLAT_DE:
        return False
    ch, cw = ink.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    parts = [st for st in stats[1:] if st[4] >= PANEL_MIN_PART * ink.size
             and st[0] > 0 and st[1] > 0 and st[0] + st[2] < cw and st[1] + st[3] < ch]
    if len(parts) < 2:
        return False
    x0 = min(int(st[0]) for st in parts)
    x1 = max(int(st[0] + st[2]) for st in parts)
    y0 = min(int(st[1]) for st in parts)
    y1 = max(int(st[1] + st[3]) for st in parts)
    if (x1 - x0) < PANEL_SPAN * cw:
        return False
    areas = sorted((int(st[4]) for st in parts), reverse=True)
    if areas[0] >= PANEL_EMBLEM * areas[1]:
        return False  # one part dwarfs the rest: an emblem (or what is left of it)
    return areas[0] < PANEL_GLYPH * float(y1 - y0) ** 2
