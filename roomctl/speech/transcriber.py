"""Transcribing spooled chunks in the worker process, oldest first, one at a time.

A chunk is done only when its segments are stored (one transaction). When the worker dies or hangs it is
restarted and the chunk retried; a chunk that fails :data:`MAX_ATTEMPTS` times is given up and the transcript
says a part is missing. After a restart of roomctl, :meth:`Transcriber.recover` turns what the spool holds
into chunks, so nothing recorded is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import soundfile

from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.errors import AdapterError
from roomctl.speech import models, spool, transcripts
from roomctl.speech.tuning import caption_plan
from roomctl.speech.worker import WorkerConfig, WorkerCrashed, WorkerProcess

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""A chunk that crashes or fails the worker this often is given up (noted as missing in the transcript)."""
RESTART_BACKOFF_SECONDS = 1.0
"""Wait before starting the worker again after a failure, times the failures in a row (capped)."""
MAX_BACKOFF_SECONDS = 30.0
STOP_BEAM_SIZE = 1
"""When more chunks still wait once the recording stopped than the worker transcribes at once (a backlog),
they are decoded greedily (with temperature 0 that is about twice as fast and changes a few words): the final
transcript is ready within seconds. The last chunks alone, the usual case (the rest at stop, cut in as many
parts as the worker runs side by side), keep the beam search."""


