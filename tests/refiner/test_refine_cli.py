"""``posterqa refine``: figures printed, OUT written atomically and only on success."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from posterqa.imaging import encode_png, load_image


@pytest.fixture()
def poster(tmp_path: Path) -> Path:
    ref = np.zeros((34, 54, 4), np.uint8)  # a logo on a transparent margin
    ref[2:32, 2:52] = (30, 90, 200, 255)
    ref[10:24, 12:42, :3] = (250, 250, 250)
    ref[14:20, 17:37, :3] = (200, 30, 30)
    yy, xx = np.mgrid[0:120, 0:160]
    img = np.stack([150 + xx // 4, 170 + yy // 4, 120 + 0 * xx], 2).astype(np.uint8)
    img[40:70, 50:100] = (200, 40, 40)  # a recoloured "logo"
    path = tmp_path / "poster.png"
    path.write_bytes(encode_png(img))
    (tmp_path / "logo.png").write_bytes(encode_png(ref))
    return path


def _fake_compare(monkeypatch: pytest.MonkeyPatch, matches: bool) -> None:
    """Fault injection: a logo comparison that rejects the repair."""
    import refiner.core as core

    monkeypatch.setattr(core, "default_logo_checker",
                        lambda: (lambda image, ref, quad: (matches, 0.9, ())))


def test_refine_logo_writes_out_and_prints_json(poster, tmp_path, capsys) -> None:
    out = tmp_path / "out" / "fixed.png"
    code = main(["refine", str(poster), "--box", "46,36,104,74", "--prompt", "Refine the LOGO.",
                 "--ref", str(tmp_path / "logo.png"), "--out", str(out), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verification"]["verdict"] == "verified"
    assert data["verification"]["bg_changed_pixels"] == 0
    fixed, original = load_image(out), load_image(poster)
    assert not np.array_equal(fixed[40:70, 50:100], original[40:70, 50:100])
    assert np.array_equal(fixed[:20], original[:20]) and np.array_equal(fixed[:, :30],
                                                                          original[:, :30])
    assert not list(out.parent.glob(".*.tmp"))


def test_failed_verification_writes_nothing(poster, tmp_path, monkeypatch, capsys) -> None:
    _fake_compare(monkeypatch, False)
    out = tmp_path / "fixed.png"
    code = main(["refine", str(poster), "--box", "46,36,104,74", "--prompt", "Refine the LOGO.",
                 "--ref", str(tmp_path / "logo.png"), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and not out.exists()
    assert "logo_mismatch" in captured.err and "verdict           failed" in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--box", "500,500,600,600"], "outside the image 160x120"),
        (["--box", "1,2,3"], "four integers"),
        ([], "exactly one of --box"),
        (["--box", "10,10,40,40", "--ref", "missing.png"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(poster, tmp_path, capsys, args, message) -> None:
    out = tmp_path / "o.png"
    args = [a.replace("missing.png", str(tmp_path / "missing.png")) for a in args]
    prompt = "Refine the LOGO." if "--ref" in args else "refine the text 'A'"
    code = main(["refine", str(poster), "--prompt", prompt, "--out", str(out), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_refuses_to_overwrite_the_input(poster, capsys) -> None:
    before = poster.read_bytes()
    code = main(["refine", str(poster), "--box", "10,10,40,40", "--prompt",
                 "refine the text 'A'", "--out", str(poster)])
    assert code == 2 and "never overwritten" in capsys.readouterr().err
    assert poster.read_bytes() == before


def test_empty_mask_file_is_rejected(poster, tmp_path, capsys) -> None:
    mask = tmp_path / "mask.png"
    mask.write_bytes(encode_png(np.zeros((120, 160), np.uint8)))
    code = main(["refine", str(poster), "--mask", str(mask), "--prompt", "refine the text 'A'",
                 "--out", str(tmp_path / "o.png")])
    assert code == 2 and "mask is empty" in capsys.readouterr().err


def _as_p3_jpeg(poster: Path) -> Path:
    from PIL import Image

    from tests.refiner.icc_profiles import display_p3

    path = poster.with_suffix(".jpg")
    Image.open(poster).convert("RGB").save(path, "JPEG", quality=75, subsampling=0,
                                           icc_profile=display_p3(), dpi=(300, 300))
    return path


def test_jpeg_in_jpeg_out_keeps_profile_and_the_input_pixels(poster, tmp_path, capsys) -> None:
    from PIL import Image

    from refiner.asset import native_pixels

    jpeg = _as_p3_jpeg(poster)
    out = tmp_path / "fixed.jpg"
    code = main(["refine", str(jpeg), "--box", "46,36,104,74", "--prompt", "Refine the LOGO.",
                 "--ref", str(tmp_path / "logo.png"), "--out", str(out), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    asset = data["asset"]
    assert asset["format"] == "JPEG" and "icc_profile" in asset["kept"] and "dpi" in asset["kept"]
    assert asset["changed_pixels"] > 0 and asset["meets_bar"] is True
    got, orig = Image.open(out), Image.open(jpeg)
    assert got.format == "JPEG" and got.info["icc_profile"] == orig.info["icc_profile"]
    # the top rows are far from the repair: the input's own decoded pixels
    fixed, before = native_pixels(out.read_bytes()), native_pixels(jpeg.read_bytes())
    assert np.array_equal(fixed[:16], before[:16])


def test_out_in_another_format_than_the_input_is_refused(poster, tmp_path, capsys) -> None:
    jpeg = _as_p3_jpeg(poster)
    out = tmp_path / "fixed.png"
    code = main(["refine", str(jpeg), "--box", "46,36,104,74", "--prompt", "Refine the LOGO.",
                 "--ref", str(tmp_path / "logo.png"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "keeps the input's format (JPEG)" in err and not out.exists()
