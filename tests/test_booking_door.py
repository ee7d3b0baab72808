"""Booking at the door: walk-ins, enrol-by-tap, and extending or ending a running booking from the tablet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from roomctl.access.guard import HOLD_WINDOW_SECONDS
from roomctl.access.service import AccessService
from roomctl.config import Settings
from tests.booking_helpers import Api, booking_api, local

MakeSettings = Callable[..., Settings]


def _tap(api: Api, uid: str) -> dict[str, Any]:
    api.clock.advance(HOLD_WINDOW_SECONDS + 1)  # a new presentation of the card, not the same one still held
    response = api.post("/api/v1/door/taps", {"uid": uid, "reader": "front"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _relay(api: Api) -> int:
    pin = api.room.service(AccessService).door.relay.pin
    return sum(1 for state in pin.states[1:] if state.state)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_tap_on_a_free_room_starts_a_walk_in_for_the_members_one_group(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        anna = _tap(api, api.people.uids["Anna"])
        assert (anna["granted"], anna["reason"]) == (True, "walk_in")
        walk_in = api.client.get(f"/api/v1/bookings/{anna['booking_id']}", headers=api.h()).json()
        assert (walk_in["kind"], walk_in["status"], walk_in["group"]) == ("walkin", "checked_in", "Groep A")
        assert _at(walk_in["start"]) == api.clock.now().replace(microsecond=0) and _at(walk_in["end"]) == local(2027, 2, 1, 9)
        assert _relay(api) == 1
        assert api.room.screen.get("booking")["current"]["id"] == walk_in["id"]
        assert api.room.status.get("occupancy") == {"booked": True, "until": walk_in["end"]}

        # group B is booked at 09:20: at 09:00 nobody may walk in (a booking follows within 30 minutes)
        booked = api.post("/api/v1/bookings", {"group_id": api.people.groups["B"], "start": local(2027, 2, 1, 9, 20).isoformat(),
                                               "end": local(2027, 2, 1, 10).isoformat()})
        assert booked.status_code == 201
        api.clock.set(local(2027, 2, 1, 9))
        before = api.counts()
        assert _tap(api, api.people.uids["Bram"])["reason"] == "outside_window"
        assert api.counts()["bookings"] == before["bookings"] and _relay(api) == 1

        # at 10:30 the room is free again, but Eva facilitates and belongs to no group: no walk-in
        api.clock.set(local(2027, 2, 1, 10, 30))
        assert _tap(api, api.people.uids["Eva"])["reason"] == "outside_window"
        # a member of two groups cannot say for which group: no walk-in
        both = api.post("/api/v1/groups", {"name": "Groep C", "member_ids": [api.people.members["Anna"], api.people.members["Daan"]]})
        assert both.status_code == 201
        assert _tap(api, api.people.uids["Daan"])["reason"] == "outside_window"
        femke = _tap(api, api.people.uids["Femke"])
        assert femke["reason"] == "walk_in"
        booking = api.client.get(f"/api/v1/bookings/{femke['booking_id']}", headers=api.h()).json()
        assert booking["group"] == "Groep B" and _at(booking["end"]) == local(2027, 2, 1, 11, 30)


def test_walk_ins_can_be_switched_off(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, booking={"walk_in": False}) as api:
        assert _tap(api, api.people.uids["Anna"])["reason"] == "outside_window"
        assert api.counts()["bookings"] == 0


def test_walk_ins_end_at_closing_time(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, room={"opening_hours": {"mon": "07:00-08:40"}}) as api:
        walk_in = _tap(api, api.people.uids["Anna"])
        booking = api.client.get(f"/api/v1/bookings/{walk_in['booking_id']}", headers=api.h()).json()
        assert _at(booking["end"]) == local(2027, 2, 1, 8, 40)
        api.clock.set(local(2027, 2, 1, 8, 30))  # ten minutes before closing: too short for a walk-in
        api.post(f"/api/v1/bookings/{walk_in['booking_id']}/end")
        assert _tap(api, api.people.uids["Daan"])["reason"] == "outside_window"


def test_enrol_by_tap(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        gijs = api.post("/api/v1/members", {"name": "Gijs"}).json()
        armed = api.post(f"/api/v1/members/{gijs['id']}/badges/enrol-by-tap")
        assert armed.status_code == 202 and armed.json()["armed"] is True
        decision = _tap(api, "04:de:ad:be:ef:00:01")
        assert (decision["granted"], decision["reason"], decision["member_id"]) == (False, "enrolment", gijs["id"])
        assert _relay(api) == 0, "an enrolment tap does not open the door"
        status = api.client.get("/api/v1/enrolment", headers=api.h()).json()
        assert status["armed"] is False and status["outcome"]["status"] == "enrolled"
        assert status["outcome"]["uid"] == "04DEADBEEF0001"
        members = {m["name"]: m for m in api.client.get("/api/v1/members", headers=api.h()).json()}
        assert members["Gijs"]["badges"] == ["04DEADBEEF0001"]
        assert _tap(api, "04DEADBEEF0001")["reason"] == "outside_window"  # the next tap is an ordinary one again

        api.post(f"/api/v1/members/{gijs['id']}/badges/enrol-by-tap")
        refused = _tap(api, api.people.uids["Anna"])
        assert refused["reason"] == "enrolment"
        outcome = api.client.get("/api/v1/enrolment", headers=api.h()).json()["outcome"]
        assert outcome["status"] == "refused" and "already enrolled" in outcome["detail"]
        assert members["Anna"]["badges"] == [api.people.uids["Anna"]]
        assert api.room.db.execute("select count(*) from badges where member_id = ?", [gijs["id"]]).fetchone()[0] == 1

        api.post(f"/api/v1/members/{gijs['id']}/badges/enrol-by-tap")
        api.clock.advance(api.room.settings.booking.enrol_wait_seconds + 1)
        status = api.client.get("/api/v1/enrolment", headers=api.h()).json()
        assert status["armed"] is False and status["outcome"]["status"] == "timeout"
        assert _tap(api, "04CAFE0000CAFE")["reason"] == "unknown"
        assert api.client.post("/api/v1/members/999/badges/enrol-by-tap", headers=api.h()).status_code == 404


def test_extend_and_end_early(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        group_a, group_b = api.people.groups["A"], api.people.groups["B"]
        made = api.post("/api/v1/bookings", {"group_id": group_a, "start": local(2027, 2, 1, 8).isoformat(),
                                             "end": local(2027, 2, 1, 9).isoformat()}).json()
        api.post("/api/v1/bookings", {"group_id": group_b, "start": local(2027, 2, 1, 9, 45).isoformat(),
                                      "end": local(2027, 2, 1, 10, 45).isoformat()})
        api.clock.set(local(2027, 2, 1, 8, 5))
        eva, daan = api.facilitator_token("Eva"), api.facilitator_token("Daan")

        longer = api.post(f"/api/v1/bookings/{made['id']}/extend", {"minutes": 30}, role=eva)
        assert longer.status_code == 200 and _at(longer.json()["end"]) == local(2027, 2, 1, 9, 30)
        assert api.room.screen.get("booking")["current"]["end"] == longer.json()["end"]
        before = api.snapshot()
        refused = api.post(f"/api/v1/bookings/{made['id']}/extend", {"minutes": 30}, role="facilitator")
        assert refused.status_code == 409 and [c["group"] for c in refused.json()["conflicts"]] == ["Groep B"]
        assert api.post(f"/api/v1/bookings/{made['id']}/extend", {"minutes": 10}, role=daan).status_code == 404
        assert api.post(f"/api/v1/bookings/{made['id']}/extend", {"minutes": 0}).status_code == 422
        assert api.snapshot() == before

        api.clock.set(local(2027, 2, 1, 8, 40))
        ended = api.post(f"/api/v1/bookings/{made['id']}/end", role=eva)
        assert ended.status_code == 200 and ended.json()["status"] == "ended"
        assert _at(ended.json()["end"]) == local(2027, 2, 1, 8, 40)
        assert api.room.screen.get("booking")["current"] is None
        again = api.post(f"/api/v1/bookings/{made['id']}/end")
        assert again.status_code == 409
        rest = api.post("/api/v1/bookings", {"group_id": group_b, "start": local(2027, 2, 1, 8, 45).isoformat(),
                                             "end": local(2027, 2, 1, 9, 30).isoformat()})
        assert rest.status_code == 201, "the rest of the slot is free again"
        not_running = api.post(f"/api/v1/bookings/{rest.json()['id']}/extend", {"minutes": 10})
        assert not_running.status_code == 409 and "not now" in not_running.json()["detail"]
