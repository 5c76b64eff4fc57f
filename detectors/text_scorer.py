"""One calibrated decision for collapsed text detail: figures -> p(defect).

A candidate region (a line part that reads as its expected string) is measured by
:meth:`detectors.text.TextDetector._collapsed` into :class:`CollapseFigures`: the raw
figures of the signals (read confidences, the focused re-read, relative stroke
sharpness, glyph similarity to the brand font, edge width) and of its context (line
height, ink tones, stroke-width variation, whether the glyph fit needed the local
background). :func:`features` turns them into a fixed vector; :class:`TextScorer` is a
logistic regression over it, fitted by ``scripts/train_text_scorer.py`` on generated
posters (label: the region overlaps a defective truth line, IoU >= 0.3), with its
operating ``threshold`` chosen on held-out seeds for a precision target. The weights
ship in ``detectors/params/text_scorer.json`` with the feature names, the threshold and
the sha256 of the training data; :func:`load_scorer` checks both names and the file's
own ``weights_sha256``.

Every feature marked ``+`` only grows as a line gets worse (doubt, blur, glyph
deficit, soft edges) and is fitted with a weight >= 0, so p never falls as one of those
figures worsens (with the others fixed). Context features have a free sign: e.g. many ink
tones (gold, gradient, textured fills: stylised lettering) take weight off low
sharpness through ``blur_plain`` (blur of flat-toned ink), instead of a rule.

Interactions carry a signal where it is unambiguous: a glyph deficit on flat-toned ink
(``glyph_deficit_plain``); on a line OCR's detector passed over, found by a sharp match
of the rendering, a few characters far below its best (``glyph_dip_passed``) and a
re-read that disagrees where its best characters match the font
(``reread_mismatch_passed``: a stylised line, unlike the font throughout, re-reads wrong
too); a re-read that contradicts a doubtful first read (``reread_mismatch_doubt``).
Context figures are clipped to the range the generated posters span (``log_height``),
and soft edges are counted beyond what a line's size makes crisp (``edge_soft_blunt``).

``reasons``: the reason names of the features that push p up the most
(weight x value, summed per reason), strongest first.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from posterqa.errors import InputError

PARAMS_PATH = Path(__file__).resolve().parent / "params" / "text_scorer.json"
REASON_SHARE = 0.15  # a reason is listed when it adds this share of the largest push
REASON_MIN_PUSH = 0.25  # ... and at least this much to the logit (a trace is no reason)


class ScorerFileError(InputError):
    """The scorer's parameter file is missing, malformed, or does not fit this code."""


@dataclass(frozen=True)
class CollapseFigures:
    """Raw figures of one candidate region (None: not measured).

    ``height`` px of the OCR line; ``ocr_score`` the line's recognition confidence;
    ``edge_width_px`` ink contrast / p90 edge gradient of the line box;
    ``sharpness_ratio`` median stroke sharpness of the region's cells over the poster's
    other lines of similar height; ``glyph_low3`` / ``glyph_min`` the mean of the 3
    lowest / the lowest per-character similarity to the brand font's rendering;
    ``local_ink`` whether that fit came from the local-background ink map;
    ``ink_tones`` colour spread inside the glyph cores / ink contrast; ``stroke_cv``
    coefficient of variation of stroke half-widths; ``reread_score`` /
    ``reread_matches`` the focused re-read's confidence and whether it reads as the
    expected text; ``passed_over``: OCR found no line there (found by its rendering);
    ``read_matches``: the first read of the region's characters reads as the expected
    text (False where a focused read confirmed it, or a host was placed by rendering).
    """

    height: float
    n_chars: int
    ocr_score: float
    edge_width_px: float
    passed_over: bool = False
    sharpness_ratio: float | None = None
    glyph_low3: float | None = None
    glyph_min: float | None = None
    glyph_median: float | None = None
    glyph_top: float | None = None
    local_ink: bool = False
    ink_tones: float | None = None
    stroke_cv: float | None = None
    reread_score: float | None = None
    reread_matches: bool | None = None
    read_matches: bool = True

    def as_dict(self) -> dict[str, float]:
        """The measured figures as floats (booleans 0/1), None left out."""
        out: dict[str, float] = {}
        for k, v in self.__dict__.items():
            if v is not None:
                out[k] = float(v)
        return out


