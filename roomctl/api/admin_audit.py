"""The admin audit trail: who (token id and label) changed what, and when, kept like the door's audit trail.

Audited: members, badges, tokens, groups, bookings, series, closures and calendar subscriptions.

Append-only: updates are refused by a trigger, and deletes only for rows older than the door's audit
retention (``access_settings``, the same guard as the door's trail). Rows are written by the API's request
middleware after a change succeeded (:func:`audited_route`), and by the CLI for the tokens it makes or revokes.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import sqlite_utils

from roomctl.api.tokens import Principal

log = logging.getLogger(__name__)

AUDITED = ("/members", "/badges", "/groups", "/bookings", "/series", "/closures", "/tokens", "/calendar")
"""Route families (after ``/api/v1``) whose changes are audited."""
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change something."""
FALLBACK_RETENTION_DAYS = 3650
"""What the delete guard assumes if the door's retention row were missing."""


def migrate(db: sqlite_utils.Database) -> None:
    """The ``admin_audit`` table with its append-only and retention triggers (a core migration)."""
    db.execute(
        """create table admin_audit (
            id integer primary key,
            at text not null,
            token_id integer,
            token_label text not null,
            role text not null,
            action text not null,
            target text not null,
            status integer not null,
            detail text
        )"""
    )
    db.execute("create index admin_audit_at on admin_audit(at)")
    db.execute(
        "create trigger admin_audit_no_update before update on admin_audit "
        "begin select raise(abort, 'the admin audit trail is append-only'); end"
    )
    db.execute(
        f"""create trigger admin_audit_delete_only_expired before delete on admin_audit
        when old.at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-' || coalesce(
            (select audit_retention_days from access_settings where id = 1), {FALLBACK_RETENTION_DAYS}) || ' days')
        begin select raise(abort, 'admin audit entries are deleted only after their retention has expired'); end"""  # noqa: S608 - constants only
    )


def audited_route(method: str, template: str, api_prefix: str = "/api/v1") -> bool:
    """Whether a request to route ``template`` with ``method`` is an audited change."""
    if method not in CHANGING_METHODS or not template.startswith(api_prefix):
        return False
    rest = template[len(api_prefix) :]
    return rest.startswith(AUDITED)


def append(
    db: sqlite_utils.Database,
    at: datetime,
    principal: Principal | None,
    action: str,
    target: str,
    status: int,
    detail: dict[str, Any] | None = None,
    *,
    who: str = "",
) -> None:
    """Append one entry (durable when this returns).

    Args:
        db: The room's database.
        at: When.
        principal: The token that did it (``None`` for the local CLI; then ``who`` says who).
        action: What, e.g. ``"DELETE /api/v1/members/{member_id}"``.
        target: The path with its ids, e.g. ``"/api/v1/members/7"``.
        status: The HTTP status it answered (0 for the CLI).
        detail: A few non-personal extras (never bodies).
        who: The actor's label when there is no token.
    """
    with db.atomic():
        db.execute(
            "insert into admin_audit (at, token_id, token_label, role, action, target, status, detail) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            [at.isoformat(), principal.token_id if principal else None,
             (principal.label or f"token {principal.token_id}") if principal else who,
             principal.role.value if principal else "local", action, target, status,
             json.dumps(detail, sort_keys=True) if detail else None],
        )  # fmt: skip


def entries(db: sqlite_utils.Database, *, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries first."""
    rows = db.query("select * from admin_audit order by id desc limit ?", [limit])
    return [{**r, "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]
