"""The trajectory capability's table: one personal trajectory per member."""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _trajectories(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table trajectories (
            member_id integer primary key,
            group_id integer not null,
            starts_on text not null,
            weeks integer not null check (weeks > 0),
            minutes_per_week integer not null check (minutes_per_week > 0),
            questions text not null default '[]',
            learning_needs text not null default '[]',
            wishes text not null default '',
            created_at text not null,
            updated_at text not null
        )"""
    )


MIGRATIONS = [Migration("trajectory_0001_trajectories", _trajectories)]
