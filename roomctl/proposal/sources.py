"""Where the proposal capability reads what other capabilities own: groups, members, sessions, transcripts.

It reads through :class:`ContextSource`, so a capability can hand it a better source later. The default,
:class:`DatabaseContextSource`, reads the shared tables when they exist: ``members`` / ``group_members``
(booking), ``sessions`` with a ``group_id`` column (session) and ``transcript_segments`` with ``session_id`` and
``text`` (speech). When a table is missing it answers "unknown" rather than failing.
"""

from __future__ import annotations

from typing import Protocol

import sqlite_utils


class ContextSource(Protocol):
    """What a proposal request needs to know about the room's people and sessions."""

    def group_of_session(self, session_id: int) -> int | None:
        """The group holding session ``session_id``, if known."""
        ...

    def member_names(self, group_id: int | None) -> list[str]:
        """Names to remove: the members of ``group_id``; every member when the group is unknown."""
        ...

    def transcript(self, session_id: int) -> str | None:
        """The brainstorm transcript of the session, if the speech capability stored one."""
        ...


class DatabaseContextSource:
    """Reads the shared tables of the room's database (see the module docstring)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

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

    def member_names(self, group_id: int | None) -> list[str]:
        """Members' names (of the group, or all when the group is unknown: removing too much is safe)."""
        if not self._has("members", "id", "name"):
            return []
        if group_id is not None and self._has("group_members", "group_id", "member_id"):
            rows = self.db.execute(
                "select m.name from members m join group_members g on g.member_id = m.id where g.group_id = ?",
                [group_id],
            ).fetchall()
        else:
            rows = self.db.execute("select name from members").fetchall()
        return [str(r[0]) for r in rows if r[0]]

    def transcript(self, session_id: int) -> str | None:
        """The session's segments joined in order, or None when there is no transcript table or text."""
        if not self._has("transcript_segments", "session_id", "text"):
            return None
        order = "start_seconds, id" if self._has("transcript_segments", "start_seconds", "id") else "rowid"
        rows = self.db.execute(
            f"select text from transcript_segments where session_id = ? order by {order}",  # noqa: S608
            [session_id],
        ).fetchall()
        text = " ".join(str(r[0]).strip() for r in rows if r[0])
        return text or None