def _clip(x: float, lo: float, hi: float) -> float:
    return float(min(max(x, lo), hi))


def _blur(f: CollapseFigures) -> float:
    return 0.0 if f.sharpness_ratio is None else _clip(1.0 - f.sharpness_ratio, 0.0, 1.0)


def _tones(f: CollapseFigures) -> float:
    return 0.0 if f.ink_tones is None else _clip(f.ink_tones, 0.0, 1.0)


def _glyph(f: CollapseFigures) -> float:
    return 0.0 if f.glyph_low3 is None else _clip(1.0 - f.glyph_low3, 0.0, 1.5)


def _top(f: CollapseFigures) -> float:
    """How well the line's best characters match the font (0 where not compared)."""
    return 0.0 if f.glyph_top is None else _clip(f.glyph_top, 0.0, 1.0)


def _sure(f: CollapseFigures) -> float:
    """How sure the first read is, 0 at confidence 0.9, 1 at 1.0."""
    return _clip((f.ocr_score - 0.9) / 0.1, 0.0, 1.0)


def _large(f: CollapseFigures) -> float:
    """0 for text <= 20 px, 1 for text >= 45 px (small text renders less faithfully)."""
    return _clip((f.height - 20.0) / 25.0, 0.0, 1.0)


def _reread_doubt(f: CollapseFigures) -> float:
    again = f.ocr_score if f.reread_score is None else f.reread_score
    return max(1.0 - max(f.ocr_score, again), 0.0)  # both reads must doubt


