"""Paste-back: small pure mask functions (exact) and bit-identical background."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import Box
from posterqa.errors import InputError
from refiner.paste import alpha_blend, blend_weight, blur, dilate, erode, paste_back


def test_dilate_grows_by_px_exactly() -> None:
    mask = np.zeros((7, 7), np.uint8)
    mask[3, 3] = 255
    expected = np.zeros((7, 7), np.uint8)
    expected[2:5, 2:5] = 255
    assert np.array_equal(dilate(mask, 1), expected)
    assert np.array_equal(dilate(mask, 0), mask)
    assert np.array_equal(erode(expected, 1), mask)


def test_dilate_binarises_and_does_not_mutate() -> None:
    mask = np.array([[0, 7], [0, 0]], np.uint8)
    before = mask.copy()
    assert np.array_equal(dilate(mask, 0), np.array([[0, 255], [0, 0]], np.uint8))
    assert np.array_equal(mask, before)


def test_blur_keeps_exact_zero_outside_support_and_one_inside() -> None:
    w = np.zeros((21, 21), np.float32)
    w[5:16, 5:16] = 1.0
    out = blur(w, 5)
    assert out[0, 0] == 0.0 and out[2, 10] == 0.0  # 3 px away from the square: out of reach
    assert out[10, 10] == 1.0
    assert 0.0 < out[4, 10] < 1.0
    with pytest.raises(InputError):
        blur(w, 4)


def test_blend_weight_support_is_mask_dilated_plus_blur_radius() -> None:
    mask = np.zeros((41, 41), np.uint8)
    mask[20, 20] = 255
    w = blend_weight(mask, dilate_px=7, blur_kernel=11)
    ys, xs = np.nonzero(w > 0)
    assert xs.min() == 20 - 12 and xs.max() == 20 + 12
    assert w[20, 20] == 1.0


def test_alpha_blend_endpoints_are_exact() -> None:
    a = np.full((1, 3, 3), 10, np.uint8)
    b = np.full((1, 3, 3), 200, np.uint8)
    w = np.array([[0.0, 0.5, 1.0]], np.float32)
    out = alpha_blend(a, b, w)
    assert out[0, 0].tolist() == [10, 10, 10]
    assert out[0, 1].tolist() == [105, 105, 105]
    assert out[0, 2].tolist() == [200, 200, 200]


def test_paste_back_keeps_background_bit_identical() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)
    before = image.copy()
    box = Box(20, 10, 80, 70)
    cmask = np.zeros((60, 60), np.uint8)
    cmask[25:35, 20:40] = 255
    refined = np.zeros((60, 60, 3), np.uint8)
    pasted = paste_back(image, refined, box, cmask)
    assert np.array_equal(image, before)  # input untouched
    full = pasted.full_weight()
    assert np.array_equal(pasted.image[full == 0], image[full == 0])
    assert (pasted.image[10 + 25:10 + 35, 20 + 20:20 + 40] == 0).all()
    assert pasted.band_box == Box(20 + 20 - 12, 10 + 25 - 12, 20 + 40 + 12, 10 + 35 + 12)


def test_paste_back_rejects_wrong_sizes() -> None:
    image = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(InputError, match="refined crop"):
        paste_back(image, np.zeros((5, 5, 3), np.uint8), Box(0, 0, 10, 10),
                   np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="not inside"):
        paste_back(image, np.zeros((10, 10, 3), np.uint8), Box(15, 15, 25, 25),
                   np.zeros((10, 10), np.uint8))
