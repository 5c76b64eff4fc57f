"""The repaired file is the original file, repaired (issue 22 item 2).

Each test encodes a poster in some format with an ICC profile / EXIF / DPI, decodes the
sRGB working copy as the product does, paints a repair into it, writes the file back
with :func:`refiner.asset.write_repaired`, and checks, against the ORIGINAL file's own
decoded pixels: format, mode, depth and metadata kept; pixels outside the repair
identical (lossless) or untouched MCUs identical (JPEG, where Pillow can meet it).
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from posterqa.imaging import load_image
from refiner.asset import native_pixels, to_native_orientation, write_repaired
from tests.refiner.icc_profiles import adobe_rgb, display_p3

PAINT = (250, 240, 10)
REGION = (slice(100, 140), slice(80, 200))  # rows, cols of the working copy


def _poster(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, 128 + 0 * xx], axis=2)
    return np.clip(img + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)


def _repair(work: np.ndarray) -> np.ndarray:
    out = work.copy()
    out[REGION] = PAINT
    return out


def _changed_native(src: bytes, work: np.ndarray, repaired: np.ndarray) -> np.ndarray:
    orientation = Image.open(io.BytesIO(src)).getexif().get(0x0112, 1)
    return to_native_orientation((work != repaired).any(axis=2), orientation)


def _png_with_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Insert ancillary chunks right after IHDR (test-side, independent of refiner)."""
    ihdr_end = 8 + 8 + 13 + 4
    extra = b"".join(struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
                     for t, b in chunks)
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "posterqa test camera"
    return exif.tobytes()


def _check_lossless(src: bytes, out, work: np.ndarray, repaired: np.ndarray) -> None:
    changed = _changed_native(src, work, repaired)
    before, after = native_pixels(src), native_pixels(out.data)
    assert after.dtype == before.dtype and after.shape == before.shape
    assert np.array_equal(after[~changed], before[~changed])
    assert out.fidelity.meets_bar and out.fidelity.outside_changed == 0
    assert out.fidelity.changed_pixels == int(changed.sum()) > 0


LOSSLESS_CASES = {
    "png-adobe-rgb": lambda a: _encode(a, "PNG", icc_profile=adobe_rgb(), dpi=(300, 300),
                                       exif=_exif()),
    "webp-lossless-p3": lambda a: _encode(a, "WEBP", lossless=True, icc_profile=display_p3(),
                                          exif=_exif()),
    "tiff-lzw-p3": lambda a: _encode(a, "TIFF", compression="tiff_lzw",
                                     icc_profile=display_p3(), dpi=(200, 200)),
    "palette-png": lambda a: _encode(Image.fromarray(a).quantize(64), "PNG", dpi=(72, 72)),
    "palette-png-transparent": lambda a: _encode(Image.fromarray(a).quantize(64), "PNG",
                                                 transparency=3),
    "grey-png": lambda a: _encode(Image.fromarray(a).convert("L"), "PNG"),
    "rgba-png": lambda a: _encode(np.dstack([a, np.full(a.shape[:2], 200, np.uint8)]), "PNG"),
}


def _encode(arr, fmt: str, **kw) -> bytes:
    """Encode an array or a PIL image."""
    img = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("case", sorted(LOSSLESS_CASES))
def test_lossless_formats_keep_format_metadata_and_every_untouched_pixel(case: str) -> None:
    src = LOSSLESS_CASES[case](_poster())
    orig = Image.open(io.BytesIO(src))
    work = load_image(src)
    repaired = _repair(work)
    out = write_repaired(src, repaired, name=case)
    got = Image.open(io.BytesIO(out.data))
    assert (out.format, got.format, got.mode) == (orig.format, orig.format, orig.mode)
    for key in ("icc_profile", "exif"):
        assert got.info.get(key) == orig.info.get(key), key
    if orig.info.get("dpi"):
        assert np.allclose([float(v) for v in got.info["dpi"]],
                           [float(v) for v in orig.info["dpi"]], atol=0.01)
    if orig.mode == "P":
        assert got.getpalette() == orig.getpalette()
        assert got.info.get("transparency") == orig.info.get("transparency")
    _check_lossless(src, out, work, repaired)
    # the repair itself is in the file (a palette holds only its nearest colour)
    back = load_image(out.data)
    want = np.array(PAINT, float)
    if orig.mode == "L":  # a grey file holds the paint's grey
        want[:] = np.asarray(Image.new("RGB", (1, 1), PAINT).convert("L"))[0, 0]
    elif orig.mode == "RGBA":  # alpha 200 over white: the darkest reachable level is 55
        a = 200 / 255
        want = np.clip((want - 255 * (1 - a)) / a, 0, 255) * a + 255 * (1 - a)
    err = np.abs(back[REGION].astype(float) - want).max()
    assert err <= (200 if orig.mode == "P" else 3 if orig.info.get("icc_profile") else 1.5)


