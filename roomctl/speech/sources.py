"""Where the brainstorm's audio comes from: a microphone (ALSA through sounddevice) or WAV files played in time.

Every source yields blocks of 16 kHz mono 16-bit samples (``numpy.int16``) through :meth:`AudioSource.read`
and ``None`` when it ends. A source that fails (no microphone, microphone unplugged) raises
:class:`~roomctl.errors.AdapterError` with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""Whisper's sample rate; every source delivers it."""
BLOCK_SECONDS = 0.1
"""Length of one block a source yields."""
BLOCK_SAMPLES = int(SAMPLE_RATE * BLOCK_SECONDS)
DEVICE_WAIT_SECONDS = 2.0
"""A microphone that delivers nothing for this long is treated as gone."""


class AudioSource(Protocol):
    """A source of 16 kHz mono int16 audio."""

    description: str

    async def open(self) -> None:
        """Start delivering audio.

        Raises:
            AdapterError: The source cannot be opened.
        """
        ...

    async def read(self) -> np.ndarray | None:
        """The next block, or ``None`` when the source has ended.

        Raises:
            AdapterError: The source failed while recording.
        """
        ...

    async def close(self) -> None:
        """Stop delivering audio; must not raise."""
        ...


_CLOSED = np.zeros(0, dtype=np.int16)
"""Put in the queue by :meth:`SoundDeviceSource.close` so a waiting read ends at once."""


class SoundDeviceSource:
    """A microphone through PortAudio/ALSA (``sounddevice``, imported when opened)."""

    def __init__(self, device: str = "") -> None:
        self.device: int | str | None = int(device) if device.isdigit() else (device or None)
        self.description = f"microphone {device or '(default input)'}"
        self._stream: Any = None
        self._queue: asyncio.Queue[np.ndarray | BaseException] = asyncio.Queue()
        self._closing = False

    async def open(self) -> None:
        """Open the input stream at 16 kHz mono.

        Raises:
            AdapterError: sounddevice/PortAudio is missing or no (such) input device exists.
        """
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise AdapterError(
                f"cannot use the microphone: sounddevice/PortAudio is not available ({exc}); "
                "install libportaudio2 and the `pi` extra"
            ) from None
        loop = asyncio.get_running_loop()

        def callback(indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
            if status:
                log.debug("microphone status: %s", status)
            loop.call_soon_threadsafe(self._queue.put_nowait, indata[:, 0].copy())

        def finished() -> None:
            if not self._closing:
                gone = AdapterError("the microphone stopped delivering audio (unplugged?); recording was stopped")
                loop.call_soon_threadsafe(self._queue.put_nowait, gone)

        try:
            sd.check_input_settings(device=self.device, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
            self._stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=BLOCK_SAMPLES,
                device=self.device,
                callback=callback,
                finished_callback=finished,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise AdapterError(
                f"no usable microphone ({self.description}): {exc}; connect a USB microphone or set "
                "[speech] device to one listed by `python -m sounddevice`",
                device=str(self.device or ""),
            ) from None

    async def read(self) -> np.ndarray | None:
        """The next block from the microphone."""
        if self._stream is None and self._queue.empty():
            return None
        try:
            async with asyncio.timeout(DEVICE_WAIT_SECONDS):
                item = await self._queue.get()
        except TimeoutError:
            raise AdapterError("the microphone delivers no audio (unplugged?); recording was stopped") from None
        if isinstance(item, BaseException):
            raise item
        if item is _CLOSED:
            return None
        return item

    async def close(self) -> None:
        """Stop and close the stream."""
        self._closing = True
        stream, self._stream = self._stream, None
        self._queue.put_nowait(_CLOSED)
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                log.exception("closing the microphone failed")


def load_wav(path: Path) -> np.ndarray:
    """Read a sound file as 16 kHz mono int16 (mixing channels down and resampling when needed).

    Raises:
        AdapterError: The file is missing or not a sound file.
    """
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise AdapterError(f"cannot play {path} as simulated microphone: {exc}") from None
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE and len(mono):
        duration = len(mono) / rate
        target = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
        mono = np.interp(target, np.arange(len(mono)) / rate, mono).astype(np.float32)
    return (np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


class WavSource:
    """A simulated microphone: plays sound files at the pace of the clock, then silence (or ends).

    Args:
        paths: Files to play in order.
        speed: How much faster than real time (tests use e.g. 20).
        then_silence: After the files, deliver silence until closed (a quiet room) instead of ending.
    """

    def __init__(self, paths: Sequence[Path], *, speed: float = 1.0, then_silence: bool = True) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.paths = [Path(p) for p in paths]
        self.speed = speed
        self.then_silence = then_silence
        self.description = "simulated microphone" + (f" ({', '.join(p.name for p in self.paths)})" if paths else "")
        self._audio = np.zeros(0, dtype=np.int16)
        self._position = 0
        self._started = 0.0
        self._open = False
        self._loaded = False

    async def open(self) -> None:
        """Load the files (off the loop) and start the clock."""
        clips = [await asyncio.to_thread(load_wav, p) for p in self.paths]
        self._audio = np.concatenate(clips) if clips else np.zeros(0, dtype=np.int16)
        self._position = 0
        self._started = asyncio.get_running_loop().time()
        self._open = True
        self._loaded = True

    async def read(self) -> np.ndarray | None:
        """The next block, delivered no earlier than it would be spoken."""
        if not self._open:
            return None
        if self._position >= len(self._audio) and not self.then_silence:
            return None
        due = self._started + (self._position + BLOCK_SAMPLES) / SAMPLE_RATE / self.speed
        delay = due - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        block = self._audio[self._position : self._position + BLOCK_SAMPLES]
        if len(block) < BLOCK_SAMPLES and self.then_silence:
            block = np.concatenate([block, np.zeros(BLOCK_SAMPLES - len(block), dtype=np.int16)])
        self._position += BLOCK_SAMPLES
        return block

    @property
    def finished(self) -> bool:
        """True once every file has been played."""
        return self._loaded and self._position >= len(self._audio)

    async def close(self) -> None:
        """Stop playing."""
        self._open = False
