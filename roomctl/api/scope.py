"""Group scope: each caller sees and changes only the work of the groups it holds.

This is the one mechanism for object-level authorisation (OWASP API1). It has two halves:

- **Who holds what** (:func:`scope_of`): an admin, facilities or kiosk token holds every group (the role
  guard already keeps facilities and the kiosk away from transcripts and proposals); a facilitator token made
  for a member holds the groups that member facilitates; a tablet token (paired with the PIN, or made with
  ``--group``) holds the one group it is bound to, until its booking ends; a facilitator token bound to
  nothing is *the room's tablet*: it holds only the group in the room now (that of the running session, else
  that of the booking running now; nothing between bookings, nothing of the past). A member token holds its member's own learning-time report and the totals
  of the member's groups.
- **Which group owns an object**: capabilities register, per path parameter (``session_id``,
  ``proposal_id``, ``booking_id``, ``series_id``, ``group_id``), a resolver with :func:`owner`. The role guard
  (:mod:`roomctl.api.security`) runs :func:`check_path` after the role check on *every* guarded route, so a
  route with such a parameter cannot forget the check. Routes that name a group elsewhere (a body or query
  field, or "the running session") call :meth:`Scope.require` / :func:`running_session_scope`.

An object of a group the caller does not hold answers 404, worded like a missing one, so it does not reveal
that the object exists. Ids outside SQLite's integer range answer 404 as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from pydantic import Field
from starlette.requests import HTTPConnection

from roomctl.api.roles import Role
from roomctl.api.tokens import Principal
from roomctl.booking.repository import BookingRepository
from roomctl.core.room import Room
from roomctl.errors import NotFoundError
from roomctl.store.db import MAX_ID

log = logging.getLogger(__name__)

Resolver = Callable[[Room, int], int | None]
"""Returns the id of the group that owns object ``id`` (``None``: owned by no group); raises NotFoundError."""

RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="an id (1 to 2**63-1)")]
"""An id in a request body: it must fit SQLite's integer (out of range: 422, never a 500)."""

UNRESTRICTED_ROLES = frozenset({Role.ADMIN, Role.FACILITIES, Role.KIOSK})
"""Roles that hold every group (what each may reach is the role guard's business)."""


@dataclass(frozen=True)
class _Owner:
    noun: str
    resolve: Resolver


_OWNERS: dict[str, _Owner] = {}


def owner(param: str, noun: str) -> Callable[[Resolver], Resolver]:
    """Register the resolver of path parameter ``param`` (a decorator).

    Args:
        param: The path parameter, e.g. ``"session_id"``.
        noun: What it names, for the 404 text ("session").
    """

    def register(resolve: Resolver) -> Resolver:
        _OWNERS[param] = _Owner(noun, resolve)
        return resolve

    return register


def owner_query(param: str, noun: str, sql: str) -> Resolver:
    """Register a resolver that reads the owning group with ``sql`` (one ``?`` for the id; no row: 404)."""

    def resolve(room: Room, object_id: int) -> int | None:
        row = room.db.execute(sql, [object_id]).fetchone()
        if row is None:
            raise _not_found(noun, object_id)
        group_id: int | None = row[0]
        return group_id

    resolve.__name__ = f"{param}_group"
    return owner(param, noun)(resolve)


def scoped_params() -> frozenset[str]:
    """The path parameters whose objects belong to a group (the route walker checks every route has them)."""
    return frozenset(_OWNERS) | {"member_id"}


def _not_found(noun: str, raw: object) -> NotFoundError:
    return NotFoundError(f"there is no {noun} {raw}")


@dataclass
class Scope:
    """The groups (and members' reports) a caller holds.

    Attributes:
        principal: Who calls.
        groups: Ids of the groups held; ``None`` means every group.
        members: Ids of the members whose own report the caller may read; ``None`` means everyone.
        per_member: Whether group reports may show each member's figures (not for member tokens).
        reports: Whether the caller may read learning-time reports of the groups it holds (not tablets).
    """

    principal: Principal
    groups: frozenset[int] | None
    members: frozenset[int] | None
    per_member: bool = True
    reports: bool = True
    _room: Room | None = field(default=None, repr=False)

    def holds(self, group_id: int | None) -> bool:
        """Whether the caller holds ``group_id`` (an object of no group is held only by unrestricted callers)."""
        if self.groups is None:
            return True
        return group_id is not None and group_id in self.groups

    def holds_member(self, member_id: int) -> bool:
        """Whether the caller may read ``member_id``'s own learning-time report."""
        return self.members is None or member_id in self.members

    def require_report(self, group_id: int) -> None:
        """Refuse a group's learning-time report to a caller without it (404, like a missing group)."""
        if not (self.reports and self.holds(group_id)):
            raise _not_found("group", group_id)

    def require(self, param: str, value: int | None) -> int | None:
        """Refuse an object of another group named in a body or query field (404, like a missing one).

        Args:
            param: A registered parameter name (``"session_id"``, ``"group_id"``, ...).
            value: Its value; ``None`` passes.

        Returns:
            The owning group's id (``None`` when ``value`` is ``None``).
        """
        if value is None:
            return None
        assert self._room is not None
        return _check(self._room, self, param, value)

    def visible(self, group_ids: Iterable[int]) -> list[int]:
        """The ids among ``group_ids`` the caller holds."""
        return [g for g in group_ids if self.holds(g)]


