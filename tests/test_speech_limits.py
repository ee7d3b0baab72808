"""The brainstorm at its limits: a three-hour recording is captured completely in bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from roomctl.speech.capture import Capture
from roomctl.speech.sources import SAMPLE_RATE
from roomctl.speech.spool import SpooledChunk

pytestmark = pytest.mark.slow

THREE_HOURS = 3 * 3600
BLOCK_SECONDS = 1
SPEECH_SECONDS = 6
"""The synthetic talk: six seconds of voice-like sound, then a pause, over and over."""
PAUSE_SECONDS = 1
MEMORY_LIMIT = 64 * 2**20
"""Python allocations during a three-hour capture stay below this: nothing grows with the recording's length."""


class ThreeHours:
    """A source that produces three hours of talk and pauses as fast as the capture takes it."""

    description = "synthetic three-hour brainstorm"

    def __init__(self) -> None:
        self.blocks = 0
        self._rng = np.random.default_rng(3)

    async def open(self) -> None:
        return None

    async def read(self) -> np.ndarray | None:
        if self.blocks * BLOCK_SECONDS >= THREE_HOURS:
            return None
        second = self.blocks % (SPEECH_SECONDS + PAUSE_SECONDS)
        self.blocks += 1
        if second >= SPEECH_SECONDS:
            return (self._rng.standard_normal(SAMPLE_RATE) * 10).astype(np.int16)
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        voice = 6000 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        return voice.astype(np.int16)

    async def close(self) -> None:
        return None


async def test_a_three_hour_recording_is_chunked_completely_in_bounded_memory(tmp_path: Path) -> None:
    chunks: list[tuple[SpooledChunk, int]] = []
    source = ThreeHours()
    capture = Capture(
        1,
        source,
        tmp_path / "spool",
        chunk_seconds=30,
        search_seconds=5,
        on_chunk=lambda chunk, samples: chunks.append((chunk, samples)),
        on_context=lambda offset, context: None,
        context=lambda: ("brainstorm", "q7"),
    )
    tracemalloc.start()
    try:
        result = await capture.run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error is None
    assert result.seconds == THREE_HOURS
    assert sum(samples for _, samples in chunks) == THREE_HOURS * SAMPLE_RATE, "every sample is in exactly one chunk"
    assert len(chunks) >= THREE_HOURS / 30, "no chunk is longer than 30 s"
    assert all(samples <= 30 * SAMPLE_RATE for _, samples in chunks)
    assert peak < MEMORY_LIMIT, f"the capture held {peak / 2**20:.0f} MB"
