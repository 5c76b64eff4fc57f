"""The CPU compositor: re-typeset text, re-place logos, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from detectors.types import Box
from posterqa.errors import BackendError
from refiner.backends.base import get_backend
from refiner.backends.compositor import (
    best_shift,
    fallback_font,
    parse_color,
    quad_geometry,
    stroke_mask,
)
from refiner.core import Refiner, text_prompt
from refiner.metrics import region_metrics

EXPECTED = "限时特惠 50% OFF"


def _gradient(h: int = 240, w: int = 420) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([200 + xx * 40 // w, 180 + yy * 50 // h, 120 + 0 * xx], 2).astype(np.uint8)


def _text_poster(text: str) -> tuple[np.ndarray, Box]:
    im = Image.fromarray(_gradient())
    font = ImageFont.truetype(fallback_font(), 36)
    draw = ImageDraw.Draw(im)
    draw.text((40, 130), text, font=font, fill=(150, 20, 30), anchor="ls")
    box = Box(*draw.textbbox((40, 130), EXPECTED, font=font, anchor="ls"))
    return np.asarray(im).copy(), box


def test_parse_color_and_quad_geometry() -> None:
    assert parse_color("#ff8000") == (255, 128, 0)
    assert parse_color([1, 2, 3]) == (1, 2, 3)
    assert parse_color("nope") is None and parse_color(None) is None
    centre, w, h, angle = quad_geometry(((0, 0), (10, 0), (10, 4), (0, 4)))
    assert centre == (5.0, 2.0) and (w, h, angle) == (10.0, 4.0, 0.0)
    _, _, _, angle = quad_geometry(((0, 0), (10, 10), (8, 12), (-2, 2)))
    assert angle == pytest.approx(45.0)


def test_stroke_mask_finds_only_pixels_unlike_background_inside_mask() -> None:
    bg = np.full((5, 5, 3), 100, np.uint8)
    crop = bg.copy()
    crop[2, 2] = 0
    crop[0, 0] = 0  # outside the mask: ignored
    mask = np.zeros((5, 5), np.uint8)
    mask[1:4, 1:4] = 255
    expected = np.zeros((5, 5), np.uint8)
    expected[2, 2] = 255
    assert np.array_equal(stroke_mask(crop, bg, mask), expected)


def test_best_shift_recovers_a_known_offset() -> None:
    target = np.zeros((30, 30), np.uint8)
    target[10:15, 8:20] = 255
    alpha = np.zeros((30, 30), np.uint8)
    alpha[12:17, 5:17] = 255
    dx, dy, score = best_shift(alpha, target, 6)
    assert (dx, dy) == (3, -2) and score > 0.99


def test_wrong_characters_are_retypeset_close_to_the_clean_poster() -> None:
    clean, box = _text_poster(EXPECTED)
    broken, _ = _text_poster("限吋特惠 50% 0FF")
    refiner = Refiner("compositor", text_checker=lambda im, b, e: (True, e, 1.0))
    res = refiner.repair(broken, box.pad(4), text_prompt(EXPECTED),
                         hints={"quad": box.as_quad()})
    before, _ = region_metrics(broken, clean, box)
    after, ssim_after = region_metrics(res.image, clean, box)
    assert after < before / 3 and ssim_after > 0.8
    assert res.verification.bg_changed_pixels == 0


def test_compositor_is_deterministic() -> None:
    broken, box = _text_poster("限吋特惠 50% 0FF")
    be = get_backend("compositor")
    crop, mask = broken[0:200, 0:400].copy(), np.zeros((200, 400), np.uint8)
    mask[box.pad(4).slice()] = 255
    hints = {"expected": EXPECTED, "quad": box.as_quad()}
    a = be.refine(crop, mask, "x", hints=hints)
    b = be.refine(crop, mask, "x", hints=hints)
    assert np.array_equal(a, b) and not np.array_equal(a, crop)


def _logo() -> np.ndarray:
    ref = np.zeros((40, 60, 4), np.uint8)
    ref[..., :3] = (20, 60, 200)
    ref[5:35, 5:55, 3] = 255
    ref[15:25, 20:40, :3] = (250, 250, 250)
    return ref


def _logo_poster(ref: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    img = _gradient().astype(np.float32)
    x, y = at
    a = ref[..., 3:4] / 255.0
    region = img[y:y + ref.shape[0], x:x + ref.shape[1]]
    img[y:y + ref.shape[0], x:x + ref.shape[1]] = region * (1 - a) + ref[..., :3] * a
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_logo_is_placed_on_the_quad_with_its_alpha() -> None:
    ref = _logo()
    clean = _logo_poster(ref, (100, 80))
    # defect: the logo blurred
    import cv2

    broken = _logo_poster(cv2.GaussianBlur(ref, (9, 9), 0), (100, 80))
    quad = Box(105, 85, 155, 115).as_quad()  # the logo's ink (opaque part)
    refiner = Refiner("compositor", logo_checker=lambda im, r, q: (True, 1.0, ()))
    res = refiner.repair(broken, Box(94, 74, 170, 128), "Refine the LOGO.", reference=ref,
                         hints={"quad": quad}, kind="logo")
    err, ssim = region_metrics(res.image, clean, Box(100, 80, 160, 120))
    before, _ = region_metrics(broken, clean, Box(100, 80, 160, 120))
    assert err < 1e-4 < before and ssim > 0.98
    assert res.ok


def test_logo_fit_finds_the_logo_inside_a_loose_box() -> None:
    ref = _logo()
    clean = _logo_poster(ref, (100, 80))
    bitten = ref.copy()
    bitten[5:20, 5:25, 3] = 0  # a corner erased
    broken = _logo_poster(bitten, (100, 80))
    # no quad: only a mask 12 px larger than the logo's ink on every side
    loose = Box(93, 73, 167, 127)
    res = Refiner("compositor", logo_checker=lambda im, r, q: (True, 1.0, ())).repair(
        broken, loose, "Refine the LOGO.", reference=ref, kind="logo")
    err, _ = region_metrics(res.image, clean, Box(100, 80, 160, 120))
    assert err < 1e-3


def test_text_without_expected_copy_is_a_backend_error() -> None:
    be = get_backend("compositor")
    with pytest.raises(BackendError, match="no expected text"):
        be.refine(np.zeros((20, 20, 3), np.uint8), np.full((20, 20), 255, np.uint8),
                  "Refine the text.")
    with pytest.raises(BackendError, match="reference"):
        be.refine(np.zeros((20, 20, 3), np.uint8), np.full((20, 20), 255, np.uint8),
                  "Refine the LOGO.")


def test_dominant_colors_orders_by_frequency() -> None:
    from refiner.backends.compositor import dominant_colors

    px = np.array([[10, 10, 10]] * 5 + [[200, 0, 0]] * 3 + [[0, 0, 250]], np.uint8)
    cols = dominant_colors(px, max_colors=2)
    assert cols.tolist() == [[10.0, 10.0, 10.0], [200.0, 0.0, 0.0]]


def test_residue_removal_keeps_a_plate_and_unblends_a_halo() -> None:
    from refiner.backends.compositor import remove_residue

    crop = np.full((60, 60, 3), (230, 180, 210), np.uint8)  # pink poster
    crop[10:50, 10:50] = (30, 30, 35)  # dark plate behind the logo
    crop[24:36, 24:36] = (20, 200, 70)  # the (new) logo's place
    crop[22:24, 24:36] = (25, 115, 52)  # a green halo: logo blended into the plate
    cover = np.zeros((60, 60), bool)
    cover[24:36, 24:36] = True
    hole = np.zeros((60, 60), np.uint8)
    hole[5:55, 5:55] = 255  # swallows the whole plate
    logo = np.array([[20, 200, 70]], np.float32)
    out = remove_residue(crop, hole, cover, logo)
    assert (out[12:20, 12:48] == (30, 30, 35)).all()  # plate kept
    assert (np.abs(out[22:24, 26:34].astype(int) - (30, 30, 35)) <= 2).all()  # halo gone


def test_texture_offset_continues_stripes_into_a_hole() -> None:
    from refiner.backends.compositor import estimate_background, texture_offset

    yy, xx = np.mgrid[0:80, 0:120]
    stripes = np.where(((xx + yy) // 6) % 2 == 0, 200, 120).astype(np.uint8)
    crop = np.stack([stripes] * 3, axis=2)
    hole = np.zeros((80, 120), np.uint8)
    hole[30:50, 40:80] = 255
    broken = crop.copy()
    broken[30:50, 40:80] = 0
    assert texture_offset(broken, hole) is not None
    filled = estimate_background(broken, hole)
    assert np.abs(filled[30:50, 40:80].astype(int) - crop[30:50, 40:80]).mean() < 3


def test_retypeset_line_rereads_with_the_text_detector() -> None:
    from detectors.text import TextDetector

    broken, box = _text_poster("限吋特惠 50% 0FF")
    refiner = Refiner("compositor", text_checker=TextDetector().reread)
    res = refiner.repair(broken, box.pad(4), text_prompt(EXPECTED),
                         hints={"quad": box.as_quad(), "font_path": fallback_font()})
    assert res.verification.verdict == "verified", res.verification.to_json()
    assert res.verification.region.observed.replace(" ", "") == EXPECTED.replace(" ", "")
