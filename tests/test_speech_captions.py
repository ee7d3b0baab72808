"""Live captions without Whisper: LocalAgreement-2, the final text replacing caption words, bounded memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import numpy as np

from roomctl.config import load_settings
from roomctl.speech.agreement import Word, after, agreed_prefix, comparable, join
from roomctl.speech.capture import Capture
from roomctl.speech.live import BEHIND_SECONDS, MAX_WINDOW_SECONDS, LiveCaptions
from roomctl.speech.sources import SAMPLE_RATE
from roomctl.speech.tuning import CaptionPlan, caption_plan, model_size

NINETY_MINUTES = 90 * 60
MEMORY_LIMIT = 64 * 2**20
"""Python allocations while capturing and captioning 90 minutes stay below this."""


def words(*texts: str, start: float = 0.0) -> list[Word]:
    return [Word(start + i, start + i + 0.8, f" {t}") for i, t in enumerate(texts)]


def test_two_passes_agree_on_their_common_beginning_regardless_of_case_and_punctuation() -> None:
    before = words("Het", "team", "wil", "de")
    now = words("het", "team,", "wil", "die", "planning")
    assert agreed_prefix(before, now) == 3
    assert agreed_prefix([], now) == 0
    assert agreed_prefix(now, now) == 5
    assert comparable(" Maandag.") == comparable("maandag") == "maandag"
    assert join(now[:2]) == "het team,"


def test_a_window_starting_inside_a_word_drops_its_fragment() -> None:
    heard = [Word(9.7, 10.2, " st"), Word(10.3, 10.9, " planning")]
    assert after(heard, 10.0) == [heard[1]]
    assert after(heard, 9.0) == heard


def test_the_final_text_replaces_the_caption_words_it_covers() -> None:
    changes: list[dict[str, object]] = []
    live = LiveCaptions(1, worker=lambda: None, interval_seconds=1.0, on_change=lambda: changes.append(live.view()))
    live.feed(np.zeros(20 * SAMPLE_RATE, dtype=np.int16))
    live.agreed = words("wij", "hebben", "vandaag", start=8.0)
    live.tentative = words("gesproken", "over", start=11.0)
    live.final_until(9.5)
    assert join(live.agreed) == "vandaag"
    assert join(live.tentative) == "gesproken over"
    assert live.start == int(9.5 * SAMPLE_RATE)
    live.final_until(20.0, last=True)
    assert live.view()["agreed"] == "" and live.view()["tentative"] == ""
    assert set(changes[-1]) == {"agreed", "tentative", "behind", "lag_seconds"}, "text only, nobody named"


def test_captions_are_planned_from_the_model_and_the_cores_and_can_be_turned_off() -> None:
    def plan(cores: int, **speech: object) -> CaptionPlan:
        return caption_plan(load_settings(None, {"speech": speech}).speech, cores)

    assert model_size("base") == "base" and model_size("tiny.en") == "tiny" and model_size("/m/small-nl") == "small"
    assert model_size("large-v3") == "other"
    on = plan(2, model="base")
    assert on.enabled and on.parallel == 2 and on.interval_seconds == 2.0
    assert not plan(1, model="base").enabled
    assert plan(1, model="base", live_captions=True).enabled
    assert not plan(2, model="small").enabled and plan(4, model="small").enabled
    off = plan(8, model="tiny", live_captions=False)
    assert not off.enabled and "live_captions = false" in off.reason
    assert plan(2, model="base", caption_interval_seconds=2.5).interval_seconds == 2.5


class NinetyMinutes:
    """Ninety minutes of talk-like sound and pauses, as fast as the capture takes it."""

    description = "synthetic 90-minute brainstorm"

    def __init__(self) -> None:
        self.blocks = 0
        self._rng = np.random.default_rng(5)

    async def open(self) -> None:
        return None

    async def read(self) -> np.ndarray | None:
        if self.blocks >= NINETY_MINUTES:
            return None
        self.blocks += 1
        if self.blocks % 7 == 0:
            return (self._rng.standard_normal(SAMPLE_RATE) * 10).astype(np.int16)
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        return (6000 * np.sin(2 * np.pi * 170 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)

    async def close(self) -> None:
        return None


async def test_ninety_minutes_without_a_worker_keep_caption_memory_bounded_and_say_they_are_behind(
    tmp_path: Path,
) -> None:
    behind_seen: list[bool] = []
    live = LiveCaptions(1, worker=lambda: None, interval_seconds=1.0, on_change=lambda: behind_seen.append(live.behind))
    task = asyncio.create_task(live.run())
    buffered: list[int] = []

    def feed(block: np.ndarray) -> None:
        live.feed(block)
        buffered.append(sum(len(b) for b in live._blocks))

    capture = Capture(
        1,
        NinetyMinutes(),
        tmp_path / "spool",
        chunk_seconds=15,
        search_seconds=5,
        on_chunk=lambda chunk, samples: None,
        on_context=lambda offset, context: None,
        context=lambda: (None, None),
        on_block=feed,
    )
    tracemalloc.start()
    try:
        result = await capture.run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        live.close()
        await asyncio.wait_for(task, 5)
    assert result.seconds == NINETY_MINUTES and result.error is None
    assert live.received == NINETY_MINUTES * SAMPLE_RATE
    assert max(buffered) <= (MAX_WINDOW_SECONDS + 1) * SAMPLE_RATE, "captions keep only the window they may read"
    assert peak < MEMORY_LIMIT, f"capture and captions held {peak / 2**20:.0f} MB"
    assert behind_seen == [True], "the kiosk is told once that the captions fell behind"
    assert live.lag_seconds > BEHIND_SECONDS
    assert not live.behind, "a closed recording is not behind"
