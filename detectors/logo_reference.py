"""Reference-logo preparation for the logo detector.

A reference is an RGBA ``uint8`` ``[h, w, 4]`` array (PNG with alpha preferred) or an
RGB ``uint8`` ``[h, w, 3]`` array. With a real alpha channel the alpha is the logo's
mask. Without one (fully opaque), the colour of the image border is taken as the
background: every pixel further than :data:`BORDER_DELTA_E` (CIELAB ΔE76) from the
border's median colour is logo. The prepared reference is cropped to the tight box of
its mask, so the quad the detector reports is the quad of the visible logo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from posterqa.errors import InputError

if TYPE_CHECKING:
    from detectors.ocr import OcrEngine

MIN_REFERENCE_SIDE = 8
"""A reference smaller than this (either side, after cropping to its mask) is refused."""
BORDER_DELTA_E = 18.0
"""ΔE76 from the border colour above which an opaque reference's pixel counts as logo."""
ALPHA_ON = 128
"""Alpha at or above which a pixel counts as logo when a boolean mask is needed."""


@dataclass(frozen=True, eq=False)
class LogoReference:
    """A reference logo ready for matching.

    ``rgb``: ``[h, w, 3]`` uint8, ``alpha``: ``[h, w]`` float32 in [0, 1] (soft mask),
    ``mask``: ``[h, w]`` uint8 255 = logo. ``had_alpha`` says where the mask came from.
    ``crop`` is the box of the original reference that was kept ``(x0, y0, x1, y1)``,
    ``source_hw`` the original reference's ``(height, width)``.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    had_alpha: bool
    crop: tuple[int, int, int, int]
    source_hw: tuple[int, int] = (0, 0)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def corners(self) -> np.ndarray:
        """Corners ``[4, 2]`` float64 clockwise from top-left, in reference pixels."""
        w, h = float(self.width), float(self.height)
        return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)

    def resized(self, width: int, height: int) -> LogoReference:
        """The same reference at ``width`` x ``height`` (area-averaged when shrinking)."""
        width, height = max(int(width), 1), max(int(height), 1)
        shrink = width < self.width or height < self.height
        interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        rgb = cv2.resize(self.rgb, (width, height), interpolation=interp)
        alpha = cv2.resize(self.alpha, (width, height), interpolation=interp)
        alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
        mask = np.where(alpha * 255 >= ALPHA_ON, 255, 0).astype(np.uint8)
        return LogoReference(rgb, alpha, mask, self.had_alpha, self.crop, self.source_hw)


def _border_pixels(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]], axis=0)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L in 0..100, a/b roughly -128..127) of an RGB uint8 array, float32."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def prepare_reference(reference: np.ndarray, *, name: str = "reference") -> LogoReference:
    """Validate a reference logo array and build its mask; raises :class:`InputError`.

    ``reference``: RGBA ``[h, w, 4]`` or RGB ``[h, w, 3]`` uint8.
    """
    arr = np.asarray(reference)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(
            f"{name} must be an RGB/RGBA uint8 array [h, w, 3|4], got {arr.dtype} {arr.shape}"
        )
    h, w = arr.shape[:2]
    if h < MIN_REFERENCE_SIDE or w < MIN_REFERENCE_SIDE:
        raise InputError(
            f"{name} is {w}x{h} pixels; a reference logo needs at least "
            f"{MIN_REFERENCE_SIDE}x{MIN_REFERENCE_SIDE}"
        )
    rgb = np.ascontiguousarray(arr[..., :3])
    had_alpha = arr.shape[2] == 4 and bool((arr[..., 3] < 250).any())
    if had_alpha:
        alpha = arr[..., 3].astype(np.float32) / 255.0
    else:
        lab = _lab(rgb)
        bg = np.median(_lab(_border_pixels(rgb)[None])[0], axis=0)
        dist = np.linalg.norm(lab - bg[None, None, :], axis=2)
        fg = (dist > BORDER_DELTA_E).astype(np.uint8) * 255
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        if not fg.any():
            fg[:] = 255  # a uniform image: the whole thing is the "logo"
        # soft edge: ramp the distance between half and full threshold
        alpha = np.clip((dist - BORDER_DELTA_E * 0.5) / (BORDER_DELTA_E * 0.5), 0.0, 1.0)
        alpha = np.where(fg > 0, np.maximum(alpha, 0.55), alpha).astype(np.float32)
    mask = np.where(alpha * 255 >= ALPHA_ON, 255, 0).astype(np.uint8)
    if not mask.any():
        raise InputError(f"{name} is fully transparent: its alpha channel has no logo pixels")
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    if x1 - x0 < MIN_REFERENCE_SIDE or y1 - y0 < MIN_REFERENCE_SIDE:
        raise InputError(
            f"{name}'s visible logo is {x1 - x0}x{y1 - y0} pixels; a reference logo needs "
            f"at least {MIN_REFERENCE_SIDE}x{MIN_REFERENCE_SIDE}"
        )
    sl = (slice(y0, y1), slice(x0, x1))
    return LogoReference(
        rgb=np.ascontiguousarray(rgb[sl]),
        alpha=np.ascontiguousarray(alpha[sl]),
        mask=np.ascontiguousarray(mask[sl]),
        had_alpha=had_alpha,
        crop=(x0, y0, x1, y1),
        source_hw=(int(h), int(w)),
    )


def check_reference_fits(ref_hw: tuple[int, int], image_hw: tuple[int, int], *,
                         name: str) -> None:
    """Refuse a reference (``ref_hw`` = its original height, width) at least as large as
    the poster in both dimensions: that is a poster (or swapped arguments), not a logo.
    A reference larger than its use on the poster is fine: it is scaled down."""
    h, w = image_hw
    src_h, src_w = ref_hw
    if src_w >= w and src_h >= h:
        raise InputError(
            f"{name} is {src_w}x{src_h} pixels, as large as or larger than the whole "
            f"poster ({w}x{h}); pass the reference logo, not a poster"
        )


def composite(ref: LogoReference, bg: float | np.ndarray) -> np.ndarray:
    """The reference over a ground ``bg`` (a grey level or an RGB colour), RGB uint8."""
    a = ref.alpha[..., None]
    out = ref.rgb.astype(np.float32) * a + np.asarray(bg, np.float32) * (1 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


WORDMARK_MIN_SCORE = 0.9
"""OCR confidence a line needs to count as (part of) a wordmark, on the reference and on
the poster."""
WORDMARK_MIN_CHARS = 3
"""Letters/digits a read needs to be a wordmark (an emblem is often read as one glyph)."""


def wordmark_text(text: str) -> str:
    """``text`` casefolded, letters and digits only (what two wordmarks are compared on)."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def read_wordmark(ref: LogoReference, engine: OcrEngine) -> str | None:
    """The reference's wordmark as :func:`wordmark_text`, or None when it has none.

    ``engine`` is an OCR engine (:class:`detectors.ocr.OcrEngine`: RGB image in, lines
    out). The reference is composited over white (over black when the logo is light) with
    a margin of a tenth of its height and read; the longest line read with confidence >=
    :data:`WORDMARK_MIN_SCORE` and at least :data:`WORDMARK_MIN_CHARS` letters/digits is
    the wordmark.
    """
    lum = float(cv2.cvtColor(ref.rgb, cv2.COLOR_RGB2GRAY)[ref.mask > 0].mean())
    bg = 255.0 if lum < 160 else 0.0
    comp = composite(ref, bg)
    m = max(4, ref.height // 10)
    comp = cv2.copyMakeBorder(comp, m, m, m, m, cv2.BORDER_CONSTANT, value=(bg, bg, bg))
    reads = [wordmark_text(line.text) for line in engine(comp)
             if line.score >= WORDMARK_MIN_SCORE]
    reads = [r for r in reads if len(r) >= WORDMARK_MIN_CHARS]
    return max(reads, key=len) if reads else None
