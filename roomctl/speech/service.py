"""The speech service: consent, recording, and transcribing chunks in the worker while the brainstorm goes on.

States shown on the tablet and kiosk (screen part ``recording``): ``idle`` → ``consent`` (the group is asked)
→ ``recording`` → ``finishing`` (the last chunk is transcribed) → ``idle``; ``error`` with a message when the
microphone, the disk or the model fails. Stopping is possible in every state.

Chunks are transcribed while the brainstorm goes on by :class:`~roomctl.speech.transcriber.Transcriber`; after
stop only the last chunk remains, so the final transcript follows within seconds.

Screen part ``captions`` (while recording and until the final transcript is in; text only, never who spoke):
``lines``, the latest segments of the final transcript (they never change); ``agreed`` and ``tentative``, the
words the live captions (:mod:`~roomctl.speech.live`) heard since, which the final text replaces; ``behind``
when the captions lag. Captions live in memory and on the screen only; they are cleared once the transcript is
complete.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass, field
from typing import Any

from roomctl.access.events import AccessGranted
from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.errors import AdapterError, NotFoundError, StateError
from roomctl.session.events import SessionEnded, StepChanged
from roomctl.session.service import SessionService
from roomctl.speech import spool, transcripts
from roomctl.speech.capture import Capture, Context
from roomctl.speech.events import RecordingChanged, RecordingConsent, StartRecording, StopRecording, TranscriptReady
from roomctl.speech.live import LiveCaptions
from roomctl.speech.sources import SAMPLE_RATE, AudioSource, SoundDeviceSource, WavSource
from roomctl.speech.texts import message
from roomctl.speech.transcriber import Transcriber

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0
"""Stopping waits this long for the capture to seal its last chunk, then stops it regardless."""
MIN_FREE_BYTES = 64 * 1024 * 1024
"""Recording does not start with less free space in the spool (an hour of audio is 115 MB, deleted as it goes)."""
CAPTION_SEGMENTS = 6
"""Latest segments shown as captions."""
FINAL_HOLD_SECONDS = 4.0
"""Once the transcript is complete, its last lines stay on the projector this long (final text only) before the
captions go: the group reads the end of what it said."""


@dataclass
class Consent:
    """The consent being collected (never stored with the transcript)."""

    group: bool = False
    session_id: int | None = None
    present: tuple[int, ...] = ()
    members: set[int] = field(default_factory=set)


class SpeechService:
    """Owns recording and transcription for the room."""

    name = "speech"

    def __init__(self, room: Room, source_factory: Any = None) -> None:
        self.room = room
        self.settings = room.settings.speech
        self.spool_root = room.settings.storage.data_dir / "spool"
        self.source_factory = source_factory or self._default_source
        self.state = "idle"
        self.message: dict[str, Any] | None = None
        self.consent: Consent | None = None
        self.recording_id: int | None = None
        self.transcriber = Transcriber(
            room,
            self.spool_root,
            on_chunk_done=self._chunk_done,
            on_recording_done=self._recording_done,
            on_model_problem=self._model_problem,
        )
        self.transcripts_ready: list[int] = []
        self._capture: Capture | None = None
        self._capture_task: asyncio.Task[Any] | None = None
        self.live: LiveCaptions | None = None
        self._live_task: asyncio.Task[Any] | None = None
        self._lines: list[dict[str, Any]] = []
        self._dispatcher: asyncio.Task[Any] | None = None
        self._session_id: int | None = None
        self._context: Context = (None, None)
        self._screen = room.screen.claim("recording", owner=self.name)
        self._captions = room.screen.claim("captions", owner=self.name)
        self._status = room.status.claim("recording", owner=self.name)
        room.on(RecordingConsent, self.on_consent)
        room.on(StartRecording, self.on_start)
        room.on(StopRecording, self.on_stop)
        room.on(AccessGranted, self._on_granted)
        room.on(StepChanged, self._on_step)
        room.on(SessionEnded, self._on_session_ended)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover the spool, check the model, start transcribing what waits."""
        self.transcriber.check_model()
        await asyncio.to_thread(self.spool_root.mkdir, parents=True, exist_ok=True)
        await self.transcriber.recover()
        self.transcriber.expire()
        self._dispatcher = self.room.spawn(self.transcriber.run(), name="speech-transcriber")
        if self.transcriber.model_problem:
            self._set("error", message("no_model", self.transcriber.model_problem))
        self._publish()

    async def stop(self) -> None:
        """Seal what is being recorded (transcribed after the restart), stop the worker."""
        if self._capture is not None:
            await self._stop_capture("shutdown")
        await self._end_captions()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        await self.transcriber.stop()

    def _default_source(self) -> AudioSource:
        if self.settings.source == "alsa":
            return SoundDeviceSource(self.settings.device)
        return WavSource(self.settings.simulated_files)

    # -- commands -------------------------------------------------------------------------------------------

    async def on_consent(self, event: RecordingConsent) -> dict[str, Any]:
        """The group agrees (or withdraws); a member taps to agree."""
        if not event.agreed:
            if self.state == "recording":
                self.room.spawn(self.stop_recording("consent withdrawn"), name="speech-withdraw")
            elif self.state == "consent":
                self.consent = None
                self._set("idle")
            return self.view()
        if self.state == "recording":
            raise StateError("recording is already running")
        if event.member_id is not None:
            if self.consent is None or not self.consent.group:
                raise StateError("the group has not been asked yet; agree on the tablet first")
            self.consent.members.add(event.member_id)
            self._publish()
            return self.view()
        await self._require_model()
        session = self.room.find_service(SessionService)
        present = event.present or (session.present_ids() if session else ())
        self.consent = Consent(group=True, session_id=event.session_id or self._session_id, present=tuple(present))
        self.transcriber.want_worker = True
        self.transcriber.wake()
        self._captions.set(None)
        self._set("consent", message("members" if self.settings.require_member_consent else "consent"))
        return self.view()

    def _on_step(self, event: StepChanged) -> None:
        """The session's step: what the transcript's next words are marked with."""
        self._session_id = event.session_id
        self._context = (event.step_id, event.question_id)

    async def _on_session_ended(self, event: SessionEnded) -> None:
        """The session ended: stop recording (the group agreed to record this session only)."""
        self._session_id, self._context = None, (None, None)
        if self._capture is not None or self.state == "consent":
            await self.stop_recording("session ended")

    def _on_granted(self, event: AccessGranted) -> None:
        """A badge tap while consent is asked counts as that member agreeing."""
        if self.state == "consent" and self.consent is not None and event.member_id is not None:
            self.consent.members.add(event.member_id)
            self._publish()

    async def _require_model(self) -> None:
        problem = await self.transcriber.verify_model()
        if problem:
            self._set("error", message("no_model", problem))
            raise AdapterError(problem)

    def _missing_members(self) -> list[int]:
        if self.consent is None or not self.settings.require_member_consent:
            return []
        if not self.consent.present:
            return [] if self.consent.members else [-1]
        return [m for m in self.consent.present if m not in self.consent.members]

    async def on_start(self, event: StartRecording) -> dict[str, Any]:
        """Start recording (after consent)."""
        return await self.start_recording(event.session_id)

    async def start_recording(self, session_id: int | None = None) -> dict[str, Any]:
        """Open the source and start capturing.

        Raises:
            StateError: No consent yet, or already recording.
            AdapterError: No microphone, no model, or no room on the disk (the screen shows it too).
        """
        if self.state == "recording":
            raise StateError("recording is already running")
        if self.consent is None or not self.consent.group:
            raise StateError("the group has not agreed to recording yet; ask for consent on the tablet first")
        if self._missing_members():
            raise StateError("not everyone present has agreed yet; each member taps to agree")
        await self._require_model()
        free = await asyncio.to_thread(shutil.disk_usage, self.spool_root)
        if free.free < MIN_FREE_BYTES:
            detail = f"only {free.free // (1024 * 1024)} MB free in {self.spool_root}"
            self._set("error", message("disk", detail))
            raise AdapterError(f"cannot record: {detail}; free some space")
        source: AudioSource = self.source_factory()
        try:
            await source.open()
        except AdapterError as exc:
            self._set("error", message("no_microphone", exc.detail))
            raise
        consent = self.consent
        kind = "group" + (f"+members:{len(consent.members)}" if consent.members else "")
        rid = transcripts.create_recording(
            self.room.db,
            session_id=session_id or consent.session_id,
            consent=kind,
            model=self.settings.model,
            language=self.settings.language,
            now=self.room.clock.now(),
        )
        self.recording_id = rid
        self._start_captions(rid)
        try:
            self._capture = Capture(
                rid,
                source,
                self.spool_root,
                chunk_seconds=self.settings.chunk_seconds,
                search_seconds=self.settings.cut_search_seconds,
                last_pieces=self.transcriber.plan.parallel,
                on_chunk=lambda chunk, n: self._on_chunk(rid, chunk, n),
                on_context=lambda offset, ctx: transcripts.add_mark(self.room.db, rid, offset, *ctx),
                context=self._step_context,
                on_block=self.live.feed if self.live is not None else None,
            )
        except OSError as exc:
            await self._end_captions()
            await source.close()
            transcripts.set_state(self.room.db, rid, "done", now=self.room.clock.now(), error=str(exc))
            self._set("error", message("disk", str(exc)))
            raise AdapterError(f"cannot write the audio spool: {exc}") from None
        self.consent = None
        self._capture_task = self.room.spawn(self._run_capture(self._capture), name=f"speech-capture-{rid}")
        self._set("recording", message("recording"))
        self._status.set({"active": True})
        self.room.post(RecordingChanged(source="speech", active=True, recording_id=rid))
        log.info("recording %s started (%s)", rid, source.description)
        return self.view()

    async def on_stop(self, event: StopRecording) -> dict[str, Any]:
        """Stop recording."""
        return await self.stop_recording(event.reason)

    async def stop_recording(self, reason: str = "stopped") -> dict[str, Any]:
        """Stop whatever is going on: never raises, possible in every state."""
        if self._capture is not None:
            await self._stop_capture(reason)
        else:
            self.consent = None
            if self.state in ("consent", "error"):
                self._set("idle")
        return self.view()

    async def _stop_capture(self, reason: str) -> None:
        capture, task = self._capture, self._capture_task
        if capture is None or task is None:
            return
        log.info("recording %s: stop (%s)", capture.recording_id, reason)
        self.transcriber.stopping.add(capture.recording_id)
        capture.request_stop()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                await asyncio.shield(task)
        except TimeoutError:
            log.error("recording %s did not stop in time; cancelling its capture", capture.recording_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._capture = None
            self._set("error", message("disk", "the capture did not stop in time; spooled audio is kept"))
            self._status.set({"active": False})
            self.room.post(RecordingChanged(source="speech", active=False, recording_id=capture.recording_id))
            self.room.spawn(self.transcriber.recover(), name="speech-recover")

    async def _run_capture(self, capture: Capture) -> None:
        result = await capture.run()
        rid = capture.recording_id
        self._capture = None
        if self.live is not None and self.live.recording_id == rid:
            self.live.close()
            self._publish_captions()
        transcripts.set_state(self.room.db, rid, "finishing", now=self.room.clock.now(), error=result.detail or None)
        self._status.set({"active": False})
        self.room.post(RecordingChanged(source="speech", active=False, recording_id=rid))
        log.info("recording %s stopped: %.1f s in %d chunks", rid, result.seconds, result.chunks)
        if result.error:
            self._set("error", message(result.error, result.detail))
        else:
            self._set("finishing", message("finishing"))
        self.transcriber.finish_if_done(rid)
        self.transcriber.wake()

    # -- capture callbacks ----------------------------------------------------------------------------------

    def _step_context(self) -> Context:
        return self._context

    def _on_chunk(self, rid: int, chunk: spool.SpooledChunk, samples: int) -> None:
        if self._capture is not None and self._capture.ending:
            self.transcriber.stopping.add(rid)
        transcripts.add_chunk(self.room.db, rid, chunk.index, chunk.start, samples)
        self.transcriber.wake()

    # -- live captions --------------------------------------------------------------------------------------

    def _start_captions(self, rid: int) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
        self._lines = []
        plan = self.transcriber.plan
        if not plan.enabled:
            self.live = None
            self._publish_captions(rid)
            return
        self.live = LiveCaptions(
            rid,
            worker=lambda: self.transcriber.worker,
            interval_seconds=plan.interval_seconds,
            on_change=self._publish_captions,
            final_text=lambda: transcripts.previous_text(self.room.db, rid, transcripts.LAST_CHUNK),
            wake_worker=self.transcriber.wake,
        )
        self._live_task = self.room.spawn(self.live.run(), name=f"speech-captions-{rid}")
        self._publish_captions(rid)

    async def _end_captions(self) -> None:
        """Stop the live captions and clear the part at once (shutdown, a failed start)."""
        task = self._drop_live()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        self._lines = []
        self._captions.set(None)

    def _drop_live(self) -> asyncio.Task[Any] | None:
        """Close the live captions and cancel their task (returned, to await)."""
        task, self._live_task = self._live_task, None
        if self.live is not None:
            self.live.close()
        if task is not None:
            task.cancel()
        self.live = None
        return task

    def _hold_final(self, rid: int) -> None:
        """The transcript is complete: its last lines alone stay for :data:`FINAL_HOLD_SECONDS`, then go.

        The final-only part is published in the same step as the recording's end, so the projector goes from
        the live words straight to the final lines, never blank in between.
        """
        task = self._drop_live()
        if not self._lines:
            self._captions.set(None)
            return
        self._publish_captions(rid)

        async def clear() -> None:
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
            await asyncio.sleep(FINAL_HOLD_SECONDS)
            if self.live is None and self.recording_id == rid:  # no new recording's captions took the part
                self._lines = []
                self._captions.set(None)

        self.room.spawn(clear(), name=f"speech-captions-end-{rid}")

    def _publish_captions(self, rid: int | None = None) -> None:
        """The screen part ``captions``: the final transcript's latest lines and the live words after them."""
        rid = rid if rid is not None else (self.live.recording_id if self.live is not None else self.recording_id)
        if rid is None:
            return
        part: dict[str, Any] = {"recording_id": rid, "live": self.live is not None, "lines": self._lines}
        if self.live is not None and self.live.recording_id == rid:
            part.update(self.live.view())
        self._captions.set(part)

    # -- transcription callbacks ----------------------------------------------------------------------------

    def _chunk_done(self, job: transcripts.ChunkJob) -> None:
        if job.recording_id == self.recording_id:
            # The screen shows the final text only as far as every chunk before it is done: the last chunks of a
            # recording are transcribed side by side and may finish out of order.
            waiting, covered = transcripts.done_prefix(self.room.db, job.recording_id)
            rows = transcripts.latest_segments(self.room.db, job.recording_id, CAPTION_SEGMENTS, before_chunk=waiting)
            self._lines = [{"start": r["start"], "text": r["text"]} for r in rows]
            if self.live is not None and self.live.recording_id == job.recording_id:
                self.live.final_until(covered / SAMPLE_RATE, last=waiting is None and self._capture is None)
            self._publish_captions(job.recording_id)
        self._publish()

    def _model_problem(self, detail: str) -> None:
        if self.state != "recording":
            self._set("error", message("no_model", detail))

    def _recording_done(self, rid: int, session_id: int | None) -> None:
        if rid == self.recording_id:
            self._hold_final(rid)
        self.transcripts_ready.append(rid)
        self.room.post(TranscriptReady(source="speech", recording_id=rid, session_id=session_id))
        if self.recording_id == rid and self.state == "finishing":
            self._set("idle", message("ready"))

    # -- state ----------------------------------------------------------------------------------------------

    def _set(self, state: str, text: dict[str, Any] | None = None) -> None:
        self.state = state
        self.message = text or message(state) if state in ("idle", "recording") else text
        self._publish()

    def view(self) -> dict[str, Any]:
        """The screen part ``recording``."""
        pending = 0
        if self.recording_id is not None:
            pending = transcripts.pending_chunks(self.room.db, self.recording_id)
        consent = None
        if self.consent is not None:
            consent = {
                "group": self.consent.group,
                "members_required": self.settings.require_member_consent,
                "present": len(self.consent.present),
                "agreed": len(self.consent.members),
                "missing": len([m for m in self._missing_members() if m >= 0]),
            }
        return {
            "state": self.state,
            "active": self.state == "recording",
            "recording_id": self.recording_id,
            "seconds": round(self._capture.seconds, 1) if self._capture is not None else None,
            "pending_chunks": pending,
            "consent": consent,
            "message": self.message,
        }

    def _publish(self) -> None:
        self._screen.set(self.view())

    def transcript_text(self, session_id: int) -> str | None:
        """The whole text of session ``session_id``'s brainstorm, or ``None`` when it recorded none (or only silence)."""
        try:
            text = str(transcripts.transcript(self.room.db, session_id)["text"])
        except NotFoundError:
            return None
        return text.strip() or None

    def health(self) -> ComponentHealth:
        """``speech``: the model is usable and the worker alive (or not needed yet)."""
        return self.transcriber.health()
