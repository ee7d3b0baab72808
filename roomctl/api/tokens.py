"""Bearer tokens: created once and shown once; only a SHA-256 hash is stored.

A token carries 256 random bits, so a plain SHA-256 hash is enough to make a stolen database useless for
logging in (no password stretching is needed for secrets of that strength).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from roomctl.api.roles import Role
from roomctl.errors import NotFoundError, ValidationError

TOKEN_PREFIX = "rct_"  # noqa: S105 - a prefix that marks roomctl tokens, not a secret


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role of the token, and the member it is bound to (if any)."""

    role: Role
    token_id: int
    member_id: int | None = None
    label: str = ""


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    db: sqlite_utils.Database, role: str, *, label: str, now: datetime, member_id: int | None = None
) -> tuple[int, str]:
    """Create a token for ``role``; return its id and the token itself (which is not stored).

    Raises:
        ValidationError: ``role`` is not a known role.
    """
    try:
        parsed = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {role!r}; use one of: {allowed}") from None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.atomic():
        table = db.table("tokens")
        table.insert(
            {
                "role": parsed.value,
                "label": label,
                "token_hash": hash_token(token),
                "member_id": member_id,
                "created_at": now.isoformat(),
                "revoked_at": None,
            }
        )
        token_id = int(table.last_pk)  # type: ignore[arg-type]
    return token_id, token


def verify_token(db: sqlite_utils.Database, token: str) -> Principal | None:
    """The principal for ``token``, or ``None`` if it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    rows = list(
        db.query(
            "select id, role, member_id, label from tokens where token_hash = ? and revoked_at is null",
            [hash_token(token)],
        )
    )
    if not rows:
        return None
    row = rows[0]
    return Principal(Role(row["role"]), int(row["id"]), row["member_id"], row["label"] or "")


def revoke_token(db: sqlite_utils.Database, token_id: int, *, now: datetime) -> None:
    """Revoke a token by id.

    Raises:
        NotFoundError: No active token has that id.
    """
    with db.atomic():
        cursor = db.execute(
            "update tokens set revoked_at = ? where id = ? and revoked_at is null", [now.isoformat(), token_id]
        )
    if cursor.rowcount == 0:
        raise NotFoundError(f"no active token with id {token_id}")


def list_tokens(db: sqlite_utils.Database) -> list[dict[str, object]]:
    """Every token's id, role, label and dates (never the hash)."""
    return list(db.query("select id, role, label, member_id, created_at, revoked_at from tokens order by id"))
