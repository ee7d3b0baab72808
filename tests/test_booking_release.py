"""Check-in and release: unused occurrences are released, no-shows recorded, N in a row flag the series."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from roomctl.access.events import Tap
from roomctl.booking import service as booking_service
from roomctl.booking.service import BookingService
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.runtime import build_room
from tests.booking_helpers import MONDAY_0800, booking_api, local, make_people, series_body
from tests.conftest import wait_for

MakeSettings = Callable[..., Settings]


def _statuses(api: object, series_id: int) -> list[str]:
    db = api.room.db  # type: ignore[attr-defined]
    return [r[0] for r in db.execute("select status from bookings where series_id = ? order by start_utc", [series_id])]


def test_no_shows_release_flag_the_series_and_the_facilitator_sees_it(make_settings: MakeSettings) -> None:
    with booking_api(make_settings) as api:
        made = api.post("/api/v1/series", series_body(api.people.groups["A"], weeks=2)).json()
        series_id, ids = made["series"]["id"], [b["id"] for b in made["booked"]]
        service = api.room.service(BookingService)

        api.clock.set(local(2027, 2, 8, 9, 14))  # within the check-in window: nothing released yet
        assert service.tick().released == []
        api.clock.set(local(2027, 2, 8, 9, 16))
        report = service.tick()
        assert report.released == [ids[0]] and report.flagged == []
        assert _statuses(api, series_id)[:2] == ["released", "booked"]
        no_show = api.room.db.execute("select booking_id, series_id, group_id from no_shows").fetchall()
        assert [tuple(r) for r in no_show] == [(ids[0], series_id, api.people.groups["A"])]
        # the released slot is free again: another group may book the rest of it
        other = api.post("/api/v1/bookings", {"group_id": api.people.groups["B"], "start": local(2027, 2, 8, 9, 20).isoformat(),
                                              "end": local(2027, 2, 8, 9, 50).isoformat()})
        assert other.status_code == 201, other.text

        api.clock.set(local(2027, 2, 12, 9, 30))  # Wednesday and Friday pass unused too: three in a row
        report = service.tick()  # group B's booking went unused as well: a no-show without a series
        assert sorted(report.released) == sorted([*ids[1:3], other.json()["id"]]) and report.flagged == [series_id]
        assert api.room.db.execute("select count(*) from no_shows").fetchone()[0] == 4

        eva = api.facilitator_token("Eva")  # facilitator of group A
        seen = api.client.get("/api/v1/series?flagged=true", headers=api.h(eva)).json()
        assert [(s["id"], s["flagged"], s["no_show_streak"], s["no_shows"]) for s in seen] == [(series_id, True, 3, 3)]
        daan = api.facilitator_token("Daan")  # in group B only: does not see group A's series
        assert api.client.get("/api/v1/series?flagged=true", headers=api.h(daan)).json() == []
        assert api.client.get(f"/api/v1/series/{series_id}", headers=api.h(daan)).status_code == 404  # as if missing
        assert _statuses(api, series_id)[3:] == ["booked"] * 3  # auto-cancel is off by default

        cleared = api.client.delete(f"/api/v1/series/{series_id}/flag", headers=api.h(eva))
        assert cleared.status_code == 200 and cleared.json()["flagged"] is False


def test_a_check_in_breaks_the_streak_and_auto_cancel_cancels_the_rest(make_settings: MakeSettings) -> None:
    with booking_api(make_settings, booking={"no_show_threshold": 2, "no_show_cancels_series": True}) as api:
        made = api.post("/api/v1/series", series_body(api.people.groups["A"], weeks=2)).json()
        series_id = made["series"]["id"]
        service = api.room.service(BookingService)
        api.clock.set(local(2027, 2, 8, 9, 30))
        service.tick()  # Monday: no-show (1)
        api.clock.set(local(2027, 2, 10, 8, 55))
        tapped = api.post("/api/v1/door/taps", {"uid": api.people.uids["Anna"]})
        assert tapped.json()["granted"] is True  # Wednesday: checked in
        api.clock.set(local(2027, 2, 12, 9, 30))
        report = service.tick()  # Friday: no-show, but the streak is 1 again
        assert report.flagged == [] and _statuses(api, series_id)[:3] == ["released", "checked_in", "released"]
        api.clock.set(local(2027, 2, 15, 9, 30))
        report = service.tick()  # Monday: the second in a row
        assert report.flagged == [series_id] and report.cancelled == {series_id: 2}
        assert _statuses(api, series_id) == ["released", "checked_in", "released", "released", "cancelled", "cancelled"]
        assert api.room.db.execute("select cancelled_at from series").fetchone()[0] is not None


@pytest.fixture
def fast_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the booking pass every 50 ms instead of every 30 s."""
    monkeypatch.setattr(booking_service, "AGENDA_REFRESH_SECONDS", 0.05)


async def test_the_background_pass_releases_by_itself(make_settings: MakeSettings, fast_pass: None) -> None:
    clock = ManualClock(MONDAY_0800)
    room = build_room(make_settings(llm={"enabled": False}), clock)
    people = make_people(room)
    service = room.service(BookingService)
    booking = service.scheduler.book(people.groups["A"], local(2027, 2, 1, 9), local(2027, 2, 1, 10), now=clock.now())
    await room.start()
    try:
        await asyncio.sleep(0.2)
        assert service.repo.booking(booking.id).status == "booked"
        assert room.screen.get("booking")["next"]["id"] == booking.id
        clock.advance(timedelta(hours=1, minutes=16).total_seconds())
        await wait_for(lambda: service.repo.booking(booking.id).status == "released")
        await wait_for(lambda: room.screen.get("booking")["today"] == [])
        assert room.screen.get("booking")["free"] is True
        # after the release the room is free for a walk-in: Daan's tap books it for group B
        decision = await room.dispatch(Tap(source="test", uid=people.uids["Daan"], reader="door"))
        assert (decision.granted, decision.reason.value, decision.booking.kind) == (True, "walk_in", "walkin")
    finally:
        await room.stop()
