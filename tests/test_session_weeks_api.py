"""The HTTP surface over weeks: cycle history and unfollowed proposals in the caller's group scope, guests and
their door codes, and kader resources with locally drawn QR codes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.demo import DEMO_MEMBERS, seed
from roomctl.runtime import build_room
from tests.conftest import role_tokens

TAP_TIMEOUT_SECONDS = 10.0


class Api:
    """A TestClient with the room and tokens per role, plus member tokens."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.room = client.app.state.room  # type: ignore[attr-defined]

    def call(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[role]}"}, **kwargs)

    def member_token(self, name: str, member_id: int) -> None:
        self.tokens[name] = create_token(self.room.db, "member", label=name, now=self.room.clock.now(), member_id=member_id)[1]

    def start_session(self) -> None:
        response = self.call("POST", "/api/v1/door/taps", "reader", json={"uid": DEMO_MEMBERS[0][1]})
        assert response.json()["granted"] is True
        deadline = time.monotonic() + TAP_TIMEOUT_SECONDS
        while self.call("GET", "/api/v1/session", "facilitator").json()["phase"] == "idle":
            assert time.monotonic() < deadline, "the tap did not start a session"
            time.sleep(0.02)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    room = build_room(settings)
    seed(room)
    with TestClient(create_app(room)) as client:
        yield Api(client, role_tokens(room))


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_cycle_history_and_unfollowed_proposals_follow_the_callers_group_scope(api: Api) -> None:
    repo = BookingRepository(api.room.db)
    group = repo.groups()[0]
    outsider = repo.add_member("Olga Buiten", now=api.room.clock.now())
    repo.add_group("Andere groep", [outsider.id], now=api.room.clock.now())
    api.member_token("anna", group.member_ids[0])
    api.member_token("olga", outsider.id)
    path = f"/api/v1/groups/{group.id}/cycles"

    assert api.call("GET", path, "anna").json() == []
    # another group's cycles are not found, as if the group did not exist; the room's tablet holds the group
    # whose booking runs now
    assert "no group" in problem(api.call("GET", path, "olga"), 404)["detail"]
    assert api.call("GET", path, "facilitator").json() == []
    problem(api.call("GET", "/api/v1/groups/999/cycles", "admin"), 404)
    problem(api.call("GET", path, "kiosk"), 403)

    api.start_session()
    chosen = api.call("POST", "/api/v1/session/commands", "facilitator",
                      json={"command": "cycle", "args": {"questions": ["q4"], "situations": ["Nieuwe collega inwerken"]}})  # fmt: skip
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["result"]["cycle"]["questions"] == ["q4"]
    history = api.call("GET", path, "facilitator").json()
    assert [c["questions"] for c in history] == [["q4"]] and history[0]["sessions"] == 1
    assert api.call("GET", path, "anna").json() == history
    current = api.call("GET", f"/api/v1/groups/{group.id}/cycles/current", "anna").json()
    assert current["situations"] == ["Nieuwe collega inwerken"] and current["notice"] is None
    assert api.call("GET", f"/api/v1/groups/{group.id}/proposals/unfollowed", "anna").json() == []
    problem(api.call("GET", f"/api/v1/groups/{group.id}/proposals/unfollowed", "olga"), 404)
    bad = api.call("POST", "/api/v1/session/commands", "facilitator", json={"command": "followup", "args": {"how": "well"}})
    assert "no validated proposal" in problem(bad, 404)["detail"]


