"""Real layouts (issue 21): copy stacked over lines of several sizes, copy running on into
the logo's wordmark, unclaimed junk, text turned off the level, the wrong character's box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from detectors.ocr import CharBox, OcrLine, get_ocr_engine
from detectors.text import TextDetector, _run_into_wordmark
from detectors.text_align import align
from detectors.types import Box


def _line(text: str, x0: int, y0: int, x1: int, y1: int, score: float = 0.99) -> OcrLine:
    return OcrLine(quad=Box(x0, y0, x1, y1).as_quad(), text=text, score=score)


def _font() -> str:
    import fontpkg_roboto

    return str(next(Path(fontpkg_roboto.__file__).parent.rglob("Roboto[[]wdth,wght].ttf")))


# ---------------------------------------------------------------- stacked copy (alignment)


def test_copy_stacked_over_lines_of_three_sizes_is_one_string() -> None:
    # 'better / not / pout' set in three sizes; the manifest lists one string
    lines = [_line("better", 313, 336, 749, 494), _line("not", 408, 480, 650, 588),
             _line("pout", 359, 578, 699, 740)]
    al = align(lines, ["better not pout"])
    assert al.missing == ()
    (m,) = al.matches
    assert m.cost == 0
    assert {al.doc[o.doc].line for o in m.ops} == {0, 1, 2}


def test_stacked_copy_with_a_wrong_letter_is_located_on_its_line() -> None:
    lines = [_line("better", 313, 336, 749, 494), _line("nat", 408, 480, 650, 588),
             _line("pout", 359, 578, 699, 740)]
    al = align(lines, ["better not pout"])
    (m,) = al.matches
    assert m.cost == 1
    wrong = [o for o in m.ops if o.op != "M" and al.doc[o.doc].line >= 0]  # not the breaks
    assert [(o.op, al.lines[al.doc[o.doc].line].text) for o in wrong] == [("S", "nat")]


def test_a_string_cut_at_its_end_takes_its_rest_from_the_stacked_line() -> None:
    # 'Fresh' alone matches 'Fresh Deals' with 'Deals' absent (cost 5 of 10, accepted by
    # the first pass); the smaller line under it holds the rest
    lines = [_line("Fresh", 300, 100, 700, 220), _line("Deals", 380, 230, 620, 300)]
    al = align(lines, ["Fresh Deals"])
    (m,) = al.matches
    assert m.cost == 0
    assert {al.doc[o.doc].line for o in m.ops if o.op == "M"} == {0, 1}
    assert al.line_claimed_ratio(1) == 1.0


def test_lines_of_far_other_sizes_are_not_stacked() -> None:
    # a headline over small print is two pieces of copy, not one string
    lines = [_line("better", 300, 100, 760, 400), _line("not", 450, 410, 610, 510),
             _line("pout", 490, 520, 570, 550)]
    assert align(lines, ["better not pout"]).missing == ("better not pout",)


def test_lines_far_apart_are_not_stacked() -> None:
    lines = [_line("better", 313, 100, 749, 250), _line("not", 408, 600, 650, 700),
             _line("pout", 359, 900, 699, 1050)]
    assert align(lines, ["better not pout"]).missing == ("better not pout",)


# ---------------------------------------------------------------- the logo's wordmark


def test_copy_running_into_the_wordmark_leaves_the_text_checks() -> None:
    lines = [_line("VIRGIN", 279, 350, 429, 410), _line("OLIVE", 290, 399, 420, 461),
             _line("OIL", 309, 447, 399, 514), _line("Timeless Taste", 33, 800, 485, 890)]
    expected, skip = _run_into_wordmark(lines, {1, 2}, ["Virgin Olive Oil", "Timeless Taste"])
    assert expected == ["Timeless Taste"]
    assert skip == {0, 1, 2}


def test_copy_read_on_the_wordmark_alone_is_still_looked_for() -> None:
    # the brand name as copy: its headline may be erased while the logo shows it
    lines = [_line("Olive Oil", 290, 399, 420, 461), _line("Timeless Taste", 33, 800, 485, 890)]
    expected, skip = _run_into_wordmark(lines, {0}, ["Olive Oil", "Timeless Taste"])
    assert expected == ["Olive Oil", "Timeless Taste"]
    assert skip == {0}


# ---------------------------------------------------------------- unclaimed reads


@pytest.fixture(scope="module")
def plain() -> TextDetector:
    return TextDetector(collapse_signals=False, rescan_sides=())


def test_unclaimed_junk_is_not_a_defect_of_the_copy(plain) -> None:
    image = np.full((400, 600, 3), 230, np.uint8)
    lines = [_line("Summer Sale", 50, 50, 400, 110), _line("#@*~", 50, 300, 300, 330, 0.3)]
    assert plain.detect_lines(image, lines, ["Summer Sale"]) == []
    # reference-free, the junk read is all there is to go on: it is reported
    free = plain.detect_lines(image, lines, None)
    assert [d.category for d in free] == ["unreadable"]


def test_unclaimed_readable_text_is_unexpected_only_when_asked(plain) -> None:
    image = np.full((400, 600, 3), 230, np.uint8)
    lines = [_line("Summer Sale", 50, 50, 400, 110), _line("Visit us today", 50, 300, 400, 340)]
    assert plain.detect_lines(image, lines, ["Summer Sale"]) == []
    (d,) = plain.detect_lines(image, lines, ["Summer Sale"], report_unexpected=True)
    assert (d.category, d.reasons) == ("unexpected", ("unexpected_text",))


# ---------------------------------------------------------------- turned text (OCR)


def _turned_poster(text: str, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """A 900x700 poster with ``text`` turned by ``angle`` degrees; its ink mask."""
    f = ImageFont.truetype(_font(), 70)
    x0, y0, x1, y1 = f.getbbox(text)
    layer = Image.new("L", (x1 - x0 + 40, y1 - y0 + 40), 0)
    ImageDraw.Draw(layer).text((20 - x0, 20 - y0), text, font=f, fill=255)
    layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    a = np.zeros((700, 900), np.float32)
    lh, lw = layer.size[1], layer.size[0]
    a[150:150 + lh, 120:120 + lw] = np.asarray(layer, np.float32) / 255.0
    image = (np.full((700, 900, 3), (240, 236, 225), np.float32) * (1 - a[..., None])
             + np.array([40, 30, 90], np.float32) * a[..., None])
    return image.round().astype(np.uint8), a > 0.5


def test_rescan_turned_reads_a_steep_line_and_maps_it_back() -> None:
    image, ink = _turned_poster("Favourite", 30.0)
    det = TextDetector(engine=get_ocr_engine())
    found = det._rescan(image, [], 960, 30.0)
    hits = [ln for ln in found if ln.text.replace(" ", "").lower() == "favourite"]
    assert hits, [(ln.text, ln.score) for ln in found]
    ys, xs = np.nonzero(ink)
    centre = (xs.mean(), ys.mean())
    box = hits[0].box
    assert box.x0 <= centre[0] <= box.x1 and box.y0 <= centre[1] <= box.y1
    # the quad runs along the text: its top edge rises at about the drawn angle
    (ax, ay), (bx, by) = hits[0].quad[0], hits[0].quad[1]
    assert abs(np.degrees(np.arctan2(ay - by, bx - ax)) - 30.0) < 8.0


# ---------------------------------------------------------------- the wrong character's box


def test_mismatch_box_keeps_the_wrong_character_when_the_ink_map_is_cut() -> None:
    # dark text whose right half sits on a dark band: the line's ink map holds only the
    # left half, the wrong character is at the right end
    f = ImageFont.truetype(_font(), 48)
    image = Image.new("RGB", (700, 200), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((330, 40, 700, 160), fill=(20, 20, 30))
    draw.text((60, 70), "Summer", font=f, fill=(20, 20, 30))
    draw.text((340, 70), "Salo", font=f, fill=(200, 200, 205))
    rgb = np.asarray(image)
    cells = [(60 + 45 * k, 105 + 45 * k) for k in range(6)] + \
        [(340 + 28 * k, 368 + 28 * k) for k in range(4)]
    chars = tuple(CharBox(char=c, quad=Box(a, 70, b, 130).as_quad(), score=0.98)
                  for (a, b), c in zip(cells, "SummerSalo", strict=True))
    line = OcrLine(quad=Box(50, 60, 470, 140).as_quad(), text="Summer Salo", score=0.98,
                   char_boxes=chars)
    det = TextDetector(engine=get_ocr_engine(), collapse_signals=False, rescan_sides=(),
                       localize="chars")
    (d,) = det.detect_lines(rgb, [line], ["Summer Sale"])
    assert d.category == "mismatch"
    assert d.box.x0 <= 440 <= d.box.x1, d.box.as_list()  # the 'o' read for 'e'
