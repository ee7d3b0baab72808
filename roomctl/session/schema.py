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


def _weeks(db: sqlite_utils.Database) -> None:
    """Cycles (a group's week), follow-ups of validated proposals, guests of a session, kader resources."""
    db.execute(
        """create table cycles (
            id integer primary key,
            group_id integer not null,
            week text not null,
            starts_at text not null,
            ends_at text not null,
            questions text not null default '[]',
            situations text not null default '[]',
            first_session_id integer,
            created_at text not null,
            updated_at text not null,
            unique (group_id, week)
        )"""
    )
    db.execute("alter table sessions add column cycle_id integer")
    db.execute("create index sessions_cycle on sessions(cycle_id)")
    db.execute("create index sessions_group_started on sessions(group_id, started_at)")
    db.execute(
        """create table cycle_changes (
            id integer primary key,
            cycle_id integer not null references cycles(id),
            session_id integer,
            questions text not null,
            situations text not null,
            changed_at text not null
        )"""
    )
    db.execute("create index cycle_changes_cycle on cycle_changes(cycle_id)")
    db.execute(
        """create table proposal_followups (
            proposal_id integer primary key,
            group_id integer not null,
            session_id integer,
            how_it_went text not null check (how_it_went in ('well', 'partly', 'not_yet')),
            note text not null default '',
            updated_at text not null
        )"""
    )
    db.execute(
        """create table session_guests (
            id integer primary key,
            booking_id integer not null,
            group_id integer not null,
            name text not null,
            kind text not null check (kind in ('colleague', 'expert')),
            invited_by text not null,
            code_hash text unique,
            badge_uid text,
            valid_from text not null,
            valid_until text not null,
            used_at text,
            arrived_at text,
            created_at text not null
        )"""
    )
    db.execute("create index session_guests_booking on session_guests(booking_id)")
    db.execute(
        """create table kader_resources (
            id integer primary key,
            question_id text not null,
            kind text not null check (kind in ('clip', 'podcast', 'film', 'article', 'elearning')),
            title text not null,
            url text not null,
            position integer not null default 0,
            created_at text not null
        )"""
    )
    db.execute("create index kader_resources_question on kader_resources(question_id, position)")


MIGRATIONS = [
    Migration("session_0001_sessions", _sessions),
    Migration("session_0002_choices_and_tablets", _choices_and_tablets),
    Migration("session_0003_cycles_followups_guests_resources", _weeks),
]
