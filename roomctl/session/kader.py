"""The didactisch kader: the questions that steer the group's learning, stored in SQLite so /admin can edit them.

roomctl ships ten questions (``q1`` .. ``q10``, Dutch with an English translation) in
``roomctl/session/content/kader.json``; the migration in :mod:`roomctl.session.schema_content` copies them into
the ``kader_questions`` table. The ids are fixed: videoframe manifests refer to them. Their texts can be edited
and reset to the shipped defaults.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlite_utils

from roomctl.errors import NotFoundError, ValidationError
from roomctl.session.content import DEFAULT_KADER

log = logging.getLogger(__name__)

TABLE = "kader_questions"
"""The table holding the questions."""

MAX_QUESTION_CHARS = 300
"""Longest question text (per language); longer does not fit on the projector."""

LANGUAGES = ("nl", "en")
"""Languages every question has; Dutch first."""


@dataclass(frozen=True)
class Question:
    """One kader question.

    Attributes:
        id: Stable id (``q1`` .. ``q10``), used by videoframe manifests.
        position: Order on screens, from 1.
        nl: The Dutch text (what the group sees by default).
        en: The English text.
        updated_at: When an admin last edited it (ISO 8601), ``None`` for the shipped text.
    """

    id: str
    position: int
    nl: str
    en: str
    updated_at: str | None = None

    def text(self, language: str = "nl") -> str:
        """The question in ``language`` (``nl`` or ``en``); Dutch for any other language."""
        return self.en if language == "en" else self.nl

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@cache
def _defaults() -> tuple[tuple[str, str, str], ...]:
    data = json.loads(DEFAULT_KADER.read_text(encoding="utf-8"))
    return tuple((q["id"], q["nl"], q["en"]) for q in data["questions"])


def default_questions() -> list[Question]:
    """The shipped questions, in order."""
    return [Question(qid, pos, nl, en) for pos, (qid, nl, en) in enumerate(_defaults(), start=1)]


def default_question_ids() -> frozenset[str]:
    """The ids of the shipped questions (``q1`` .. ``q10``): the ids a videoframe may refer to."""
    return frozenset(qid for qid, _, _ in _defaults())


def _rows(questions: list[Question]) -> list[dict[str, Any]]:
    return [q.to_dict() for q in questions]


def seed_defaults(db: sqlite_utils.Database) -> None:
    """Write the shipped questions into the table, replacing what is there (call inside a transaction)."""
    db.execute("delete from kader_questions")
    db[TABLE].insert_all(_rows(default_questions()), pk="id")  # type: ignore[union-attr]


def _clean(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be text", field=field)
    text = " ".join(value.split())
    if not text:
        raise ValidationError(f"{field}: the question may not be empty", field=field)
    if len(text) > MAX_QUESTION_CHARS:
        raise ValidationError(
            f"{field}: the question is {len(text)} characters; at most {MAX_QUESTION_CHARS} fit on the screen",
            field=field,
        )
    return text


class KaderStore:
    """The kader questions in the room's database. Use from the event loop thread (like every DB access)."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] | None = None) -> None:
        """Wrap ``db`` (migrated, so the table exists); ``now`` gives edit times (the room clock's ``now``)."""
        self._db = db
        self._now = now or (lambda: datetime.now(UTC))

    def list(self) -> list[Question]:
        """Every question, in screen order."""
        return [Question(**row) for row in self._db.query("select * from kader_questions order by position")]

    def get(self, question_id: str) -> Question:
        """One question.

        Raises:
            NotFoundError: No question has that id.
        """
        rows = list(self._db.query("select * from kader_questions where id = ?", [question_id]))
        if not rows:
            known = ", ".join(q.id for q in self.list())
            raise NotFoundError(f"there is no kader question {question_id!r}; the questions are {known}")
        return Question(**rows[0])

    def update(self, question_id: str, nl: str, en: str) -> Question:
        """Change a question's texts (whitespace is collapsed); returns the stored question.

        Raises:
            NotFoundError: No question has that id (nothing changes).
            ValidationError: A text is empty or too long (nothing changes).
        """
        self.get(question_id)
        clean_nl = _clean("nl", nl)
        clean_en = _clean("en", en)
        with self._db.atomic():
            self._db.execute(
                "update kader_questions set nl = ?, en = ?, updated_at = ? where id = ?",
                [clean_nl, clean_en, self._now().isoformat(), question_id],
            )
        log.info("kader question %s edited", question_id)
        return self.get(question_id)

    def reset_defaults(self) -> builtins.list[Question]:
        """Put back the shipped questions (every edit is lost); returns them."""
        with self._db.atomic():
            seed_defaults(self._db)
        log.info("kader reset to the shipped questions")
        return self.list()

    def ordered_ids(self, value: object, most: int) -> builtins.list[str]:
        """``value`` as a list of known question ids in the kader's order, without repeats.

        Raises:
            ValidationError: Not a list of at most ``most`` texts.
            NotFoundError: An unknown question id.
        """
        if not isinstance(value, list) or len(value) > most:
            raise ValidationError(f"questions must be a list of at most {most} kader question ids", field="questions")
        for question in value:
            if not isinstance(question, str):
                raise ValidationError("questions must be kader question ids such as q3", field="questions")
            self.get(question)
        wanted = set(value)
        return [q.id for q in self.list() if q.id in wanted]

    def texts(self) -> dict[str, dict[str, str]]:
        """``{id: {"nl": ..., "en": ...}}`` for every question (what the screens need)."""
        return {q.id: {"nl": q.nl, "en": q.en} for q in self.list()}
