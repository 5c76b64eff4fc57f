"""Soft-mask paste-back of a refined crop into a copy of the poster.

The blend weight is the published recipe's (RefineAnything, see DESIGN.md): the crop
mask as an 8-bit PIL image, ``MaxFilter(2·3+1)`` (a 3 px grow), then
``GaussianBlur(radius=5)`` (PIL's radius is the Gaussian's sigma), divided by 255. The
refined crop is alpha-blended over the original crop with it, and the result goes into
a *copy* of the poster. Pixels whose weight is exactly 0 (the 8-bit blur rounds to 0
beyond ~16 px of the mask) are copied from the original, never round-tripped through
floats, so they stay bit-identical by construction. Note the recipe's weight at the
mask's own edge is ~0.75, not 1: the original shows faintly through the outer 3-6 px of
the mask, as in the published results.

Images are RGB ``uint8`` ``[H, W, 3]``; masks ``uint8`` ``[H, W]`` with 255 = edit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFilter

from detectors.types import Box
from posterqa.errors import InputError

GROW_PX = 3  # published MaxFilter(2 * 3 + 1)
BLUR_RADIUS = 5  # published GaussianBlur(radius=5), sigma 5
# how far the 8-bit weight stays non-zero beyond the mask, for GROW_PX / BLUR_RADIUS
# (measured with Pillow 13: 3 px grow + 13 px of blur tail; test_paste_back checks it)
BAND_REACH_PX = 16


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a ``uint8`` mask by ``px`` pixels in every direction (square kernel).

    Returns a new 255/0 mask; ``px <= 0`` returns a binarised copy.
    """
    binary = np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8)
    if px <= 0:
        return binary
    kernel = np.ones((2 * px + 1, 2 * px + 1), dtype=np.uint8)
    return cv2.dilate(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """Shrink a ``uint8`` mask by ``px`` pixels (square kernel); a new 255/0 mask."""
    binary = np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8)
    if px <= 0:
        return binary
    kernel = np.ones((2 * px + 1, 2 * px + 1), dtype=np.uint8)
    return cv2.erode(binary, kernel, borderType=cv2.BORDER_REPLICATE)


def blend_weight(crop_mask: np.ndarray, *, grow_px: int = GROW_PX,
                 blur_radius: float = BLUR_RADIUS) -> np.ndarray:
    """Blend weight ``float32 [h, w]`` in ``[0, 1]`` of a ``uint8`` crop mask.

    The published arithmetic: ``MaxFilter(2·grow+1)`` then ``GaussianBlur(blur_radius)``
    on the 0/255 mask as a PIL ``L`` image, then ``/ 255``. Exactly 0 where the 8-bit
    blur rounds to 0, exactly 1 where it is 255.
    """
    binary = np.where(np.asarray(crop_mask) > 0, 255, 0).astype(np.uint8)
    if binary.ndim != 2:
        raise InputError(f"crop mask must be [h, w], got shape {binary.shape}")
    if grow_px < 0 or blur_radius < 0:
        raise InputError(f"grow ({grow_px}) and blur radius ({blur_radius}) must be >= 0")
    img = Image.fromarray(binary, "L")
    if grow_px > 0:
        img = img.filter(ImageFilter.MaxFilter(2 * int(grow_px) + 1))
    if blur_radius > 0:
        img = img.filter(ImageFilter.GaussianBlur(radius=blur_radius))
    return np.asarray(img, dtype=np.float32) / np.float32(255.0)


def alpha_blend(original: np.ndarray, refined: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``uint8`` blend of two ``[h, w, 3]`` crops; pixels with weight 0 copied untouched."""
    out = original.copy()
    sel = weight > 0
    if not sel.any():
        return out
    w = weight[sel][:, None].astype(np.float32)
    mixed = refined[sel].astype(np.float32) * w + original[sel].astype(np.float32) * (1.0 - w)
    out[sel] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class Pasted:
    """Result of :func:`paste_back`.

    ``image``: the new poster (a copy); ``box``: where the crop lies; ``weight``:
    ``float32 [h, w]`` blend weight over the crop (0 outside it).
    """

    image: np.ndarray
    box: Box
    weight: np.ndarray

    def full_weight(self) -> np.ndarray:
        """The blend weight as a ``float32 [H, W]`` map of the whole poster."""
        return full_weight(self.image.shape[:2], self.box, self.weight)

    @property
    def band_box(self) -> Box:
        """Tight box of the pixels with weight > 0, in image pixels."""
        ys, xs = np.nonzero(self.weight > 0)
        if xs.size == 0:
            return Box(self.box.x0, self.box.y0, self.box.x0, self.box.y0)
        return Box(self.box.x0 + int(xs.min()), self.box.y0 + int(ys.min()),
                   self.box.x0 + int(xs.max()) + 1, self.box.y0 + int(ys.max()) + 1)


def full_weight(image_hw: tuple[int, int], box: Box, weight: np.ndarray) -> np.ndarray:
    """Place a crop's weight map into a zero ``float32 [H, W]`` map."""
    out = np.zeros(tuple(image_hw[:2]), dtype=np.float32)
    out[box.slice()] = weight
    return out


def paste_back(
    image: np.ndarray,
    refined_crop: np.ndarray,
    box: Box,
    crop_mask: np.ndarray,
    *,
    grow_px: int = GROW_PX,
    blur_radius: float = BLUR_RADIUS,
) -> Pasted:
    """Blend ``refined_crop`` into a copy of ``image`` at ``box`` under a soft mask.

    ``image``: RGB ``uint8 [H, W, 3]`` (never modified); ``refined_crop``: RGB ``uint8``
    with the crop's size ``[box.height, box.width, 3]``; ``crop_mask``: ``uint8`` of the
    same size, 255 = edit.
    """
    h, w = box.height, box.width
    if not box.inside(image.shape[1], image.shape[0]):
        raise InputError(
            f"paste box {box.as_list()} is not inside the image {image.shape[1]}x{image.shape[0]}"
        )
    if refined_crop.shape != (h, w, 3) or refined_crop.dtype != np.uint8:
        raise InputError(
            f"refined crop must be uint8 {(h, w, 3)}, got {refined_crop.dtype} "
            f"{refined_crop.shape}"
        )
    if crop_mask.shape[:2] != (h, w):
        raise InputError(f"crop mask is {crop_mask.shape} but the crop is {(h, w)}")
    weight = blend_weight(crop_mask, grow_px=grow_px, blur_radius=blur_radius)
    out = image.copy()
    out[box.slice()] = alpha_blend(image[box.slice()], refined_crop, weight)
    return Pasted(image=out, box=box, weight=weight)
