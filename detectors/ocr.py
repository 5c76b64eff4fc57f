"""OCR engine layer: an image in, text lines out (quad, text, score, character boxes).

Two engines sit behind one small interface (:class:`OcrEngine`):

* ``rapidocr`` (default): PaddleOCR's PP-OCRv6 *small* detection and recognition models and
  the mobile v2 direction classifier, exactly the ONNX files bundled in the ``rapidocr``
  wheel, on ONNX Runtime. Before loading, each file is located inside the installed
  ``rapidocr`` package and its SHA-256 is compared with the one rapidocr itself lists in
  ``default_models.yaml``; the files are then handed to rapidocr as explicit
  ``model_path`` values, so rapidocr's download code is never reached. A missing or
  altered file is a :class:`~posterqa.errors.ModelWeightsMissingError`.
* ``paddleocr``: native PaddleOCR (the ``posterqa[paddleocr]`` extra) pointed at local
  model folders (``POSTERQA_PADDLE_DET_MODEL_DIR`` / ``POSTERQA_PADDLE_REC_MODEL_DIR``);
  nothing is fetched from a model host.

The detector's input is capped at ``settings.ocr_det_limit_side`` pixels on the long side
(recognition still reads the full-resolution crops). Engines are built once per process
and cached (:func:`get_ocr_engine`). Images are RGB ``uint8`` ``[H, W, 3]``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from detectors.types import Box, Quad, normalize_quad
from posterqa.errors import ConfigError, InputError, ModelWeightsMissingError
from posterqa.imaging import ensure_rgb_uint8
from posterqa.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CharBox:
    """One recognised character: its text, quad in image pixels and confidence."""

    char: str
    quad: Quad
    score: float

    @property
    def box(self) -> Box:
        return Box.from_points(self.quad)


@dataclass(frozen=True)
class OcrLine:
    """One text line read by an engine.

    ``quad`` is the line's four corners in image pixels (clockwise from the top-left of
    the text as it reads); ``score`` the recognition confidence in [0, 1];
    ``char_boxes`` one :class:`CharBox` per non-space character of ``text`` in reading
    order when the engine gives them, else empty.
    """

    quad: Quad
    text: str
    score: float
    char_boxes: tuple[CharBox, ...] = ()

    @property
    def box(self) -> Box:
        return Box.from_points(self.quad)

    @property
    def height(self) -> float:
        """Line height: the mean length of the quad's two short-axis edges."""
        p = np.asarray(self.quad, dtype=np.float64)
        return float((np.linalg.norm(p[3] - p[0]) + np.linalg.norm(p[2] - p[1])) / 2.0)


@dataclass(frozen=True)
class RecResult:
    """A recognition-only read of one line crop."""

    text: str
    score: float


class OcrEngine(Protocol):
    """``engine(image_rgb) -> list[OcrLine]``; ``engine.recognize(crops) -> list[RecResult]``."""

    name: str

    def __call__(self, image: np.ndarray) -> list[OcrLine]: ...

    def recognize(self, crops: Sequence[np.ndarray]) -> list[RecResult]: ...


# --------------------------------------------------------------------------- rapidocr

