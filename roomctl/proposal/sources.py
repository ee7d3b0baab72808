"""Where the proposal capability reads what other capabilities own: groups, members, sessions, transcripts.

This module is the proposal capability's one place of calls into other capabilities. It reads through
:class:`ContextSource`, so a capability can hand it a better source later. The default,
:class:`DatabaseContextSource`, reads the shared tables when they exist: ``members`` / ``group_members``
(booking; a group's facilitator is a member too), ``guests`` (when a capability adds that table, with a
``name`` column), ``sessions`` with a ``group_id`` column (session) and the speech capability's transcript
(``speech_segments``, through :func:`roomctl.speech.transcripts.transcript`). When a table is missing it answers
"unknown" rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlite_utils

from roomctl.booking.repository import BookingRepository
from roomctl.errors import NotFoundError
from roomctl.session.guests import known_guest_names


class ContextSource(Protocol):
    """What a proposal request needs to know about the room's people and sessions."""

    def group_of_session(self, session_id: int) -> int | None:
        """The group holding session ``session_id``, if known."""
        ...

    def known_names(self, group_id: int | None) -> list[str]:
        """Every person roomctl knows by name (members and facilitators of every group, guests), to remove.

        The members of ``group_id`` come first: where two people share a first name, the bare first name counts
        as the session group's member.
        """
        ...

    def transcript(self, session_id: int) -> str | None:
        """The brainstorm transcript of the session, if the speech capability stored one."""
        ...

    def material(self, session_id: int) -> dict[str, Any]:
        """What the group chose on the tablet: ``work_situation``, ``problem``, ``kader_notes`` (question, note)."""
        ...


class DatabaseContextSource:
    """Reads the shared tables of the room's database (see the module docstring)."""

    def __init__(
        self, db: sqlite_utils.Database, language: str = "nl", now: Callable[[], datetime] | None = None
    ) -> None:
        """Read ``db``; kader questions in ``language``; ``now`` is the room clock's (the session's stores take it)."""
        self.db = db
        self.language = language
        self.now = now or (lambda: datetime.now(UTC))

    def _has(self, table: str, *columns: str) -> bool:
        if table not in self.db.table_names():
            return False
        present = {c.name for c in self.db[table].columns}
        return all(c in present for c in columns)

    def group_of_session(self, session_id: int) -> int | None:
        """The ``group_id`` of the session row, if the sessions table has one."""
        if not self._has("sessions", "id", "group_id"):
            return None
        row = self.db.execute("select group_id from sessions where id = ?", [session_id]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def known_names(self, group_id: int | None) -> list[str]:
        """The group's members first, then every other member (active or not, facilitators too), then guests."""
        names = BookingRepository(self.db).names(first_group=group_id)
        names += known_guest_names(self.db)
        return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))

    def transcript(self, session_id: int) -> str | None:
        """The session's transcript from the speech capability's tables, or None when there is none."""
        if not self._has("speech_segments", "session_id", "text"):
            return None
        from roomctl.speech.transcripts import transcript

        try:
            text = str(transcript(self.db, session_id)["text"])
        except NotFoundError:
            return None
        return text.strip() or None

    def material(self, session_id: int) -> dict[str, Any]:
        """The session's stored choices (empty when the session is unknown), kader questions in the room's language."""
        from roomctl.session.choices import SessionChoices
        from roomctl.session.kader import KaderStore

        kader = KaderStore(self.db, now=self.now)
        try:
            return SessionChoices(self.db, kader, self.now).material(session_id, self.language)
        except NotFoundError:
            return {"work_situation": "", "problem": "", "kader_notes": []}
