"""De-identification: the one step every text passes before it may leave the Pi.

One :class:`Deidentification` covers one request (the work situation, the problem, the kader notes, the
transcript, the previous proposal, a draft and the group's remarks) so that the same person gets the same
placeholder in every text of it: ``[persoon 1]``, ``[persoon 2]`` (``[person 1]`` in English). Four passes
find what must go; their spans are merged (the longer span wins an overlap) and replaced from the end:

1. **deduce** (Dutch sessions only): person names and identifiers (e-mail, phone, BSN and other ID numbers,
   dates, ages, addresses, URLs). A title in front of a name ("meneer", "mevrouw") is kept: it describes a
   role, not a person. Every name deduce finds is then also looked for in all its forms (pass 2), so
   "Karin Wouters" found once also removes a bare "Karin" elsewhere.
2. **Known names**: every member and facilitator of every group and every guest roomctl knows
   (:class:`~roomctl.proposal.sources.ContextSource.known_names`), in all their forms (:func:`name_forms`):
   full name, first name, surname with and without "van der"/"de", each part of a hyphenated surname and
   of a double first name, an initial with the surname, diminutives ("Annetje", "Jantje"), a possessive
   ("Annas", "Anna's"), with or without accents, in any case. Matching is on whole words: "Annapolis" and
   "Bakkerij" stay. A form made only of words that are also ordinary Dutch or English words ("Bakker",
   "de Boer", "Roos", "Mark"; at most one particle) is removed only when written with a capital: "de bakker"
   stays, "Bakker" at the start of a sentence goes (counted as a false positive in the corpus).
3. **Patterns** (every language): e-mail addresses, phone numbers, IBANs, Dutch postcodes, long numbers,
   dates with a year.
4. **Configured words** (``[llm] redact_words``) become ``[…]``.

The mapping from placeholders back to what they replaced (:attr:`Deidentification.mapping`) is kept on the
Pi with the request and never sent.

deduce, and building and loading its lookup data, live in :mod:`roomctl.proposal.deduce_engine`; how a name
is written in all its forms in :mod:`roomctl.proposal.name_forms`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from roomctl.proposal.deduce_engine import ENGINE_USE, interfix_surnames, load_deduce
from roomctl.proposal.name_forms import (
    PARTICLES,
    fold,
    form_key,
    name_forms,
    name_words,
    needs_capital,
)

TITLES = frozenset(
    {
        "meneer", "mevrouw", "mijnheer", "dhr", "mevr", "mw", "mej", "dr", "drs", "ir", "ing", "mr", "prof", "ds",
        "heer", "collega", "mrs", "ms", "miss", "sir",
        # roles in front of a name: what the proposal may say about a person
        "teamleider", "leidinggevende", "manager", "directeur", "dokter", "arts", "huisarts", "zuster",
        "verpleegkundige", "verzorgende", "begeleider", "client", "bewoner", "stagiaire", "stagiair", "coach",
        "juf", "meester", "docent", "teacher", "doctor", "nurse", "colleague",
    }
)
"""Words in front of a name that are kept (a role or form of address, not the person)."""

MAX_FORM_TOKENS = 8
"""Longest name form, in words."""

PLACEHOLDER_KINDS: dict[str, dict[str, str]] = {
    "person": {"nl": "persoon", "en": "person"},
    "email": {"nl": "e-mailadres", "en": "email"},
    "phone": {"nl": "telefoonnummer", "en": "phone"},
    "number": {"nl": "nummer", "en": "number"},
    "date": {"nl": "datum", "en": "date"},
    "age": {"nl": "leeftijd", "en": "age"},
    "location": {"nl": "locatie", "en": "location"},
    "institution": {"nl": "instelling", "en": "institution"},
    "url": {"nl": "url", "en": "url"},
}
"""Placeholder words per kind and language."""
WORD_PLACEHOLDER = "[…]"

DEDUCE_KINDS = {
    "persoon": "person",
    "patient": "person",
    "emailadres": "email",
    "telefoonnummer": "phone",
    "bsn": "number",
    "id": "number",
    "datum": "date",
    "leeftijd": "age",
    "locatie": "location",
    "instelling": "institution",
    "ziekenhuis": "institution",
    "url": "url",
}
"""deduce's tags and the kind of placeholder each becomes."""

PRIORITY = {"known": 4, "person": 3, "pattern": 2, "word": 1}
"""Which pass wins when spans of the same length overlap: known names, then persons deduce found, then
identifiers (deduce's and the patterns), then configured words."""

