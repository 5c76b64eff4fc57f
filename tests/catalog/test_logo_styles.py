"""Logo restyles (faithful) and real-style deformations of the generated catalog."""

from __future__ import annotations

import numpy as np
import pytest

from catalog import make_brand, make_poster
from catalog.logo_styles import LOGO_RESTYLES, REAL_LOGO_DEFECTS, deform_logo, restyle_logo
from posterqa.errors import InputError


@pytest.fixture(scope="module")
def brand():
    return make_brand("stylebrand", 4242, logo_style="flat")


def _layer(size: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.zeros((size, size * 2), np.float32)
    a[20:100, 20:100] = 1.0
    a[40:80, 130:140] = 1.0  # a "wordmark" of three letters of different widths
    a[40:80, 150:180] = 1.0
    a[60:80, 190:220] = 1.0
    rgb = np.zeros((size, size * 2, 3), np.float32)
    rgb[..., 0] = 200 * a
    rgb[..., 2] = 40 * a
    bg = np.full((size, size * 2, 3), 180, np.float32)
    return rgb, a, bg


@pytest.mark.parametrize("style", LOGO_RESTYLES)
def test_restyle_changes_pixels_keeps_layer(style: str) -> None:
    rgb, a, bg = _layer()
    out_rgb, out_a = restyle_logo(np.random.default_rng(1), style, rgb, a, bg)
    assert out_rgb.shape == rgb.shape and out_a.shape == a.shape
    assert out_rgb.dtype == np.float32 and out_a.min() >= 0 and out_a.max() <= 1
    assert np.all(out_rgb <= out_a[..., None] * 255 + 1e-3)  # premultiplied
    assert np.abs(out_rgb - rgb).mean() > 1.0 or np.abs(out_a - a).mean() > 0.01
    again = restyle_logo(np.random.default_rng(1), style, rgb, a, bg)
    assert np.array_equal(again[0], out_rgb)


@pytest.mark.parametrize("defect", REAL_LOGO_DEFECTS)
def test_real_deformation_changes_the_shape(defect: str) -> None:
    rgb, a, bg = _layer()
    _, out_a = deform_logo(np.random.default_rng(2), defect, rgb, a, bg)
    assert np.abs(out_a - a).sum() > 0.03 * a.sum()


def test_unknown_names_are_refused() -> None:
    rgb, a, bg = _layer()
    with pytest.raises(InputError, match="glitter"):
        restyle_logo(np.random.default_rng(0), "glitter", rgb, a, bg)
    with pytest.raises(InputError, match="melted"):
        deform_logo(np.random.default_rng(0), "melted", rgb, a, bg)


@pytest.mark.parametrize("style", ["emboss", "curved", "neon"])
def test_restyled_poster_differs_only_at_the_logo(brand, style: str) -> None:
    plain = make_poster(brand, 11)
    styled = make_poster(brand, 11, logo_restyle=style)
    assert styled.truth[:-1] == plain.truth[:-1]  # the copy lines are untouched
    box = next(t.box for t in styled.truth if t.kind == "logo")
    pad = max(box.width, box.height) // 3
    diff = np.any(styled.image != plain.image, axis=2)
    ys, xs = np.nonzero(diff)
    assert xs.size > 0
    assert xs.min() >= box.x0 - pad and xs.max() < box.x1 + pad
    assert ys.min() >= box.y0 - pad and ys.max() < box.y1 + pad
    assert np.array_equal(styled.image, styled.clean)  # a restyle is no defect


def test_real_deformation_is_a_logo_defect_in_truth(brand) -> None:
    poster = make_poster(brand, 12, logo_defect="garbled", logo_restyle="paper")
    logo = next(t for t in poster.truth if t.kind == "logo")
    assert logo.defect == "garbled"
    assert not np.array_equal(poster.image, poster.clean)
    with pytest.raises(InputError, match="bogus"):
        make_poster(brand, 12, logo_defect="bogus")
