"""Paste-back: small pure mask functions (exact) and bit-identical background."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import Box
from posterqa.errors import InputError
from refiner.paste import BAND_REACH_PX, alpha_blend, blend_weight, dilate, erode, paste_back


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


def test_blend_weight_is_exact_zero_beyond_reach_and_one_deep_inside() -> None:
    mask = np.zeros((101, 101), np.uint8)
    mask[30:70, 30:70] = 255
    w = blend_weight(mask)
    ys, xs = np.nonzero(w > 0)
    # non-zero exactly out to BAND_REACH_PX beyond the mask, zero after
    assert xs.min() == 30 - BAND_REACH_PX and xs.max() == 69 + BAND_REACH_PX
    assert w[50, 50] == 1.0
    assert w[50, 30 - BAND_REACH_PX - 1] == 0.0
    # the recipe lets the original show through at the mask's edge (weight < 1)
    assert 0.5 < w[50, 30] < 1.0
    with pytest.raises(InputError):
        blend_weight(mask, grow_px=-1)


def test_blend_weight_grows_3_px_then_blurs_with_sigma_5() -> None:
    # a long straight edge: the weight profile across it is the Gaussian CDF (sigma 5)
    # centred on the edge grown by 3 px
    mask = np.zeros((60, 200), np.uint8)
    mask[:, 100:] = 255
    w = blend_weight(mask)[30].astype(np.float64)
    from scipy.stats import norm

    x = np.arange(200) + 0.5  # pixel centres; the grown edge lies at x = 97
    ideal = norm.cdf((x - 97.0) / 5.0)
    core = slice(80, 115)
    assert np.abs(w[core] - ideal[core]).max() < 0.04
    assert w[97] == pytest.approx(0.5, abs=0.06)
    # a 7 px grow or a sigma-2 blur (the old, wrong constants) would not fit
    assert np.abs(w[core] - norm.cdf((x - 93.0) / 5.0)[core]).max() > 0.15
    assert np.abs(w[core] - norm.cdf((x - 97.0) / 2.0)[core]).max() > 0.15


def test_blend_weight_of_one_pixel_reaches_about_a_quarter() -> None:
    mask = np.zeros((41, 41), np.uint8)
    mask[20, 20] = 255
    w = blend_weight(mask)
    ys, xs = np.nonzero(w > 0)
    assert xs.min() == 20 - BAND_REACH_PX and xs.max() == 20 + BAND_REACH_PX
    assert 0.2 < w[20, 20] < 0.3  # a 7x7 square blurred with sigma 5


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
    cmask[20:40, 20:40] = 255
    refined = np.zeros((60, 60, 3), np.uint8)
    pasted = paste_back(image, refined, box, cmask)
    assert np.array_equal(image, before)  # input untouched
    full = pasted.full_weight()
    assert np.array_equal(pasted.image[full == 0], image[full == 0])
    # at the mask's centre the refined pixels dominate (weight > 0.98 for 20x20 grown by
    # 3 px and blurred with sigma 5)
    assert full[40, 50] > 0.98 and (pasted.image[40, 50] <= 255 * (1 - full[40, 50]) + 1).all()
    r = BAND_REACH_PX
    assert pasted.band_box == Box(20 + 20 - r, 10 + 20 - r, 20 + 40 + r, 10 + 40 + r)


def test_paste_back_rejects_wrong_sizes() -> None:
    image = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(InputError, match="refined crop"):
        paste_back(image, np.zeros((5, 5, 3), np.uint8), Box(0, 0, 10, 10),
                   np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="not inside"):
        paste_back(image, np.zeros((10, 10, 3), np.uint8), Box(15, 15, 25, 25),
                   np.zeros((10, 10), np.uint8))
