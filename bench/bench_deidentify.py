"""De-identification: recall and precision on the corpus, and the time for a 60,000-character transcript.

Uses the real deduce with the lookup data `roomctl deidentify build` made (run `make setup` first).

    .venv/bin/python bench/bench_deidentify.py [--runs 3] [--chars 60000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roomctl.proposal import deduce_engine, deidentify
from tests.deidentify_corpus import load, score


def transcript(corpus_sentences: list[str], chars: int) -> str:
    """A transcript of about ``chars`` characters made of the corpus's Dutch sentences, repeated."""
    out: list[str] = []
    size = 0
    while size < chars:
        for sentence in corpus_sentences:
            out.append(sentence)
            size += len(sentence) + 1
            if size >= chars:
                break
    return " ".join(out)[:chars]


def timed(known: list[str], text: str, language: str, runs: int) -> list[float]:
    """Seconds to de-identify ``text`` as one request, ``runs`` times."""
    times = []
    for _ in range(runs):
        deid = deidentify.deidentifier(known, [], language)
        started = time.perf_counter()
        deid.apply_all([text])
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chars", type=int, default=60_000)
    args = parser.parse_args()
    started = time.perf_counter()
    deduce_engine.load_deduce()
    print(f"load deduce (built lookup data)          : {(time.perf_counter() - started) * 1000:7.0f} ms")
    corpus = load()
    started = time.perf_counter()
    result = score(corpus)
    took = time.perf_counter() - started
    print(f"corpus: {len(corpus.sentences)} sentences, {result.names} names, {len(corpus.known)} known people")
    print(f"person-name recall                        : {result.recall:.3f} ({result.found}/{result.names})")
    print(f"precision of person placeholders          : {result.precision:.3f} "
          f"({result.false_positives} false positives of {result.person_spans})")
    for line in result.wrong:
        print(f"    false positive: {line}")
    for line in result.missed:
        print(f"    missed: {line}")
    print(f"corpus, one request per sentence          : {took * 1000:7.0f} ms")
    text = transcript([s.text for s in corpus.sentences if s.language == "nl"], args.chars)
    times = timed(list(corpus.known), text, "nl", args.runs)
    print(f"{len(text):,}-character transcript (nl)       : median {statistics.median(times) * 1000:7.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {args.runs} runs; goal <= 1000 ms)")
    times = timed(list(corpus.known), text, "en", args.runs)
    print(f"same transcript, English passes only      : median {statistics.median(times) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
