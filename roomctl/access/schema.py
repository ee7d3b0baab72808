"""The audit trail table: append-only, enforced by triggers as well as by the code."""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _audit(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table audit (
            id integer primary key,
            at text not null,
            kind text not null,
            reader text,
            badge text,
            member_id integer,
            decision text,
            reason text,
            detail text
        )"""
    )
    db.execute("create index audit_at on audit(at)")
    db.execute(
        "create trigger audit_no_update before update on audit "
        "begin select raise(abort, 'the audit trail is append-only'); end"
    )


MIGRATIONS = [Migration("access_0001_audit", _audit)]
