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


# ----------------------------------------------------------------- old ink, added text
def _text_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A light poster with old dark strokes in a region, its mask and blend weight,
    and the same poster with NEW strokes elsewhere in the region (old ones removed)."""
    image = np.full((80, 120, 3), (230, 225, 210), np.uint8)
    mask = np.zeros((80, 120), np.uint8)
    mask[20:60, 20:100] = 255
    old = image.copy()
    for x in range(28, 92, 12):  # old glyph strokes
        old[28:52, x:x + 3] = (30, 30, 40)
    clean = image.copy()
    for x in range(34, 98, 12):  # new strokes, 6 px to the right of the old ones
        clean[28:52, x:x + 3] = (30, 30, 40)
    weight = np.zeros((80, 120), np.float32)
    weight[4:76, 4:116] = 0.3
    weight[20:60, 20:100] = 1.0
    return old, clean, mask, weight


def _ok(im, box, exp):
    return (True, exp, 0.99)


def test_ink_residue_is_zero_when_the_old_ink_is_gone_and_grows_with_ghosts() -> None:
    old, clean, mask, _ = _text_scene()
    gone = metrics.ink_residue(old, clean, mask)
    assert gone.old_ink == 6 * 3 * 24 and gone.new_ink == 6 * 3 * 24
    assert gone.residual == 0.0 and gone.ghost_px == 0
    sel = mask > 0
    for g in (0.2, 0.5):
        ghost = clean.astype(float)
        ghost[sel] = ghost[sel] * (1 - g) + old[sel] * g
        r = metrics.ink_residue(old, np.rint(ghost).astype(np.uint8), mask)
        # the old strokes sit 3 px beyond the new ones' 2 px slack: all uncovered, faded
        assert r.uncovered == r.ghost_px == 6 * 3 * 24
        assert r.residual == pytest.approx(g, abs=0.02)
    # old ink left at full strength is no ghost (the re-read judges the copy)
    assert metrics.ink_residue(old, old, mask).residual == 0.0


def test_residual_old_ink_fails_the_repair() -> None:
    old, clean, mask, weight = _text_scene()
    sel = mask > 0
    ghost = clean.astype(float)
    ghost[sel] = ghost[sel] * 0.6 + old[sel] * 0.4
    v = verify_repair(old, np.rint(ghost).astype(np.uint8), weight, mask, kind="text",
                      expected="NEW", text_checker=_ok)
    assert v.verdict == "failed" and "residual_ink" in v.reasons
    assert v.ink is not None and v.ink.residual > 0.1
    assert v.to_json()["ink"]["ghost_px"] == v.ink.ghost_px
    fine = verify_repair(old, clean, weight, mask, kind="text", expected="NEW", text_checker=_ok)
    assert fine.verdict == "verified" and fine.ink.residual == 0.0


def test_text_put_where_the_region_held_none_is_added_text_not_a_fix() -> None:
    old, clean, mask, weight = _text_scene()
    blank = np.full_like(old, (230, 225, 210))
    v = verify_repair(blank, clean, weight, mask, kind="text", expected="SPRING SALE",
                      text_checker=_ok)
    assert v.verdict == "failed" and "added_text" in v.reasons
    assert any("held no text" in n for n in v.notes)
    # a logo repair is not a text repair: no ink rule
    logo = verify_repair(blank, clean, weight, mask, kind="logo", reference=blank,
                         logo_checker=lambda im, ref, q: (True, 0.9, ()))
    assert logo.verdict == "verified"


def test_compositor_painting_copy_onto_blank_background_is_added_text() -> None:
    """The README's repair-asset example: "SPRING SALE" on an empty background."""
    from refiner.core import Refiner

    poster = np.full((200, 400, 3), (40, 90, 160), np.uint8)
    refiner = Refiner("compositor", text_checker=_ok)
    res = refiner.repair(poster, Box(60, 70, 340, 130), "refine the text 'SPRING SALE'")
    assert res.verification.verdict == "failed"
    assert "added_text" in res.verification.reasons
