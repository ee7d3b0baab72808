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


def _choices_and_tablets(db: sqlite_utils.Database) -> None:
    """What the group chooses (work situation, problem, questions, notes) and the paired tablets' tokens."""
    db.execute("alter table sessions add column work_situation text")
    db.execute("alter table sessions add column problem text")
    db.execute("alter table sessions add column chosen_questions text")
    db.execute(
        """create table session_notes (
            session_id integer not null references sessions(id),
            question_id text not null,
            note text not null,
            updated_at text not null,
            primary key (session_id, question_id)
        )"""
    )
    db.execute(
        """create table tablet_pairings (
            token_id integer primary key,
            session_id integer,
            created_at text not null,
            expires_at text not null
        )"""
    )


MIGRATIONS = [
    Migration("session_0001_sessions", _sessions),
    Migration("session_0002_choices_and_tablets", _choices_and_tablets),
]
