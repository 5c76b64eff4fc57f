"""Which characters of a text line are wrong: the span a repair needs to repaint.

A text defect carries the copy the line should read (``expected``) and what it reads
(``observed``, the OCR's read). When both agree on a prefix and a suffix and differ only
in the characters between them, of equal count (characters replaced, none added or
dropped: the kept characters then still sit where the new line puts them), the rest of
the line reads right and only that span needs new pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

# A span of more than this share of the line's characters is not "the rest reads right":
# the old strokes then no longer say where the kept characters are, and the whole line
# is re-typeset. Half: a structural bound (the kept characters must be the majority that
# places the line), not a fitted figure.
SPAN_MAX_SHARE = 0.5


@dataclass(frozen=True)
class WrongSpan:
    """``expected[start:end]`` replaces ``observed[start:end]`` (same count)."""

    start: int
    end: int

    def to_json(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}


def wrong_span(expected: str | None, observed: str | None) -> WrongSpan | None:
    """The wrong characters' span, or None when the whole line should be repainted.

    None for a missing read, an identical read, a different length in the differing
    middle (characters added or dropped) or a span over ``SPAN_MAX_SHARE`` of the line.
    """
    if not expected or not observed or expected == observed:
        return None
    n = min(len(expected), len(observed))
    pre = 0
    while pre < n and expected[pre] == observed[pre]:
        pre += 1
    suf = 0
    while (suf < n - pre and expected[len(expected) - 1 - suf]
           == observed[len(observed) - 1 - suf]):
        suf += 1
    end, obs_end = len(expected) - suf, len(observed) - suf
    if end - pre != obs_end - pre or end <= pre:
        return None
    if not expected[pre:end].strip() or not observed[pre:obs_end].strip():
        return None
    if end - pre > SPAN_MAX_SHARE * len(expected.replace(" ", "")):
        return None
    return WrongSpan(start=pre, end=end)
