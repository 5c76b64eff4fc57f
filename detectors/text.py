"""Text defect detector: OCR lines compared with the copy the poster must carry.

``TextDetector.detect(image, expected)`` reads the poster once (det + rec, see
:mod:`detectors.ocr`), aligns the lines with the expected strings
(:mod:`detectors.text_align`), merges the lines one string touches in one row into a
*region*, and reports :class:`~detectors.types.Defect` values of kind ``"text"``, one per
defective region:

============  ===========================================================================
category      when (reasons)
============  ===========================================================================
mismatch      an expected string is found with wrong, extra or absent characters, and a
              focused re-read of the line (crop, upscaled, recognition only) does not
              read it right either (``ocr_mismatch``); absent characters at an end grow
              the box by their width in the brand font (else by average character
              widths). Also a left-over line that nearly repeats a string matched
              elsewhere (edit distance 1 .. ``NEAR_COPY`` (34 %) of its length, >= 3
              characters; ``ocr_mismatch``, ``near_copy``), e.g. the brand name right in
              the logo, wrong in a headline; and a confident read of other text that no
              rule explains, paired with the one missing string placed nowhere that has
              as many characters and its proportions (:func:`_pair_by_length`;
              ``missing_text``, ``ocr_mismatch``, ``same_length``: every character
              wrong). And a line read right whose digit is drawn as its look-alike
              letter ('0' as 'O', '1' as 'l': OCR's language model reads a number):
              the string rendered with the letter fits that character better by
              ``LOOK_ALIKE_GAIN`` (0.1 glyph similarity) and well (``LOOK_ALIKE_FIT``,
              0.8; lines under ``LOOK_ALIKE_MAX_HEIGHT``, 45 px; ``look_alike``)
missing       an expected string is not found (``missing_text``). With the brand fonts
              it is put where its rendering fits near a left-over line or a run of 2-3
              side by side (:meth:`TextDetector._host_by_rendering`,
              :func:`detectors.text_search.search_near`; ``rendered_match``, the box
              spans the rendering, erased ends included; a line whose sure read
              (confidence >= 0.9) holds the string's first or last ``HELD_END``+
              characters is matched by that part of the rendering alone,
              :func:`_held_end`), or on a left-over line that a
              sharp rendered match of it covers and that reads as text of about its
              length (look-alike characters). Otherwise on a left-over line that holds
              >= 40 % of its characters (a digit read for its ``LOOK_ALIKES`` letter
              counts as it: '0 $5' for 'Only $5') or one of its CJK characters, or reads
              poorly (junk or confidence < 0.9) and has its proportions (aspect ratio
              within ``MAX_ASPECT_MISFIT``). A string still without a place has the
              poster scanned again at ``RESCAN_SIDES`` (640, then 1280 px on its long
              side; first pass 960): an erasure can break text up beyond what the
              detector finds at one scale and not at another; so is one matched only
              by its rendering where OCR found no line and judged clean there; then
              turned by ``RESCAN_ANGLES`` (+-20, +-35 degrees: the sides of an arched
              or curved line read level, 'FAOURITE' of a curved 'My Favourite'). New
              lines (a line read as junk covers no place) are re-read at full
              resolution along their own direction and join the first pass's. Else
              reported without a box: whole image, reason ``not_localised``. A host
              read of at most ``PART_READ`` (75 %) of the string's characters grows
              over the absent ones at its ends (erasure), unless it begins and ends as
              the string does (its middle erased) and is not its beginning or end
              itself ('$49' of '$49.99'). A
              host that reads as its string when read again, focused, was OCR noise: no
              defect; its line goes to the collapsed-detail signals
unreadable    a missing string's host whose read is junk (confidence < 0.5, or no
              letter, digit or CJK character; ``missing_text``, ``unreadable_read``);
              in reference-free mode every text-like junk read (``unreadable_read``);
              with ``place_on_ink=True`` also an ink blob the OCR detector missed that
              hosts a missing string (``undetected_ink``). With copy given, junk that no
              string claims is not reported: on real posters it is a pattern, a relief
              or fine print the copy does not list
unexpected    readable text no expected string claims (``unexpected_text``): its own
              category behind its own switch (``report_unexpected=True``; the sweep's
              ``POSTERQA_REPORT_UNEXPECTED_TEXT``), off by default; never in
              reference-free mode
collapsed     the text reads right but its detail collapsed (blur, warp, broken strokes):
              the calibrated scorer's p(defect) from the figures below is >= its
              threshold (:mod:`detectors.text_scorer`).
              Also a missing string that no line hosts (or only one sharing none of its
              characters) found by its rendering in the brand font
              (:mod:`detectors.text_search`: NCC >= ``RENDER_MATCH`` (0.78)) where the
              ink's edges are soft (edge width >= ``SOFT_EDGE_PX`` (2.5 px) and >=
              ``SOFT_EDGE_REL`` (3 %) of its height; or NCC >= ``RENDER_MATCH_SOFT``
              (0.70) with edges >= ``SOFT_EDGE_REL_LOW`` (10 %) of its height, as soft
              as only blur makes them): blurred beyond OCR detection
              (``missing_text``, ``rendered_match``, ``low_sharpness``); the box grows
              by ``BLUR_HALO`` (25 %) of the matched font size. Where such a match is
              sharp and OCR found no line there, the match becomes a region of its
              string, judged by the signals below (a warp the OCR detector passed over
              is collapsed; a clean line it missed is no defect). A string OCR found
              nowhere whose rendering matches nowhere is looked for by the part an
              erasure leaves (its top, bottom, left or right half): a crisp match of
              NCC >= ``PART_MATCH`` (0.91) is the string, *missing* where erased,
              boxed by the whole rendering (``missing_text``, ``rendered_match``,
              ``partly_erased``); a weaker one (>= ``PART_MATCH_DOUBT``, 0.88, or more
              ink left in the rest) where that place, read focused, reads as other
              text or as a piece of the string ('y Day'); and a part match with soft
              edges (as above) is the string blurred
              (*collapsed*, ``missing_text``, ``rendered_match``, ``low_sharpness``)
============  ===========================================================================

With the brand's reference logo (``logo=``), a line that reads as the logo's wordmark
and sits where the reference, laid over the poster at the line's scale, matches it (NCC
>= ``LOGO_LINE_MATCH`` of its grey levels inside its alpha, or of the logo composited
over its ground, ``LOGO_SILHOUETTE_MATCH``: :func:`_silhouette_ncc`) is the logo's: left
out of the text checks and masked in the searches, so that the brand name as copy is
looked for elsewhere.

Placement and confirmation rules (rendering, wordmark, focused re-reads) were tuned on
200-poster runs of seeds 1, 2, 7 and 101 (2026-11-27); soft edges, the weaker soft
rendered match, the partial rendering and the wordmark's width-based scales on the
misses of seeds 11, 12 and 13 and the region figures of all seven seeds (same day); the
logo's outline, runs of erased pieces, cut reads and the row rules of the alignment on
every miss and false positive of seeds 1, 2, 7, 101 and 11-19 (cached OCR); the
wordmark read with a stray sign, passed-over lines read again, both ends of the partial
rendering, drawn widths of absent words, the ink box's reach and the widest read's
direction on those of seeds 1, 2, 7, 101 and 11-21, pairing by length on seeds 15 and
23, one place per sharp match and reads holding a string's end on seed 24 (same day);
look-alike digits, hosts off their anchor or displaced by a place that reads nothing,
doubtful part matches and short tilted lines levelled on those of seeds 1, 2, 7, 101
and 11-26, and blurred strings found by a part of their rendering on seed 28 (checked
on 1, 2, 7, 101 and 11-28; same day); a piece of the string read at a part match,
look-alike digits in hosts and reads holding both ends of their string on seed 31, and
the local-background ink on seed 34 (checked on 1, 2, 7, 101, 11-28, 31 and 33);
the rescan of strings with no place, rows joined by any line, hanzi-only substitutions
and ends held by a sure read on the erasure misses of seeds 12, 15, 17, 24, 25, 28,
31, 33 and 36 (checked on 1, 2, 7, 101, 11-28, 31, 33, 34 and 36);
see the benchmark's docstring for the report seeds.

Collapsed-detail figures (:class:`~detectors.text_scorer.CollapseFigures`), measured on
every region that reads as its string, and turned into one calibrated p(defect) by the
logistic regression of ``detectors/params/text_scorer.json`` (fitted by
``scripts/train_text_scorer.py`` on generated posters, its threshold chosen on held-out
seeds for a precision target; the reasons are the signals that push p up the most):

====================  =====================================================================
reason                figure
====================  =====================================================================
low_ocr_score         line recognition confidence
low_sharpness         median stroke sharpness of the region's character cells / median of
                      the other read lines of similar height (0.6-1.6x; all lines if fewer
                      than 3); its weight falls with the ink's tones (many tones: gold,
                      gradient, textured fills, i.e. stylised lettering)
glyph_mismatch        mean of the 3 lowest (and the lowest) per-character similarities
                      (template-matching NCC) of the line's ink with the expected string
                      rendered in the brand font at the line's size (needs ``font_path``),
                      and how far they dip below the line's median and 90th percentile
                      (a few characters broken or warped, not a whole line drawn in a
                      style unlike the font); its weight grows with the line's height and
                      falls with a sure read (a failed ink map under characters that read
                      surely)
reread_low_score      confidence of a focused re-read (line crop, upscaled to 48 px,
                      recognition only, one batch), run on regions whose p, with the
                      re-read assumed to agree, reaches the scorer's ``gate``; low
                      confidence counts only as far as both reads doubt
reread_mismatch       the focused re-read differs from the expected text
soft_edges            edge width (px, and per line height) of the line's box: ink contrast
                      / 90th percentile of its edge gradient (crisp text: 1-2 px at any
                      size); a soft line is boxed and localised as a whole
====================  =====================================================================

Context figures with a free-signed weight: line height, number of characters, whether
OCR passed the line over, whether the glyph fit came from the local-background ink map,
ink tones (:func:`detectors.text_signals.ink_tones`) and stroke-width variation
(:func:`detectors.text_signals.stroke_cv`).

Stroke sharpness: the 90th percentile of the gradient magnitude near the ink, divided by
the ink contrast (crisp edges step in a pixel or two at any size or colour; blur spreads
them). Ink: the two Otsu classes of the crop's centre, the class made of thin strokes (less of it
survives an erosion) against the median of the other. A glyph fit under
``LOCAL_INK_BELOW`` (0.75) is measured again on ink against the local background (the
crop closed or opened with a square of half its height,
:func:`detectors.text_signals.prepare_line_local`), and the better fit is kept: one grey
level makes the darker tone of a backdrop split under the line "ink" (seed 34: clean
lines at 0.36).

Localisation: ``box``/``quad`` are tight on the region's ink (the OCR quad carries a
margin); character cells come from the engine's per-character boxes (else an even split);
``localize="chars"`` boxes only the wrong or collapsed characters instead.
``repair_quad`` is the span snapped outwards to whole character cells and padded by 15 %
of the line height.

Images are RGB ``uint8`` ``[H, W, 3]``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.normalize import edit_distance, is_cjk, normalize, normalize_with_map
from detectors.ocr import OcrEngine, OcrLine, crop_quad, get_ocr_engine
from detectors.text_align import (
    Alignment,
    AlignOp,
    Match,
    align,
    reading_order,
    side_by_side,
    similar_height,
    substring_align,
)
from detectors.text_scorer import CollapseFigures, TextScorer, load_scorer
from detectors.text_search import edge_width, keep_rects, search_near, search_rendered
from detectors.text_signals import (
    core_ink_box,
    crop_line,
    glyph_similarity,
    ink_proposals,
    ink_tones,
    prepare_line,
    prepare_line_local,
    render_text,
    stroke_cv,
    stroke_sharpness,
)
from detectors.types import Box, Defect, Quad, normalize_quad, pad_quad
from posterqa.errors import InputError
from posterqa.fonts import covers_char
from posterqa.imaging import ensure_rgb_uint8
from posterqa.settings import Settings, get_settings

log = logging.getLogger(__name__)

UNREADABLE_SCORE = 0.5
REPAIR_MARGIN = 0.15  # of the line height
PROPOSAL_PAD = 0.35  # an ink blob grows by this share of its height (blur halo)
MAX_ASPECT_MISFIT = 1.6  # a blob hosts a missing string if their aspect ratios differ less
PAIR_ASPECT_MISFIT = 2.0  # ... a left-over read pairs with a string of its length (the
# quad's margins: a 3-letter read's quad is 1.27 wide per height, its ink ~2)
HOST_MAX_SCORE = 0.9  # a left-over line sharing no character hosts one only if read worse
MIN_SHARED = 0.4  # share of a missing string's characters a left-over line must hold
PART_READ = 0.75  # a missing string's host read this short is only part of it
NEAR_COPY = 0.34  # a left-over line this close (edit distance / length) to matched copy
RENDER_MATCH = 0.78  # NCC of a missing string's rendering found on the poster (blurred)
SOFT_EDGE_PX = 2.5  # ... whose edges are at least this soft (px)
SOFT_EDGE_REL = 0.03  # ... and this share of its ink height
PART_MATCH = 0.91  # NCC of the part of a rendering an erasure leaves (see _partly_erased)
PART_WHOLE_FIT = 0.85  # ... unless the whole rendering fits there as well
PART_GONE = 0.55  # ... and the rest of its box holds at most this share of the kept
# part's grey gradient (the ink is gone there; on 11 seeds erasures 0.05-0.47, but one
# at 0.70; clean lines half over a background shape 0.61-0.91)
PART_MIN_WIDTH = 48  # px: half of a narrower rendering is too little ink to tell
PART_MATCH_DOUBT = 0.88  # a weaker part match, or one whose rest holds more ink, ...
PART_GONE_DOUBT = 0.85  # ... up to this share, counts where its place does not read as
# the string (seeds 14, 15, 22: erased 'Sollu', 'MEGA SALE', 'Clearance' at 0.907-0.95
# with 0.39-0.70 left)
PART_KEEPS = ((0.0, 0.0, 1.0, 0.45), (0.0, 0.55, 1.0, 1.0), (0.0, 0.0, 0.5, 1.0),
              (0.5, 0.0, 1.0, 1.0), ((0.0, 0.0, 0.15, 1.0), (0.85, 0.0, 1.0, 1.0)))
WEAK_MARGIN = 0.1  # a sharp match elsewhere beats a weak host's rendering by this NCC
RENDER_MATCH_SOFT = 0.70  # a weaker match counts where its edges are very soft:
SOFT_EDGE_REL_LOW = 0.10  # ... >= this share of its ink height (crisp ink: <= 0.08)
BLUR_HALO = 0.25  # a blurred line's box grows by this share of its font size
FIRST_READ_MARGIN = 0.02  # a first read fitting the ink this much better stands
HOST_NCC = 0.72  # NCC of a missing string's rendering near a left-over line that hosts it
HOST_NCC_SHARED = 0.5  # ... when the line shares characters with it
HOST_NCC_SPAN = 0.45  # ... when a run of lines holds its first and last characters
HOST_NCC_POOR = 0.62  # ... when its read is poor (junk or confidence < HOST_MAX_SCORE)
CUT_READ_GROWTH = 2.0  # a cut line is read again over 2x its absent characters' width
CUT_READ_SCORE = 0.95  # ... and confirmed by a read this sure (cut broken strokes: 0.88-0.94)
READ_FIT_MARGIN = 0.05  # a line whose own read fits it better by more reads as itself
HELD_END = 2  # characters: a read sharing this many at an end of a string holds that end
READS_NOTHING = 0.5  # a focused read holding fewer of a string's characters than this
# share reads next to nothing: the string's rendering matched a faint pattern there
SHARED_BONUS = 0.1  # sharing characters ranks a host up by this much NCC
OFF_ANCHOR = 0.2  # ... and a rendering lying off its line down by this much times the
# share of it outside the line's box (seed 25: an erased 'Yolufi' matched 0.65 inside
# its read 'Yc i', and 0.69 half off a 463 px empty read beside it)
LOGO_TEXT_SCORE = 0.8  # a reference logo's read this sure is its wordmark
LOGO_LINE_MATCH = 0.6  # NCC of the reference logo laid over a line that is its wordmark
LOGO_SILHOUETTE_MATCH = 0.65  # ... of the logo against its ground (copy: <= 0.58)
LOGO_SCALES = (0.85, 0.925, 1.0, 1.075, 1.15)  # ... at the line's scale times these
LOGO_WIDTH_SCALES = tuple(0.55 * 1.075 ** k for k in range(11))  # ... at its width's, 0.55-1.13
LOGO_MATCH_HEIGHT = 48  # ... compared at most this many px tall
SIMILAR_HEIGHT = (0.6, 1.6)
# digits OCR reads as digits, though drawn as a look-alike letter, where the copy around
# them is a number ('¥l299 起' reads '¥1299 起'): each is compared with its look-alikes
# ('I' is left out: a clean '1' of 'Valid until 31 Dec' fits it 0.13 better in one font)
LOOK_ALIKES: dict[str, str] = {"0": "O", "1": "l"}
LOOK_ALIKE_GAIN = 0.1  # a look-alike's rendering fits the character better by this (clean
# characters of seeds 11, 23, 25: at most 0.06; '¥l299', '$1O0', '11.O1': 0.17-0.47)
LOOK_ALIKE_FIT = 0.8  # ... and fits it this well (a failed ink map fits neither: seed 15,
# a clean '0' compared 0.39 and as 'O' 0.51; drawn look-alikes fit 0.86-0.99)
LOOK_ALIKE_MAX_HEIGHT = 45.0  # px, OCR line: larger look-alikes read as what they are
REREAD_HEIGHT = 48
RESCAN_SIDES = (640, 1280)  # px: detection scales tried again where a string has no place
RESCAN_ANGLES = (-20.0, 20.0, -35.0, 35.0)  # degrees: then the poster turned by these (the
# sides of an arched or curved line read level; one OCR pass each, only while a string
# has no place)
RESCAN_COVERED = 0.5  # a rescanned line this much inside a first-pass line is that line
LOCAL_INK_BELOW = 0.75  # glyph similarity under this is measured again on an ink map
# ... against the local background too (the better fit is kept; the scorer sees which)


@dataclass
class _Candidate:
    """A region measured for collapsed detail: its figures (the re-read's added when it
    is read again), per-character sharpness ratios and glyph similarities (source index
    -> value), its look-alike digits, and whether a passed-over place read nothing."""

    region: _Region
    fig: CollapseFigures
    char_sharp: dict[int, float] = field(default_factory=dict)
    char_glyph: dict[int, float] = field(default_factory=dict)
    alike: dict[int, str] = field(default_factory=dict)
    drop: bool = False


@dataclass(frozen=True)
class Wordmark:
    """A reference logo's text: normalised ``text``, its ``box`` (x0, y0, x1, y1) in the
    logo, and the logo's grey levels and alpha (``inside``) to compare with a poster."""

    text: str
    box: tuple[int, int, int, int]
    grey: np.ndarray = field(repr=False)
    inside: np.ndarray = field(repr=False)


