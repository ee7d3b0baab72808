"""The audio spool: the recording on disk as it arrives, so a crash or restart loses nothing.

Per recording a directory ``<data_dir>/spool/<recording_id>/`` holds

- ``NNNNN-SSSSSSSSSS.wav``: sealed chunks (index ``N``, first sample ``S`` in the recording), waiting for or
  done with transcription; deleted once transcribed (or after the retention time);
- ``open-SSSSSSSSSS.pcm``: raw 16-bit samples since the last cut, appended as they arrive and synced to disk
  every :data:`SYNC_SECONDS`.

A cut writes the chunk file (temporary name, fsync, rename), then the new open file with the samples after the
cut, then removes the old open file. After a crash in between, :func:`recover` keeps from the newest open file
only the samples after the last sealed chunk, so no audio is lost or doubled.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile

from roomctl.speech.sources import SAMPLE_RATE

log = logging.getLogger(__name__)

SYNC_SECONDS = 1.0
"""Audio appended to the open file is synced to disk at least this often (at most this much is lost)."""
SAMPLE_BYTES = 2
CHUNK_RE = re.compile(r"^(\d{5})-(\d{10})\.wav$")
OPEN_RE = re.compile(r"^open-(\d{10})\.pcm$")


@dataclass(frozen=True)
class SpooledChunk:
    """A sealed chunk on disk."""

    index: int
    start: int
    path: Path


def chunk_path(directory: Path, index: int, start: int) -> Path:
    """The file of chunk ``index`` starting at sample ``start``."""
    return directory / f"{index:05d}-{start:010d}.wav"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write ``samples`` as a 16 kHz mono WAV, durably (temporary name, fsync, rename)."""
    encoded = io.BytesIO()  # encode in memory: a full disk then fails as a plain OSError on write
    soundfile.write(encoded, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(encoded.getbuffer())
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


class RecordingSpool:
    """The spool of one recording that is being captured (used by one task at a time)."""

    def __init__(self, root: Path, recording_id: int) -> None:
        self.directory = root / f"{recording_id:06d}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open_start = 0
        self._file: IO[bytes] | None = None
        self._unsynced = 0
        self._start_open(0, np.zeros(0, dtype=np.int16))

    def _open_path(self, start: int) -> Path:
        return self.directory / f"open-{start:010d}.pcm"

    def _start_open(self, start: int, samples: np.ndarray) -> None:
        path = self._open_path(start)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(samples.astype("<i2").tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        _fsync_dir(self.directory)
        old, old_start = self._file, self._open_start
        self._file = path.open("ab")
        self._open_start = start
        self._unsynced = 0
        if old is not None:
            old.close()
            if old_start != start:
                self._open_path(old_start).unlink(missing_ok=True)

    def append(self, block: np.ndarray) -> None:
        """Append samples to the open file (synced every :data:`SYNC_SECONDS`).

        Raises:
            OSError: The disk is full or failing.
        """
        if self._file is None:
            raise OSError("the spool is closed")
        self._file.write(block.astype("<i2").tobytes())
        self._unsynced += len(block)
        if self._unsynced >= SYNC_SECONDS * SAMPLE_RATE:
            self.sync()

    def sync(self) -> None:
        """Flush the open file to disk."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._unsynced = 0

    def seal(self, index: int, start: int, samples: np.ndarray, rest: np.ndarray) -> SpooledChunk:
        """Store chunk ``index`` (``samples`` from sample ``start``); the open file then holds only ``rest``."""
        path = chunk_path(self.directory, index, start)
        write_wav(path, samples)
        self._start_open(start + len(samples), rest)
        return SpooledChunk(index, start, path)

    def close(self, *, remove_open: bool = False) -> None:
        """Close the open file (removing it once its samples were sealed)."""
        if self._file is not None:
            try:
                self.sync()
            finally:
                self._file.close()
                self._file = None
        if remove_open:
            self._open_path(self._open_start).unlink(missing_ok=True)

    def abandon(self) -> None:
        """Close the open file without syncing, after the disk failed; what reached it is recovered at restart."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def sealed_chunks(directory: Path) -> list[SpooledChunk]:
    """The sealed chunks in a recording's spool directory, by index."""
    found = []
    for path in directory.glob("*.wav"):
        match = CHUNK_RE.match(path.name)
        if match:
            found.append(SpooledChunk(int(match[1]), int(match[2]), path))
    return sorted(found, key=lambda c: c.index)


def recover(directory: Path) -> tuple[list[SpooledChunk], tuple[int, np.ndarray] | None]:
    """What a recording's spool holds after a crash: its sealed chunks, and the unsealed rest.

    Returns:
        The sealed chunks, and ``(start_sample, samples)`` of the audio after the last one (or ``None``).
        Stale open files are removed; the caller seals the rest as the last chunk.
    """
    chunks = sealed_chunks(directory)
    covered = max((c.start + soundfile.info(str(c.path)).frames for c in chunks), default=0)
    opens = sorted((int(m[1]), p) for p in directory.glob("open-*.pcm") if (m := OPEN_RE.match(p.name)))
    for tmp in directory.glob("*.tmp"):
        tmp.unlink()
    if not opens:
        return chunks, None
    for _, stale in opens[:-1]:
        stale.unlink()
    start, newest = opens[-1]
    raw = newest.read_bytes()
    samples = np.frombuffer(raw[: len(raw) - len(raw) % SAMPLE_BYTES], dtype="<i2").astype(np.int16)
    skip = max(covered - start, 0)
    rest = samples[skip:]
    if not len(rest):
        newest.unlink()
        return chunks, None
    return chunks, (start + skip, rest)


def remove_recording(root: Path, recording_id: int) -> None:
    """Delete a recording's spool directory."""
    shutil.rmtree(root / f"{recording_id:06d}", ignore_errors=True)


def recording_dirs(root: Path) -> list[tuple[int, Path]]:
    """Every recording directory in the spool, by id."""
    if not root.is_dir():
        return []
    return sorted((int(p.name), p) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def seal_recovered(directory: Path, index: int, start: int, samples: np.ndarray) -> SpooledChunk:
    """Seal the unsealed rest found by :func:`recover` as chunk ``index`` and remove the open file."""
    path = chunk_path(directory, index, start)
    write_wav(path, samples)
    for stale in directory.glob("open-*.pcm"):
        stale.unlink()
    return SpooledChunk(index, start, path)
