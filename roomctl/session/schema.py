"""Tables of running and past sessions, and who was present (for the learning-time report)."""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _sessions(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table sessions (
            id integer primary key,
            booking_id integer,
            group_id integer,
            videoframe_id text not null,
            videoframe_version text not null,
            started_at text not null,
            ended_at text,
            state text not null,
            updated_at text not null
        )"""
    )
    db.execute("create index sessions_open on sessions(ended_at)")
    db.execute(
        """create table session_presence (
            session_id integer not null references sessions(id),
            member_id integer not null,
            first_seen_at text not null,
            primary key (session_id, member_id)
        )"""
    )


MIGRATIONS = [Migration("session_0001_sessions", _sessions)]
