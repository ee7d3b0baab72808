"""Tokens prove who they are on every request: expiry, bindings (member, tablet booking), pairing and open feeds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token, revoke_token, verify_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.demo import seed
from roomctl.errors import AuthError, RateLimitedError
from roomctl.runtime import build_room
from roomctl.session import pairing as pairing_module
from roomctl.session.service import SessionService
from tests.conftest import role_tokens

START = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)  # a Monday morning


class Room:
    """A demo-seeded room on a manual clock behind a TestClient."""

    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock
        self.room = client.app.state.room  # type: ignore[attr-defined]
        self.tokens = role_tokens(self.room)

    def get(self, path: str, token: str) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, token: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def room(settings: Settings) -> Iterator[Room]:
    clock = ManualClock(START)
    built = build_room(settings, clock)
    seed(built)
    with TestClient(create_app(built)) as client:
        yield Room(client, clock)


def test_expired_tokens_and_tokens_of_members_who_left_are_refused(room: Room) -> None:
    db, now = room.room.db, room.clock.now()
    _, short = create_token(db, "admin", label="short", now=now, expires_at=now + timedelta(minutes=5))
    assert room.get("/api/v1/members", short).status_code == 200
    room.clock.advance(301)
    refused = room.get("/api/v1/members", short)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    member = BookingRepository(db).members()[0]
    _, mine = create_token(db, "member", label="m", now=now, member_id=member.id)
    assert room.get("/api/v1/reports/learning-time/me", mine).status_code == 200
    assert room.client.delete(f"/api/v1/members/{member.id}",
                              headers={"Authorization": f"Bearer {room.tokens['admin']}"}).status_code == 204
    left = room.get("/api/v1/reports/learning-time/me", mine)
    assert left.status_code == 401 and "left" in left.json()["detail"]


def test_a_paired_tablet_is_bound_to_the_sessions_group_and_ends_with_its_booking(room: Room) -> None:
    admin = room.tokens["admin"]
    started = room.post("/api/v1/session/commands", admin, {"command": "start", "args": {}})
    assert started.status_code == 200, started.text
    pairing = room.room.service(SessionService).pairing
    paired = pairing.pair(room.room.screen.get("pairing")["pin"], client="tablet-1")
    principal = verify_token(room.room.db, paired["token"], now=room.clock.now())
    booking = BookingRepository(room.room.db).overlapping(START, START + timedelta(seconds=1))[0]
    assert principal is not None and principal.group_id == booking.group_id and principal.booking_id == booking.id
    assert datetime.fromisoformat(paired["expires_at"]) == booking.end
    assert room.get("/api/v1/session", paired["token"]).status_code == 200
    room.clock.set(booking.end + timedelta(days=1))  # the next day: yesterday's tablet token
    stale = room.get("/api/v1/session", paired["token"])
    assert stale.status_code == 401 and stale.headers["content-type"] == "application/problem+json"


def test_the_pin_is_only_on_the_kiosk_feed(room: Room) -> None:
    with room.client.websocket_connect(f"/ws?token={room.tokens['kiosk']}") as ws:
        assert ws.receive_json()["pairing"]["pin"] == room.room.screen.get("pairing")["pin"]
    for role in ("facilitator", "admin"):
        with room.client.websocket_connect(f"/ws?token={room.tokens[role]}") as ws:
            view = ws.receive_json()
        assert "pairing" not in view and room.room.screen.get("pairing")["pin"] not in str(view), role


def _wrong(pin: str) -> str:
    return "000000" if pin != "000000" else "111111"


def test_wrong_pins_lock_out_one_client_not_everybody(room: Room) -> None:
    pairing = room.room.service(SessionService).pairing
    pin = room.room.screen.get("pairing")["pin"]
    for _ in range(pairing_module.MAX_WRONG_PINS - 1):
        with pytest.raises(AuthError):
            pairing.pair(_wrong(pin), client="10.0.0.66")
    with pytest.raises(RateLimitedError):
        pairing.pair(_wrong(pin), client="10.0.0.66")
    with pytest.raises(RateLimitedError):
        pairing.pair(pin, client="10.0.0.66")
    assert pairing.pair(pin, client="10.0.0.7")["token"], "another client still pairs"


def test_a_pin_guessed_from_many_addresses_rotates_and_locks_only_briefly(room: Room) -> None:
    pairing = room.room.service(SessionService).pairing
    first = room.room.screen.get("pairing")["pin"]
    guesses = [f"{n:06d}" for n in range(100) if f"{n:06d}" != first]
    for index in range(pairing_module.ROTATE_AFTER_WRONG):
        with pytest.raises(AuthError):
            pairing.pair(guesses[index], client=f"10.0.1.{index}")
    assert room.room.screen.get("pairing")["pin"] != first, "the PIN is replaced after a burst of wrong guesses"
    for index in range(pairing_module.ROTATE_AFTER_WRONG, pairing_module.MAX_WRONG_GLOBAL):
        pin = room.room.screen.get("pairing")["pin"]
        with pytest.raises((AuthError, RateLimitedError)):
            pairing.pair(_wrong(pin) if guesses[index] == pin else guesses[index], client=f"10.0.2.{index}")
    locked = room.room.screen.get("pairing")
    assert locked["locked_until"] is not None and locked["pin"] is None, "while locked the PIN is off the screen"
    with pytest.raises(RateLimitedError):
        pairing.pair("123456", client="10.0.9.9")
    room.clock.advance(pairing_module.GLOBAL_LOCK_SECONDS + 1)
    pairing.refresh()
    fresh = room.room.screen.get("pairing")
    assert fresh["locked_until"] is None and pairing.pair(fresh["pin"], client="10.0.9.9")["token"]
    assert room.room.db.execute("select count(*) from tablet_pairings").fetchone()[0] == 1


def test_an_open_feed_closes_when_its_token_is_revoked_or_expires(room: Room) -> None:
    db, now = room.room.db, room.clock.now()
    token_id, token = create_token(db, "facilitator", label="t", now=now)
    with room.client.websocket_connect(f"/ws?token={token}") as ws:
        ws.receive_json()
        revoke_token(db, token_id, now=now)
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 4401
    _, short = create_token(db, "kiosk", label="k", now=now, expires_at=now + timedelta(minutes=1))
    with room.client.websocket_connect(f"/ws?token={short}") as ws:
        ws.receive_json()
        room.clock.advance(61)
        with pytest.raises(WebSocketDisconnect) as expired:
            while True:
                ws.receive_json()
        assert expired.value.code == 4401


def test_a_tablet_token_follows_its_booking_when_it_is_extended(room: Room) -> None:
    admin = room.tokens["admin"]
    assert room.post("/api/v1/session/commands", admin, {"command": "start", "args": {}}).status_code == 200
    paired = room.room.service(SessionService).pairing.pair(room.room.screen.get("pairing")["pin"], client="t")
    booking = BookingRepository(room.room.db).overlapping(START, START + timedelta(seconds=1))[0]
    extended = room.post(f"/api/v1/bookings/{booking.id}/extend", paired["token"], {"minutes": 30})
    assert extended.status_code == 200, extended.text
    room.clock.set(booking.end + timedelta(minutes=10))  # past the old end, within the extension
    assert room.get("/api/v1/session", paired["token"]).status_code == 200
    room.clock.set(booking.end + timedelta(minutes=31))
    assert room.get("/api/v1/session", paired["token"]).status_code == 401


def test_a_session_is_started_only_for_a_group_the_caller_holds(room: Room) -> None:
    repo = BookingRepository(room.room.db)
    now = room.clock.now()
    group_a = repo.groups()[0]
    members = [repo.add_member(f"B{i}", now=now).id for i in range(2)]
    lead = repo.add_member("B-lead", now=now).id
    group_b = repo.add_group("Groep B", members, facilitator_id=lead, now=now)
    _, theirs = create_token(room.room.db, "facilitator", label="b", now=now, member_id=lead)
    refused = room.post("/api/v1/session/commands", theirs, {"command": "start", "args": {"group_id": group_a.id}})
    assert refused.status_code == 404 and refused.json()["status"] == 404
    default = room.post("/api/v1/session/commands", theirs, {"command": "start", "args": {}})  # A's booking runs
    assert default.status_code == 404
    assert room.room.service(SessionService).session_id is None, "nothing started"
    own = room.post("/api/v1/session/commands", theirs, {"command": "start", "args": {"group_id": group_b.id}})
    assert own.status_code == 200, own.text
    assert room.room.service(SessionService).group_id == group_b.id


def test_consent_cannot_be_posted_for_a_member(room: Room) -> None:
    member = BookingRepository(room.room.db).members()[0]
    refused = room.post("/api/v1/session/recording/consent", room.tokens["admin"], {"member_id": member.id})
    assert refused.status_code == 422 and "member_id" in refused.json()["detail"]
