"""Live captions of one recording: what was just said, within seconds, before the final transcript has it.

The capture feeds every block it spools (:meth:`LiveCaptions.feed`). Every ``interval`` seconds of new audio, a
caption pass transcribes the audio from the end of the last agreed word to now in the worker (greedy,
temperature 0, short encoder window). Words two passes agree on (:mod:`~roomctl.speech.agreement`), and words
the pass heard well before its end (:data:`SETTLED_SECONDS`), are *agreed*; the newest pass's other words are
*tentative*. When a chunk of the final transcript is stored,
:meth:`LiveCaptions.final_until` drops the caption words it covers: the screen then shows the final text, which
never changes.

Timing is counted in samples of audio, not on a clock: the lag is the audio heard but not yet captioned. When
the worker cannot keep up (busy CPU, a restart), the lag grows, :attr:`LiveCaptions.behind` says so on the
kiosk, and the next pass skips to the last :data:`MAX_WINDOW_SECONDS` (the final transcript still gets all of
it). Captions are held in memory only and never stored: the transcript is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from roomctl.errors import AdapterError
from roomctl.speech.agreement import Word, after, agreed_prefix, join
from roomctl.speech.sources import SAMPLE_RATE
from roomctl.speech.worker import WorkerCrashed, WorkerProcess

log = logging.getLogger(__name__)

MAX_WINDOW_SECONDS = 6.0
"""A caption pass reads at most this much audio; when more is waiting, the oldest part is skipped."""
MIN_WINDOW_SECONDS = 1.0
"""A pass needs at least this much audio after the last agreed word."""
BEHIND_SECONDS = 6.0
"""Audio waiting longer than this to be captioned: the kiosk says the captions are behind."""
SETTLED_SECONDS = 1.5
"""A word that ends this long before the end of the pass that heard it is taken as agreed even when two passes
disagree on it: Whisper has heard what follows it and will not do better, and the window (the cost of a pass
and the captions' lag) stays short. On unclear speech passes rarely agree word for word."""
WORKER_WAIT_SECONDS = 0.5
"""With no worker running (loading, restarting), look again after this long."""
PROMPT_CHARS = 200
"""The end of the text before the window, passed to Whisper as ``initial_prompt``. It makes a pass about a
quarter dearer on this machine, but without it short windows lose words and the captions come later."""
TENTATIVE_WORDS = 24
"""At most this many tentative words are shown."""

Prompt = Callable[[], str]


class LiveCaptions:
    """The captions of one recording while it is captured.

    Args:
        recording_id: The recording.
        worker: Returns the worker to caption with (``None`` or not ready while it is being (re)started).
        interval_seconds: New audio between passes.
        on_change: Called on the loop whenever the captions changed.
        final_text: The end of the final transcript so far (the prompt's beginning).
        wake_worker: Asks the transcriber to (re)start the worker.
    """

    def __init__(
        self,
        recording_id: int,
        *,
        worker: Callable[[], WorkerProcess | None],
        interval_seconds: float,
        on_change: Callable[[], None],
        final_text: Prompt = lambda: "",
        wake_worker: Callable[[], None] = lambda: None,
    ) -> None:
        self.recording_id = recording_id
        self.interval = max(int(interval_seconds * SAMPLE_RATE), 1)
        self._worker = worker
        self._on_change = on_change
        self._final_text = final_text
        self._wake_worker = wake_worker
        self._blocks: list[np.ndarray] = []
        self._base = 0
        """Sample offset (in the recording) of the first buffered sample."""
        self.received = 0
        """Samples fed so far."""
        self.start = 0
        """Where the next pass begins: the end of the last agreed word (or of the final transcript)."""
        self.passed = 0
        """The end of the audio the last pass read."""
        self.agreed: list[Word] = []
        self.tentative: list[Word] = []
        self.passes = 0
        self.pass_seconds = 0.0
        self.skipped_seconds = 0.0
        self._covered = 0.0
        self._more = asyncio.Event()
        self._closed = False
        self._was_behind = False

    # -- input ----------------------------------------------------------------------------------------------

    def feed(self, block: np.ndarray) -> None:
        """Add a block the capture just spooled."""
        self._blocks.append(block)
        self.received += len(block)
        self._forget()
        if self.behind != self._was_behind:
            self._was_behind = self.behind
            self._on_change()
        if self.received - self.passed >= self.interval:
            self._more.set()

    def final_until(self, seconds: float, *, last: bool = False) -> None:
        """The final transcript now covers the recording up to ``seconds``: its words replace the captions'."""
        self._covered = max(self._covered, seconds)
        # With the last chunk in, the final text is the whole recording: a word Whisper timed past its end is
        # not shown beside it.
        self.agreed = [] if last else after(self.agreed, seconds)
        self.tentative = [] if last else after(self.tentative, seconds)
        if last:  # a pass still under way (it may finish after the last chunks) must not bring words back
            self.close()
        covered = int(seconds * SAMPLE_RATE)
        if covered > self.start:
            self.start = min(covered, self.received)
        self._on_change()

    def close(self) -> None:
        """Stop captioning (the recording stopped); what is shown stays until the final transcript replaces it."""
        self._closed = True
        self._more.set()

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def lag_seconds(self) -> float:
        """Audio heard but not yet read by a caption pass."""
        return (self.received - self.passed) / SAMPLE_RATE

    @property
    def behind(self) -> bool:
        """The captions lag more than :data:`BEHIND_SECONDS` behind the speech."""
        return not self._closed and self.lag_seconds > BEHIND_SECONDS

    def view(self) -> dict[str, Any]:
        """The live part of the screen part ``captions``: text only, never who said it."""
        return {
            "agreed": join(self.agreed),
            "tentative": join(self.tentative[:TENTATIVE_WORDS]),
            "behind": self.behind,
            "lag_seconds": round(self.lag_seconds, 1),
        }

    # -- the passes -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Caption passes until :meth:`close` (runs as a task; never raises but for cancellation)."""
        previous: list[Word] = []
        while not self._closed:
            if self.received - self.passed < self.interval:
                self._more.clear()
                await self._more.wait()
                continue
            worker = self._worker()
            if worker is None or not worker.ready:
                self._wake_worker()
                await asyncio.sleep(WORKER_WAIT_SECONDS)
                continue
            self._skip_if_behind()
            if self.received - self.start < MIN_WINDOW_SECONDS * SAMPLE_RATE:
                self.passed = self.received
                continue
            begin, end = self.start, self.received
            window = self._audio(begin, end)
            prompt = (self._final_text() + " " + join(self.agreed)).strip()[-PROMPT_CHARS:]
            try:
                words, seconds = await worker.caption(window, prompt)
            except WorkerCrashed as exc:
                log.warning("recording %s: caption pass lost, the worker is restarting: %s", self.recording_id, exc)
                self._wake_worker()
                await asyncio.sleep(WORKER_WAIT_SECONDS)
                continue
            except AdapterError as exc:
                log.warning("recording %s: caption pass failed: %s", self.recording_id, exc.detail)
                self.passed = end
                continue
            if self._covered * SAMPLE_RATE >= self.received and self._closed:
                break  # the final transcript already has all of it
            self.passes += 1
            self.pass_seconds += seconds
            self.passed = max(self.passed, end)
            offset = begin / SAMPLE_RATE
            heard = after([Word(offset + s, offset + e, t) for s, e, t in words], max(offset, self._covered))
            if begin != self.start:  # the final transcript moved the window while this pass ran
                heard = after(heard, self.start / SAMPLE_RATE)
                previous = after(previous, self.start / SAMPLE_RATE)
            count = agreed_prefix(previous, heard)
            settled = end / SAMPLE_RATE - SETTLED_SECONDS
            while count < len(heard) and heard[count].end <= settled:
                count += 1
            if count:
                self.agreed = [*self.agreed, *heard[:count]]
                self.start = max(self.start, min(int(heard[count - 1].end * SAMPLE_RATE), end))
            elif not heard:  # nothing heard (a pause, or nothing Whisper can make out): read less of it again
                self.start = max(self.start, end - int(SETTLED_SECONDS * SAMPLE_RATE))
            self.tentative = heard[count:]
            previous = self.tentative
            self._on_change()

    def _skip_if_behind(self) -> None:
        """Read at most :data:`MAX_WINDOW_SECONDS`: when more waits, skip the oldest part (it is behind)."""
        longest = int(MAX_WINDOW_SECONDS * SAMPLE_RATE)
        if self.received - self.start > longest:
            skip = self.received - longest
            self.skipped_seconds += (skip - self.start) / SAMPLE_RATE
            log.info(
                "recording %s: captions skip %.1f s to catch up", self.recording_id, (skip - self.start) / SAMPLE_RATE
            )
            self.start = skip
            self.tentative = []

    def _audio(self, begin: int, end: int) -> np.ndarray:
        """Samples ``begin`` to ``end``; the buffer then starts at ``begin`` (nothing before it is read again)."""
        audio = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        audio = audio[max(begin - self._base, 0) :]
        self._base = max(begin, self._base)
        self._blocks = [audio] if len(audio) else []
        return audio[: end - self._base]

    def _forget(self) -> None:
        """Keep only the audio a pass may still read (at most :data:`MAX_WINDOW_SECONDS` and a block or so)."""
        keep_from = max(self.start, self.received - int(MAX_WINDOW_SECONDS * SAMPLE_RATE), self._base)
        while self._blocks and self._base + len(self._blocks[0]) <= keep_from:
            self._base += len(self._blocks[0])
            self._blocks.pop(0)
