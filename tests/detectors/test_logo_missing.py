"""No logo vs another logo: the slot finder's idea of "logo-like", and "missing" reports.

A poster without the brand's logo is ``missing`` unless some object on it looks like a
logo (solid, contrasted, with a motif): then it is ``wrong_logo`` at that object. Slot
tests draw on tiny OpenCV posters; the detector tests use :mod:`catalog` posters without
a logo on which the detector used to report ``wrong_logo`` (or a deformed logo) at a
text line or a decoration.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from catalog import make_brand, make_poster
from detectors.logo import LogoDetector
from detectors.logo_reference import LogoReference, prepare_reference, wordmark_text
from detectors.logo_slot import (
    COPY_SPAN,
    SURE_SLOT_SCORE,
    WEAK_COPY_SPAN,
    copy_panel,
    find_slot,
)
from detectors.types import Box


@pytest.fixture(scope="module")
def det() -> LogoDetector:
    return LogoDetector()


def _reference() -> LogoReference:
    """A red disc + wordmark reference, about 2:1 once cropped to its alpha."""
    rgb = np.zeros((100, 300, 3), np.uint8)
    alpha = np.zeros((100, 300), np.uint8)
    for img, col in ((rgb, (200, 30, 40)), (alpha, 255)):
        cv2.circle(img, (50, 50), 46, col, -1, cv2.LINE_AA)
        cv2.putText(img, "BRND", (102, 66), cv2.FONT_HERSHEY_SIMPLEX, 1.05, col, 4,
                    cv2.LINE_AA)
    return prepare_reference(np.dstack([rgb, alpha]))


def _plain(h: int = 800, w: int = 600) -> np.ndarray:
    return np.full((h, w, 3), (235, 230, 215), np.uint8)


def test_slot_finder_ignores_a_flat_panel_without_a_motif():
    # a bare, one-colour panel is solid and contrasted but has no motif: not a logo
    img = _plain()
    cv2.rectangle(img, (250, 300), (370, 380), (40, 60, 170), -1)
    assert find_slot(img, _reference()) is None
    # the same panel with a motif on it is logo-like
    cv2.putText(img, "Q", (290, 365), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 5,
                cv2.LINE_AA)
    found = find_slot(img, _reference())
    assert found is not None
    assert found[0].intersection(Box(250, 300, 371, 381)) == Box(250, 300, 371, 381).area


def test_slot_finder_finds_an_emblem_drawn_over_a_translucent_shape():
    # at the low foreground threshold the emblem merges with the faint disc behind it;
    # a higher threshold separates them
    img = _plain()
    over = img.copy()
    cv2.circle(over, (300, 400), 120, (60, 120, 200), -1, cv2.LINE_AA)
    img = cv2.addWeighted(over, 0.35, img, 0.65, 0)
    cv2.circle(img, (400, 300), 40, (30, 140, 60), -1, cv2.LINE_AA)
    cv2.putText(img, "Q", (378, 318), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 4,
                cv2.LINE_AA)
    ref = _reference()
    found = find_slot(img, ref)
    assert found is not None
    box, score = found
    assert 0.35 <= score <= 1.0
    # centred on the emblem, widened to the reference's aspect
    assert abs((box.x0 + box.x1) / 2 - 400) <= 6 and abs((box.y0 + box.y1) / 2 - 300) <= 6
    assert box.width / box.height == pytest.approx(ref.width / ref.height, rel=0.1)
    assert box.height >= 80


NO_LOGO = [  # (brand id, brand seed, style, poster seed): what the detector said before
    ("brand1x2", 1002, "flat", 100086),  # wrong_logo at a text panel (slot "content")
    ("brand1x3", 1003, "textured", 100080),  # wrong_logo at a translucent shape
    ("brand1x5", 1005, "textured", 100084),  # a blurry-template match in other colours
    ("brand1x6", 1006, "flat", 100088),  # a template match on copy, other colours
    ("brand1x1", 1001, "textured", 100087),  # idem
    # a 60 px match on copy that a dense alignment fits in part (dewarp_corr 0.33), not
    # in the logo's colours (ΔE 67 after it): not a warped logo
    ("brand2x6", 2006, "flat", 200082),
    # wrong_logo at a backing panel under a line of copy (a plain plate, thin glyphs
    # across it): no emblem, not a logo
    ("brand15x6", 15006, "flat", 1500084),
    ("brand15x3", 15003, "textured", 1500085),
    ("brand4x4", 4004, "flat", 400081),
    ("brand13x6", 13006, "flat", 1300087),
]


@pytest.mark.parametrize("brand_id,brand_seed,style,pseed", NO_LOGO)
def test_poster_without_the_logo_or_any_logo_like_object_is_missing(det, brand_id,
                                                                    brand_seed, style,
                                                                    pseed):
    brand = make_brand(brand_id, brand_seed, logo_style=style)
    poster = make_poster(brand, pseed, with_logo=False)
    report = det.analyze(poster.image, brand.logo_rgba, required=True,
                         brand_name=brand.kit.display_name)
    (d,) = report.defects
    assert d.category == "missing"
    assert d.reasons == ("logo_missing", "no_logo_slot")
    assert d.box == Box(0, 0, poster.image.shape[1], poster.image.shape[0])
    assert d.repair_quad is None
    assert report.matches == () and report.checks == ()
    assert det.detect(poster.image, brand.logo_rgba, required=False) == []


def test_slot_finder_keeps_an_object_shaped_like_the_reference_as_it_is():
    # a plate (or our own deformed logo) about the reference's shape is the slot itself;
    # only a much narrower object (an emblem fitted in the slot) is widened
    ref = _reference()
    img = _plain()
    w = 200
    h = int(round(w / (0.85 * ref.width / ref.height)))
    cv2.rectangle(img, (200, 300), (200 + w - 1, 300 + h - 1), (30, 30, 35), -1)
    cv2.circle(img, (200 + h // 2, 300 + h // 2), h // 2 - 8, (200, 30, 40), -1, cv2.LINE_AA)
    cv2.putText(img, "OTHER", (200 + h, 300 + 2 * h // 3), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (230, 230, 230), 2, cv2.LINE_AA)
    found = find_slot(img, ref)
    assert found is not None
    box = found[0]
    assert abs(box.x0 - 200) <= 4 and abs(box.x1 - (200 + w)) <= 4
    assert abs(box.y0 - 300) <= 4 and abs(box.y1 - (300 + h)) <= 4


def test_slot_finder_ignores_an_object_cut_by_the_poster_edge():
    # a logo sits inside the poster; a shape the edge cuts is background decoration
    img = _plain()
    cv2.circle(img, (0, 400), 70, (30, 140, 60), -1, cv2.LINE_AA)
    cv2.putText(img, "Q", (8, 418), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 4,
                cv2.LINE_AA)
    assert find_slot(img, _reference()) is None
    # the same emblem inside the poster is logo-like
    cv2.circle(img, (300, 200), 70, (30, 140, 60), -1, cv2.LINE_AA)
    cv2.putText(img, "Q", (282, 218), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 4,
                cv2.LINE_AA)
    found = find_slot(img, _reference())
    assert found is not None
    assert abs((found[0].x0 + found[0].x1) / 2 - 300) <= 6


def _panel_poster(content: str) -> np.ndarray:
    """A dark poster with one light rounded plate holding ``content``: a line of copy
    ("copy"), a green emblem with a white letter ("emblem") or what an erasure left of a
    ring emblem - a thin arc as high as the ink - beside a wordmark ("remains")."""
    img = np.full((800, 600, 3), (40, 30, 60), np.uint8)
    cv2.rectangle(img, (150, 290), (390, 380), (245, 245, 240), -1)
    for cx in (150, 390):
        for cy in (290, 380):
            cv2.circle(img, (cx, cy), 10, (40, 30, 60), -1)
    if content == "copy":
        cv2.putText(img, "Sale ends July", (162, 345), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                    (30, 30, 30), 2, cv2.LINE_AA)
    elif content == "remains":
        cv2.ellipse(img, (195, 335), (30, 30), 0, 90, 270, (30, 150, 60), 10, cv2.LINE_AA)
        cv2.putText(img, "Brandy", (232, 348), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (30, 30, 30),
                    2, cv2.LINE_AA)
    else:
        cv2.circle(img, (270, 335), 32, (30, 150, 60), -1, cv2.LINE_AA)
        cv2.putText(img, "Q", (254, 351), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (255, 255, 255),
                    3, cv2.LINE_AA)
    return img


def test_copy_panel_is_a_plate_with_a_line_of_thin_glyphs_not_an_emblem():
    copy, emblem = _panel_poster("copy"), _panel_poster("emblem")
    assert copy_panel(copy[290:381, 150:391])
    assert not copy_panel(emblem[290:381, 150:391])
    # a plate with a texture or gradient fill is no plain panel
    grad = copy[290:381, 150:391].copy()
    grad[..., 1] = np.linspace(120, 250, grad.shape[1]).astype(np.uint8)[None, :]
    assert not copy_panel(grad)


def test_slot_finder_skips_a_backing_panel_under_copy():
    # the same plate is the slot when it holds an emblem, none when it holds copy
    ref = _reference()
    assert find_slot(_panel_poster("copy"), ref) is None
    found = find_slot(_panel_poster("emblem"), ref)
    assert found is not None
    assert abs((found[0].x0 + found[0].x1) / 2 - 270) <= 8


def test_a_plate_where_one_part_dwarfs_the_letters_is_not_a_copy_panel():
    # the arc left of an erased ring emblem is thin (area 0.23 x the ink height², under
    # PANEL_GLYPH) but 3.6 times the largest letter: an emblem's remains beside a
    # wordmark, not a row of glyphs - the plate stays the logo slot
    img = _panel_poster("remains")
    assert not copy_panel(img[290:381, 150:391])
    found = find_slot(img, _reference())
    assert found is not None
    assert found[0].intersection(Box(150, 290, 391, 381)) >= 0.8 * Box(150, 290, 391, 381).area


def test_a_plate_somewhat_narrower_than_the_reference_is_the_slot_as_it_is():
    # a backing plate is made for the logo it holds: at 0.71 of the reference's aspect it
    # is kept as it is (another logo fitted in it still lies inside); a bare object that
    # narrow is an emblem and is widened to the reference's aspect
    ref = _reference()
    img = np.full((800, 600, 3), (40, 30, 60), np.uint8)
    x0, y0, w, h = 200, 300, 150, 110
    assert 0.6 < w / h / (ref.width / ref.height) < 0.75
    cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), (245, 245, 240), -1)
    cv2.circle(img, (x0 + w // 2, y0 + h // 2), 36, (30, 150, 60), -1, cv2.LINE_AA)
    cv2.putText(img, "Q", (x0 + w // 2 - 16, y0 + h // 2 + 16), cv2.FONT_HERSHEY_SIMPLEX,
                1.3, (255, 255, 255), 3, cv2.LINE_AA)
    found = find_slot(img, ref)
    assert found is not None
    box = found[0]
    assert abs(box.x0 - x0) <= 4 and abs(box.x1 - (x0 + w)) <= 4
    assert abs(box.y0 - y0) <= 4 and abs(box.y1 - (y0 + h)) <= 4


@pytest.mark.parametrize("brand_id,brand_seed,style,pseed", [
    ("brand3x6", 3006, "flat", 300089),  # '福满百货' on a dark plate
    ("brand6x2", 6002, "flat", 600087),  # '秋季上新' on a plate
    ("brand12x3", 12003, "textured", 1200087),  # a stack of plates of copy
])
def test_a_logo_like_object_that_reads_as_copy_is_no_logo_slot(det, brand_id, brand_seed,
                                                                style, pseed):
    # hanzi on a plate are solid, contrasted and not thin glyphs: the slot finder takes
    # them for another logo; read, they are copy spanning the object - the logo is
    # missing. Without reading, the same poster reports "another logo" there
    brand = make_brand(brand_id, brand_seed, logo_style=style)
    poster = make_poster(brand, pseed, with_logo=False)
    (d,) = det.detect(poster.image, brand.logo_rgba, required=True,
                      brand_name=brand.kit.display_name)
    assert d.category == "missing" and d.reasons == ("logo_missing", "no_logo_slot")
    (blind,) = LogoDetector(read_copy=False).detect(
        poster.image, brand.logo_rgba, required=True, brand_name=brand.kit.display_name)
    assert blind.category == "deformed" and blind.reasons == ("wrong_logo",)


def test_what_reads_as_copy_across_a_logo_like_object(det):
    # really read (the OCR engine): a line of other words across the object is copy; the
    # brand's name is not (a wordmark, or the name set as copy), nor a short word beside
    # an emblem (a wordmark's part of the object)
    from PIL import Image, ImageDraw, ImageFont

    brand = make_brand("brand3x6", 3006, logo_style="flat")
    font = ImageFont.truetype(str(brand.latin_font), 56)

    def obj(text: str, emblem: bool = False) -> tuple[np.ndarray, Box]:
        img = Image.new("RGB", (900, 300), (235, 230, 215))
        draw = ImageDraw.Draw(img)
        x = 100
        if emblem:
            draw.ellipse((100, 100, 260, 260), fill=(200, 30, 40))
            x = 290
        draw.text((x, 130), text, font=font, fill=(30, 30, 90))
        _, top, right, bottom = draw.textbbox((x, 130), text, font=font)
        if emblem:
            top, bottom = min(top, 100), max(bottom, 260)
        return np.asarray(img), Box(100, top, right, bottom)

    names = (wordmark_text(brand.kit.display_name),)
    img, box = obj("Summer Sale")
    assert det._copy_share(img, box, names) >= COPY_SPAN
    img, box = obj(brand.kit.display_name)
    assert det._copy_share(img, box, names) == 0.0
    img, box = obj("Sale", emblem=True)
    assert WEAK_COPY_SPAN <= det._copy_share(img, box, names) < COPY_SPAN


@pytest.mark.parametrize("brand_id,brand_seed,style,pseed", [
    ("brand25x7", 25007, "textured", 2500080),  # a triangle logo laid on '特' of '特价 ¥168'
    ("brand25x6", 25006, "flat", 2500081),  # a ring logo on the 'e' of 'Summer Sale'
])
def test_a_match_on_a_glyph_of_copy_is_no_logo(det, brand_id, brand_seed, style, pseed):
    # on a poster without the logo the best match is a glyph of a line of copy, judged a
    # deformed logo; read around it, it lies inside a line of copy as high as it: no
    # logo is there, the logo is missing
    brand = make_brand(brand_id, brand_seed, logo_style=style)
    poster = make_poster(brand, pseed, with_logo=False)
    (d,) = det.detect(poster.image, brand.logo_rgba, required=True,
                      brand_name=brand.kit.display_name)
    assert d.category == "missing"
    (blind,) = LogoDetector(read_copy=False).detect(
        poster.image, brand.logo_rgba, required=True, brand_name=brand.kit.display_name)
    assert blind.category == "deformed" and "wrong_logo" not in blind.reasons


def test_a_faint_object_partly_read_as_copy_is_no_logo_slot(det):
    # a plate of copy ('会员专享') merged with a disc beside it scores 0.30, a faint slot;
    # copy spans under 3/4 of it but over 0.3: passed over, the logo is missing
    brand = make_brand("brand23x6", 23006, logo_style="flat")
    poster = make_poster(brand, 2300082, with_logo=False)
    (d,) = det.detect(poster.image, brand.logo_rgba, required=True,
                      brand_name=brand.kit.display_name)
    assert d.category == "missing"
    ref = prepare_reference(brand.logo_rgba)
    found = find_slot(poster.image, ref)
    assert found is not None and found[1] < SURE_SLOT_SCORE
    names = (wordmark_text(brand.kit.display_name),)
    shares: list[float] = []

    def share(box: Box) -> float:
        shares.append(det._copy_share(poster.image, box, names))
        return shares[-1]

    assert find_slot(poster.image, ref, copy_share=share) is None
    assert any(WEAK_COPY_SPAN <= v < COPY_SPAN for v in shares)  # the faint rule's case
