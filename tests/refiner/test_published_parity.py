"""Parity with the published RefineAnything crop box and paste-back mask arithmetic.

The reference functions below are transcribed from DESIGN.md's "RefineAnything, as
published" description, written independently of refiner/: scale the WHOLE poster to
a 1024² area, take the mask's tight box there, pad it by 64 px, clamp it to the scaled
poster; paste back with the crop mask grown by ``MaxFilter(7)`` and blurred by
``GaussianBlur(radius=5)``, composited over the original. They are compared with
:func:`refiner.focus.focus_crop` and :func:`refiner.paste.paste_back` on posters of
several sizes and aspect ratios.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from detectors.types import Box
from refiner.focus import focus_crop
from refiner.paste import paste_back

BUDGET = 1024 * 1024

POSTERS = [  # (W, H): square, landscape, portrait, panorama, phone, small, huge
    (1024, 1024), (2048, 1536), (6000, 4000), (1080, 1920), (3000, 800), (1242, 2688),
    (700, 500), (8000, 8000),
]


def published_crop(width: int, height: int, box: tuple[float, float, float, float],
                   margin: float = 64.0) -> tuple[float, float, float, float]:
    """The recipe's crop, in poster pixels (float): pad at the 1024²-area scale, clamp."""
    s = math.sqrt(BUDGET / (width * height))
    sw, sh = width * s, height * s
    x0, y0, x1, y1 = (v * s for v in box)
    cx0, cy0 = max(0.0, x0 - margin), max(0.0, y0 - margin)
    cx1, cy1 = min(sw, x1 + margin), min(sh, y1 + margin)
    return cx0 / s, cy0 / s, cx1 / s, cy1 / s


def published_paste(original: Image.Image, refined: Image.Image,
                    mask: Image.Image) -> Image.Image:
    """The recipe's paste-back of a crop: grow 3 px, blur sigma 5, composite."""
    soft = mask.filter(ImageFilter.MaxFilter(2 * 3 + 1)).filter(ImageFilter.GaussianBlur(radius=5))
    return Image.composite(refined, original, soft)


def _boxes(width: int, height: int) -> list[Box]:
    """A text line in the middle, a small word near a corner, a line at the left edge."""
    w, h = width, height
    return [
        Box(w // 3, h // 2, w // 3 + max(8, w // 3), h // 2 + max(4, h // 12)),
        Box(w - w // 10 - 40, h // 20, w - w // 10, h // 20 + 20),
        Box(0, h - h // 5, w // 2, h - h // 5 + max(4, h // 20)),
    ]


@pytest.mark.parametrize(("width", "height"), POSTERS)
def test_crop_box_matches_the_published_crop(width: int, height: int) -> None:
    for tight in _boxes(width, height):
        got = focus_crop((height, width), tight, pixel_budget=BUDGET, margin=64, min_margin=0)
        ref = published_crop(width, height, tuple(tight.as_list()))
        # the integer crop holds the published float crop and exceeds it by < 1 px a side
        assert got.box.x0 <= ref[0] + 1e-6 and ref[0] < got.box.x0 + 1
        assert got.box.y0 <= ref[1] + 1e-6 and ref[1] < got.box.y0 + 1
        assert got.box.x1 - 1 < ref[2] <= got.box.x1 + 1e-6
        assert got.box.y1 - 1 < ref[3] <= got.box.y1 + 1e-6


def test_crop_sizes_for_the_issue_22_measurements() -> None:
    # a 768x170 text box: the recipe crops 990x392 on 2048x1536 and 1382x784 on 6000x4000
    for (width, height), size in (((2048, 1536), (990, 392)), ((6000, 4000), (1382, 784))):
        x0, y0 = width // 2 - 384, height // 2 - 85
        got = focus_crop((height, width), Box(x0, y0, x0 + 768, y0 + 170), pixel_budget=BUDGET,
                         margin=64)
        assert got.crop_size == size


@pytest.mark.parametrize(("width", "height"), [(700, 500), (2048, 1536), (1080, 1920)])
def test_paste_back_matches_the_published_composite(width: int, height: int) -> None:
    rng = np.random.default_rng(width * 7 + height)
    poster = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    for tight in _boxes(width, height)[:2]:
        focus = focus_crop((height, width), tight, pixel_budget=BUDGET, margin=64)
        mask = np.zeros((height, width), np.uint8)
        mask[tight.clamp(width, height).slice()] = 255
        crop_mask = focus.crop(mask)
        refined = rng.integers(0, 256, (focus.box.height, focus.box.width, 3), dtype=np.uint8)
        pasted = paste_back(poster, refined, focus.box, crop_mask)

        ref_crop = published_paste(Image.fromarray(focus.crop(poster)), Image.fromarray(refined),
                                   Image.fromarray(crop_mask))
        ref = poster.copy()
        ref[focus.box.slice()] = np.asarray(ref_crop)
        diff = np.abs(pasted.image.astype(np.int16) - ref.astype(np.int16))
        # PIL's composite rounds with integer arithmetic: at most 1 level apart, and the
        # pixels the published mask leaves at 0 are identical
        assert diff.max() <= 1
        soft = np.zeros((height, width), np.uint8)
        soft[focus.box.slice()] = np.asarray(
            Image.fromarray(crop_mask).filter(ImageFilter.MaxFilter(7))
            .filter(ImageFilter.GaussianBlur(radius=5)))
        assert np.array_equal(pasted.full_weight() > 0, soft > 0)
        assert not diff[soft == 0].any()
        assert not diff[soft == 255].any()
