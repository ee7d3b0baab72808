"""Tables for people, groups and bookings. Instants are stored as UTC ISO 8601 strings."""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _people_and_bookings(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table members (
            id integer primary key,
            name text not null,
            email text,
            created_at text not null,
            active integer not null default 1
        )"""
    )
    db.execute(
        """create table badges (
            id integer primary key,
            member_id integer not null references members(id),
            uid text not null,
            enrolled_at text not null,
            revoked_at text
        )"""
    )
    db.execute("create unique index badges_active_uid on badges(uid) where revoked_at is null")
    db.execute(
        """create table groups (
            id integer primary key,
            name text not null unique,
            facilitator_id integer references members(id),
            created_at text not null
        )"""
    )
    db.execute(
        """create table group_members (
            group_id integer not null references groups(id),
            member_id integer not null references members(id),
            primary key (group_id, member_id)
        )"""
    )
    db.execute(
        """create table bookings (
            id integer primary key,
            group_id integer not null references groups(id),
            series_id integer,
            start_utc text not null,
            end_utc text not null,
            status text not null default 'booked',
            kind text not null default 'single',
            checked_in_at text,
            created_at text not null,
            check (end_utc > start_utc)
        )"""
    )
    db.execute("create index bookings_start on bookings(start_utc)")


ACTIVE_SQL = "('booked', 'checked_in')"


def _series_release_closures(db: sqlite_utils.Database) -> None:
    """Weekly series, no-shows, closures, booking revisions, indexes, and an overlap guard in the database."""
    db.execute(
        """create table series (
            id integer primary key,
            group_id integer not null references groups(id),
            rrule text not null,
            timezone text not null,
            slots text not null,
            duration_minutes integer not null,
            first_date text not null,
            last_date text not null,
            created_at text not null,
            cancelled_at text,
            flagged_at text,
            split_from integer references series(id)
        )"""
    )
    db.execute(
        """create table no_shows (
            id integer primary key,
            booking_id integer not null unique references bookings(id),
            series_id integer references series(id),
            group_id integer not null references groups(id),
            start_utc text not null,
            recorded_at text not null
        )"""
    )
    db.execute("create index no_shows_series on no_shows(series_id, start_utc)")
    db.execute(
        """create table closures (
            id integer primary key,
            uid text not null,
            summary text not null,
            start_utc text not null,
            end_utc text not null,
            all_day integer not null,
            imported_at text not null,
            unique (uid, start_utc),
            check (end_utc > start_utc)
        )"""
    )
    db.execute("create index closures_end on closures(end_utc)")
    db.execute("alter table bookings add column sequence integer not null default 0")
    db.execute("alter table bookings add column updated_at text")
    db.execute("create index bookings_end on bookings(end_utc)")
    db.execute("create index bookings_group_start on bookings(group_id, start_utc)")
    db.execute("create index bookings_series_start on bookings(series_id, start_utc)")
    # The repository checks overlaps before writing; these triggers make an overlap impossible even for a
    # second writer (another process) that skips the check.
    db.execute(
        f"""create trigger bookings_no_overlap_insert before insert on bookings
        when new.status in {ACTIVE_SQL} and exists (
            select 1 from bookings b where b.status in {ACTIVE_SQL}
            and b.start_utc < new.end_utc and b.end_utc > new.start_utc)
        begin select raise(abort, 'booking overlaps an active booking'); end"""  # noqa: S608
    )
    db.execute(
        f"""create trigger bookings_no_overlap_update before update of start_utc, end_utc, status on bookings
        when new.status in {ACTIVE_SQL} and exists (
            select 1 from bookings b where b.id != new.id and b.status in {ACTIVE_SQL}
            and b.start_utc < new.end_utc and b.end_utc > new.start_utc)
        begin select raise(abort, 'booking overlaps an active booking'); end"""  # noqa: S608
    )


MIGRATIONS = [
    Migration("booking_0001_people_and_bookings", _people_and_bookings),
    Migration("booking_0002_series_release_closures", _series_release_closures),
]