PLACEHOLDER_RE = re.compile(r"\[[^\[\]\n]{1,60}\]")
"""Text already replaced (a placeholder in a draft that comes back) is never touched again."""

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    ("url", re.compile(r"\bhttps?://\S+|\bwww\.[\w-]+(?:\.[\w-]+)+\S*", re.IGNORECASE)),
    ("number", re.compile(r"\bNL\s?\d{2}\s?[A-Z]{4}(?:\s?\d{2,4}){2,4}\b", re.IGNORECASE)),
    ("phone", re.compile(r"(?<![\w+])(?:\+|00)\d{2}[\s.-]?(?:\(0\))?[\s.-]?\d(?:[\s.-]?\d){7,10}(?!\w)")),
    ("phone", re.compile(r"(?<![\w+])0\d(?:[\s.-]?\d){8}(?!\w)")),
    ("phone", re.compile(r"(?<![\w+])0\d{2,3}[\s-]\d{3}[\s-]?\d{2,4}(?!\w)")),
    ("location", re.compile(r"\b\d{4}\s?[A-Z]{2}\b(?!\w)")),
    ("date", re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2}\b|\b(?:19|20)\d{2}-\d{1,2}-\d{1,2}\b")),
    (
        "date",
        re.compile(
            r"\b\d{1,2}\s+(?:jan(?:uari)?|feb(?:ruari)?|maart|mrt|apr(?:il)?|mei|jun[i]?|jul[i]?|aug(?:ustus)?|"
            r"sep(?:t(?:ember)?)?|okt(?:ober)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|march|may|june|july|"
            r"january|february)\.?\s+(?:19|20)\d{2}\b|\b(?:january|february|march|april|may|june|july|august|"
            r"september|october|november|december)\s+\d{1,2},?\s+(?:19|20)\d{2}\b",
            re.IGNORECASE,
        ),
    ),
    ("number", re.compile(r"(?<![\w.,])\d(?:[\s.-]?\d){6,}(?![\w,])")),
)
"""Identifiers found by pattern, in every language (deduce finds most of them in Dutch as well)."""

_INTERFIX_RE = re.compile(
    r"(?<![\w-])(?:[Vv]an (?:[Dd]e[rn]? |'t |[Hh]et )?|[Dd]e |[Dd]en |[Dd]er |[Tt]e[rn]? |[Ii]n 't |[Oo]p (?:de|den|'t) )"
    "(?P<surname>[^\\W\\d_][\\w'\u2019]*)(?!\\w)"
)
"""A Dutch surname particle sequence and the word after it."""

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
_JOINER_RE = re.compile(r"^(?:\s+|\s*-\s*|\.\s*)$")
_POSSESSIVE_RE = re.compile("^['\u2019`]s?(?!\\w)")


# -- one request ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A piece of one text to replace."""

    start: int
    end: int
    kind: str
    key: str
    source: str

    @property
    def length(self) -> int:
        """Characters covered."""
        return self.end - self.start


