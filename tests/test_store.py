"""Storage: WAL, FULL sync, named migrations applied once, newer databases refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from roomctl.errors import DatabaseTooNewError, NotFoundError, StorageError
from roomctl.store import Migration, migrate, open_database
from roomctl.store.db import insert_row, update_row
from roomctl.store.migrations import all_migrations, applied


def test_pragmas_and_all_migrations_recorded(tmp_path: Path) -> None:
    db = open_database(tmp_path / "room.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma synchronous").fetchone()[0] == 2  # FULL
    assert applied(db) == [m.name for m in all_migrations()]
    assert {"tokens", "members", "bookings", "audit", "sessions"} <= set(db.table_names())


def test_a_migration_runs_exactly_once(tmp_path: Path) -> None:
    calls: list[str] = []

    def create(db: sqlite_utils.Database) -> None:
        calls.append("create")
        db.execute("create table things (id integer primary key)")

    migrations = [Migration("test_0001_things", create)]
    db = sqlite_utils.Database(tmp_path / "t.db")
    assert migrate(db, migrations) == ["test_0001_things"]
    assert migrate(db, migrations) == []
    db.close()
    reopened = sqlite_utils.Database(tmp_path / "t.db")
    assert migrate(reopened, migrations) == []
    assert calls == ["create"]


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    def half(db: sqlite_utils.Database) -> None:
        db.execute("create table half (id integer primary key)")
        raise RuntimeError("boom")

    db = sqlite_utils.Database(tmp_path / "t.db")
    with pytest.raises(RuntimeError):
        migrate(db, [Migration("test_0001_half", half)])
    assert "half" not in db.table_names()
    assert applied(db) == []


def test_database_from_a_newer_roomctl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "room.db"
    db = open_database(path)
    db.execute("insert into _migrations (name, applied_at) values ('future_0001_x', '2030-01-01')")
    db.conn.commit()
    db.close()
    with pytest.raises(DatabaseTooNewError, match="future_0001_x"):
        open_database(path)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "room.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        open_database(path)
    assert path.read_bytes() == before


def test_plain_row_writes_store_what_they_are_given_and_refuse_odd_names(tmp_path: Path) -> None:
    db = open_database(tmp_path / "room.db")
    db.execute("create table things (id integer primary key, name text, size integer)")
    first = insert_row(db, "things", {"name": "beamer", "size": 3})
    second = insert_row(db, "things", {"name": "scherm", "size": 2})
    assert second == first + 1
    update_row(db, "things", first, {"size": 5})
    assert db.execute("select id, name, size from things order by id").fetchall() == [
        (first, "beamer", 5),
        (second, "scherm", 2),
    ]
    with pytest.raises(NotFoundError):
        update_row(db, "things", second + 10, {"size": 1})
    for table, values in [("things", {"size = 0; drop table things; --": 1}), ("things]; --", {"size": 1}),
                          ("things", {})]:  # fmt: skip
        with pytest.raises(ValueError):
            update_row(db, table, first, values)
        with pytest.raises(ValueError):
            insert_row(db, table, values)
    assert db.execute("select count(*), sum(size) from things").fetchone() == (2, 7)