_RAPID_TASKS = ("det", "cls", "rec")


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """SHA-256 of a file (remembered per path, size and mtime for this process)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = _file_sha256(path)
    return _SHA_CACHE[key]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_rapidocr_models() -> dict[str, Path]:
    """The bundled det/cls/rec ONNX files rapidocr's default config resolves to.

    Each file must lie inside the installed ``rapidocr`` package and match the SHA-256
    that rapidocr lists for it; raises :class:`ModelWeightsMissingError` otherwise.
    """
    import rapidocr
    from omegaconf import OmegaConf
    from rapidocr.inference_engine.base import FileInfo, InferSession
    from rapidocr.utils.typings import EngineType, LangDet, LangRec, ModelType, OCRVersion, TaskType

    pkg = Path(rapidocr.__file__).resolve().parent
    cfg = OmegaConf.load(pkg / "config.yaml")
    lang_enums = {"det": LangDet, "cls": LangDet, "rec": LangRec}
    out: dict[str, Path] = {}
    for task in _RAPID_TASKS:
        section = cfg[task.capitalize()]
        info = InferSession.get_model_url(
            FileInfo(
                engine_type=EngineType(section.engine_type),
                ocr_version=OCRVersion(section.ocr_version),
                task_type=TaskType(task),
                lang_type=lang_enums[task](section.lang_type),
                model_type=ModelType(section.model_type),
            )
        )
        path = pkg / "models" / Path(str(info["model_dir"])).name
        if not path.is_file():
            raise ModelWeightsMissingError(
                f"bundled rapidocr {task} model {path} is missing; reinstall rapidocr==3.10.0"
            )
        expected = str(info["SHA256"])
        if _sha256(path) != expected:
            raise ModelWeightsMissingError(
                f"bundled rapidocr {task} model {path} does not match its SHA-256 {expected}"
            )
        out[task] = path
    return out


class RapidOcrEngine:
    """PP-OCRv6 small det/rec (bundled in the ``rapidocr`` wheel) on ONNX Runtime."""

    name = "rapidocr"

    def __init__(self, settings: Settings | None = None) -> None:
        from rapidocr import RapidOCR

        settings = settings or get_settings()
        self.model_paths = bundled_rapidocr_models()
        self.det_limit_side = int(settings.ocr_det_limit_side)
        if self.det_limit_side < 32:
            raise ConfigError(
                f"ocr_det_limit_side={self.det_limit_side} is too small (need >= 32)"
            )
        params = {
            "Global.log_level": "error",
            "Global.text_score": 0.0,  # keep low-confidence lines: they are evidence
            "Det.model_path": str(self.model_paths["det"]),
            "Cls.model_path": str(self.model_paths["cls"]),
            "Rec.model_path": str(self.model_paths["rec"]),
            "Det.limit_side_len": self.det_limit_side,
            "Det.limit_type": "max",
        }
        self._ocr = RapidOCR(params=params)
        self._ocr.update_params(use_det=True, use_cls=True, use_rec=True, return_word_box=True,
                                return_single_char_box=True)
        self._lock = threading.Lock()
        log.info("rapidocr engine ready: %s", {k: str(v) for k, v in self.model_paths.items()})

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        """Detect and read every text line of an RGB ``uint8`` ``[H, W, 3]`` image."""
        image = ensure_rgb_uint8(image)
        if min(image.shape[:2]) < 2:
            return []
        bgr = np.ascontiguousarray(image[..., ::-1])
        with self._lock:
            boxes, txts, scores, words = self._run(bgr)
        lines: list[OcrLine] = []
        for i, (quad, text) in enumerate(zip(boxes, txts, strict=True)):
            q = normalize_quad(np.asarray(quad, dtype=np.float64).tolist())
            chars = _char_boxes(words[i], text) if words is not None else ()
            lines.append(OcrLine(quad=q, text=str(text), score=float(scores[i]), char_boxes=chars))
        return lines

    def _run(self, bgr: np.ndarray):
        """det -> cls -> rec -> character boxes, keeping lines whose read is empty.

        Follows the steps of rapidocr 3.10's ``RapidOCR.__call__`` (pinned) so that regions
        the detector finds but the recogniser cannot read are kept: they are evidence of
        unreadable text, which ``__call__`` drops.
        """
        from rapidocr.utils.process_img import map_boxes_to_original, map_img_to_original

        ocr = self._ocr
        h, w = bgr.shape[:2]
        img, op_record = ocr.preprocess_img(bgr)
        det_res, _cls, rec_res, crops = ocr.run_ocr_steps(img, op_record)
        if det_res.boxes is None or rec_res.txts is None or len(det_res.boxes) == 0:
            return [], [], [], None
        boxes = map_boxes_to_original(det_res.boxes, op_record, h, w)
        pre = op_record["preprocess"]
        crops = map_img_to_original(crops, pre["ratio_h"], pre["ratio_w"])
        txts = [str(t) for t in rec_res.txts]
        scores = [float(s) for s in rec_res.scores]
        words = None
        if all(c.size for c in crops) and rec_res.word_results is not None:
            rec_res = ocr.cal_rec_boxes(crops, boxes, rec_res, True)
            if len(rec_res.word_results) == len(txts):
                words = list(rec_res.word_results)
        return list(boxes), txts, scores, words

    def recognize(self, crops: Sequence[np.ndarray]) -> list[RecResult]:
        """Read line crops (RGB ``uint8``) with the recognition model only (no detection)."""
        crops = [np.ascontiguousarray(ensure_rgb_uint8(c, "crop")[..., ::-1]) for c in crops]
        if not crops:
            return []
        from rapidocr.ch_ppocr_rec import TextRecInput

        with self._lock:
            # rapidocr 3.10's recogniser (pinned): batch rec-only, no detection pass
            rec = self._ocr._load_rec_model()
            res = rec(TextRecInput(img=crops, return_word_box=False))
        return [RecResult(text=str(t), score=float(s))
                for t, s in zip(res.txts or (), res.scores, strict=False)]


def _char_boxes(words: Sequence, text: str) -> tuple[CharBox, ...]:
    """Per-character boxes from rapidocr's single-character word results, if they fit."""
    items = [w for w in words if w and len(w) == 3 and w[2] is not None]
    chars = [str(w[0]) for w in items]
    if "".join(chars) != "".join(text.split()) or any(len(c) != 1 for c in chars):
        return ()
    return tuple(
        CharBox(char=c, quad=normalize_quad(np.asarray(w[2], dtype=np.float64).tolist()),
                score=float(w[1]))
        for c, w in zip(chars, items, strict=True)
    )


# --------------------------------------------------------------------------- paddleocr


