"""Logo check on restyled logos (faithful), real-style deformations, several instances,
colour as its own reason, the review-only note, and the shipped scorer file."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest

from catalog import make_brand, make_poster
from catalog.logo_styles import LOGO_RESTYLES, REAL_LOGO_DEFECTS
from detectors.logo import LogoDetector
from detectors.logo_scorer import (
    COLOUR_SEVERITY,
    DEFAULT_RULES,
    FEATURES,
    PARAMS,
    RESTYLE_RULES,
    LogoRules,
    load_scorer,
)
from detectors.types import Box, Defect


@pytest.fixture(scope="module")
def brands():
    return {style: make_brand(f"restyle{style}", 777 + i, logo_style=style)
            for i, style in enumerate(("flat", "textured"))}


@pytest.fixture(scope="module")
def det():
    return LogoDetector(read_copy=False, rules=RESTYLE_RULES)


def _logo_defects(defects: list[Defect]) -> list[Defect]:
    return [d for d in defects if d.kind == "logo"]


def _truth(poster) -> Box:
    return next(t.box for t in poster.truth if t.kind == "logo")


# known gaps (issue 26, measured at ea4dac5): a tone-on-tone emboss is not located at all
# and no candidate's shape convinces the scorer (reported missing); a polished metallic
# flat logo reads as recoloured and erased
_KNOWN_RESTYLE_GAPS = {("emboss", "flat"), ("emboss", "textured"), ("metallic", "flat")}
_KNOWN_DEFECT_GAPS = {("garbled", "textured"), ("bent", "textured")}


def _cases(names, gaps, why):
    return [pytest.param(n, s, marks=pytest.mark.xfail(strict=True, reason=why))
            if (n, s) in gaps else (n, s) for n in names for s in ("flat", "textured")]


@pytest.mark.parametrize(("restyle", "logo_style"), _cases(
    LOGO_RESTYLES, _KNOWN_RESTYLE_GAPS, "known gap: restyle flagged (see _KNOWN_RESTYLE_GAPS)"))
def test_restyled_logo_is_faithful(brands, det, logo_style: str, restyle: str) -> None:
    brand = brands[logo_style]
    poster = make_poster(brand, 31, logo_restyle=restyle)
    defects = det.detect(poster.image, brand.logo_rgba, required=True)
    assert _logo_defects(defects) == [], [(d.category, d.reasons) for d in defects]


@pytest.mark.parametrize(("defect", "logo_style"), _cases(
    REAL_LOGO_DEFECTS, _KNOWN_DEFECT_GAPS, "known gap: deformation judged faithful"))
def test_real_style_deformation_is_flagged_at_the_logo(brands, det, logo_style: str,
                                                       defect: str) -> None:
    brand = brands[logo_style]
    poster = make_poster(brand, 32, logo_defect=defect)
    truth = _truth(poster)
    found = _logo_defects(det.detect(poster.image, brand.logo_rgba, required=True))
    assert any(d.box.iou(truth) >= 0.5 for d in found), [(d.box, d.reasons) for d in found]


def _paste(image: np.ndarray, layer: np.ndarray, x: int, y: int) -> np.ndarray:
    out = image.astype(np.float32).copy()
    h, w = layer.shape[:2]
    a = layer[..., 3:].astype(np.float32) / 255.0
    out[y:y + h, x:x + w] = out[y:y + h, x:x + w] * (1 - a) + layer[..., :3] * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _second_copy(brand, width: int, bend: bool = False) -> np.ndarray:
    ref = brand.logo_rgba
    h = int(round(ref.shape[0] * width / ref.shape[1]))
    small = cv2.resize(ref, (width, h), interpolation=cv2.INTER_AREA)
    if bend:  # an S-bend of 15% of the height: no plane or cylinder makes it
        yy, xx = np.mgrid[0:h, 0:width].astype(np.float32)
        map_y = yy + 0.15 * h * np.sin(2 * np.pi * xx / width)
        small = cv2.remap(small, xx, map_y, cv2.INTER_LINEAR, borderValue=0)
    return small


def _far_corner(poster, width: int, height: int) -> tuple[int, int]:
    """A place for a second copy away from the poster's own logo."""
    t = _truth(poster)
    H, W = poster.image.shape[:2]
    y = 20 if t.y0 > H / 2 else H - height - 20
    x = 20 if t.x0 > W / 2 else W - width - 20
    return x, y


@pytest.mark.xfail(strict=True, reason="known gap: the locator does not report a second, "
                   "smaller pasted copy (its second-copy rules), so it is not judged")
def test_two_faithful_instances_are_both_found_and_pass(brands, det) -> None:
    brand = brands["flat"]
    poster = make_poster(brand, 33, size=(1200, 1200))
    copy = _second_copy(brand, 140)
    x, y = _far_corner(poster, *copy.shape[1::-1])
    image = _paste(poster.image, copy, x, y)
    report = det.analyze(image, brand.logo_rgba, required=True)
    assert _logo_defects(list(report.defects)) == []
    boxes = [m.box for m in report.matches]
    assert any(b.iou(_truth(poster)) >= 0.5 for b in boxes)
    assert any(b.iou(Box(x, y, x + copy.shape[1], y + copy.shape[0])) >= 0.5 for b in boxes)


@pytest.mark.xfail(strict=True, reason="known gap: the bent second copy is not located")
def test_each_instance_is_judged_on_its_own(brands, det) -> None:
    brand = brands["flat"]
    poster = make_poster(brand, 33, size=(1200, 1200))
    copy = _second_copy(brand, 220, bend=True)
    x, y = _far_corner(poster, *copy.shape[1::-1])
    image = _paste(poster.image, copy, x, y)
    found = _logo_defects(det.detect(image, brand.logo_rgba, required=True))
    second = Box(x, y, x + copy.shape[1], y + copy.shape[0])
    assert not any(d.box.iou(_truth(poster)) >= 0.5 for d in found)  # the main one is fine
    assert any(d.box.iou(second) >= 0.3 for d in found)  # the bent copy is not