class Transcriber:
    """Feeds chunks to the worker and stores what comes back.

    Args:
        room: The room (database, settings, clock).
        spool_root: ``<data_dir>/spool``.
        on_chunk_done: Called after each chunk is stored or given up.
        on_recording_done: Called with the recording id and session id when a stopped recording is complete.
        on_model_problem: Called when the worker cannot load the model.
    """

    def __init__(
        self,
        room: Room,
        spool_root: Path,
        *,
        on_chunk_done: Callable[[transcripts.ChunkJob], None],
        on_recording_done: Callable[[int, int | None], None],
        on_model_problem: Callable[[str], None],
    ) -> None:
        self.room = room
        self.settings = room.settings.speech
        self.spool_root = spool_root
        self.worker: WorkerProcess | None = None
        self.model_problem: str | None = None
        self.failures = 0
        self.want_worker = False
        self.stopping: set[int] = set()
        """Recordings whose capture is stopping or stopped: their waiting chunks use :data:`STOP_BEAM_SIZE`."""
        self.plan = caption_plan(self.settings)
        self._wake = asyncio.Event()
        self._on_chunk_done = on_chunk_done
        self._on_recording_done = on_recording_done
        self._on_model_problem = on_model_problem
        self._verified: tuple[str, int, int] | None = None

    def wake(self) -> None:
        """Look for work now."""
        self._wake.set()

    def check_model(self) -> None:
        """Find the configured model (quick check); remember the problem, if any, in :attr:`model_problem`."""
        try:
            path = models.resolve_model(self.room.settings)
        except AdapterError as exc:
            self.model_problem = exc.detail
            return
        self.model_problem = None
        if self.worker is None or self.worker.config.model_path != str(path):
            self.worker = WorkerProcess(
                WorkerConfig(
                    str(path),
                    self.settings.language,
                    self.settings.beam_size,
                    self.settings.threads,
                    parallel=self.plan.parallel,
                )
            )

    async def verify_model(self) -> str | None:
        """Check the configured model fully (checksum, off the loop; once per file version); returns the problem."""
        self.check_model()
        if self.model_problem or self.worker is None:
            return self.model_problem
        path = Path(self.worker.config.model_path)
        stat = (path / models.MODEL_FILE).stat()
        signature = (str(path), stat.st_size, stat.st_mtime_ns)
        if signature != self._verified:
            status = await asyncio.to_thread(models.check_model, path, name=self.settings.model)
            if not status.ok:
                self.model_problem = status.detail
                return status.detail
            self._verified = signature
        return None

    def chunk_file(self, job: transcripts.ChunkJob) -> Path:
        """Where a chunk's audio is spooled."""
        return spool.chunk_path(self.spool_root / f"{job.recording_id:06d}", job.idx, job.start_sample)

    async def run(self) -> None:
        """Transcribe chunks as they come (runs until cancelled).

        While a recording records, one chunk at a time (the worker's other slot is the captions'); once it
        stopped, its last chunks go side by side into every slot (:meth:`_slots`).
        """
        running: dict[tuple[int, int], asyncio.Task[None]] = {}
        try:
            while True:
                self._wake.clear()
                for key in [k for k, task in running.items() if task.done()]:
                    running.pop(key).result()
                jobs = [
                    j
                    for j in transcripts.next_chunks(self.room.db, self.plan.parallel + len(running))
                    if (j.recording_id, j.idx) not in running
                ]
                idle_worker_wanted = self.want_worker and self.worker is not None and not self.worker.alive
                if (jobs or idle_worker_wanted) and not running and not await self._ensure_worker():
                    continue
                # A worker that died under a running chunk is restarted once no chunk runs (that chunk's backoff
                # ended); until then no chunk goes to it: each would fail at once and use up one of its attempts.
                ready = self.worker is not None and self.worker.alive
                if jobs and not ready and not running:  # it died again right after its start: wait, then restart it
                    await self._backoff()
                    continue
                for job in jobs[: max(self._slots(jobs[0]) - len(running), 0)] if jobs and ready else []:
                    running[(job.recording_id, job.idx)] = asyncio.create_task(self._transcribe(job))
                waiter = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait([*running.values(), waiter], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
        finally:
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

    def _slots(self, oldest: transcripts.ChunkJob) -> int:
        """How many chunks go to the worker at once: all its slots once the oldest one's recording stopped."""
        return max(self.plan.parallel, 1) if oldest.recording_id in self.stopping else 1

    async def stop(self) -> None:
        """Stop the worker."""
        if self.worker is not None:
            await self.worker.stop()

    async def _ensure_worker(self) -> bool:
        if self.worker is None:
            self.check_model()
        if self.worker is None:
            self.want_worker = False
            await self._backoff()
            return False
        if self.worker.alive:
            return True
        try:
            await self.worker.start()
        except AdapterError as exc:
            self.failures += 1
            log.error("speech worker cannot start: %s", exc.detail)
            if not isinstance(exc, WorkerCrashed):
                self.model_problem = exc.detail
                self.want_worker = False
                self._on_model_problem(exc.detail)
            await self._backoff()
            return False
        self.failures = 0
        self.model_problem = None
        return True

    async def _backoff(self) -> None:
        delay = min(RESTART_BACKOFF_SECONDS * max(self.failures, 1), MAX_BACKOFF_SECONDS)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self._wake.clear()

    async def _transcribe(self, job: transcripts.ChunkJob) -> None:
        assert self.worker is not None
        db = self.room.db
        path = self.chunk_file(job)
        if job.attempts >= MAX_ATTEMPTS or not path.exists():
            why = "its audio file is missing" if not path.exists() else f"it failed {job.attempts} times"
            log.error("recording %s chunk %s given up: %s", job.recording_id, job.idx, why)
            transcripts.fail_chunk(db, job, why, now=self.room.clock.now())
            self._chunk_done(job, path)
            return
        transcripts.count_attempt(db, job)
        prompt = transcripts.previous_text(db, job.recording_id, job.idx)
        waiting = transcripts.pending_chunks(db, job.recording_id)
        backlog = job.recording_id in self.stopping and waiting > max(self.plan.parallel, 1)
        beam = STOP_BEAM_SIZE if backlog else None
        try:
            segments, seconds = await self.worker.transcribe((job.recording_id, job.idx), path, prompt, beam)
        except WorkerCrashed as exc:
            self.worker.restarts += 1
            self.failures += 1
            log.error("speech worker failed on recording %s chunk %s: %s", job.recording_id, job.idx, exc.detail)
            await self._backoff()
            return
        except AdapterError as exc:
            log.error("%s", exc.detail)
            return
        rows = transcripts.store_segments(db, job, segments, seconds=seconds, now=self.room.clock.now())
        log.info("recording %s chunk %s: %d segments in %.1f s", job.recording_id, job.idx, len(rows), seconds)
        self._chunk_done(job, path)

    def _chunk_done(self, job: transcripts.ChunkJob, path: Path) -> None:
        if self.settings.retention_hours == 0:
            path.unlink(missing_ok=True)
        self.purge_audio()
        self._on_chunk_done(job)
        self.finish_if_done(job.recording_id)

    def finish_if_done(self, rid: int) -> bool:
        """Mark a stopped recording done once no chunk waits; returns True when it is (now) done."""
        row = transcripts.recording(self.room.db, rid)
        if row["state"] == "done":
            return True
        if row["state"] != "finishing" or transcripts.pending_chunks(self.room.db, rid):
            return False
        transcripts.set_state(self.room.db, rid, "done", now=self.room.clock.now())
        self.stopping.discard(rid)
        if self.settings.retention_hours == 0:
            spool.remove_recording(self.spool_root, rid)
        log.info("recording %s: transcript complete", rid)
        session = row["session_id"]
        self._on_recording_done(rid, None if session is None else int(session))
        self.expire()
        return True

    # -- recovery and retention -----------------------------------------------------------------------------

    async def recover(self) -> None:
        """Turn what an earlier run left in the spool into chunks to transcribe."""
        db = self.room.db
        for row in transcripts.unfinished_recordings(db):
            rid = row["id"]
            directory = self.spool_root / f"{rid:06d}"
            if directory.is_dir():
                chunks, rest = await asyncio.to_thread(spool.recover, directory)
                known = transcripts.chunk_indexes(db, rid)
                for chunk in chunks:
                    if chunk.index not in known:
                        info = await asyncio.to_thread(soundfile.info, str(chunk.path))
                        transcripts.add_chunk(db, rid, chunk.index, chunk.start, int(info.frames))
                if rest is not None:
                    index = max([*known, *(c.index for c in chunks)], default=-1) + 1
                    await asyncio.to_thread(spool.seal_recovered, directory, index, rest[0], rest[1])
                    transcripts.add_chunk(db, rid, index, rest[0], len(rest[1]))
            if row["state"] == "recording":
                log.warning("recording %s was interrupted by a restart; transcribing what was spooled", rid)
                transcripts.set_state(db, rid, "finishing", now=self.room.clock.now(), error="interrupted by a restart")
            self.finish_if_done(rid)
        self.wake()

    def purge_audio(self) -> None:
        """Delete transcribed audio older than the retention time."""
        if self.settings.retention_hours == 0:
            return
        before = (self.room.clock.now() - timedelta(hours=self.settings.retention_hours)).isoformat()
        rows = self.room.db.query(
            "select recording_id, idx, start_sample from speech_chunks where state != 'pending' and done_at < ?",
            [before],
        )
        for r in rows:
            directory = self.spool_root / f"{r['recording_id']:06d}"
            spool.chunk_path(directory, r["idx"], r["start_sample"]).unlink(missing_ok=True)

    def expire(self) -> None:
        """Delete transcripts older than ``transcript_retention_days``."""
        days = self.settings.transcript_retention_days
        if days:
            gone = transcripts.expire(self.room.db, self.room.clock.now() - timedelta(days=days))
            for rid in gone:
                spool.remove_recording(self.spool_root, rid)
            if gone:
                log.info("expired %d transcripts older than %d days", len(gone), days)

    def health(self) -> ComponentHealth:
        """``speech``: the model is usable and the worker alive (or not needed yet)."""
        if self.model_problem:
            return ComponentHealth("degraded", self.model_problem)
        if self.worker is not None and self.worker.alive:
            return ComponentHealth("ok", f"worker {self.worker.pid} ready, {self.worker.restarts} restarts")
        if self.failures:
            return ComponentHealth("degraded", f"the speech worker failed {self.failures} times in a row; restarting")
        return ComponentHealth("ok", "model present; the worker starts when recording is asked for")
