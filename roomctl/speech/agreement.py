"""LocalAgreement-2 (whisper_streaming): a word is agreed once two passes in a row heard it in the same place.

Each caption pass transcribes the audio from the end of the last agreed word to now. The longest common prefix
of this pass and the one before it (compared without case and punctuation) is agreed; the rest is tentative and
is compared again by the next pass.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_NOT_WORD = re.compile(r"[^\w]+")


class Word(NamedTuple):
    """A word heard, with its times in seconds from the start of the recording."""

    start: float
    end: float
    text: str


def comparable(text: str) -> str:
    """The word without case, spaces or punctuation (``"Maandag,"`` and ``" maandag"`` agree)."""
    return _NOT_WORD.sub("", text.lower())


def agreed_prefix(previous: list[Word], current: list[Word]) -> int:
    """How many leading words of ``current`` the ``previous`` pass heard too."""
    count = 0
    for before, now in zip(previous, current, strict=False):
        if comparable(before.text) != comparable(now.text):
            break
        count += 1
    return count


def after(words: list[Word], seconds: float) -> list[Word]:
    """The words whose middle lies after ``seconds`` (a window that starts inside a word drops its fragment)."""
    return [w for w in words if (w.start + w.end) / 2 > seconds]


def join(words: list[Word]) -> str:
    """The words as text (Whisper's words carry their own leading spaces)."""
    return "".join(w.text for w in words).strip()
