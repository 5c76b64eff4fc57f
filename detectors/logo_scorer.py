"""The logo check's calibrated decision and the brand's rules for it.

**Brand rules, not pixel identity** (:class:`LogoRules`): what a brand requires of a logo
on a poster is its shape and, within a tolerance, its colours. The defaults are what a
catalog team would expect: restyling (material, lighting, texture, medium, perspective)
is allowed; colour variants allowed are the original, mono / silver, inverted and
tone-on-tone (none of them has a hue to object to), and a hue within
``hue_tolerance_deg`` of the reference's; an instance narrower than ``min_width_px`` is not
judged for shape (too few pixels to tell a restyle from a deformation).

**Shape** (:class:`LogoScorer`): one logistic regression over the pixel measures of
:mod:`detectors.logo_compare`, the appearance-free shape measures of
:mod:`detectors.logo_shape` and the match's registration (:data:`FEATURES`) gives the
probability that the logo's shape is not the brand's. Its weights, the standardisation
and the operating threshold are in ``detectors/params/logo_scorer.json``, written by
``benchmarks/train_logo_scorer.py`` (generated posters: faithful logos plain, restyled
and hue-shifted vs blurred, warped, erased, other, garbled, fused and bent logos; the
file records its training rows' sha256 and held-out Brier score). Colour is judged apart
from shape (:func:`colour_off`): a hue change is its own, lower-severity reason
(``color_shift`` with score :data:`COLOUR_SEVERITY`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.logo_shape import ShapeMeasures
from posterqa.errors import ConfigError

PARAMS = Path(__file__).resolve().parent / "params" / "logo_scorer.json"
FEATURES = ("ssim", "grad_corr", "edge_f1", "sharpness", "residual", "residual_id",
            "edge_shift", "warp_px", "tile_match", "dewarp_corr",
            "shape_recall", "shape_precision", "shape_cell_recall", "shape_chamfer",
            "shape_orient", "shape_cell_f1", "shape_cell_corr", "ecc", "ncc",
            "log_sharpness")
WARP_CAP = 20.0  # warp_px above this is "very warped" alike (phase correlation's range)
# a colour-only change is reported, but below any shape defect's score: the reviewer's
# queue orders by score, a recolour is worth a look, not a repaint first
COLOUR_SEVERITY = 0.3
# chromatic share of the logo below which no hue is read (a mono / silver / tone-on-tone
# rendering); fitted on nothing: a quarter of the logo is where a hue is a fact
COLOUR_MIN_SHARE = 0.25


@dataclass(frozen=True)
class LogoRules:
    """What a brand allows of its logo on a poster (defaults: a catalog team's).

    The rules' parts can be switched one by one (``None``: as ``restyle_allowed``):
    ``restyle_allowed`` is the calibrated shape decision (:class:`LogoScorer`) replacing
    the pixel measures' verdict; ``colour_apart``: a change of colour alone is its own,
    lower-severity reason (:data:`COLOUR_SEVERITY`) and a hue within
    ``hue_tolerance_deg`` or without hue (mono, silver, tone-on-tone) passes;
    ``small_unjudged``: an instance narrower than ``min_width_px`` is not judged for shape;
    ``note_when_unsure``: with no logo found and nothing logo-like on the poster, a
    candidate holding the reference's shape by the scorer makes a review-only note there
    instead of a whole-poster ``missing``.
    """

    min_width_px: int = 32
    restyle_allowed: bool = True  # a brand kit's default; see DEFAULT_RULES
    hue_tolerance_deg: float = 45.0
    colour_variants: tuple[str, ...] = ("original", "mono", "inverted", "tone_on_tone")
    colour_apart: bool | None = None
    small_unjudged: bool | None = None
    note_when_unsure: bool | None = None

    def __post_init__(self) -> None:
        if self.min_width_px < 0:
            raise ConfigError(f"logo min_width_px {self.min_width_px} must be >= 0")
        if not 0 <= self.hue_tolerance_deg <= 180:
            raise ConfigError(f"logo hue_tolerance_deg {self.hue_tolerance_deg} must be 0..180")

    def _part(self, value: bool | None) -> bool:
        return self.restyle_allowed if value is None else bool(value)

    @property
    def judges_colour_apart(self) -> bool:
        return self._part(self.colour_apart)

    @property
    def skips_small(self) -> bool:
        return self._part(self.small_unjudged)

    @property
    def notes_when_unsure(self) -> bool:
        return self._part(self.note_when_unsure)


# The detector's default: the parts of the brand rules that keep every regression poster
# of tests/detectors/test_logo_*.py (153 studied generated posters) green when switched on
# alone (benchmarks/bench_logo_detector.py docstring, issue 26):
# - small_unjudged: on (switched on with note_when_unsure: 7 of 153 fail, all the note's);
# - note_when_unsure: off: 7 of 153 fail, every one a poster without the logo where a
#   candidate of the ordinary searches passes the scorer's shape threshold (a note at some
#   object instead of "missing"; both are review-only, so nothing goes to repair either way);
# - colour_apart: off: 3 of 153 fail: a recolour's score 0.3 against the contract
#   "a deformed logo scores > 0.5", and the hue tolerance / no-hue rule passes a recolour
#   and another logo (test_logo_localisation, seeds 2 and 9) as faithful;
# - restyle_allowed (the calibrated shape decision): off: 22 of 153 fail with every part
#   on, at ea4dac5 (erasures, recolours, other logos judged faithful).
# Opt in per brand with ``RESTYLE_RULES`` (every part) or ``LogoRules(...)``.
DEFAULT_RULES = LogoRules(restyle_allowed=False, small_unjudged=True, colour_apart=False,
                          note_when_unsure=False)
RESTYLE_RULES = LogoRules(restyle_allowed=True)


def default_rules() -> LogoRules:
    """The rules a :class:`detectors.logo.LogoDetector` gets when none are given
    (:data:`DEFAULT_RULES`, read at the detector's construction)."""
    return DEFAULT_RULES


def feature_vector(details: dict[str, float], sm: ShapeMeasures, lm: Any) -> np.ndarray:
    """The scorer's inputs, in :data:`FEATURES` order."""
    vals = dict(details)
    vals["warp_px"] = min(float(vals.get("warp_px", 0.0)), WARP_CAP)
    vals.update(dict(sm.as_pairs()))
    vals["ecc"] = float(getattr(lm, "score", 0.0))
    vals["ncc"] = float(getattr(lm, "ncc", 0.0))
    # a blur divides the Laplacian energy: its ratio is read on a log scale
    vals["log_sharpness"] = float(np.log(max(float(vals.get("sharpness", 1.0)), 0.02)))
    return np.asarray([float(vals.get(k, 0.0)) for k in FEATURES], np.float64)


@dataclass(frozen=True)
class LogoScorer:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    sha256: str

    def probability(self, x: np.ndarray) -> float:
        z = (np.asarray(x, np.float64) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))


@functools.cache
def load_scorer(path: Path = PARAMS) -> LogoScorer:
    """The shipped scorer (read once). Refused (:class:`ConfigError`) when the file is
    missing, or its features are not :data:`FEATURES`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"logo scorer {path}: {exc}") from exc
    if tuple(data.get("features", ())) != FEATURES:
        raise ConfigError(f"logo scorer {path}: features {data.get('features')} are not "
                          f"{FEATURES}")
    n = len(FEATURES)
    arrays = [np.asarray(data[k], np.float64) for k in ("mean", "scale", "weights")]
    if any(a.shape != (n,) for a in arrays):
        raise ConfigError(f"logo scorer {path}: mean/scale/weights need {n} values")
    return LogoScorer(*arrays, bias=float(data["bias"]), threshold=float(data["threshold"]),
                      sha256=str(data["training"]["sha256"]))


def colour_off(sm: ShapeMeasures, rules: LogoRules = DEFAULT_RULES) -> bool:
    """The logo's hue is not the reference's beyond the brand's tolerance."""
    return sm.chroma_share >= COLOUR_MIN_SHARE and sm.hue_shift > rules.hue_tolerance_deg
