"""Weekly series: local-time expansion across DST, RRULEs, all-or-nothing and partial, dry run, this-and-following."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrulestr

from roomctl.booking.series import expand_rrule, make_spec, occurrences, to_rrule
from roomctl.config import Settings
from tests.booking_helpers import AMS, booking_api, local, series_body

MakeSettings = Callable[..., Settings]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _local_starts(items: list[dict[str, str]]) -> list[datetime]:
    return [datetime.fromisoformat(i["start"]).astimezone(AMS) for i in items]


def test_series_keeps_0900_across_march_and_october_2027() -> None:
    spring = make_spec([("mon", "09:00"), ("sun", "09:00")], 60, date(2027, 3, 15), weeks=4, until=None, max_weeks=104)
    starts = [s for s, _, problem in occurrences(spring, AMS) if problem is None]
    assert [s.astimezone(AMS).time() for s in starts] == [time(9)] * 8
    # before 28 March 2027 Amsterdam is UTC+1 (08:00Z), from that Sunday on UTC+2 (07:00Z)
    by_day = {s.astimezone(AMS).date(): s.hour for s in starts}
    assert by_day[date(2027, 3, 22)] == 8 and by_day[date(2027, 3, 28)] == 7 and by_day[date(2027, 3, 29)] == 7
    autumn = make_spec([("mon", "09:00"), ("sun", "09:00")], 60, date(2027, 10, 25), until=date(2027, 11, 8), weeks=None,
                       max_weeks=104)
    by_day = {s.astimezone(AMS).date(): s.hour for s, _, _ in occurrences(autumn, AMS)}
    assert by_day[date(2027, 10, 25)] == 7 and by_day[date(2027, 10, 31)] == 8 and by_day[date(2027, 11, 1)] == 8
    assert date(2027, 11, 8) in by_day  # until is inclusive


def test_rrule_text_is_rfc5545_and_parses_back_to_the_same_occurrences() -> None:
    spec = make_spec([("mon", "09:00"), ("wed", "09:00"), ("fri", "14:30")], 60, date(2027, 3, 1), weeks=6, until=None,
                     max_weeks=104)
    text = to_rrule(spec, AMS)
    lines = text.splitlines()
    assert lines[0] == "DTSTART;TZID=Europe/Amsterdam:20270301T090000"
    assert lines[1].startswith("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0;BYSECOND=0;UNTIL=")
    assert lines[1].endswith("Z") and "BYDAY=FR;BYHOUR=14;BYMINUTE=30" in lines[2]
    independent = list(rrulestr(text, forceset=True, tzids={"Europe/Amsterdam": AMS}))
    assert independent == expand_rrule(text)
    assert len(independent) == 18
    assert {d.astimezone(AMS).strftime("%a %H:%M") for d in independent} == {"Mon 09:00", "Wed 09:00", "Fri 14:30"}


def test_a_start_in_the_skipped_hour_is_reported_not_moved() -> None:
    spec = make_spec([("sun", "02:30")], 30, date(2027, 3, 21), weeks=2, until=None, max_weeks=104)
    problems = [p for _, _, p in occurrences(spec, AMS)]
    assert problems[0] is None and "does not exist" in str(problems[1])


def test_series_is_booked_in_local_time_over_dst_via_the_api(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        body = series_body(api.people.groups["A"], first_date="2027-03-15", weeks=4)
        response = api.post("/api/v1/series", body)
        assert response.status_code == 201, response.text
        booked = response.json()["booked"]
        assert len(booked) == 12
        assert {s.time() for s in _local_starts(booked)} == {time(9)}
        assert {datetime.fromisoformat(b["start"]).utcoffset() for b in booked} == {timedelta(0)}
        assert {datetime.fromisoformat(b["start"]).hour for b in booked} == {8, 7}  # UTC hours before and after DST
        series = response.json()["series"]
        assert series["rrule"].startswith("DTSTART;TZID=Europe/Amsterdam:20270315T090000")
        assert {b["series_id"] for b in booked} == {series["id"]} and {b["kind"] for b in booked} == {"series"}


def test_all_or_nothing_names_every_conflict_dry_run_previews_partial_books_the_rest(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        group_a, group_b = api.people.groups["A"], api.people.groups["B"]
        for day in (10, 19):  # Wednesday 10 and Friday 19 February, 09:30-10:30
            made = api.post("/api/v1/bookings", {"group_id": group_b, "start": local(2027, 2, day, 9, 30).isoformat(),
                                                 "end": local(2027, 2, day, 10, 30).isoformat()})
            assert made.status_code == 201, made.text
        before = api.counts()

        refused = api.post("/api/v1/series", series_body(group_a))
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert {(c["group"], _at(c["start"])) for c in problem["conflicts"]} == {
            ("Groep B", local(2027, 2, 10, 9, 30)), ("Groep B", local(2027, 2, 19, 9, 30))
        }
        assert all(c["end"] for c in problem["conflicts"])
        assert "Groep B" in problem["detail"]
        assert api.counts() == before

        preview = api.post("/api/v1/series?dry_run=true", series_body(group_a))
        assert preview.status_code == 200
        assert len(preview.json()["occurrences"]) == 10 and len(preview.json()["conflicts"]) == 2
        assert api.counts() == before

        partial = api.post("/api/v1/series", series_body(group_a, allow_partial=True))
        assert partial.status_code == 201
        assert len(partial.json()["booked"]) == 10
        assert [_at(s["start"]) for s in partial.json()["skipped"]] == [local(2027, 2, 10, 9), local(2027, 2, 19, 9)]
        assert api.counts()["bookings"] == before["bookings"] + 10


def test_rule_breaking_occurrences_refuse_the_series_with_422(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, room={"opening_hours": {"mon": "07:00-22:00", "wed": "07:00-22:00"}}) as api:
        before = api.counts()
        refused = api.post("/api/v1/series", series_body(api.people.groups["A"]))
        assert refused.status_code == 422
        assert "opening hours" in refused.json()["detail"] and "fri closed" in refused.json()["detail"]
        assert api.counts() == before


def test_cancel_and_move_one_occurrence_and_this_and_following(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        made = api.post("/api/v1/series", series_body(api.people.groups["A"], weeks=3)).json()
        ids = [b["id"] for b in made["booked"]]
        series_id = made["series"]["id"]

        one = api.client.delete(f"/api/v1/bookings/{ids[1]}", headers=api.h())
        assert one.status_code == 200 and [b["status"] for b in one.json()] == ["cancelled"]

        moved = api.client.patch(f"/api/v1/bookings/{ids[2]}", headers=api.h(), json={
            "start": local(2027, 2, 12, 11).isoformat(), "end": local(2027, 2, 12, 12).isoformat()})
        assert moved.status_code == 200, moved.text
        assert _at(moved.json()[0]["start"]) == local(2027, 2, 12, 11)

        # from Monday 15 February on, every occurrence moves an hour later (and lasts 90 minutes)
        following = api.client.patch(f"/api/v1/bookings/{ids[3]}", headers=api.h(), json={
            "start": local(2027, 2, 15, 10).isoformat(), "end": local(2027, 2, 15, 11, 30).isoformat(), "scope": "following"})
        assert following.status_code == 200, following.text
        assert [b["id"] for b in following.json()] == ids[3:]
        assert {s.time() for s in _local_starts(following.json())} == {time(10)}
        new_series = {b["series_id"] for b in following.json()}
        assert len(new_series) == 1 and new_series != {series_id}
        old = api.client.get(f"/api/v1/series/{series_id}", headers=api.h()).json()
        assert "UNTIL=20270215T075959Z" in old["rrule"]
        split = api.client.get(f"/api/v1/series/{new_series.pop()}", headers=api.h()).json()
        assert split["split_from"] == series_id and "BYHOUR=10" in split["rrule"] and split["duration_minutes"] == 90

        rest = api.client.delete(f"/api/v1/bookings/{ids[6]}?scope=following", headers=api.h())
        assert rest.status_code == 200 and [b["id"] for b in rest.json()] == ids[6:]
        statuses = dict(api.room.db.execute("select id, status from bookings").fetchall())
        assert [statuses[i] for i in ids] == ["booked", "cancelled", "booked", "booked", "booked", "booked"] + ["cancelled"] * 3


def test_moving_following_into_a_conflict_changes_nothing(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        made = api.post("/api/v1/series", series_body(api.people.groups["A"], weeks=2)).json()
        ids = [b["id"] for b in made["booked"]]
        blocker = api.post("/api/v1/bookings", {"group_id": api.people.groups["B"], "start": local(2027, 2, 17, 10).isoformat(),
                                                "end": local(2027, 2, 17, 11).isoformat()})
        assert blocker.status_code == 201
        before = api.snapshot()
        refused = api.client.patch(f"/api/v1/bookings/{ids[0]}", headers=api.h(), json={
            "start": local(2027, 2, 8, 10).isoformat(), "end": local(2027, 2, 8, 11).isoformat(), "scope": "following"})
        assert refused.status_code == 409
        assert [c["group"] for c in refused.json()["skipped"][0]["conflicts"]] == ["Groep B"]
        assert api.snapshot() == before