def test_instances_under_the_minimum_size_are_not_judged_for_shape(brands) -> None:
    brand = brands["flat"]
    poster = make_poster(brand, 32, logo_defect="bent")
    truth = _truth(poster)
    strict = LogoDetector(read_copy=False, rules=RESTYLE_RULES)
    lenient = LogoDetector(read_copy=False, rules=LogoRules(min_width_px=truth.width + 50))
    assert _logo_defects(strict.detect(poster.image, brand.logo_rgba))
    assert not any(d.box.iou(truth) >= 0.5 and d.reasons != ("color_shift",)
                   for d in _logo_defects(lenient.detect(poster.image, brand.logo_rgba)))


def test_colour_change_is_its_own_lower_severity_reason(brands, det) -> None:
    brand = brands["flat"]
    poster = make_poster(brand, 34, logo_defect="color_shift")
    found = _logo_defects(det.detect(poster.image, brand.logo_rgba))
    at_logo = [d for d in found if d.box.iou(_truth(poster)) >= 0.5]
    assert at_logo and at_logo[0].reasons == ("color_shift",)
    assert at_logo[0].score == pytest.approx(COLOUR_SEVERITY)
    tolerant = LogoDetector(read_copy=False, rules=LogoRules(hue_tolerance_deg=180))
    assert tolerant.rules.restyle_allowed
    assert _logo_defects(tolerant.detect(poster.image, brand.logo_rgba)) == []


def test_a_poster_without_the_logo_is_missing_and_notes_are_review_only(brands, det) -> None:
    brand = brands["textured"]
    poster = make_poster(brand, 35, with_logo=False)
    defects = det.detect(poster.image, brand.logo_rgba, required=True)
    assert defects and all(not d.repairable for d in defects if d.kind == "note")
    assert any(d.category == "missing" or d.kind == "logo" for d in defects)
    note = Defect(kind="note", category="logo_not_found", box=Box(0, 0, 5, 5),
                  quad=Box(0, 0, 5, 5).as_quad(), expected="x", observed=None, score=0.2,
                  reasons=("not_found_low_confidence", "review_only"))
    assert not note.repairable
    back = Defect.from_json(note.to_json())
    assert (back.kind, back.category, back.reasons, back.repairable) == \
        ("note", "logo_not_found", note.reasons, False)


def test_default_rules_keep_the_pixel_verdict(brands) -> None:
    """Opt-in: without restyles allowed an embossed logo is judged by its pixels."""
    assert not DEFAULT_RULES.restyle_allowed and RESTYLE_RULES.restyle_allowed
    brand = brands["flat"]
    poster = make_poster(brand, 31, logo_restyle="clay")
    plain = LogoDetector(read_copy=False).analyze(poster.image, brand.logo_rgba)
    calibrated = LogoDetector(read_copy=False, rules=RESTYLE_RULES).analyze(
        poster.image, brand.logo_rgba)
    assert not any(k == "p_deformed" for c in plain.checks for k, _ in c.details)
    assert any(k == "p_deformed" for c in calibrated.checks for k, _ in c.details)


def test_scorer_file_loads_offline_with_its_training_hash() -> None:
    data = json.loads(PARAMS.read_text())
    assert tuple(data["features"]) == FEATURES
    assert re.fullmatch(r"[0-9a-f]{64}", data["training"]["sha256"])
    scorer = load_scorer()
    assert scorer.sha256 == data["training"]["sha256"]
    assert 0.5 <= scorer.threshold < 1.0
    assert scorer.weights.shape == (len(FEATURES),)


@pytest.mark.parametrize("defect", ["bent", "warp"])
def test_default_rules_do_not_judge_a_small_instance_for_shape(brands, defect: str) -> None:
    """On by default (the pixel verdict): a deformed logo is flagged at its size, and not
    judged for shape once the brand's minimum width is above it."""
    assert DEFAULT_RULES.skips_small and not DEFAULT_RULES.restyle_allowed
    brand = brands["flat"]
    poster = make_poster(brand, 32, logo_defect=defect)
    truth = _truth(poster)
    default = LogoDetector(read_copy=False)
    assert default.rules == DEFAULT_RULES
    assert any(d.box.iou(truth) >= 0.5
               for d in _logo_defects(default.detect(poster.image, brand.logo_rgba)))
    above = LogoDetector(read_copy=False,
                         rules=replace(DEFAULT_RULES, min_width_px=truth.width + 50))
    assert not any(d.box.iou(truth) >= 0.5 and d.reasons != ("color_shift",)
                   for d in _logo_defects(above.detect(poster.image, brand.logo_rgba)))


@pytest.mark.parametrize("seed", [35, 36])
def test_a_whole_poster_box_is_never_repairable(brands, seed: int) -> None:
    """'missing' over the whole poster and review-only notes go to a reviewer (storage
    records them ``skipped``), never to the refiner, under either rules."""
    brand = brands["textured"]
    poster = make_poster(brand, seed, with_logo=False)
    height, width = poster.image.shape[:2]
    for rules in (DEFAULT_RULES, RESTYLE_RULES):
        defects = LogoDetector(read_copy=False, rules=rules).detect(
            poster.image, brand.logo_rgba, required=True)
        assert defects
        for d in defects:
            if d.kind == "note" or d.box.area >= 0.5 * width * height:
                assert not d.repairable and d.to_json()["repairable"] is False, d
