"""Refiner.repair end to end with tiny registered test backends, and its bad inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from detectors.types import Box, Defect
from posterqa.errors import BackendError, InputError
from refiner.backends.base import RefinerBackend, get_backend, register
from refiner.core import Refiner, mask_from, parse_prompt, prompt_for


@register("test-paint")
class PaintBackend(RefinerBackend):
    """Paints the mask black; records what it was given."""

    size_multiple = 32
    calls: list[dict[str, Any]] = []

    def refine(self, crop, crop_mask, prompt, reference=None, *, seed=None, hints=None):
        PaintBackend.calls.append({"shape": crop.shape, "hints": dict(hints or {}),
                                   "reference": reference, "prompt": prompt})
        out = crop.copy()
        out[crop_mask > 0] = 0
        return out


@register("test-wrong-size")
class WrongSizeBackend(RefinerBackend):
    def refine(self, crop, crop_mask, prompt, reference=None, *, seed=None, hints=None):
        return np.zeros((crop.shape[0] + 1, crop.shape[1], 3), np.uint8)


@register("test-raises")
class RaisingBackend(RefinerBackend):
    def refine(self, crop, crop_mask, prompt, reference=None, *, seed=None, hints=None):
        raise RuntimeError("CUDA out of memory")


# the text regions the tests repair; each holds old "glyphs" (a text repair replaces
# copy: a region without ink would be reported as added text)
TEXT_BOXES = (Box(100, 80, 160, 100), Box(50, 50, 120, 70), Box(10, 10, 40, 30))


def _poster() -> np.ndarray:
    """A smooth gradient poster (resizing it does not change its colours) with
    contrasting vertical strokes, 4 px inside each of :data:`TEXT_BOXES`."""
    yy, xx = np.mgrid[0:200, 0:300]
    img = np.stack([xx * 255 // 299, yy * 255 // 199, (xx + yy) * 255 // 498],
                   axis=2).astype(np.uint8)
    for b in TEXT_BOXES:
        ink = 250 if img[b.slice()].mean() < 128 else 10
        for x in range(b.x0 + 4, b.x1 - 5, 5):
            img[b.y0 + 4:b.y1 - 4, x:x + 2] = ink
    return img


def _ok_text(image, box, expected):
    return (True, expected, 0.98)


def test_repair_box_pastes_and_verifies_background() -> None:
    image = _poster()
    before = image.copy()
    refiner = Refiner(get_backend("test-paint", pixel_budget=128 * 128),
                      pixel_budget=128 * 128, margin=8, text_checker=_ok_text)
    res = refiner.repair(image, Box(100, 80, 160, 100), "refine the text 'SALE'")
    assert np.array_equal(image, before)
    assert res.expected == "SALE" and res.backend == "test-paint"
    assert res.crop.shape[0] % 32 == 0 and res.crop.shape[1] % 32 == 0
    v = res.verification
    assert v.verdict == "verified", v.reasons
    assert v.bg_changed_pixels == 0 and v.mse_bg > 0
    w = res.full_weight()
    assert np.array_equal(res.image[w == 0], image[w == 0])
    assert res.diff(image)[90, 130] > 0


def test_repair_maps_quad_hint_to_crop_pixels_and_passes_expected() -> None:
    image = _poster()
    PaintBackend.calls.clear()
    refiner = Refiner("test-paint", pixel_budget=128 * 128, margin=8, text_checker=_ok_text)
    quad = ((100.0, 80.0), (160.0, 80.0), (160.0, 100.0), (100.0, 100.0))
    res = refiner.repair(image, Box(100, 80, 160, 100), "x", hints={"quad": quad},
                         expected="SALE")
    hints = PaintBackend.calls[-1]["hints"]
    assert hints["expected"] == "SALE" and hints["kind"] == "text"
    x0, y0 = hints["quad"][0]
    assert res.focus.point_to_image(x0, y0) == pytest.approx((100.0, 80.0))


def test_repair_accepts_a_defect() -> None:
    image = _poster()
    quad = ((50.0, 50.0), (120.0, 50.0), (120.0, 70.0), (50.0, 70.0))
    d = Defect(kind="text", category="mismatch", box=Box(50, 50, 120, 70), quad=quad,
               expected="新品", observed="新吕", score=0.9, reasons=("ocr_mismatch",))
    seen = []
    refiner = Refiner("test-paint", pixel_budget=128 * 128, margin=8,
                      text_checker=lambda im, box, exp: seen.append(exp) or (True, exp, 1.0))
    res = refiner.repair(image, d, d.prompt())
    assert seen == ["新品"] and res.ok


def test_failed_reread_gives_failed_verdict_not_error() -> None:
    refiner = Refiner("test-paint", pixel_budget=64 * 64, margin=8,
                      text_checker=lambda im, box, exp: (False, "SA1E", 0.5))
    res = refiner.repair(_poster(), Box(10, 10, 40, 30), "refine the text 'SALE'")
    assert res.verification.verdict == "failed"
    assert res.verification.reasons == ("text_mismatch",)


def test_logo_repair_passes_reference_and_checks_it() -> None:
    ref = np.zeros((10, 20, 3), np.uint8)
    got = []
    refiner = Refiner("test-paint", pixel_budget=64 * 64, margin=8,
                      logo_checker=lambda im, r, q: got.append(r.shape) or (True, 0.9, ()))
    res = refiner.repair(_poster(), Box(10, 10, 40, 30), "Refine the LOGO.", reference=ref,
                         kind="logo")
    assert res.ok and got == [(10, 20, 4)]
    assert PaintBackend.calls[-1]["reference"].shape == (10, 20, 4)


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (np.zeros((200, 300), np.uint8), "mask is empty"),
        (np.full((100, 300), 255, np.uint8), "300x100 but the image is 300x200"),
        (Box(400, 10, 450, 40), r"box \[400, 10, 450, 40\] is outside the image 300x200"),
    ],
)
def test_bad_regions_raise_input_error(region, message) -> None:
    refiner = Refiner("test-paint", pixel_budget=64 * 64, margin=8, text_checker=_ok_text)
    with pytest.raises(InputError, match=message):
        refiner.repair(_poster(), region, "refine the text 'a'")


def test_unreadable_reference_raises_input_error(tmp_path) -> None:
    refiner = Refiner("test-paint", pixel_budget=64 * 64, margin=8)
    bad = tmp_path / "logo.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InputError, match="logo.png"):
        refiner.repair(_poster(), Box(10, 10, 40, 30), "Refine the LOGO.", reference=bad,
                       kind="logo")
    with pytest.raises(InputError, match="not found"):
        refiner.repair(_poster(), Box(10, 10, 40, 30), "Refine the LOGO.",
                       reference=tmp_path / "missing.png", kind="logo")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("test-wrong-size", r"'test-wrong-size' returned uint8 \(\d+, \d+, 3\) for a uint8"),
        ("test-raises", "'test-raises' failed on a .* crop: RuntimeError: CUDA out of memory"),
    ],
)
def test_backend_faults_raise_backend_error_and_leave_original(name, message) -> None:
    image = _poster()
    before = image.copy()
    refiner = Refiner(name, pixel_budget=64 * 64, margin=8, text_checker=_ok_text)
    with pytest.raises(BackendError, match=message):
        refiner.repair(image, Box(10, 10, 40, 30), "refine the text 'a'")
    assert np.array_equal(image, before)


def test_mask_from_clips_partial_box_and_prompts_round_trip() -> None:
    m = mask_from(Box(-5, -5, 5, 5), (10, 10))
    assert m.sum() == 25 * 255
    assert parse_prompt(prompt_for("text", "it's")) == ("text", "it's")
    assert parse_prompt(prompt_for("logo")) == ("logo", None)
