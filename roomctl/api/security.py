"""Every route states who may call it.

A route declares its access with exactly one of :func:`allow` (bearer token with one of the roles) or
:func:`public` (no token: health, metrics, the static pages). A test walks every route of the app and fails
when a route declares neither, and calls each guarded route without a token (401) and with a token of a role
it does not allow (403).

After the role, the guard checks the group scope of every object named in the path
(:func:`roomctl.api.scope.check_path`): another group's object answers 404.

Tokens come as ``Authorization: Bearer <token>``; the WebSocket takes ``?token=`` because browsers cannot set
headers on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Request, WebSocket, WebSocketException

from roomctl.api.roles import Role
from roomctl.api.scope import check_path
from roomctl.api.tokens import Principal, verify_token
from roomctl.errors import AuthError, ForbiddenError, NotFoundError

AUTHENTICATED_KEY = "authenticated"
"""Request state: the principal the body-guarding middleware already authenticated in this request."""
WS_CLOSE_UNAUTHORIZED = 4401
"""WebSocket close code for a missing or unknown token (4000-4999 are for applications)."""
WS_CLOSE_FORBIDDEN = 4403
"""WebSocket close code for a token whose role may not connect."""


def _room(conn: Request | WebSocket) -> Any:
    return conn.app.state.room


def _binding_ended(room: Any, principal: Principal) -> str | None:
    """Why a token's binding no longer holds (its member left, its booking ended), or ``None``."""
    db = room.db
    if principal.member_id is not None:
        row = db.execute("select active from members where id = ?", [principal.member_id]).fetchone()
        if row is None or not row[0]:
            return "the member this token belongs to has left; ask an admin for a new one"
    if principal.booking_id is not None:
        row = db.execute("select end_utc, status from bookings where id = ?", [principal.booking_id]).fetchone()
        if row is None or row[1] == "cancelled" or room.clock.now() >= datetime.fromisoformat(row[0]):
            return "the booking this tablet was paired for has ended; pair it again with the PIN on the projector"
    return None


def authenticate(conn: Request | WebSocket) -> Principal:
    """The caller's principal: a known token, not revoked, not expired, its member and booking still current.

    Raises:
        AuthError: No token, or one that does not (or no longer) hold.
    """
    token = _token_from(conn)
    if not token:
        raise AuthError("send a bearer token: Authorization: Bearer <token> (create one with `roomctl token create`)")
    room = _room(conn)
    principal = verify_token(room.db, token, now=room.clock.now())
    if principal is None:
        raise AuthError("the token is unknown, revoked or expired; ask an admin for a new one")
    ended = _binding_ended(room, principal)
    if ended is not None:
        raise AuthError(ended)
    return principal


def _token_from(conn: Request | WebSocket) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if conn.scope["type"] == "websocket":
        return conn.query_params.get("token")
    return None


class RoleGuard:
    """A dependency that lets through callers whose token has one of ``roles``."""

    def __init__(self, roles: frozenset[Role]) -> None:
        if not roles:
            raise ValueError("a guarded route needs at least one role")
        self.roles = roles

    def _check(self, conn: Request | WebSocket) -> Principal:
        principal = getattr(conn.state, AUTHENTICATED_KEY, None)
        if not isinstance(principal, Principal):
            principal = authenticate(conn)
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise ForbiddenError(f"a {principal.role.value} token may not do this; it needs one of: {allowed}")
        conn.state.principal = principal
        check_path(conn, principal)
        return principal


class HttpRoleGuard(RoleGuard):
    """The guard for HTTP routes."""

    async def __call__(self, request: Request) -> Principal:
        return self._check(request)


class WebSocketRoleGuard(RoleGuard):
    """The guard for WebSocket routes."""

    async def __call__(self, websocket: WebSocket) -> Principal:
        try:
            return self._check(websocket)
        except (AuthError, ForbiddenError, NotFoundError) as exc:
            code = WS_CLOSE_UNAUTHORIZED if isinstance(exc, AuthError) else WS_CLOSE_FORBIDDEN
            raise WebSocketException(code=code, reason=exc.detail[:120]) from None


class PublicMarker:
    """A dependency that lets everyone through; its presence says so on purpose."""

    async def __call__(self) -> None:
        return None


def allow(*roles: Role) -> Any:
    """Declare that an HTTP route needs a token with one of ``roles``; use as a dependency or parameter default."""
    return Depends(HttpRoleGuard(frozenset(roles)))


def allow_ws(*roles: Role) -> Any:
    """Declare that a WebSocket route needs a token with one of ``roles``."""
    return Depends(WebSocketRoleGuard(frozenset(roles)))


def public() -> Any:
    """Declare that a route needs no token."""
    return Depends(PublicMarker())


def declared_access(dependant: Any) -> list[object]:
    """The guards and public markers among a route's dependencies (recursively)."""
    found: list[object] = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleGuard | PublicMarker):
            found.append(dep.call)
        found.extend(declared_access(dep))
    return found


__all__ = ["Principal", "Role", "allow", "allow_ws", "declared_access", "public"]
