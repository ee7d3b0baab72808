"""Tables of the session's content: the didactisch kader (videoframes live on disk, see videoframes.py)."""

from __future__ import annotations

import sqlite_utils

from roomctl.session.kader import TABLE, seed_defaults
from roomctl.store.migrations import Migration


def _kader(db: sqlite_utils.Database) -> None:
    db[TABLE].create(  # type: ignore[union-attr]
        {"id": str, "position": int, "nl": str, "en": str, "updated_at": str},
        pk="id",
        not_null={"position", "nl", "en"},
    )
    seed_defaults(db)


MIGRATIONS = [Migration("session_content_0001_kader", _kader)]
