"""The transcription worker: faster-whisper in a process of its own, and the service's handle on it.

The worker is started with the ``spawn`` method (a fresh interpreter: no threads or sockets of the service are
inherited), runs at a lower CPU priority than the room (:data:`WORKER_NICENESS`, so taps and the screens stay
fast), loads the model once (int8 on the CPU) and then answers two kinds of request, each in a thread of its own:

- ``transcribe``: a sealed chunk file for the final transcript (beam search, 30 s encoder window);
- ``caption``: a few seconds of audio for the live captions (greedy, temperature 0, word timestamps, an encoder
  window only as long as the audio: see :func:`windowed_model`).

With ``parallel = 2`` CTranslate2 runs both at once on the one copy of the model. The handle matches replies to
requests by key and detects a dead worker through the process sentinel, so a crash surfaces at once as
:class:`WorkerCrashed` in every request that waits; the caller restarts the worker and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

LOAD_TIMEOUT_SECONDS = 120.0
"""Longest a worker may take to load its model."""
CHUNK_TIMEOUT_SECONDS = 300.0
"""A chunk that takes longer is taken as a hung worker: it is killed and restarted."""
CAPTION_TIMEOUT_SECONDS = 60.0
"""A caption request that takes longer is taken as a hung worker."""
POLL_SECONDS = 0.25
"""The waiting thread checks this often whether it should give up (so cancellation is prompt)."""
STOP_GRACE_SECONDS = 3.0
"""A worker asked to stop that is still alive after this is killed."""
MAX_CPU_THREADS = 4
WARMUP_SAMPLES = 16_000
"""One second of silence transcribed right after loading."""
WORKER_NICENESS = 19
"""The worker's CPU priority, the lowest; on Linux it also runs under ``SCHED_IDLE``, so when the room wakes for
a tap or a tablet command it preempts the worker at once (Whisper only ever runs behind the audio; it catches
up in the room's idle time). Every thread the worker starts inherits both."""
SAMPLE_RATE = 16_000
CAPTION_WINDOW_MARGIN_SECONDS = 1.0
"""The caption encoder window is the audio's length plus this (rounded up to whole seconds)."""
CAPTION_TOKENS_PER_SECOND = 6
"""At most this many text tokens per second of caption audio (stops a repetition loop early)."""
CAPTION_MIN_TOKENS = 8
MAX_WINDOW_SECONDS = 30
CHUNK_TEMPERATURES = (0.0, 0.4, 0.8)
"""A chunk is decoded at temperature 0; only when the text repeats itself (compression ratio above 2.4, a
decoding loop) is it decoded again, warmer. Low confidence alone causes no second decoding (it is slow and, on
hard audio, frequent)."""


class WorkerCrashed(AdapterError):  # noqa: N818 - the name says what happened
    """The worker process died or hung while working."""


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker needs to load its model and transcribe.

    Attributes:
        parallel: Requests CTranslate2 runs at the same time (2: a caption need not wait for a chunk).
        threads: CPU threads per request (0 = the cores divided among ``parallel``, at most
            :data:`MAX_CPU_THREADS`).
    """

    model_path: str
    language: str = "nl"
    beam_size: int = 2
    threads: int = 0
    parallel: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_threads(self) -> int:
        """Threads per request for CTranslate2."""
        if self.threads:
            return self.threads
        return max(1, min((os.cpu_count() or 1) // max(self.parallel, 1), MAX_CPU_THREADS))


# -- the worker process -------------------------------------------------------------------------------------


def windowed_model(path: str, *, cpu_threads: int, parallel: int) -> Any:
    """A faster-whisper model whose encoder honours ``chunk_length`` (shorter windows for captions).

    faster-whisper 1.2 pads every window's features to 30 s before the encoder, whatever ``chunk_length``
    says; CTranslate2's Whisper encoder accepts shorter inputs, and a 4 s window costs about a tenth of a 30 s
    one. The decoder then sees only the audio there is, so timestamps stay within it.
    """
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):
        def encode(self, features: np.ndarray) -> Any:
            frames = self.feature_extractor.nb_max_frames
            if features.shape[-1] > frames:
                features = features[..., :frames]
            return super().encode(features)

    return WindowedWhisperModel(
        path, device="cpu", compute_type="int8", cpu_threads=cpu_threads, num_workers=parallel, local_files_only=True
    )


def caption_words(model: Any, samples: np.ndarray, prompt: str, language: str) -> list[tuple[float, float, str]]:
    """Words heard in ``samples`` (int16), with times in seconds from their start: greedy, temperature 0.

    One window, decoded without timestamp tokens (fewer tokens to generate); the words' times come from the
    cross-attention alignment.
    """
    audio = samples.astype(np.float32) / 32768.0
    seconds = len(audio) / SAMPLE_RATE
    window = min(MAX_WINDOW_SECONDS, math.ceil(seconds + CAPTION_WINDOW_MARGIN_SECONDS))
    segments, _ = model.transcribe(
        audio,
        language=language,
        beam_size=1,
        best_of=1,
        temperature=0.0,
        vad_filter=True,
        initial_prompt=prompt or None,
        condition_on_previous_text=False,
        without_timestamps=True,
        word_timestamps=True,
        chunk_length=window,
        max_new_tokens=CAPTION_MIN_TOKENS + int(seconds * CAPTION_TOKENS_PER_SECOND),
        no_repeat_ngram_size=3,
    )
    # Without timestamp tokens the first window is one segment. faster-whisper would then decode the rest after
    # its last word again, as a window of its own: for a caption, a second pass for a fragment the next pass
    # reads anyway. The segments are a generator, so taking the first one alone never starts that window.
    first = next(iter(segments), None)
    heard = (first.words or []) if first is not None else []
    words = []
    for word in heard:
        if word.start < seconds and word.word.strip():
            words.append((round(float(word.start), 3), round(min(float(word.end), seconds), 3), word.word))
    return words


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Entry point of the worker process: load the model, then answer requests until ``stop``."""
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    with contextlib.suppress(OSError, AttributeError):  # Linux: a waking room thread preempts the worker at once
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    from threadpoolctl import threadpool_limits

    # numpy's BLAS (the mel filterbank of every request) would start a thread per core that spins after each
    # product: a quarter of a caption pass's CPU time for nothing. CTranslate2 keeps its own threads.
    threadpool_limits(limits=1, user_api="blas")
    try:
        import soundfile

        model = windowed_model(config.model_path, cpu_threads=config.cpu_threads, parallel=config.parallel)
        # Captions get a model object of their own (same CTranslate2 model) so their shorter window never
        # changes the chunk thread's feature extractor.
        live = copy.copy(model)
        live.feature_extractor = copy.deepcopy(model.feature_extractor)
        # Warm up (loads the VAD model, allocates buffers) so the first real chunk is not slower.
        list(model.transcribe(np.zeros(WARMUP_SAMPLES, dtype=np.float32), language=config.language, vad_filter=True)[0])
    except Exception as exc:
        conn.send(("load_error", f"{type(exc).__name__}: {exc}"))
        return
    sending = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with sending, contextlib.suppress(OSError, EOFError):
            conn.send(message)

    def chunks(jobs: queue.Queue[tuple[Any, ...] | None]) -> None:
        while (job := jobs.get()) is not None:
            _, key, path, prompt, beam = job
            started = time.perf_counter()
            try:
                audio, _rate = soundfile.read(path, dtype="float32")
                segments, _info = model.transcribe(
                    audio,
                    language=config.language,
                    beam_size=beam or config.beam_size,
                    temperature=CHUNK_TEMPERATURES,
                    log_prob_threshold=None,
                    vad_filter=True,
                    initial_prompt=prompt or None,
                    condition_on_previous_text=False,
                    **config.options,
                )
                found = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
            except Exception as exc:
                send(("error", key, f"{type(exc).__name__}: {exc}"))
                continue
            send(("result", key, found, time.perf_counter() - started))

    def captions(jobs: queue.Queue[tuple[Any, ...] | None]) -> None:
        while (job := jobs.get()) is not None:
            _, key, pcm, prompt = job
            started = time.perf_counter()
            try:
                words = caption_words(live, np.frombuffer(pcm, dtype="<i2"), prompt, config.language)
            except Exception as exc:
                send(("error", key, f"{type(exc).__name__}: {exc}"))
                continue
            send(("result", key, words, time.perf_counter() - started))

    send(("ready", {"pid": os.getpid(), "multilingual": bool(model.model.is_multilingual)}))
    queues: dict[str, queue.Queue[tuple[Any, ...] | None]] = {"transcribe": queue.Queue(), "caption": queue.Queue()}
    served = [
        *((queues["transcribe"], chunks, f"chunks-{k}") for k in range(max(config.parallel, 1))),
        (queues["caption"], captions, "captions"),
    ]
    threads = [threading.Thread(target=work, args=(jobs,), name=name, daemon=True) for jobs, work, name in served]
    for thread in threads:
        thread.start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "stop":
            break
        if message[0] in queues:
            queues[message[0]].put(message)
    for jobs, _, _ in served:  # one end mark per thread that serves the queue
        jobs.put(None)
    for thread in threads:
        thread.join(STOP_GRACE_SECONDS)


# -- the service's handle -----------------------------------------------------------------------------------


class WorkerProcess:
    """A running worker process, as seen by the service.

    Attributes:
        captioning: True while a caption request is under way.
        restarts: How often the worker was started after a crash.
    """

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.captioning = False
        self.restarts = 0
        self.multilingual: bool | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[Any, asyncio.Future[tuple[Any, ...]]] = {}
        self._chunk_slots = asyncio.Semaphore(max(config.parallel, 1))
        self._in_flight: dict[Any, None] = {}
        self._caption_lock = asyncio.Lock()
        self._captions = 0

    @property
    def busy(self) -> Any:
        """The key of the oldest chunk being transcribed, ``None`` when none is."""
        return next(iter(self._in_flight), None)

    @property
    def in_flight(self) -> int:
        """How many chunks are being transcribed now."""
        return len(self._in_flight)

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._process.pid if self.alive else None

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._process is not None and self._process.is_alive()

    @property
    def ready(self) -> bool:
        """True while the process runs with its model loaded (requests are answered)."""
        return self.alive and self._reader is not None and not self._reader.done()

    async def start(self) -> None:
        """Start the process and wait until the model is loaded.

        Raises:
            AdapterError: The model cannot be loaded (the message names the cause).
            WorkerCrashed: The process died while loading.
        """
        await self._kill()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=worker_main, args=(child, self.config), name="roomctl-whisper", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        reply = await self._receive(LOAD_TIMEOUT_SECONDS, "loading the model")
        if reply[0] == "load_error":
            await self._kill()
            raise AdapterError(
                f"the speech model in {self.config.model_path} cannot be loaded ({reply[1]}); "
                "reinstall it with `roomctl models install`",
                model=self.config.model_path,
            )
        self.multilingual = reply[1]["multilingual"]
        self._reader = asyncio.create_task(self._read(process, parent), name="speech-worker-reader")
        log.info("speech worker %s ready (model %s)", process.pid, self.config.model_path)

    async def transcribe(
        self, key: Any, path: Path, prompt: str, beam_size: int | None = None
    ) -> tuple[list[dict[str, Any]], float]:
        """Transcribe one chunk file (as many at once as the worker runs requests in parallel).

        Returns:
            The segments (times relative to the chunk) and the seconds it took.

        Raises:
            WorkerCrashed: The worker died or hung; it is not running afterwards.
            AdapterError: Whisper failed on this chunk (the worker is still fine).
        """
        async with self._chunk_slots:
            self._in_flight[key] = None
            try:
                reply = await self._request(
                    key, ("transcribe", key, str(path), prompt, beam_size), CHUNK_TIMEOUT_SECONDS, f"chunk {key}"
                )
            finally:
                self._in_flight.pop(key, None)
        if reply[0] == "error":
            raise AdapterError(f"Whisper failed on chunk {key}: {reply[2]}")
        return reply[2], float(reply[3])

    async def caption(self, samples: np.ndarray, prompt: str) -> tuple[list[tuple[float, float, str]], float]:
        """The words in a few seconds of audio (int16), for the live captions (one request at a time).

        Returns:
            ``(start, end, word)`` with times relative to ``samples``, and the seconds it took.

        Raises:
            WorkerCrashed: The worker died or hung.
            AdapterError: Whisper failed on this audio.
        """
        async with self._caption_lock:
            self._captions += 1
            key = ("caption", self._captions)
            self.captioning = True
            try:
                pcm = samples.astype("<i2").tobytes()
                reply = await self._request(key, ("caption", key, pcm, prompt), CAPTION_TIMEOUT_SECONDS, "captioning")
            finally:
                self.captioning = False
        if reply[0] == "error":
            raise AdapterError(f"Whisper failed on caption audio: {reply[2]}")
        return [(float(w[0]), float(w[1]), str(w[2])) for w in reply[2]], float(reply[3])

    async def _request(self, key: Any, message: tuple[Any, ...], timeout: float, doing: str) -> tuple[Any, ...]:
        if not self.alive or self._conn is None or self._reader is None or self._reader.done():
            raise WorkerCrashed("the speech worker is not running")
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            try:
                self._conn.send(message)
            except (OSError, EOFError) as exc:
                await self._kill()
                raise WorkerCrashed(f"the speech worker died ({exc})") from None
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.shield(future)
            except TimeoutError:
                await self._kill()
                raise WorkerCrashed(f"the speech worker hung while {doing}; it was stopped") from None
        finally:
            self._pending.pop(key, None)

    async def _read(self, process: Any, conn: Connection) -> None:
        """Hand each reply to the request waiting for it; fail them all when the process dies."""
        why = "the speech worker stopped"
        try:
            while True:
                ready = await asyncio.to_thread(wait, [conn, process.sentinel], POLL_SECONDS)
                if conn in ready:
                    try:
                        message: tuple[Any, ...] = conn.recv()
                    except (EOFError, OSError):
                        break
                    future = self._pending.get(message[1]) if len(message) > 1 else None
                    if future is not None and not future.done():
                        future.set_result(message)
                    elif message[0] in ("result", "error"):
                        log.debug("speech worker answered %r, which no one waits for any more", message[1])
                    else:
                        log.warning("speech worker sent an unexpected message %r", message[0])
                elif process.sentinel in ready:
                    break
            await asyncio.to_thread(process.join, STOP_GRACE_SECONDS)
            why = f"the speech worker died (exit code {process.exitcode})"
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(WorkerCrashed(why))
            if self._process is process:
                self._process = self._conn = None
                with contextlib.suppress(OSError):
                    conn.close()

    async def _receive(self, timeout: float, doing: str) -> tuple[Any, ...]:
        assert self._conn is not None and self._process is not None
        deadline = time.monotonic() + timeout
        conn, sentinel = self._conn, self._process.sentinel
        while time.monotonic() < deadline:
            ready = await asyncio.to_thread(wait, [conn, sentinel], POLL_SECONDS)
            if conn in ready:
                try:
                    message: tuple[Any, ...] = conn.recv()
                except (EOFError, OSError):
                    break
                return message
            if sentinel in ready:
                break
        else:
            await self._kill()
            raise WorkerCrashed(f"the speech worker hung while {doing}; it was stopped")
        process = self._process
        await self._kill()
        code = process.exitcode if process is not None else None
        raise WorkerCrashed(f"the speech worker died while {doing} (exit code {code})")

    async def _kill(self) -> None:
        process, conn, reader = self._process, self._conn, self._reader
        self._process = self._conn = None
        self._reader = None
        if process is not None:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, STOP_GRACE_SECONDS)
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)
        if conn is not None:
            conn.close()

    async def stop(self) -> None:
        """Ask the worker to finish, then make sure it is gone."""
        if self._conn is not None and self.alive:
            try:
                self._conn.send(("stop",))
                await asyncio.to_thread(self._process.join, STOP_GRACE_SECONDS)
            except (OSError, EOFError):
                pass
        await self._kill()

    def _status_field(self, name: str) -> int:
        if not self.alive:
            return 0
        try:
            for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
                if line.startswith(name):
                    return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def peak_rss_kb(self) -> int:
        """The worker's peak resident memory (``VmHWM``) in KiB, 0 when not running."""
        return self._status_field("VmHWM:")

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the worker has used so far; 0 when not running."""
        if not self.alive:
            return 0.0
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
