"""Misspellings as real image generators make them: the defect is in the spelling or the
glyph, not in the pixels (the line is drawn crisply, in its own style).

- ``swapped_letters``: two neighbouring letters of a word change places (PEACEFUL ->
  PEACEUFL); in a line without a Latin word, two neighbouring hanzi (or digits).
- ``doubled_letter``: a letter is drawn twice (ECHOES -> ECCHOES); a hanzi twice (金艺艺).
- ``dropped_letter``: a letter inside a word is left out (FAVOURITE -> FAOURITE); a hanzi.
- ``pseudo_hanzi``: a hanzi is replaced by a glyph that is no character: one part of it
  (left/right or top/bottom, split where the components meet) joined with the other part
  of another real hanzi. Drawn by :mod:`catalog.realism`; in the text it is a private-use
  character, in the truth's ``rendered`` U+FFFD.
- ``lookalike_hanzi``: a hanzi replaced by a visually close real one (腈 -> 睛).
- ``garbled_word``: 2-3 of those slips (and an intruding letter) in one word of 5+
  letters, or in a run of 3+ hanzi (COMPLICATED -> COMLCIATED, FASCINATING ->
  FASTAINIAIING, 金箔画工艺品 -> 金艺艺工品).
- ``pseudo_letter``: a letter of a word is replaced by a malformed one: part of it joined
  with the rest of another letter (DALL-E's 'Innovaite', 'Peaceiful'); U+FFFD in the
  truth's ``rendered``.
- ``stray_punct``: a punctuation mark inside or just after a word (SUM.MER, 夏季、大促).

:func:`misspell` returns a :class:`Spelling`: what is drawn and which characters of the
expected string changed (so the truth box can cover the part of the copy that holds them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from catalog import texts
from posterqa.errors import InputError
from posterqa.fonts import covers_char

REAL_TEXT_DEFECTS = ("swapped_letters", "doubled_letter", "dropped_letter", "garbled_word",
                     "pseudo_letter", "pseudo_hanzi", "lookalike_hanzi", "stray_punct")
HANZI_DEFECTS = ("pseudo_hanzi", "lookalike_hanzi")
LATIN_DEFECTS = ("pseudo_letter",)
PSEUDO_BASE = 0xE000  # private-use code points stand for composed pseudo-glyphs
SHOWN_PSEUDO = "\ufffd"  # what the truth's ``rendered`` shows for a pseudo-glyph

# Hanzi pairs that differ by one component or stroke (the confusions of SD-based Chinese
# poster generators); every entry is drawn by Noto Sans SC, Noto Serif SC and WenQuanYi.
LOOKALIKE_HANZI: dict[str, str] = {
    "腈": "睛晴", "睛": "晴腈", "晴": "睛清", "清": "请情", "请": "清情", "情": "清请",
    "未": "末", "末": "未", "土": "士", "士": "土", "己": "已巳", "已": "己巳", "日": "曰",
    "曰": "日", "人": "入", "入": "人", "天": "夭", "大": "太犬", "太": "大犬", "王": "玉主",
    "玉": "王", "主": "王", "刀": "力", "力": "刀", "免": "兔", "兔": "免", "戊": "戌戍",
    "折": "拆", "拆": "折", "侯": "候", "候": "侯", "辨": "辩辫", "壁": "璧", "银": "很",
    "特": "持", "持": "特", "惠": "慧", "季": "李", "享": "亨", "夏": "复", "货": "贷",
    "贷": "货", "仅": "权", "低": "底", "底": "低", "包": "句", "理": "埋", "详": "洋",
    "扫": "归", "码": "玛", "注": "往", "住": "往", "往": "住", "员": "贝",
    "品": "晶", "商": "啇", "买": "卖", "卖": "买", "满": "瞒", "送": "迭",
    "年": "午", "午": "年", "春": "舂", "限": "垠", "时": "吋", "场": "汤", "活": "话",
    "动": "劲", "会": "合", "市": "币", "促": "捉", "生": "牛", "优": "忧", "礼": "札",
    "焕": "换", "直": "真", "降": "绛", "学": "字", "居": "局", "科": "料", "技": "枝",
    "销": "消", "榜": "傍", "欢": "欤", "狂": "汪", "起": "赵", "由": "甲", "量": "暈",
    "到": "倒", "得": "待", "咨": "姿", "询": "旬", "店": "占", "线": "钱", "同": "司",
    "步": "少", "关": "美", "了": "子", "更": "便", "中": "申", "体": "休", "环": "坏",
    "绕": "饶", "专": "传", "周": "同", "星": "早", "河": "何", "云": "去", "金": "全",
    "全": "金", "禾": "木", "明": "朋", "和": "知", "源": "原", "福": "副", "嘉": "喜",
    "青": "责", "贵": "责", "用": "甩", "做": "作", "产": "严", "值": "植", "赖": "懒",
    "择": "泽", "新": "亲", "开": "井", "爆": "瀑", "超": "趄", "家": "冢", "百": "白",
    "食": "良", "节": "卞", "售": "隹", "原": "厚", "至": "致", "邮": "油", "数": "娄",
    "有": "育", "先": "洗", "门": "闩", "每": "母", "元": "无", "盖": "羔", "悦": "说",
    "逸": "兔", "东": "车", "方": "万", "质": "贡", "从": "丛", "这": "还", "始": "治",
    "不": "下", "心": "必", "都": "郡", "的": "约", "典": "奥", "庆": "厌", "选": "迭",
    "半": "羊", "五": "王", "口": "日", "立": "豆", "号": "导", "料": "科",
}
# Second halves for pseudo-hanzi: common hanzi with a left-right or top-bottom structure.
PSEUDO_PARTNERS = "情晴味地好他明呢树林村相和知秋程抓拉说话语请谈顿领颜想思意感忠急思" \
                  "架案楚梦岩岗岸冒星是景晨智暑草花药菜茶苦落芳霜雪露需雷零"
_LATIN_PUNCT = ".,'-:!·"
_NARROW = set("iljtfrI1")  # too thin to hold two letters' parts
_PARTNERS_UPPER = "ABCDEGHKMNOPRSUVWXZ"
_PARTNERS_LOWER = "abcdeghkmnopqsuvwxyz"
_CJK_PUNCT = "、，。·：！"
_WORD = re.compile(r"[A-Za-z]{3,}")
_HANZI_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{2,}")


@dataclass(frozen=True)
class Spelling:
    """A line's defective spelling.

    ``text``: what is drawn (a pseudo-glyph is a private-use character, see ``glyphs``);
    ``shown``: the same for the truth's ``rendered`` (U+FFFD for a pseudo-hanzi);
    ``changed``: indices into the *expected* string of the characters that changed (an
    insertion counts at the character it follows); ``span``: ``(i0, i1)`` of the
    expected string replaced by ``text[i0:i1 + delta]`` (``delta = len(text) -
    len(expected)``); ``glyphs``: ``(private-use char, base char, partner char, axis)``
    with axis ``"x"`` (base's left part, partner's right part) or ``"y"`` (top/bottom).
    """

    expected: str
    text: str
    shown: str
    changed: tuple[int, ...]
    span: tuple[int, int]
    glyphs: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def delta(self) -> int:
        return len(self.text) - len(self.expected)


def is_hanzi(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def has_hanzi(text: str) -> bool:
    return any(is_hanzi(c) for c in text)


def _runs(text: str, min_len: int, min_other: int = 2) -> list[tuple[int, int]]:
    """Spans where an edit can go: Latin words of ``min_len``+ letters, else hanzi runs,
    else letter/digit runs (of ``min_other``+)."""
    for pat, need in ((_WORD, min_len), (_HANZI_RUN, min_other), (_ALNUM_RUN, min_other)):
        found = [(m.start(), m.end()) for m in pat.finditer(text) if m.end() - m.start() >= need]
        if found:
            return found
    return []


def _pick_run(rng: np.random.Generator, text: str, min_len: int, defect: str,
              min_other: int = 2) -> tuple[int, int]:
    runs = _runs(text, min_len, min_other)
    if not runs:
        raise InputError(f"text defect {defect!r} needs a word of {min_len}+ letters, "
                         f"digits or hanzi; {text!r} has none")
    lengths = np.array([e - s for s, e in runs], dtype=np.float64)
    return runs[int(rng.choice(len(runs), p=lengths / lengths.sum()))]


def _edit(text: str, i0: int, i1: int, new: str, changed: tuple[int, ...]) -> Spelling:
    out = text[:i0] + new + text[i1:]
    return Spelling(expected=text, text=out, shown=out, changed=changed, span=(i0, i1))


def misspell(rng: np.random.Generator, text: str, defect: str, font_path: str) -> Spelling:
    """The defective spelling of ``text`` for one of :data:`REAL_TEXT_DEFECTS`, using only
    characters ``font_path`` covers. Raises :class:`InputError` when ``text`` offers no
    place for it (the hanzi defects need a hanzi)."""
    for _ in range(20):
        sp = _misspell_once(rng, text, defect, font_path)
        if sp.text != text:
            return sp
    raise InputError(f"text defect {defect!r} finds no change to make in {text!r}")


def _misspell_once(rng: np.random.Generator, text: str, defect: str, font_path: str
                   ) -> Spelling:
    if defect == "swapped_letters":
        s, e = _pick_run(rng, text, 3, defect)
        word = text[s:e]
        latin = word.isascii()
        lo = 1 if latin and len(word) >= 4 else 0  # keep a word's first letter in place
        js = [j for j in range(lo, len(word) - 1) if word[j].lower() != word[j + 1].lower()]
        if not js:
            return _edit(text, s, s, "", ())
        j = s + int(rng.choice(js))
        return _edit(text, j, j + 2, text[j + 1] + text[j], (j, j + 1))
    if defect == "doubled_letter":
        s, e = _pick_run(rng, text, 2, defect)
        lo = 1 if e - s >= 3 else 0
        j = s + int(rng.integers(lo, e - s))
        return _edit(text, j, j + 1, text[j] * 2, (j,))
    if defect == "dropped_letter":
        s, e = _pick_run(rng, text, 3, defect)
        j = s + int(rng.integers(1, e - s - 1)) if e - s >= 3 else s
        return _edit(text, j, j + 1, "", (j,))
    if defect == "stray_punct":
        s, e = _pick_run(rng, text, 2, defect)
        pool = _CJK_PUNCT if is_hanzi(text[s]) else _LATIN_PUNCT
        marks = [c for c in pool if covers_char(font_path, c)] or ["."]
        mark = marks[int(rng.integers(len(marks)))]
        j = s + int(rng.integers(1, e - s + 1))  # inside the word or just after it
        return _edit(text, j - 1, j, text[j - 1] + mark, (j - 1,))
    if defect == "lookalike_hanzi":
        places = [i for i, c in enumerate(text)
                  if any(covers_char(font_path, o) for o in _lookalikes(c))]
        if not places:
            raise InputError(f"text defect 'lookalike_hanzi' needs a hanzi with a look-alike; "
                             f"{text!r} has none")
        n = 2 if len(places) >= 4 and rng.random() < 0.25 else 1
        chosen = sorted(int(i) for i in rng.choice(places, n, replace=False))
        chars = list(text)
        for i in chosen:
            options = [o for o in _lookalikes(text[i]) if covers_char(font_path, o)]
            chars[i] = options[int(rng.integers(len(options)))]
        out = "".join(chars)
        return Spelling(expected=text, text=out, shown=out, changed=tuple(chosen),
                        span=(chosen[0], chosen[-1] + 1))
    if defect == "garbled_word":
        s, e = _pick_run(rng, text, 5, defect, 3)
        word, new = text[s:e], _garble(rng, text[s:e], font_path)
        # the span is what changed: the word less the head and tail the slips left alone
        head = next((k for k, (a, b) in enumerate(zip(word, new, strict=False)) if a != b),
                    min(len(word), len(new)))
        tail = next((k for k, (a, b) in enumerate(zip(word[::-1], new[::-1], strict=False))
                     if a != b or k >= min(len(word), len(new)) - head),
                    min(len(word), len(new)) - head)
        if head + tail >= len(word):  # only insertions: keep a letter they follow in the span
            head, tail = (head - 1, tail) if head > 0 else (head, tail - 1)
        i0, i1 = s + head, e - tail
        return _edit(text, i0, i1, new[head:len(new) - tail], tuple(range(i0, i1)))
    if defect == "pseudo_letter":
        places = [i for s, e in (m.span() for m in _WORD.finditer(text)) for i in range(s, e)
                  if text[i] not in _NARROW]
        if not places:
            raise InputError(f"text defect 'pseudo_letter' needs a word of 3+ letters; "
                             f"{text!r} has none")
        i = int(rng.choice(places))
        pool = _PARTNERS_UPPER if text[i].isupper() else _PARTNERS_LOWER
        partners = [p for p in pool if p != text[i] and covers_char(font_path, p)]
        partner = partners[int(rng.integers(len(partners)))]
        axis = "x" if rng.random() < 0.6 else "y"
        return _pseudo(text, i, partner, axis)
    if defect == "pseudo_hanzi":
        places = [i for i, c in enumerate(text) if is_hanzi(c)]
        if not places:
            raise InputError(f"text defect 'pseudo_hanzi' needs a hanzi; {text!r} has none")
        i = int(rng.choice(places))
        partners = [p for p in PSEUDO_PARTNERS if p != text[i] and covers_char(font_path, p)]
        partner = partners[int(rng.integers(len(partners)))]
        axis = "x" if rng.random() < 0.7 else "y"
        return _pseudo(text, i, partner, axis)
    raise InputError(f"unknown real text defect {defect!r}; known: {', '.join(REAL_TEXT_DEFECTS)}")


def _garble(rng: np.random.Generator, word: str, font_path: str) -> str:
    """``word`` after 2-3 slips: swapped, doubled, dropped or intruding letters (hanzi:
    a look-alike instead of an intruder); the first letter stays."""
    chars = list(word)
    hanzi = is_hanzi(word[0])
    for _ in range(int(rng.integers(2, 4))):
        n = len(chars)
        j = int(rng.integers(1, n)) if n > 1 else 0
        kind = int(rng.integers(4))
        if kind == 0 and j < n - 1:
            chars[j], chars[j + 1] = chars[j + 1], chars[j]
        elif kind == 1:
            chars.insert(j, chars[j])
        elif kind == 2 and n > 3 and j < n - 1:
            del chars[j]
        elif hanzi:
            options = [o for o in _lookalikes(chars[j]) if covers_char(font_path, o)]
            if options:
                chars[j] = options[int(rng.integers(len(options)))]
            else:
                chars.insert(j, chars[j])
        else:
            pool = "AEINORSTU" if chars[j].isupper() else "aeinorstu"
            chars.insert(j, pool[int(rng.integers(len(pool)))])
    return "".join(chars)


def _lookalikes(ch: str) -> str:
    if not is_hanzi(ch):
        return ""
    return "".join(o for o in LOOKALIKE_HANZI.get(ch, "") + texts.SIMILAR.get(ch, "")
                   if o != ch and is_hanzi(o))


def substitution(expected: str, shown: str) -> Spelling:
    """The :class:`Spelling` of a same-length substitution (the classic ``wrong_chars``)."""
    changed = tuple(i for i, (a, b) in enumerate(zip(expected, shown, strict=True)) if a != b)
    span = (changed[0], changed[-1] + 1) if changed else (0, 0)
    return Spelling(expected=expected, text=shown, shown=shown, changed=changed, span=span)


def _pseudo(text: str, i: int, partner: str, axis: str) -> Spelling:
    """``text`` with character ``i`` drawn as a pseudo-glyph joined from it and ``partner``
    along ``axis`` (a private-use code point stands for it; the truth shows U+FFFD)."""
    pua = chr(PSEUDO_BASE)
    return Spelling(expected=text, text=text[:i] + pua + text[i + 1:],
                    shown=text[:i] + SHOWN_PSEUDO + text[i + 1:], changed=(i,),
                    span=(i, i + 1), glyphs=((pua, text[i], partner, axis),))