def _silhouette_ncc(win: np.ndarray, ref: np.ndarray, inside: np.ndarray,
                   size: tuple[int, int]) -> float:
    """Best NCC of the reference logo (grey ``ref``, already at ``size``) laid over the
    grey ``win`` with its outline: composited over the window's ground (the median of
    its border, which the search margin keeps outside the logo) and compared unmasked.

    The grey levels inside the alpha alone can say little: a striped emblem in about the
    wordmark's grey (std 19) scored 0.21-0.60 at its true place on seeds 11-19, where
    the logo against its ground scored 0.64-0.998 (950 of 952 wordmark lines >= 0.6);
    copy that reads as the brand name scored at most 0.58 (101 lines), hence
    ``LOGO_SILHOUETTE_MATCH`` 0.65."""
    alpha = cv2.resize(inside.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    ground = float(np.median(np.concatenate([win[0], win[-1], win[:, 0], win[:, -1]])))
    comp = ref.astype(np.float32) * alpha + ground * (1.0 - alpha)
    if comp.std() < 1e-3:
        return -1.0
    res = cv2.matchTemplate(win.astype(np.float32), comp, cv2.TM_CCOEFF_NORMED)
    return float(np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0).max())


@dataclass(frozen=True)
class ReRead:
    """Result of :meth:`TextDetector.reread`: does the region now read as expected?"""

    matches: bool
    observed: str
    score: float


# ----------------------------------------------------------------------------- geometry


class _LineGeom:
    """Line coordinates: columns of the rectified crop, and character cells."""

    def __init__(self, line: OcrLine) -> None:
        self.line = line
        p = np.asarray(line.quad, dtype=np.float64)
        self.p = p
        self.width = float(max(np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[3]), 1.0))
        self.height = float(max(np.linalg.norm(p[3] - p[0]), np.linalg.norm(p[2] - p[1]), 1.0))
        u = p[1] - p[0]
        self.u = u / (np.linalg.norm(u) or 1.0)
        text = line.text
        # source index -> cell (c0, c1) in columns; spaces get the gap they occupy
        self.cells: dict[int, tuple[float, float]] = {}
        nonspace = [i for i, ch in enumerate(text) if not ch.isspace()]
        if line.char_boxes and len(line.char_boxes) == len(nonspace):
            for i, cb in zip(nonspace, line.char_boxes, strict=True):
                cols = [self.col(pt) for pt in cb.quad]
                self.cells[i] = (max(min(cols), 0.0), min(max(cols), self.width))
        else:
            n = max(len(text), 1)
            for i in nonspace:
                self.cells[i] = (self.width * i / n, self.width * (i + 1) / n)
        self.order = sorted(self.cells)

    def col(self, pt: Sequence[float]) -> float:
        return float((np.asarray(pt, dtype=np.float64) - self.p[0]) @ self.u)

    @property
    def avg_char(self) -> float:
        if not self.cells:
            return self.height
        ws = [c1 - c0 for c0, c1 in self.cells.values()]
        return float(max(np.median(ws), 1.0))

    def span(self, sources: Sequence[int]) -> tuple[float, float]:
        cs = [self.cells[s] for s in sources if s in self.cells]
        if not cs:
            return (0.0, self.width)
        return (min(c[0] for c in cs), max(c[1] for c in cs))

    def snapped(self, c0: float, c1: float) -> tuple[float, float]:
        """Grow [c0, c1) to whole character cells (borders halfway between characters)."""
        if not self.order:
            return (0.0, self.width)
        bounds = [0.0]
        for a, b in zip(self.order, self.order[1:], strict=False):
            bounds.append((self.cells[a][1] + self.cells[b][0]) / 2.0)
        bounds.append(self.width)
        lo = max([b for b in bounds if b <= c0 + 1e-6], default=min(c0, 0.0))
        hi = min([b for b in bounds if b >= c1 - 1e-6], default=max(c1, self.width))
        return (min(lo, c0), max(hi, c1))

    def subquad(self, c0: float, c1: float, r0: float = 0.0, r1: float | None = None) -> Quad:
        """The part of the line quad between columns c0..c1 and rows r0..r1 of the
        rectified crop (columns may extrapolate past the line's ends)."""
        p = self.p
        r1 = self.height if r1 is None else r1
        out = []
        for c, r in ((c0, r0), (c1, r0), (c1, r1), (c0, r1)):
            t = c / self.width
            top = p[0] + (p[1] - p[0]) * t
            bot = p[3] + (p[2] - p[3]) * t
            out.append((top + (bot - top) * (r / self.height)).tolist())
        return normalize_quad(out)

    def ink(self, image: np.ndarray) -> tuple[int, int, int, int] | None:
        """Ink box ``(x0, y0, x1, y1)`` in crop coordinates (cached)."""
        if not hasattr(self, "_ink"):
            try:
                # a wide halo keeps the soft edge of blurred text inside the box
                prep = prepare_line(crop_line(image, self.line.quad),
                                    halo=max(2, int(0.25 * self.height)))
                box = core_ink_box(prep, thresh=0.2)
                # an ink box much smaller than the line means the ink map failed (e.g.
                # blur spread past the crop): keep the detector's quad then
                if box is not None and (box[3] - box[1] < 0.25 * self.height
                                        or box[2] - box[0] < 0.3 * self.width):
                    box = None
                self._ink = box
            except InputError:
                self._ink = None
        return self._ink


def _box_of(quad: Quad, width: int, height: int) -> Box:
    box = Box.from_points(quad).clamp(width, height)
    if box.area == 0:
        raise InputError(f"defect quad {quad} lies outside the {width}x{height} image")
    return box


# ----------------------------------------------------------------------------- regions


def _row_of(lines: Sequence[OcrLine]) -> list[int]:
    """Row index of every line (lines are in reading order)."""
    rows, row = [], -1
    prev: Box | None = None
    for ln in lines:
        b = ln.box
        overlap = -1 if prev is None else min(b.y1, prev.y1) - max(b.y0, prev.y0)
        if prev is None or overlap <= 0.5 * min(b.height, prev.height) \
                or not similar_height(b, prev):
            row += 1
        rows.append(row)
        prev = b
    return rows


def _merge_lines(lines: Sequence[OcrLine]) -> tuple[OcrLine, list[int]]:
    """One line covering ``lines`` (same row, reading order) and each one's text offset."""
    if len(lines) == 1:
        return lines[0], [0]

    pts = np.asarray([p for ln in lines for p in ln.quad], dtype=np.float32)
    # the direction of the widest line: a one-character read's quad says little ('每'
    # read apart, upright, from a '一天都更好' tilted by 3.6 degrees)
    first = np.asarray(max(lines, key=lambda ln: _LineGeom(ln).width).quad, dtype=np.float64)
    u = first[1] - first[0]
    u = u / (np.linalg.norm(u) or 1.0)
    if abs(u[1]) < 0.02:
        quad = Box.from_points(pts).as_quad()
    else:
        corners = cv2.boxPoints(cv2.minAreaRect(pts)).astype(np.float64)
        c = corners.mean(axis=0)
        v = np.array([-u[1], u[0]])
        tl = min(corners, key=lambda q: (q - c) @ u + (q - c) @ v)
        tr = max(corners, key=lambda q: (q - c) @ u - (q - c) @ v)
        br = max(corners, key=lambda q: (q - c) @ u + (q - c) @ v)
        bl = min(corners, key=lambda q: (q - c) @ u - (q - c) @ v)
        quad = normalize_quad([tl.tolist(), tr.tolist(), br.tolist(), bl.tolist()])
    offsets, text, chars = [], "", []
    all_chars = all(ln.char_boxes for ln in lines)
    for ln in lines:
        offsets.append(len(text))
        text += ln.text
        chars.extend(ln.char_boxes)
    merged = OcrLine(quad=quad, text=text, score=min(ln.score for ln in lines),
                     char_boxes=tuple(chars) if all_chars else ())
    return merged, offsets


@dataclass
class _Region:
    """One row's share of an expected string, or one whole line (reference-free).

    ``geom`` is the region's (possibly merged) line; ``sources`` the indices of its text
    characters that belong to this part; ``lead`` / ``trail`` the number of expected
    characters absent before the first / after the last character read.
    """

    geom: _LineGeom
    lines: list[int]
    sources: list[int]
    expected: str | None
    render: str
    bad: list[tuple[float, float]] = field(default_factory=list)  # wrong columns
    bad_exp: list[int] = field(default_factory=list)  # expected indices of wrong chars
    n_bad: int = 0
    observed: str = ""
    full_expected: str | None = None
    src_exp: dict[int, int] = field(default_factory=dict)
    lead: int = 0
    trail: int = 0

    @property
    def whole(self) -> bool:
        return len(self.sources) >= len(self.geom.order)

    def columns(self) -> tuple[float, float]:
        """The part's columns, grown by the absent characters at its ends."""
        g = self.geom
        s0, s1 = g.span(self.sources)
        c0, c1 = (0.0, g.width) if self.whole else (s0, s1)
        if self.lead:
            c0 = min(c0, s0 - self.lead * g.avg_char)
        if self.trail:
            c1 = max(c1, s1 + self.trail * g.avg_char)
        return c0, c1


