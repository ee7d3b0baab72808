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

deduce builds its lookup structures once (:func:`build_deduce`, run by ``roomctl deidentify build`` from
``make setup`` and ``roomctl install``) into :func:`deduce_dir`, inside the virtualenv, which the hardened
service can read. The street list (150 000 names) and the health-care institution list are left out of that
build: they made loading take half a minute and building two minutes; addresses are still found by deduce's
street pattern (``…straat 12``, ``…laan``), house numbers and postcodes. At run time roomctl never builds:
without a built cache Dutch de-identification refuses (:class:`DeidentifierNotReadyError`) rather than send
anything.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from roomctl.core import heap
from roomctl.errors import StateError

log = logging.getLogger(__name__)

DEDUCE_DIR_ENV = "ROOMCTL_DEDUCE_DIR"
"""Overrides where the built deduce lookup data lives (default: inside the virtualenv)."""
DEDUCE_STAMP = "roomctl-deduce.json"
"""Written last by :func:`build_deduce`: which deduce version built the directory."""
LEFT_OUT_LISTS = (
    "src/locations/lst_street/items.txt",
    "src/locations/lst_street/streets_bag.txt",
    "src/institutions/lst_healthcare_institution/items.txt",
)
"""deduce lookup lists emptied in roomctl's build (see the module docstring)."""

PARTICLES = frozenset(
    {
        "van", "de", "der", "den", "het", "te", "ter", "ten", "in", "op", "t", "la", "le", "du", "da", "di",
        "von", "vd", "el", "al", "y", "e", "des", "del", "dos", "zu", "zur", "aan", "bij", "uit", "d", "l", "lo",
    }
)
"""Name parts ("van der", "de", "El") that are never removed on their own (folded, without dots)."""

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

MIN_NAME_LENGTH = 2
"""Single letters (initials) are not removed on their own."""
MIN_DIMINUTIVE_BASE = 3
"""Names shorter than this get no diminutive forms ("Mo" → "Mootje" is not generated)."""
MAX_FORM_TOKENS = 8
"""Longest name form, in words."""

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
INTERFIX_SURNAME_LIST = "src/names/lst_interfix_surname/items.txt"


_INTERFIX_SURNAMES: frozenset[str] | None = None


def _interfix_surnames() -> frozenset[str]:
    """The list of deduce's surnames that follow a particle ("Dam", "Groot", "Leeuwen"), folded."""
    global _INTERFIX_SURNAMES
    if _INTERFIX_SURNAMES is None:
        deduce = _import_deduce()

        path = Path(deduce.__file__).parent / "data" / "lookup" / INTERFIX_SURNAME_LIST
        _INTERFIX_SURNAMES = frozenset(fold(line.strip()) for line in path.read_text(encoding="utf-8").splitlines()
                                       if line.strip())
    return _INTERFIX_SURNAMES


_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
_JOINER_RE = re.compile(r"^(?:\s+|\s*-\s*|\.\s*)$")
_POSSESSIVE_RE = re.compile("^['\u2019`]s?(?!\\w)")


class DeidentifierNotReadyError(StateError):
    """deduce's lookup data was not built on this machine (``roomctl deidentify build``)."""

    slug = "deidentify-not-ready"
    title = "De-identification is not set up"


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


def _key(words: Iterable[str]) -> str:
    return " ".join(fold(w).replace(".", "") for w in words if w.strip(".")).strip()


# -- name forms -----------------------------------------------------------------------------------------------


def _is_particle(word: str) -> bool:
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


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", text) if w]


def _strip_particles(words: list[str]) -> list[str]:
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
    given_words = [w for g in given for w in _words(g)]
    forms: set[str] = set()
    surname_forms: set[str] = set()
    if surname:
        whole = _words(" ".join(surname))
        surname_forms.add(_key(whole))
        surname_forms.add(_key(_strip_particles(whole)))
        for part in re.split(r"-", " ".join(surname)):
            part_words = _words(part)
            if not part_words:
                continue
            surname_forms.add(_key(part_words))
            core = _strip_particles(part_words)
            surname_forms.add(_key(core))
            for i in range(len(part_words)):
                surname_forms.add(_key(part_words[i:]))
    surname_forms = {f for f in surname_forms if f and not all(w in PARTICLES for w in f.split())}
    given_forms: set[str] = set()
    if given_words and not all(_is_particle(w) for w in given_words):
        given_forms.add(_key(given_words))
        for word in given_words:
            if len(word.strip(".")) >= MIN_NAME_LENGTH and not _is_particle(word):
                given_forms.add(_key([word]))
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