class PaddleOcrEngine:
    """Native PaddleOCR on local model folders (the ``posterqa[paddleocr]`` extra)."""

    name = "paddleocr"

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        dirs = {"det": settings.paddle_det_model_dir, "rec": settings.paddle_rec_model_dir}
        for task, path in dirs.items():
            if path is None:
                raise ConfigError(
                    f"ocr_engine=paddleocr needs local model folders: set "
                    f"POSTERQA_PADDLE_{task.upper()}_MODEL_DIR (nothing is downloaded)"
                )
            if not Path(path).is_dir():
                raise ModelWeightsMissingError(
                    f"PaddleOCR {task} model folder {path} does not exist "
                    f"(POSTERQA_PADDLE_{task.upper()}_MODEL_DIR)"
                )
        try:
            import paddleocr  # noqa: F401  (optional extra)
        except ImportError as exc:
            raise ConfigError(
                "ocr_engine=paddleocr needs the optional extra: pip install 'posterqa[paddleocr]'"
                f" ({exc})"
            ) from None
        from paddleocr import PaddleOCR, TextRecognition

        engine = "onnxruntime" if any(Path(d).glob("*.onnx") for d in dirs.values()) else None
        extra = {"engine": engine} if engine else {}
        self._ocr = PaddleOCR(
            text_detection_model_dir=str(dirs["det"]),
            text_detection_model_name=settings.paddle_det_model_name,
            text_recognition_model_dir=str(dirs["rec"]),
            text_recognition_model_name=settings.paddle_rec_model_name,
            use_doc_orientation_classify=False,
            use_doc_unwarping=False,
            use_textline_orientation=False,
            text_det_limit_side_len=int(settings.ocr_det_limit_side),
            text_det_limit_type="max",
            text_rec_score_thresh=0.0,
            **extra,
        )
        self._rec = TextRecognition(
            model_dir=str(dirs["rec"]), model_name=settings.paddle_rec_model_name, **extra
        )
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray) -> list[OcrLine]:
        image = ensure_rgb_uint8(image)
        bgr = np.ascontiguousarray(image[..., ::-1])
        with self._lock:
            results = list(self._ocr.predict(bgr))
        lines: list[OcrLine] = []
        for res in results:
            data = res.json.get("res", res.json) if hasattr(res, "json") else res
            polys = data.get("rec_polys") or data.get("dt_polys") or []
            for poly, text, score in zip(polys, data.get("rec_texts", []),
                                         data.get("rec_scores", []), strict=False):
                pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
                if len(pts) != 4:
                    pts = np.asarray(Box.from_points(pts).as_quad())
                if str(text).strip():
                    lines.append(OcrLine(quad=normalize_quad(pts.tolist()), text=str(text),
                                         score=float(score)))
        return lines

    def recognize(self, crops: Sequence[np.ndarray]) -> list[RecResult]:
        out = []
        with self._lock:
            for crop in crops:
                bgr = np.ascontiguousarray(ensure_rgb_uint8(crop, "crop")[..., ::-1])
                res = list(self._rec.predict(bgr))
                data = res[0].json.get("res", {}) if res else {}
                out.append(RecResult(text=str(data.get("rec_text", "")),
                                     score=float(data.get("rec_score", 0.0))))
        return out


# --------------------------------------------------------------------------- factory

_ENGINES: dict[tuple, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_key(settings: Settings) -> tuple:
    return (
        settings.ocr_engine,
        int(settings.ocr_det_limit_side),
        str(settings.paddle_det_model_dir),
        str(settings.paddle_rec_model_dir),
        settings.paddle_det_model_name,
        settings.paddle_rec_model_name,
    )


def get_ocr_engine(settings: Settings | None = None) -> OcrEngine:
    """The OCR engine the settings name, built once per process and reused."""
    settings = settings or get_settings()
    key = _engine_key(settings)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if settings.ocr_engine == "rapidocr":
                engine = RapidOcrEngine(settings)
            elif settings.ocr_engine == "paddleocr":
                engine = PaddleOcrEngine(settings)
            else:  # pydantic already restricts the value; keep a clear message anyway
                raise ConfigError(f"unknown ocr_engine {settings.ocr_engine!r}")
            _ENGINES[key] = engine
        return engine


def crop_quad(image: np.ndarray, quad: Quad, *, pad: float = 0.0,
              out_height: int | None = None) -> np.ndarray:
    """Rectify the quad's content to an upright RGB crop (perspective warp).

    ``pad`` grows the quad by that many pixels on every side first; ``out_height``
    rescales the crop to that height (keeping the aspect ratio).
    """
    import cv2

    from detectors.types import pad_quad

    if pad:
        quad = pad_quad(quad, pad)
    pts = np.asarray(quad, dtype=np.float32)
    w = float(max(np.linalg.norm(pts[1] - pts[0]), np.linalg.norm(pts[2] - pts[3])))
    h = float(max(np.linalg.norm(pts[3] - pts[0]), np.linalg.norm(pts[2] - pts[1])))
    if w < 1 or h < 1:
        raise InputError(f"quad {quad} is degenerate")
    scale = 1.0 if out_height is None else out_height / h
    ow, oh = max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)
    dst = np.asarray([[0, 0], [ow, 0], [ow, oh], [0, oh]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(pts, dst)
    return cv2.warpPerspective(image, m, (ow, oh), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
