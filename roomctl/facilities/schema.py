"""The facilities capability's table: alerts, each raised once per condition and cleared when it ends."""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _alerts(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table alerts (
            id integer primary key,
            key text not null,
            kind text not null,
            severity text not null check (severity in ('info', 'warning', 'critical')),
            message text not null,
            detail_json text,
            raised_at text not null,
            cleared_at text,
            acknowledged_at text,
            acknowledged_by text
        )"""
    )
    db.execute("create unique index alerts_one_active_per_key on alerts(key) where cleared_at is null")
    db.execute("create index alerts_raised on alerts(raised_at)")


MIGRATIONS = [Migration("facilities_0001_alerts", _alerts)]
