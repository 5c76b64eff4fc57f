"""Focus crop: the region around a mask, resized to a backend's pixel budget.

Focus-and-Refine crops the tight box of the edit mask plus a margin, resizes that crop
so that its area is about the backend's pixel budget (default 1024²) at the crop's own
aspect ratio, lets the backend work on it, then maps the result back to the crop.

The margin is the published recipe's (RefineAnything ``fast_inference.py``, see
DESIGN.md): the WHOLE poster is scaled to the pixel budget's area, ``s = sqrt(budget /
(W·H))``, and the margin is 64 px at that scale, i.e. ``64 / s`` px in the poster (a
4000×3000 poster gets ~222 px of context, a 1024² poster 64 px). The crop is clamped to
the poster, so regions at the poster's edge simply get less context on that side. A
minimum margin in poster pixels (:data:`DEFAULT_MIN_MARGIN`) keeps the paste-back's
feathered band inside the crop; it only binds on posters smaller than ~320² px.

Images are RGB ``uint8`` ``[H, W, 3]``; masks ``uint8`` ``[H, W]`` with 255 = edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.types import Box
from posterqa.errors import InputError

DEFAULT_PIXEL_BUDGET = 1024 * 1024
DEFAULT_MARGIN = 64
# reach of the paste-back's blend weight beyond the mask: 3 px grow + 13 px where PIL's
# GaussianBlur(radius=5) on a uint8 mask is still non-zero (refiner.paste.BAND_REACH_PX),
# plus slack
DEFAULT_MIN_MARGIN = 20


def mask_bbox(mask: np.ndarray) -> Box | None:
    """Tight half-open box of the non-zero pixels of a ``[H, W]`` mask; None if empty."""
    arr = np.asarray(mask)
    rows = np.flatnonzero(arr.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(arr.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def poster_margin(width: int, height: int, *, pixel_budget: int, margin: int) -> float:
    """The published margin in poster pixels: ``margin / s``, ``s = sqrt(budget / (W·H))``.

    ``width x height`` is the WHOLE poster: the recipe scales the poster (not the crop)
    to the budget's area and takes ``margin`` px at that scale.
    """
    if width < 1 or height < 1:
        raise InputError(f"image size {width}x{height} has no pixels")
    if pixel_budget < 1:
        raise InputError(f"pixel budget must be positive, got {pixel_budget}")
    if margin <= 0:
        return 0.0
    scale = math.sqrt(float(pixel_budget) / (float(width) * float(height)))
    return float(margin) / scale


def budget_size(
    width: int, height: int, *, pixel_budget: int, multiple: int = 1
) -> tuple[int, int]:
    """``(w, h)`` with ``w·h ≈ pixel_budget`` at the aspect ratio of ``width x height``.

    Each side is a positive multiple of ``multiple`` (rounded to the nearest one).
    """
    if width < 1 or height < 1:
        raise InputError(f"cannot size an empty crop {width}x{height}")
    if multiple < 1:
        raise InputError(f"size multiple must be >= 1, got {multiple}")
    scale = math.sqrt(pixel_budget / float(width * height))
    tw = max(multiple, int(round(width * scale / multiple)) * multiple)
    th = max(multiple, int(round(height * scale / multiple)) * multiple)
    return tw, th


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB(A) ``uint8`` image to ``size = (w, h)``; area filter when shrinking."""
    h, w = image.shape[:2]
    if (w, h) == tuple(size):
        return image.copy()
    shrink = size[0] * size[1] < w * h
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return cv2.resize(image, tuple(size), interpolation=interp)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a ``uint8`` 255/0 mask to ``size = (w, h)``, keeping it binary.

    Shrinking keeps every output pixel that covers any edit pixel (a thin stroke never
    vanishes); enlarging is nearest-neighbour.
    """
    h, w = mask.shape[:2]
    if (w, h) == tuple(size):
        return mask.copy()
    if size[0] * size[1] < w * h:
        small = cv2.resize(mask, tuple(size), interpolation=cv2.INTER_AREA)
        return np.where(small > 0, 255, 0).astype(np.uint8)
    big = cv2.resize(mask, tuple(size), interpolation=cv2.INTER_NEAREST)
    return np.where(big > 0, 255, 0).astype(np.uint8)


@dataclass(frozen=True)
class FocusCrop:
    """Where the focus crop lies in the image and how it is resized for the backend.

    ``box``: the crop in image pixels; ``mask_box``: the tight box of the edit mask;
    ``target``: ``(w, h)`` the backend sees; ``scale``: target width / crop width
    (about the same vertically; exact factors are :attr:`scale_x` / :attr:`scale_y`).
    """

    image_hw: tuple[int, int]
    box: Box
    mask_box: Box
    target: tuple[int, int]
    margin_px: float

    @property
    def crop_size(self) -> tuple[int, int]:
        """``(w, h)`` of the crop in image pixels."""
        return self.box.width, self.box.height

    @property
    def scale_x(self) -> float:
        return self.target[0] / self.box.width

    @property
    def scale_y(self) -> float:
        return self.target[1] / self.box.height

    @property
    def scale(self) -> float:
        return self.scale_x

    @property
    def resized(self) -> bool:
        return self.target != self.crop_size

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The crop of a full image (RGB ``[H, W, 3]`` or mask ``[H, W]``), not resized."""
        self._check_shape(image, "image")
        return image[self.box.slice()].copy()

    def crop_image(self, image: np.ndarray) -> np.ndarray:
        """The crop of an RGB ``uint8`` ``[H, W, 3]`` image, resized to :attr:`target`."""
        return resize_image(self.crop(image), self.target)

    def crop_mask(self, mask: np.ndarray) -> np.ndarray:
        """The crop of a ``uint8`` ``[H, W]`` mask, resized to :attr:`target`, binary."""
        cropped = np.where(self.crop(mask) > 0, 255, 0).astype(np.uint8)
        return resize_mask(cropped, self.target)

    def to_crop_size(self, refined: np.ndarray) -> np.ndarray:
        """Resize a backend output (``target`` sized) back to the crop's size."""
        return resize_image(refined, self.crop_size)

    def point_to_target(self, x: float, y: float) -> tuple[float, float]:
        """Image coordinates -> coordinates in the backend's (resized) crop."""
        return ((x - self.box.x0) * self.scale_x, (y - self.box.y0) * self.scale_y)

    def point_to_image(self, x: float, y: float) -> tuple[float, float]:
        """Backend crop coordinates -> image coordinates."""
        return (x / self.scale_x + self.box.x0, y / self.scale_y + self.box.y0)

    def _check_shape(self, image: np.ndarray, what: str) -> None:
        if tuple(image.shape[:2]) != tuple(self.image_hw):
            raise InputError(
                f"{what} is {image.shape[1]}x{image.shape[0]} but the focus crop was made "
                f"for {self.image_hw[1]}x{self.image_hw[0]}"
            )

    def to_json(self) -> dict[str, object]:
        return {
            "box": self.box.as_list(),
            "mask_box": self.mask_box.as_list(),
            "target": list(self.target),
            "margin_px": round(self.margin_px, 2),
        }