def _is_junk(text: str) -> bool:
    return not any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def _unreadable(ln: OcrLine) -> bool:
    """A read that is junk: empty, no letter/digit, or confidence < ``UNREADABLE_SCORE``."""
    return _is_junk(ln.text) or ln.score < UNREADABLE_SCORE


def _text_like(ln: OcrLine) -> bool:
    """Worth reporting as unreadable when nothing claims it: wider than tall, and not a
    lone mark (one short junk character is a bullet, a rule or a logo motif)."""
    g = ln.box
    n = len(normalize(ln.text))
    return g.width >= 1.5 * g.height and (n >= 2 or (n == 0 and g.width >= 3 * g.height))


# ----------------------------------------------------------------------------- detector


class TextDetector:
    """Finds wrong, unreadable, missing and collapsed text on a poster.

    ``engine`` defaults to :func:`detectors.ocr.get_ocr_engine` (built once per process).
    ``collapse_signals=False`` gives the plain OCR comparison (the benchmark baseline).
    ``localize``: ``"part"`` (default) boxes the whole line part that carries the
    defective string, which is what a repair re-typesets; ``"chars"`` boxes only the wrong
    or collapsed characters (``repair_quad`` still covers whole characters).
    ``place_on_ink=True`` puts expected strings that no OCR line holds on ink blobs the
    OCR detector left out (text blurred beyond detection; see
    :func:`detectors.text_signals.ink_proposals`); off by default because on generated
    posters it placed more strings on the wrong element (logo, another line) than on the
    right one.
    """

    def __init__(self, settings: Settings | None = None, engine: OcrEngine | None = None,
                 *, collapse_signals: bool = True, localize: str = "part",
                 place_on_ink: bool = False,
                 rescan_sides: Sequence[int] = RESCAN_SIDES,
                 rescan_angles: Sequence[float] = RESCAN_ANGLES,
                 scorer: TextScorer | None = None) -> None:
        if localize not in ("part", "chars"):
            raise InputError(f"localize must be 'part' or 'chars', got {localize!r}")
        self.settings = settings or get_settings()
        self._engine = engine
        self.collapse_signals = collapse_signals
        self.localize = localize
        self.place_on_ink = place_on_ink
        self.rescan_sides = tuple(rescan_sides)
        self.rescan_angles = tuple(rescan_angles) if self.rescan_sides else ()
        # set to [] to collect (line box, CollapseFigures, string) per region, every region
        # read again (the scorer's training data: scripts/train_text_scorer.py)
        self.record: list | None = None
        self._scorer = scorer
        self._local = threading.local()

    @property
    def scorer(self) -> TextScorer:
        """The collapsed-detail scorer (default: the shipped ``text_scorer.json``)."""
        if self._scorer is None:
            self._scorer = load_scorer()
        return self._scorer

    @property
    def engine(self) -> OcrEngine:
        if self._engine is None:
            self._engine = get_ocr_engine(self.settings)
        return self._engine

    # ------------------------------------------------------------------ public API

    def detect(self, image: np.ndarray, expected: Sequence[str] | None = None, *,
               font_path: str | Sequence[str] | None = None,
               report_unexpected: bool = False,
               logo: np.ndarray | None = None) -> list[Defect]:
        """Text defects of an RGB ``uint8`` ``[H, W, 3]`` poster.

        ``expected``: the copy the poster must carry (None = reference-free mode: only
        unreadable and collapsed text is reported). ``font_path``: the brand font file (or
        several: the best-fitting one is used per line) for the glyph-similarity signal.
        ``report_unexpected``: also report readable text no expected string claims.
        ``logo``: the brand's reference logo (RGB or RGBA): a line that reads as its
        wordmark and sits where the logo does (:meth:`_logo_lines`) is the logo's, not
        copy (the brand name may be both), and is left to the logo detector.
        """
        image = ensure_rgb_uint8(image)
        lines = self.engine(image)
        return self.detect_lines(image, lines, expected, font_path=font_path,
                                 report_unexpected=report_unexpected, logo=logo)

    def wordmarks(self, logo: np.ndarray) -> tuple[Wordmark, ...]:
        """The text a reference logo reads (its wordmark), from an RGB or RGBA ``uint8``
        image: read over white and over black (the wordmark may be light or dark), lines
        with >= 2 letters or digits and confidence >= ``LOGO_TEXT_SCORE``, and the reads of
        one row joined (an emblem's letter beside the name). Cached per logo."""
        from detectors.logo_reference import prepare_reference

        logo = np.asarray(logo)
        key = (logo.shape, str(logo.dtype), hash(logo.tobytes()))
        cache = self.__dict__.setdefault("_wordmarks", {})
        if key not in cache:
            prepare_reference(logo, name="logo")  # the logo detector's checks: one message
            alpha = logo[..., 3].astype(np.float32) / 255.0 if logo.shape[2] == 4 \
                else np.ones(logo.shape[:2], np.float32)
            rgb = logo[..., :3].astype(np.float32)
            grey = cv2.cvtColor(np.ascontiguousarray(logo[..., :3]), cv2.COLOR_RGB2GRAY)
            found: list[Wordmark] = []
            for back in (255.0, 0.0):
                img = np.clip(np.round(rgb * alpha[..., None] + back * (1.0 - alpha[..., None])),
                              0, 255).astype(np.uint8)
                pad = max(8, img.shape[0] // 8)
                img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                         value=(back, back, back))
                reads = [ln for ln in reading_order(self.engine(img))
                         if ln.score >= LOGO_TEXT_SCORE and normalize(ln.text)]
                if len(reads) > 1 and all(side_by_side(reads[0].box, ln.box) for ln in reads):
                    # reads side by side (an emblem letter and the name) may be one line on
                    # the poster: 'K' + 'Kalioto' read 'KKalioto' at 45 px wide
                    reads.append(OcrLine(
                        quad=Box.from_points([p for ln in reads for p in ln.quad]).as_quad(),
                        text="".join(ln.text for ln in reads), score=1.0))
                for ln in reads:
                    norm = normalize(ln.text)
                    if sum(ch.isalnum() for ch in norm) < 2 or any(wm.text == norm for wm in found):
                        continue
                    b = ln.box
                    box = (b.x0 - pad, b.y0 - pad, b.x1 - pad, b.y1 - pad)
                    found.append(Wordmark(norm, box, grey, alpha > 0.5))
            cache[key] = tuple(found)
        return cache[key]

    def _logo_lines(self, image: np.ndarray, lines: Sequence[OcrLine],
                    logo: np.ndarray) -> set[int]:
        """Lines that are the logo's wordmark: they read as it, and the reference logo
        laid over the poster where the wordmark puts it (at the scale of the line's height
        or of its width, times ``LOGO_SCALES``) matches the poster: NCC of grey levels
        inside the logo's alpha >= ``LOGO_LINE_MATCH``, or of the logo against its ground
        (:func:`_silhouette_ncc`) >= ``LOGO_SILHOUETTE_MATCH``."""
        out: set[int] = set()
        h, w = image.shape[:2]
        grey = None
        for wm in self.wordmarks(logo):
            wx0, wy0, wx1, wy1 = wm.box
            for k, ln in enumerate(lines):
                if not _reads_wordmark(normalize(ln.text), wm.text):
                    continue
                if grey is None:
                    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
                b = ln.box
                ncc = sil = -1.0
                # the scale from the quad's height, and from its width (a quad around a
                # wordmark on a plate takes in the plate above and below its glyphs)
                # (the quad's margins make both too large: the width's reaches down)
                bases = ((b.height / max(wy1 - wy0, 1), LOGO_SCALES),
                         (b.width / max(wx1 - wx0, 1), LOGO_WIDTH_SCALES))
                for s in dict.fromkeys(round(f * base, 4) for base, fs in bases for f in fs):
                    lw, lh = int(round(s * wm.grey.shape[1])), int(round(s * wm.grey.shape[0]))
                    if lw < 8 or lh < 8 or lw > w or lh > h:
                        continue
                    # centred on the quad's centre (its margins are about even); the
                    # window lets the logo shift by 15 % of its size
                    x0 = int(round((b.x0 + b.x1 - s * (wx0 + wx1)) / 2 - 0.15 * lw))
                    y0 = int(round((b.y0 + b.y1 - s * (wy0 + wy1)) / 2 - 0.15 * lh))
                    x0, y0 = max(x0, 0), max(y0, 0)
                    x1, y1 = min(x0 + int(1.3 * lw), w), min(y0 + int(1.3 * lh), h)
                    if x1 - x0 < lw or y1 - y0 < lh:
                        continue
                    # compared at most LOGO_MATCH_HEIGHT px tall
                    d = min(1.0, LOGO_MATCH_HEIGHT / lh)
                    tw, th = max(int(round(lw * d)), 4), max(int(round(lh * d)), 4)
                    win = cv2.resize(grey[y0:y1, x0:x1], (max(int(round((x1 - x0) * d)), tw),
                                                           max(int(round((y1 - y0) * d)), th)),
                                     interpolation=cv2.INTER_AREA)
                    ref = cv2.resize(wm.grey, (tw, th), interpolation=cv2.INTER_AREA)
                    inside = cv2.resize(wm.inside.astype(np.uint8), (tw, th),
                                        interpolation=cv2.INTER_NEAREST)
                    if ref[inside > 0].std() < 1e-3:
                        continue
                    res = cv2.matchTemplate(win, ref, cv2.TM_CCOEFF_NORMED, mask=inside)
                    res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
                    ncc = max(ncc, float(res.max()))
                    sil = max(sil, _silhouette_ncc(win, ref, wm.inside, (tw, th)))
                    if ncc >= LOGO_LINE_MATCH or sil >= LOGO_SILHOUETTE_MATCH:
                        break  # recognised: the other scales cannot undo it
                log.debug("line %r vs the logo's wordmark: NCC %.3f, silhouette %.3f",
                          ln.text, ncc, sil)
                if ncc >= LOGO_LINE_MATCH or sil >= LOGO_SILHOUETTE_MATCH:
                    out.add(k)
        return out

    def detect_lines(self, image: np.ndarray, lines: Sequence[OcrLine],
                     expected: Sequence[str] | None, *,
                     font_path: str | Sequence[str] | None = None,
                     report_unexpected: bool = False,
                     logo: np.ndarray | None = None) -> list[Defect]:
        """Like :meth:`detect`, on lines the engine already read from ``image``.

        Where an expected string has no place (:meth:`_unplaced`), the poster is scanned
        again at other detection scales (:meth:`_rescan`, ``rescan_sides``) and the lines
        found there that no line read so far covers join them, one scale at a time while
        a string has none (an erasure can break text up beyond what the detector finds
        at one scale and not at another)."""
        image = ensure_rgb_uint8(image)
        defects = self._detect_pass(image, lines, expected, font_path=font_path,
                                    report_unexpected=report_unexpected, logo=logo)
        if expected is None or not self.rescan_sides:
            return defects
        lines = list(lines)
        # the first pass's detection scale: a rescan within 10 % of it finds the same
        first = min(max(image.shape[:2]), int(self.settings.ocr_det_limit_side))
        scans = [(side, 0.0) for side in self.rescan_sides if abs(side - first) > 0.1 * first]
        scans += [(first, angle) for angle in self.rescan_angles]
        for side, angle in scans:
            if not self._unplaced(defects):
                break
            extra = self._rescan(image, lines, side, angle)
            if not extra:
                continue
            lines += extra
            defects = self._detect_pass(image, lines, expected, font_path=font_path,
                                        report_unexpected=report_unexpected, logo=logo)
        return defects

    def _unplaced(self, defects: Sequence[Defect]) -> bool:
        """Whether an expected string has no place: reported unlocalised, or matched only
        by its rendering where OCR found no line and judged clean there (a sharp match
        elsewhere than the string is: seed 25, an erased '$49.99' matched 0.79 on a
        47 px pattern)."""
        reported = {d.expected for d in defects}
        return any("not_localised" in d.reasons for d in defects) \
            or bool(self._local.passed_over - reported) or bool(self._local.weakly_placed)

    def _rescan(self, image: np.ndarray, lines: Sequence[OcrLine],
                side: int, angle: float = 0.0) -> list[OcrLine]:
        """Lines the engine detects on ``image`` scaled to ``side`` px on its long side
        and turned by ``angle`` degrees (counter-clockwise, on a canvas that holds it all)
        that no line of ``lines`` covers (at most ``RESCAN_COVERED`` of the new line's box
        inside one), mapped back and re-read at full resolution along their own
        direction."""
        h, w = image.shape[:2]
        s = side / max(h, w)
        small = cv2.resize(image, (max(int(round(w * s)), 1), max(int(round(h * s)), 1)),
                           interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        back = np.eye(3)
        if angle:
            sh, sw = small.shape[:2]
            m = cv2.getRotationMatrix2D((sw / 2.0, sh / 2.0), angle, 1.0)
            c, n = abs(m[0, 0]), abs(m[0, 1])
            nw, nh = int(math.ceil(sh * n + sw * c)), int(math.ceil(sh * c + sw * n))
            m[0, 2] += nw / 2.0 - sw / 2.0
            m[1, 2] += nh / 2.0 - sh / 2.0
            small = cv2.warpAffine(small, m, (nw, nh), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            back = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))
        found = []
        for ln in self.engine(small):
            pts = [back @ np.array([x, y, 1.0]) for x, y in ln.quad]
            q = normalize_quad([[p[0] / s, p[1] / s] for p in pts])
            b = Box.from_points(q).clamp(w, h)
            # a line read as junk does not cover its place: an arched line boxed whole
            # and read '' at one scale reads in pieces turned level
            if b.area == 0 or any(b.intersection(o.box) > RESCAN_COVERED * b.area
                                  for o in lines if not _unreadable(o)):
                continue
            found.append(q)
        if not found:
            return []
        crops = [_upscale(crop_line(image, q)) for q in found]
        reads = self.engine.recognize(crops)
        log.debug("rescan at %d px: %s", side, [(r.text, round(r.score, 2)) for r in reads])
        return [OcrLine(quad=q, text=r.text, score=r.score)
                for q, r in zip(found, reads, strict=False)]

    def _detect_pass(self, image: np.ndarray, lines: Sequence[OcrLine],
                     expected: Sequence[str] | None, *,
                     font_path: str | Sequence[str] | None,
                     report_unexpected: bool, logo: np.ndarray | None) -> list[Defect]:
        h, w = image.shape[:2]
        self._local.image = image
        self._local.passed_over = set()
        self._local.weakly_placed = set()
        self._local.logo_quads = []
        if logo is not None:
            skip = self._logo_lines(image, lines, logo)
            # the wordmark is no copy, but no place for copy either (masked in searches)
            self._local.logo_quads = [lines[k].quad for k in sorted(skip)]
            if skip and expected is not None:
                expected, skip = _run_into_wordmark(lines, skip, expected)
            lines = [ln for k, ln in enumerate(lines) if k not in skip]
        ordered = reading_order(lines)
        defects: list[Defect] = []
        regions: list[_Region] = []
        if expected is None:
            for ln in ordered:
                g = _LineGeom(ln)
                if _unreadable(ln):
                    if _text_like(ln):
                        defects.append(self._whole_line(g, "unreadable", None,
                                                        ("unreadable_read",), 1.0 - ln.score,
                                                        w, h))
                    continue
                regions.append(_Region(g, [0], list(g.order), None, ln.text, observed=ln.text))
        else:
            expected = [e for e in expected if normalize(e)]
            al = align(ordered, expected)
            defects += self._from_alignment(image, al, regions, report_unexpected,
                                            font_path if self.collapse_signals else None)
        if self.collapse_signals and regions:
            defects += self._collapsed(image, ordered, regions, font_path)
        return defects

    def reread(self, image: np.ndarray, box: Box, expected: str) -> ReRead:
        """Read the region ``box`` of ``image`` again and compare it with ``expected``.

        The box is padded by a quarter of its height, read by the engine (det + rec on the
        crop; recognition only when detection finds nothing), lines joined in reading order.
        ``matches``: the normalised read equals the normalised ``expected``, allowing one
        extra character at each end (slivers of neighbouring characters in the padding).
        """
        image = ensure_rgb_uint8(image)
        h, w = image.shape[:2]
        pad = max(2, int(round(box.height * 0.25)))
        crop_box = box.pad(pad).clamp(w, h)
        if crop_box.area == 0:
            raise InputError(f"box {box.as_list()} lies outside the {w}x{h} image")
        crop = np.ascontiguousarray(image[crop_box.slice()])
        lines = [ln for ln in reading_order(self.engine(crop)) if ln.text.strip()]
        if lines:
            observed = "".join(ln.text for ln in lines)
            score = float(min(ln.score for ln in lines))
        else:
            rec = self.engine.recognize([_upscale(crop)])
            observed, score = (rec[0].text, rec[0].score) if rec else ("", 0.0)
        return ReRead(matches=_reads_as(observed, expected), observed=observed, score=score)

    # ------------------------------------------------------------------ matching

    def _from_alignment(self, image: np.ndarray, al: Alignment, regions: list[_Region],
                        report_unexpected: bool,
                        font_path: str | Sequence[str] | None = None) -> list[Defect]:
        h, w = image.shape[:2]
        out: list[Defect] = []
        rows = _row_of(al.lines)
        wrong: list[_Region] = []
        for m in al.matches:
            for region in self._match_regions(al, rows, m):
                if region.n_bad or region.lead or region.trail:
                    wrong.append(region)
                else:
                    regions.append(region)
        # confirm each mismatch with a focused re-read (recognition only on the upscaled
        # line crop): a first read that was only OCR noise reads right the second time
        if wrong:
            crops = [_upscale(crop_quad(image, r.geom.line.quad, pad=0.1 * r.geom.height))
                     for r in wrong]
            for r, rr in zip(wrong, self.engine.recognize(crops), strict=False):
                if r.expected and not r.lead and not r.trail \
                        and normalize(rr.text) == normalize(r.expected) \
                        and not self._first_read_fits(image, r, font_path):
                    log.debug("re-read %r confirms %r", rr.text, r.expected)
                    r.n_bad, r.bad = 0, []
                    r.sources = list(r.geom.order)
                    r.observed = rr.text
                    regions.append(r)
                elif (grown := self._reread_cut_line(image, r)) is not None:
                    log.debug("re-read past the line's ends confirms %r", r.expected)
                    r.geom, r.lead, r.trail = _LineGeom(grown), 0, 0
                    r.sources = list(r.geom.order)
                    r.observed = grown.text
                    regions.append(r)
                else:
                    out.append(self._mismatch(r, w, h, font_path))
        leftovers = [li for li in range(len(al.lines)) if al.line_claimed_ratio(li) < 0.5]
        used: set[int] = set()
        unplaced: list[str] = []
        hosts: dict[str, int] = {}
        weak: list[str] = []  # put on a line that shares no character with them
        rendered: dict[str, object] = {}  # exp -> where its rendering fits near its host
        if font_path and al.missing and leftovers:
            hosts, rendered, shared = self._host_by_rendering(image, al, leftovers, font_path)
            used |= set(hosts.values())
            # a host picked by its looks alone may be another string's line: let the
            # blur search below place the string elsewhere if it finds it there
            weak += [e for e in hosts if e not in shared]
            for f in rendered.values():  # fragments the rendering covers are its read
                for li in leftovers:
                    lb = al.lines[li].box
                    if li not in used and lb.intersection(Box(*f.box)) >= 0.5 * max(lb.area, 1):
                        used.add(li)
        for exp in al.missing:
            if exp in hosts:
                continue
            li, shares = self._locate_missing(al, exp, leftovers, used)
            if li is None:
                unplaced.append(exp)
                continue
            used.add(li)
            hosts[exp] = li
            if not shares:
                weak.append(exp)
        if (unplaced or weak) and font_path:
            # the rendered string's own shape places it better than proportions do: a weak
            # host may be another missing string's blurred line
            free = set(leftovers) - {hosts[e] for e in hosts if e not in weak}
            found, crisp = self._search_missing(image, al, unplaced + weak, font_path, free,
                                                partial=unplaced)
            out += found
            for exp, (li, f) in crisp.items():
                if li is None:
                    if exp in unplaced:
                        # a line the OCR detector passed over: the collapsed-detail signals
                        # tell a clean one it missed from one that lost its detail (warp)
                        regions.append(self._undetected_region(f, exp, w, h))
                        self._local.passed_over.add(exp)
                        unplaced.remove(exp)
                    elif exp in weak and exp in hosts and f.score >= RENDER_MATCH and \
                            f.score > getattr(rendered.get(exp), "score", 0.0) + WEAK_MARGIN \
                            and not self._match_reads_nothing(image, f, exp):
                        # the string's own shape, sharp elsewhere, outweighs a host chosen
                        # by its looks alone (often another erased string's line), unless
                        # that place reads next to nothing (seed 25: a 50 px pattern read
                        # '' took an erased 'Yolufi' headline's host away)
                        used.discard(hosts.pop(exp))
                        rendered.pop(exp, None)
                        weak.remove(exp)
                        regions.append(self._undetected_region(f, exp, w, h))
                        self._local.passed_over.add(exp)
                    continue
                # a crisp match on a line OCR read as other text of the string's length:
                # the string with wrong characters (look-alikes read as what they are)
                ln = al.lines[li]
                n, m = len(normalize(exp)), len(al.line_norms[li].text)
                if li in used and hosts.get(exp) != li:
                    continue
                if not (_unreadable(ln) or ln.score < HOST_MAX_SCORE) \
                        and abs(n - m) > max(1, round(0.15 * n)):
                    continue
                if exp in hosts:
                    used.discard(hosts[exp])
                hosts[exp], rendered[exp] = li, f
                used.add(li)
                unplaced = [e for e in unplaced if e != exp]
            for d in found:
                if d.expected in hosts:
                    used.discard(hosts.pop(d.expected))
            for d in found:  # a line the found string covers is that string's read
                for li in leftovers:
                    lb = al.lines[li].box
                    if li not in used and lb.intersection(d.box) >= 0.5 * max(lb.area, 1):
                        used.add(li)
            placed = {d.expected for d in found}
            unplaced = [e for e in unplaced if e not in placed]
        # a string whose only place is a junk read sharing none of its characters, found
        # by proportions alone: a rescan may read its own line (an arched headline)
        self._local.weakly_placed = {e for e in weak if e in hosts and e not in rendered
                                     and _unreadable(al.lines[hosts[e]])}
        if hosts:
            regions += self._confirm_hosts(image, al, hosts, rendered, font_path)
        for exp, li in hosts.items():
            ln = al.lines[li]
            if exp in rendered:
                # the rendering's place spans the whole string, erased parts included;
                # a one-character read's quad gives no line direction (OCR tilted '每',
                # the piece left of an erased '每一天都更好', by 16 degrees): the upright
                # rendering's is taken
                g = _LineGeom(ln if len(al.line_norms[li].text) > 1 else
                              dataclasses.replace(ln, quad=ln.box.as_quad(), char_boxes=()))
                f = rendered[exp]
                fx0, fy0, fx1, fy1 = f.box
                cols = [g.col(pt) for pt in ((fx0, fy0), (fx1, fy0), (fx1, fy1), (fx0, fy1))]
                c0, c1 = min(min(cols), 0.0), max(max(cols), g.width)
                grown = (c0 < -0.5 * g.avg_char, c1 > g.width + 0.5 * g.avg_char)
                junk = _unreadable(ln)
                d = self._span_defect(
                    g, "unreadable" if junk else "missing", c0 if grown[0] else 0.0,
                    c1 if grown[1] else g.width, exp, ln.text, 1.0,
                    ("missing_text", "unreadable_read" if junk else "ocr_mismatch",
                     "rendered_match"),
                    (("ocr_score", ln.score), ("render_ncc", f.score)), w, h, grown=grown)
                if abs(g.u[1]) < 0.05 and d.box.height < 0.7 * (fy1 - fy0):
                    # upright, and its ink far shorter than the string: rows erased above
                    # or below count too
                    box = Box(min(d.box.x0, fx0), min(d.box.y0, fy0), max(d.box.x1, fx1),
                              max(d.box.y1, fy1)).clamp(w, h)
                    rep = Box.from_points(d.repair_region)
                    pad = int(round(REPAIR_MARGIN * g.height))
                    rep = Box(min(rep.x0, box.x0 - pad), min(rep.y0, box.y0 - pad),
                              max(rep.x1, box.x1 + pad), max(rep.y1, box.y1 + pad)).clamp(w, h)
                    d = dataclasses.replace(d, box=box, quad=box.as_quad(),
                                            repair_quad=rep.as_quad())
                out.append(d)
            elif _unreadable(ln):
                out.append(self._whole_line(_LineGeom(ln), "unreadable", exp,
                                            ("missing_text", "unreadable_read"), 1.0, w, h))
            else:
                # a read that holds part of the string: grow over the absent characters
                g = _LineGeom(ln)
                lead, trail = (0, 0) if exp in weak else \
                    _absent_ends(normalize(exp), al.line_norms[li].text)
                out.append(self._span_defect(
                    g, "missing", -lead * g.avg_char, g.width + trail * g.avg_char, exp,
                    ln.text, 1.0, ("missing_text", "ocr_mismatch"),
                    (("ocr_score", ln.score),), w, h, grown=(lead > 0, trail > 0)))
        for exp, li in _pair_by_length(al, unplaced, [li for li in leftovers if li not in used]):
            # a confident read of other text where nothing else explains either: the
            # string with every character wrong ('€25' drawn as what reads 'aZj')
            used.add(li)
            unplaced.remove(exp)
            out.append(self._whole_line(_LineGeom(al.lines[li]), "mismatch", exp,
                                        ("missing_text", "ocr_mismatch", "same_length"), 1.0,
                                        w, h))
        if unplaced:
            out += self._place_missing(image, al, unplaced)
        for li in leftovers:
            ln = al.lines[li]
            if li in used or _unreadable(ln):
                # junk that no string claims is a pattern, a relief or fine print the copy
                # does not list, not a defect of the copy (issue 21: 4 of the 9 clean real
                # posters flagged were such reads)
                continue
            if (near := _near_copy(al, li)) is not None:
                # a second, wrong copy of a string that reads right elsewhere (e.g. the
                # brand name in the logo and, misspelt, in a headline)
                out.append(self._whole_line(_LineGeom(ln), "mismatch", near,
                                            ("ocr_mismatch", "near_copy"), 1.0, w, h))
            elif report_unexpected:
                out.append(self._whole_line(_LineGeom(ln), "unexpected", None,
                                            ("unexpected_text",), float(ln.score), w, h))
        return out

    def _match_regions(self, al: Alignment, rows: list[int], m: Match) -> list[_Region]:
        """Split a match into rows; merge the lines it touches in each row."""
        all_ops = list(m.ops)
        line_of: list[int | None] = []
        for k, op in enumerate(all_ops):
            if op.op != "D":
                li = al.doc[op.doc].line
                line_of.append(li if li >= 0 else None)  # extra line breaks: nobody's
                continue
            li = None
            for o in list(reversed(all_ops[:k])) + list(all_ops[k + 1:]):
                if o.op != "D" and al.doc[o.doc].line >= 0:
                    li = al.doc[o.doc].line
                    break
            line_of.append(li)
        by_row: dict[int, list[int]] = {}
        for k, li in enumerate(line_of):
            if li is not None:
                by_row.setdefault(rows[li], []).append(k)
        # a row holding fewer than 2 matched characters of a string that lives on another
        # row is a stray alignment: its characters count as absent from the main row
        kept = {r: sum(1 for k in ks if all_ops[k].op == "M") for r, ks in by_row.items()}
        if kept:
            main = max(kept, key=lambda r: kept[r])
            for r in [r for r in by_row if r != main and kept[r] < 2]:
                for k in by_row.pop(r):
                    if all_ops[k].op in ("M", "S"):
                        all_ops[k] = AlignOp("D", all_ops[k].exp, all_ops[k].doc)
                        by_row[main].append(k)
                by_row[main].sort()
        exp_norm = normalize_with_map(m.expected)
        out = []
        for _row, ks in sorted(by_row.items()):
            lis = sorted({line_of[k] for k in ks if all_ops[k].op != "D"})
            if not lis:
                continue
            merged, offsets = _merge_lines([al.lines[li] for li in lis])
            g = _LineGeom(merged)
            off = dict(zip(lis, offsets, strict=True))
            ops = [all_ops[k] for k in ks]

            def src(op, off=off):
                d = al.doc[op.doc]
                return off[d.line] + d.source

            read = [k for k, op in enumerate(ops) if op.op != "D"]
            lead = read[0] if read else 0
            trail = len(ops) - 1 - read[-1] if read else 0
            sources = sorted({src(ops[k]) for k in read})
            region = _Region(
                geom=g, lines=lis, sources=sources,
                expected=_expected_sub(m.expected, exp_norm, [o.exp for o in ops if o.exp >= 0]),
                render="", full_expected=m.expected, lead=lead, trail=trail,
                src_exp={src(op): op.exp for op in ops if op.op == "M"},
                observed="".join(g.line.text[s] for s in sources),
            )
            region.render = region.expected or ""
            region.bad_exp = [op.exp for op in ops if op.op in ("S", "D") and op.exp >= 0]
            avg = g.avg_char
            for k, op in enumerate(ops):
                if op.op in ("S", "I"):
                    region.n_bad += 1
                    region.bad.append(g.cells.get(src(op), (0.0, g.width)))
                elif op.op == "D" and read and read[0] < k < read[-1]:
                    region.n_bad += 1
                    left = next(src(ops[j]) for j in reversed(read) if j < k)
                    right = next(src(ops[j]) for j in read if j > k)
                    a = g.cells.get(left, (0.0, 0.0))[1]
                    b = g.cells.get(right, (g.width, g.width))[0]
                    if b - a < avg:
                        a, b = (a + b - avg) / 2.0, (a + b + avg) / 2.0
                    region.bad.append((a, b))
            if lead:
                c = g.cells.get(sources[0], (0.0, 0.0))[0] if sources else 0.0
                region.bad.append((c - lead * avg, c))
            if trail:
                c = g.cells.get(sources[-1], (g.width, g.width))[1] if sources else g.width
                region.bad.append((c, c + trail * avg))
            out.append(region)
        return out

    def _reread_cut_line(self, image: np.ndarray, r: _Region) -> OcrLine | None:
        """The line of a region whose read is the expected string cut short (characters
        absent only at its ends, all others right), read again by detection and
        recognition (recognition alone first) on the line's quad grown over the absent
        characters (by
        ``CUT_READ_GROWTH`` of their estimated width and half the line height), when that
        finds one line reading as the whole string with confidence >= ``CUT_READ_SCORE``;
        else None.

        OCR's detector sometimes boxes only part of a clean line ('llection' of 'Autumn
        Collection', 'Valid until 31' of 'Valid until 31 Dec': 8 of the 35 false
        positives on 13 tuning seeds were such cuts, read again at 0.96-1.0); an erased
        end reads as absent again, so the mismatch stands. Lines cut short by broken
        strokes read again at 0.88-0.98 (4 of 5 below the bar)."""
        if not r.expected or r.n_bad or not (r.lead or r.trail) or len(r.lines) != 1:
            return None
        g = r.geom
        h, w = image.shape[:2]
        c0, c1 = (0.0, g.width) if r.whole else g.span(r.sources)
        c0 -= CUT_READ_GROWTH * r.lead * g.avg_char + 0.5 * g.height
        c1 += CUT_READ_GROWTH * r.trail * g.avg_char + 0.5 * g.height
        box = Box.from_points(g.subquad(c0, c1)).pad(int(0.25 * g.height)).clamp(w, h)
        if box.area == 0:
            return None
        crop = np.ascontiguousarray(image[box.slice()])
        # recognition alone first (a few ms): an erased end reads cut again
        rec = self.engine.recognize([_upscale(crop)])
        if not rec or normalize(rec[0].text) != normalize(r.expected):
            return None
        lines = [ln for ln in self.engine(crop) if ln.text.strip()]
        if len(lines) != 1 or normalize(lines[0].text) != normalize(r.expected) \
                or lines[0].score < CUT_READ_SCORE:
            return None
        ln = lines[0]
        quad = normalize_quad([[x + box.x0, y + box.y0] for x, y in ln.quad])
        return OcrLine(quad=quad, text=ln.text, score=ln.score)

    def _mismatch(self, r: _Region, w: int, h: int,
                  font_path: str | Sequence[str] | None = None) -> Defect:
        g = r.geom
        n_bad = r.n_bad + r.lead + r.trail
        score = min(1.0, 0.5 + 0.5 * n_bad / max(len(normalize(r.expected or "")), 1))
        expected, observed = r.expected, r.observed
        if self.localize == "chars" and r.bad:
            c0, c1 = min(b[0] for b in r.bad), max(b[1] for b in r.bad)
            if r.full_expected and r.bad_exp:
                expected = _expected_sub(r.full_expected, normalize_with_map(r.full_expected),
                                         r.bad_exp)
            inside = [s for s in r.sources if s in g.cells
                      and g.cells[s][1] > c0 and g.cells[s][0] < c1]
            observed = "".join(g.line.text[s] for s in inside)
        else:
            c0, c1 = r.columns()
        if (r.lead or r.trail) and font_path:
            grown = _absent_columns(r, _font_list(font_path))
            if grown is not None:
                c0 = min(c0, grown[0]) if r.lead else c0
                c1 = max(c1, grown[1]) if r.trail else c1
        details = (("edit_distance", float(n_bad)), ("ocr_score", g.line.score))
        keep = (min(b[0] for b in r.bad), max(b[1] for b in r.bad)) if r.bad else None
        return self._span_defect(g, "mismatch", c0, c1, expected, observed, score,
                                 ("ocr_mismatch",), details, w, h,
                                 grown=(r.lead > 0, r.trail > 0), keep=keep)

    def _place_missing(self, image: np.ndarray, al: Alignment,
                       missing: list[str]) -> list[Defect]:
        """Put expected strings no OCR line holds on ink blobs the OCR detector left out
        (text blurred or broken beyond detection), matched by aspect ratio; the rest are
        reported unlocalised (whole image box, reason ``not_localised``)."""
        h, w = image.shape[:2]
        props = ink_proposals(image, [np.asarray(ln.quad) for ln in al.lines]) \
            if self.place_on_ink else []
        free = list(range(len(props)))
        out: list[Defect] = []
        for exp in sorted(missing, key=lambda e: -len(normalize(e))):
            want = math.log(_aspect_guess(exp))
            best, best_d = None, math.log(MAX_ASPECT_MISFIT)
            for k in free:
                x0, y0, x1, y1 = props[k]
                d = abs(math.log(max(x1 - x0, 1) / max(y1 - y0, 1)) - want)
                if d < best_d:
                    best, best_d = k, d
            if best is None:
                full = Box(0, 0, w, h)
                out.append(Defect(kind="text", category="missing", box=full,
                                  quad=full.as_quad(), expected=exp, observed=None, score=1.0,
                                  reasons=("missing_text", "not_localised")))
                continue
            free.remove(best)
            x0, y0, x1, y1 = props[best]
            pad = int(round(PROPOSAL_PAD * (y1 - y0)))
            box = Box(x0, y0, x1, y1).pad(pad).clamp(w, h)
            out.append(Defect(kind="text", category="unreadable", box=box, quad=box.as_quad(),
                              expected=exp, observed="", score=0.9,
                              reasons=("missing_text", "undetected_ink"),
                              repair_quad=box.as_quad()))
        return out

    def _search_missing(self, image: np.ndarray, al: Alignment, missing: list[str],
                        font_path: str | Sequence[str], free: set[int],
                        partial: Sequence[str] = ()
                        ) -> tuple[list[Defect], dict[str, tuple[int, object]]]:
        """Search the poster for each missing string rendered in the brand font
        (:func:`detectors.text_search.search_rendered`; read lines other than the ``free``
        ones are masked out); a
        match of NCC >= ``RENDER_MATCH`` whose edges are soft (blur: edge width >=
        ``SOFT_EDGE_PX`` and >= ``SOFT_EDGE_REL`` of its height) is the string, collapsed
        beyond detection. The box grows by ``BLUR_HALO`` of the font size (the blurred
        ink's halo). A sharp match is returned apart, as ``{string: (line, match)}``:
        ``line`` is the free line it lies on (:func:`_lies_on`), a line OCR read as
        other text that looks like the string, or None where OCR found no line (more
        often a clean line the detector missed than a wrong one: the caller lets the
        collapsed-detail signals judge it).
        """

        h, w = image.shape[:2]
        fonts = _font_list(font_path)
        mask = self._read_mask(al, (h, w), keep=free)
        out: list[Defect] = []
        crisp: dict[str, tuple[int, object]] = {}
        queue = sorted(missing, key=lambda e: -len(normalize(e)))
        taken: dict[str, tuple[int, int, int, int]] = {}  # a string's place taken by another
        while queue:
            exp = queue.pop(0)
            m = mask
            if exp in taken:
                m = mask.copy()
                cv2.rectangle(m, taken[exp][:2], taken[exp][2:], 255, -1)
            f = search_rendered(image, exp, fonts, mask=m)
            soft = edge_width(image, f.box) if f is not None else 0.0
            weak_soft = f is not None and (soft < SOFT_EDGE_PX
                                           or soft < SOFT_EDGE_REL_LOW * (f.box[3] - f.box[1]))
            if f is None or f.score < RENDER_MATCH_SOFT or (f.score < RENDER_MATCH and weak_soft):
                # a weak match counts only where it is plainly blurred; a string OCR
                # found nowhere may be partly erased: look for what is left of it
                if exp in partial:
                    d, whole = self._partly_erased(image, exp, fonts, mask)
                    if d is not None:
                        cv2.rectangle(mask, (d.box.x0, d.box.y0), (d.box.x1, d.box.y1), 255, -1)
                        out.append(d)
                    elif whole is not None:
                        crisp[exp] = (None, whole)
                continue
            x0, y0, x1, y1 = f.box
            if soft < SOFT_EDGE_PX or soft < SOFT_EDGE_REL * (y1 - y0):
                log.debug("rendered %r matches %.3f at %s but its edges are sharp (%.1f px)",
                          exp, f.score, f.box, soft)
                fb = Box(x0, y0, x1, y1)
                # one place holds one string: of sharp matches on one place (a clean
                # '全场五折' OCR passed over, 0.99, and erased '开业大吉' / '夏季大促' there
                # at 0.87) the best keeps it, the others look again elsewhere, once
                rival = next((e for e, (_li, g) in crisp.items()
                              if Box(*g.box).iou(fb) > 0.3), None)
                if rival is not None:
                    loser = exp if crisp[rival][1].score >= f.score else rival
                    if loser == rival:
                        del crisp[rival]
                    if loser not in taken:
                        taken[loser] = (x0, y0, x1, y1)
                        queue.insert(0, loser)
                    if loser == exp:
                        continue
                on = [li for li in free if _lies_on(fb, al.lines[li].box)]
                crisp[exp] = (max(on, key=lambda li: al.lines[li].box.iou(fb)) if on else None,
                              f)
                continue
            d = _blurred(exp, f, soft, w, h)
            if d is None:
                continue
            cv2.rectangle(mask, (d.box.x0, d.box.y0), (d.box.x1, d.box.y1), 255, -1)
            out.append(d)
        return out, crisp

    def _partly_erased(self, image: np.ndarray, exp: str, fonts: Sequence[str],
                       mask: np.ndarray) -> tuple[Defect | None, object]:
        """The place of a string OCR found nowhere, by the part of its rendering an
        erasure would leave (``PART_KEEPS``: its top or bottom, left or right half): a
        match of NCC >= ``PART_MATCH`` with crisp edges, the rendering at least
        ``PART_MIN_WIDTH`` wide, and the rest of its box nearly bare (``PART_GONE``: a
        clean line half over a background shape matches by its other half). The box is
        the whole rendering's (the erased part included). Where the whole rendering
        fits there too (NCC >= ``PART_WHOLE_FIT``; the coarse whole search had missed
        it), nothing is erased: returns (None, that place), a sharp match for the image
        signals to judge; else (defect or None, None). A match in the doubtful band
        (NCC >= ``PART_MATCH_DOUBT``, the rest holding <= ``PART_GONE_DOUBT``: a clean line
        half over a background shape may look so) counts when the whole rendering's
        place, read focused, reads as text (:func:`_reads_nothing`) other than the
        string ('SCJ' for an erased 'Sollu'; seed 17: a logo's plate read ''), that
        shares characters with it (:func:`_shares`) or reads poorly (confidence <
        ``HOST_MAX_SCORE``); a read nearly the string (edit distance <= 15 %) leaves the
        place to the image signals, as where the whole fits. A part match of NCC >=
        ``RENDER_MATCH`` whose edges are soft (as in :meth:`_search_missing`) is the
        string blurred: *collapsed*, boxed like a blurred whole match."""
        h, w = image.shape[:2]
        best, best_keep = None, None
        for keep in PART_KEEPS:
            f = search_rendered(image, exp, fonts, mask=mask, keep=keep)
            if f is not None and (best is None or f.score > best.score):
                best, best_keep = f, keep
        if best is None:
            return None, None
        soft = edge_width(image, best.box)
        gone = _edge_share(image, best.box, best_keep)
        log.debug("rendered %r, partly kept, matches %.3f at %s (edges %.1f px, the rest "
                  "holds %.2f of the kept part's edges)", exp, best.score, best.box, soft, gone)
        if best.score >= RENDER_MATCH and soft >= SOFT_EDGE_PX \
                and soft >= SOFT_EDGE_REL * (best.box[3] - best.box[1]):
            # soft edges: the string blurred beyond the whole search's reach (seed 28:
            # 'Best Sellers' by its half at 0.96, edges 13 px), as in _search_missing
            return _blurred(exp, best, soft, w, h), None
        if best.score < PART_MATCH_DOUBT or soft >= SOFT_EDGE_PX or soft == 0.0 \
                or best.box[2] - best.box[0] < PART_MIN_WIDTH or gone > PART_GONE_DOUBT:
            return None, None
        whole = search_near(image, exp, fonts, best.box, mask=mask)
        if whole is not None and whole.score >= PART_WHOLE_FIT:
            log.debug("... and so does the whole rendering (%.3f): not erased", whole.score)
            return None, whole
        box = Box(*best.box).clamp(w, h)
        if box.area == 0:
            return None, None
        sure = best.score >= PART_MATCH and gone <= PART_GONE
        if not sure:
            rr = self.engine.recognize([_place_crop(image, box)])[0]
            log.debug("... doubtful; its place reads %r (%.3f)", rr.text, rr.score)
            norm, read = normalize(exp), normalize(rr.text)
            if _reads_as(rr.text, exp) \
                    or (_reads_nothing(rr.text, norm) and not _piece_of(norm, read)) \
                    or not (_shares(norm, read) or rr.score < HOST_MAX_SCORE):
                # the string itself; no text (a logo's plate; but a piece of the string
                # is what an erasure leaves: 'y Day', 'On'); or other text read surely,
                # sharing nothing ('aZj' where '€25' was drawn as other letters)
                return None, None
            if edit_distance(read, norm) <= max(1, round(0.15 * len(norm))):
                # nearly the string: a clean small line OCR passed over ('...理田' for
                # '...理由') or one that lost little ('MEGACALE'): the image signals judge
                # the whole rendering's place
                return None, best
        rep = box.pad(int(round(REPAIR_MARGIN * best.size))).clamp(w, h)
        return Defect(kind="text", category="missing", box=box, quad=box.as_quad(),
                      expected=exp, observed="", score=float(best.score),
                      reasons=("missing_text", "rendered_match", "partly_erased"),
                      repair_quad=rep.as_quad(),
                      details=(("render_ncc", float(best.score)),
                               ("font_size_px", float(best.size)),
                               ("whole_ncc", float(whole.score) if whole else 0.0))), None

    def _match_reads_nothing(self, image: np.ndarray, f, exp: str) -> bool:
        """Whether the place of a rendering's match (padded by 15 % of its height,
        upscaled, recognition only) reads next to nothing (:func:`_reads_nothing`)."""
        h, w = image.shape[:2]
        crop = _place_crop(image, Box(*f.box))
        if crop is None:
            return True
        rr = self.engine.recognize([crop])[0]
        log.debug("the match of %r at %s reads %r", exp, f.box, rr.text)
        return _reads_nothing(rr.text, normalize(exp))

    @staticmethod
    def _undetected_region(f, exp: str, w: int, h: int) -> _Region:
        """A region for ``exp`` where its rendering matched sharply but OCR found no line:
        a line quad around the match (with the detector's usual margin of ~15 % of its
        height), read as the string itself, so that only the image signals judge it."""
        x0, y0, x1, y1 = f.box
        m = 0.15 * (y1 - y0)
        bx0, by0 = max(x0 - m, 0.0), max(y0 - m, 0.0)
        bx1, by1 = min(x1 + m, float(w)), min(y1 + m, float(h))
        line = OcrLine(quad=((bx0, by0), (bx1, by0), (bx1, by1), (bx0, by1)), text=exp,
                       score=1.0)
        g = _LineGeom(line)
        return _Region(g, [], list(g.order), exp, exp, full_expected=exp, observed="")

    def _confirm_hosts(self, image: np.ndarray, al: Alignment, hosts: dict[str, int],
                       rendered: dict, font_path: str | Sequence[str] | None
                       ) -> list[_Region]:
        """Drop the hosts that were OCR noise: read again, focused (the rendering's place,
        or the line, upscaled, recognition only, one batch), they read as their string,
        and their first read does not fit the ink better than the string (see
        :meth:`_first_read_fits`). Returns their lines as regions of their string, for
        the collapsed-detail signals (a warp OCR reads right when focused)."""
        out: list[_Region] = []
        h, w = image.shape[:2]
        items = list(hosts.items())
        crops = []
        for exp, li in items:
            ln = al.lines[li]
            if exp in rendered:
                crops.append(_place_crop(image, Box(*rendered[exp].box)))
            else:
                crops.append(_upscale(crop_quad(image, ln.quad, pad=0.1 * ln.height)))
        for (exp, li), rr in zip(items, self.engine.recognize(crops), strict=False):
            if not _reads_as(rr.text, exp):
                continue
            ln = al.lines[li]
            g = _LineGeom(ln)
            r = _Region(g, [li], list(g.order), exp, exp, observed=ln.text)
            if self._first_read_fits(image, r, font_path, any_length=True):
                continue
            log.debug("host %r of %r re-reads as %r: OCR noise", ln.text, exp, rr.text)
            del hosts[exp]
            f = rendered.pop(exp, None)
            if f is not None and Box(*f.box).area > 1.5 * ln.box.area:
                # the host was a fragment of the string: judge the whole rendering's place
                out.append(dataclasses.replace(self._undetected_region(f, exp, w, h),
                                               observed=rr.text))
                continue
            out.append(_Region(g, [li], list(g.order), exp, exp, full_expected=exp,
                               observed=rr.text))
        return out

    def _first_read_fits(self, image: np.ndarray, r: _Region,
                         font_path: str | Sequence[str] | None, *,
                         any_length: bool = False) -> bool:
        """Whether the first read of a region, which a re-read took for the expected text,
        fits the line's ink better than the expected text does: rendered in the brand
        font, the mean glyph similarity of the read exceeds the expected's by
        ``FIRST_READ_MARGIN`` (a look-alike character that the re-read "corrected")."""
        fonts = _font_list(font_path)
        if not fonts or not normalize(r.observed) or (
                not any_length and len(normalize(r.observed)) != len(normalize(r.expected or ""))):
            return False
        try:
            prep = prepare_line(crop_line(image, r.geom.line.quad))
        except InputError:
            return False
        got_exp = self._glyph(prep, r, fonts)
        got_obs = self._glyph(prep, dataclasses.replace(r, render=r.observed),
                              fonts)
        if got_exp is None or got_obs is None:
            return False
        exp_fit, obs_fit = float(got_exp[0].mean()), float(got_obs[0].mean())
        log.debug("first read %r fits %.3f, expected %r %.3f", r.observed, obs_fit,
                  r.expected, exp_fit)
        return obs_fit > exp_fit + FIRST_READ_MARGIN

    def _read_mask(self, al: Alignment, shape: tuple[int, int], keep: set[int]) -> np.ndarray:
        """uint8 mask, 255 on the read lines other than ``keep`` and on the logo's
        wordmark: where a missing string cannot be."""
        mask = np.zeros(shape, np.uint8)
        quads = [ln.quad for li, ln in enumerate(al.lines) if li not in keep]
        for q in quads + list(getattr(self._local, "logo_quads", [])):
            cv2.fillPoly(mask, [np.round(np.asarray(q)).astype(np.int32)], 255)
        return mask

    @staticmethod
    def _own_fit(image: np.ndarray, ln: OcrLine, fonts: Sequence[str],
                 mask: np.ndarray | None = None) -> float:
        """NCC of the line's own read, rendered in the brand font, near the line."""
        b = ln.box
        own = search_near(image, ln.text, fonts, (b.x0, b.y0, b.x1, b.y1), mask=mask)
        return own.score if own is not None else 0.0

    def _host_by_rendering(self, image: np.ndarray, al: Alignment, leftovers: list[int],
                           font_path: str | Sequence[str]
                           ) -> tuple[dict[str, int], dict, set[str]]:
        """Left-over lines that host missing strings, found by where each string's
        rendering in the brand font fits near the line
        (:func:`detectors.text_search.search_near`, NCC ``ncc``).

        A pair is eligible when the line shares characters with the string (see
        :func:`_shares`) and ``ncc >= HOST_NCC_SHARED``; when its read is poor (junk or
        confidence < ``HOST_MAX_SCORE``) and ``ncc >= HOST_NCC_POOR``; or when
        ``ncc >= HOST_NCC`` and the rendering of the line's own read fits it no better
        than the string's does (by ``READ_FIT_MARGIN``; other copy, or a logo's wordmark,
        reads and looks like itself). Anchors are single lines and runs of 2-3 left-over
        lines side by side in a row; a run whose lines all share characters with the
        string replaces its lines as anchors for it, and its rendering must cover each
        of them (and end with them, at ``ncc >= HOST_NCC_SPAN``, when they hold its first
        and last characters). Pairs are taken greedily, best NCC first (sharing adds
        ``SHARED_BONUS``); one place per string, places overlapping by IoU <= 0.3.
        Returns (string -> anchor line, string -> its rendering's place, the strings
        whose host shares characters with them).
        """

        fonts = _font_list(font_path)
        h, w = image.shape[:2]
        mask = self._read_mask(al, (h, w), keep=set(leftovers))
        # anchors: each left-over line, and runs of 2-3 left-over lines side by side in
        # one row (the pieces an erasure leaves)
        rows = _row_of(al.lines)
        anchors: list[tuple[int, Box, str, list[int]]] = [
            (li, al.lines[li].box, al.line_norms[li].text, [li]) for li in leftovers]
        for k, li in enumerate(leftovers):
            run = [li]
            for lj in leftovers[k + 1:k + 3]:
                prev = al.lines[run[-1]].box
                nb = al.lines[lj].box
                if lj != run[-1] + 1 or rows[lj] != rows[li] \
                        or nb.x0 - prev.x1 > 3 * max(prev.height, nb.height):
                    break
                run.append(lj)
                union = Box.from_points([pt for j in run for pt in al.lines[j].quad])
                anchors.append((li, union, "".join(al.line_norms[j].text for j in run),
                                list(run)))
        own_fit: dict[int, float] = {}
        pairs = []
        for exp in al.missing:
            norm = normalize(exp)
            # a run whose lines all share characters with the string holds its pieces:
            # its rendering must cover each of them, and the pieces are not anchors alone
            # (with '冬' and '价' of an erased '冬日暖心价' read, matches of 0.52-0.58 put
            # the rendering over one of them at a wrong scale)
            runs = [run for _li, _b, _r, run in anchors if len(run) > 1 and all(
                _shares(norm, al.line_norms[j].text) for j in run)]
            in_run = {j for run in runs for j in run}
            for li, b, read, run in anchors:
                ln = al.lines[li]
                if len(run) == 1 and li in in_run:
                    continue
                pieces = [tuple(al.lines[j].box.as_list()) for j in run] if run in runs else []
                # pieces holding the string's first and last characters: it ends with them
                spans = bool(pieces) and al.line_norms[run[0]].text[:1] == norm[:1] \
                    and al.line_norms[run[-1]].text[-1:] == norm[-1:]
                # a read that begins or ends as the string does (two characters) holds
                # that end of it: '爱心价' of an erased '冬日暖心价' put its rendering past
                # its right end (box IoU 0.36-0.44)
                # a sure read holding an end of the string places it by that end alone
                # (the whole rendering's NCC falls with the erased rest, at the right
                # scale as much as at wrong ones: 'Grand' of an erased 'Grand Opening'
                # put a rendering 0.6x its size there, 0.571 against 0.561); a junk
                # read's end is chance (seed 28: '动1111' ends as '11.01-11.11' does)
                held = None if pieces or _unreadable(ln) or ln.score < HOST_MAX_SCORE \
                    else _held_end(exp, read, fonts)
                f = search_near(image, exp, fonts, (b.x0, b.y0, b.x1, b.y1), mask=mask,
                                pieces=pieces,
                                starts=spans or (len(read) >= 2 and norm.startswith(read[:2])),
                                ends=spans or (len(read) >= 2 and norm.endswith(read[-2:])),
                                keep=held)
                if f is None:
                    continue
                shares = _shares(norm, read)
                ok = shares and f.score >= (HOST_NCC_SPAN if spans else HOST_NCC_SHARED)
                poor = _unreadable(ln) or ln.score < HOST_MAX_SCORE
                if not ok and poor:
                    ok = f.score >= HOST_NCC_POOR
                elif not ok and f.score >= HOST_NCC:
                    if li not in own_fit:
                        own_fit[li] = self._own_fit(image, ln, fonts, mask)
                    ok = f.score >= own_fit[li] - READ_FIT_MARGIN
                if ok:
                    fb = Box(*f.box)
                    off = 1.0 - fb.intersection(b) / max(fb.area, 1)
                    pairs.append((f.score + (SHARED_BONUS if shares else 0.0)
                                  - OFF_ANCHOR * off, exp, li, f, shares))
        hosts: dict[str, int] = {}
        found: dict[str, object] = {}
        shared: set[str] = set()
        taken: list[Box] = []
        for _key, exp, li, f, shares in sorted(pairs, key=lambda p: -p[0]):
            fb = Box(*f.box)
            if exp in hosts or any(fb.iou(t) > 0.3 for t in taken):
                continue
            hosts[exp], found[exp] = li, f
            taken.append(fb)
            if shares:
                shared.add(exp)
            log.debug("missing %r hosted by %r (render NCC %.3f)", exp, al.lines[li].text,
                      f.score)
        return hosts, found, shared

    def _locate_missing(self, al: Alignment, exp: str, leftovers: list[int],
                        used: set[int]) -> tuple[int | None, bool]:
        """The left-over line that hosts missing ``exp``, and whether it shares characters
        with it (else it was chosen by its proportions and a poor read)."""
        norm = normalize(exp)
        # a digit read for its look-alike letter ('0 $5' for an erased 'O   $5' of
        # 'Only $5') shares it
        folded = _fold_alikes(norm)
        best, best_key = None, None
        for li in leftovers:
            if li in used:
                continue
            ln = al.lines[li]
            common = _lcs_len(folded, _fold_alikes(al.line_norms[li].text))
            shared_cjk = {c for c in norm if is_cjk(c)} & set(al.line_norms[li].text)
            if common < MIN_SHARED * len(norm) and not shared_cjk:
                common = 0  # a Latin letter or two in common is chance, a hanzi is not
            junk = _unreadable(ln)
            g = _LineGeom(ln)
            misfit = abs(math.log(g.width / g.height) - math.log(_aspect_guess(exp)))
            # a line sharing no character must at least have the string's proportions
            # and read poorly (a confident read of other text is other copy)
            if common == 0 and (misfit > math.log(MAX_ASPECT_MISFIT)
                                or (not junk and ln.score >= HOST_MAX_SCORE)):
                continue
            key = (common, junk, -misfit)
            if best_key is None or key > best_key:
                best, best_key = li, key
        return best, bool(best_key and best_key[0] > 0)

    # ------------------------------------------------------------------ defects

    def _whole_line(self, g: _LineGeom, category: str, expected: str | None,
                    reasons: tuple[str, ...], score: float, w: int, h: int) -> Defect:
        return self._span_defect(g, category, 0.0, g.width, expected, g.line.text,
                                 min(max(score, 0.0), 1.0), reasons,
                                 (("ocr_score", g.line.score),), w, h)

    def _span_defect(self, g: _LineGeom, category: str, c0: float, c1: float,
                     expected: str | None, observed: str | None, score: float,
                     reasons: tuple[str, ...], details: tuple, w: int, h: int,
                     grown: tuple[bool, bool] = (False, False), tight: bool = True,
                     keep: tuple[float, float] | None = None) -> Defect:
        # tight on the ink (the detector's quads carry a margin around the text), except
        # at an end grown over absent characters, and where ``tight`` is off (blurred ink
        # fades into the background: the quad holds it better than an ink map). ``keep``:
        # columns the box holds whatever the ink map says (the wrong characters: an ink
        # map that failed over part of the line must not cut them off)
        image = getattr(self._local, "image", None)
        ink = g.ink(image) if image is not None and tight else None
        if ink is not None:
            ix0, iy0, ix1, iy1 = ink
            k0, k1 = keep if keep is not None else (c1, c0)
            quad = g.subquad(c0 if grown[0] else max(c0, min(ix0 - 1, k0)),
                             c1 if grown[1] else min(c1, max(ix1 + 1, k1)), iy0 - 1, iy1 + 1)
        else:
            quad = g.subquad(c0, c1)
        s0, s1 = g.snapped(c0, c1)
        repair = pad_quad(g.subquad(s0, s1), REPAIR_MARGIN * g.height)
        return Defect(kind="text", category=category, box=_box_of(quad, w, h), quad=quad,
                      expected=expected, observed=observed, score=float(score),
                      reasons=reasons, repair_quad=repair,
                      details=tuple((k, float(v)) for k, v in details))

    # ------------------------------------------------------------------ collapsed detail

    def _collapsed(self, image: np.ndarray, lines: list[OcrLine], regions: list[_Region],
                   font_path: str | Sequence[str] | None) -> list[Defect]:
        """Collapsed detail: each region's figures (:class:`CollapseFigures`) scored by the
        calibrated :class:`~detectors.text_scorer.TextScorer`; regions whose p (with the
        re-read assumed to agree) reaches its ``gate`` are read again, focused, in one
        batch; p >= its ``threshold`` is a defect (a look-alike digit: a mismatch)."""
        h, w = image.shape[:2]
        fonts = _font_list(font_path)
        scorer = self.scorer
        # 1. the poster's reference: sharpness of every line that reads
        preps: dict[Quad, object] = {}

        def prep_of(g: _LineGeom):
            if g.line.quad not in preps:
                try:
                    preps[g.line.quad] = prepare_line(crop_line(image, g.line.quad))
                except InputError:
                    preps[g.line.quad] = None
            return preps[g.line.quad]

        def cells_of(g: _LineGeom, srcs: Sequence[int]):
            return [(int(math.floor(g.cells[s][0])), int(math.ceil(g.cells[s][1])))
                    for s in srcs]

        ref_sharp, ref_height = [], []
        for ln in lines:
            if _unreadable(ln):
                continue
            g = _LineGeom(ln)
            prep = prep_of(g)
            if prep is None or not g.order:
                continue
            ref_sharp.append(float(np.median(stroke_sharpness(prep, cells_of(g, g.order)))))
            ref_height.append(g.height)
        ref_sharp_a, ref_height_a = np.array(ref_sharp), np.array(ref_height)

        cands: list[_Candidate] = []
        for r in regions:
            if r.sources:
                cands.append(self._measure(image, r, prep_of, cells_of, ref_sharp_a,
                                           ref_height_a, fonts))
        # 2. focused re-read of the doubtful regions only (recognition only, one batch);
        # a line OCR's detector passed over (``lines`` empty) is always read again: the
        # erased tops of '低至' left glyphs alike, that read wrong
        suspects = [c for c in cands if self.record is not None or not c.region.lines
                    or scorer.p(c.fig) >= scorer.gate]
        if suspects:
            crops = []
            for c in suspects:
                g = c.region.geom
                q = g.subquad(*g.snapped(*g.span(c.region.sources)))
                crops.append(_upscale(crop_quad(image, q, pad=0.1 * g.height)))
            reads = self.engine.recognize(crops)
            for c, rr in zip(suspects, reads, strict=False):
                r = c.region
                if not r.lines and _reads_nothing(rr.text, normalize(r.render)) \
                        and scorer.p(c.fig) < scorer.gate:
                    # read again only because OCR passed the line over, and it reads
                    # next to nothing ('' where 'Sollu' was searched): the rendering
                    # matched a faint pattern (the string's true line lies elsewhere), not
                    # a damaged line (a warped '满300减50' read 'MoJanoo' is one)
                    c.drop = True
                    continue
                c.fig = dataclasses.replace(c.fig, reread_score=float(rr.score),
                                            reread_matches=_reads_as(rr.text, r.render))
        out: list[Defect] = []
        for c in cands:
            if c.drop:
                continue
            p = scorer.p(c.fig)
            log.debug("region %r figures %s p %.3f", c.region.render, c.fig, p)
            if self.record is not None:
                self.record.append((Box.from_points(c.region.geom.line.quad), c.fig,
                                    c.region.render))
            if p < scorer.threshold and not c.alike:
                continue
            out.append(self._collapsed_defect(c, p, scorer, w, h))
        return out

    def _measure(self, image: np.ndarray, r: _Region, prep_of, cells_of,
                 ref_sharp_a: np.ndarray, ref_height_a: np.ndarray,
                 fonts: Sequence[str]) -> _Candidate:
        """One region's figures, with per-character sharpness ratios and glyph
        similarities (for ``localize="chars"``) and its look-alike digits."""
        g = r.geom
        h, w = image.shape[:2]
        lb = Box.from_points(g.line.quad).clamp(w, h)
        fig = CollapseFigures(height=float(g.height), n_chars=len(r.sources),
                              ocr_score=float(g.line.score),
                              edge_width_px=float(edge_width(image, (lb.x0, lb.y0, lb.x1, lb.y1))),
                              passed_over=not r.lines,
                              read_matches=_reads_as("".join(g.line.text[s] for s in r.sources
                                                             if s < len(g.line.text)),
                                                     r.render))
        cand = _Candidate(r, fig)
        prep = prep_of(g)
        if prep is None:
            return cand
        crop = crop_line(image, g.line.quad)
        sh = stroke_sharpness(prep, cells_of(g, r.sources))
        own = float(np.median(sh)) if sh.size else 0.0
        ratio = ref_height_a / max(g.height, 1.0)
        similar = (ratio >= SIMILAR_HEIGHT[0]) & (ratio <= SIMILAR_HEIGHT[1])
        # leave this region's own value out of its reference (one copy of it)
        pool = list(ref_sharp_a[similar]) if similar.sum() >= 3 else list(ref_sharp_a)
        if own in pool:
            pool.remove(own)
        ref = float(np.median(pool)) if len(pool) >= 2 else 0.0
        changes: dict[str, object] = {"ink_tones": ink_tones(crop, prep),
                                      "stroke_cv": stroke_cv(prep)}
        if ref > 0 and own > 0:  # own == 0: no edge found to measure, not a blur
            vals = sh / ref
            changes["sharpness_ratio"] = float(np.median(vals))
            cand.char_sharp = dict(zip(r.sources, vals.tolist(), strict=True))
        if fonts and r.render.strip():
            sim = self._glyph(prep, r, fonts)
            if sim is not None and _low3(sim[0]) < LOCAL_INK_BELOW:
                # a poor fit may be the ink map's: compare against the local background
                # too (a backdrop of two tones under the line); the better fit is kept
                # and the scorer knows which (``local_ink``)
                for dark in (True, False):
                    alt_prep = prepare_line_local(crop, ink_dark=dark)
                    alt = self._glyph(alt_prep, r, fonts)
                    if alt is not None and _low3(alt[0]) > _low3(sim[0]):
                        sim, prep = alt, alt_prep
                        changes["local_ink"] = True
            if sim is not None:
                sims, src_of, font = sim
                if g.height < LOOK_ALIKE_MAX_HEIGHT:
                    cand.alike = self._look_alikes(prep, r, font, sims)
                changes["glyph_low3"] = _low3(sims)
                changes["glyph_min"] = float(sims.min())
                changes["glyph_median"] = float(np.median(sims))
                changes["glyph_top"] = float(np.percentile(sims, 90))
                for s, v in zip(src_of, sims.tolist(), strict=True):
                    if s is not None:
                        cand.char_glyph[s] = min(cand.char_glyph.get(s, 1.0), v)
        cand.fig = dataclasses.replace(fig, **changes)
        return cand

    def _collapsed_defect(self, c: _Candidate, p: float, scorer: TextScorer,
                          w: int, h: int) -> Defect:
        """The defect of a flagged region: its characters whose own figures score >= the
        threshold with ``localize="chars"`` (all of them when none does, or the edges are
        soft: a soft line is soft as a whole)."""
        r, g, fig = c.region, c.region.geom, c.fig
        # p above the threshold from context alone (e.g. a passed-over line) names none
        reasons = scorer.reasons(fig) or ("collapsed_score",)
        if c.alike:
            reasons = ("look_alike", *reasons)
        srcs: list[int] = []
        if self.localize == "chars":
            if c.alike:
                srcs = sorted(c.alike)
            elif "soft_edges" not in reasons[:1]:
                srcs = [s for s in r.sources if scorer.p(dataclasses.replace(
                    fig, sharpness_ratio=c.char_sharp.get(s, fig.sharpness_ratio),
                    glyph_low3=c.char_glyph.get(s, fig.glyph_low3),
                    glyph_min=c.char_glyph.get(s, fig.glyph_min))) >= scorer.threshold]
        if srcs:
            c0, c1 = g.span(srcs)
        else:
            srcs = r.sources
            c0, c1 = r.columns()
        observed = "".join(c.alike.get(s, g.line.text[s]) for s in srcs)
        exp = r.expected
        if exp and r.full_expected and len(srcs) < len(r.sources):
            idx = [r.src_exp[s] for s in srcs if s in r.src_exp]
            exp = _expected_sub(r.full_expected, normalize_with_map(r.full_expected), idx)
        figs = fig.as_dict()
        details = {"ocr_score": figs.pop("ocr_score"), "p_defect": p}
        for k in ("edge_width_px", "sharpness_ratio", "glyph_min", "reread_score",
                  "ink_tones", "stroke_cv"):
            if k in figs:
                details[k] = figs[k]
        if "glyph_low3" in figs:
            details["glyph_similarity"] = figs["glyph_low3"]
        if c.alike:
            details["look_alikes"] = float(len(c.alike))
        # a look-alike drawn for a character is a wrong character, not lost detail
        return self._span_defect(g, "mismatch" if c.alike else "collapsed", c0, c1,
                                 exp, observed, p, reasons, tuple(sorted(details.items())),
                                 w, h, tight="soft_edges" not in reasons)

    def _look_alikes(self, prep, r: _Region, font: str, sims: np.ndarray) -> dict[int, str]:
        """Characters of ``LOOK_ALIKES`` drawn as one of their look-alikes: the string
        rendered with the look-alike in their place fits them better by
        ``LOOK_ALIKE_GAIN`` (glyph similarity), and well (``LOOK_ALIKE_FIT``). Only on a
        read with as many characters as the string (one to one). Returns {source index:
        the look-alike that fits best}."""
        text = r.render
        chars = [ch for ch in text if not ch.isspace()]
        read = [k for k, ch in enumerate(r.geom.line.text) if not ch.isspace()]
        if len(read) != len(chars) or not set(read) <= set(r.sources):
            return {}  # a read of another length: no character to compare one to one
        out: dict[int, str] = {}
        gains: dict[int, float] = {}
        for ch, alikes in LOOK_ALIKES.items():
            at = [k for k, c in enumerate(chars) if c == ch]
            if not at:
                continue
            for alike in alikes:
                got = self._glyph(prep, dataclasses.replace(r, render=text.replace(ch, alike)),
                                  [font])
                if got is None or len(got[0]) != len(sims):
                    continue
                for k in at:
                    gain = float(got[0][k] - sims[k])
                    s = read[k]  # the read's k-th character stands for the string's
                    if gain >= LOOK_ALIKE_GAIN and got[0][k] >= LOOK_ALIKE_FIT \
                            and gain > gains.get(s, 0.0):
                        log.debug("%r of %r is drawn as %r (%.3f vs %.3f)", ch, text, alike,
                                  got[0][k], sims[k])
                        out[s], gains[s] = alike, gain
        return out

    @staticmethod
    def _glyph(prep, r: _Region, fonts: Sequence[str]):
        """Glyph similarity on the region's columns: (sims, source index per sim, font),
        spaces left out.

        With several fonts, the one whose rendering fits best (highest mean) is used.
        """
        g = r.geom
        text = r.render
        c0, c1 = (0.0, g.width) if r.whole else g.span(r.sources)
        pad = 0.35 * g.height
        a = max(int(c0 - pad), 0) if not r.whole else 0
        b = min(int(math.ceil(c1 + pad)), prep.ink.shape[1]) if not r.whole else prep.ink.shape[1]
        if b - a < 4:
            return None
        sub = type(prep)(ink=prep.ink[:, a:b], grad=prep.grad[:, a:b], contrast=prep.contrast)
        res = None
        for fp in fonts:
            got = glyph_similarity(sub, text, fp)
            if got is not None and (res is None or got[0].mean() > res[0][0].mean()):
                res = got, fp
            if res is not None and res[0][0].mean() >= 0.9:
                break
        if res is None:
            return None
        (sims, cells), font = res
        src_of: list[int | None] = []
        for cc0, cc1 in cells:
            x0, x1 = cc0 + a, cc1 + a
            best, best_ov = None, 0.0
            for s in r.sources:
                s0, s1 = g.cells.get(s, (0.0, 0.0))
                ov = min(x1, s1) - max(x0, s0)
                if ov > best_ov:
                    best, best_ov = s, ov
            src_of.append(best)
        keep = [k for k, ch in enumerate(text) if not ch.isspace()]
        return sims[keep], [src_of[k] for k in keep], font


