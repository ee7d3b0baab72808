"""Booking speed with two years of four-a-week bookings: "is the room free, and what's next", and the iCalendar feed.

Builds a room on a manual clock, books ``--groups`` weekly series of four one-hour sessions a week for 104 weeks
(each group its own times), moves the clock a year on (a year of history behind, a year ahead), then times:

- the free/next check the door and the screens make (two indexed queries),
- the whole agenda the screens get (today's bookings, current, next),
- ``GET /api/v1/calendar.ics`` for the room and for one group (through the app, in-process),
- creating one 416-occurrence series (all-or-nothing, with every conflict check).

    .venv/bin/python bench/bench_booking.py [--groups 4] [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.booking.series import make_spec
from roomctl.booking.service import BookingService
from roomctl.config import load_settings
from roomctl.core.clock import ManualClock
from roomctl.runtime import build_room

WEEKS = 104
SESSIONS = (("mon", 9), ("tue", 13), ("wed", 9), ("thu", 13))
"""Four one-hour sessions a week; each further group starts an hour later."""
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)  # Monday 07:00 in Amsterdam


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and 95th percentile of ``fn`` in milliseconds."""
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=4, help="groups, each booked four times a week")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None, {"storage": {"data_dir": tmp}, "mqtt": {"enabled": False}, "llm": {"enabled": False}}
        )
        clock = ManualClock(START)
        room = build_room(settings, clock)
        repo = BookingRepository(room.db)
        service = room.service(BookingService)
        group_ids = []
        for g in range(args.groups):
            members = [repo.add_member(f"Lid {g}-{i}", now=clock.now()).id for i in range(4)]
            group_ids.append(repo.add_group(f"Groep {g}", members, now=clock.now()).id)

        series_seconds = []
        for g, group_id in enumerate(group_ids):
            slots = [(day, f"{hour + g:02d}:00") for day, hour in SESSIONS]
            spec = make_spec(slots, 60, date(2027, 1, 4), weeks=WEEKS, until=None, max_weeks=WEEKS)
            begin = time.perf_counter()
            service.series.create(group_id, spec, now=clock.now())
            series_seconds.append(time.perf_counter() - begin)
        total = room.db.execute("select count(*) from bookings").fetchone()[0]
        print(f"bookings: {total} ({args.groups} groups x 4 a week x {WEEKS} weeks)")
        print(f"create one series of {4 * WEEKS} occurrences: median {statistics.median(series_seconds) * 1000:.0f} ms "
              f"(first {series_seconds[0] * 1000:.0f} ms, last {series_seconds[-1] * 1000:.0f} ms)")

        clock.set(START + timedelta(weeks=52, hours=2, minutes=30))  # a year on, a Monday 09:30 local
        now = clock.now()
        with room.db.atomic():  # the year behind was used: every session checked in
            room.db.execute(
                "update bookings set status = 'checked_in', checked_in_at = start_utc where start_utc < ?", [now.isoformat()]
            )

        def free_and_next() -> tuple[bool, object]:
            return not repo.overlapping(now, now + timedelta(seconds=1)), repo.next_after(now)

        median, p95 = timed(free_and_next, args.runs)
        print(f"is the room free, and what's next: median {median:.3f} ms, p95 {p95:.3f} ms")
        median, p95 = timed(lambda: service.agenda(now), args.runs)
        print(f"screen agenda (today, current, next): median {median:.3f} ms, p95 {p95:.3f} ms")
        for sql in ("select * from bookings where status in ('booked','checked_in') and start_utc < ? and end_utc > ?",
                    "select * from bookings where status in ('booked','checked_in') and end_utc > ? order by start_utc limit 1"):
            plan = room.db.execute("explain query plan " + sql, [now.isoformat()] * sql.count("?")).fetchall()
            print("  plan:", "; ".join(row[-1] for row in plan))

        token = create_token(room.db, "facilities", label="bench", now=now)[1]
        with TestClient(create_app(room)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            body = client.get("/api/v1/calendar.ics", headers=headers).content
            events = body.count(b"BEGIN:VEVENT")
            runs = max(5, args.runs // 20)
            median, p95 = timed(lambda: client.get("/api/v1/calendar.ics", headers=headers), runs)
            print(f"calendar.ics, room ({events} events, {len(body) // 1024} KiB), cached: median {median:.1f} ms, p95 {p95:.1f} ms")

            def changed() -> object:
                service.feeds._built.clear()  # as after any change to a booking
                return client.get("/api/v1/calendar.ics", headers=headers)

            median, p95 = timed(changed, runs)
            print(f"calendar.ics, room, rebuilt after a change: median {median:.0f} ms, p95 {p95:.0f} ms")
            path = f"/api/v1/calendar.ics?group={group_ids[0]}"
            group_events = client.get(path, headers=headers).content.count(b"BEGIN:VEVENT")
            median, p95 = timed(lambda: client.get(path, headers=headers), runs)
            print(f"calendar.ics, one group ({group_events} events), cached: median {median:.1f} ms, p95 {p95:.1f} ms")
            since = START.isoformat().replace("+00:00", "Z")
            full = f"/api/v1/calendar.ics?start={since}"
            full_events = client.get(full, headers=headers).content.count(b"BEGIN:VEVENT")

            def full_rebuilt() -> object:
                service.feeds._built.clear()
                return client.get(full, headers=headers)

            median, p95 = timed(full_rebuilt, runs)
            print(f"calendar.ics, room, all two years ({full_events} events), rebuilt: median {median:.0f} ms, p95 {p95:.0f} ms")


if __name__ == "__main__":
    main()
