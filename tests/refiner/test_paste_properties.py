"""Property tests: untouched pixels are bit-identical; changes stay in the dilated mask."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from refiner.focus import focus_crop
from refiner.paste import BAND_REACH_PX, dilate, paste_back


@st.composite
def scenes(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = draw(st.integers(8, 96))
    w = draw(st.integers(8, 96))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    x0 = draw(st.integers(0, w - 1))
    y0 = draw(st.integers(0, h - 1))
    x1 = draw(st.integers(x0 + 1, w))
    y1 = draw(st.integers(y0 + 1, h))
    mask = np.zeros((h, w), np.uint8)
    if draw(st.booleans()):
        mask[y0:y1, x0:x1] = 255
    else:  # ragged mask: random pixels inside the box, at least one set
        sub = rng.random((y1 - y0, x1 - x0)) < 0.3
        sub.flat[0] = True
        mask[y0:y1, x0:x1] = np.where(sub, 255, 0)
    refined_seed = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return image, mask, refined_seed


@settings(max_examples=60, deadline=None)
@given(scenes(), st.sampled_from([64 * 64, 128 * 128, 300 * 200]), st.integers(0, 24))
def test_weight_zero_pixels_are_bit_identical(scene, budget: int, margin: int) -> None:
    image, mask, noise = scene
    focus = focus_crop(image.shape[:2], mask, pixel_budget=budget, margin=margin)
    # a backend output at the target size, resized back like the refiner does
    backend_out = np.ascontiguousarray(
        np.resize(noise, (focus.target[1], focus.target[0], 3)).astype(np.uint8))
    refined = focus.to_crop_size(backend_out)
    before = image.copy()
    pasted = paste_back(image, refined, focus.box, focus.crop(mask))
    weight = pasted.full_weight()
    assert np.array_equal(image, before)
    assert np.array_equal(pasted.image[weight == 0], image[weight == 0])
    # every changed pixel lies in the mask dilated by the band's reach
    changed = (pasted.image != image).any(axis=2)
    allowed = dilate(mask, BAND_REACH_PX)
    assert not (changed & (allowed == 0)).any()
    # and where the weight is 1 the output is the backend's pixel
    one = weight == 1.0
    crop_one = one[focus.box.slice()]
    assert np.array_equal(pasted.image[focus.box.slice()][crop_one], refined[crop_one])
