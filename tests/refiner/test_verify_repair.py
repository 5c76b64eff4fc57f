"""Verification figures and verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.types import Box
from refiner import metrics
from refiner.verify import match_band_colors, mean_delta_e, verify_repair


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.full((60, 80, 3), 200, np.uint8)
    mask = np.zeros((60, 80), np.uint8)
    mask[20:40, 20:60] = 255
    weight = np.zeros((60, 80), np.float32)
    weight[10:50, 10:70] = 0.5
    weight[20:40, 20:60] = 1.0
    return image, mask, weight


def test_identical_repair_verifies_with_perfect_background() -> None:
    image, mask, weight = _scene()
    v = verify_repair(image, image.copy(), weight, mask, kind="text", expected="abc",
                      text_checker=lambda im, box, exp: (True, exp, 0.99))
    assert v.verdict == "verified" and v.reasons == ()
    assert v.bg_changed_pixels == 0 and v.mse_bg == 0.0 and v.ssim_bg == 1.0
    assert v.region is not None and v.region.observed == "abc"


def test_change_outside_band_fails_and_is_counted() -> None:
    image, mask, weight = _scene()
    out = image.copy()
    out[0:2, 0:3] = 0
    v = verify_repair(image, out, weight, mask, kind="text", expected=None)
    assert v.verdict == "failed" and "background_changed" in v.reasons
    assert v.bg_changed_pixels == 6 and v.bg_max_abs_diff == 200
    assert v.mse_bg > 0 and v.ssim_bg < 1


def test_band_colour_shift_fails_beyond_tolerance() -> None:
    image, mask, weight = _scene()
    out = image.copy()
    out[10:50, 10:70] = (230, 180, 150)
    v = verify_repair(image, out, weight, mask, kind="text", expected=None)
    assert v.band_color_shift > 6.0 and "band_color_shift" in v.reasons
    assert v.bg_changed_pixels == 0


def test_text_mismatch_and_missing_checker_fail() -> None:
    image, mask, weight = _scene()
    seen: list[Box] = []

    def checker(im, box, expected):
        seen.append(box)
        return (False, "abd", 0.7)

    v = verify_repair(image, image.copy(), weight, mask, expected="abc", text_checker=checker)
    assert v.reasons == ("text_mismatch",) and v.region.observed == "abd"
    assert seen == [Box(20, 20, 60, 40)]
    v2 = verify_repair(image, image.copy(), weight, mask, expected="abc")
    assert "region_check_unavailable" in v2.reasons


def test_logo_checker_object_result_is_accepted() -> None:
    image, mask, weight = _scene()

    class Check:
        matches, score, reasons = False, 0.3, ("shape",)

    ref = np.zeros((4, 4, 4), np.uint8)
    v = verify_repair(image, image.copy(), weight, mask, kind="logo", reference=ref,
                      logo_checker=lambda im, r, q: Check())
    assert v.reasons == ("logo_mismatch",) and v.region.reasons == ("shape",)


def test_match_band_colors_removes_a_uniform_shift() -> None:
    orig = np.full((10, 10, 3), 100, np.uint8)
    refined = np.full((10, 10, 3), 120, np.uint8)
    band = np.zeros((10, 10), bool)
    band[0] = True
    fixed = match_band_colors(orig, refined, band)
    assert np.array_equal(fixed, orig)
    assert mean_delta_e(orig, fixed) == 0.0


def test_ssim_bg_window_shortcut_equals_full_computation() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    b = a.copy()
    b[40:50, 60:75] = rng.integers(0, 256, (10, 15, 3), dtype=np.uint8)
    mask = np.zeros((90, 120), np.uint8)
    mask[42:48, 62:70] = 255
    full = metrics.ssim_map(a, b)
    assert metrics.ssim_bg(a, b, mask) == pytest.approx(float(full[mask == 0].mean()), abs=1e-12)
    assert metrics.mse_bg(a, b, mask) > 0
