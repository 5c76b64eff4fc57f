"""The repaired file is the original file, repaired.

Repairs work on the sRGB ``uint8`` working copy that :func:`posterqa.imaging.load_image`
decodes (EXIF orientation applied, ICC profile converted to sRGB). The file written
back is the ORIGINAL file with only the repaired pixels replaced:

- same format (PNG, JPEG, WebP, TIFF, ...), same mode and bit depth (16-bit PNG stays
  16-bit, a palette PNG keeps its palette), same ICC profile, EXIF (orientation tag
  included: the pixels stay in the file's own orientation) and DPI;
- only pixels the repair changed in the working copy are rewritten, converted back
  from sRGB into the file's own colour space (profile, mode, depth); every other pixel
  is the original's decoded value, untouched;
- :func:`check_fidelity` then compares the written file's decoded pixels with the
  ORIGINAL file's decoded pixels (not with the working copy): lossless formats must be
  identical outside the changed pixels; for JPEG every MCU (8×8 block, 16×16 with 4:2:0
  sampling) that does not touch a changed pixel must decode identically.

JPEG: the repaired image is encoded with the original's quantisation tables and chroma
sampling (from the decoder's own YCbCr planes), and only the MCUs that hold a changed
pixel are copied, as quantised coefficients, into the original file
(:mod:`refiner.jpeg_blocks`, what ``jpegtran -drop`` does): every other MCU decodes
exactly as before. Progressive / arithmetic / multi-scan JPEGs cannot be patched; they
keep the plain re-encode (most untouched MCUs identical at quality <= 90 with 4:4:4,
far fewer with 4:2:0 or at 95+), and the record says so: the count of changed MCUs is
measured on every write (:class:`AssetFidelity`), ``meets_bar`` False when any changed.
Lossy WebP is written lossless (pixels outside the repair identical, the file larger),
noted in the record.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageCms, JpegImagePlugin, PngImagePlugin

from posterqa.errors import ImageDecodeError, InputError
from posterqa.imaging import DEFAULT_MAX_PIXELS, load_image

log = logging.getLogger(__name__)

_SRGB = ImageCms.createProfile("sRGB")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "GIF": ".gif",
        "BMP": ".bmp"}
_CONTENT_TYPE = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp",
                 "TIFF": "image/tiff", "GIF": "image/gif", "BMP": "image/bmp"}
# PIL transpose applied by ImageOps.exif_transpose for each EXIF orientation, undone on
# arrays: (k for np.rot90 after an optional transpose)
_ORIENTATIONS = (2, 3, 4, 5, 6, 7, 8)


@dataclass(frozen=True)
class AssetFidelity:
    """How faithful a written file is to the original outside the repaired pixels.

    ``changed_pixels``: pixels the repair rewrote (native orientation);
    ``outside_changed``: pixels outside them (lossless formats) or inside untouched
    MCUs (JPEG) that decode differently from the original; ``outside_max_diff``: the
    largest difference there (in the file's own levels, 0..65535 for 16-bit);
    ``blocks_untouched`` / ``blocks_changed``: JPEG MCUs not touching the repair and
    how many of them changed (0 / 0 for lossless formats); ``blocks_edge_only``: with
    subsampled chroma (4:2:0, 4:2:2), untouched MCUs that differ only in the 1 px next
    to a patched MCU: the decoder's chroma upsampling interpolates across the MCU
    border, so this ring follows any block patch (``jpegtran -drop`` too) and does not
    fail the bar; ``kept``: which of
    ``icc_profile``, ``exif``, ``dpi`` the original had and the output kept;
    ``lost``: the ones it had and the output lacks; ``meets_bar``: nothing outside
    the repair changed and nothing was lost; ``reason``: why not, or a note.
    """

    format: str
    mode: str
    lossless: bool
    changed_pixels: int
    outside_changed: int
    outside_max_diff: int
    blocks_untouched: int
    blocks_changed: int
    kept: tuple[str, ...]
    lost: tuple[str, ...]
    meets_bar: bool
    reason: str | None = None
    blocks_edge_only: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format, "mode": self.mode, "lossless": self.lossless,
            "changed_pixels": self.changed_pixels, "outside_changed": self.outside_changed,
            "outside_max_diff": self.outside_max_diff,
            "blocks_untouched": self.blocks_untouched, "blocks_changed": self.blocks_changed,
            "blocks_edge_only": self.blocks_edge_only,
            "kept": list(self.kept), "lost": list(self.lost), "meets_bar": self.meets_bar,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RepairedAsset:
    """The repaired file: bytes in the original's format, and how faithful they are."""

    data: bytes
    format: str
    extension: str
    content_type: str
    fidelity: AssetFidelity


# ------------------------------------------------------------------ decoding
def _open(data: bytes, name: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"cannot decode image {name}: {exc}") from None
    return img


def _png_header(data: bytes) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` of a PNG, None for any other format."""
    if not data.startswith(_PNG_SIGNATURE) or len(data) < 33:
        return None
    return data[24], data[25]


def _is_16bit_colour_png(data: bytes) -> bool:
    header = _png_header(data)
    return header is not None and header[0] == 16 and header[1] in (2, 4, 6)


def native_pixels(data: bytes, name: str = "") -> np.ndarray:
    """The file's own decoded pixels: no orientation, no colour conversion, full depth.

    Palette images give their indices; 16-bit colour PNGs ``uint16`` RGB(A) (Pillow
    reads those as 8-bit, so OpenCV decodes them); everything else Pillow's array.
    """
    if _is_16bit_colour_png(data):
        import cv2

        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ImageDecodeError(f"cannot decode image {name or '<bytes>'}")
        if arr.ndim == 3:
            arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.shape[2] == 4 else arr[..., ::-1]
        return np.ascontiguousarray(arr)
    return np.asarray(_open(data, name or "<bytes>"))


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except (TypeError, ValueError, SyntaxError):
        return 1
    return value if value in _ORIENTATIONS else 1


def to_native_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Undo ``ImageOps.exif_transpose`` on an array ``[H, W, ...]`` (the file's layout)."""
    a = np.asarray(arr)
    if orientation == 2:
        out = a[:, ::-1]
    elif orientation == 3:
        out = a[::-1, ::-1]
    elif orientation == 4:
        out = a[::-1]
    elif orientation == 5:
        out = a.swapaxes(0, 1)
    elif orientation == 6:  # exif_transpose rotated 270 (clockwise): rotate back
        out = np.rot90(a, 1)
    elif orientation == 7:
        out = np.rot90(a, 2).swapaxes(0, 1)
    elif orientation == 8:
        out = np.rot90(a, -1)
    else:
        out = a
    return np.ascontiguousarray(out)


# ------------------------------------------------------------------ colour back
def _from_srgb(rgb: np.ndarray, icc: bytes | None, out_mode: str) -> np.ndarray:
    """``uint8 [N, 3]`` sRGB pixels -> the file's colour space in ``out_mode`` (uint8)."""
    strip = Image.fromarray(np.ascontiguousarray(rgb.reshape(-1, 1, 3)), "RGB")
    if icc:
        try:
            dst = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            strip = ImageCms.profileToProfile(strip, _SRGB, dst, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.warning("ICC profile unusable for the write-back (%s); pixels stay sRGB", exc)
    if strip.mode != out_mode:
        strip = strip.convert(out_mode)
    return np.asarray(strip).reshape(rgb.shape[0], -1)


def _uncomposite(values: np.ndarray, alpha: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Colour under ``alpha`` that composites over white to ``values`` (uint8)."""
    a = alpha.astype(np.float64)[:, None] / 255.0
    v = values.astype(np.float64)
    safe = np.where(a > 0, a, 1.0)
    out = np.clip(np.rint((v - 255.0 * (1.0 - a)) / safe), 0, 255)
    return np.where(a > 0, out, original).astype(np.uint8)


def _nearest_palette(rgb: np.ndarray, palette: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Index of the nearest usable palette entry for each ``uint8 [N, 3]`` pixel."""
    cand = np.flatnonzero(usable)
    d = ((rgb[:, None, :].astype(np.int32) - palette[None, cand, :].astype(np.int32)) ** 2)
    return cand[d.sum(axis=2).argmin(axis=1)].astype(np.uint8)


def _patched(img: Image.Image, native: np.ndarray, changed: np.ndarray,
             after: np.ndarray) -> np.ndarray:
    """``native`` with the ``changed`` pixels replaced by ``after`` (sRGB) in its own mode."""
    out = native.copy()
    rgb = after[changed]
    icc = img.info.get("icc_profile")
    mode = img.mode
    if rgb.size == 0:
        return out
    if mode in ("RGB", "RGBA") and native.dtype == np.uint16:  # 16-bit colour PNG
        vals = _from_srgb(rgb, icc, "RGB").astype(np.uint16) * 257
        if native.shape[2] == 4:
            a16 = native[changed][:, 3]
            a8 = (a16 // 257).astype(np.uint8)
            base = (native[changed][:, :3] // 257).astype(np.uint8)
            vals = _uncomposite(_from_srgb(rgb, icc, "RGB"), a8, base).astype(np.uint16) * 257
            out[changed] = np.concatenate([vals, a16[:, None]], axis=1)
        else:
            out[changed] = vals
    elif mode == "RGB":
        out[changed] = _from_srgb(rgb, icc, "RGB")
    elif mode == "RGBA":
        orig = native[changed]
        vals = _uncomposite(_from_srgb(rgb, icc, "RGB"), orig[:, 3], orig[:, :3])
        out[changed] = np.concatenate([vals, orig[:, 3:4]], axis=1)
    elif mode == "L":
        out[changed] = _from_srgb(rgb, None, "L")[:, 0]
    elif mode == "LA":
        orig = native[changed]
        grey = _from_srgb(rgb, None, "L")
        out[changed] = np.concatenate(
            [_uncomposite(grey, orig[:, 1], orig[:, :1]), orig[:, 1:2]], axis=1)
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        top = 65535.0 if int(native.max()) > 255 else 255.0
        grey = _from_srgb(rgb, None, "L")[:, 0].astype(np.float64)
        out[changed] = np.rint(grey * top / 255.0).astype(native.dtype)
    elif mode == "P":
        pal = np.asarray(img.getpalette("RGB") or [], np.uint8).reshape(-1, 3)
        usable = np.ones(len(pal), bool)
        trans = img.info.get("transparency")
        if isinstance(trans, int) and trans < len(pal):
            usable[trans] = False
        elif isinstance(trans, (bytes, bytearray)):
            alpha = np.frombuffer(bytes(trans), np.uint8)
            usable[: len(alpha)] &= alpha == 255
        if not usable.any():
            usable[:] = True
        out[changed] = _nearest_palette(_from_srgb(rgb, icc, "RGB"), pal, usable)
    elif mode == "CMYK":
        out[changed] = _from_srgb(rgb, icc, "CMYK")
    else:
        raise InputError(f"cannot write back a {img.format} image in mode {mode}")
    return out


# ------------------------------------------------------------------ encoders
def _common_save_args(img: Image.Image) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if img.info.get("icc_profile"):
        args["icc_profile"] = img.info["icc_profile"]
    exif = img.info.get("exif")
    if exif:
        args["exif"] = exif
    if img.info.get("dpi"):
        args["dpi"] = tuple(float(v) for v in img.info["dpi"])
    return args


def _png_text(img: Image.Image) -> PngImagePlugin.PngInfo | None:
    text = getattr(img, "text", None) or {}
    if not text:
        return None
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_itxt(key, str(value))
    return info


def _encode_pillow(img: Image.Image, arr: np.ndarray,
                   source: bytes) -> tuple[bytes, str | None]:
    """Encode ``arr`` in ``img``'s format and mode with its metadata; (bytes, note)."""
    fmt = img.format or "PNG"
    mode = img.mode
    out = Image.fromarray(arr) if mode != "P" else Image.fromarray(arr, "P")
    if mode in ("I;16", "I;16B", "I;16L"):
        out = Image.fromarray(arr.astype(np.uint16), "I;16")
    elif mode == "I":
        out = Image.fromarray(arr.astype(np.int32), "I")
    elif mode == "CMYK":
        out = Image.fromarray(arr, "CMYK")
    if mode == "P":
        out.putpalette(img.getpalette(img.palette.mode if img.palette else "RGB") or [],
                       img.palette.mode if img.palette else "RGB")
    args = _common_save_args(img)
    note = None
    if "transparency" in img.info:
        args["transparency"] = img.info["transparency"]
    if fmt == "PNG":
        text = _png_text(img)
        if text is not None:
            args["pnginfo"] = text
        args["compress_level"] = 6
    elif fmt == "WEBP":
        args["lossless"] = True
        args["exact"] = True
        if not _webp_is_lossless(source):
            note = "lossy WebP written lossless: pixels outside the repair kept exactly"
    elif fmt == "TIFF":
        comp = img.info.get("compression")
        if comp and comp != "raw":
            args["compression"] = comp
        if img.info.get("dpi"):
            args["dpi"] = tuple(float(v) for v in img.info["dpi"])
    buf = io.BytesIO()
    out.save(buf, format=fmt, **args)
    return buf.getvalue(), note


def _webp_is_lossless(data: bytes) -> bool:
    """True when a WebP's image chunk is ``VP8L`` (lossless), walking the RIFF chunks."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    pos = 12
    while pos + 8 <= len(data):
        ctype, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if ctype in (b"VP8 ", b"VP8L"):
            return ctype == b"VP8L"
        pos += 8 + size + (size & 1)
    return False


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = len(_PNG_SIGNATURE), []
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((ctype, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
        if ctype == b"IEND":
            break
    return chunks


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _encode_png16(source: bytes, arr: np.ndarray) -> bytes:
    """16-bit colour PNG: pixels encoded by OpenCV, the original's ancillary chunks kept."""
    import cv2

    bgr = arr[..., [2, 1, 0, 3]] if arr.shape[2] == 4 else arr[..., ::-1]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:  # pragma: no cover - OpenCV encodes any uint16 array
        raise InputError("OpenCV could not encode the 16-bit PNG")
    new = _png_chunks(buf.tobytes())
    keep = [(t, b) for t, b in _png_chunks(source)
            if t not in (b"IHDR", b"IDAT", b"IEND", b"PLTE") and t[:1].islower()]
    kept_types = {t for t, _ in keep}
    parts = [_PNG_SIGNATURE, _png_chunk(*new[0])]  # IHDR
    parts += [_png_chunk(t, b) for t, b in keep]
    parts += [_png_chunk(t, b) for t, b in new[1:] if t not in kept_types]
    return b"".join(parts)


def _encode_jpeg(source: bytes, img: Image.Image, changed: np.ndarray,
                 after_native: np.ndarray) -> tuple[bytes, str | None]:
    """The JPEG with the MCUs holding changed pixels replaced (bytes, note).

    The repaired image is encoded from the decoder's own YCbCr planes with the
    original's tables, sampling and metadata; then :func:`refiner.jpeg_blocks.patch`
    takes only the touched MCUs' coefficients from it into the original file. Files it
    cannot patch (progressive, arithmetic, ...) keep the re-encode, noted.
    """
    ycc = Image.open(io.BytesIO(source))
    if img.mode == "RGB":
        ycc.draft("YCbCr", ycc.size)
    ycc.load()
    planes = np.asarray(ycc).copy()
    if changed.any():
        rgb = _from_srgb(after_native[changed], img.info.get("icc_profile"), "RGB")
        if ycc.mode == "YCbCr":
            strip = Image.fromarray(rgb.reshape(-1, 1, 3), "RGB").convert("YCbCr")
            planes[changed] = np.asarray(strip).reshape(-1, 3)
        elif ycc.mode == "L":
            planes[changed] = _from_srgb(after_native[changed], None, "L")[:, 0]
        else:
            planes[changed] = rgb
    args = _common_save_args(img)
    args["qtables"] = img.quantization
    sampling = JpegImagePlugin.get_sampling(img)
    if sampling != -1:
        args["subsampling"] = sampling
    if img.info.get("progressive") or img.info.get("progression"):
        args["progressive"] = True
    buf = io.BytesIO()
    Image.fromarray(planes, ycc.mode).save(buf, format="JPEG", **args)
    reencoded = buf.getvalue()
    from refiner.jpeg_blocks import UnsupportedJpeg, patch

    try:
        return patch(source, reencoded, changed), None
    except UnsupportedJpeg as exc:
        log.info("JPEG block patching unavailable (%s): the file is re-encoded", exc)
        return reencoded, f"no lossless block patching ({exc}): re-encoded"


def _mcu_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) of a JPEG's MCU in pixels (8 x the largest sampling factors)."""
    layers = getattr(img, "layer", None) or []
    if not layers or img.mode == "L":
        return 8, 8
    h = max(int(layer[1]) for layer in layers)
    v = max(int(layer[2]) for layer in layers)
    return 8 * h, 8 * v


# ------------------------------------------------------------------ public
def write_repaired(source: bytes, after: np.ndarray, *, name: str = "",
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> RepairedAsset:
    """The original file ``source`` with the pixels the repair changed replaced.

    ``after``: the repaired sRGB working copy (``uint8 [H, W, 3]``, as
    :func:`load_image` decodes ``source``: orientation applied). The pixels to write are
    those where ``after`` differs from ``load_image(source)``. Raises
    :class:`InputError` when ``after`` does not have the working copy's size.
    """
    name = name or "<bytes>"
    before = load_image(source, name=name, max_pixels=max_pixels)
    after = np.asarray(after)
    if after.shape != before.shape or after.dtype != np.uint8:
        raise InputError(f"repaired image {after.dtype} {after.shape} does not match {name} "
                         f"({before.shape})")
    img = _open(source, name)
    fmt = img.format or "PNG"
    orientation = _orientation(img)
    changed = to_native_orientation((after != before).any(axis=2), orientation)
    after_native = to_native_orientation(after, orientation)
    note: str | None = None
    if fmt == "JPEG" and img.mode in ("RGB", "L"):
        data, note = _encode_jpeg(source, img, changed, after_native)
    else:
        native = native_pixels(source, name)
        try:
            patched = _patched(img, native, changed, after_native)
            if _is_16bit_colour_png(source):
                data = _encode_png16(source, patched)
            else:
                data, note = _encode_pillow(img, patched, source)
        except (InputError, OSError, ValueError, KeyError) as exc:
            # a mode or format Pillow cannot write back: store a PNG of the working copy
            log.warning("%s: cannot write back %s %s (%s); storing PNG", name, fmt, img.mode, exc)
            from posterqa.imaging import encode_png

            data = encode_png(after)
            fid = check_fidelity(source, data, changed, name=name)
            return RepairedAsset(
                data=data, format="PNG", extension=".png", content_type="image/png",
                fidelity=_with_reason(fid, f"{fmt} {img.mode} cannot be written back: "
                                      f"stored as sRGB PNG ({exc})", meets=False))
    fid = check_fidelity(source, data, changed, name=name)
    if note:
        fid = _with_reason(fid, f"{fid.reason}; {note}" if fid.reason else note,
                           meets=fid.meets_bar)
    return RepairedAsset(data=data, format=fmt, extension=_EXT.get(fmt, ".png"),
                         content_type=_CONTENT_TYPE.get(fmt, "application/octet-stream"),
                         fidelity=fid)


def _with_reason(fid: AssetFidelity, reason: str, *, meets: bool) -> AssetFidelity:
    from dataclasses import replace

    return replace(fid, reason=reason, meets_bar=meets)


def _metadata(img: Image.Image) -> dict[str, Any]:
    exif = img.info.get("exif")
    return {"icc_profile": img.info.get("icc_profile") or None,
            "exif": exif or None,
            "dpi": tuple(round(float(v)) for v in img.info["dpi"]) if img.info.get("dpi")
            else None}


def check_fidelity(source: bytes, written: bytes, changed: np.ndarray, *,
                   name: str = "") -> AssetFidelity:
    """Compare the written file with the ORIGINAL file's own decoded pixels.

    ``changed``: ``bool [H, W]`` in the file's orientation, the pixels the repair
    rewrote. Lossless formats: every other pixel must decode identically. JPEG: every
    MCU that holds no changed pixel must decode identically.
    """
    src_img, out_img = _open(source, name or "original"), _open(written, "repaired")
    src = native_pixels(source, name)
    out = native_pixels(written, "repaired")
    fmt = out_img.format or "?"
    if src.shape != out.shape:
        return AssetFidelity(format=fmt, mode=out_img.mode, lossless=False,
                             changed_pixels=int(changed.sum()), outside_changed=-1,
                             outside_max_diff=-1, blocks_untouched=0, blocks_changed=0,
                             kept=(), lost=(), meets_bar=False,
                             reason=f"decoded shape {out.shape} differs from the original's "
                                    f"{src.shape}")
    diff = np.abs(src.astype(np.int32) - out.astype(np.int32))
    diff = diff.max(axis=2) if diff.ndim == 3 else diff
    lossless = fmt != "JPEG"
    blocks_untouched = blocks_changed = blocks_edge = 0
    if lossless:
        outside = ~changed
    else:
        mw, mh = _mcu_size(src_img)
        h, w = changed.shape
        hb, wb = -(-h // mh), -(-w // mw)
        pad = np.zeros((hb * mh, wb * mw), bool)
        pad[:h, :w] = changed
        touched = pad.reshape(hb, mh, wb, mw).any(axis=(1, 3))
        touched_px = np.repeat(np.repeat(touched, mh, axis=0), mw, axis=1)
        ring = np.zeros_like(touched_px)
        if (mw, mh) != (8, 8):  # chroma upsampling reads 1 px across a patched border
            import cv2

            ring = cv2.dilate(touched_px.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            ring &= ~touched_px
        dpad = np.zeros((hb * mh, wb * mw), bool)
        dpad[:h, :w] = diff > 0
        far = (dpad & ~ring & ~touched_px).reshape(hb, mh, wb, mw).any(axis=(1, 3))
        near = (dpad & ring).reshape(hb, mh, wb, mw).any(axis=(1, 3))
        blocks_untouched = int((~touched).sum())
        blocks_changed = int(far.sum())
        blocks_edge = int((near & ~far & ~touched).sum())
        outside = ~(touched_px | ring)[:h, :w]
    outside_changed = int(((diff > 0) & outside).sum())
    outside_max = int(diff[outside].max()) if outside.any() else 0
    before_meta, after_meta = _metadata(src_img), _metadata(out_img)
    kept = tuple(k for k, v in before_meta.items() if v is not None and after_meta[k] == v)
    lost = tuple(k for k, v in before_meta.items() if v is not None and after_meta[k] != v)
    reasons = []
    if outside_changed:
        where = (f"{blocks_changed} of {blocks_untouched} untouched JPEG MCUs"
                 if not lossless else f"{outside_changed} pixels outside the repair")
        reasons.append(f"{where} decode differently from the original (max {outside_max})")

    if lost:
        reasons.append(f"lost {', '.join(lost)}")
    note = (f"{blocks_edge} MCUs next to the repair differ in their 1 px border only "
            "(subsampled chroma is interpolated across the patched MCU's edge)"
            if blocks_edge else None)
    if (src_img.format or "?") != fmt:
        reasons.append(f"format changed from {src_img.format} to {fmt}")
    return AssetFidelity(
        format=fmt, mode=out_img.mode, lossless=lossless, changed_pixels=int(changed.sum()),
        outside_changed=outside_changed, outside_max_diff=outside_max,
        blocks_untouched=blocks_untouched, blocks_changed=blocks_changed, kept=kept,
        lost=lost, meets_bar=not reasons,
        reason="; ".join(reasons + ([note] if note else [])) or None,
        blocks_edge_only=blocks_edge,
    )
