"""posterqa.imaging: one conversion to RGB uint8 sRGB on load, limits checked first."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from posterqa.errors import ImageDecodeError, ImageTooLargeError, ImageTooSmallError, InputError
from posterqa.imaging import MIN_POSTER_SIDE, encode_png, load_image, load_mask, load_rgba


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_png_round_trip_is_exact():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    out = load_image(encode_png(arr))
    assert out.dtype == np.uint8 and out.shape == (7, 5, 3)
    assert np.array_equal(out, arr)


def test_alpha_is_composited_over_white_for_posters_and_kept_for_references():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest fully transparent black
    data = encode_png(rgba)
    poster = load_image(data)
    assert poster[0, 0].tolist() == [255, 0, 0]
    assert poster[1, 1].tolist() == [255, 255, 255]
    ref = load_rgba(data)
    assert ref.shape == (2, 2, 4) and ref[1, 1, 3] == 0


def test_cmyk_16bit_palette_and_greyscale_become_rgb():
    cmyk = Image.new("CMYK", (4, 3), (0, 255, 255, 0))  # red
    out = load_image(_encode(cmyk, "JPEG", quality=100))
    assert out.shape == (3, 4, 3) and out[1, 1, 0] > 200 and out[1, 1, 1] < 60
    grey16 = Image.fromarray(np.full((3, 3), 65535, dtype=np.uint16))
    assert load_image(_encode(grey16)).min() == 255
    pal = Image.new("P", (3, 3))
    pal.putpalette([0, 0, 255] * 256)
    assert load_image(_encode(pal))[0, 0].tolist() == [0, 0, 255]


def test_exif_orientation_is_applied():
    arr = np.zeros((2, 4, 3), dtype=np.uint8)
    arr[:, :2] = 255  # left half white
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    out = load_image(_encode(img, "PNG", exif=exif))
    assert out.shape == (4, 2, 3)
    assert out[0].mean() > 200 and out[-1].mean() < 50  # top white after rotation


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _matrix_trc_profile(r_xyz, g_xyz, b_xyz) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (gamma 2.2) built by hand."""
    def xyz(v):
        return b"XYZ " + b"\0" * 4 + b"".join(_s15(c) for c in v)
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, int(2.2 * 256)) + b"\0\0"
    desc_text = b"test\0"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text
            + b"\0" * 8 + b"\0" * 3 + b"\0" * 67)
    d50 = (0.9642, 1.0, 0.8249)
    tags = [(b"desc", desc), (b"wtpt", xyz(d50)), (b"rXYZ", xyz(r_xyz)), (b"gXYZ", xyz(g_xyz)),
            (b"bXYZ", xyz(b_xyz)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 24
              + _s15(d50[0]) + _s15(d50[1]) + _s15(d50[2]))
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def test_icc_profile_is_converted_to_srgb():
    # a profile whose "red" primary is sRGB's green (D50-adapted sRGB primaries swapped)
    srgb_r, srgb_g, srgb_b = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (
        0.1431, 0.0606, 0.7141)
    icc = _matrix_trc_profile(srgb_g, srgb_r, srgb_b)
    arr = np.array([[[255, 0, 0]]], dtype=np.uint8)
    out = load_image(_encode(Image.fromarray(arr), "PNG", icc_profile=icc))
    r, g, b = out[0, 0].tolist()
    assert g > 200 and r < 60 and b < 60, out[0, 0]


def test_srgb_tagged_image_loads_unchanged():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    arr = np.array([[[10, 128, 250]]], dtype=np.uint8)
    out = load_image(_encode(Image.fromarray(arr), "PNG", icc_profile=srgb))
    assert np.abs(out.astype(int) - arr.astype(int)).max() <= 1


def test_pixel_limit_is_checked_before_decoding():
    huge = Image.new("L", (30000, 30000))  # header only matters; PNG compresses zeros
    data = _encode(huge)
    with pytest.raises(ImageTooLargeError, match="huge.png is .*pixel"):
        load_image(data, name="huge.png", max_pixels=80_000_000)
    small = _encode(Image.new("L", (3000, 2000)))
    with pytest.raises(ImageTooLargeError, match="3000x2000 = 6000000 pixels, over the limit"):
        load_image(small, name="s.png", max_pixels=5_000_000)


def test_garbage_and_empty_bytes_raise_one_clear_error():
    with pytest.raises(ImageDecodeError, match="cannot decode image junk.bin"):
        load_image(b"not an image", name="junk.bin")
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(b"", name="e.png")
    with pytest.raises(InputError, match="not found"):
        load_image("/nonexistent/poster.png")


def test_mask_is_thresholded_to_0_and_255():
    m = np.array([[0, 100, 200, 255]], dtype=np.uint8)
    out = load_mask(encode_png(m))
    assert out.tolist() == [[0, 0, 255, 255]]


def _png_header(width: int, height: int) -> bytes:
    """A PNG header (IHDR) claiming ``width`` x ``height``, with one empty IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def test_an_image_over_the_limit_gets_posterqa_reason_not_pillow_bomb_text():
    # 400 M pixels is over Pillow's own decompression-bomb limit (~179 M): it used to
    # be reported with Pillow's text; the limit that applies is POSTERQA_MAX_IMAGE_PIXELS
    for w, h in ((20000, 20000), (10000, 9000)):
        with pytest.raises(ImageTooLargeError) as info:
            load_image(_png_header(w, h), name="p.png")
        assert str(info.value) == (f"image p.png is {w}x{h} = {w * h} pixels, over the "
                                   "limit of 80000000 (POSTERQA_MAX_IMAGE_PIXELS)")


def test_an_image_too_small_for_a_poster_says_so():
    tiny = encode_png(np.full((1, 1, 3), 9, np.uint8))
    assert load_image(tiny).shape == (1, 1, 3)  # fine as an image; not as a poster
    with pytest.raises(ImageTooSmallError) as info:
        load_image(tiny, name="p.png", min_side=MIN_POSTER_SIDE)
    assert str(info.value) == ("image p.png is 1x1 pixels, too small to check (a poster "
                               f"needs at least {MIN_POSTER_SIDE} pixels on each side)")
    thin = encode_png(np.zeros((MIN_POSTER_SIDE - 1, 500, 3), np.uint8))
    with pytest.raises(ImageTooSmallError, match=f"is 500x{MIN_POSTER_SIDE - 1} pixels"):
        load_image(thin, name="p.png", min_side=MIN_POSTER_SIDE)
