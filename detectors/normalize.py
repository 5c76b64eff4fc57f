"""Text normalisation for comparing OCR reads with the expected copy.

:func:`normalize` folds what does not matter for "is this the right copy": Unicode
compatibility forms (NFKC: full-width letters/digits, ligatures, circled numbers), case
(``casefold``), traditional vs. simplified Chinese (OpenCC ``t2s``; the OCR model reads
减 as 減 now and then), quote/dash/dot variants, and whitespace (removed: OCR drops and
invents spaces between CJK and Latin runs). It works character by character and keeps,
for every normalised character, the index of the source character it came from, so that
a mismatch found in normalised text maps back to the OCR's character boxes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_PUNCT_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u30fc": "-",
    "\u00b7": ".", "\u30fb": ".", "\u2022": ".", "\u2027": ".", "\u3002": ".",
    "\u3001": ",", "\uff64": ",",
    "\u00a5": "\uffe5",
}


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=8192)
def fold_char(ch: str) -> str:
    """Normalised form of one character (may be empty for whitespace, or several chars)."""
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs"):
            continue
        c = _PUNCT_FOLD.get(c, c)
        c = c.casefold()
        if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff":
            c = _t2s().convert(c)
        out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class Normalized:
    """A normalised string and, per normalised character, its source character index."""

    text: str
    source_index: tuple[int, ...]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Source character span ``[s, e)`` covering normalised span ``[start, end)``."""
        if not self.source_index:
            return (0, 0)
        start = min(max(start, 0), len(self.source_index) - 1)
        end = min(max(end, start + 1), len(self.source_index))
        return self.source_index[start], self.source_index[end - 1] + 1


def normalize_with_map(text: str) -> Normalized:
    """Normalise ``text`` (see the module docstring) and keep the index map."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        folded = fold_char(ch)
        for c in folded:
            chars.append(c)
            index.append(i)
    return Normalized("".join(chars), tuple(index))


def normalize(text: str) -> str:
    """The normalised form used for every comparison."""
    return "".join(fold_char(ch) for ch in text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def similarity(a: str, b: str) -> float:
    """``1 - distance / max(len)`` of the normalised strings, in [0, 1]."""
    na, nb = normalize(a), normalize(b)
    if not na and not nb:
        return 1.0
    return 1.0 - edit_distance(na, nb) / max(len(na), len(nb))


def is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
