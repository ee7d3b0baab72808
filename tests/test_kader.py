"""The didactisch kader: ten shipped questions in SQLite, editable, persisted, resettable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from roomctl.errors import NotFoundError, ValidationError
from roomctl.session import schema_content
from roomctl.session.kader import MAX_QUESTION_CHARS, KaderStore, default_question_ids, default_questions
from roomctl.store import migrate, open_database
from roomctl.store.migrations import all_migrations, applied

FIXED_NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def open_db(path: Path) -> sqlite_utils.Database:
    """The database with only the core and this capability's migrations (other capabilities are not under test)."""
    db = open_database(path, migrate_schema=False)
    migrate(db, schema_content.MIGRATIONS)
    return db


def test_migration_is_registered() -> None:
    known = [m.name for m in all_migrations()]
    assert "session_content_0001_kader" in known
    assert [m.name for m in schema_content.MIGRATIONS] == ["session_content_0001_kader"]


def test_defaults_are_ten_dutch_questions_with_english(tmp_path: Path) -> None:
    db = open_db(tmp_path / "room.db")
    assert applied(db) == ["session_content_0001_kader"]
    questions = KaderStore(db).list()
    assert [q.id for q in questions] == [f"q{n}" for n in range(1, 11)]
    assert [q.position for q in questions] == list(range(1, 11))
    assert questions[0].nl == "Wat is de situatie precies?"
    assert questions[0].en == "What exactly is the situation?"
    assert questions[2].text("nl") == "Wat wil je bereiken?"
    for q in questions:
        assert q.nl.endswith("?") and q.en.endswith("?") and q.nl != q.en
        assert len(q.nl) <= MAX_QUESTION_CHARS and q.updated_at is None
    assert default_question_ids() == {q.id for q in questions}
    assert questions == default_questions()


def test_edits_persist_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "room.db"
    store = KaderStore(open_db(path), now=lambda: FIXED_NOW)
    edited = store.update("q3", "  Wat wil je   samen bereiken? ", "What do you want to achieve together?")
    assert edited.nl == "Wat wil je samen bereiken?"
    assert edited.updated_at == FIXED_NOW.isoformat()

    reopened = KaderStore(open_db(path))
    assert reopened.get("q3").nl == "Wat wil je samen bereiken?"
    assert reopened.get("q3").en == "What do you want to achieve together?"
    assert reopened.texts()["q3"] == {"nl": "Wat wil je samen bereiken?", "en": "What do you want to achieve together?"}
    assert reopened.get("q4") == default_questions()[3]


@pytest.mark.parametrize(
    ("nl", "en", "expected"),
    [
        ("", "Fine?", "nl: the question may not be empty"),
        ("Goed?", "   ", "en: the question may not be empty"),
        ("x" * (MAX_QUESTION_CHARS + 1), "Fine?", f"at most {MAX_QUESTION_CHARS} fit"),
    ],
)
def test_bad_edits_change_nothing(tmp_path: Path, nl: str, en: str, expected: str) -> None:
    store = KaderStore(open_db(tmp_path / "room.db"))
    with pytest.raises(ValidationError, match=expected):
        store.update("q1", nl, en)
    assert store.list() == default_questions()


def test_unknown_question(tmp_path: Path) -> None:
    store = KaderStore(open_db(tmp_path / "room.db"))
    with pytest.raises(NotFoundError, match="no kader question 'q11'"):
        store.update("q11", "Nieuw?", "New?")
    with pytest.raises(NotFoundError):
        store.get("q0")
    assert store.list() == default_questions()


def test_reset_defaults(tmp_path: Path) -> None:
    store = KaderStore(open_db(tmp_path / "room.db"))
    store.update("q1", "Anders?", "Different?")
    store.update("q10", "Klaar?", "Done?")
    assert store.reset_defaults() == default_questions()
    assert store.get("q1").nl == "Wat is de situatie precies?"
