"""Reading and writing the outbox rows and the proposal versions (tables in :mod:`roomctl.proposal.schema`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.errors import NotFoundError
from roomctl.store.db import insert_row, update_row

ACTIVE_STATES = ("pending", "sending")


def _decode_request(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["body"] = json.loads(row.pop("body_json"))
    response = row.pop("response_json")
    row["response"] = json.loads(response) if response else None
    row.pop("rejected_key", None)
    return row


def _decode_proposal(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["content"] = json.loads(row.pop("content_json"))
    row["original"] = json.loads(row.pop("original_json"))
    row["edited"] = bool(row["edited"])
    return row


def _decode_preview(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    sections = row.pop("sections_json")
    mapping = row.pop("mapping_json")
    row["sections"] = json.loads(sections) if sections else []
    row["mapping"] = json.loads(mapping) if mapping else {}
    row["struck"] = json.loads(row.pop("struck_json"))
    return row


class ProposalStore:
    """The proposal capability's tables. Used from the event loop's thread only."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # -- outbox -----------------------------------------------------------------------------------------

    def insert_request(self, values: dict[str, Any]) -> int:
        """Store a new request (state pending); return its id."""
        row = dict(values)
        row["body_json"] = json.dumps(row.pop("body"), ensure_ascii=False)
        with self.db.atomic():
            table = self.db.table("proposal_requests")
            table.insert(row)
            return int(table.last_pk)  # type: ignore[arg-type]

    def raw_request(self, request_id: int) -> dict[str, Any]:
        """The request row as stored.

        Raises:
            NotFoundError: No such request.
        """
        rows = list(self.db.query("select * from proposal_requests where id = ?", [request_id]))
        if not rows:
            raise NotFoundError(f"proposal request {request_id} does not exist")
        return rows[0]

    def request(self, request_id: int) -> dict[str, Any]:
        """The request with its body decoded (the rejected key tag is left out)."""
        return _decode_request(self.raw_request(request_id))

    def request_by_key(self, key: str) -> dict[str, Any] | None:
        """The request with idempotency key ``key``, if any."""
        rows = list(self.db.query("select * from proposal_requests where idempotency_key = ?", [key]))
        return _decode_request(rows[0]) if rows else None

    def active_request(self, session_id: int) -> dict[str, Any] | None:
        """The session's request that is still pending or being sent, if any."""
        rows = list(
            self.db.query(
                "select * from proposal_requests where session_id = ? and state in ('pending', 'sending') "
                "order by id limit 1",
                [session_id],
            )
        )
        return _decode_request(rows[0]) if rows else None

    def requests_for_session(self, session_id: int) -> list[dict[str, Any]]:
        """Every request of the session, oldest first, without bodies."""
        rows = self.db.query("select * from proposal_requests where session_id = ? order by id", [session_id])
        out = []
        for row in rows:
            decoded = _decode_request(row)
            decoded.pop("body")
            decoded.pop("response")
            out.append(decoded)
        return out

    def pending(self) -> list[dict[str, Any]]:
        """Pending requests in order of their next attempt (never-tried first)."""
        return list(
            self.db.query(
                "select * from proposal_requests where state = 'pending' "
                "order by coalesce(next_attempt_at, ''), id"
            )
        )

    def count_in_state(self, state: str) -> int:
        """How many requests are in ``state``."""
        row = self.db.execute("select count(*) from proposal_requests where state = ?", [state]).fetchone()
        return int(row[0])

    def update_request(self, request_id: int, **values: Any) -> None:
        """Change fields of a request."""
        with self.db.atomic():
            update_row(self.db, "proposal_requests", request_id, values)

    def reset_sending(self) -> list[int]:
        """At start: requests left in 'sending' by a crash, with no response recorded, go back to pending."""
        rows = self.db.execute(
            "select id from proposal_requests where state = 'sending' and response_json is null"
        ).fetchall()
        ids = [int(r[0]) for r in rows]
        with self.db.atomic():
            for request_id in ids:
                self.db.execute(
                    "update proposal_requests set state = 'pending', wait_reason = 'restarted', next_attempt_at = null "
                    "where id = ?",
                    [request_id],
                )
        return ids

    def record_usage(
        self, request_id: int, *, at: datetime, day: str, model: str, input_tokens: int, output_tokens: int,
        cost: float,
    ) -> None:
        """Add one API call's usage to the request and the usage ledger."""
        if not input_tokens and not output_tokens:
            return
        with self.db.atomic():
            insert_row(
                self.db,
                "proposal_usage",
                {
                    "request_id": request_id,
                    "at": at.isoformat(),
                    "local_day": day,
                    "model": model,
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cost_eur": cost,
                }
            )
            self.db.execute(
                "update proposal_requests set input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                "cost_eur = cost_eur + ? where id = ?",
                [input_tokens, output_tokens, cost, request_id],
            )

    # -- previews ------------------------------------------------------------------------------------------

    def insert_preview(self, values: dict[str, Any]) -> int:
        """Store what the group will see before a request goes out; return its id."""
        row = dict(values)
        row["sections_json"] = json.dumps(row.pop("sections"), ensure_ascii=False)
        row["mapping_json"] = json.dumps(row.pop("mapping"), ensure_ascii=False)
        row["struck_json"] = json.dumps(row.pop("struck", []))
        with self.db.atomic():
            table = self.db.table("proposal_previews")
            table.insert(row)
            return int(table.last_pk)  # type: ignore[arg-type]

    def preview(self, preview_id: int) -> dict[str, Any]:
        """One preview, decoded (with the mapping: never hand that to anything that leaves the Pi).

        Raises:
            NotFoundError: No such preview.
        """
        rows = list(self.db.query("select * from proposal_previews where id = ?", [preview_id]))
        if not rows:
            raise NotFoundError(f"proposal preview {preview_id} does not exist")
        return _decode_preview(rows[0])

    def preview_by_key(self, key: str) -> dict[str, Any] | None:
        """The preview asked for with idempotency key ``key``, if any."""
        rows = list(self.db.query("select * from proposal_previews where idempotency_key = ?", [key]))
        return _decode_preview(rows[0]) if rows else None

    def preview_of_request(self, request_id: int) -> dict[str, Any] | None:
        """The preview a request was sent from, if it still exists."""
        rows = list(self.db.query("select * from proposal_previews where request_id = ?", [request_id]))
        return _decode_preview(rows[0]) if rows else None

    def open_preview(self, session_id: int) -> dict[str, Any] | None:
        """The session's preview that waits for the group, if any."""
        rows = list(
            self.db.query(
                "select * from proposal_previews where session_id = ? and state = 'open' order by id limit 1",
                [session_id],
            )
        )
        return _decode_preview(rows[0]) if rows else None

    def mark_sent(self, preview_id: int, request_id: int, struck: list[str], now: datetime) -> None:
        """The group sent the preview (without the ``struck`` passages) as request ``request_id``."""
        with self.db.atomic():
            self.db.table("proposal_previews").update(
                preview_id,
                {"state": "sent", "request_id": request_id, "struck_json": json.dumps(struck),
                 "sent_at": now.isoformat()},
            )

    def expire_material(self, before: datetime) -> list[int]:
        """Delete the material, mapping and sent body of previews made before ``before`` (never a pending one).

        Returns:
            The ids of the previews that expired.
        """
        rows = self.db.execute(
            "select p.id, p.request_id from proposal_previews p left join proposal_requests r on r.id = p.request_id "
            "where p.state != 'expired' and p.created_at < ? and (r.id is null or r.state in ('done', 'failed'))",
            [before.isoformat()],
        ).fetchall()
        with self.db.atomic():
            for preview_id, request_id in rows:
                self.db.execute(
                    "update proposal_previews set state = 'expired', sections_json = null, mapping_json = null, "
                    "struck_json = '[]' where id = ?",
                    [preview_id],
                )
                if request_id is not None:
                    self.db.execute(
                        "update proposal_requests set body_json = ? where id = ?",
                        [json.dumps({"expired": True}), request_id],
                    )
        return [int(r[0]) for r in rows]

    # -- proposals --------------------------------------------------------------------------------------

    def complete(self, request_id: int, content: dict[str, Any], *, now: datetime, language: str) -> int:
        """Record the answer, create the proposal version and mark the request done, in one transaction."""
        request = self.raw_request(request_id)
        with self.db.atomic():
            row = self.db.execute(
                "select coalesce(max(version), 0) from proposals where session_id = ?", [request["session_id"]]
            ).fetchone()
            proposal_id = insert_row(
                self.db,
                "proposals",
                {
                    "session_id": request["session_id"],
                    "group_id": request["group_id"],
                    "request_id": request_id,
                    "version": int(row[0]) + 1,
                    "parent_id": request["parent_proposal_id"],
                    "status": "draft",
                    "content_json": json.dumps(content, ensure_ascii=False),
                    "original_json": json.dumps(content, ensure_ascii=False),
                    "edited": 0,
                    "language": language,
                    "created_at": now.isoformat(),
                }
            )
            update_row(
                self.db,
                "proposal_requests",
                request_id,
                {
                    "state": "done",
                    "wait_reason": None,
                    "last_error": None,
                    "response_json": json.dumps(content, ensure_ascii=False),
                    "proposal_id": proposal_id,
                    "completed_at": now.isoformat(),
                },
            )
        return proposal_id

    def proposal(self, proposal_id: int) -> dict[str, Any]:
        """One proposal version.

        Raises:
            NotFoundError: No such proposal.
        """
        rows = list(self.db.query("select * from proposals where id = ?", [proposal_id]))
        if not rows:
            raise NotFoundError(f"proposal {proposal_id} does not exist")
        return _decode_proposal(rows[0])

    def proposals_for_session(self, session_id: int) -> list[dict[str, Any]]:
        """Every version of the session's proposals, oldest first."""
        rows = self.db.query("select * from proposals where session_id = ? order by version", [session_id])
        return [_decode_proposal(r) for r in rows]

    def update_proposal(self, proposal_id: int, **values: Any) -> None:
        """Change fields of a proposal (``content`` is stored as JSON)."""
        if "content" in values:
            values["content_json"] = json.dumps(values.pop("content"), ensure_ascii=False)
        with self.db.atomic():
            self.db.table("proposals").update(proposal_id, values)

    def portfolio(self, group_id: int) -> list[dict[str, Any]]:
        """The group's accepted proposals, oldest first."""
        rows = self.db.query(
            "select * from proposals where group_id = ? and status = 'accepted' order by decided_at, id", [group_id]
        )
        return [_decode_proposal(r) for r in rows]

    def group_name(self, group_id: int) -> str | None:
        """The group's name from the booking tables, if they exist."""
        if "groups" not in self.db.table_names():
            return None
        row = self.db.execute("select name from groups where id = ?", [group_id]).fetchone()
        return str(row[0]) if row else None


def last_accepted_proposal(db: sqlite_utils.Database, group_id: int) -> dict[str, Any] | None:
    """The group's most recently accepted proposal (for the next session to open with), or None."""
    rows = list(
        db.query(
            "select * from proposals where group_id = ? and status = 'accepted' order by decided_at desc, id desc "
            "limit 1",
            [group_id],
        )
    )
    return _decode_proposal(rows[0]) if rows else None


def accepted_proposal_ids(db: sqlite_utils.Database, group_id: int) -> list[int]:
    """Ids of the group's accepted proposals, oldest first (read-only; for the session's follow-up count)."""
    rows = db.execute(
        "select id from proposals where group_id = ? and status = 'accepted' order by decided_at, id", [group_id]
    ).fetchall()
    return [int(r[0]) for r in rows]