def _edge_share(image: np.ndarray, box: tuple[int, int, int, int], keep) -> float:
    """Mean grey gradient in the part of ``box`` outside ``keep`` (shares of the box, one
    rectangle or several) over that inside it: ~1 where the whole string is there, low
    where the rest was erased."""
    x0, y0, x1, y1 = box
    crop = image[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return 1.0
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)
    mag = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    h, w = mag.shape
    inside = np.zeros((h, w), bool)
    for k in keep_rects(keep):
        inside[int(k[1] * h):int(math.ceil(k[3] * h)),
               int(k[0] * w):int(math.ceil(k[2] * w))] = True
    if inside.all() or not inside.any():
        return 1.0
    return float(mag[~inside].mean() / max(float(mag[inside].mean()), 1e-6))


def _aspect_guess(text: str) -> float:
    """Rough ink width / height of a line of ``text`` (CJK ~1 em wide, Latin ~0.55 em)."""
    width = 0.0
    for ch in text:
        if ch.isspace():
            width += 0.3
        elif "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef":
            width += 1.0
        elif ch.isupper() or ch.isdigit():
            width += 0.62
        else:
            width += 0.5
    height = 1.0 if any("\u2e80" <= ch <= "\u9fff" for ch in text) else 0.85
    return max(width / height, 0.3)


