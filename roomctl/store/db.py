"""Opening the room's SQLite database.

The database runs in WAL mode with ``synchronous=FULL``: bookings, the audit trail and proposals must survive
a power cut. All access from the service happens on the event loop's thread; worker processes open their own
connection with :func:`open_database`.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import sqlite_utils

from roomctl.errors import StorageError

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
"""The largest id SQLite can store (a signed 64-bit integer): larger ids in a request are refused, not looked up."""

BUSY_TIMEOUT_MS = 5000
"""How long a connection waits for another writer before giving up."""


def open_database(path: Path | str, *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    Args:
        path: The database file, or ``":memory:"``.
        migrate_schema: Run pending migrations (the service does; read-only tools may not).

    Raises:
        StorageError: The file is not an SQLite database or cannot be opened.
        DatabaseTooNewError: The database was migrated by a newer roomctl.
    """
    from roomctl.store.migrations import migrate

    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        db.table_names()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} is not a usable SQLite database ({exc}); move it aside or restore a backup") from exc
    if migrate_schema:
        migrate(db)
    return db
