"""The OCR engine layer: bundled models, caching, reads, the optional PaddleOCR engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rapidocr
from PIL import Image, ImageDraw, ImageFont

from detectors.normalize import normalize
from detectors.ocr import (
    RapidOcrEngine,
    bundled_rapidocr_models,
    crop_quad,
    get_ocr_engine,
)
from posterqa.errors import ConfigError, ModelWeightsMissingError
from posterqa.settings import Settings


def _font(name: str) -> str:
    import fontpkg_roboto
    import pylopdf_fonts_zh_cn

    if name == "sc":
        return str(Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf")
    return str(next(Path(fontpkg_roboto.__file__).parent.rglob("Roboto[[]wdth,wght].ttf")))


def _canvas(w: int, h: int) -> Image.Image:
    return Image.new("RGB", (w, h), (245, 240, 228))


@pytest.fixture(scope="module")
def engine():
    return get_ocr_engine()


def test_configured_models_are_the_ones_bundled_in_the_rapidocr_wheel() -> None:
    pkg = Path(rapidocr.__file__).resolve().parent
    models = bundled_rapidocr_models()
    assert set(models) == {"det", "cls", "rec"}
    for path in models.values():
        assert path.parent == pkg / "models"
        assert path.is_file()
    assert models["det"].name == "PP-OCRv6_det_small.onnx"
    assert models["rec"].name == "PP-OCRv6_rec_small.onnx"


def test_engine_never_reaches_rapidocrs_download_code(monkeypatch, engine) -> None:
    from rapidocr.utils import download_file

    def refuse(*args, **kwargs):
        raise AssertionError("rapidocr tried to download a file")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(refuse))
    fresh = RapidOcrEngine(Settings())  # a second engine, built while downloads are refused
    assert fresh.model_paths == engine.model_paths


def test_altered_model_file_is_refused(monkeypatch, tmp_path) -> None:
    import detectors.ocr as ocr_mod

    monkeypatch.setattr(ocr_mod, "_sha256", lambda path: "0" * 64)
    with pytest.raises(ModelWeightsMissingError, match="SHA-256"):
        bundled_rapidocr_models()


def test_engine_is_built_once_per_process(engine) -> None:
    assert get_ocr_engine() is engine
    assert get_ocr_engine(Settings()) is engine


def test_reads_chinese_and_mixed_script_lines_with_char_boxes(engine) -> None:
    img = _canvas(900, 300)
    d = ImageDraw.Draw(img)
    sc56 = ImageFont.truetype(_font("sc"), 56)
    d.text((40, 40), "限时特惠 全场包邮", font=sc56, fill=(20, 20, 20))
    d.text((40, 170), "Buy 2 Get 1 免费", font=ImageFont.truetype(_font("sc"), 48),
           fill=(180, 20, 30))
    lines = engine(np.asarray(img))
    texts = [normalize(ln.text) for ln in lines]
    assert texts == ["限时特惠全场包邮", "buy2get1免费"]
    first = lines[0]
    assert len(first.char_boxes) == len(first.text.replace(" ", ""))
    xs = [cb.box.center[0] for cb in first.char_boxes]
    assert xs == sorted(xs)
    assert all(first.box.intersection(cb.box) > 0 for cb in first.char_boxes)


def test_reads_16px_text(engine) -> None:
    img = _canvas(400, 60)
    ImageDraw.Draw(img).text((10, 20), "Terms and conditions apply",
                             font=ImageFont.truetype(_font("roboto"), 16), fill=(0, 0, 0))
    lines = engine(np.asarray(img))
    assert [normalize(ln.text) for ln in lines] == ["termsandconditionsapply"]


def test_reads_a_rotated_line_with_a_rotated_quad(engine) -> None:
    layer = Image.new("RGBA", (620, 100), (0, 0, 0, 0))
    sc60 = ImageFont.truetype(_font("sc"), 60)
    ImageDraw.Draw(layer).text((10, 10), "旋转文字 Rotated", font=sc60, fill=(20, 20, 20, 255))
    layer = layer.rotate(12, expand=True, resample=Image.Resampling.BICUBIC)
    img = _canvas(800, 400)
    img.paste(layer, (60, 80), layer)
    (line,) = engine(np.asarray(img))
    assert normalize(line.text) == normalize("旋转文字 Rotated")
    (_, y0), (_, y1) = line.quad[0], line.quad[1]
    assert y1 < y0 - 50  # top edge climbs to the right
    crop = crop_quad(np.asarray(img), line.quad)
    assert crop.shape[1] > 3 * crop.shape[0]  # rectified upright


def test_poster_without_text_gives_no_lines(engine) -> None:
    yy, xx = np.mgrid[0:300, 0:400]
    img = np.stack([yy % 256, xx % 256, (xx + yy) % 256], axis=-1).astype(np.uint8) // 4 + 120
    assert engine(img) == []
    assert engine(np.full((1, 1, 3), 255, np.uint8)) == []


def test_recognize_reads_crops_without_detection(engine) -> None:
    img = _canvas(500, 80)
    ImageDraw.Draw(img).text((10, 10), "Summer Sale", font=ImageFont.truetype(_font("roboto"), 50),
                             fill=(0, 0, 0))
    (res,) = engine.recognize([np.asarray(img)])
    assert normalize(res.text) == "summersale"
    assert res.score > 0.9


def test_paddleocr_without_model_dirs_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="POSTERQA_PADDLE_DET_MODEL_DIR"):
        get_ocr_engine(Settings(ocr_engine="paddleocr"))


def test_paddleocr_with_a_missing_folder_names_the_path(tmp_path) -> None:
    missing = tmp_path / "no-such-det"
    settings = Settings(ocr_engine="paddleocr", paddle_det_model_dir=missing,
                        paddle_rec_model_dir=tmp_path)
    with pytest.raises(ModelWeightsMissingError, match=str(missing)):
        get_ocr_engine(settings)


def test_paddleocr_not_installed_names_the_extra(tmp_path) -> None:
    try:
        import paddleocr  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("paddleocr is installed here")
    (tmp_path / "det").mkdir()
    (tmp_path / "rec").mkdir()
    settings = Settings(ocr_engine="paddleocr", paddle_det_model_dir=tmp_path / "det",
                        paddle_rec_model_dir=tmp_path / "rec")
    with pytest.raises(ConfigError, match=r"posterqa\[paddleocr\]"):
        get_ocr_engine(settings)
