"""Person-name recall on the project's de-identification corpus, with the real deduce (bench prints the figures)."""

from __future__ import annotations

from tests.deidentify_corpus import load, score

RECALL_FLOOR = 0.98
"""Below this share of the corpus's names removed, the de-identification is not good enough."""
PRECISION_FLOOR = 0.95
"""Words that are also names may be removed now and then (counted), but not as a rule."""


def test_the_corpus_is_big_and_varied_enough() -> None:
    corpus = load()
    assert len(corpus.sentences) >= 200
    english = [s for s in corpus.sentences if s.language == "en"]
    without_names = [s for s in corpus.sentences if not s.names]
    assert len(english) >= 20 and len(without_names) >= 30
    assert sum(len(s.names) for s in corpus.sentences) >= 200


def test_person_name_recall_is_at_least_the_floor_and_false_positives_are_counted() -> None:
    result = score(load())
    assert result.recall >= RECALL_FLOOR, (
        f"recall {result.recall:.3f} < {RECALL_FLOOR}; missed:\n" + "\n".join(result.missed)
    )
    assert result.precision >= PRECISION_FLOOR, "false positives:\n" + "\n".join(result.wrong)
    assert result.false_positives == len(result.wrong)
