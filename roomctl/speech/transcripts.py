"""Storing recordings, chunks and transcript segments (used from the event loop's thread only).

A chunk is marked done in the same transaction that stores its segments, and storing is idempotent by
``(recording_id, idx)``: a result that arrives twice (a worker restarted after finishing) changes nothing.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.errors import NotFoundError
from roomctl.speech.sources import SAMPLE_RATE

log = logging.getLogger(__name__)

PROMPT_CHARS = 200
"""How much of the previous chunk's text is passed to Whisper as ``initial_prompt``."""
LAST_CHUNK = 2**62
"""A chunk index after every real one: ``previous_text(db, rid, LAST_CHUNK)`` is the end of the text so far."""


@dataclass(frozen=True)
class ChunkJob:
    """A chunk waiting for transcription."""

    recording_id: int
    idx: int
    start_sample: int
    samples: int
    attempts: int


def create_recording(
    db: sqlite_utils.Database, *, session_id: int | None, consent: str, model: str, language: str, now: datetime
) -> int:
    """A new recording in state ``recording``; returns its id."""
    with db.atomic():
        cursor = db.execute(
            "insert into speech_recordings (session_id, state, consent, model, language, started_at) "
            "values (?, 'recording', ?, ?, ?, ?)",
            [session_id, consent, model, language, now.isoformat()],
        )
    return int(cursor.lastrowid or 0)


def recording(db: sqlite_utils.Database, recording_id: int) -> dict[str, Any]:
    """One recording's row."""
    rows = list(db.query("select * from speech_recordings where id = ?", [recording_id]))
    if not rows:
        raise NotFoundError(f"no recording {recording_id}")
    return rows[0]


def set_state(
    db: sqlite_utils.Database, recording_id: int, state: str, *, now: datetime, error: str | None = None
) -> None:
    """Move a recording to ``recording``, ``finishing`` or ``done`` (stamping when it stopped or finished)."""
    column = {"finishing": "stopped_at", "done": "finished_at"}.get(state)
    with db.atomic():
        db.execute(
            "update speech_recordings set state = ?, error = coalesce(?, error) where id = ?",
            [state, error, recording_id],
        )
        if column:
            db.execute(
                f"update speech_recordings set {column} = coalesce({column}, ?) where id = ?",  # noqa: S608
                [now.isoformat(), recording_id],
            )
            if state == "done":
                db.execute(
                    "update speech_recordings set stopped_at = coalesce(stopped_at, ?) where id = ?",
                    [now.isoformat(), recording_id],
                )


