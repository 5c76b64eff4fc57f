"""Normalisation used to compare OCR reads with the expected copy."""

from __future__ import annotations

from detectors.normalize import edit_distance, normalize, normalize_with_map, similarity


def test_normalize_folds_width_case_and_whitespace() -> None:
    assert normalize("ＳＡＬＥ　５０％ Off") == "sale50%off"


def test_normalize_folds_traditional_to_simplified() -> None:
    # the OCR model reads 减 as 減 now and then
    assert normalize("滿300減50") == normalize("满300减50") == "满300减50"


def test_normalize_folds_dash_and_quote_variants() -> None:
    assert normalize("9am–9pm") == normalize("9am-9pm")
    assert normalize("“VIP”") == normalize('"VIP"')


def test_normalize_keeps_different_characters_apart() -> None:
    assert normalize("商城") != normalize("啇城")
    assert normalize("¥199") != normalize("¥198")


def test_normalize_with_map_points_back_to_source_characters() -> None:
    norm = normalize_with_map("Ａ b　Ｃ")
    assert norm.text == "abc"
    assert norm.source_index == (0, 2, 4)
    assert norm.source_span(1, 3) == (2, 5)


def test_edit_distance_and_similarity() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert similarity("限时特惠", "限時特惠") == 1.0
    assert similarity("abcd", "abxd") == 0.75
