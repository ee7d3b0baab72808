"""The brainstorm pipeline with real faster-whisper and real models: espeak-ng speech in, transcript out."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from roomctl.config import Settings
from roomctl.core.room import Room
from roomctl.errors import AdapterError, StateError
from roomctl.session.events import StepChanged
from roomctl.speech import transcripts
from roomctl.speech.events import RecordingChanged, RecordingConsent, StartRecording, TranscriptReady
from roomctl.speech.models import model_dir
from roomctl.speech.service import SpeechService
from roomctl.speech.sources import SAMPLE_RATE, WavSource
from roomctl.store import open_database
from tests.conftest import wait_for
from tests.speech_helpers import (
    DUTCH_TEXT,
    DUTCH_VOICE,
    ENGLISH_TEXT,
    ENGLISH_VOICE,
    installed_model,
    silence_file,
    speech_file,
    wer,
)

pytestmark = pytest.mark.slow

SPEED = 10.0
"""The simulated microphone plays this much faster than real time."""
FAST_SPEED = 100.0
"""Fast enough that every chunk of a recording is spooled before the worker has transcribed the first."""
SESSION_STEP = StepChanged(source="session", session_id=7, group_id=1, index=2, step_id="brainstorm", kind="brainstorm", question_id="q3")
"""The session the recordings belong to, as the session capability announces it."""


@pytest.fixture(scope="module")
def english_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_file(ENGLISH_TEXT, tmp_path_factory.mktemp("audio") / "en.wav", ENGLISH_VOICE)


@pytest.fixture(scope="module")
def dutch_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_file(DUTCH_TEXT, tmp_path_factory.mktemp("audio") / "nl.wav", DUTCH_VOICE)


class Harness:
    """A room with the speech service, a simulated microphone and a record of the events it posted."""

    def __init__(
        self, settings: Settings, wav: list[Path], *, speed: float = SPEED, kind: type[WavSource] = WavSource
    ) -> None:
        self.room = Room(settings, open_database(settings.storage.database_path))
        self.sources: list[WavSource] = []

        def source() -> WavSource:
            made = kind(wav, speed=speed, then_silence=False)
            self.sources.append(made)
            return made

        self.service = SpeechService(self.room, source_factory=source)
        self.room.add_service(self.service)
        self.room.health.register("speech", self.service.health)
        self.changes: list[bool] = []
        self.ready: list[TranscriptReady] = []
        self.room.on(RecordingChanged, lambda e: self.changes.append(e.active))
        self.room.on(TranscriptReady, self.ready.append)

    async def record_all(self) -> float:
        """Consent, start, play every file, stop; return the seconds from stop to the final transcript."""
        await self.room.dispatch(RecordingConsent(source="test"))
        await self.room.dispatch(StartRecording(source="test"))
        await wait_for(lambda: self.sources and self.sources[-1].finished, timeout=60)
        stopped = time.perf_counter()
        await self.service.stop_recording()
        await wait_for(lambda: self.ready, timeout=60)
        return time.perf_counter() - stopped

    def transcript(self) -> dict[str, Any]:
        return transcripts.transcript(self.room.db, 7)


@pytest.fixture
def harness(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    @asynccontextmanager
    async def make(
        wav: list[Path], model: str = "tiny.en", language: str = "en", kind: type[WavSource] = WavSource, **speech: Any
    ) -> AsyncIterator[Harness]:
        settings = make_settings(speech={"model": model, "language": language, "chunk_seconds": 10, **speech})
        installed_model(model, model_dir(settings))
        h = Harness(settings, wav, kind=kind)
        await h.room.start()
        await h.room.dispatch(SESSION_STEP)
        try:
            yield h
        finally:
            await h.room.stop()

    return make


async def test_english_speech_is_transcribed_in_chunks_with_the_step_on_screen(harness: Any, english_wav: Path) -> None:
    async with harness([english_wav]) as h:
        lag = await h.record_all()
        result = h.transcript()
        chunks = transcripts.chunk_indexes(h.room.db, h.ready[0].recording_id)
        spool_dir = h.service.spool_root / f"{h.ready[0].recording_id:06d}"
        captions_cleared = await wait_for(lambda: h.room.screen.get("captions") is None, timeout=10)
        recording_part = h.room.screen.get("recording")
        health = h.room.health.report()["components"]["speech"]
    error = wer(" ".join(ENGLISH_TEXT), result["text"])
    print(f"English tiny.en: WER {error:.3f}, lag {lag:.2f} s, {len(chunks)} chunks")
    assert error < 0.25, result["text"]
    assert result["complete"] and result["failed_chunks"] == 0
    assert len(chunks) >= 2 and set(chunks.values()) == {"done"}
    assert {s["step_id"] for s in result["segments"]} == {"brainstorm"}
    assert {s["question_id"] for s in result["segments"]} == {"q3"}
    assert all("member" not in key and "speaker" not in key for key in result["segments"][0])
    starts = [s["start"] for s in result["segments"]]
    assert starts == sorted(starts) and starts[-1] > 8
    assert h.changes == [True, False]
    assert h.ready[0].session_id == 7
    assert not spool_dir.exists(), "audio must be deleted once transcribed"
    assert captions_cleared, "captions are cleared once the transcript is complete"
    assert recording_part["state"] == "idle" and recording_part["message"]["key"] == "ready"
    assert health["status"] == "ok"
    assert lag < 15


async def test_dutch_speech_with_the_multilingual_base_model(harness: Any, dutch_wav: Path) -> None:
    async with harness([dutch_wav], model="base", language="nl", chunk_seconds=12) as h:
        await h.record_all()
        result = h.transcript()
    error = wer(" ".join(DUTCH_TEXT), result["text"])
    print(f"Dutch base: WER {error:.3f}: {result['text']}")
    assert error < 0.7, result["text"]
    assert {"overdracht", "dienst"} & set(result["text"].lower().replace(".", " ").split())


async def test_a_killed_worker_is_restarted_and_no_chunk_is_lost_or_doubled(harness: Any, english_wav: Path) -> None:
    async with harness([english_wav, english_wav]) as h:
        await h.room.dispatch(RecordingConsent(source="test"))
        await h.room.dispatch(StartRecording(source="test"))
        worker = await wait_for(lambda: h.service.transcriber.worker, timeout=30)
        await wait_for(lambda: worker.busy is not None and worker.busy[1] >= 1, timeout=60, interval=0.005)
        killed = worker.busy
        os.kill(worker.pid, signal.SIGKILL)
        await wait_for(lambda: h.sources and h.sources[-1].finished, timeout=60)
        await h.service.stop_recording()
        await wait_for(lambda: h.ready, timeout=90)
        result = h.transcript()
        rid = h.ready[0].recording_id
        chunks = list(h.room.db.query("select idx, state, attempts, start_sample, samples from speech_chunks "
                                      "where recording_id = ? order by idx", [rid]))  # fmt: skip
        per_chunk = list(h.room.db.query("select chunk_idx, count(*) n from speech_segments group by chunk_idx"))
    assert worker.restarts >= 1
    assert [c["state"] for c in chunks] == ["done"] * len(chunks)
    assert next(c for c in chunks if c["idx"] == killed[1])["attempts"] == 2
    position = 0
    for chunk in chunks:
        assert chunk["start_sample"] == position, "chunks must tile the recording without gap or overlap"
        position += chunk["samples"]
    assert position >= 2 * 18 * SAMPLE_RATE
    assert {r["chunk_idx"] for r in per_chunk} <= {c["idx"] for c in chunks}
    error = wer(" ".join(ENGLISH_TEXT * 2), result["text"])
    assert error < 0.3, result["text"]


def queued_settings(make_settings: Callable[..., Settings]) -> Settings:
    """English with tiny.en (installed) in 10 s chunks: at :data:`FAST_SPEED` the chunks queue up for the worker."""
    settings = make_settings(speech={"model": "tiny.en", "language": "en", "chunk_seconds": 10})
    installed_model("tiny.en", model_dir(settings))
    return settings


async def record_to_the_end(h: Harness) -> Any:
    """Record all of ``h``'s sources in a session's step and stop; the speech worker (which is running)."""
    await h.room.dispatch(SESSION_STEP)
    await h.room.dispatch(RecordingConsent(source="test"))
    await h.room.dispatch(StartRecording(source="test"))
    worker = await wait_for(lambda: h.service.transcriber.worker, timeout=30)
    await wait_for(lambda: h.sources and h.sources[-1].finished, timeout=60)
    await h.service.stop_recording()
    return worker


async def test_a_worker_killed_under_two_chunks_at_once_loses_neither(
    make_settings: Callable[..., Settings], english_wav: Path
) -> None:
    h = Harness(queued_settings(make_settings), [english_wav] * 3, speed=FAST_SPEED)
    await h.room.start()
    try:
        worker = await record_to_the_end(h)  # the queued chunks now go side by side, one in each worker slot
        await wait_for(lambda: worker.in_flight >= 2, timeout=60, interval=0.005)
        os.kill(worker.pid, signal.SIGKILL)
        await wait_for(lambda: h.ready, timeout=120)
        rid = h.ready[0].recording_id
        chunks = list(h.room.db.query("select idx, state, attempts from speech_chunks where recording_id = ?", [rid]))
    finally:
        await h.room.stop()
    assert worker.restarts >= 1
    assert [c["state"] for c in chunks] == ["done"] * len(chunks), chunks
    # the two killed chunks were tried twice; none was sent to the worker while it was down, wasting attempts
    assert max(c["attempts"] for c in chunks) == 2, chunks


async def test_a_worker_that_dies_right_after_its_restart_is_started_again(
    make_settings: Callable[..., Settings], english_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(queued_settings(make_settings), [english_wav] * 2, speed=FAST_SPEED)
    await h.room.start()
    try:
        worker = await record_to_the_end(h)  # every chunk is spooled: no new chunk wakes the transcriber any more
        await wait_for(lambda: worker.in_flight >= 1, timeout=60, interval=0.005)
        started: list[int | None] = []
        start = worker.start

        async def start_then_die() -> None:
            """The first restart loads the model, and then the process dies at once."""
            await start()
            started.append(worker.pid)
            if len(started) == 1 and worker.pid is not None:
                os.kill(worker.pid, signal.SIGKILL)
                await asyncio.to_thread(worker._process.join, 5)

        monkeypatch.setattr(worker, "start", start_then_die)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        await wait_for(lambda: h.ready, timeout=60)
        rid = h.ready[0].recording_id
        chunks = list(h.room.db.query("select idx, state from speech_chunks where recording_id = ?", [rid]))
    finally:
        await h.room.stop()
    assert len(started) == 2, "the worker that died right after its restart was started once more"
    assert [c["state"] for c in chunks] == ["done"] * len(chunks), chunks


async def test_spool_survives_a_crash_and_is_transcribed_after_restart(
    make_settings: Callable[..., Settings], english_wav: Path
) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en", "chunk_seconds": 10})
    installed_model("tiny.en", model_dir(settings))
    first = Harness(settings, [english_wav], speed=4.0)
    await first.room.start()
    await first.room.dispatch(SESSION_STEP)
    await first.room.dispatch(RecordingConsent(source="test"))
    await first.room.dispatch(StartRecording(source="test"))
    await wait_for(lambda: first.service._capture is not None and first.service._capture.seconds > 14, timeout=30)
    # A crash: the capture and transcriber die where they stand; nothing is sealed or marked.
    assert first.service._capture_task is not None and first.service._dispatcher is not None
    first.service._capture_task.cancel()
    first.service._dispatcher.cancel()
    await asyncio.gather(first.service._capture_task, first.service._dispatcher, return_exceptions=True)
    if first.service.transcriber.worker is not None:
        await first.service.transcriber.worker.stop()
    first.room.db.conn.close()
    rid = first.service.recording_id
    assert rid is not None
    spooled = sorted(p.name for p in (first.service.spool_root / f"{rid:06d}").iterdir())
    assert any(name.startswith("open-") for name in spooled)

    second = Harness(settings, [english_wav])
    await second.room.start()
    try:
        await wait_for(lambda: second.ready, timeout=60)
        result = transcripts.transcript(second.room.db, 7)
    finally:
        await second.room.stop()
    assert result["complete"]
    assert result["recordings"][0]["id"] == rid
    said = " ".join(ENGLISH_TEXT)
    heard = result["text"]
    # At least the 14 s that were captured (about three of the four sentences) are in the transcript.
    assert wer(" ".join(ENGLISH_TEXT[:3]), heard) < 0.3, heard
    assert len(heard.split()) <= len(said.split()) + 3


async def test_silence_gives_no_segments_and_no_error(harness: Any, tmp_path: Path) -> None:
    async with harness([silence_file(tmp_path / "quiet.wav", 25)]) as h:
        await h.record_all()
        result = h.transcript()
        state = h.room.screen.get("recording")["state"]
    assert result["segments"] == [] and result["complete"]
    assert state == "idle"


async def test_no_microphone_is_a_clear_error_and_changes_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en", "source": "alsa", "device": "no-such-mic"})
    installed_model("tiny.en", model_dir(settings))
    room = Room(settings, open_database(settings.storage.database_path))
    service = SpeechService(room)
    room.add_service(service)
    await room.start()
    try:
        await room.dispatch(RecordingConsent(source="test"))
        with pytest.raises(AdapterError, match="microphone"):
            await room.dispatch(StartRecording(source="test"))
        part = room.screen.get("recording")
        recordings = room.db.execute("select count(*) from speech_recordings").fetchone()[0]
        await service.stop_recording()
        after_stop = room.screen.get("recording")["state"]
    finally:
        await room.stop()
    assert part["state"] == "error" and part["message"]["key"] == "no_microphone"
    assert "microfoon" in part["message"]["nl"] and "microphone" in part["message"]["en"]
    assert recordings == 0
    assert after_stop == "idle"


async def test_missing_and_corrupt_models_are_clear_errors(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(speech={"model": "tiny.en", "language": "en"})
    room = Room(settings, open_database(settings.storage.database_path))
    service = SpeechService(room, source_factory=lambda: WavSource([]))
    room.add_service(service)
    room.health.register("speech", service.health)
    await room.start()
    try:
        missing = room.screen.get("recording")
        with pytest.raises(AdapterError, match=r"models install tiny\.en"):
            await room.dispatch(RecordingConsent(source="test"))
        health = room.health.report()["components"]["speech"]
        # Damage the model: same size, other bytes.
        path = installed_model("tiny.en", model_dir(settings))
        size = (path / "model.bin").stat().st_size
        (path / "model.bin").unlink()
        (path / "model.bin").write_bytes(os.urandom(1024) * (size // 1024) + b"\0" * (size % 1024))
        with pytest.raises(AdapterError, match="checksum"):
            await room.dispatch(RecordingConsent(source="test"))
        corrupt = room.screen.get("recording")
        with pytest.raises(StateError):
            await room.dispatch(StartRecording(source="test"))
    finally:
        await room.stop()
    assert missing["state"] == "error" and missing["message"]["key"] == "no_model"
    assert health["status"] == "degraded" and "roomctl models install" in health["detail"]
    assert corrupt["state"] == "error" and "checksum" in corrupt["message"]["detail"]


class UnpluggedMicrophone(WavSource):
    """The simulated microphone, unplugged after 12 s."""

    async def read(self) -> Any:
        if self._position >= 12 * SAMPLE_RATE:
            raise AdapterError("the microphone stopped delivering audio (unplugged?); recording was stopped")
        return await super().read()


async def test_a_microphone_lost_mid_recording_keeps_what_was_heard(harness: Any, english_wav: Path) -> None:
    async with harness([english_wav], kind=UnpluggedMicrophone) as h:
        await h.room.dispatch(RecordingConsent(source="test"))
        await h.room.dispatch(StartRecording(source="test"))
        await wait_for(lambda: h.room.screen.get("recording")["state"] == "error", timeout=30)
        part = h.room.screen.get("recording")
        await wait_for(lambda: h.ready, timeout=60)
        result = h.transcript()
    assert part["message"]["key"] == "microphone_lost" and "microfoon" in part["message"]["nl"]
    assert h.changes == [True, False]
    assert result["complete"]
    heard_first = " ".join(ENGLISH_TEXT[:2])
    assert wer(heard_first, " ".join(result["text"].split()[: len(heard_first.split())])) < 0.2, result["text"]
    assert "departments" not in result["text"], "nothing after the microphone was lost"


async def test_each_present_member_must_agree_when_configured(harness: Any, english_wav: Path) -> None:
    from roomctl.access.events import AccessGranted
    from roomctl.session.events import SessionEnded

    async with harness([english_wav], require_member_consent=True) as h:
        with pytest.raises(StateError, match="not been asked"):
            await h.room.dispatch(RecordingConsent(source="test", member_id=1))
        asked = await h.room.dispatch(RecordingConsent(source="test", present=(1, 2)))
        await h.room.dispatch(AccessGranted(source="test", member_id=1))
        with pytest.raises(StateError, match="each member taps"):
            await h.room.dispatch(StartRecording(source="test"))
        half = h.room.screen.get("recording")["consent"]
        await h.room.dispatch(RecordingConsent(source="test", member_id=2))
        started = await h.room.dispatch(StartRecording(source="test"))
        await h.room.dispatch(SessionEnded(source="session", session_id=7, group_id=1))
        stopped = h.service.view()
        consent = h.room.db.execute("select consent from speech_recordings").fetchone()[0]
    assert asked["state"] == "consent" and "pas" in asked["message"]["nl"]
    assert half == {"group": True, "members_required": True, "present": 2, "agreed": 1, "missing": 1}
    assert started["state"] == "recording" and stopped["state"] in ("finishing", "idle")
    assert consent == "group+members:2"


SPOOL_FS_BYTES = 72 * 2**20
"""A spool file system just larger than the service's minimum free space: recording starts, then fills it."""


