"""Parts of a reference logo, searched on their own: what a partly erased logo leaves.

A cut that takes away a quarter to a half of a logo can leave its emblem without its
wordmark, or its wordmark without its emblem. Matched whole, the reference then peaks
nowhere (the erased half is background where the template expects ink) and the poster
reads as having no logo. The part that is left is still the reference's own pixels, so
it is searched on its own (:func:`part_candidates`); the caller judges each hit with the
ordinary fidelity measures against the part alone, and a faithful part says where the
whole logo is (:attr:`PartCandidate.h_ref_to_img`).

The parts (:func:`reference_parts`):

- **ink groups**: runs of columns (rows) holding ink, separated by a gap of at least
  :data:`GROUP_GAP` of the width (height) - an emblem and its wordmark. A group counts
  when it spans :data:`GROUP_MIN_EXTENT` of the side and holds :data:`GROUP_MIN_INK` of
  the ink;
- **halves across the long side**: the first and last :data:`HALF` of a logo wider than
  tall (left / right), or taller than wide (top / bottom); both pairs for a logo within
  :data:`SQUARE_ASPECT` of square. A cut through one piece of ink leaves one of them.
  Halves along the short side of a wide logo are strips as flat as a line of copy: on
  tuning seeds 1-20 the top half of 'Vaoravio' matched a hanzi headline and fixed no
  poster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detectors.logo_locate import MAX_WIDTH_FRAC, MIN_WIDTH_FRAC, template_candidates
from detectors.logo_reference import LogoReference

GROUP_GAP = 0.02
GROUP_MIN_EXTENT = 0.15
GROUP_MIN_INK = 0.15
HALF = 0.6
SQUARE_ASPECT = 1.25
PART_PEAKS = 4  # template peaks kept per part

Box4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class PartCandidate:
    """A template hit of one part: ``name`` ("group" | "left" | "right" | "top" |
    "bottom"), its ``box`` in reference pixels ``(x0, y0, x1, y1)``, the ``part`` as a
    reference of its own, ``h_part_to_img`` (part pixels -> poster pixels) and the
    template's peak ``strength``."""

    name: str
    box: Box4
    part: LogoReference = field(repr=False)
    h_part_to_img: np.ndarray = field(repr=False)
    strength: float

    def whole(self, h_part_to_img: np.ndarray | None = None) -> np.ndarray:
        """The whole reference's homography (reference px -> poster px) implied by the
        part's (``h_part_to_img``, default the template's)."""
        h = self.h_part_to_img if h_part_to_img is None else h_part_to_img
        shift = np.array([[1, 0, -self.box[0]], [0, 1, -self.box[1]], [0, 0, 1]], np.float64)
        return np.asarray(h, np.float64) @ shift


def _runs(profile: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of non-zero entries of ``profile`` closer than ``gap`` merged: [start, end)."""
    idx = np.flatnonzero(profile > 0)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def reference_parts(ref: LogoReference) -> list[tuple[str, Box4]]:
    """The parts of ``ref`` worth searching alone (module docstring), as (name, box)."""
    ink = ref.mask > 0
    total = float(ink.sum())
    h, w = ink.shape
    out: list[tuple[str, Box4]] = []
    if total <= 0:
        return out
    for axis, side in ((0, w), (1, h)):
        runs = _runs(ink.sum(axis=axis), max(2, int(GROUP_GAP * side)))
        if len(runs) < 2:
            continue
        for a, b in runs:
            box = (a, 0, b, h) if axis == 0 else (0, a, w, b)
            share = float(ink[box[1]:box[3], box[0]:box[2]].sum()) / total
            if b - a >= GROUP_MIN_EXTENT * side and share >= GROUP_MIN_INK:
                out.append(("group", box))
    keep_w, keep_h = int(round(HALF * w)), int(round(HALF * h))
    aspect = w / h
    if aspect >= 1 / SQUARE_ASPECT:
        out += [("left", (0, 0, keep_w, h)), ("right", (w - keep_w, 0, w, h))]
    if aspect <= SQUARE_ASPECT:
        out += [("top", (0, 0, w, keep_h)), ("bottom", (0, h - keep_h, w, h))]
    return out


def part_reference(ref: LogoReference, box: Box4) -> LogoReference:
    """The part of ``ref`` inside ``box`` (reference pixels) as a reference of its own."""
    x0, y0, x1, y1 = box
    cut = (slice(y0, y1), slice(x0, x1))
    return LogoReference(np.ascontiguousarray(ref.rgb[cut]), np.ascontiguousarray(ref.alpha[cut]),
                         np.ascontiguousarray(ref.mask[cut]), ref.had_alpha, ref.crop,
                         ref.source_hw)


def part_candidates(image: np.ndarray, ref: LogoReference,
                    peaks: int = PART_PEAKS) -> list[PartCandidate]:
    """Template hits of every part of ``ref`` on ``image`` (RGB uint8), strongest first.

    Each part is searched at the widths the whole logo may take (a part of width share
    *f* between *f* x :data:`MIN_WIDTH_FRAC` and *f* x :data:`MAX_WIDTH_FRAC` of the
    poster's width); up to ``peaks`` hits per part."""
    width = image.shape[1]
    out: list[PartCandidate] = []
    for name, box in reference_parts(ref):
        part = part_reference(ref, box)
        if part.width < 4 or part.height < 4 or not part.mask.any():
            continue
        share = part.width / ref.width
        for c in template_candidates(image, part, peaks, width_range=(
                share * MIN_WIDTH_FRAC * width, share * MAX_WIDTH_FRAC * width)):
            out.append(PartCandidate(name, box, part, c.h_ref_to_img, c.strength))
    out.sort(key=lambda c: -c.strength)
    return out
