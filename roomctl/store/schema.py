"""The core's own tables: API tokens."""

from __future__ import annotations

import sqlite_utils

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


MIGRATIONS = [Migration("core_0001_tokens", _tokens)]
