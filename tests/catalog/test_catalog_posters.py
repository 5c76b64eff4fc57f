"""Posters: determinism, tight ground-truth boxes, defects confined to their boxes."""

from __future__ import annotations

import numpy as np
import pytest

from catalog import (
    LOGO_DEFECTS,
    TEXT_DEFECTS,
    GeneratedBrand,
    GeneratedPoster,
    make_brand,
    make_poster,
)
from posterqa.errors import InputError
from posterqa.fonts import has_cjk
from posterqa.imaging import encode_png
from posterqa.manifest import parse_manifest

SIZE = (768, 1024)


@pytest.fixture(scope="module")
def brand() -> GeneratedBrand:
    return make_brand("acme", 11, logo_style="textured")


@pytest.fixture(scope="module")
def defect_posters(brand: GeneratedBrand) -> list[GeneratedPoster]:
    """Five posters, together carrying every text and every logo defect type."""
    posters = []
    for i, (text_defect, logo_defect) in enumerate(zip(TEXT_DEFECTS, LOGO_DEFECTS,
                                                       strict=True)):
        other = TEXT_DEFECTS[(i + 2) % len(TEXT_DEFECTS)]
        posters.append(make_poster(brand, 100 + i, size=SIZE, n_lines=5,
                                   text_defects={0: text_defect, 3: other},
                                   logo_defect=logo_defect))
    return posters


def _ring(mask: np.ndarray, box: tuple[int, int, int, int], width: int = 2) -> np.ndarray:
    """The pixels of ``mask`` in the ``width``-px ring just outside ``box``."""
    x0, y0, x1, y1 = box
    h, w = mask.shape
    outer = np.zeros_like(mask, dtype=bool)
    outer[max(0, y0 - width):min(h, y1 + width), max(0, x0 - width):min(w, x1 + width)] = True
    outer[y0:y1, x0:x1] = False
    return mask[outer]


def test_same_seed_gives_byte_identical_png_and_json(brand: GeneratedBrand) -> None:
    kwargs = dict(size=None, text_defects={1: "warp", 2: "broken_strokes"}, logo_defect="warp")
    a = make_poster(brand, 5, **kwargs)
    b = make_poster(make_brand("acme", 11, logo_style="textured"), 5, **kwargs)
    assert encode_png(a.image) == encode_png(b.image)
    assert encode_png(a.clean) == encode_png(b.clean)
    assert a.truth_json("k.png") == b.truth_json("k.png")
    assert a.manifest_json() == b.manifest_json()
    c = make_poster(brand, 6, **kwargs)
    assert encode_png(c.image) != encode_png(a.image)


def test_truth_boxes_are_tight_on_the_rendered_pixels(
        defect_posters: list[GeneratedPoster]) -> None:
    for poster in defect_posters:
        for picture in (poster.clean, poster.image):
            ink = (picture != poster.background).any(axis=2)
            for item in poster.truth:
                box = item.box.as_list()
                inside = ink[item.box.slice()]
                if picture is poster.clean or item.defect is None:
                    assert inside.any(), (poster.poster_id, item)
                ring = _ring(ink, tuple(box))
                assert ring.sum() <= 0.002 * ring.size + 1, (poster.poster_id, item, ring.sum())
        # nothing outside the truth boxes differs from the background
        union = np.zeros(poster.image.shape[:2], bool)
        for item in poster.truth:
            union[item.box.slice()] = True
        assert not (poster.image != poster.background).any(axis=2)[~union].any()


def test_each_defect_changes_pixels_only_inside_its_truth_box(
        defect_posters: list[GeneratedPoster]) -> None:
    seen: set[tuple[str, str]] = set()
    for poster in defect_posters:
        changed = (poster.image != poster.clean).any(axis=2)
        allowed = np.zeros_like(changed)
        for item in poster.truth:
            if item.defect is None:
                assert not changed[item.box.slice()].any(), (poster.poster_id, item)
                continue
            seen.add((item.kind, item.defect))
            inside = changed[item.box.slice()]
            ink = (poster.clean != poster.background).any(axis=2)[item.box.slice()]
            # a defect is visible: changed pixels amount to a real share of the ink
            share = inside.sum() / max(1, ink.sum())
            assert share > 0.1, (poster.poster_id, item.defect, share)
            allowed[item.box.pad(2).clamp(*poster.size).slice()] = True
        assert changed.any()
        assert not changed[~allowed].any(), poster.poster_id
    assert {("text", d) for d in TEXT_DEFECTS} <= seen
    assert {("logo", d) for d in LOGO_DEFECTS} <= seen