def unfinished_recordings(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Recordings not ``done`` (after a restart: interrupted or still transcribing)."""
    return list(db.query("select * from speech_recordings where state != 'done' order by id"))


def add_chunk(db: sqlite_utils.Database, recording_id: int, idx: int, start_sample: int, samples: int) -> None:
    """Record a sealed chunk (a second call for the same chunk changes nothing)."""
    with db.atomic():
        db.execute(
            "insert or ignore into speech_chunks (recording_id, idx, start_sample, samples) values (?, ?, ?, ?)",
            [recording_id, idx, start_sample, samples],
        )


def next_chunks(db: sqlite_utils.Database, limit: int) -> list[ChunkJob]:
    """The ``limit`` oldest chunks waiting for transcription, oldest first."""
    rows = db.query(
        "select recording_id, idx, start_sample, samples, attempts from speech_chunks "
        "where state = 'pending' order by recording_id, idx limit ?",
        [limit],
    )
    return [ChunkJob(**row) for row in rows]


def pending_chunks(db: sqlite_utils.Database, recording_id: int) -> int:
    """How many chunks of a recording still wait."""
    row = db.execute(
        "select count(*) from speech_chunks where recording_id = ? and state = 'pending'", [recording_id]
    ).fetchone()
    return int(row[0])


def chunk_indexes(db: sqlite_utils.Database, recording_id: int) -> dict[int, str]:
    """Every chunk of a recording and its state."""
    return {
        r["idx"]: r["state"]
        for r in db.query("select idx, state from speech_chunks where recording_id = ?", [recording_id])
    }


def count_attempt(db: sqlite_utils.Database, job: ChunkJob) -> None:
    """Count a transcription attempt before it is made (a chunk that keeps crashing the worker is given up)."""
    with db.atomic():
        db.execute(
            "update speech_chunks set attempts = attempts + 1 where recording_id = ? and idx = ?",
            [job.recording_id, job.idx],
        )


def fail_chunk(db: sqlite_utils.Database, job: ChunkJob, error: str, *, now: datetime) -> None:
    """Give up on a chunk; the transcript says a part is missing."""
    with db.atomic():
        db.execute(
            "update speech_chunks set state = 'failed', error = ?, done_at = ? where recording_id = ? and idx = ?",
            [error, now.isoformat(), job.recording_id, job.idx],
        )


def previous_text(db: sqlite_utils.Database, recording_id: int, idx: int) -> str:
    """The end of the text transcribed before chunk ``idx`` (Whisper's ``initial_prompt``)."""
    rows = db.execute(
        "select text from speech_segments where recording_id = ? and chunk_idx < ? "
        "order by chunk_idx desc, seq desc limit 20",
        [recording_id, idx],
    ).fetchall()
    text = " ".join(r[0] for r in reversed(rows)).strip()
    return text[-PROMPT_CHARS:]


def add_mark(
    db: sqlite_utils.Database, recording_id: int, offset: float, step_id: str | None, question_id: str | None
) -> None:
    """Note that from ``offset`` seconds into the recording this step and question were on screen."""
    with db.atomic():
        db.execute(
            "insert into speech_marks (recording_id, offset, step_id, question_id) values (?, ?, ?, ?)",
            [recording_id, offset, step_id, question_id],
        )


def store_segments(
    db: sqlite_utils.Database,
    job: ChunkJob,
    segments: list[dict[str, Any]],
    *,
    seconds: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """Store a chunk's segments and mark it done, in one transaction; a chunk already done is left alone.

    Args:
        db: The room's database.
        job: The chunk.
        segments: ``{"start", "end", "text"}`` with times relative to the chunk.
        seconds: How long transcription took.
        now: When.

    Returns:
        The stored rows (empty if the chunk was done already).
    """
    rec = recording(db, job.recording_id)
    marks = list(
        db.query("select offset, step_id, question_id from speech_marks where recording_id = ? order by offset, rowid",
                 [job.recording_id])
    )  # fmt: skip
    offsets = [m["offset"] for m in marks]
    base = job.start_sample / SAMPLE_RATE
    rows: list[dict[str, Any]] = []
    for seq, seg in enumerate(s for s in segments if s["text"].strip()):
        start = round(base + float(seg["start"]), 3)
        at = bisect.bisect_right(offsets, start) - 1
        mark = marks[at] if at >= 0 else {"step_id": None, "question_id": None}
        rows.append(
            {
                "session_id": rec["session_id"],
                "recording_id": job.recording_id,
                "chunk_idx": job.idx,
                "seq": seq,
                "start": start,
                "end": round(base + float(seg["end"]), 3),
                "text": seg["text"].strip(),
                "step_id": mark["step_id"],
                "question_id": mark["question_id"],
            }
        )
    with db.atomic():
        state = db.execute(
            "select state from speech_chunks where recording_id = ? and idx = ?", [job.recording_id, job.idx]
        ).fetchone()
        if state is None or state[0] != "pending":
            return []
        db.execute("delete from speech_segments where recording_id = ? and chunk_idx = ?", [job.recording_id, job.idx])
        if rows:
            db.table("speech_segments").insert_all(rows)
        db.execute(
            "update speech_chunks set state = 'done', seconds = ?, done_at = ? where recording_id = ? and idx = ?",
            [seconds, now.isoformat(), job.recording_id, job.idx],
        )
    return rows


def latest_segments(
    db: sqlite_utils.Database, recording_id: int, limit: int, *, before_chunk: int | None = None
) -> list[dict[str, Any]]:
    """The last ``limit`` segments of a recording (of its chunks before ``before_chunk``), oldest first."""
    rows = list(
        db.query(
            "select start, end, text, step_id, question_id from speech_segments "
            "where recording_id = ? and (? is null or chunk_idx < ?) order by chunk_idx desc, seq desc limit ?",
            [recording_id, before_chunk, before_chunk, limit],
        )
    )
    return list(reversed(rows))


def done_prefix(db: sqlite_utils.Database, recording_id: int) -> tuple[int | None, int]:
    """How far the recording's final transcript is complete from its start.

    Returns:
        The first chunk still waiting (``None`` when none waits) and the sample up to which every chunk is done.
    """
    row = db.execute(
        "select idx, start_sample from speech_chunks where recording_id = ? and state = 'pending' order by idx limit 1",
        [recording_id],
    ).fetchone()
    if row is not None:
        return int(row[0]), int(row[1])
    end = db.execute(
        "select coalesce(max(start_sample + samples), 0) from speech_chunks where recording_id = ?", [recording_id]
    ).fetchone()[0]
    return None, int(end)


def transcript(db: sqlite_utils.Database, session_id: int) -> dict[str, Any]:
    """A session's transcript: its recordings, their segments in order, and the whole text.

    Raises:
        NotFoundError: The session has no recording.
    """
    recordings = list(
        db.query(
            "select id, state, started_at, stopped_at, finished_at, model, language from speech_recordings "
            "where session_id = ? order by id",
            [session_id],
        )
    )
    if not recordings:
        raise NotFoundError(f"session {session_id} has no recorded brainstorm")
    segments = list(
        db.query(
            "select recording_id, start, end, text, step_id, question_id from speech_segments "
            "where session_id = ? order by recording_id, chunk_idx, seq",
            [session_id],
        )
    )
    missing = db.execute(
        "select count(*) from speech_chunks c join speech_recordings r on r.id = c.recording_id "
        "where r.session_id = ? and c.state = 'failed'",
        [session_id],
    ).fetchone()[0]
    complete = all(r["state"] == "done" for r in recordings)
    return {
        "session_id": session_id,
        "complete": complete,
        "failed_chunks": int(missing),
        "recordings": recordings,
        "segments": segments,
        "text": " ".join(s["text"] for s in segments),
    }


def expire(db: sqlite_utils.Database, before: datetime) -> list[int]:
    """Delete finished recordings (with chunks, marks and segments) that stopped before ``before``."""
    ids = [
        r[0]
        for r in db.execute(
            "select id from speech_recordings where state = 'done' and finished_at < ?", [before.isoformat()]
        ).fetchall()
    ]
    if ids:
        marks = ",".join("?" * len(ids))
        with db.atomic():
            for table in ("speech_segments", "speech_marks", "speech_chunks"):
                db.execute(f"delete from {table} where recording_id in ({marks})", ids)  # noqa: S608
            db.execute(f"delete from speech_recordings where id in ({marks})", ids)  # noqa: S608
    return ids
