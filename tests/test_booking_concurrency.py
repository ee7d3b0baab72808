"""Races and crashes: parallel requests for one slot (exactly one wins), and a kill during a series write."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import httpx

from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.store import open_database
from tests.conftest import LiveRoom

MakeSettings = Callable[..., Settings]
PARALLEL = 8
KILL_TIMEOUT_SECONDS = 60


def _tomorrow_at(live: LiveRoom, hour: int) -> datetime:
    tz = live.settings.room.tz
    day = live.room.clock.now().astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, time(hour), tz)


async def test_parallel_requests_for_one_slot_exactly_one_wins(live_room: LiveRoom) -> None:
    group_id = BookingRepository(live_room.room.db).groups()[0].id
    start = _tomorrow_at(live_room, 10)
    body = {"group_id": group_id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("admin"), timeout=30) as client:
        responses = await asyncio.gather(*(client.post("/api/v1/bookings", json=body) for _ in range(PARALLEL)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * (PARALLEL - 1), [r.text for r in responses]
        winner = next(r.json() for r in responses if r.status_code == 201)
        for loser in (r for r in responses if r.status_code == 409):
            assert [c["booking_id"] for c in loser.json()["conflicts"]] == [winner["id"]]

        # the same for weekly series that share one occurrence (Tuesday and Thursday from tomorrow)
        first = start.date()
        series = [
            {"group_id": group_id, "slots": [{"weekday": day, "start": "12:00"}], "duration_minutes": 60,
             "first_date": first.isoformat(), "weeks": 20}
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ]
        same_day = series[first.weekday()]
        raced = await asyncio.gather(*(client.post("/api/v1/series", json=same_day) for _ in range(4)))
        assert sorted(r.status_code for r in raced) == [201, 409, 409, 409]
    rows = live_room.room.db.execute(
        "select count(*) from bookings where status = 'booked' and start_utc >= ?", [start.date().isoformat()]
    ).fetchone()[0]
    assert rows == 1 + 20
    assert live_room.room.db.execute("select count(*) from series").fetchone()[0] == 1


WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import date, datetime, timezone
    from roomctl.booking.scheduler import Scheduler
    from roomctl.booking.series import make_spec
    from roomctl.booking.series_store import SeriesStore
    from roomctl.config import load_settings
    from roomctl.store import open_database

    path, group_id, first, pause_after = sys.argv[1], int(sys.argv[2]), date.fromisoformat(sys.argv[3]), int(sys.argv[4])
    db = open_database(path)
    settings = load_settings(None, {"storage": {"data_dir": str(path.rsplit("/", 1)[0])}, "mqtt": {"enabled": False}})

    def halfway():
        # called by SQLite while statements run: once this many rows are written (uncommitted), stop here
        if pause_after and db.conn.in_transaction and db.conn.total_changes >= pause_after:
            print("MID", db.conn.total_changes, flush=True)
            time.sleep(600)
        return 0

    db.conn.set_progress_handler(halfway, 1000)
    slots = [(day, hour) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") for hour in ("08:00", "12:00", "16:00")]
    spec = make_spec(slots, 60, first, weeks=104, until=None, max_weeks=104)
    result = SeriesStore(Scheduler(db, settings)).create(group_id, spec, now=datetime.now(timezone.utc))
    print("DONE", len(result["booked"]), flush=True)
    """
)


def _people(path: Path) -> int:
    db = open_database(path)
    repo = BookingRepository(db)
    now = datetime.now().astimezone()
    ids = [repo.add_member(name, now=now).id for name in ("Anna", "Bram", "Chantal")]
    group = repo.add_group("Groep A", ids, now=now)
    db.conn.close()
    return group.id


def _writer(path: Path, group_id: int, pause_after: int) -> subprocess.Popen[str]:
    first = (date.today() + timedelta(days=7)).isoformat()
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(group_id), first, str(pause_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
    )


def test_a_kill_during_a_series_write_leaves_no_half_series(tmp_path: Path) -> None:
    path = tmp_path / "room.db"
    group_id = _people(path)
    writer = _writer(path, group_id, pause_after=1000)
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line.startswith("MID"), f"the writer did not reach the middle: {line!r} {writer.stderr.read() if writer.stderr else ''}"
        assert int(line.split()[1]) >= 1000
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=KILL_TIMEOUT_SECONDS)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL

    db = open_database(path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert db.execute("select count(*) from series").fetchone()[0] == 0
    assert db.execute("select count(*) from bookings").fetchone()[0] == 0
    db.conn.close()

    # the same write, not interrupted, books every occurrence: the kill above really hit a large write
    complete = _writer(path, group_id, pause_after=0)
    out, err = complete.communicate(timeout=KILL_TIMEOUT_SECONDS)
    assert complete.returncode == 0, err
    assert out.split() == ["DONE", str(104 * 21)]
    db = open_database(path)
    assert db.execute("select count(*) from bookings where series_id = 1").fetchone()[0] == 104 * 21