def _upscale(crop: np.ndarray) -> np.ndarray:

    h = crop.shape[0]
    if h >= REREAD_HEIGHT:
        return crop
    s = REREAD_HEIGHT / max(h, 1)
    return cv2.resize(crop, (max(int(round(crop.shape[1] * s)), 1), REREAD_HEIGHT),
                      interpolation=cv2.INTER_CUBIC)


def _blurred(exp: str, f, soft: float, w: int, h: int) -> Defect | None:
    """The *collapsed* defect of a string whose rendering matched (``f``) where the ink's
    edges are ``soft`` px: blurred beyond OCR detection; the box grows by ``BLUR_HALO``
    of the matched font size (None where nothing is left of it in the image)."""
    box = Box(*f.box).pad(int(round(BLUR_HALO * f.size))).clamp(w, h)
    if box.area == 0:
        return None
    return Defect(kind="text", category="collapsed", box=box, quad=box.as_quad(),
                  expected=exp, observed="", score=float(f.score),
                  reasons=("missing_text", "rendered_match", "low_sharpness"),
                  repair_quad=box.as_quad(),
                  details=(("render_ncc", float(f.score)), ("edge_width_px", float(soft)),
                           ("font_size_px", float(f.size))))


def _place_crop(image: np.ndarray, box: Box) -> np.ndarray | None:
    """A rendering's place read focused: ``box`` padded by 15 % of its height, clamped
    to the image, upscaled (:func:`_upscale`); None where nothing is left of it."""
    h, w = image.shape[:2]
    b = box.pad(int(round(0.15 * box.height))).clamp(w, h)
    return None if b.area == 0 else _upscale(np.ascontiguousarray(image[b.slice()]))