# (name, function, monotone (+: weight >= 0), reason it speaks for)
_FEATURES: tuple[tuple[str, Callable[[CollapseFigures], float], bool, str | None], ...] = (
    ("ocr_doubt", lambda f: _clip(1.0 - f.ocr_score, 0.0, 1.0), True, "low_ocr_score"),
    ("both_reads_doubt", _reread_doubt, True, "reread_low_score"),
    ("reread_mismatch", lambda f: 1.0 if f.reread_matches is False else 0.0, True,
     "reread_mismatch"),
    ("first_read_mismatch", lambda f: 0.0 if f.read_matches else 1.0, True,
     "first_read_mismatch"),
    ("blur", _blur, True, "low_sharpness"),
    ("blur_hinge", lambda f: 0.0 if f.sharpness_ratio is None
     else _clip(0.6 - f.sharpness_ratio, 0.0, 0.6), True, "low_sharpness"),
    ("blur_plain", lambda f: _blur(f) * (1.0 - _tones(f)), True, "low_sharpness"),
    ("edge_rel", lambda f: 10.0 * _clip(f.edge_width_px / max(f.height, 1.0), 0.0, 0.3),
     True, "soft_edges"),
    # soft edges count on blunt strokes (or strokes too soft to measure): a blur softens
    # both, while shaded, glowing, embossed or 3D lettering has soft edges on sharp strokes.
    # Counted beyond 1.5 px or 3 % of the line's height: the antialiased edge of display
    # lettering hundreds of px tall, resampled, spans a few px and is crisp at its size
    ("edge_soft_blunt", lambda f: _clip(f.edge_width_px - max(1.5, 0.03 * f.height), 0.0, 4.0)
     * (0.5 if f.sharpness_ratio is None else _blur(f)), True, "soft_edges"),
    ("glyph_deficit", _glyph, True, "glyph_mismatch"),
    ("glyph_min_deficit", lambda f: 0.0 if f.glyph_min is None
     else _clip(1.0 - f.glyph_min, 0.0, 1.5), True, "glyph_mismatch"),
    # a few characters far below the line's own fit (broken strokes, a local warp), not
    # a whole line drawn unlike the font (a lettering style: outline, italic, 3D)
    ("glyph_dip", lambda f: 0.0 if f.glyph_low3 is None or f.glyph_median is None
     else _clip(f.glyph_median - f.glyph_low3, 0.0, 1.0), True, "glyph_mismatch"),
    ("glyph_dip_top", lambda f: 0.0 if f.glyph_low3 is None or f.glyph_top is None
     else _clip(f.glyph_top - f.glyph_low3, 0.0, 1.0), True, "glyph_mismatch"),
    ("glyph_deficit_unsure", lambda f: _glyph(f) * (1.0 - _sure(f)), True, "glyph_mismatch"),
    ("glyph_deficit_large", lambda f: _glyph(f) * _large(f), True, "glyph_mismatch"),
    # the same signals where they are unambiguous: flat-toned ink (no gold, gradient or
    # texture: the font's plain rendering), and lines OCR's detector passed over (placed
    # by a sharp match of the rendering, so a glyph deficit or a wrong re-read there is
    # damage, not a lettering style the detector read past)
    ("glyph_deficit_plain", lambda f: _glyph(f) * (1.0 - _tones(f)), True, "glyph_mismatch"),
    ("glyph_dip_passed", lambda f: 0.0 if not f.passed_over or f.glyph_low3 is None
     or f.glyph_top is None else _clip(f.glyph_top - f.glyph_low3, 0.0, 1.0), True,
     "glyph_mismatch"),
    # ... read wrong where its best characters match the font (drawn in it, not styled)
    ("reread_mismatch_passed", lambda f: _top(f) if f.passed_over
     and f.reread_matches is False else 0.0, True, "reread_mismatch"),
    # a first read in doubt (< 0.9) that a second, focused read contradicts
    ("reread_mismatch_doubt", lambda f: (1.0 - _sure(f)) if f.reread_matches is False
     else 0.0, True, "reread_mismatch"),
    # context: free sign
    ("no_glyph", lambda f: 1.0 if f.glyph_low3 is None else 0.0, False, None),
    ("no_sharpness", lambda f: 1.0 if f.sharpness_ratio is None else 0.0, False, None),
    ("passed_over", lambda f: 1.0 if f.passed_over else 0.0, False, None),
    ("local_ink", lambda f: 1.0 if f.local_ink else 0.0, False, None),
    ("ink_tones", _tones, False, None),
    ("stroke_cv", lambda f: 0.0 if f.stroke_cv is None else _clip(f.stroke_cv, 0.0, 2.0),
     False, None),
    # clipped at 200 px, about the 99th percentile of the generated lines' heights: the
    # fit says nothing of display lettering 500 px tall (real posters), so no extrapolation
    ("log_height", lambda f: math.log(_clip(f.height, 4.0, 200.0) / 40.0), False, None),
    ("log_chars", lambda f: math.log(max(f.n_chars, 1)), False, None),
)
FEATURE_NAMES: tuple[str, ...] = tuple(n for n, *_ in _FEATURES)
MONOTONE: tuple[bool, ...] = tuple(m for _n, _f, m, _r in _FEATURES)
REASON_OF: dict[str, str | None] = {n: r for n, _f, _m, r in _FEATURES}


def features(f: CollapseFigures) -> np.ndarray:
    """The feature vector (float64 ``[len(FEATURE_NAMES)]``) of one region's figures."""
    return np.array([fn(f) for _n, fn, _m, _r in _FEATURES], dtype=np.float64)


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


@dataclass(frozen=True)
class TextScorer:
    """Logistic regression over :func:`features`; ``threshold`` is the operating point
    (p >= it: a defect), ``gate`` the p (with the re-read assumed to agree with the
    first read) above which a region is read again."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    gate: float
    meta: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURE_NAMES):
            raise ScorerFileError(f"scorer has {len(self.weights)} weights, the code "
                                  f"{len(FEATURE_NAMES)} features")

    def logit(self, f: CollapseFigures) -> float:
        return float(np.dot(self.weights, features(f)) + self.bias)

    def p(self, f: CollapseFigures) -> float:
        """p(defect) of one region's figures."""
        return float(_sigmoid(self.logit(f)))

    def p_many(self, x: np.ndarray) -> np.ndarray:
        """p(defect) of a feature matrix ``[n, len(FEATURE_NAMES)]``."""
        return np.asarray(_sigmoid(x @ np.asarray(self.weights) + self.bias))

    def reasons(self, f: CollapseFigures) -> tuple[str, ...]:
        """Reason names of the strongest upward contributions (weight x value summed per
        reason; those >= ``REASON_SHARE`` of the largest and >= ``REASON_MIN_PUSH``),
        strongest first."""
        push: dict[str, float] = {}
        for (name, w), x in zip(zip(FEATURE_NAMES, self.weights, strict=True),
                                features(f).tolist(), strict=True):
            reason = REASON_OF[name]
            if reason is not None and w * x > 0:
                push[reason] = push.get(reason, 0.0) + w * x
        if not push:
            return ()
        top = max(push.values())
        return tuple(k for k, v in sorted(push.items(), key=lambda kv: -kv[1])
                     if v >= max(REASON_SHARE * top, REASON_MIN_PUSH))

    def to_json(self) -> dict:
        body = {"features": list(FEATURE_NAMES), "weights": [float(w) for w in self.weights],
                "bias": float(self.bias), "threshold": float(self.threshold),
                "gate": float(self.gate)}
        body["weights_sha256"] = _weights_hash(body)
        body.update(dict(self.meta))
        return body


