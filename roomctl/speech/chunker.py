"""Cutting the stream into chunks for Whisper at quiet points, so a cut does not split a word.

Whisper reads 30 s windows. A chunk is cut when the buffer holds ``chunk_seconds``; the cut goes at the
quietest moment (lowest short-time energy) of the last ``search_seconds``, and what follows the cut starts
the next chunk.
"""

from __future__ import annotations

import numpy as np

from roomctl.speech.sources import SAMPLE_RATE

FRAME_SECONDS = 0.02
"""Energy is measured over frames this long."""
SMOOTH_FRAMES = 5
"""Frames averaged so a gap between words (not a single quiet frame inside a word) wins."""
MIN_PIECE_SECONDS = 6.0
"""At stop, the rest is split for parallel transcription only into parts at least this long."""


def quietest_cut(samples: np.ndarray, search: int, rate: int = SAMPLE_RATE) -> int:
    """Where to cut ``samples``: the middle of the quietest stretch in its last ``search`` samples.

    Among equally quiet stretches the latest wins (longer chunks, fewer cuts).

    Returns:
        An index into ``samples`` (``len(samples)`` when it is shorter than one frame).
    """
    frame = int(rate * FRAME_SECONDS)
    begin = max(len(samples) - search, 0)
    tail = samples[begin:].astype(np.float32)
    frames = len(tail) // frame
    if frames == 0:
        return len(samples)
    energy = np.square(tail[: frames * frame].reshape(frames, frame)).mean(axis=1)
    width = min(SMOOTH_FRAMES, frames)
    smooth = np.convolve(energy, np.ones(width) / width, mode="valid")
    best = len(smooth) - 1 - int(np.argmin(smooth[::-1]))
    return begin + (best + width // 2) * frame + frame // 2


class Chunker:
    """Collects blocks and hands out chunks cut at quiet points.

    Args:
        chunk_seconds: The longest chunk.
        search_seconds: The tail of a full chunk searched for the quietest point.
        start: Sample offset (in the recording) of the first sample fed.
    """

    def __init__(self, chunk_seconds: float, search_seconds: float, *, start: int = 0) -> None:
        self.limit = int(chunk_seconds * SAMPLE_RATE)
        self.search = min(int(search_seconds * SAMPLE_RATE), self.limit // 2)
        self.start = start
        self._blocks: list[np.ndarray] = []
        self._size = 0

    @property
    def buffered(self) -> np.ndarray:
        """The samples not yet handed out."""
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)

    def feed(self, block: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add ``block``; return the chunks that are now complete, as ``(start_sample, samples)``."""
        self._blocks.append(block)
        self._size += len(block)
        out: list[tuple[int, np.ndarray]] = []
        while self._size >= self.limit:
            audio = self.buffered
            cut = quietest_cut(audio[: self.limit], self.search)
            out.append((self.start, audio[:cut]))
            self.start += cut
            rest = audio[cut:]
            self._blocks = [rest] if len(rest) else []
            self._size = len(rest)
        return out

    def flush(self, pieces: int = 1) -> list[tuple[int, np.ndarray]]:
        """The rest as the last chunks (at stop), cut at quiet points into ``pieces`` about equal parts.

        The rest of a recording waits for the final transcript; in parts, the worker transcribes them side by
        side. A part is never shorter than :data:`MIN_PIECE_SECONDS`.
        """
        if not self._size:
            return []
        audio = self.buffered
        count = max(1, min(pieces, int(len(audio) / (MIN_PIECE_SECONDS * SAMPLE_RATE))))
        out: list[tuple[int, np.ndarray]] = []
        begin = 0
        for k in range(1, count):
            target = len(audio) * k // count
            window = int(self.search)
            cut = begin + quietest_cut(audio[begin : target + window // 2], window)
            out.append((self.start + begin, audio[begin:cut]))
            begin = cut
        out.append((self.start + begin, audio[begin:]))
        self.start += self._size
        self._blocks, self._size = [], 0
        return out