def _reads_nothing(read: str, norm: str) -> bool:
    """Whether a read holds fewer than ``READS_NOTHING`` of the (normalised) string's
    characters."""
    return len(normalize(read)) < READS_NOTHING * len(norm)


def _reads_as(observed: str, expected: str) -> bool:
    o, e = normalize(observed), normalize(expected)
    if not e:
        return not o
    k = o.find(e)
    return 0 <= k <= 1 and len(o) - (k + len(e)) <= 1


def _expected_sub(expected: str, norm, exp_idx: Sequence[int]) -> str:
    if not exp_idx:
        return expected
    s, e = norm.source_span(min(exp_idx), max(exp_idx) + 1)
    return expected[s:e]


def _held_end(exp: str, read: str, fonts: Sequence[str]
              ) -> tuple[float, float, float, float] | None:
    """The part of ``exp``'s rendering (x0, y0, x1, y1 as shares of its ink box) that a
    (normalised) ``read`` holding its beginning or its end shows: the longer of their
    common prefix and common suffix, >= ``HELD_END`` characters (a digit read for its
    look-alike letter counts as it) and short of the whole string; None otherwise."""
    text = " ".join(exp.split())
    nm = normalize_with_map(text)
    norm, got = _fold_alikes(nm.text), _fold_alikes(read)
    n = len(norm)
    pre = next((k for k in range(min(n, len(got)), 0, -1) if norm[:k] == got[:k]), 0)
    suf = next((k for k in range(min(n, len(got)), 0, -1) if norm[-k:] == got[-k:]), 0)
    if max(pre, suf) < HELD_END or max(pre, suf) >= n:
        return None
    font = next((f for f in fonts if all(covers_char(f, c) for c in text)), None)
    if font is None:
        return None
    ink, bounds = render_text(text, font)
    if pre >= suf:
        s0, s1 = 0, nm.source_span(0, pre)[1]
    else:
        s0, s1 = nm.source_span(n - suf, n)[0], len(text)
    width = float(ink.shape[1])
    x0, x1 = min(max(bounds[s0] / width, 0.0), 1.0), min(max(bounds[s1] / width, 0.0), 1.0)
    return (x0, 0.0, x1, 1.0) if x1 - x0 > 0.05 else None


