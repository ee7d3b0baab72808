"""The de-identification corpus (tests/data/deidentify_corpus.txt): loading it and measuring a run on it.

Used by tests/test_deidentify_corpus.py (which fails below the recall floor) and bench/bench_deidentify.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from roomctl.proposal.deidentify import deidentifier

CORPUS = Path(__file__).parent / "data" / "deidentify_corpus.txt"
_MARK = re.compile(r"\{\{(.+?)\}\}")


@dataclass(frozen=True)
class Sentence:
    """One corpus line: its text, the character spans of the names in it, and its language."""

    text: str
    names: tuple[tuple[int, int], ...]
    language: str


@dataclass(frozen=True)
class Corpus:
    """The known names and the sentences."""

    known: tuple[str, ...]
    sentences: tuple[Sentence, ...]


def load(path: Path = CORPUS) -> Corpus:
    """Parse the corpus file (see its header for the format)."""
    known: list[str] = []
    sentences: list[Sentence] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@known "):
            known.append(line.removeprefix("@known ").strip())
            continue
        language = "nl"
        if line.startswith("en|"):
            language, line = "en", line[3:]
        text, names, last = [], [], 0
        length = 0
        for match in _MARK.finditer(line):
            text.append(line[last : match.start()])
            length += match.start() - last
            names.append((length, length + len(match[1])))
            text.append(match[1])
            length += len(match[1])
            last = match.end()
        text.append(line[last:])
        sentences.append(Sentence("".join(text), tuple(names), language))
    return Corpus(tuple(known), tuple(sentences))


@dataclass
class Score:
    """Person-name recall and precision over the corpus."""

    names: int = 0
    found: int = 0
    person_spans: int = 0
    false_positives: int = 0
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of the names fully replaced."""
        return self.found / self.names if self.names else 1.0

    @property
    def precision(self) -> float:
        """Share of the person placeholders that replaced (part of) a name."""
        return 1 - self.false_positives / self.person_spans if self.person_spans else 1.0


def score(corpus: Corpus) -> Score:
    """De-identify every sentence (as its own request, knowing the corpus's names) and count."""
    result = Score()
    for sentence in corpus.sentences:
        deid = deidentifier(list(corpus.known), [], sentence.language)
        spans = deid.find(sentence.text)
        for start, end in sentence.names:
            result.names += 1
            covered = all(any(s.start <= i < s.end for s in spans) for i in range(start, end) if sentence.text[i].isalnum())
            if covered:
                result.found += 1
            else:
                result.missed.append(f"{sentence.text[start:end]!r} in {sentence.text!r}")
        for span in spans:
            if span.kind != "person":
                continue
            result.person_spans += 1
            if not any(span.start < end and start < span.end for start, end in sentence.names):
                result.false_positives += 1
                result.wrong.append(f"{sentence.text[span.start:span.end]!r} in {sentence.text!r}")
    return result
