"""The core's own tables: API tokens."""

from __future__ import annotations

import sqlite_utils

from roomctl.api import admin_audit
from roomctl.store.migrations import Migration


def _tokens(db: sqlite_utils.Database) -> None:
    db["tokens"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "role": str,
            "label": str,
            "token_hash": str,
            "member_id": int,
            "created_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"role", "token_hash", "created_at"},
    )
    db["tokens"].create_index(["token_hash"], unique=True)  # type: ignore[union-attr]


def _token_bindings(db: sqlite_utils.Database) -> None:
    """A token's expiry and what it is bound to: a group and booking (paired tablets), one reader."""
    for column in ("expires_at text", "group_id integer", "booking_id integer", "reader text"):
        db.execute(f"alter table tokens add column {column}")


def _calendar_feeds(db: sqlite_utils.Database) -> None:
    """Per-group read-only calendar subscription tokens (only their hash)."""
    db.execute(
        """create table calendar_feeds (
            id integer primary key,
            group_id integer not null,
            token_hash text not null unique,
            label text not null default '',
            created_at text not null,
            revoked_at text
        )"""
    )


MIGRATIONS = [
    Migration("core_0001_tokens", _tokens),
    Migration("core_0002_token_bindings", _token_bindings),
    Migration("core_0003_calendar_feeds", _calendar_feeds),
    Migration("core_0004_admin_audit", admin_audit.migrate),
]