def test_a_member_invites_a_guest_whose_code_opens_the_door_once(api: Api) -> None:
    repo = BookingRepository(api.room.db)
    group = repo.groups()[0]
    booking_id = api.room.db.execute("select id from bookings order by id limit 1").fetchone()[0]
    api.member_token("anna", group.member_ids[0])
    outsider = repo.add_member("Olga Buiten", now=api.room.clock.now())
    api.member_token("olga", outsider.id)

    problem(api.call("POST", f"/api/v1/bookings/{booking_id}/guests", "olga", json={"name": "X"}), 404)
    invited = api.call("POST", f"/api/v1/bookings/{booking_id}/guests", "anna", json={"name": "Ed Expert", "kind": "expert"})
    assert invited.status_code == 201 and invited.headers["cache-control"] == "no-store"
    code = invited.json()["code"]
    listed = api.call("GET", f"/api/v1/bookings/{booking_id}/guests", "anna").json()
    assert [g["name"] for g in listed] == ["Ed Expert"] and code not in str(listed)
    problem(api.call("POST", f"/api/v1/bookings/{booking_id}/guests", "anna", json={"name": "  "}), 422)

    problem(api.call("POST", "/api/v1/door/codes", "member", json={"code": code}), 403)
    opened = api.call("POST", "/api/v1/door/codes", "reader", json={"code": code}).json()
    assert opened["granted"] is True and opened["reason"] == "guest"
    twice = api.call("POST", "/api/v1/door/codes", "facilitator", json={"code": code}).json()
    assert twice["granted"] is False and twice["why"] == "used"
    assert api.call("GET", f"/api/v1/bookings/{booking_id}/guests", "admin").json()[0]["used"] is True

    fresh = api.call("POST", f"/api/v1/bookings/{booking_id}/guests", "anna", json={"name": "Late Gast"}).json()["code"]
    wrong = [f"{n:08d}" for n in range(1, 12) if f"{n:08d}" != fresh][:10]
    for n, guess in enumerate(wrong):  # a new reader name for every guess
        assert api.call("POST", "/api/v1/door/codes", "reader", json={"code": guess, "reader": f"r{n}"}).json()["granted"] is False
    locked = api.call("POST", "/api/v1/door/codes", "reader", json={"code": fresh, "reader": "another"}).json()
    assert locked["granted"] is False and locked["reason"] == "locked_out", "naming another reader buys no guesses"
    assert api.call("POST", "/api/v1/door/codes", "facilitator", json={"code": fresh}).json()["granted"] is True


def test_admin_manages_kader_resources_and_the_kiosk_gets_qr_codes(api: Api) -> None:
    path = "/api/v1/kader/q3/resources"
    added = api.call("POST", path, "admin", json={"kind": "podcast", "title": "Podcast over feedback", "url": "https://example.org/p/1"})
    assert added.status_code == 201, added.text
    for url in ("javascript:alert(1)", "ftp://example.org/x", "example.org/x", "https:///nohost", "https://exa mple.org"):
        body = problem(api.call("POST", path, "admin", json={"kind": "article", "title": "Slecht", "url": url}), 422)
        assert "http" in body["detail"]
    problem(api.call("POST", path, "admin", json={"kind": "book", "title": "x", "url": "https://example.org"}), 422)
    problem(api.call("POST", path, "facilitator", json={"kind": "film", "title": "x", "url": "https://example.org"}), 403)
    problem(api.call("POST", "/api/v1/kader/q99/resources", "admin", json={"kind": "film", "title": "x", "url": "https://e.org"}), 404)
    listed = api.call("GET", path, "kiosk").json()
    assert [r["title"] for r in listed] == ["Podcast over feedback"]
    assert listed[0]["qr"].startswith("data:image/svg+xml")

    api.start_session()
    deadline = time.monotonic() + TAP_TIMEOUT_SECONDS
    while not (api.room.screen.get("resources") or {}).get("questions"):
        assert time.monotonic() < deadline, "the resources did not reach the screen"
        time.sleep(0.02)
    assert api.room.screen.get("resources")["questions"]["q3"][0]["url"] == "https://example.org/p/1"
    assert api.call("DELETE", f"/api/v1/kader/resources/{added.json()['id']}", "admin").status_code == 204
    assert api.room.screen.get("resources")["questions"] == {}
    problem(api.call("DELETE", f"/api/v1/kader/resources/{added.json()['id']}", "admin"), 404)
