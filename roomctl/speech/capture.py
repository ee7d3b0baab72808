"""Capturing one recording: audio source → disk spool → quiet-point chunks, and what was on screen when.

Every block is appended to the spool before anything else happens to it, so what was heard is on disk within
:data:`~roomctl.speech.spool.SYNC_SECONDS`. When the chunker cuts, the chunk is sealed on disk and then
reported (the service records it and wakes the transcriber).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roomctl.errors import AdapterError
from roomctl.speech.chunker import Chunker
from roomctl.speech.sources import SAMPLE_RATE, AudioSource
from roomctl.speech.spool import RecordingSpool, SpooledChunk

log = logging.getLogger(__name__)

Context = tuple[str | None, str | None]
"""The step id and kader question id on screen."""


@dataclass
class CaptureResult:
    """How a capture ended.

    Attributes:
        error: ``None`` when stopped or the source ended; else the message key (``microphone_lost``, ``disk``).
        detail: What went wrong, for the log and the facilitator.
        chunks: How many chunks were sealed.
        seconds: Audio captured.
    """

    error: str | None = None
    detail: str = ""
    chunks: int = 0
    seconds: float = 0.0


class Capture:
    """One recording being captured (run once).

    Args:
        recording_id: The recording.
        source: Where the audio comes from (already open).
        spool_root: ``<data_dir>/spool``.
        chunk_seconds: Longest chunk.
        search_seconds: Tail searched for the quietest cut.
        on_chunk: Called on the loop with each sealed chunk and its length in samples.
        on_context: Called when the step or question on screen changes, with the offset in seconds.
        context: What is on screen now.
        on_block: Called with every block once it is spooled (the live captions hear it).
    """

    def __init__(
        self,
        recording_id: int,
        source: AudioSource,
        spool_root: Path,
        *,
        chunk_seconds: float,
        search_seconds: float,
        last_pieces: int = 1,
        on_chunk: Callable[[SpooledChunk, int], None],
        on_context: Callable[[float, Context], None],
        context: Callable[[], Context],
        on_block: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.recording_id = recording_id
        self.source = source
        self.spool = RecordingSpool(spool_root, recording_id)
        self.chunker = Chunker(chunk_seconds, search_seconds)
        self.last_pieces = last_pieces
        """The rest at stop is sealed as this many chunks (the worker transcribes them side by side)."""
        self._on_chunk = on_chunk
        self._on_context = on_context
        self._context = context
        self._on_block = on_block
        self._stop = asyncio.Event()
        self.ending = False
        """True once the capture seals its last chunk."""
        self._index = 0
        self._samples = 0

    def request_stop(self) -> None:
        """Stop after the current block (the rest is sealed as the last chunk)."""
        self._stop.set()

    @property
    def seconds(self) -> float:
        """Audio captured so far."""
        return self._samples / SAMPLE_RATE

    async def run(self) -> CaptureResult:
        """Capture until stopped, the source ends, or it fails; always seal what was captured."""
        result = CaptureResult()
        last: Context | None = None
        try:
            while not self._stop.is_set():
                reader = asyncio.ensure_future(self.source.read())
                stopper = asyncio.ensure_future(self._stop.wait())
                done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if reader not in done:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
                    break
                block = reader.result()
                if block is None:
                    break
                if not len(block):
                    continue
                now = self._context()
                if now != last:
                    self._on_context(self.seconds, now)
                    last = now
                await asyncio.to_thread(self.spool.append, block)
                self._samples += len(block)
                if self._on_block is not None:
                    self._on_block(block)
                for start, samples in self.chunker.feed(block):
                    await self._seal(start, samples)
        except AdapterError as exc:
            log.warning("recording %s: audio source failed: %s", self.recording_id, exc.detail)
            result.error, result.detail = "microphone_lost", exc.detail
        except OSError as exc:
            log.error("recording %s: spool write failed: %s", self.recording_id, exc)
            result.error = "disk"
            result.detail = f"writing audio to {self.spool.directory} failed: {exc.strerror or exc}"
        finally:
            await self.source.close()
        self.ending = True
        try:
            pieces = self.chunker.flush(self.last_pieces)
            for k, (start, samples) in enumerate(pieces):
                after = [p for _, p in pieces[k + 1 :]]
                await self._seal(start, samples, np.concatenate(after) if after else None)
            await asyncio.to_thread(self.spool.close, remove_open=True)
        except OSError as exc:
            log.error("recording %s: sealing the last chunk failed: %s", self.recording_id, exc)
            result.error = "disk"
            result.detail = f"the last audio stays in {self.spool.directory} and is transcribed after a restart ({exc})"
            self.spool.abandon()
        result.chunks, result.seconds = self._index, self.seconds
        return result

    async def _seal(self, start: int, samples: np.ndarray, rest: np.ndarray | None = None) -> None:
        rest = self.chunker.buffered if rest is None else rest
        chunk = await asyncio.to_thread(self.spool.seal, self._index, start, samples, rest)
        self._index += 1
        self._on_chunk(chunk, len(samples))
