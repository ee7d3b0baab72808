"""Continuity between sessions: what the group decided last time, how it went, and the week's choices.

Every session opens, in its arrival phase, with the group's last validated (accepted) proposal on the kiosk
and the tablet ("Vorige keer besloten"). The group says how it went (``well``, ``partly``, ``not_yet``) and
can type a short follow-up; it is stored with that proposal in ``proposal_followups`` (one per proposal, the
latest answer wins). Accepted proposals without a follow-up are listed by :meth:`FollowupStore.open_for`.

The screen part ``continuity`` (owned by the session capability) holds, while a session runs:
``{"session_id", "group_id", "last_proposal": {id, title, steps, decided_at} | None, "followup": ... | None,
"cycle": <the week's cycle view>, "open_followups": <count>}``. The proposal comes from
:meth:`ProposalService.last_accepted_proposal`, never from the proposal capability's screen part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.errors import NotFoundError, StateError, ValidationError
from roomctl.session.choices import clean_text

log = logging.getLogger(__name__)

HOW_IT_WENT = ("well", "partly", "not_yet")
"""What the group can answer to "how did it go?"."""
MAX_FOLLOWUP_CHARS = 280
"""Longest follow-up note (it is shown under the proposal's title)."""
STEPS_SHOWN = 3
"""Steps of the last proposal shown on the arrival screen."""
PART = "continuity"
"""The screen part name."""


class FollowupStore:
    """The ``proposal_followups`` table (event loop thread only)."""

    def __init__(self, db: sqlite_utils.Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def get(self, proposal_id: int) -> dict[str, Any] | None:
        """The follow-up stored with a proposal, if any."""
        rows = list(self.db.query("select * from proposal_followups where proposal_id = ?", [proposal_id]))
        return dict(rows[0]) if rows else None

    def record(self, proposal: dict[str, Any], session_id: int | None, how: object, note: object) -> dict[str, Any]:
        """Store (or replace) the follow-up of an accepted proposal.

        Raises:
            ValidationError: ``how`` is not one of :data:`HOW_IT_WENT`, or the note is too long.
            StateError: The proposal was not accepted.
        """
        if how not in HOW_IT_WENT:
            raise ValidationError(f"how must be one of {', '.join(HOW_IT_WENT)}", field="how")
        text = clean_text("note", note if note is not None else "", MAX_FOLLOWUP_CHARS)
        if proposal.get("status") != "accepted":
            raise StateError(f"proposal {proposal['id']} was not validated; only accepted proposals are followed up")
        with self.db.atomic():
            self.db.execute(
                "insert into proposal_followups (proposal_id, group_id, session_id, how_it_went, note, updated_at) "
                "values (?, ?, ?, ?, ?, ?) on conflict (proposal_id) do update set session_id = excluded.session_id, "
                "how_it_went = excluded.how_it_went, note = excluded.note, updated_at = excluded.updated_at",
                [proposal["id"], proposal["group_id"], session_id, how, text, self.now().isoformat()],
            )
        log.info("follow-up on proposal %s: %s", proposal["id"], how)
        found = self.get(int(proposal["id"]))
        assert found is not None
        return found

    def followed_ids(self, group_id: int) -> set[int]:
        """Ids of the group's proposals that have a follow-up."""
        rows = self.db.execute("select proposal_id from proposal_followups where group_id = ?", [group_id]).fetchall()
        return {int(r[0]) for r in rows}

    def open_for(self, group_id: int, accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The group's accepted proposals (``accepted``, as the proposal store gives them) without a follow-up."""
        done = self.followed_ids(group_id)
        return [summary(p) for p in accepted if p["id"] not in done]


def summary(proposal: dict[str, Any]) -> dict[str, Any]:
    """What the screens show of a validated proposal: id, title, a few steps' actions, when it was decided."""
    content = proposal.get("content") or {}
    steps = content.get("steps") or []
    return {
        "id": proposal["id"],
        "session_id": proposal.get("session_id"),
        "title": content.get("title") or "",
        "steps": [s.get("action", "") for s in steps[:STEPS_SHOWN] if isinstance(s, dict)],
        "decided_at": proposal.get("decided_at"),
    }


def require_accepted(proposal: dict[str, Any] | None, group_id: int) -> dict[str, Any]:
    """``proposal`` if it is an accepted proposal of ``group_id``.

    Raises:
        NotFoundError: There is none.
        StateError: It belongs to another group.
    """
    if proposal is None:
        raise NotFoundError("this group has no validated proposal yet; there is nothing to follow up")
    if proposal.get("group_id") != group_id:
        raise StateError(f"proposal {proposal['id']} belongs to another group; follow up your own group's proposal")
    return proposal
