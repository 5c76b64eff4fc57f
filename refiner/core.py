"""The refiner: focus crop -> backend -> soft paste-back -> verification.

::

    refiner = Refiner(get_backend("compositor"), pixel_budget=1024 * 1024, margin=64)
    result = refiner.repair(poster, defect, defect.prompt(), expected=defect.expected)
    if result.verification.ok:
        save(result.image)

``image``: RGB ``uint8 [H, W, 3]``; the edit region is a ``uint8 [H, W]`` mask
(255 = edit), a :class:`~detectors.types.Box` or a :class:`~detectors.types.Defect`.
The input poster is never modified; the result holds a repaired copy.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.types import Box, Defect, Quad, normalize_quad
from posterqa.errors import (
    BackendError,
    BackgroundChangedError,
    ImageDecodeError,
    InputError,
    PosterQAError,
)
from posterqa.imaging import load_rgba
from refiner.backends.base import RefinerBackend, get_backend
from refiner.focus import DEFAULT_MARGIN, DEFAULT_PIXEL_BUDGET, FocusCrop, focus_crop
from refiner.paste import BLUR_RADIUS, GROW_PX, full_weight, paste_back
from refiner.verify import (
    BAND_COLOR_TOLERANCE,
    LogoChecker,
    TextChecker,
    Verification,
    band_mask,
    match_band_colors,
    mean_delta_e,
    verify_repair,
)

log = logging.getLogger(__name__)

LOGO_PROMPT = "Refine the LOGO."
_TEXT_PROMPT = re.compile(
    r"^\s*refine\s+the\s+text\s*['\"\u2018\u201c](.*)['\"\u2019\u201d]\s*\.?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def text_prompt(expected: str) -> str:
    """``refine the text '<expected>'`` (straight quotes inside become ’)."""
    return f"refine the text '{expected.replace(chr(39), chr(0x2019))}'"


def prompt_for(kind: str, expected: str | None = None) -> str:
    """The backend-independent prompt of a repair."""
    if kind == "logo":
        return LOGO_PROMPT
    return text_prompt(expected) if expected else "Refine the text."


def parse_prompt(prompt: str) -> tuple[str, str | None]:
    """``(kind, expected)`` from a prompt: ``refine the text '...'`` or ``Refine the LOGO.``."""
    m = _TEXT_PROMPT.match(prompt or "")
    if m:
        return "text", m.group(1).replace("\u2019", "'")
    if "logo" in (prompt or "").lower():
        return "logo", None
    return "text", None


def mask_from(region: np.ndarray | Box | Defect, image_hw: tuple[int, int]) -> np.ndarray:
    """A ``uint8 [H, W]`` edit mask (255 = edit) from a mask, a box or a defect.

    Raises :class:`InputError` for a mask of another size, an empty mask or a box that
    lies outside the image (a box partly outside is clipped).
    """
    height, width = image_hw
    if isinstance(region, Defect):
        mask = region.repair_mask(height, width)
        if not mask.any():
            raise InputError(
                f"defect region {region.box.as_list()} is outside the image {width}x{height}"
            )
        return mask
    if isinstance(region, Box):
        clipped = region.clamp(width, height)
        if clipped.area == 0:
            raise InputError(f"box {region.as_list()} is outside the image {width}x{height}")
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[clipped.slice()] = 255
        return mask
    arr = np.asarray(region)
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.ndim != 2:
        raise InputError(f"mask must be [H, W], got shape {np.asarray(region).shape}")
    if arr.shape != (height, width):
        raise InputError(
            f"mask is {arr.shape[1]}x{arr.shape[0]} but the image is {width}x{height}"
        )
    mask = np.where(arr > 0, 255, 0).astype(np.uint8)
    if not mask.any():
        raise InputError("mask is empty: no pixel is set")
    return mask


def load_reference(reference: Any) -> np.ndarray | None:
    """A reference image as RGBA ``uint8 [h, w, 4]`` from an array, a path or bytes."""
    if reference is None:
        return None
    if isinstance(reference, np.ndarray):
        arr = reference
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.size == 0:
            raise InputError(
                f"reference must be RGB/RGBA uint8 [h, w, 3|4], got {arr.dtype} {arr.shape}"
            )
        if arr.shape[2] == 3:
            alpha = np.full(arr.shape[:2] + (1,), 255, dtype=np.uint8)
            arr = np.concatenate([arr, alpha], axis=2)
        return np.ascontiguousarray(arr)
    if isinstance(reference, (str, Path, bytes)):
        try:
            return load_rgba(reference, name=str(reference) if not isinstance(reference, bytes)
                             else "reference")
        except ImageDecodeError as exc:
            raise InputError(f"reference cannot be read: {exc}") from None
    raise InputError(f"reference must be an image array, a path or bytes, got {type(reference)}")


def default_text_checker() -> TextChecker | None:
    """``TextDetector().reread`` as a checker, or None when the detector is not installed."""
    try:
        from detectors.text import TextDetector
    except ImportError as exc:
        log.warning("text re-read unavailable: %s", exc)
        return None
    detector = TextDetector()
    return detector.reread


def default_logo_checker() -> LogoChecker | None:
    """``LogoDetector().compare`` as a checker, or None when the detector is not installed."""
    try:
        from detectors.logo import LogoDetector
    except ImportError as exc:
        log.warning("logo comparison unavailable: %s", exc)
        return None
    detector = LogoDetector()
    return detector.compare


@dataclass(frozen=True)
class RepairResult:
    """One repair.

    ``image``: the repaired poster (RGB ``uint8 [H, W, 3]``, a copy); ``focus``: the crop
    plan; ``crop``/``crop_mask``: what the backend got (``focus.target`` sized);
    ``refined_crop``: what it returned; ``weight``: ``float32`` blend weight over
    ``focus.box`` (crop sized; :meth:`full_weight` gives the poster-sized map).
    """

    image: np.ndarray
    focus: FocusCrop
    crop: np.ndarray
    crop_mask: np.ndarray
    refined_crop: np.ndarray
    weight: np.ndarray
    verification: Verification
    backend: str
    seed: int | None
    prompt: str
    seconds: float
    kind: str = "text"
    expected: str | None = None
    mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.verification.ok

    def full_weight(self) -> np.ndarray:
        return full_weight(self.image.shape[:2], self.focus.box, self.weight)

    def diff(self, original: np.ndarray) -> np.ndarray:
        """``uint8 [H, W]`` max absolute channel difference against ``original``."""
        d = np.abs(original.astype(np.int16) - self.image.astype(np.int16)).max(axis=2)
        return d.astype(np.uint8)


_AUTO: Any = object()


class Refiner:
    """Focus-and-Refine around any :class:`RefinerBackend`.

    ``backend``: an instance or a registered name. ``text_checker`` /
    ``logo_checker``: callables for the region re-check (see :mod:`refiner.verify`);
    None builds the detectors' ``reread`` / ``compare`` lazily on first use.
    ``color_correct``: when the band colour shift exceeds the tolerance, shift the
    refined crop's colours to match the band before pasting.
    """

    def __init__(
        self,
        backend: RefinerBackend | str,
        *,
        pixel_budget: int = DEFAULT_PIXEL_BUDGET,
        margin: int = DEFAULT_MARGIN,
        text_checker: TextChecker | None = None,
        logo_checker: LogoChecker | None = None,
        color_correct: bool = False,
        band_tolerance: float = BAND_COLOR_TOLERANCE,
        require_region_check: bool = True,
        grow_px: int = GROW_PX,
        blur_radius: float = BLUR_RADIUS,
    ) -> None:
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        if not isinstance(self.backend, RefinerBackend):
            raise InputError(f"backend must be a RefinerBackend, got {type(backend).__name__}")
        self.pixel_budget = int(pixel_budget)
        self.margin = int(margin)
        self.color_correct = color_correct
        self.band_tolerance = band_tolerance
        self.require_region_check = require_region_check
        self.grow_px = grow_px
        self.blur_radius = blur_radius
        self._text_checker = text_checker if text_checker is not None else _AUTO
        self._logo_checker = logo_checker if logo_checker is not None else _AUTO

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> Refiner:
        """A refiner with the backend, budget and margin the settings choose."""
        backend = get_backend(settings.refiner_backend, settings=settings,
                              pixel_budget=settings.refiner_pixel_budget)
        return cls(backend, pixel_budget=settings.refiner_pixel_budget,
                   margin=settings.refiner_margin, **kwargs)

    @property
    def text_checker(self) -> TextChecker | None:
        if self._text_checker is _AUTO:
            self._text_checker = default_text_checker()
        return self._text_checker

    @property
    def logo_checker(self) -> LogoChecker | None:
        if self._logo_checker is _AUTO:
            self._logo_checker = default_logo_checker()
        return self._logo_checker

    # ------------------------------------------------------------------ repair
    def repair(
        self,
        image: np.ndarray,
        mask: np.ndarray | Box | Defect,
        prompt: str,
        *,
        reference: Any = None,
        hints: Mapping[str, Any] | None = None,
        seed: int | None = None,
        expected: str | None = None,
        kind: str = "text",
    ) -> RepairResult:
        """Repair one region of ``image`` (RGB ``uint8 [H, W, 3]``, never modified).

        ``hints`` go to the backend; a ``"quad"`` hint is given in *image* pixels and
        handed to the backend in its crop's pixels. ``expected`` defaults to the text
        of a ``refine the text '...'`` prompt (or the defect's expected copy).
        Raises :class:`InputError` for bad input and :class:`BackendError` when the
        backend fails or returns something unusable; a failed *verification* is not an
        error: it is in ``result.verification``.
        """
        start = time.perf_counter()
        # 1. Check inputs
        arr = np.asarray(image)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
            raise InputError(f"image must be RGB uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
        if kind not in ("text", "logo"):
            raise InputError(f"repair kind must be 'text' or 'logo', got {kind!r}")
        height, width = arr.shape[:2]
        edit_mask = mask_from(mask, (height, width))
        ref = load_reference(reference)
        hint_map: dict[str, Any] = dict(hints or {})
        if isinstance(mask, Defect):
            expected = expected if expected is not None else mask.expected
            hint_map.setdefault("quad", mask.quad)
        if expected is None and kind == "text":
            expected = parse_prompt(prompt)[1]
        quad_img: Quad | None = (
            normalize_quad(hint_map["quad"]) if hint_map.get("quad") is not None else None
        )

        # 2. Focus crop, resized for the backend
        be = self.backend
        focus = focus_crop((height, width), edit_mask, pixel_budget=self.pixel_budget,
                           margin=self.margin, multiple=max(1, int(be.size_multiple)),
                           resize=bool(be.wants_resize))
        crop = focus.crop_image(arr)
        crop_mask = focus.crop_mask(edit_mask)
        backend_hints = dict(hint_map)
        if quad_img is not None:
            backend_hints["quad"] = tuple(focus.point_to_target(x, y) for x, y in quad_img)
        if expected is not None:
            backend_hints.setdefault("expected", expected)
        backend_hints.setdefault("kind", kind)

        # 3. Backend
        refined = self._run_backend(crop, crop_mask, prompt, ref, seed, backend_hints)

        # 4. Paste back into a copy
        refined_full = focus.to_crop_size(refined)
        orig_crop = focus.crop(arr)
        mask_crop = focus.crop(edit_mask)
        corrected = False
        if self.color_correct:
            refined_full, corrected = self._correct_colors(orig_crop, refined_full, mask_crop)
        pasted = paste_back(arr, refined_full, focus.box, mask_crop,
                            grow_px=self.grow_px, blur_radius=self.blur_radius)
        weight_full = pasted.full_weight()

        # 5. Verify
        region_box = Box.from_points(quad_img) if quad_img is not None else focus.mask_box
        region_box = region_box.clamp(width, height)
        verification = verify_repair(
            arr, pasted.image, weight_full, edit_mask, kind=kind, expected=expected,
            region_box=region_box if region_box.area else focus.mask_box,
            reference=ref, quad=quad_img,
            text_checker=self.text_checker if kind == "text" and expected else None,
            logo_checker=self.logo_checker if kind == "logo" and ref is not None else None,
            band_tolerance=self.band_tolerance,
            require_region_check=self.require_region_check,
            color_corrected=corrected,
        )
        if verification.bg_changed_pixels:
            raise BackgroundChangedError(
                f"paste-back changed {verification.bg_changed_pixels} pixels outside the "
                f"blend band (max diff {verification.bg_max_abs_diff}) of crop "
                f"{focus.box.as_list()}"
            )
        seconds = time.perf_counter() - start
        log.info("repaired %s region %s with %s in %.2fs: %s %s", kind, focus.mask_box.as_list(),
                 be.name, seconds, verification.verdict, ",".join(verification.reasons))
        return RepairResult(
            image=pasted.image, focus=focus, crop=crop, crop_mask=crop_mask,
            refined_crop=refined, weight=pasted.weight, verification=verification,
            backend=be.name, seed=seed, prompt=prompt, seconds=seconds, kind=kind,
            expected=expected, mask=edit_mask,
        )

    def _run_backend(
        self,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        prompt: str,
        reference: np.ndarray | None,
        seed: int | None,
        hints: Mapping[str, Any],
    ) -> np.ndarray:
        be = self.backend
        name = be.name or type(be).__name__
        try:
            out = be.refine(crop.copy(), crop_mask.copy(), prompt,
                            None if reference is None else reference.copy(),
                            seed=seed, hints=hints)
        except PosterQAError:
            raise
        except Exception as exc:
            raise BackendError(
                f"backend {name!r} failed on a {crop.shape[1]}x{crop.shape[0]} crop: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        got = np.asarray(out) if out is not None else None
        if got is None or got.shape != crop.shape or got.dtype != np.uint8:
            desc = "None" if got is None else f"{got.dtype} {got.shape}"
            raise BackendError(
                f"backend {name!r} returned {desc} for a uint8 {crop.shape} crop"
            )
        return got

    def _correct_colors(
        self, orig_crop: np.ndarray, refined: np.ndarray, mask_crop: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        from refiner.paste import blend_weight

        weight = blend_weight(mask_crop, grow_px=self.grow_px, blur_radius=self.blur_radius)
        band = band_mask(weight, mask_crop)
        if not band.any():
            return refined, False
        shift = mean_delta_e(orig_crop[band], refined[band])
        if shift <= self.band_tolerance / 2:
            return refined, False
        log.info("band colour shift %.2f: matching band colour statistics", shift)
        return match_band_colors(orig_crop, refined, band), True


def region_quad(region: np.ndarray | Box | Defect | Quad) -> Quad:
    """The quad of a region (a defect's quad, a box's corners, a mask's tight box)."""
    if isinstance(region, Defect):
        return region.quad
    if isinstance(region, Box):
        return region.as_quad()
    if isinstance(region, np.ndarray):
        return Box.from_mask(region).as_quad()
    return normalize_quad(region)