@dataclass
class Deidentification:
    """The de-identification of one request: known names, numbering, and the mapping kept on the Pi.

    Attributes:
        language: The placeholders' language (``nl``: "[persoon 1]", else "[person 1]").
        engine: A loaded ``deduce.Deduce`` for Dutch material, or None (known names and patterns only).
        numbers: ``(kind, key)`` → placeholder number, in order of first appearance.
        mapping: placeholder → the texts it replaced (kept on the Pi, never sent).
        found: How many spans were replaced in all texts so far.
    """

    known: Sequence[str] = ()
    words: Sequence[str] = ()
    language: str = "nl"
    engine: Any = None
    numbers: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, list[str]] = field(default_factory=dict)
    found: int = 0

    def __post_init__(self) -> None:
        self._forms: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._prefixes: set[str] = set()
        self._capital: set[str] = set()
        self._max_tokens = 1
        for name in self.known:
            self._add_name(name, key=form_key(name_words(name)))
        phrases = sorted({w.strip() for w in self.words if w.strip()}, key=lambda p: (-len(p), p))
        self._word_re = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(r"\s+".join(re.escape(fold(x)) for x in p.split()) for p in phrases) + r")(?!\w)"
            )
            if phrases
            else None
        )

    # -- state that survives a request (a revision continues the numbering) ----------------------------------

    def state(self) -> dict[str, Any]:
        """Numbering and mapping, to store with the request and continue with :meth:`restore`."""
        return {"numbers": dict(self.numbers), "mapping": {k: list(v) for k, v in self.mapping.items()}}

    def restore(self, state: dict[str, Any] | None) -> Deidentification:
        """Continue the numbering of an earlier request (returns self)."""
        if state:
            self.numbers.update({str(k): int(v) for k, v in state.get("numbers", {}).items()})
            for slot, number in self.numbers.items():
                kind = slot.split("\x00", 1)[0]
                self._counts[kind] = max(self._counts.get(kind, 0), number)
            for placeholder, texts in state.get("mapping", {}).items():
                known = self.mapping.setdefault(placeholder, [])
                known.extend(t for t in list(texts) if t not in known)
                if placeholder.startswith(f"[{PLACEHOLDER_KINDS['person'][self._lang]} "):
                    for text in texts:
                        self._add_name(text, key=self._person_key_of(placeholder))
        return self

    def _person_key_of(self, placeholder: str) -> str:
        for key, number in self.numbers.items():
            if key.startswith("person\x00") and self._placeholder("person", number) == placeholder:
                return key.split("\x00", 1)[1]
        return form_key(name_words(placeholder))

    @property
    def _lang(self) -> str:
        return "nl" if self.language == "nl" else "en"

    def _add_name(self, name: str, *, key: str) -> None:
        for form in name_forms(name):
            self._forms.setdefault(form, key)
            words = form.split()
            self._prefixes.update(" ".join(words[:n]) for n in range(1, len(words)))
            if needs_capital(form):
                self._capital.add(form)
            self._max_tokens = min(max(self._max_tokens, len(form.split())), MAX_FORM_TOKENS)

    # -- the passes ----------------------------------------------------------------------------------------

    def _deduce_spans(self, text: str) -> list[Span]:
        if self.engine is None or not text.strip():
            return []
        spans = self._interfix_spans(text)
        with ENGINE_USE:
            annotations = self.engine.deidentify(text).annotations
        for ann in annotations:
            kind = DEDUCE_KINDS.get(str(ann.tag).split("+")[0]) or DEDUCE_KINDS.get(str(ann.tag))
            if kind is None:
                continue
            start, end = int(ann.start_char), int(ann.end_char)
            if kind == "person":
                start = self._skip_titles(text, start, end)
                if all(fold(t) in PARTICLES for t in _TOKEN_RE.findall(text, start, end)):
                    continue  # only "de", "van": no name left
            source = "person" if kind == "person" else "pattern"
            spans.append(Span(start, end, kind, form_key(name_words(text[start:end])), source))
        return spans

    @staticmethod
    def _skip_titles(text: str, start: int, end: int) -> int:
        for match in _TOKEN_RE.finditer(text, start, end):
            if fold(match.group()) not in TITLES:
                return match.start()
        return end

    def _interfix_spans(self, text: str) -> list[Span]:
        """"Van Dam", "De Groot", "de Graaf": a particle and a capitalised surname from deduce's list.

        deduce itself matches particles in lower case only and skips surnames that are also words ("Graaf").
        """
        surnames = interfix_surnames()
        spans = []
        for match in _INTERFIX_RE.finditer(text):
            surname = match.group("surname")
            if surname[:1].isupper() and fold(surname) in surnames:
                spans.append(Span(match.start(), match.end(), "person", form_key(name_words(match.group())), "person"))
        return spans

    def _known_spans(self, text: str) -> list[Span]:
        if not self._forms:
            return []
        folded = fold(text)
        tokens = list(_TOKEN_RE.finditer(folded))
        spans: list[Span] = []
        i = 0
        while i < len(tokens):
            hit = self._longest_at(text, folded, tokens, i)
            if hit is None:
                i += 1
                continue
            end_index, end, key = hit
            spans.append(Span(tokens[i].start(), end, "person", key, "known"))
            i = end_index + 1
        return spans

    def _longest_at(
        self, text: str, folded: str, tokens: list[re.Match[str]], i: int
    ) -> tuple[int, int, str] | None:
        words: list[str] = []
        candidates: list[tuple[int, str]] = []
        for j in range(i, min(i + self._max_tokens, len(tokens))):
            if j > i and not _JOINER_RE.match(folded[tokens[j - 1].end() : tokens[j].start()]):
                break
            words.append(tokens[j].group())
            phrase = " ".join(words)
            candidates.append((j, phrase))
            if phrase not in self._prefixes:
                break
        for j, phrase in reversed(candidates):
            for form, cut in ((phrase, 0), (phrase[:-1], 1) if phrase.endswith("s") else (None, 0)):
                if form is None or form not in self._forms:
                    continue
                end = tokens[j].end()
                if form in self._capital and not self._capitalised(text, tokens[i].start(), end - cut):
                    continue
                possessive = _POSSESSIVE_RE.match(text[end:])
                if possessive and not cut:
                    end += possessive.end()
                return j, end, self._forms[form]
        return None

    @staticmethod
    def _capitalised(text: str, start: int, end: int) -> bool:
        for match in _TOKEN_RE.finditer(text, start, end):
            word = match.group()
            if fold(word) not in PARTICLES and word[:1].isupper():
                return True
        return False

    @staticmethod
    def _pattern_spans(text: str) -> list[Span]:
        spans = []
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(text):
                spans.append(Span(match.start(), match.end(), kind, re.sub(r"\W", "", fold(match.group())), "pattern"))
        return spans

    def _word_spans(self, text: str) -> list[Span]:
        if self._word_re is None:
            return []
        return [Span(m.start(), m.end(), "word", "", "word") for m in self._word_re.finditer(fold(text))]

    # -- putting it together -------------------------------------------------------------------------------

    def discover(self, texts: Sequence[str]) -> list[list[Span]]:
        """Run deduce over ``texts`` and learn the names it finds (call before :meth:`apply`)."""
        found = [self._deduce_spans(text) for text in texts]
        names = sorted(
            {text[s.start : s.end] for text, spans in zip(texts, found, strict=True) for s in spans if s.kind == "person"},
            key=lambda n: (-len(n.split()), n),
        )
        for name in names:
            clean = _POSSESSIVE_RE.sub("", name)
            key = self._forms.get(form_key(name_words(clean))) or form_key(name_words(clean))
            self._add_name(clean, key=key)
        return found

    def find(self, text: str, deduce_spans: list[Span] | None = None) -> list[Span]:
        """The spans of ``text`` that :meth:`apply` replaces, in order (none overlap)."""
        if deduce_spans is None:
            [deduce_spans] = self.discover([text])
        protected = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]
        spans = [
            s
            for s in [*self._known_spans(text), *deduce_spans, *self._pattern_spans(text), *self._word_spans(text)]
            if not any(s.start < e and b < s.end for b, e in protected)
        ]
        return self._resolve(spans)

    def apply(self, text: str, deduce_spans: list[Span] | None = None) -> str:
        """``text`` with every name, identifier and configured word replaced."""
        if not text:
            return text
        chosen = self.find(text, deduce_spans)
        out = []
        last = 0
        for span in chosen:
            out.append(text[last : span.start])
            out.append(self._placeholder_for(span, text[span.start : span.end]))
            last = span.end
        out.append(text[last:])
        self.found += len(chosen)
        return "".join(out)

    def apply_all(self, texts: Sequence[str]) -> list[str]:
        """Every text of a request, numbered together (deduce first learns names from all of them)."""
        found = self.discover(texts)
        return [self.apply(text, spans) for text, spans in zip(texts, found, strict=True)]

    def _resolve(self, spans: list[Span]) -> list[Span]:
        spans = [
            replace(s, key=self._forms[s.key]) if s.source == "person" and s.key in self._forms else s for s in spans
        ]
        ordered = sorted(spans, key=lambda s: (-s.length, -PRIORITY[s.source], s.start))
        used = bytearray(max((s.end for s in spans), default=0))
        taken: list[Span] = []
        for span in ordered:
            if not any(used[span.start : span.end]):
                used[span.start : span.end] = b"\x01" * span.length
                taken.append(span)
        taken.sort(key=lambda s: s.start)
        return taken

    def _placeholder(self, kind: str, number: int) -> str:
        return f"[{PLACEHOLDER_KINDS[kind][self._lang]} {number}]"

    def _placeholder_for(self, span: Span, original: str) -> str:
        if span.kind == "word":
            return WORD_PLACEHOLDER
        slot = f"{span.kind}\x00{span.key}"
        number = self.numbers.get(slot)
        if number is None:
            number = self._counts.get(span.kind, 0) + 1
            self._counts[span.kind] = number
            self.numbers[slot] = number
        placeholder = self._placeholder(span.kind, number)
        texts = self.mapping.setdefault(placeholder, [])
        if original not in texts:
            texts.append(original)
        return placeholder


def deidentifier(
    known: Sequence[str],
    words: Sequence[str],
    language: str,
    state: dict[str, Any] | None = None,
    *,
    dutch: bool | None = None,
) -> Deidentification:
    """A de-identification for one request (see :func:`load_deduce`).

    Args:
        known: Names of the people roomctl knows.
        words: Configured words to remove.
        language: The language of the placeholders (``nl`` or ``en``).
        state: The numbering of an earlier request to continue (a revision).
        dutch: Whether the material is Dutch (deduce runs); default: ``language == "nl"``.

    Raises:
        DeidentifierNotReadyError: Dutch, and deduce's lookup data was never built here.
    """
    engine = load_deduce() if (language == "nl" if dutch is None else dutch) else None
    return Deidentification(known=known, words=words, language=language, engine=engine).restore(state)
