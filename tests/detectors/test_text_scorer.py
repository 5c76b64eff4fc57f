"""The collapsed-detail scorer: its shipped file, monotonicity, the fit, and its decision
on constructed stylised and blurred lines."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.text_scorer import (
    FEATURE_NAMES,
    MONOTONE,
    PARAMS_PATH,
    CollapseFigures,
    ScorerFileError,
    TextScorer,
    features,
    fit_logistic,
    load_scorer,
    scorer_from_json,
)


def test_the_shipped_scorer_loads_offline_and_names_this_codes_features() -> None:
    body = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    assert tuple(body["features"]) == FEATURE_NAMES
    assert re.fullmatch(r"[0-9a-f]{64}", body["training_data_sha256"])
    assert body["heldout_seeds"] and not set(body["heldout_seeds"]) & set(body["train_seeds"])
    scorer = load_scorer()
    assert 0.0 < scorer.gate <= scorer.threshold < 1.0
    assert len(scorer.weights) == len(FEATURE_NAMES)
    # monotone features were fitted with weights >= 0
    assert all(w >= 0 for w, m in zip(scorer.weights, MONOTONE, strict=True) if m)


def test_a_tampered_or_stale_scorer_file_is_refused() -> None:
    body = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    bad = dict(body, weights=[w + 0.5 for w in body["weights"]])
    with pytest.raises(ScorerFileError, match="weights_sha256"):
        scorer_from_json(bad)
    stale = dict(body, features=[*body["features"][:-1], "something_else"])
    with pytest.raises(ScorerFileError, match="retrain"):
        scorer_from_json(stale)
    with pytest.raises(ScorerFileError, match="malformed"):
        scorer_from_json({k: v for k, v in body.items() if k != "bias"})


_figures = st.builds(
    CollapseFigures,
    height=st.floats(8.0, 300.0),
    n_chars=st.integers(1, 30),
    ocr_score=st.floats(0.5, 1.0),
    edge_width_px=st.floats(0.5, 6.0),
    passed_over=st.booleans(),
    sharpness_ratio=st.one_of(st.none(), st.floats(0.0, 2.0)),
    glyph_low3=st.one_of(st.none(), st.floats(-0.2, 1.0)),
    glyph_min=st.one_of(st.none(), st.floats(-0.3, 1.0)),
    glyph_median=st.one_of(st.none(), st.floats(-0.2, 1.0)),
    glyph_top=st.one_of(st.none(), st.floats(-0.2, 1.0)),
    local_ink=st.booleans(),
    ink_tones=st.one_of(st.none(), st.floats(0.0, 2.0)),
    stroke_cv=st.one_of(st.none(), st.floats(0.0, 2.0)),
    reread_score=st.one_of(st.none(), st.floats(0.5, 1.0)),
    reread_matches=st.one_of(st.none(), st.booleans()),
    read_matches=st.booleans(),
)


def _worse(f: CollapseFigures, what: str, by: float) -> CollapseFigures:
    """``f`` with one figure made worse by ``by`` (and everything else kept)."""
    if what == "edge_width_px":
        return dataclasses.replace(f, edge_width_px=f.edge_width_px + by)
    if what in ("reread_matches", "read_matches"):
        return dataclasses.replace(f, **{what: False})
    value = getattr(f, what)
    if value is None:
        return f
    return dataclasses.replace(f, **{what: value - by})


@settings(max_examples=300, deadline=None)
@given(f=_figures, by=st.floats(0.0, 1.0),
       what=st.sampled_from(["ocr_score", "reread_score", "sharpness_ratio", "glyph_low3",
                             "glyph_min", "edge_width_px", "reread_matches",
                             "read_matches"]))
def test_p_never_falls_as_one_figure_gets_worse(f, by, what) -> None:
    scorer = load_scorer()
    worse = _worse(f, what, by)
    assert scorer.p(worse) >= scorer.p(f) - 1e-12


def test_reasons_name_the_figures_that_push_p_up() -> None:
    crisp = CollapseFigures(height=50.0, n_chars=10, ocr_score=0.999, edge_width_px=1.0,
                            sharpness_ratio=1.0, glyph_low3=0.95, glyph_min=0.94,
                            ink_tones=0.0, stroke_cv=0.15, reread_score=0.999,
                            reread_matches=True)
    soft = dataclasses.replace(crisp, edge_width_px=4.5, sharpness_ratio=0.3)
    shipped = load_scorer()
    assert shipped.p(soft) > shipped.threshold > shipped.p(crisp)
    assert "low_sharpness" in shipped.reasons(soft)
    assert not shipped.reasons(dataclasses.replace(crisp, sharpness_ratio=1.2))
    # the mechanics, on weights set by hand: strongest push first, weak pushes left out
    w = dict.fromkeys(FEATURE_NAMES, 0.0)
    w.update(reread_mismatch=3.0, both_reads_doubt=10.0, blur=0.1)
    hand = TextScorer(tuple(w[n] for n in FEATURE_NAMES), -2.0, 0.5, 0.1)
    wrong = dataclasses.replace(crisp, reread_matches=False, ocr_score=0.8, reread_score=0.9,
                                sharpness_ratio=0.9)
    # pushes: reread_mismatch 3.0, reread_low_score 10 * 0.1 = 1.0, low_sharpness 0.01
    assert hand.reasons(wrong) == ("reread_mismatch", "reread_low_score")


def test_fit_recovers_the_signs_keeps_monotone_weights_non_negative_and_repeats() -> None:
    rng = np.random.default_rng(0)
    n, d = 4000, len(FEATURE_NAMES)
    x = rng.normal(size=(n, d))
    true = np.zeros(d)
    true[FEATURE_NAMES.index("blur")] = 3.0
    true[FEATURE_NAMES.index("ink_tones")] = -2.0
    true[FEATURE_NAMES.index("edge_soft_blunt")] = -1.0  # monotone: must be held at 0
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ true - 1.0)))).astype(float)
    w, b = fit_logistic(x, y, l2=1.0)
    assert w[FEATURE_NAMES.index("blur")] > 2.0
    assert w[FEATURE_NAMES.index("ink_tones")] < -1.0
    assert w[FEATURE_NAMES.index("edge_soft_blunt")] == 0.0
    assert all(wi >= 0 for wi, m in zip(w, MONOTONE, strict=True) if m)
    w2, b2 = fit_logistic(x, y, l2=1.0)
    assert np.array_equal(w, w2) and b == b2


def test_the_feature_vector_has_one_value_per_name() -> None:
    f = CollapseFigures(height=40.0, n_chars=5, ocr_score=0.9, edge_width_px=2.0)
    v = features(f)
    assert v.shape == (len(FEATURE_NAMES),) and np.isfinite(v).all()
    scorer = TextScorer(tuple(1.0 for _ in FEATURE_NAMES), -1.0, 0.5, 0.1)
    assert scorer.p(f) == pytest.approx(1 / (1 + np.exp(-(v.sum() - 1.0))))


# ------------------------------------------------------------------ on generated lines

STYLES = ("extruded", "metallic", "neon", "emboss", "textured", "glitter")
FRESH_SEED = 901  # no training or held-out seed of the shipped scorer (201-206)


@pytest.fixture(scope="module")
def detector():
    from detectors.ocr import get_ocr_engine
    from detectors.text import TextDetector

    return TextDetector(engine=get_ocr_engine())


def _styled(style: str, defect: str | None, k: int):
    """A generated poster whose line 0 is drawn in ``style`` (and carries ``defect``),
    and that line's truth."""
    from catalog import make_brand, make_poster

    kit = make_brand("brand0", FRESH_SEED)
    poster = make_poster(kit, FRESH_SEED * 1000 + k, text_styles={0: style},
                         text_defects={0: defect} if defect else None, with_logo=True)
    (truth,) = [t for t in poster.truth if t.kind == "text" and t.line_index == 0]
    return kit, poster, truth


def _reports_on(detector, kit, poster, truth, fonts: bool):
    found = detector.detect(poster.image, list(poster.manifest.copy_lines),
                            font_path=[str(f) for f in kit.font_paths] if fonts else None,
                            logo=kit.logo_rgba)
    return [d for d in found if d.box.iou(truth.box) > 0.3]


@pytest.mark.parametrize("style", STYLES)
def test_a_clean_stylised_line_is_not_collapsed_and_its_blurred_copy_is(detector, style):
    k = STYLES.index(style)
    kit, poster, truth = _styled(style, None, k)
    assert truth.defect is None
    for fonts in (True, False):
        hits = _reports_on(detector, kit, poster, truth, fonts)
        assert not [d for d in hits if d.category == "collapsed"], \
            (style, fonts, [d.to_json() for d in hits])
    kit, poster, truth = _styled(style, "blur", k)
    assert truth.defect == "blur"
    hits = _reports_on(detector, kit, poster, truth, True)
    assert [d for d in hits if d.category in ("collapsed", "missing", "unreadable")], \
        (style, [d.to_json() for d in _reports_on(detector, kit, poster, truth, True)])
