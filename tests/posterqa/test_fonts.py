"""Fonts come from installed PyPI packages and really cover Chinese (no tofu)."""

from __future__ import annotations

import pytest

from posterqa import fonts
from posterqa.errors import ConfigError
from posterqa.fonts import (
    CJK_FONTS,
    FontSpec,
    available_fonts,
    covers_char,
    find_font,
    load_font,
    missing_chars,
    pick_font,
)

CHINESE = "鼎好商城新品上市限时特惠"


def test_every_listed_font_package_is_installed_and_found() -> None:
    assert set(available_fonts()) == {s.name for s in fonts.FONT_SPECS}
    for name in available_fonts():
        path = find_font(name)
        assert path.is_file() and "site-packages" in str(path)
        assert "manim" not in str(path).lower()


@pytest.mark.parametrize("name", CJK_FONTS)
def test_chinese_renders_distinct_glyphs_not_tofu(name: str) -> None:
    path = str(find_font(name))
    font = load_font(path, 32)
    notdef = bytes(font.getmask("\uffff"))
    glyphs = [bytes(font.getmask(c)) for c in CHINESE]
    assert len(set(glyphs)) == len(CHINESE)  # a different image for every character
    assert notdef not in glyphs
    assert missing_chars(path, CHINESE + " ¥199 $49.99") == ""


def test_latin_fonts_report_chinese_as_missing() -> None:
    for name in ("roboto", "noto-sans"):
        path = str(find_font(name))
        assert missing_chars(path, "Sale 新品") == "新品"
        assert covers_char(path, "S") and covers_char(path, " ")


def test_pick_font_prefers_the_first_font_that_covers_the_text() -> None:
    latin, cjk = find_font("roboto"), find_font("noto-sans-sc")
    assert pick_font("Summer Sale $49.99", [latin, cjk]) == latin
    assert pick_font("限时特惠 50% OFF", [latin, cjk]) == cjk


def test_missing_font_package_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = FontSpec("ghost", "ghost_fonts_pkg", "ghost-fonts-cjk", "Ghost", True)
    monkeypatch.setattr(fonts, "FONT_SPECS", (*fonts.FONT_SPECS, ghost))
    with pytest.raises(ConfigError, match="ghost-fonts-cjk"):
        find_font("ghost")
    with pytest.raises(ConfigError, match="unknown font"):
        find_font("comic-sans")
