"""What the group chooses for its session, typed on the tablet and shown on the projector.

Today's work situation, the problem it states, the kader questions it takes on, and short notes per question.

They live in the ``sessions`` row (``work_situation``, ``problem``, ``chosen_questions`` as a JSON list) and in
``session_notes`` (one note per session and question), so the proposal capability can read them with the
session id alone (:meth:`SessionChoices.material` gives them in the shape ``ProposalService.ask`` takes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.errors import NotFoundError, ValidationError
from roomctl.session.kader import KaderStore, Question

log = logging.getLogger(__name__)

MAX_SITUATION_CHARS = 300
"""Longest work situation: a headline the projector shows, not a report."""
MAX_PROBLEM_CHARS = 500
"""Longest problem statement."""
MAX_NOTE_CHARS = 280
"""Longest note on one question (a short note that fits under the question on screen)."""
MAX_CHOSEN_QUESTIONS = 10
"""Most questions the group takes on in one session (the kader has about ten)."""


def clean_text(field: str, value: object, limit: int) -> str:
    """``value`` as one line of text (whitespace collapsed) of at most ``limit`` characters.

    Raises:
        ValidationError: Not text, or too long.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field=field)
    text = " ".join(value.split())
    if len(text) > limit:
        raise ValidationError(f"{field} is {len(text)} characters; keep it to {limit}", field=field)
    return text


def clean_text_list(field: str, value: object, most: int, limit: int) -> list[str]:
    """``value`` as a list of at most ``most`` texts of at most ``limit`` characters; empty ones and repeats dropped.

    Raises:
        ValidationError: Not a list, too many, or a text that is not text or too long.
    """
    if not isinstance(value, list) or len(value) > most:
        raise ValidationError(f"{field} must be a list of at most {most} texts", field=field)
    cleaned: list[str] = []
    for item in value:
        text = clean_text(field, item, limit)
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


class SessionChoices:
    """Reads and writes the group's choices of one room's sessions (event loop thread only)."""

    def __init__(self, db: sqlite_utils.Database, kader: KaderStore, now: Callable[[], datetime]) -> None:
        self.db = db
        self.kader = kader
        self.now = now

    def _row(self, session_id: int) -> dict[str, Any]:
        rows = list(
            self.db.query(
                "select work_situation, problem, chosen_questions from sessions where id = ?", [session_id]
            )
        )
        if not rows:
            raise NotFoundError(f"there is no session {session_id}")
        return rows[0]

    def set_work_situation(self, session_id: int, text: object) -> str:
        """Name today's work situation (empty text clears it)."""
        clean = clean_text("text", text, MAX_SITUATION_CHARS)
        self._row(session_id)
        with self.db.atomic():
            self.db.execute("update sessions set work_situation = ? where id = ?", [clean or None, session_id])
        return clean

    def set_problem(self, session_id: int, text: object) -> str:
        """State the problem (empty text clears it)."""
        clean = clean_text("text", text, MAX_PROBLEM_CHARS)
        self._row(session_id)
        with self.db.atomic():
            self.db.execute("update sessions set problem = ? where id = ?", [clean or None, session_id])
        return clean

    def _known(self, question_id: object) -> str:
        if not isinstance(question_id, str):
            raise ValidationError("question must be a kader question id such as q3", field="question")
        self.kader.get(question_id)
        return question_id

    def choose(self, session_id: int, question_ids: object) -> list[str]:
        """The kader questions the group takes on today (in the kader's order, no repeats)."""
        ordered = self.kader.ordered_ids(question_ids, MAX_CHOSEN_QUESTIONS)
        self._row(session_id)
        with self.db.atomic():
            self.db.execute("update sessions set chosen_questions = ? where id = ?", [json.dumps(ordered), session_id])
        return ordered

    def set_note(self, session_id: int, question_id: object, text: object) -> str:
        """The group's note on a question (empty text removes it)."""
        qid = self._known(question_id)
        clean = clean_text("text", text, MAX_NOTE_CHARS)
        self._row(session_id)
        with self.db.atomic():
            if clean:
                self.db.execute(
                    "insert into session_notes (session_id, question_id, note, updated_at) values (?, ?, ?, ?) "
                    "on conflict (session_id, question_id) do update set note = excluded.note, "
                    "updated_at = excluded.updated_at",
                    [session_id, qid, clean, self.now().isoformat()],
                )
            else:
                self.db.execute("delete from session_notes where session_id = ? and question_id = ?", [session_id, qid])
        return clean

    def apply(self, session_id: int, command: str, args: dict[str, Any]) -> None:
        """Apply a tablet command: ``situation``, ``problem`` (``{text}``), ``choose`` or ``note``.

        ``choose`` takes ``{questions}``, ``note`` takes ``{question, text}``.

        Raises:
            ValidationError: Bad arguments or an unknown command (nothing changes).
            NotFoundError: An unknown question or session.
        """
        match command:
            case "situation":
                self.set_work_situation(session_id, args.get("text", ""))
            case "problem":
                self.set_problem(session_id, args.get("text", ""))
            case "choose":
                self.choose(session_id, args.get("questions"))
            case "note":
                self.set_note(session_id, args.get("question"), args.get("text", ""))
            case _:
                raise ValidationError(f"{command!r} is not a choice; use situation, problem, choose or note")

    @staticmethod
    def question_texts(
        ids: tuple[str, ...], notes: dict[str, str], known: Mapping[str, Question]
    ) -> list[dict[str, str]]:
        """The questions ``ids`` with their texts and the group's note (unknown ids are skipped and logged).

        Args:
            ids: The questions, in order.
            notes: The group's notes by question.
            known: The kader's questions by id (the caller reads them once for all it shows).
        """
        texts = []
        for question_id in ids:
            question = known.get(question_id)
            if question is None:
                log.warning("a step names unknown kader question %s", question_id)
                continue
            entry = {"id": question.id, "nl": question.nl, "en": question.en}
            if notes.get(question.id):
                entry["note"] = notes[question.id]
            texts.append(entry)
        return texts

    def notes(self, session_id: int) -> dict[str, str]:
        """``{question_id: note}`` of the session."""
        rows = self.db.query("select question_id, note from session_notes where session_id = ?", [session_id])
        return {r["question_id"]: r["note"] for r in rows}

    def view(self, session_id: int) -> dict[str, Any]:
        """The choices as the screens show them."""
        row = self._row(session_id)
        return {
            "work_situation": row["work_situation"] or "",
            "problem": row["problem"] or "",
            "chosen": json.loads(row["chosen_questions"]) if row["chosen_questions"] else [],
            "notes": self.notes(session_id),
        }

    def material(self, session_id: int, language: str = "nl") -> dict[str, Any]:
        """What a proposal request takes: ``work_situation``, ``problem`` and ``kader_notes``.

        ``kader_notes`` holds (question text, note) for every question that has a note or was chosen.
        """
        view = self.view(session_id)
        texts = self.kader.texts()
        wanted = list(view["chosen"]) + [q for q in view["notes"] if q not in view["chosen"]]
        notes = [
            (texts[q].get(language) or texts[q]["nl"], view["notes"].get(q, "")) for q in wanted if q in texts
        ]
        return {"work_situation": view["work_situation"], "problem": view["problem"], "kader_notes": notes}
