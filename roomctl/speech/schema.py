"""Tables of the brainstorm: recordings, their chunks, what was on screen when, and the transcript segments.

Segments are never attributed to a person: no member id, no speaker label.
"""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _transcripts(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table speech_recordings (
            id integer primary key,
            session_id text,
            state text not null,
            consent text not null,
            model text not null,
            language text not null,
            started_at text not null,
            stopped_at text,
            finished_at text,
            error text
        )"""
    )
    db.execute("create index speech_recordings_session on speech_recordings(session_id)")
    db.execute(
        """create table speech_chunks (
            recording_id integer not null references speech_recordings(id) on delete cascade,
            idx integer not null,
            start_sample integer not null,
            samples integer not null,
            state text not null default 'pending',
            attempts integer not null default 0,
            error text,
            seconds real,
            done_at text,
            primary key (recording_id, idx)
        )"""
    )
    db.execute("create index speech_chunks_state on speech_chunks(state)")
    db.execute(
        """create table speech_marks (
            recording_id integer not null references speech_recordings(id) on delete cascade,
            offset real not null,
            step_id text,
            question_id text
        )"""
    )
    db.execute("create index speech_marks_recording on speech_marks(recording_id, offset)")
    db.execute(
        """create table speech_segments (
            id integer primary key,
            session_id text,
            recording_id integer not null references speech_recordings(id) on delete cascade,
            chunk_idx integer not null,
            seq integer not null,
            start real not null,
            end real not null,
            text text not null,
            step_id text,
            question_id text,
            unique (recording_id, chunk_idx, seq)
        )"""
    )
    db.execute("create index speech_segments_session on speech_segments(session_id)")


MIGRATIONS = [Migration("speech_0001_transcripts", _transcripts)]
