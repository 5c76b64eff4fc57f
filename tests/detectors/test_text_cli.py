"""``posterqa detect``: JSON contract, reference-free mode and bad input."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from flows.cli import main


def _font() -> str:
    import pylopdf_fonts_zh_cn

    return str(Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf")


def _poster(text: str = "限时特惠 Sale 50%") -> Image.Image:
    img = Image.new("RGB", (560, 160), (240, 232, 215))
    ImageDraw.Draw(img).text((30, 45), text, font=ImageFont.truetype(_font(), 52),
                             fill=(25, 25, 35))
    return img


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["detect", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_lists_a_wrong_line_with_the_contract_fields(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    _poster("限时特惠 Sale 90%").save(path)
    code, out, _ = _run(capsys, str(path), "--expect", "限时特惠 Sale 50%", "--json")
    assert code == 0
    data = json.loads(out)
    (d,) = data["defects"]
    assert {"kind", "bbox", "expected", "observed", "score", "reasons"} <= set(d)
    assert d["kind"] == "text" and d["expected"] == "限时特惠 Sale 50%"
    x0, y0, x1, y1 = d["bbox"]
    assert 0 <= x0 < x1 <= 560 and 0 <= y0 < y1 <= 160


def test_manifest_copy_is_expected_and_table_output(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    _poster().save(path)
    manifest = tmp_path / "p.json"
    manifest.write_text(json.dumps({"brand": "acme", "copy": ["限时特惠 Sale 50%", "扫码关注"]}),
                        encoding="utf-8")
    code, out, _ = _run(capsys, str(path), "--manifest", str(manifest))
    assert code == 0
    assert "1 defect(s)" in out and "missing" in out and "扫码关注" in out


def test_reference_free_clean_poster_has_no_defects(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    _poster().save(path)
    code, out, _ = _run(capsys, str(path), "--json")
    data = json.loads(out)
    assert code == 0 and data["mode"] == "reference-free" and data["defects"] == []


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "P", "RGBA"])
def test_odd_image_modes_are_read_correctly(tmp_path, capsys, mode) -> None:
    img = _poster()
    if mode == "CMYK":
        path = tmp_path / "p.jpg"
        img.convert("CMYK").save(path, quality=95)
    elif mode == "I;16":
        path = tmp_path / "p.png"
        grey = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(grey).save(path)  # uint16 -> a 16-bit greyscale PNG
    elif mode == "P":
        path = tmp_path / "p.png"
        img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    else:
        path = tmp_path / "p.png"
        rgba = img.convert("RGBA")
        rgba.putalpha(255)
        rgba.save(path)
    code, out, _ = _run(capsys, str(path), "--expect", "限时特惠 Sale 50%", "--json")
    assert code == 0
    assert json.loads(out)["defects"] == []


def test_exif_rotated_jpeg_is_turned_upright_first(tmp_path, capsys) -> None:
    img = _poster()
    rotated = img.rotate(90, expand=True)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 8  # ... with "rotate 90 CW to view" (orientation 8 undoes rotate(90))
    path = tmp_path / "p.jpg"
    rotated.save(path, quality=95, exif=exif.tobytes())
    code, out, _ = _run(capsys, str(path), "--expect", "限时特惠 Sale 50%", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["width"], data["height"]) == (560, 160)
    assert data["defects"] == []


def test_unreadable_file_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(b"not an image at all")
    code, out, err = _run(capsys, str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot decode image" in err


def test_missing_file_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    code, _, err = _run(capsys, str(tmp_path / "nope.png"))
    assert code == 2 and "not found" in err and err.count("\n") == 1


def test_1x1_image_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    Image.new("RGB", (1, 1), (255, 255, 255)).save(path)
    code, _, err = _run(capsys, str(path))
    assert code == 2 and "1x1" in err and err.count("\n") == 1


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with one tiny IDAT (undecodable)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(30_000, 30_000), (30_000, 3_000)])
def test_30000px_image_is_refused_before_decoding(tmp_path, capsys, monkeypatch, size) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(*size))

    def no_decode(self, *args, **kwargs):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decode)
    code, _, err = _run(capsys, str(path))
    assert code == 2 and err.count("\n") == 1
    assert "over the" in err and "limit" in err


def test_bad_manifest_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "p.png"
    _poster().save(path)
    manifest = tmp_path / "m.json"
    manifest.write_text("{not json", encoding="utf-8")
    code, _, err = _run(capsys, str(path), "--manifest", str(manifest))
    assert code == 2 and "not valid JSON" in err and err.count("\n") == 1


def test_png_bytes_helper_really_is_a_png() -> None:
    with Image.open(io.BytesIO(_png_header_only(30_000, 20))) as im:
        assert im.size == (30_000, 20)
