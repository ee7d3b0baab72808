"""The audit trail table (append-only, enforced by triggers as well as by the code) and the secure badges.

Updates are refused outright; deletes only for rows older than the retention in ``access_settings``, so
retention expiry is the one way rows leave.
"""

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


DEFAULT_RETENTION_DAYS = 365
"""Retention recorded at migration; the service writes ``[door] audit_retention_days`` over it at start."""
FALLBACK_RETENTION_DAYS = 3650
"""What the delete guard assumes if the settings row were somehow missing (it cannot be deleted)."""


def _audit_retention_guard(db: sqlite_utils.Database) -> None:
    """Deleting audit rows is refused unless they are older than the recorded retention."""
    db.execute(
        """create table access_settings (
            id integer primary key check (id = 1),
            audit_retention_days integer not null check (audit_retention_days >= 1)
        )"""
    )
    db.execute("insert into access_settings (id, audit_retention_days) values (1, ?)", [DEFAULT_RETENTION_DAYS])
    db.execute(
        "create trigger access_settings_keep before delete on access_settings "
        "begin select raise(abort, 'the access settings row cannot be deleted'); end"
    )
    db.execute(
        f"""create trigger audit_delete_only_expired before delete on audit
        when old.at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-' || coalesce(
            (select audit_retention_days from access_settings where id = 1), {FALLBACK_RETENTION_DAYS}) || ' days')
        begin select raise(abort, 'audit entries are deleted only after their retention has expired'); end"""  # noqa: S608 - a constant, no input
    )


def _secure_badges(db: sqlite_utils.Database) -> None:
    """NTAG 424 DNA badges and their counters; the audit records which credential each decision saw."""
    db.execute(
        """create table secure_badges (
            uid text primary key,
            key_version integer not null,
            last_counter integer not null check (last_counter >= 0),
            provisioned_at text not null,
            last_seen_at text
        )"""
    )
    db.execute("alter table audit add column credential text check (credential in ('uid', 'secure'))")


MIGRATIONS = [
    Migration("access_0001_audit", _audit),
    Migration("access_0002_audit_retention_guard", _audit_retention_guard),
    Migration("access_0003_secure_badges", _secure_badges),
]
