"""SQLite storage through sqlite-utils: opening the database and running named migrations."""

from roomctl.store.db import open_database
from roomctl.store.migrations import Migration, migrate

__all__ = ["Migration", "migrate", "open_database"]
