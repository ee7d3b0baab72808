"""Removing names (and configured words) from text before it leaves the Pi.

The rule: every member name of the group is removed whole ("Anna de Vries"), and so are its parts that name a
person on their own: the first name ("Anna") and the last name without its particles ("Vries", and "de Vries").
Particles such as "de", "van", "ter" are never removed on their own: they are ordinary Dutch words. Matching is
case-insensitive, on word boundaries (so "Anna" is removed, "Annabel" is not), longest phrase first. Names are
replaced by ``[naam]`` (``[name]`` in English); configured words by ``[…]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PARTICLES = frozenset(
    {
        "van", "de", "der", "den", "het", "te", "ter", "ten", "in", "op", "'t", "t", "la", "le", "du", "da",
        "di", "von", "vd", "v.d.", "el", "al", "y", "e", "des", "del", "dos", "zu",
    }
)
"""Name parts that are never removed on their own."""

MIN_PART_LENGTH = 2
"""Single-letter name parts (initials) are not removed on their own."""

NAME_PLACEHOLDER = {"nl": "[naam]", "en": "[name]"}
WORD_PLACEHOLDER = "[…]"


def name_variants(full_name: str) -> set[str]:
    """The phrases that identify a person with ``full_name``: the whole name, first name, last name."""
    parts = [p for p in re.split(r"\s+", full_name.strip()) if p]
    if not parts:
        return set()
    variants = {" ".join(parts)}
    first = parts[0]
    if first.lower() not in PARTICLES and len(first) >= MIN_PART_LENGTH:
        variants.add(first)
    if len(parts) > 1:
        last = parts[-1]
        if last.lower() not in PARTICLES and len(last) >= MIN_PART_LENGTH:
            variants.add(last)
            # "de Vries", "van der Berg": the surname with its particles
            i = len(parts) - 1
            while i > 1 and parts[i - 1].lower() in PARTICLES:
                i -= 1
            variants.add(" ".join(parts[i:]))
        # every other non-particle part (a second first name, a double surname)
        for part in parts[1:-1]:
            if part.lower() not in PARTICLES and len(part) >= MIN_PART_LENGTH:
                variants.add(part)
    return variants


def _pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({p for p in phrases if p.strip()}, key=lambda p: (-len(p), p))
    if not ordered:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE | re.UNICODE)


@dataclass(frozen=True)
class Redactor:
    """Removes the names of a group's members and the configured words from text.

    Build it with :meth:`for_names`; :meth:`apply` is then cheap and can run on every field.
    """

    names: re.Pattern[str] | None
    words: re.Pattern[str] | None
    placeholder: str

    @classmethod
    def for_names(cls, names: Iterable[str], words: Iterable[str] = (), language: str = "nl") -> Redactor:
        """A redactor for the people called ``names`` and the extra ``words``."""
        phrases: set[str] = set()
        for name in names:
            phrases |= name_variants(name)
        return cls(_pattern(phrases), _pattern(words), NAME_PLACEHOLDER.get(language, NAME_PLACEHOLDER["en"]))

    def apply(self, text: str) -> str:
        """``text`` with every name and configured word replaced."""
        if self.names is not None:
            text = self.names.sub(self.placeholder, text)
        if self.words is not None:
            text = self.words.sub(WORD_PLACEHOLDER, text)
        return text

    def count(self, text: str) -> int:
        """How many names and words ``text`` contains (for the request record)."""
        found = 0
        for pattern in (self.names, self.words):
            if pattern is not None:
                found += len(pattern.findall(text))
        return found
