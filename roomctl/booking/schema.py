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


MIGRATIONS = [Migration("booking_0001_people_and_bookings", _people_and_bookings)]
