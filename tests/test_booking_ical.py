"""iCalendar: the room's and a group's feed parsed back with icalendar; closures imported from an .ics block dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import icalendar

from roomctl.config import Settings
from tests.booking_helpers import booking_api, local, series_body

MakeSettings = Callable[..., Settings]

HOLIDAYS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//holidays//NL\r
BEGIN:VEVENT\r
UID:carnaval-2027@example.org\r
DTSTAMP:20270101T000000Z\r
DTSTART;VALUE=DATE:20270210\r
DTEND;VALUE=DATE:20270211\r
SUMMARY:Studiedag\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:onderhoud@example.org\r
DTSTAMP:20270101T000000Z\r
DTSTART;TZID=Europe/Amsterdam:20270301T120000\r
DTEND;TZID=Europe/Amsterdam:20270301T140000\r
RRULE:FREQ=WEEKLY;COUNT=2\r
SUMMARY:Onderhoud\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _events(body: bytes) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(body)
    return [e for e in calendar.walk("VEVENT") if "closure" not in [str(c) for c in e.get("CATEGORIES").cats]]


def test_feed_for_the_room_and_for_a_group_parses_back(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        series = api.post("/api/v1/series", series_body(api.people.groups["A"], weeks=2)).json()
        single = api.post("/api/v1/bookings", {"group_id": api.people.groups["B"], "start": local(2027, 2, 9, 14).isoformat(),
                                               "end": local(2027, 2, 9, 15, 30).isoformat()}).json()
        cancelled = series["booked"][5]["id"]
        api.client.delete(f"/api/v1/bookings/{cancelled}", headers=api.h())
        api.client.patch(f"/api/v1/bookings/{series['booked'][0]['id']}", headers=api.h(),
                         json={"start": local(2027, 2, 8, 10).isoformat(), "end": local(2027, 2, 8, 11).isoformat()})

        response = api.client.get("/api/v1/calendar.ics", headers=api.h("facilities"))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(response.content)
        assert str(calendar["VERSION"]) == "2.0" and "roomctl" in str(calendar["PRODID"])
        events = _events(response.content)
        assert len(events) == 6  # five series occurrences (one cancelled) and the single booking
        uids = [str(e["UID"]) for e in events]
        assert len(set(uids)) == 6 and f"booking-{single['id']}@room1.hq.roomctl" in uids
        by_uid = {str(e["UID"]): e for e in events}
        moved = by_uid[f"booking-{series['booked'][0]['id']}@room1.hq.roomctl"]
        assert moved.decoded("DTSTART") == datetime(2027, 2, 8, 9, tzinfo=UTC) and moved.decoded("SEQUENCE") == 1
        assert f"booking-{cancelled}@room1.hq.roomctl" not in uids
        assert {str(e["SUMMARY"]) for e in events} == {"Groep A", "Groep B"}
        assert all(e.decoded("DTSTART").tzinfo is not None and e.decoded("DTSTART").utcoffset().total_seconds() == 0
                   for e in events)

        group = api.client.get(f"/api/v1/calendar.ics?group={api.people.groups['B']}", headers=api.h())
        group_events = _events(group.content)
        assert [str(e["UID"]) for e in group_events] == [f"booking-{single['id']}@room1.hq.roomctl"]
        assert group_events[0].decoded("DTEND") - group_events[0].decoded("DTSTART") == local(2027, 2, 9, 15, 30) - local(2027, 2, 9, 14)

        daan = api.facilitator_token("Daan")
        assert api.client.get(f"/api/v1/calendar.ics?group={api.people.groups['A']}", headers=api.h(daan)).status_code == 404
        assert api.client.get("/api/v1/calendar.ics", headers=api.h("kiosk")).status_code == 403
        assert api.client.get("/api/v1/calendar.ics?group=99", headers=api.h()).status_code == 404


def test_imported_closures_block_dates_and_report_existing_bookings(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        existing = api.post("/api/v1/bookings", {"group_id": api.people.groups["B"], "start": local(2027, 2, 10, 13).isoformat(),
                                                 "end": local(2027, 2, 10, 14).isoformat()}).json()
        imported = api.client.post("/api/v1/closures/import", content=HOLIDAYS, headers={**api.h(), "Content-Type": "text/calendar"})
        assert imported.status_code == 200, imported.text
        result = imported.json()
        assert result["imported"] == 3  # the study day and two maintenance Mondays
        assert [(a["id"], a["closure"]) for a in result["affected"]] == [(existing["id"], "Studiedag")]
        assert api.room.db.execute("select status from bookings").fetchone()[0] == "booked"  # reported, not cancelled

        before = api.counts()
        refused = api.post("/api/v1/bookings", {"group_id": api.people.groups["A"], "start": local(2027, 2, 10, 9).isoformat(),
                                                "end": local(2027, 2, 10, 10).isoformat()})
        assert refused.status_code == 409
        assert [(c["kind"], c["summary"]) for c in refused.json()["conflicts"]] == [("closure", "Studiedag")]
        maintenance = api.post("/api/v1/bookings", {"group_id": api.people.groups["A"], "start": local(2027, 3, 8, 13).isoformat(),
                                                    "end": local(2027, 3, 8, 15).isoformat()})
        assert maintenance.status_code == 409 and "Onderhoud" in maintenance.json()["detail"]
        assert api.counts() == before

        preview = api.post("/api/v1/series?dry_run=true", series_body(api.people.groups["A"], weeks=1)).json()
        assert [c["summary"] for c in preview["conflicts"]] == ["Studiedag"]

        again = api.client.post("/api/v1/closures/import", content=HOLIDAYS, headers={**api.h(), "Content-Type": "text/calendar"})
        assert again.json()["imported"] == 3 and api.counts()["closures"] == 3  # re-import replaces, no duplicates
        listed = api.client.get("/api/v1/closures", headers=api.h("facilities")).json()
        assert [c["summary"] for c in listed] == ["Studiedag", "Onderhoud", "Onderhoud"]
        assert listed[0]["all_day"] is True
        assert datetime.fromisoformat(listed[0]["start"]) == local(2027, 2, 10)

        feed = api.client.get("/api/v1/calendar.ics", headers=api.h()).content
        closures = [e for e in icalendar.Calendar.from_ical(feed).walk("VEVENT") if str(e["SUMMARY"]).startswith("Gesloten")]
        assert len(closures) == 3


def test_bad_calendar_files_change_nothing(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        before = api.counts()
        cases = [
            (b"this is not a calendar", "not an iCalendar file"),
            (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "no events"),
            (HOLIDAYS.replace(b"DTEND;VALUE=DATE:20270211", b"DTEND;VALUE=DATE:20270201"), "ends before it starts"),
        ]
        for body, words in cases:
            response = api.client.post("/api/v1/closures/import", content=body, headers={**api.h(), "Content-Type": "text/calendar"})
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert words in response.json()["detail"]
        assert api.counts() == before


def test_a_group_subscribes_by_url_alone_and_the_url_can_be_revoked(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        group_b = api.people.groups["B"]
        single = api.post("/api/v1/bookings", {"group_id": group_b, "start": local(2027, 2, 9, 14).isoformat(),
                                               "end": local(2027, 2, 9, 15).isoformat()}).json()  # fmt: skip
        made = api.client.post(f"/api/v1/groups/{group_b}/calendar-feeds", json={"label": "Outlook"}, headers=api.h())
        assert made.status_code == 201, made.text
        url = made.json()["url"]
        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        assert token not in "\n".join(api.room.db.conn.iterdump()), "only the hash is stored"
        feed = api.client.get(urlsplit(url).path)  # no Authorization header: the URL alone
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        events = _events(feed.content)
        assert [str(e["UID"]) for e in events] == [f"booking-{single['id']}@room1.hq.roomctl"]
        assert all(name not in feed.text for name in ("Daan", "Femke", "Anna"))
        listed = api.client.get(f"/api/v1/groups/{group_b}/calendar-feeds", headers=api.h()).json()
        assert [f["label"] for f in listed] == ["Outlook"] and "url" not in listed[0]
        daan = api.facilitator_token("Daan")  # facilitates no group: cannot make group A's feed
        refused = api.client.post(f"/api/v1/groups/{api.people.groups['A']}/calendar-feeds", json={}, headers=api.h(daan))
        assert refused.status_code == 404
        gone = api.client.delete(f"/api/v1/groups/{group_b}/calendar-feeds/{made.json()['id']}", headers=api.h())
        assert gone.status_code == 204
        assert api.client.get(f"/api/v1/calendar/{token}.ics").status_code == 404
        assert api.client.get("/api/v1/calendar/cal_guessed.ics").status_code == 404
