"""Bad input and the room's rules: every refusal is 4xx problem+json saying what to change, and nothing changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roomctl.config import Settings
from tests.booking_helpers import Api, booking_api, local, series_body

MakeSettings = Callable[..., Settings]
MON_9 = local(2027, 2, 8, 9).isoformat()
MON_10 = local(2027, 2, 8, 10).isoformat()


def _refused(api: Api, method: str, path: str, body: Any, status: int, *words: str) -> dict[str, Any]:
    before, rows = api.counts(), api.snapshot()
    response = api.client.request(method, path, json=body, headers=api.h())
    assert response.status_code == status, f"{method} {path} {body}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    for word in words:
        assert word in problem["detail"], f"{word!r} not in {problem['detail']!r}"
    assert api.counts() == before and api.snapshot() == rows, "a refused request changed the database"
    return problem


def test_bad_booking_times_and_rules(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, booking={"max_booking_minutes": 180}) as api:
        group = api.people.groups["A"]

        def booking(start: str, end: str, group_id: int = group) -> dict[str, Any]:
            return {"group_id": group_id, "start": start, "end": end}

        _refused(api, "POST", "/api/v1/bookings", booking("2027-02-08T25:00:00+01:00", MON_10), 422, "start")
        _refused(api, "POST", "/api/v1/bookings", booking("maandag negen uur", MON_10), 422, "start")
        _refused(api, "POST", "/api/v1/bookings", booking("2027-02-08T09:00:00", MON_10), 422, "start", "timezone")
        _refused(api, "POST", "/api/v1/bookings", booking(MON_10, MON_9), 422, "end must follow the start")
        _refused(api, "POST", "/api/v1/bookings", booking(MON_9, MON_10, group_id=999), 422, "group 999 does not exist")
        _refused(api, "POST", "/api/v1/bookings", booking(local(2027, 1, 25, 9).isoformat(), local(2027, 1, 25, 10).isoformat()),
                 422, "past")
        _refused(api, "POST", "/api/v1/bookings", booking(local(2027, 2, 8, 21).isoformat(), local(2027, 2, 8, 23).isoformat()),
                 422, "opening hours", "07:00-22:00")
        _refused(api, "POST", "/api/v1/bookings", booking(MON_9, local(2027, 2, 8, 13).isoformat()), 422, "at most 180 minutes")
        assert api.post("/api/v1/bookings", booking(MON_9, MON_10)).status_code == 201
        problem = _refused(api, "POST", "/api/v1/bookings",
                           booking(local(2027, 2, 8, 9, 30).isoformat(), local(2027, 2, 8, 11).isoformat(), api.people.groups["B"]),
                           409, "Groep A")
        assert [(c["group"], c["kind"]) for c in problem["conflicts"]] == [("Groep A", "booking")]


BAD_SERIES: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        ({"slots": [{"weekday": "funday", "start": "09:00"}]}, ("'funday' is not a weekday", "mon, tue")),
        ({"slots": [{"weekday": "mon", "start": "9am"}]}, ("HH:MM",)),
        ({"slots": [{"weekday": "mon", "start": "24:30"}]}, ("HH:MM",)),
        ({"weeks": 10_000}, ("1 to 104 weeks", "10000")),
        ({"weeks": None, "until": "2047-01-01"}, ("at most 104 weeks",)),
        ({"until": "2027-03-01"}, ("either weeks", "not both")),
        ({"group_id": 4242}, ("group 4242 does not exist",)),
        ({"slots": []}, ("slots",)),
        ({"first_date": "2027-02-30"}, ("first_date",)),
        ({"duration_minutes": 600}, ("at most 240 minutes",)),
        ({"slots": [{"weekday": "mon", "start": "09:00"}, {"weekday": "mon", "start": "09:30"}]}, ("run into the next one",)),
]


def test_bad_series_requests_change_nothing(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        for overrides, words in BAD_SERIES:
            body = {**series_body(api.people.groups["A"]), **overrides}
            _refused(api, "POST", "/api/v1/series", body, 422, *words)
            _refused(api, "POST", "/api/v1/series?dry_run=true", body, 422, *words)


def test_people_and_groups_bad_input(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, room={"capacity": 4}) as api:
        m = api.people.members
        _refused(api, "POST", f"/api/v1/members/{m['Bram']}/badges", {"uid": api.people.uids["Anna"]}, 409,
                 "already enrolled to member")
        _refused(api, "POST", f"/api/v1/members/{m['Bram']}/badges", {"uid": "not-hex!"}, 422, "4, 7 or 10 bytes")
        _refused(api, "POST", "/api/v1/members/9999/badges", {"uid": "04AABBCCDDEEFF"}, 404, "member 9999")
        _refused(api, "POST", "/api/v1/groups", {"name": "Te klein", "member_ids": [m["Anna"]]}, 422, "member_ids")
        _refused(api, "POST", "/api/v1/groups", {"name": "Te groot", "member_ids": list(range(1, 10))}, 422, "member_ids")
        _refused(api, "POST", "/api/v1/groups", {"name": "Dubbel", "member_ids": [m["Anna"], m["Anna"]]}, 422, "twice")
        _refused(api, "POST", "/api/v1/groups", {"name": "Spook", "member_ids": [m["Anna"], 777]}, 422, "member 777 does not exist")
        _refused(api, "POST", "/api/v1/groups",
                 {"name": "Vol", "member_ids": [m["Anna"], m["Bram"], m["Chantal"], m["Daan"]], "facilitator_id": m["Eva"]},
                 422, "5 people", "holds 4")
        _refused(api, "POST", "/api/v1/groups", {"name": "Groep A", "member_ids": [m["Daan"], m["Femke"]]}, 409, "exists already")
        ok = api.post("/api/v1/groups", {"name": "Vier", "member_ids": [m["Anna"], m["Bram"], m["Chantal"], m["Daan"]]})
        assert ok.status_code == 201


def test_a_group_that_outgrew_the_room_cannot_book(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, room={"capacity": 3}) as api:
        _refused(api, "POST", "/api/v1/bookings", {"group_id": api.people.groups["A"], "start": MON_9, "end": MON_10}, 422,
                 "4 people", "holds 3")


def test_members_and_groups_can_be_changed(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        m = api.people.members
        renamed = api.client.patch(f"/api/v1/members/{m['Anna']}", headers=api.h(), json={"email": "anna@example.org"})
        assert renamed.json()["email"] == "anna@example.org" and renamed.json()["name"] == "Anna"
        group = api.client.patch(f"/api/v1/groups/{api.people.groups['B']}", headers=api.h(),
                                 json={"member_ids": [m["Daan"], m["Femke"], m["Bram"]], "facilitator_id": m["Eva"]})
        assert group.status_code == 200 and group.json()["facilitator_id"] == m["Eva"]
        assert group.json()["member_ids"] == sorted([m["Daan"], m["Femke"], m["Bram"]])
        assert api.client.delete(f"/api/v1/members/{m['Femke']}", headers=api.h()).status_code == 204
        names = [x["name"] for x in api.client.get("/api/v1/members", headers=api.h()).json()]
        assert "Femke" not in names
        assert api.room.db.execute("select count(*) from badges where revoked_at is null and member_id = ?",
                                   [m["Femke"]]).fetchone()[0] == 0
