"""The transcription worker: faster-whisper in a process of its own, and the service's handle on it.

The worker is started with the ``spawn`` method (a fresh interpreter: no threads or sockets of the service are
inherited), loads the model once (int8 on the CPU) and then transcribes one chunk file at a time. The handle
detects a dead worker through the process sentinel while it waits, so a crash surfaces at once as
:class:`WorkerCrashed`; the caller restarts the worker and retries the chunk.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
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
POLL_SECONDS = 0.25
"""The waiting thread checks this often whether it should give up (so cancellation is prompt)."""
STOP_GRACE_SECONDS = 3.0
"""A worker asked to stop that is still alive after this is killed."""
MAX_CPU_THREADS = 4
WARMUP_SAMPLES = 16_000
"""One second of silence transcribed right after loading."""


class WorkerCrashed(AdapterError):  # noqa: N818 - the name says what happened
    """The worker process died or hung while working."""


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker needs to load its model and transcribe."""

    model_path: str
    language: str = "nl"
    beam_size: int = 5
    threads: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_threads(self) -> int:
        """Threads for CTranslate2 (0 = the machine's cores, at most :data:`MAX_CPU_THREADS`)."""
        return self.threads or min(os.cpu_count() or 1, MAX_CPU_THREADS)


# -- the worker process -------------------------------------------------------------------------------------


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """Entry point of the worker process: load the model, then answer ``transcribe`` requests until ``stop``."""
    logging.basicConfig(level=logging.WARNING)
    try:
        import soundfile
        from faster_whisper import WhisperModel

        model = WhisperModel(
            config.model_path, device="cpu", compute_type="int8", cpu_threads=config.cpu_threads, local_files_only=True
        )
        # Warm up (loads the VAD model, allocates buffers) so the first real chunk is not slower.
        list(model.transcribe(np.zeros(WARMUP_SAMPLES, dtype=np.float32), language=config.language, vad_filter=True)[0])
    except Exception as exc:
        conn.send(("load_error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"pid": os.getpid(), "multilingual": bool(model.model.is_multilingual)}))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, key, path, prompt = message
        started = time.perf_counter()
        try:
            audio, _rate = soundfile.read(path, dtype="float32")
            segments, _info = model.transcribe(
                audio,
                language=config.language,
                beam_size=config.beam_size,
                temperature=0.0,
                vad_filter=True,
                initial_prompt=prompt or None,
                condition_on_previous_text=False,
                **config.options,
            )
            found = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
        except Exception as exc:
            conn.send(("error", key, f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("result", key, found, time.perf_counter() - started))


# -- the service's handle -----------------------------------------------------------------------------------


class WorkerProcess:
    """A running worker process, as seen by the service.

    Attributes:
        busy: The key of the chunk being transcribed, if any.
        restarts: How often the worker was started after a crash.
    """

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.busy: Any = None
        self.restarts = 0
        self.multilingual: bool | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._process.pid if self.alive else None

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._process is not None and self._process.is_alive()

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
        log.info("speech worker %s ready (model %s)", process.pid, self.config.model_path)

    async def transcribe(self, key: Any, path: Path, prompt: str) -> tuple[list[dict[str, Any]], float]:
        """Transcribe one chunk file.

        Returns:
            The segments (times relative to the chunk) and the seconds it took.

        Raises:
            WorkerCrashed: The worker died or hung; it is not running afterwards.
            AdapterError: Whisper failed on this chunk (the worker is still fine).
        """
        async with self._lock:
            if not self.alive or self._conn is None:
                raise WorkerCrashed("the speech worker is not running")
            self.busy = key
            try:
                self._conn.send(("transcribe", key, str(path), prompt))
                while True:
                    reply = await self._receive(CHUNK_TIMEOUT_SECONDS, f"transcribing chunk {key}")
                    if reply[0] in ("result", "error") and reply[1] == key:
                        break
                    log.warning("speech worker sent an unexpected message %r", reply[0])
            except (OSError, EOFError) as exc:
                await self._kill()
                raise WorkerCrashed(f"the speech worker died ({exc})") from None
            finally:
                self.busy = None
        if reply[0] == "error":
            raise AdapterError(f"Whisper failed on chunk {key}: {reply[2]}")
        return reply[2], float(reply[3])

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
        code = process.exitcode
        raise WorkerCrashed(f"the speech worker died while {doing} (exit code {code})")

    async def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, STOP_GRACE_SECONDS)

    async def stop(self) -> None:
        """Ask the worker to finish, then make sure it is gone."""
        if self._conn is not None and self.alive:
            try:
                self._conn.send(("stop",))
                await asyncio.to_thread(self._process.join, STOP_GRACE_SECONDS)
            except (OSError, EOFError):
                pass
        await self._kill()

    def peak_rss_kb(self) -> int:
        """The worker's peak resident memory (``VmHWM``) in KiB, 0 when not running."""
        if not self.alive:
            return 0
        try:
            for line in Path(f"/proc/{self._process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return 0
        return 0
