"""Parts of a reference logo searched on their own: what a partly erased logo leaves."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.logo import LogoDetector
from detectors.logo_locate import quad_of
from detectors.logo_parts import part_candidates, part_reference, reference_parts
from detectors.logo_reference import prepare_reference
from detectors.types import Box
from tests.detectors.test_logo_detector import background, flat_logo, place
from tests.detectors.test_logo_localisation import _catalog_poster


def _emblem(side: int = 120) -> np.ndarray:
    out = np.zeros((side, side, 4), np.uint8)
    cv2.circle(out, (side // 2, side // 2), side // 2 - 4, (30, 90, 200, 255), -1, cv2.LINE_AA)
    cv2.rectangle(out, (side // 3, side // 3), (2 * side // 3, 2 * side // 3),
                  (250, 250, 250, 255), -1)
    return out


def test_an_emblem_and_its_wordmark_are_two_groups_and_a_wide_logo_has_side_halves():
    logo = flat_logo()
    cv2.rectangle(logo, (118, 20), (210, 90), (30, 60, 160, 255), -1)  # a heavy wordmark
    ref = prepare_reference(logo)
    parts = reference_parts(ref)
    groups = [box for name, box in parts if name == "group"]
    assert len(groups) == 2
    emblem, word = sorted(groups)
    # the emblem is the disc (as wide as the logo is high), the wordmark the rest
    assert emblem[0] == 0 and abs(emblem[2] - ref.height) <= 6
    assert word[0] > emblem[2] and word[2] == ref.width
    names = [name for name, _ in parts]
    assert names.count("left") == names.count("right") == 1
    assert "top" not in names and "bottom" not in names  # strips flat as copy
    assert dict(parts)["left"] == (0, 0, round(0.6 * ref.width), ref.height)


def test_a_thin_wordmark_is_no_part_of_its_own():
    # under GROUP_MIN_INK of the ink: a thin wordmark alone is too little to match. Drawn
    # with numpy, not putText: OpenCV 4.14 draws the test logo's "BRND" bolder (16.8% of
    # the ink, a group) than 5.x (13%, letters apart)
    logo = np.zeros((100, 220, 4), np.uint8)
    logo[5:95, 5:95] = (200, 30, 40, 255)  # the emblem: 8100 px of ink
    for x in range(110, 210, 25):  # four letters, 20 x 10 px of ink each: 9% of the ink
        logo[40:60, x:x + 10] = (30, 60, 160, 255)
    ref = prepare_reference(logo)
    groups = [box for name, box in reference_parts(ref) if name == "group"]
    assert len(groups) == 1 and groups[0][0] == 0


def test_the_rest_of_a_logo_cut_down_to_its_emblem_reads_missing():
    from detectors.logo_compare import ink_missing
    from tests.detectors.test_logo_detector import tight_quad

    logo = flat_logo()
    ref = prepare_reference(logo)
    emblem = next(box for name, box in reference_parts(ref) if name == "group")
    erased = logo.copy()
    erased[:, 108:, 3] = 0
    for seed in (1, 2):
        for shown, least, most in ((erased, 0.8, 1.0), (logo, 0.0, 0.1)):
            img, quad = place(background("busy", seed=seed), shown, 100, 240, 220)
            q = tight_quad(logo, quad).astype(np.float32)
            h = cv2.getPerspectiveTransform(ref.corners.astype(np.float32), q)
            for ox, oy in ((0.0, 0.0), (0.5, 0.0), (0.0, -0.5)):
                nudged = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]]) @ h
                assert least <= ink_missing(img, ref, nudged, emblem) <= most


def test_a_square_emblem_has_halves_both_ways_and_no_groups():
    ref = prepare_reference(_emblem())
    names = sorted(name for name, _ in reference_parts(ref))
    assert names == ["bottom", "left", "right", "top"]


def test_a_part_reference_is_the_references_own_pixels():
    ref = prepare_reference(flat_logo())
    part = part_reference(ref, (10, 5, 60, 40))
    assert part.rgb.shape == (35, 50, 3) and part.mask.shape == (35, 50)
    assert np.array_equal(part.rgb, ref.rgb[5:40, 10:60])
    assert np.array_equal(part.alpha, ref.alpha[5:40, 10:60])


def test_the_emblem_left_alone_places_the_whole_logo():
    logo = flat_logo()
    erased = logo.copy()
    erased[:, 110:, 3] = 0  # the wordmark is gone, the emblem intact
    img, quad = place(background("plain"), erased, 120, 260, 220)
    ref = prepare_reference(logo)
    hits = part_candidates(img, ref)
    best = next(c for c in hits if c.name == "group" and c.box[0] == 0)
    placed = Box.from_points(quad_of(best.whole(), ref).tolist())
    truth = Box.from_points(quad.tolist())
    assert placed.iou(truth) >= 0.8


@pytest.mark.parametrize("seed,cut", [(1, 100), (2, 108)])
def test_a_logo_cut_down_to_its_emblem_on_a_busy_ground_is_reported_erased(seed, cut):
    # a straight cut takes the wordmark (and the disc's rim): matched whole, the
    # reference peaks nowhere and the poster read "no logo"; the emblem alone, judged
    # faithful, places the whole logo
    logo = flat_logo()
    erased = logo.copy()
    erased[:, cut:, 3] = 0
    img, quad = place(background("busy", seed=seed), erased, 100, 240, 220)
    report = LogoDetector(read_copy=False).analyze(img, logo, required=True)
    assert [m.method for m in report.matches] == ["part"]
    assert len(report.defects) == 1
    d = report.defects[0]
    assert d.category == "deformed" and d.reasons[0] == "erased"
    assert d.box.iou(Box.from_points(quad.tolist())) >= 0.8


@pytest.mark.parametrize("seed,brand_i,pseed,part", [
    (1, 5, 100164, "emblem"),  # the wordmark cut away
    (20, 7, 2000161, "wordmark"),  # the emblem cut down to a sliver
])
def test_a_catalog_logo_cut_down_to_one_part_is_found_not_missing(seed, brand_i, pseed, part):
    brand, poster, truth = _catalog_poster(seed, brand_i, pseed, "erasure")
    report = LogoDetector().analyze(poster.image, brand.logo_rgba, required=True,
                                    brand_name=brand.kit.display_name)
    assert [m.method for m in report.matches] == ["part"]
    assert len(report.defects) == 1 and report.defects[0].reasons[0] == "erased"
    assert report.defects[0].box.iou(truth.box) >= 0.9


def test_a_rings_half_is_not_turned_off_the_ring():
    # seed 15 #44: ECC turns the half of a ring logo around it (ECC 0.99, the box's IoU
    # 0.62); the half's placement must agree with its template hit, and the slot (IoU
    # 0.81) stays the answer
    brand, poster, truth = _catalog_poster(15, 4, 1500166, "erasure")
    defects = LogoDetector().detect(poster.image, brand.logo_rgba, required=True)
    assert len(defects) == 1 and defects[0].box.iou(truth.box) >= 0.75


def test_a_faithful_logo_the_whole_search_misses_is_found_by_its_emblem():
    # seed 13 #141: no whole match, the poster read "no logo"; the emblem places the
    # logo, and the whole judged there is faithful: no defect
    brand, poster, truth = _catalog_poster(13, 5, 1300071, None)
    report = LogoDetector().analyze(poster.image, brand.logo_rgba, required=True)
    assert report.defects == ()
    assert [m.method for m in report.matches] == ["part"]
    assert report.matches[0].box.iou(truth.box) >= 0.9