@pytest.fixture
def small_spool_fs(make_settings: Any) -> Iterator[Path]:
    """A real, small tmpfs mounted where the speech spool lives (the test runs as root, like CI)."""
    settings = make_settings()
    spool = settings.storage.data_dir / "spool"
    spool.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SPOOL_FS_BYTES}", "tmpfs", str(spool)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs for the full-disk test (run as root): {mounted.stderr.strip()}")
    try:
        yield spool
    finally:
        subprocess.run(["umount", "-l", str(spool)], check=False)


def fill(directory: Path) -> int:
    """Write into ``directory`` until the file system is full; return the bytes written."""
    written = 0
    block = b"\0" * 2**20
    with (directory / "filler").open("wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return written


async def test_a_full_disk_stops_recording_with_a_clear_state_and_keeps_what_was_heard(
    harness: Any, small_spool_fs: Path, english_wav: Path
) -> None:
    async with harness([english_wav]) as h:
        await h.room.dispatch(RecordingConsent(source="test"))
        await h.room.dispatch(StartRecording(source="test"))
        await wait_for(lambda: h.service._capture is not None and h.service._capture.seconds > 12, timeout=30)
        await asyncio.to_thread(fill, small_spool_fs)
        await wait_for(lambda: h.room.screen.get("recording")["state"] == "error", timeout=30)
        part = h.room.screen.get("recording")
        assert part["message"]["key"] == "disk"
        assert part["message"]["nl"] and part["message"]["en"]
        # RecordingChanged is posted (delivered on the next turn of the loop), the screen part is set at once
        await wait_for(lambda: len(h.changes) > 1, timeout=5)
        assert h.changes == [True, False], "the LED and the kiosk show that recording stopped"
        (small_spool_fs / "filler").unlink()
        await wait_for(lambda: h.ready, timeout=90)
        result = h.transcript()
        # what was heard before the disk filled was transcribed; the room core still decides
        assert "schedule" in result["text"] or "nurses" in result["text"], result["text"]
        assert h.room.health.report()["components"]["database"]["status"] == "ok"
