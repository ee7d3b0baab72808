"""Bearer tokens: created once and shown once; only a SHA-256 hash is stored.

A token carries 256 random bits, so a plain SHA-256 hash is enough to make a stolen database useless for
logging in (no password stretching is needed for secrets of that strength).

A token may be bound: to a member (``member``/``facilitator`` tokens), to a group and a booking (a tablet
paired during that group's session), to one named reader (``reader`` tokens), and it may expire. Expiry is
checked on every request (:func:`verify_token` with ``now``).
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
MAX_TOKEN_CHARS = 200
"""Longer bearer values are refused without a database look-up."""
READER_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"
"""What a reader's name may look like (the same rule as the tap API's ``reader`` field)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role of the token and what it is bound to.

    Attributes:
        role: The token's role.
        token_id: The token's id (for the audit trail).
        member_id: The member the token belongs to (member and facilitator tokens made with ``--member``).
        label: The token's label.
        group_id: The group a paired tablet (or a ``--group`` facilitator token) works for.
        booking_id: The booking a paired tablet was paired in.
        reader: The one reader a reader token speaks for.
        expires_at: When the token stops working (``None``: until revoked).
    """

    role: Role
    token_id: int
    member_id: int | None = None
    label: str = ""
    group_id: int | None = None
    booking_id: int | None = None
    reader: str | None = None
    expires_at: datetime | None = None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    db: sqlite_utils.Database,
    role: str,
    *,
    label: str,
    now: datetime,
    member_id: int | None = None,
    group_id: int | None = None,
    booking_id: int | None = None,
    reader: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[int, str]:
    """Create a token for ``role``; return its id and the token itself (which is not stored).

    Raises:
        ValidationError: ``role`` is not a known role, or a binding does not fit the role.
    """
    try:
        parsed = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {role!r}; use one of: {allowed}") from None
    if reader is not None and parsed != Role.READER:
        raise ValidationError("only a reader token is bound to a reader", field="reader")
    if (group_id is not None or booking_id is not None) and parsed != Role.FACILITATOR:
        raise ValidationError("only a facilitator (tablet) token is bound to a group", field="group")
    if expires_at is not None and expires_at <= now:
        raise ValidationError("the token would expire before it is made", field="expires_at")
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
                "expires_at": expires_at.isoformat() if expires_at else None,
                "group_id": group_id,
                "booking_id": booking_id,
                "reader": reader,
            }
        )
        token_id = int(table.last_pk)  # type: ignore[arg-type]
    return token_id, token


def verify_token(db: sqlite_utils.Database, token: str, *, now: datetime) -> Principal | None:
    """The principal for ``token``, or ``None`` if it is unknown, revoked or expired at ``now``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        return None
    row = db.execute(
        "select id, role, member_id, label, group_id, booking_id, reader, expires_at from tokens "
        "where token_hash = ? and revoked_at is null",
        [hash_token(token)],
    ).fetchone()
    if row is None:
        return None
    token_id, role, member_id, label, group_id, booking_id, reader, expires = row
    expires_at = datetime.fromisoformat(expires) if expires else None
    if expires_at is not None and now >= expires_at:
        return None
    return Principal(Role(role), int(token_id), member_id, label or "", group_id, booking_id, reader, expires_at)


def still_valid(db: sqlite_utils.Database, principal: Principal, *, now: datetime) -> bool:
    """Whether the token behind ``principal`` is neither revoked nor expired (open WebSockets ask this)."""
    if principal.expires_at is not None and now >= principal.expires_at:
        return False
    row = db.execute("select revoked_at, expires_at from tokens where id = ?", [principal.token_id]).fetchone()
    if row is None or row[0] is not None:
        return False
    return row[1] is None or now < datetime.fromisoformat(row[1])


def bind_token(
    db: sqlite_utils.Database, token_id: int, *, group_id: int | None, booking_id: int | None, expires_at: datetime
) -> None:
    """Bind a (paired tablet's) token to a group and booking, and let it expire at ``expires_at``."""
    with db.atomic():
        db.execute(
            "update tokens set group_id = ?, booking_id = ?, expires_at = ? where id = ? and revoked_at is null",
            [group_id, booking_id, expires_at.isoformat(), token_id],
        )


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
    """Every token's id, role, label, binding and dates (never the hash)."""
    return list(
        db.query(
            "select id, role, label, member_id, group_id, booking_id, reader, created_at, expires_at, revoked_at "
            "from tokens order by id"
        )
    )


# -- calendar subscriptions ------------------------------------------------------------------------------------

FEED_PREFIX = "cal_"
"""Calendar feed tokens: read-only, one group's bookings, carried in the subscription URL itself."""


def create_feed_token(db: sqlite_utils.Database, group_id: int, *, label: str, now: datetime) -> tuple[int, str]:
    """A new calendar subscription token for ``group_id``; returns its id and the token (shown once)."""
    token = FEED_PREFIX + secrets.token_urlsafe(24)
    with db.atomic():
        table = db.table("calendar_feeds")
        table.insert({"group_id": group_id, "token_hash": hash_token(token), "label": label,
                      "created_at": now.isoformat(), "revoked_at": None})  # fmt: skip
        feed_id = int(table.last_pk)  # type: ignore[arg-type]
    return feed_id, token


def feed_group(db: sqlite_utils.Database, token: str) -> int | None:
    """The group whose calendar ``token`` subscribes to, or ``None`` (unknown or revoked)."""
    if not token.startswith(FEED_PREFIX) or len(token) > MAX_TOKEN_CHARS:
        return None
    row = db.execute(
        "select group_id from calendar_feeds where token_hash = ? and revoked_at is null", [hash_token(token)]
    ).fetchone()
    return int(row[0]) if row else None


def list_feed_tokens(db: sqlite_utils.Database, group_id: int) -> list[dict[str, object]]:
    """A group's calendar subscriptions (never the token)."""
    return list(db.query("select id, group_id, label, created_at, revoked_at from calendar_feeds where group_id = ? "
                         "order by id", [group_id]))  # fmt: skip


def revoke_feed_token(db: sqlite_utils.Database, group_id: int, feed_id: int, *, now: datetime) -> None:
    """Revoke one of a group's calendar subscriptions.

    Raises:
        NotFoundError: The group has no active subscription with that id.
    """
    with db.atomic():
        cursor = db.execute("update calendar_feeds set revoked_at = ? where id = ? and group_id = ? and revoked_at is null",
                            [now.isoformat(), feed_id, group_id])  # fmt: skip
    if cursor.rowcount == 0:
        raise NotFoundError(f"group {group_id} has no active calendar subscription {feed_id}")