def room_group(room: Room) -> int | None:
    """The group in the room now: that of the running session, else that of the booking running now."""
    from roomctl.booking.service import BookingService  # capabilities build on the API, not back
    from roomctl.session.service import SessionService

    session = room.find_service(SessionService)
    if session is not None and session.session_id is not None:
        return session.group_id
    bookings = room.find_service(BookingService)
    booking = bookings.current(room.clock.now()) if bookings is not None else None
    return booking.group_id if booking is not None else None


def _members_of(room: Room, group_ids: Iterable[int]) -> set[int]:
    repo = BookingRepository(room.db)
    return {member for group_id in group_ids for member in repo.group(group_id).member_ids}


def scope_of(conn: HTTPConnection, principal: Principal) -> Scope:
    """The caller's scope, computed once per request."""
    cached = getattr(conn.state, "scope", None)
    if isinstance(cached, Scope) and cached.principal is principal:
        return cached
    room: Room = conn.app.state.room
    scope = compute_scope(room, principal)
    conn.state.scope = scope
    return scope


def compute_scope(room: Room, principal: Principal) -> Scope:
    """Who holds what, as the module docstring says."""
    if principal.role in UNRESTRICTED_ROLES:
        return Scope(principal, None, None, _room=room)
    db = room.db
    if principal.role == Role.MEMBER:
        if principal.member_id is None:
            return Scope(principal, frozenset(), frozenset(), per_member=False, _room=room)
        mine = set(BookingRepository(db).groups_of(principal.member_id))
        return Scope(principal, frozenset(mine), frozenset({principal.member_id}), per_member=False, _room=room)
    if principal.role == Role.FACILITATOR:
        if principal.member_id is not None:
            held = set(BookingRepository(db).groups_facilitated_by(principal.member_id))
            return Scope(principal, frozenset(held), frozenset(_members_of(room, held) | {principal.member_id}), _room=room)
        if principal.group_id is not None:  # a paired tablet (or a --group token): its one group, no one's report
            return Scope(principal, frozenset({principal.group_id}), frozenset(), reports=False, _room=room)
        running = room_group(room)  # the room's own tablet: whatever group is in the room now
        in_room = frozenset({running}) if running is not None else frozenset()
        return Scope(principal, in_room, frozenset(), reports=False, _room=room)
    return Scope(principal, frozenset(), frozenset(), reports=False, _room=room)  # readers hold no group


def parse_id(raw: object, noun: str) -> int:
    """A path or body id as an int that fits SQLite; anything else is a 404 (there is no such object)."""
    if isinstance(raw, bool):
        raise _not_found(noun, raw)
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw)
        if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
            raise _not_found(noun, text[:40])
        value = int(text)
    if not 1 <= value <= MAX_ID:
        raise _not_found(noun, value)
    return value


def _check(room: Room, scope: Scope, param: str, raw: object) -> int | None:
    if param == "member_id":
        member_id = parse_id(raw, "member")
        if not scope.holds_member(member_id):
            raise _not_found("member", member_id)
        return None
    found = _OWNERS[param]
    object_id = parse_id(raw, found.noun)
    group_id = found.resolve(room, object_id)
    if not scope.holds(group_id):
        log.info("%s token %d asked for %s %d of another group", scope.principal.role.value,
                 scope.principal.token_id, found.noun, object_id)  # fmt: skip
        raise _not_found(found.noun, object_id)
    return group_id


def check_path(conn: HTTPConnection, principal: Principal) -> None:
    """Check every group-owned object named in the path against the caller's scope (the role guard calls this).

    Raises:
        NotFoundError: An object does not exist, its id is out of range, or another group owns it.
    """
    params = conn.path_params
    if not params:
        return
    wanted = [p for p in params if p in _OWNERS or p == "member_id"]
    if not wanted:
        return
    scope = scope_of(conn, principal)
    room: Room = conn.app.state.room
    for param in wanted:
        _check(room, scope, param, params[param])


async def caller_scope(conn: HTTPConnection) -> Scope:
    """The dependency handing a route the caller's scope.

    The route's role guard still decides whether the caller may call it at all (FastAPI may resolve this
    dependency first; then the token is checked here and the guard checks the role after). It is a coroutine
    so FastAPI runs it on the room's loop: a plain function would run in its thread pool and use the room's
    one database connection beside the loop (two threads in one sqlite connection break its savepoints).
    """
    return _caller_scope(conn)


def _caller_scope(conn: HTTPConnection) -> Scope:
    principal = getattr(conn.state, "principal", None)
    if not isinstance(principal, Principal):
        from roomctl.api.security import authenticate  # security builds on this module

        principal = authenticate(conn)  # type: ignore[arg-type]
    return scope_of(conn, principal)


ScopeDep = Annotated[Scope, Depends(caller_scope)]
"""The caller's scope, for routes that filter lists or check a group named in the body."""


async def running_session_scope(conn: HTTPConnection) -> Scope:
    """Refuse a caller that does not hold the group whose session runs now (404: no session of theirs runs).

    When no session runs the caller passes: the route answers as it does for an idle room. A coroutine, like
    :func:`caller_scope`, to run on the loop.
    """
    scope = _caller_scope(conn)
    room: Room = conn.app.state.room
    from roomctl.session.service import SessionService

    session = room.find_service(SessionService)
    if session is not None and session.session_id is not None and not scope.holds(session.group_id):
        raise NotFoundError("no session of a group this token holds is running in the room")
    return scope


RunningSessionDep = Annotated[Scope, Depends(running_session_scope)]
"""The caller's scope, after checking it holds the running session's group."""


def in_running_session() -> Any:
    """``dependencies=[in_running_session()]`` for routes about the session running now."""
    return Depends(running_session_scope)
