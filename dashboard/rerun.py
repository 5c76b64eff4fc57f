"""The one call site that starts a re-run of a repair (the ``repair-asset`` flow), and
the check of a reviewer's box against the poster it is drawn on."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError

from detectors.types import Box
from posterqa.errors import ImageDecodeError, InputError
from posterqa.settings import Settings

log = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = (5, 6, 7, 8)  # transpose, rotate 270, transverse, rotate 90


def poster_size(store: Any, key: str) -> tuple[int, int]:
    """``(width, height)`` of the poster ``key`` as posterqa sees it (EXIF orientation
    applied, as :func:`posterqa.imaging.load_image` does); reads the header only.

    Raises ObjectNotFoundError / StorageError from the store, ImageDecodeError when the
    object is not an image.
    """
    data = store.get_bytes(key)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageDecodeError(f"cannot read the size of poster {key!r}: {exc}") from None
    if orientation in _SWAPS_AXES:
        width, height = height, width
    return width, height


def check_box_inside(box: Box, size: tuple[int, int], *, key: str) -> Box:
    """``box`` if it lies inside a poster of ``size`` (width, height); InputError naming
    the box and the poster's size otherwise."""
    width, height = size
    if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
        raise InputError(
            f"box {box.as_list()} is outside the poster {key} ({width}x{height} pixels): "
            f"it needs 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}"
        )
    return box


def start_rerun(settings: Settings, *, asset_key: str, boxes: Sequence[Box],
                prompt: str) -> str | None:
    """Ask the flows to repair ``asset_key`` again; returns the flow run id.

    Returns None when this installation has no flow trigger (``flows.trigger`` missing):
    the request is then only recorded (review row + audit event) for a later sweep.
    """
    try:
        from flows.trigger import request_rerun
    except ImportError:
        log.warning("flows.trigger is not available: re-run of %s recorded only", asset_key)
        return None
    return request_rerun(settings, asset_key=asset_key, boxes=list(boxes), prompt=prompt)