def test_wrong_chars_changes_the_rendered_text(brand: GeneratedBrand) -> None:
    for seed in range(3):
        poster = make_poster(brand, 200 + seed, size=SIZE, text_defects={0: "wrong_chars",
                                                                         1: "wrong_chars"})
        for item in poster.defects:
            assert item.rendered != item.expected
            assert len(item.rendered) == len(item.expected)
            diff = sum(a != b for a, b in zip(item.rendered, item.expected, strict=True))
            assert 1 <= diff <= 3
        for item in poster.truth:
            if item.defect is None:
                assert item.rendered == item.expected


def test_every_line_and_the_logo_have_truth_and_the_manifest_parses(
        defect_posters: list[GeneratedPoster]) -> None:
    for poster in defect_posters:
        manifest = parse_manifest(poster.manifest_json() or b"", name=poster.poster_id)
        lines = [t for t in poster.truth if t.kind == "text"]
        logos = [t for t in poster.truth if t.kind == "logo"]
        assert [t.expected for t in lines] == list(manifest.copy_lines)
        assert 3 <= len(lines) <= 8
        assert len(logos) == 1 and manifest.logo_required and manifest.brand == "acme"
        assert all(16 <= t.size_px <= 160 for t in lines)
        width = poster.size[0]
        assert 0.05 * width - 1 <= logos[0].size_px <= 0.40 * width + 1
        # no two elements overlap
        boxes = [t.box for t in poster.truth]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert a.intersection(b) == 0


def test_catalog_mix_has_latin_chinese_mixed_lines_prices_and_rotations(
        brand: GeneratedBrand) -> None:
    items = []
    for seed in range(12):
        items += [t for t in make_poster(brand, 300 + seed, size=SIZE).truth if t.kind == "text"]
    texts = [t.expected for t in items]
    assert any(has_cjk(t) and not any(c.isascii() and c.isalpha() for c in t) for t in texts)
    assert any(not has_cjk(t) for t in texts)
    assert any(has_cjk(t) and any(c.isascii() and c.isalnum() for c in t) for t in texts)
    assert any("¥" in t or "$" in t for t in texts)
    rotated = [t for t in items if t.angle_deg != 0.0]
    assert rotated and all(abs(t.angle_deg) <= 5 for t in rotated)


def test_poster_without_manifest_or_logo(brand: GeneratedBrand) -> None:
    poster = make_poster(brand, 9, size=SIZE, with_logo=False, with_manifest=False)
    assert poster.manifest is None and poster.manifest_json() is None
    assert all(t.kind == "text" for t in poster.truth)
    assert b'"has_manifest": false' in poster.truth_json("posters/acme/x.png")


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"text_defects": {0: "smudge"}}, "smudge"),
    ({"logo_defect": "melt"}, "melt"),
    ({"logo_defect": "blur", "with_logo": False}, "with_logo"),
    ({"size": (300, 900)}, "(300, 900)"),
])
def test_bad_poster_arguments_raise_input_error(brand: GeneratedBrand, kwargs: dict,
                                                needle: str) -> None:
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        make_poster(brand, 1, **kwargs)


def test_wrong_logo_can_show_another_brands_logo(brand: GeneratedBrand) -> None:
    other = make_brand("lumen", 11, logo_style="flat")
    poster = make_poster(brand, 12, size=SIZE, logo_defect="wrong_logo", other_brand=other)
    logo = next(t for t in poster.truth if t.kind == "logo")
    assert logo.defect == "wrong_logo"
    assert logo.expected == brand.kit.display_name and logo.rendered == other.kit.display_name
    random_one = make_poster(brand, 12, size=SIZE, logo_defect="wrong_logo")
    assert next(t for t in random_one.truth if t.kind == "logo").rendered == "<random logo>"
