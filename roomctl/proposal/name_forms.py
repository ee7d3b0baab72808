"""How a person's name is written: folding, splitting, and every form that names the person.

:func:`name_forms` gives every folded word sequence that names someone ("Pieter van den Berg": "pieter", "van den
berg", "berg", "p van den berg", "pietertje", ...); :class:`~roomctl.proposal.deidentify.Deidentification` looks
for them in the texts of a request. :func:`fold` keeps one character per character, so a match in the folded
text is a match at the same place in the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

PARTICLES = frozenset(
    {
        "van", "de", "der", "den", "het", "te", "ter", "ten", "in", "op", "t", "la", "le", "du", "da", "di",
        "von", "vd", "el", "al", "y", "e", "des", "del", "dos", "zu", "zur", "aan", "bij", "uit", "d", "l", "lo",
    }
)
"""Name parts ("van der", "de", "El") that are never removed on their own (folded, without dots)."""

MIN_NAME_LENGTH = 2
"""Single letters (initials) are not removed on their own."""
MIN_DIMINUTIVE_BASE = 3
"""Names shorter than this get no diminutive forms ("Mo" → "Mootje" is not generated)."""

COMMON_WORDS = frozenset(
    {
        # Dutch words that are also names
        "bakker", "boer", "roos", "mark", "visser", "smit", "smid", "kok", "bos", "vos", "wit", "hoek", "berg",
        "dijk", "koster", "molenaar", "mulder", "koning", "veen", "haan", "storm", "winter", "zomer", "hart",
        "groot", "klein", "zwart", "bruin", "schaap", "brink", "beek", "meer", "dekker", "timmerman", "schipper",
        "kuiper", "slager", "wever", "bleeker", "jager", "vink", "kraai", "mees", "valk", "de", "lief", "hoop",
        "iris", "fleur", "bloem", "lente", "dag", "nacht", "zon", "maan", "ster", "berk", "eik", "linde",
        # English words that are also names
        "will", "may", "june", "april", "august", "rose", "grace", "hope", "faith", "bill", "frank", "baker",
        "smith", "miller", "rich", "joy", "sky", "dawn", "summer", "guy", "sue", "art", "pat", "rob", "bob",
        "carol", "jack", "skip", "drew", "gene",
    }
)
"""Words that are also names: a form made only of these is removed only when written with a capital."""


# -- text folding ---------------------------------------------------------------------------------------------


_FOLD_SPECIAL = {"\u0131": "i", "\u0142": "l", "\u00f8": "o", "\u0111": "d", "\u0140": "l"}
"""Letters without a Unicode decomposition that people still write without their mark (dotless i, l with
stroke, o with stroke, d with stroke): "Y\u0131lmaz" is also written "Yilmaz"."""


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    char = _FOLD_SPECIAL.get(char, char)
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c)) or char
    if len(base) != 1:
        base = char
    lower = base.lower()
    return lower if len(lower) == 1 else base


def fold(text: str) -> str:
    """``text`` in lower case without accents, with exactly one character for each of ``text``'s."""
    return "".join(_fold_char(c) for c in text)


def form_key(words: Iterable[str]) -> str:
    """The folded words joined by one space, without dots: how a name form is looked up."""
    return " ".join(fold(w).replace(".", "") for w in words if w.strip(".")).strip()


# -- name forms -----------------------------------------------------------------------------------------------


def _is_particle(word: str) -> bool:
    """True for "van", "de", "El." and the like (see :data:`PARTICLES`)."""
    return fold(word).strip(".'\u2019") in PARTICLES


def split_name(full_name: str) -> tuple[list[str], list[str]]:
    """The given names and the surname words of ``full_name`` ("Pieter van den Berg" → Pieter / van den Berg).

    The surname is the last word with the particles and hyphen-joined words before it; with one word the name
    is a given name only.
    """
    words = full_name.split()
    if words and _is_particle(words[0]):
        return [], words  # "de Graaf", "Van Dam": a surname alone
    if len(words) < 2:
        return words, []
    i = len(words) - 1
    while i > 1:
        before = words[i - 1]
        hyphen_particle = "-" in before and _is_particle(before.rsplit("-", 1)[-1])
        if _is_particle(before) or hyphen_particle or before.endswith("-"):
            i -= 1
            continue
        break
    return words[:i], words[i:]


def name_words(text: str) -> list[str]:
    """The words of a name, split at spaces and hyphens."""
    return [w for w in re.split(r"[\s\-]+", text) if w]


def _strip_particles(words: list[str]) -> list[str]:
    """``words`` without the particles in front (the last word always stays)."""
    i = 0
    while i < len(words) - 1 and _is_particle(words[i]):
        i += 1
    return words[i:]


def diminutives(name: str) -> set[str]:
    """Dutch diminutive forms of a given name ("Anna" → "Annetje", "Anneke"; "Jan" → "Jantje")."""
    n = fold(name)
    if len(n) < MIN_DIMINUTIVE_BASE or not n.isalpha():
        return set()
    forms = {n + "tje", n + "je", n + "ke", n + "ie", n + "pje", n + n[-1] + "etje", n + n[-1] + "ie", n + "tjes"}
    if n[-1] in "aeiouy":
        stem = n[:-1]
        forms |= {stem + "etje", stem + "eke", stem + "ke", stem + "ie", stem + "tje", n + n[-1] + "tje"}
    return forms


def name_forms(full_name: str) -> set[str]:
    """Every folded word sequence (words joined by one space) that names the person ``full_name``."""
    given, surname = split_name(full_name.strip())
    given_words = [w for g in given for w in name_words(g)]
    forms: set[str] = set()
    surname_forms: set[str] = set()
    if surname:
        whole = name_words(" ".join(surname))
        surname_forms.add(form_key(whole))
        surname_forms.add(form_key(_strip_particles(whole)))
        for part in re.split(r"-", " ".join(surname)):
            part_words = name_words(part)
            if not part_words:
                continue
            surname_forms.add(form_key(part_words))
            core = _strip_particles(part_words)
            surname_forms.add(form_key(core))
            for i in range(len(part_words)):
                surname_forms.add(form_key(part_words[i:]))
    surname_forms = {f for f in surname_forms if f and not all(w in PARTICLES for w in f.split())}
    given_forms: set[str] = set()
    if given_words and not all(_is_particle(w) for w in given_words):
        given_forms.add(form_key(given_words))
        for word in given_words:
            if len(word.strip(".")) >= MIN_NAME_LENGTH and not _is_particle(word):
                given_forms.add(form_key([word]))
                forms |= diminutives(word)
    forms |= given_forms | surname_forms
    for g in given_forms:
        for s in surname_forms:
            forms.add(f"{g} {s}")
    for word in given_words[:1]:
        initial = fold(word)[:1]
        for s in surname_forms:
            forms.add(f"{initial} {s}")
    return {f for f in forms if f and len(f.replace(" ", "")) >= MIN_NAME_LENGTH}


def needs_capital(form: str) -> bool:
    """True for forms that are ordinary words too ("bakker", "de boer"; not "van der meer"), and initials."""
    if len(form.split()[0]) == 1:
        return True
    words = [w for w in form.split() if w not in PARTICLES]
    particles = len(form.split()) - len(words)
    return bool(words) and particles <= 1 and all(w in COMMON_WORDS for w in words)
