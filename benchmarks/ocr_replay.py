"""An OCR engine that replays recorded results, for fast and exact benchmark reruns.

``ReplayEngine(engine, folder)`` wraps any :class:`detectors.ocr.OcrEngine`: every call
(detection + recognition on an image, recognition on crops) is keyed by the SHA-1 of the
pixels it gets (shape and bytes) and the engine's name; a key seen before is answered
from ``folder`` (one pickle per key), otherwise the real engine runs and its answer is
kept. A detector change that asks for the same crops gets byte-identical OCR answers,
so a before/after comparison measures the change and not OCR noise, and a rerun costs
only what the detector does besides OCR. Crops the changed detector asks for that were
never seen run the real engine.

Used by ``bench_real.py --ocr-cache`` and for iterating on the detectors; not by the
product (a cache of OCR answers has no place in a sweep).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _key(kind: str, name: str, arrays: Sequence[np.ndarray]) -> str:
    h = hashlib.sha1(f"{kind}:{name}".encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ReplayEngine:
    """An :class:`~detectors.ocr.OcrEngine` answering from a folder of recorded calls."""

    def __init__(self, engine, folder: Path) -> None:
        self.engine = engine
        self.name = engine.name
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _cached(self, key: str, compute):
        path = self.folder / f"{key}.pkl"
        if path.exists():
            self.hits += 1
            return pickle.loads(path.read_bytes())
        self.misses += 1
        value = compute()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(value))
        tmp.replace(path)
        return value

    def __call__(self, image: np.ndarray):
        return self._cached(_key("det+rec", self.name, [image]), lambda: self.engine(image))

    def recognize(self, crops: Sequence[np.ndarray]):
        crops = list(crops)
        return self._cached(_key("rec", self.name, crops), lambda: self.engine.recognize(crops))

    def __getattr__(self, attr: str):  # anything else the engine offers
        return getattr(self.engine, attr)