def test_16_bit_png_stays_16_bit_with_its_profile_and_exact_pixels() -> None:
    rng = np.random.default_rng(5)
    p8 = _poster()
    p16 = p8.astype(np.uint16) * 257 + rng.integers(0, 200, p8.shape).astype(np.uint16)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(p16[..., ::-1]))
    assert ok
    icc = display_p3()
    src = _png_with_chunks(buf.tobytes(), [
        (b"iCCP", b"test P3\0\0" + zlib.compress(icc)),
        (b"pHYs", struct.pack(">IIB", 11811, 11811, 1)),  # 300 dpi
    ])
    work = load_image(src)
    repaired = _repair(work)
    out = write_repaired(src, repaired, name="p16.png")
    assert out.format == "PNG" and out.data[24] == 16 and out.data[25] == 2  # 16-bit RGB
    got = Image.open(io.BytesIO(out.data))
    assert got.info.get("icc_profile") == icc
    assert np.allclose(got.info["dpi"], (300, 300), atol=0.1)
    _check_lossless(src, out, work, repaired)
    assert native_pixels(out.data).dtype == np.uint16


def _mcu_changes(src: bytes, out: bytes, changed: np.ndarray) -> tuple[int, int]:
    """(untouched MCUs, untouched MCUs that decode differently), computed here.

    With subsampled chroma the decoder interpolates chroma across MCU borders, so the
    1 px of an untouched MCU next to a touched one may change with any block patch:
    those pixels are left out of the comparison (and only those).
    """
    img = Image.open(io.BytesIO(src))
    mw, mh = {0: (8, 8), 1: (16, 8), 2: (16, 16)}[JpegImagePlugin.get_sampling(img)]
    a, b = np.asarray(img), np.asarray(Image.open(io.BytesIO(out)))
    h, w = changed.shape
    touched = np.zeros((h, w), bool)
    for y in range(0, h, mh):
        for x in range(0, w, mw):
            if changed[y:y + mh, x:x + mw].any():
                touched[y:y + mh, x:x + mw] = True
    near = np.zeros((h, w), bool)
    if (mw, mh) != (8, 8):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                near |= np.roll(np.roll(touched, dy, axis=0), dx, axis=1)
    untouched = differ = 0
    for y in range(0, h, mh):
        for x in range(0, w, mw):
            if touched[y, x]:
                continue
            untouched += 1
            keep = ~near[y:y + mh, x:x + mw]
            differ += int(not np.array_equal(a[y:y + mh, x:x + mw][keep],
                                             b[y:y + mh, x:x + mw][keep]))
    return untouched, differ


@pytest.mark.parametrize(("profile", "quality", "subsampling"),
                         [("p3", 75, 0), ("adobe", 75, 0), ("p3", 90, 2), ("adobe", 95, 2)])
def test_jpeg_keeps_profile_exif_dpi_tables_and_records_untouched_blocks(
    profile: str, quality: int, subsampling: int
) -> None:
    icc = display_p3() if profile == "p3" else adobe_rgb()
    src = _encode(_poster(), "JPEG", quality=quality, subsampling=subsampling, icc_profile=icc,
                  exif=_exif(), dpi=(300, 300))
    orig = Image.open(io.BytesIO(src))
    work = load_image(src)
    # the profile is applied on load: the working copy is not the file's raw pixels
    assert not np.array_equal(work, np.asarray(orig))
    repaired = _repair(work)
    out = write_repaired(src, repaired, name="poster.jpg")
    got = Image.open(io.BytesIO(out.data))
    assert out.format == got.format == "JPEG" and out.extension == ".jpg"
    assert got.info["icc_profile"] == icc and got.info["exif"] == orig.info["exif"]
    assert np.allclose(got.info["dpi"], (300, 300))
    assert got.quantization == orig.quantization
    assert JpegImagePlugin.get_sampling(got) == JpegImagePlugin.get_sampling(orig)
    # the fidelity record agrees with an independent count of untouched MCUs
    changed = _changed_native(src, work, repaired)
    untouched, differ = _mcu_changes(src, out.data, changed)
    fid = out.fidelity
    assert (fid.blocks_untouched, fid.blocks_changed) == (untouched, differ)
    # baseline JPEG: the touched MCUs are patched in as coefficients, no other changes
    assert differ == 0 and untouched > 0 and fid.meets_bar
    back = load_image(out.data)
    assert np.abs(back[104:136, 84:196].astype(int) - PAINT).mean() < 6