def focus_crop(
    image_hw: tuple[int, int],
    mask: np.ndarray | Box,
    *,
    pixel_budget: int = DEFAULT_PIXEL_BUDGET,
    margin: int = DEFAULT_MARGIN,
    multiple: int = 1,
    min_margin: int = DEFAULT_MIN_MARGIN,
    resize: bool = True,
) -> FocusCrop:
    """Plan the focus crop of ``mask`` (``uint8 [H, W]``, or a :class:`Box`) in an image.

    ``image_hw`` is ``(H, W)``. With ``resize=False`` the backend gets the crop at its own
    resolution (only rounded up to ``multiple``). Raises :class:`InputError` for an
    empty mask, a mask of another size, or a box outside the image.
    """
    height, width = int(image_hw[0]), int(image_hw[1])
    if height < 1 or width < 1:
        raise InputError(f"image size {width}x{height} has no pixels")
    if pixel_budget < 1:
        raise InputError(f"pixel budget must be positive, got {pixel_budget}")
    if isinstance(mask, Box):
        tight = mask.clamp(width, height)
        if tight.area == 0:
            raise InputError(f"box {mask.as_list()} is outside the image {width}x{height}")
    else:
        arr = np.asarray(mask)
        if arr.shape[:2] != (height, width):
            raise InputError(
                f"mask is {arr.shape[1] if arr.ndim > 1 else '?'}x{arr.shape[0]} "
                f"but the image is {width}x{height}"
            )
        found = mask_bbox(arr if arr.ndim == 2 else arr.any(axis=2))
        if found is None:
            raise InputError("mask is empty: no pixel is set")
        tight = found
    m = max(poster_margin(width, height, pixel_budget=pixel_budget, margin=margin),
            float(min_margin))
    pad = int(math.ceil(m - 1e-9))  # a float hair above an integer is that integer
    box = tight.pad(pad).clamp(width, height)
    if resize:
        target = budget_size(box.width, box.height, pixel_budget=pixel_budget, multiple=multiple)
    else:
        target = (
            max(multiple, -(-box.width // multiple) * multiple),
            max(multiple, -(-box.height // multiple) * multiple),
        )
    return FocusCrop(image_hw=(height, width), box=box, mask_box=tight, target=target,
                     margin_px=m)
