"""Image loading and encoding: the one place where colour is converted.

Every image posterqa works on is an RGB ``uint8`` array ``[H, W, 3]``; reference logos
may keep their alpha as ``[H, W, 4]`` RGBA. On load: the pixel limit is checked from
the header before decoding, EXIF orientation is applied, an embedded ICC profile is
converted to sRGB, CMYK / 16-bit / palette / greyscale are converted to RGB, and alpha
is composited over white (posters) or kept (references).
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from posterqa.errors import ImageDecodeError, ImageTooLargeError, ImageTooSmallError, InputError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 80_000_000
# the smallest poster a sweep checks: text the OCR reads is 16 px or taller, and a
# smaller image cannot carry copy (a 1x1 "poster" used to fail deep in the detectors)
MIN_POSTER_SIDE = 32
_SRGB = ImageCms.createProfile("sRGB")

ImageSource = bytes | str | Path


def _open_header_only(data: bytes) -> Image.Image:
    """Identify ``data`` with Pillow's format plugins but without Pillow's
    decompression-bomb check (as ``Image.open`` does otherwise); nothing is decoded."""
    Image.init()
    prefix = data[:16]
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        accepted = True if accept is None else accept(prefix)
        if isinstance(accepted, str) or not accepted:
            continue
        try:
            return factory(io.BytesIO(data), "")
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    raise UnidentifiedImageError("cannot identify image file")


def _open(source: ImageSource, name: str, max_pixels: int, min_side: int = 1) -> Image.Image:
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"image file not found: {path}") from None
        except OSError as exc:
            raise InputError(f"cannot read image file {path}: {exc.strerror}") from None
    else:
        data = source
    name = name or "<bytes>"
    if not data:
        raise ImageDecodeError(f"image {name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                img = Image.open(io.BytesIO(data))
            except Image.DecompressionBombError:
                # Pillow's own limit (~179 M pixels) fired first: read the header
                # without it, so posterqa's limit decides and names the size
                img = _open_header_only(data)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image {name} is {width}x{height} = {width * height} pixels, "
            f"over the limit of {max_pixels} (POSTERQA_MAX_IMAGE_PIXELS)"
        )
    if width < 1 or height < 1:
        raise ImageDecodeError(f"image {name} has no pixels ({width}x{height})")
    if min(width, height) < min_side:
        raise ImageTooSmallError(
            f"image {name} is {width}x{height} pixels, too small to check "
            f"(a poster needs at least {min_side} pixels on each side)"
        )
    try:
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None
    return img


def _to_srgb(img: Image.Image, name: str) -> Image.Image:
    """Apply EXIF orientation, the ICC profile, and bring any mode to RGB or RGBA."""
    img = ImageOps.exif_transpose(img)
    icc = img.info.get("icc_profile")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    elif img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            img = ImageCms.profileToProfile(img, src, _SRGB, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.warning("ignoring unusable ICC profile of %s: %s", name, exc)
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")
    return img


def load_image(
    source: ImageSource, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = 1,
) -> np.ndarray:
    """Decode a poster to RGB ``uint8`` ``[H, W, 3]`` in sRGB.

    ``source`` is a path or the encoded bytes; ``name`` is used in error messages.
    Alpha is composited over white. Both limits are checked from the header, before
    decoding: more than ``max_pixels`` pixels raises :class:`ImageTooLargeError`, fewer
    than ``min_side`` pixels on a side :class:`ImageTooSmallError` (a sweep passes
    :data:`MIN_POSTER_SIDE`); an undecodable image :class:`ImageDecodeError`.
    """
    img = _to_srgb(_open(source, name, max_pixels, min_side), name)
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def load_rgba(
    source: ImageSource, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a reference image to RGBA ``uint8`` ``[H, W, 4]`` in sRGB.

    Images without alpha get a fully opaque alpha channel.
    """
    img = _to_srgb(_open(source, name, max_pixels), name).convert("RGBA")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def load_mask(
    source: ImageSource, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a mask to ``uint8`` ``[H, W]`` with 255 = edit, 0 = keep (threshold 128)."""
    img = _open(source, name, max_pixels)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"))
        grey = np.where(rgba[..., 3] > 0, np.asarray(img.convert("L")), 0)
    else:
        grey = np.asarray(img.convert("L"))
    return np.where(grey >= 128, 255, 0).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """Encode an RGB/RGBA ``uint8`` array (or ``[H, W]`` mask) as PNG bytes."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InputError(f"encode_png expects uint8, got {arr.dtype}")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode an RGB ``uint8`` array as JPEG bytes (for previews only)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def ensure_rgb_uint8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Check that ``image`` is ``[H, W, 3]`` uint8 and return it unchanged."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{what} must be RGB uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
    return arr