@pytest.mark.parametrize("options", [{"restart_marker_blocks": 7}, {"optimize": True},
                                     {"subsampling": 1}])
def test_jpeg_with_restarts_optimised_tables_or_4_2_2_is_patched_losslessly(options) -> None:
    src = _encode(_poster(), "JPEG", quality=92, **options)
    work = load_image(src)
    repaired = _repair(work)
    out = write_repaired(src, repaired)
    changed = _changed_native(src, work, repaired)
    untouched, differ = _mcu_changes(src, out.data, changed)
    assert differ == 0 and out.fidelity.meets_bar and out.fidelity.blocks_untouched == untouched


def test_progressive_jpeg_falls_back_to_a_reencode_and_says_so() -> None:
    src = _encode(_poster(), "JPEG", quality=95, progressive=True)
    work = load_image(src)
    repaired = _repair(work)
    out = write_repaired(src, repaired)
    got = Image.open(io.BytesIO(out.data))
    assert got.format == "JPEG" and got.info.get("progressive")
    fid = out.fidelity
    changed = _changed_native(src, work, repaired)
    untouched, differ = _mcu_changes(src, out.data, changed)
    assert (fid.blocks_untouched, fid.blocks_changed) == (untouched, differ)
    assert "no lossless block patching" in fid.reason
    assert fid.meets_bar == (differ == 0)


def test_exif_rotated_jpeg_is_repaired_where_the_viewer_sees_it() -> None:
    native = _poster(240, 320)
    src = _encode(native, "JPEG", quality=75, subsampling=0, exif=_exif(orientation=6))
    work = load_image(src)
    assert work.shape == (320, 240, 3)  # orientation 6: shown rotated
    repaired = _repair(work)
    out = write_repaired(src, repaired, name="rotated.jpg")
    got = Image.open(io.BytesIO(out.data))
    assert got.size == (320, 240) and got.getexif().get(0x0112) == 6
    back = load_image(out.data)
    assert np.abs(back[104:136, 84:196].astype(int) - PAINT).mean() < 6
    assert out.fidelity.meets_bar and out.fidelity.blocks_changed == 0


def test_native_orientation_undoes_every_exif_transpose() -> None:
    from PIL import ImageOps

    arr = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    for orientation in range(1, 9):
        img = Image.fromarray(arr)
        exif = img.getexif()
        exif[0x0112] = orientation
        shown = np.asarray(ImageOps.exif_transpose(
            Image.open(io.BytesIO(_encode(img, "PNG", exif=exif.tobytes())))))
        assert np.array_equal(to_native_orientation(shown, orientation), arr), orientation


def test_working_copy_of_another_size_is_refused() -> None:
    from posterqa.errors import InputError

    src = _encode(_poster(), "PNG")
    with pytest.raises(InputError, match="does not match"):
        write_repaired(src, np.zeros((10, 10, 3), np.uint8), name="p.png")


def test_srgb_copy_would_differ_from_the_p3_original_outside_the_repair() -> None:
    """The issue's measurement: an sRGB PNG of a P3 JPEG is not the original's pixels."""
    src = _encode(_poster(), "JPEG", quality=90, icc_profile=display_p3())
    work = load_image(src)
    naive = np.asarray(Image.open(io.BytesIO(_encode(_repair(work), "PNG"))))
    own = native_pixels(src)
    outside = np.ones(work.shape[:2], bool)
    outside[90:150, 70:210] = False
    assert (naive[outside] != own[outside]).any()  # what the old write-back did
    out = write_repaired(src, _repair(work))
    assert ImageCms.getProfileDescription(
        ImageCms.ImageCmsProfile(io.BytesIO(Image.open(io.BytesIO(out.data))
                                            .info["icc_profile"]))).startswith("Display P3")
