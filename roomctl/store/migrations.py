"""Named schema migrations, applied once each at start-up and recorded in ``_migrations``.

The core's own migrations (tokens) come first; then each capability's, as its ``capability`` module exports
them (``MIGRATIONS``), in the order of :data:`roomctl.runtime.CAPABILITIES`. Each runs in its own
transaction together with the row that records it, so a crash leaves each migration either fully applied and
recorded or not at all.

A database that records a migration this code does not know was written by a newer roomctl and is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from roomctl.errors import DatabaseTooNewError

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Migration:
    """One schema change.

    Attributes:
        name: Unique and stable forever, prefixed by its capability, e.g. ``"booking_0001_bookings"``.
        apply: Changes the schema; runs inside a transaction.
    """

    name: str
    apply: Callable[[sqlite_utils.Database], None]


def all_migrations() -> list[Migration]:
    """Every migration the code knows, in the order they apply."""
    from roomctl.runtime import CAPABILITIES  # the capability list imports the store: resolve it when asked
    from roomctl.store import schema

    found: list[Migration] = list(schema.MIGRATIONS)
    for capability in CAPABILITIES:
        found.extend(capability.MIGRATIONS)
    names = [m.name for m in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate migration names: {sorted(duplicates)}")
    return found


def applied(db: sqlite_utils.Database) -> list[str]:
    """Names of the migrations recorded in ``db``, in the order they were applied."""
    if "_migrations" not in db.table_names():
        return []
    return [row["name"] for row in db.query("select name from _migrations order by rowid")]


def migrate(db: sqlite_utils.Database, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now.

    Raises:
        DatabaseTooNewError: The database records migrations this code does not know.
    """
    known = migrations if migrations is not None else all_migrations()
    with db.atomic():
        db.execute("create table if not exists _migrations (name text primary key, applied_at text not null)")
    done = set(applied(db))
    unknown = done - {m.name for m in known}
    if unknown:
        raise DatabaseTooNewError(
            f"the database was written by a newer roomctl (unknown migrations: {', '.join(sorted(unknown))}); "
            "upgrade roomctl or restore a backup made by this version"
        )
    ran: list[str] = []
    for migration in known:
        if migration.name in done:
            continue
        with db.atomic():
            migration.apply(db)
            db.execute(
                "insert into _migrations (name, applied_at) values (?, ?)",
                [migration.name, datetime.now(UTC).isoformat()],
            )
        log.info("applied migration %s", migration.name)
        ran.append(migration.name)
    return ran