def _absent_ends(expected: str, read: str) -> tuple[int, int]:
    """Characters of ``expected`` (normalised) before and after the part that ``read``
    (normalised) holds: where the read's best alignment with a substring of it starts and
    ends. (0, 0) unless the read holds at most ``PART_READ`` of the string's characters
    (a read about as long as the string is a misread of all of it). A digit read for its
    look-alike letter holds that letter (``_fold_alikes``). A read that begins and ends
    as the string does lost its middle: nothing is absent at its ends ('0 $5' of an
    erased 'O   $5', 'Only $5', aligns best as '$5' after a substitution), unless it is
    the string's beginning or end itself ('$49' of '$49.99' lost '.99')."""
    if not expected or not read or len(read) > PART_READ * len(expected):
        return 0, 0
    read, expected = _fold_alikes(read), _fold_alikes(expected)
    if len(read) >= 2 and read[0] == expected[0] and read[-1] == expected[-1] \
            and not (expected.startswith(read) or expected.endswith(read)):
        return 0, 0
    _cost, start, end, _ops = substring_align(read, expected)
    return start, max(len(expected) - end, 0)


def _near_copy(al: Alignment, li: int) -> str | None:
    """The matched expected string that left-over line ``li`` nearly repeats (edit
    distance 1 .. ``NEAR_COPY`` of its length, at least 3 characters), if any."""
    text = al.line_norms[li].text
    if len(text) < 3:
        return None
    for m in al.matches:
        n = len(m.normalized)
        if n >= 3 and 0 < edit_distance(text, m.normalized) <= NEAR_COPY * n:
            return m.expected
    return None


