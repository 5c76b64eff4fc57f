"""Deformed logos are reported where they are (defect box IoU >= 0.5 with the truth).

Posters from :mod:`catalog` on which the gradient search alone settled elsewhere (a text
line, a decoration) and the colour search (:func:`detectors.logo_locate.colour_candidates`)
finds the blurred / warped logo.
"""

from __future__ import annotations

import pytest

from catalog import make_brand, make_poster
from detectors.logo import LogoDetector
from detectors.logo_locate import colour_candidates, quad_of
from detectors.logo_reference import prepare_reference
from detectors.types import Box


@pytest.fixture(scope="module")
def det() -> LogoDetector:
    return LogoDetector()


CASES = [  # (brand index, style, poster seed, defect) from the benchmark's seed 2
    (5, "textured", 200108, "blur"),
    (0, "flat", 200114, "warp"),
]


@pytest.mark.parametrize("brand_i,style,pseed,defect", CASES)
def test_deformed_logo_defect_is_reported_at_the_logo(det, brand_i, style, pseed, defect):
    brand = make_brand(f"brand2x{brand_i}", 2000 + brand_i, logo_style=style)
    poster = make_poster(brand, pseed, logo_defect=defect)
    truth = next(t for t in poster.truth if t.kind == "logo")
    defects = det.detect(poster.image, brand.logo_rgba, required=True)
    assert defects, "the deformed logo was not reported"
    assert max(d.box.iou(truth.box) for d in defects) >= 0.5
    assert all(d.category == "deformed" for d in defects)


def test_colour_search_ranks_a_blurred_logo_first():
    brand = make_brand("brand2x5", 2005, logo_style="textured")
    poster = make_poster(brand, 200108, logo_defect="blur")
    truth = next(t for t in poster.truth if t.kind == "logo")
    ref = prepare_reference(brand.logo_rgba)
    best = colour_candidates(poster.image, ref, 2)[0]
    assert Box.from_points(quad_of(best.h_ref_to_img, ref)).iou(truth.box) >= 0.4


def test_another_logo_is_reported_in_the_logo_slot_not_at_a_text_line(det):
    brand = make_brand("brand2x4", 2004, logo_style="flat")
    poster = make_poster(brand, 200182, logo_defect="wrong_logo")
    truth = next(t for t in poster.truth if t.kind == "logo")
    defects = det.detect(poster.image, brand.logo_rgba, required=True)
    assert len(defects) == 1
    assert defects[0].reasons == ("wrong_logo",)
    assert defects[0].box.iou(truth.box) >= 0.5


def test_slot_finder_picks_the_compact_object_and_widens_it_to_the_logo_aspect():
    from detectors.logo_slot import find_slot

    brand = make_brand("brand2x1", 2001, logo_style="textured")
    poster = make_poster(brand, 200188, logo_defect="wrong_logo")
    truth = next(t for t in poster.truth if t.kind == "logo")
    found = find_slot(poster.image, prepare_reference(brand.logo_rgba))
    assert found is not None
    box, score = found
    assert 0 < score <= 1
    assert box.iou(truth.box) >= 0.5


def test_a_gradient_match_failing_everything_away_from_the_slot_is_moved_to_the_slot(det):
    # the best gradient match is a text line failing three measures; the other logo sits
    # in the slot (compact, solid object): the defect is reported there
    brand = make_brand("brand2x0", 2000, logo_style="flat")
    poster = make_poster(brand, 200173, logo_defect="wrong_logo")
    truth = next(t for t in poster.truth if t.kind == "logo")
    report = det.analyze(poster.image, brand.logo_rgba, required=True)
    assert len(report.defects) == 1
    assert report.defects[0].box.iou(truth.box) >= 0.5
    assert not report.checks[0].matches