def _needs_capital(form: str) -> bool:
    """True for forms that are ordinary words too ("bakker", "de boer"; not "van der meer"), and initials."""
    if len(form.split()[0]) == 1:
        return True
    words = [w for w in form.split() if w not in PARTICLES]
    particles = len(form.split()) - len(words)
    return bool(words) and particles <= 1 and all(w in COMMON_WORDS for w in words)


# -- deduce ---------------------------------------------------------------------------------------------------


def _import_deduce() -> Any:
    """``import deduce``, undoing what its import does to logging.

    deduce 3 calls ``logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)`` when imported: every
    library's debug messages would go to standard output. The root logger keeps its handlers and level.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import deduce

    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return deduce


def deduce_dir() -> Path:
    """Where roomctl's build of deduce's lookup data lives: ``$ROOMCTL_DEDUCE_DIR`` or ``<venv>/share/roomctl/deduce``."""
    override = os.environ.get(DEDUCE_DIR_ENV, "").strip()
    return Path(override) if override else Path(sys.prefix) / "share" / "roomctl" / "deduce"


def deduce_ready(directory: Path | None = None) -> bool:
    """True when :func:`build_deduce` completed in ``directory`` for the installed deduce version."""
    deduce = _import_deduce()

    stamp = (directory or deduce_dir()) / DEDUCE_STAMP
    try:
        return bool(json.loads(stamp.read_text(encoding="utf-8")).get("deduce") == deduce.__version__)
    except (OSError, ValueError):
        return False


def build_deduce(directory: Path | None = None, *, force: bool = False) -> Path:
    """Copy deduce's lookup lists (without the left-out ones) to ``directory`` and build its cache there.

    Does nothing when the directory is already built for this deduce version (unless ``force``).

    Returns:
        The directory.
    """
    deduce = _import_deduce()

    target = directory or deduce_dir()
    if deduce_ready(target) and not force:
        return target
    source = Path(deduce.__file__).parent / "data" / "lookup"
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("cache", "__pycache__"))
    for name in LEFT_OUT_LISTS:
        path = staging / name
        if path.exists():
            path.write_text("", encoding="utf-8")
    log.info("building deduce's lookup structures in %s", target)
    deduce.Deduce(lookup_data_path=staging, cache_path=staging, build_lookup_structs=True)
    (staging / DEDUCE_STAMP).write_text(json.dumps({"deduce": deduce.__version__}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()
_ENGINE_USE = threading.Lock()
"""One text at a time through the shared engine (asks run in worker threads)."""


def load_deduce(directory: Path | None = None) -> Any:
    """The process's ``deduce.Deduce`` loaded from the built directory (loaded once, then shared).

    Raises:
        DeidentifierNotReadyError: The directory was never built; roomctl never builds at run time.
    """
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            target = directory or deduce_dir()
            if not deduce_ready(target):
                raise DeidentifierNotReadyError(
                    f"the Dutch de-identification is not set up on this machine ({target} is not built); run "
                    "`roomctl deidentify build` (make setup and roomctl install do it). Nothing was sent."
                )
            with heap.loading("deduce loaded"):  # its lookup tables are most of the process's objects
                deduce = _import_deduce()
                _ENGINE = deduce.Deduce(lookup_data_path=target, cache_path=target)
        return _ENGINE


def deduce_loaded() -> bool:
    """True once :func:`load_deduce` has loaded the engine in this process."""
    return _ENGINE is not None


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
            self._add_name(name, key=_key(_words(name)))
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
        return _key(_words(placeholder))

    @property
    def _lang(self) -> str:
        return "nl" if self.language == "nl" else "en"

    def _add_name(self, name: str, *, key: str) -> None:
        for form in name_forms(name):
            self._forms.setdefault(form, key)
            words = form.split()
            self._prefixes.update(" ".join(words[:n]) for n in range(1, len(words)))
            if _needs_capital(form):
                self._capital.add(form)
            self._max_tokens = min(max(self._max_tokens, len(form.split())), MAX_FORM_TOKENS)

    # -- the passes ----------------------------------------------------------------------------------------

    def _deduce_spans(self, text: str) -> list[Span]:
        if self.engine is None or not text.strip():
            return []
        spans = self._interfix_spans(text)
        with _ENGINE_USE:
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
            spans.append(Span(start, end, kind, _key(_words(text[start:end])), source))
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
        surnames = _interfix_surnames()
        spans = []
        for match in _INTERFIX_RE.finditer(text):
            surname = match.group("surname")
            if surname[:1].isupper() and fold(surname) in surnames:
                spans.append(Span(match.start(), match.end(), "person", _key(_words(match.group())), "person"))
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
            key = self._forms.get(_key(_words(clean))) or _key(_words(clean))
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