def _pair_by_length(al: Alignment, unplaced: Sequence[str],
                    free: Sequence[int]) -> list[tuple[str, int]]:
    """Missing strings placed nowhere and left-over lines no rule explains (readable,
    no near copy of matched text), paired when the line is the only one that fits the
    string and the string the only one that fits the line: as many characters (+-1, or
    15 %) and the quad's aspect within ``PAIR_ASPECT_MISFIT`` of the string's ink."""
    aspect = {li: math.log(g.width / g.height) for li in free
              if not _unreadable(al.lines[li]) and _near_copy(al, li) is None
              for g in (_LineGeom(al.lines[li]),)}

    def fits(exp: str, li: int) -> bool:
        n, m = len(normalize(exp)), len(al.line_norms[li].text)
        misfit = abs(aspect[li] - math.log(_aspect_guess(exp)))
        return abs(n - m) <= max(1, round(0.15 * n)) and misfit <= math.log(PAIR_ASPECT_MISFIT)

    out = []
    for exp in unplaced:
        cand = [li for li in aspect if fits(exp, li)]
        if len(cand) == 1 and [e for e in unplaced if fits(e, cand[0])] == [exp]:
            out.append((exp, cand[0]))
    return out


def _font_list(font_path: str | Sequence[str] | None) -> list[str]:
    """The brand font file(s) as a list of path strings (empty without fonts)."""
    fonts = [font_path] if isinstance(font_path, str) else list(font_path or ())
    return [str(f) for f in fonts]


def _absent_columns(r: _Region, fonts: Sequence[str]) -> tuple[float, float] | None:
    """The columns a region's string would take, its absent characters at the ends
    included, from their width in the first font that draws the string relative to the
    read part's: the average character undercounts wide letters and the space beside
    them ('Now ' of a 17 px 'Now $19.99' read '$19.99': 24 px by the average, 40 px
    drawn)."""
    exp = r.expected or ""
    nm = normalize_with_map(exp)
    n = len(nm.text)
    if n == 0 or r.lead + r.trail >= n:
        return None
    font = next((f for f in fonts if all(covers_char(f, c) for c in exp)), None)
    if font is None:
        return None
    _ink, bounds = render_text(exp, font)
    k0, k1 = nm.source_span(r.lead, n - r.trail)
    read = bounds[k1] - bounds[k0]
    s0, s1 = r.geom.span(r.sources)
    if read <= 0 or s1 <= s0:
        return None
    scale = (s1 - s0) / read
    return s0 - (bounds[k0] - bounds[0]) * scale, s1 + (bounds[-1] - bounds[k1]) * scale


def _run_into_wordmark(lines: Sequence[OcrLine], skip: set[int],
                       expected: Sequence[str]) -> tuple[list[str], set[int]]:
    """Copy that runs on into the logo's wordmark: a string read exactly over lines of
    the poster and lines of the wordmark together ('VIRGIN' over a label reading 'OLIVE
    OIL', listed as 'Virgin Olive Oil') is on the poster; it and its own lines leave the
    text checks like the wordmark. A string read on the wordmark alone is still looked for
    elsewhere (the brand name as copy). Returns the strings left and the lines to skip."""
    al = align(reading_order(lines), expected)
    index = {id(ln): k for k, ln in enumerate(lines)}
    done: set[str] = set()
    skip = set(skip)
    for m in al.matches:
        if not m.exact:
            continue
        used = {index[id(al.lines[al.doc[o.doc].line])] for o in m.ops}
        if used & skip and used - skip:
            done.add(m.expected)
            skip |= used
    return [e for e in expected if e not in done], skip


def _reads_wordmark(read: str, mark: str) -> bool:
    """A line's (normalised) read is the wordmark's, allowing one character more at an
    end: the emblem beside the name read as a sign (') Tonobel' on a 65 px logo, where
    the reference alone reads 'Tonobel')."""
    return read == mark or (len(read) == len(mark) + 1 and mark in (read[1:], read[:-1]))


def _lies_on(match: Box, line: Box) -> bool:
    """A rendered match lies on an OCR line: IoU >= 0.4, or the match lies inside the
    line box (>= 80 %) and fills >= 30 % of it (a small line's quad has wide margins:
    seed 18's '¥199', 22 px tall, drawn wrong and read 'YI9h', filled 39 % of its box
    at IoU 0.39 and was judged as a line OCR had missed, by the looser signals)."""
    inter = match.intersection(line)
    return match.iou(line) >= 0.4 or (inter >= 0.8 * max(match.area, 1)
                                      and inter >= 0.3 * max(line.area, 1))


def _shares(norm: str, read: str) -> bool:
    """A read shares characters with the normalised expected string ``norm``: a common
    subsequence of >= ``MIN_SHARED`` of its characters, a common CJK character, or the
    read (>= 2 characters) is a piece of it, or (>= 3) starts or ends as it does (a
    fragment left by an erasure, its cut glyph misread: 'NEvv' of 'NEW ARRIVAL')."""
    read = "".join(ch for ch in read if ch.isalnum())  # a stray bracket or dot read in
    if not norm or not read:
        return False
    if _piece_of(norm, read):
        return True
    if len(read) >= 3 and len(norm) >= 3 and (read[:2] == norm[:2] or read[-2:] == norm[-2:]):
        return True
    if {c for c in norm if is_cjk(c)} & set(read):
        return True
    return _lcs_len(norm, read) >= MIN_SHARED * len(norm)


_ALIKE_FOLD = str.maketrans({d: normalize(a) for d, a in LOOK_ALIKES.items()})


def _fold_alikes(norm: str) -> str:
    """A normalised string with each ``LOOK_ALIKES`` digit as its letter."""
    return norm.translate(_ALIKE_FOLD)


def _low3(sims: np.ndarray) -> float:
    """The mean of the three lowest character similarities."""
    return float(np.sort(sims)[:3].mean())


def _piece_of(norm: str, read: str) -> bool:
    """The read (its letters and digits, >= 2 of them) is a piece of the normalised
    string ``norm``."""
    read = "".join(ch for ch in read if ch.isalnum())
    return len(read) >= 2 and read in norm


def _lcs_len(a: str, b: str) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]
