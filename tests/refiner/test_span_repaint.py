"""Only the wrong characters are repainted when the rest of the line reads right
(issue 22 item 3): the compositor fits the observed line, finds the kept characters'
ink next to the span and typesets the expected characters between them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from detectors.types import Box, Defect
from refiner.backends.compositor import best_shift, fallback_font
from refiner.core import Refiner, text_prompt
from refiner.spans import WrongSpan, wrong_span

SIZE, ORIGIN = 48, (40, 120)


def _gradient(h: int = 200, w: int = 520) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([200 + xx * 40 // w, 180 + yy * 50 // h, 120 + 0 * xx], 2).astype(np.uint8)


def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(fallback_font(), SIZE)


def _poster(text: str) -> tuple[np.ndarray, Box]:
    im = Image.fromarray(_gradient())
    draw = ImageDraw.Draw(im)
    draw.text(ORIGIN, text, font=_font(), fill=(150, 20, 30), anchor="ls")
    return np.asarray(im).copy(), Box(*draw.textbbox(ORIGIN, text, font=_font(), anchor="ls"))


def _ink(text: str, prefix: str = "") -> np.ndarray:
    """Where ``text`` drawn after ``prefix`` on the poster's line has ink (bool)."""
    im = Image.new("L", (520, 200), 0)
    x = ORIGIN[0] + _font().getlength(prefix)
    ImageDraw.Draw(im).text((x, ORIGIN[1]), text, font=_font(), fill=255, anchor="ls")
    return np.asarray(im) > 0


def _defect(box: Box, expected: str, observed: str | None) -> Defect:
    return Defect(kind="text", category="mismatch", box=box, quad=box.as_quad(),
                  expected=expected, observed=observed, score=0.5, reasons=("ocr_mismatch",),
                  repair_quad=box.pad(4).as_quad())


def test_wrong_span_is_the_replaced_characters_only() -> None:
    assert wrong_span("SPRING SALE", "SPRINC SALE") == WrongSpan(5, 6)
    assert wrong_span("SALE 50% OFF", "SALE 5O% 0FF") == WrongSpan(6, 10)
    # a character added or dropped, most of the line wrong, no read: the whole line
    assert wrong_span("SALE", "SAE") is None
    assert wrong_span("SALE", "XXXE") is None
    assert wrong_span("SALE", None) is None and wrong_span("SALE", "SALE") is None


@pytest.mark.parametrize(("expected", "observed"), [
    ("SPRING SALE", "SPRINC SALE"),   # the new glyph is wider than the old one
    ("SALE 50% OFF", "SALE 5O% OFF"),  # a digit read as a letter, mid-line
    ("SPRING SALE", "SPRING 5ALE"),   # the first glyph after a space
])
def test_right_characters_stay_identical_outside_the_span(expected: str, observed: str) -> None:
    image, box = _poster(observed)
    span = wrong_span(expected, observed)
    assert span is not None
    refiner = Refiner("compositor", require_region_check=False)
    res = refiner.repair(image, _defect(box, expected, observed), text_prompt(expected))
    changed = (res.image != image).any(axis=2)
    kept = _ink(observed[:span.start]) | _ink(observed[span.end:], observed[:span.end])
    old = _ink(observed[span.start:span.end], observed[:span.start])
    # every pixel of the right characters' ink is the input's own
    assert kept.sum() > 2000 and not (changed & kept).any()
    # the wrong characters were repainted ...
    assert (changed & old).sum() > 0.3 * old.sum()
    # ... into the expected ones: the ink in the repainted columns has the expected
    # glyphs' shape (up to a small shift), not the old ones'
    cols = np.flatnonzero(changed.any(axis=0))
    band = np.zeros(changed.shape, bool)
    band[:, cols.min():cols.max() + 1] = True
    ink_after = (np.abs(res.image.astype(np.int16) - _gradient()).max(axis=2) > 60) & band
    new = _ink(expected[span.start:span.end], expected[:span.start])
    score_new = best_shift(new.astype(np.float32), ink_after.astype(np.float32), 12)[2]
    score_old = best_shift(old.astype(np.float32), ink_after.astype(np.float32), 12)[2]
    assert score_new > 0.85 and score_new > score_old + 0.05, (score_new, score_old)
    # the whole line re-typeset (no read of what the line shows) touches the right ones
    whole = refiner.repair(image, _defect(box, expected, None), text_prompt(expected))
    assert ((whole.image != image).any(axis=2) & kept).sum() > 500
