"""Rendered-string search near a line (:func:`detectors.text_search.search_near`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from detectors.text_search import search_near
from detectors.types import Box


def _roboto() -> str:
    import fontpkg_roboto

    return str(next(Path(fontpkg_roboto.__file__).parent.rglob("Roboto[[]wdth,wght].ttf")))


def _line(text: str, size: int = 56) -> tuple[np.ndarray, Box]:
    font = ImageFont.truetype(_roboto(), size, layout_engine=ImageFont.Layout.BASIC)
    img = Image.new("RGB", (900, 300), (240, 232, 214))
    ImageDraw.Draw(img).text((80, 110), text, font=font, fill=(30, 30, 40))
    arr = np.asarray(img).copy()
    ys, xs = np.nonzero(arr.min(axis=2) < 128)
    return arr, Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def test_a_fragment_left_by_an_erasure_finds_the_whole_strings_place() -> None:
    image, full = _line("Autumn Collection")
    cut = full.x0 + int(0.42 * full.width)  # "Autumn " stays, "Collection" is erased
    image[:, cut:] = image[0, 0]
    frag = Box(full.x0 - 6, full.y0 - 8, cut + 6, full.y1 + 8)  # an OCR quad, with margin
    f = search_near(image, "Autumn Collection", [_roboto()], tuple(frag.as_list()))
    assert f is not None and f.score >= 0.5
    assert Box(*f.box).iou(full) >= 0.7  # reaches over the erased part
    assert f.box[2] > cut + 0.4 * full.width


def test_the_string_on_its_line_fits_better_than_other_text() -> None:
    image, full = _line("Grand Opening")
    near = tuple(Box(full.x0 - 6, full.y0 - 8, full.x1 + 6, full.y1 + 8).as_list())
    right = search_near(image, "Grand Opening", [_roboto()], near)
    other = search_near(image, "Best Sellers", [_roboto()], near)
    assert right is not None and other is not None
    assert right.score >= 0.9 and Box(*right.box).iou(full) >= 0.8
    # other text of about the same length in the same font still correlates (~0.8 under
    # the matching blur): the detector also asks whether a line's own read fits it better
    assert other.score < right.score - 0.1


def test_a_masked_line_is_not_matched() -> None:
    image, full = _line("Grand Opening")
    near = Box(full.x0 - 6, full.y0 - 8, full.x1 + 6, full.y1 + 8)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[near.slice()] = 255
    f = search_near(image, "Grand Opening", [_roboto()], tuple(near.as_list()), mask=mask)
    assert f is None or f.score == 0.0


def test_matching_on_several_parts_equals_opencvs_masked_ncc() -> None:
    import cv2

    from detectors.text_search import _match_parts

    rng = np.random.default_rng(0)
    img = rng.random((120, 160)).astype(np.float32)
    tmpl = img[30:50, 20:90].copy()
    rects = [(0, 20, 0, 15), (0, 20, 55, 70), (5, 15, 10, 30)]  # two ends, one overlap
    mask = np.zeros_like(tmpl)
    for y0, y1, x0, x1 in rects:
        mask[y0:y1, x0:x1] = 1.0
    ref = cv2.matchTemplate(img, tmpl, cv2.TM_CCOEFF_NORMED, mask=mask)
    got = _match_parts(img, tmpl, rects)
    assert got.shape == ref.shape and float(np.abs(got - ref).max()) < 1e-4
    assert np.unravel_index(int(got.argmax()), got.shape) == (30, 20)