def _weights_hash(body: dict) -> str:
    core = {k: body[k] for k in ("features", "weights", "bias", "threshold", "gate")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


def scorer_from_json(body: dict) -> TextScorer:
    """A :class:`TextScorer` from its parameter file's content, checked: the feature
    names must be this code's, and ``weights_sha256`` the hash of the weights."""
    try:
        names = tuple(body["features"])
        if names != FEATURE_NAMES:
            raise ScorerFileError(f"scorer features {names} are not this code's "
                                  f"{FEATURE_NAMES}: retrain (scripts/train_text_scorer.py)")
        if body.get("weights_sha256") != _weights_hash(body):
            raise ScorerFileError(f"scorer weights_sha256 {body.get('weights_sha256')!r} "
                                  "does not match its weights")
        meta = tuple((k, v) for k, v in body.items()
                     if k not in ("features", "weights", "bias", "threshold", "gate",
                                  "weights_sha256"))
        return TextScorer(tuple(float(w) for w in body["weights"]), float(body["bias"]),
                          float(body["threshold"]), float(body["gate"]), meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScorerFileError(f"scorer parameters malformed: {exc!r}") from exc


@lru_cache(maxsize=4)
def load_scorer(path: str | Path = PARAMS_PATH) -> TextScorer:
    """The shipped scorer (``detectors/params/text_scorer.json``), loaded once."""
    p = Path(path)
    try:
        body = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScorerFileError(f"cannot read scorer parameters {str(p)!r}: {exc}") from exc
    return scorer_from_json(body)


def fit_logistic(x: np.ndarray, y: np.ndarray, *, monotone: Sequence[bool] = MONOTONE,
                 l2: float = 1.0, sample_weight: np.ndarray | None = None
                 ) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (L-BFGS-B), weights of ``monotone`` features
    bounded at >= 0. Features are standardised for the fit (the penalty acts on
    standardised weights); returns (weights, bias) on the raw features. Deterministic."""
    from scipy.optimize import minimize

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n, d = x.shape
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-9] = 1.0
    z = (x - mu) / sd

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        s = z @ w + b
        # log(1 + e^s) - y s, stably
        ll = np.logaddexp(0.0, s) - y * s
        p = _sigmoid(s)
        g = sw * (p - y)
        total = float(np.dot(sw, ll)) / sw.sum() + 0.5 * l2 * float(w @ w) / sw.sum()
        grad = np.concatenate([z.T @ g / sw.sum() + l2 * w / sw.sum(), [g.sum() / sw.sum()]])
        return total, grad

    bounds = [(0.0, None) if m else (None, None) for m in monotone] + [(None, None)]
    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 2000, "gtol": 1e-9})
    w_std, b_std = res.x[:d], res.x[d]
    w = w_std / sd
    b = float(b_std - np.dot(w, mu))
    return w, b


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))


def reliability(p: np.ndarray, y: np.ndarray, bins: Sequence[float] = (
        0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0001)) -> list[tuple]:
    """(bin low, bin high, count, mean p, observed rate) per non-empty bin of p."""
    out = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        m = (p >= lo) & (p < hi)
        if m.any():
            out.append((lo, min(hi, 1.0), int(m.sum()), float(p[m].mean()), float(y[m].mean())))
    return out
