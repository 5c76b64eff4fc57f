"""Wordmark OCR of the logo (opt-in, ``LogoDetector(wordmark_ocr=...)``).

The comparison of two reads on strings; the detector with a fake OCR engine (what is read
and how often) and with the bundled PP-OCR engine on a drawn logo whose wordmark is
misspelt (BRND -> BRNO: the structure measures pass it as faithful).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_logo_detector import background, flat_logo, place

from detectors.logo import LogoDetector
from detectors.logo_compare import wordmark_edits, wordmark_mismatch
from detectors.logo_reference import wordmark_text
from detectors.ocr import OcrLine


def test_wordmark_text_keeps_casefolded_letters_and_digits():
    assert wordmark_text("Nyvano®  2!") == "nyvano2"


@pytest.mark.parametrize("word,read,edits", [
    ("kasolora", "kasolora", 0),
    ("kasolora", "kasolara", 1),  # a letter substituted
    ("kasolora", "kasoora", 1),  # a letter dropped inside
    ("nykafi", "nykafl", 1),  # the last letter substituted
    ("zensolqui", "zensol", 0),  # cut short by the crop: not a misspelling
    ("nyvano", "nnyvano", 0),  # the emblem read as a letter in front
])
def test_wordmark_edits_count_only_changes_inside_the_word(word, read, edits):
    assert wordmark_edits(word, read) == edits


def test_wordmark_mismatch_says_nothing_about_other_text_or_no_text():
    assert wordmark_mismatch("kasolora", []) == (False, 0.0)
    assert wordmark_mismatch("kasolora", ["山"])[0] is False
    assert wordmark_mismatch("kasolora", ["kasolara"])[0] is True
    # the wordmark read in two lines still matches as a whole
    assert wordmark_mismatch("nyvano", ["ny", "vano"])[0] is False


class FakeOcr:
    """Reads ``reference_text`` on the first image it is given (the reference), then
    ``poster_text``; counts its calls."""

    def __init__(self, reference_text: str, poster_text: str) -> None:
        self.texts = [reference_text, poster_text]
        self.calls = 0

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        text = self.texts[min(self.calls, 1)]
        self.calls += 1
        if not text:
            return []
        h, w = image.shape[:2]
        return [OcrLine(quad=((0, 0), (w, 0), (w, h), (0, h)), text=text, score=0.99)]


def _faithful_poster() -> tuple[np.ndarray, np.ndarray]:
    ref = flat_logo()
    img, _ = place(background("plain"), ref, 150, 300, 220)
    return img, ref


def test_a_misread_wordmark_on_a_faithful_looking_logo_is_a_wordmark_mismatch():
    img, ref = _faithful_poster()
    assert not LogoDetector().detect(img, ref)  # the structure measures pass it
    (d,) = LogoDetector(wordmark_ocr=FakeOcr("BRND", "BRNO")).detect(img, ref)
    assert d.category == "deformed" and d.reasons == ("wordmark_mismatch",)
    assert dict(d.details)["wordmark_ratio"] == pytest.approx(0.75)


def test_the_reference_is_read_once_and_a_logo_without_wordmark_is_not_read():
    img, ref = _faithful_poster()
    ocr = FakeOcr("BRND", "BRND")
    det = LogoDetector(wordmark_ocr=ocr)
    assert not det.detect(img, ref) and not det.detect(img, ref)
    assert ocr.calls == 3  # the reference once, the poster's logo twice
    blank = FakeOcr("", "BRNO")  # no wordmark on the reference: the poster is not read
    assert not LogoDetector(wordmark_ocr=blank).detect(img, ref)
    assert blank.calls == 1


def test_the_bundled_ocr_reads_a_misspelt_wordmark():
    det = LogoDetector(wordmark_ocr=True)
    ref = flat_logo(text="BRND")
    img, _ = place(background("plain"), flat_logo(text="BRNO"), 150, 300, 220)
    (d,) = det.detect(img, ref)
    assert d.reasons == ("wordmark_mismatch",)
    img, _ = place(background("plain"), ref, 150, 300, 220)
    assert det.detect(img, ref) == []
