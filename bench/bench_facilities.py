"""Facilities speed: analytics and learning-time reports over two years, and /facilities update latency.

1. A database with two years of four-a-week sessions (2-hour bookings Monday to Thursday, ten groups of four,
   about one in ten released as a no-show, a walk-in now and then, a validated proposal every other week):
   time to build the utilisation report (JSON and CSV), a member's and a group's learning-time report.
2. A real room served by uvicorn on a private Mosquitto, 20 other "rooms" publishing their retained state:
   time from a room's publish to the /api/v1/facilities/ws message that shows it.

    .venv/bin/python bench/bench_facilities.py [--runs 5] [--rooms 20] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
import sqlite_utils
import websockets
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.api.tokens import create_token
from roomctl.config import load_settings
from roomctl.devices.broker import Broker, free_port
from roomctl.facilities.analytics import utilisation, utilisation_csv
from roomctl.facilities.learning import group_report, member_report
from roomctl.facilities.period import Period
from roomctl.runtime import build_room
from roomctl.server import serve
from roomctl.store import open_database

TZ = ZoneInfo("Europe/Amsterdam")
WEEKS = 104
GROUPS = 10
MEMBERS_PER_GROUP = 4


def seed_history(db: sqlite_utils.Database, end: date) -> tuple[int, int]:
    """Two years of four-a-week sessions; returns a member id and a group id to report on."""
    now = datetime.now(UTC).isoformat()
    db["members"].insert_all(  # type: ignore[union-attr]
        [{"id": i + 1, "name": f"Lid {i + 1}", "created_at": now, "active": 1} for i in range(GROUPS * MEMBERS_PER_GROUP)]
    )
    db["groups"].insert_all([{"id": g + 1, "name": f"Groep {g + 1}", "created_at": now} for g in range(GROUPS)])  # type: ignore[union-attr]
    db["group_members"].insert_all(  # type: ignore[union-attr]
        [{"group_id": g + 1, "member_id": g * MEMBERS_PER_GROUP + m + 1} for g in range(GROUPS) for m in range(MEMBERS_PER_GROUP)]
    )
    bookings, sessions, presence, requests, proposals = [], [], [], [], []
    monday = end - timedelta(days=end.weekday() + 7 * WEEKS)
    n = 0
    for week in range(WEEKS):
        for weekday in range(4):
            n += 1
            group = n % GROUPS + 1
            start = datetime.combine(monday + timedelta(weeks=week, days=weekday), datetime.min.time(), TZ).replace(hour=9)
            stop = start + timedelta(hours=2)
            released = n % 10 == 0
            bookings.append(
                {"id": n, "group_id": group, "start_utc": start.astimezone(UTC).isoformat(), "end_utc": stop.astimezone(UTC).isoformat(),
                 "status": "released" if released else "ended", "kind": "single", "created_at": now}
            )
            if released:
                continue
            begun, ended = start + timedelta(minutes=5), stop - timedelta(minutes=10)
            sessions.append(
                {"id": n, "booking_id": n, "group_id": group, "videoframe_id": "v", "videoframe_version": "1",
                 "started_at": begun.isoformat(), "ended_at": ended.isoformat(), "state": "{}", "updated_at": now}
            )
            for m in range(MEMBERS_PER_GROUP - (n % 2)):
                seen = begun + timedelta(minutes=3 * m)
                presence.append({"session_id": n, "member_id": (group - 1) * MEMBERS_PER_GROUP + m + 1, "first_seen_at": seen.isoformat()})
            if n % 8 == 0:
                requests.append({"id": n, "idempotency_key": f"k{n}", "session_id": n, "group_id": group, "kind": "ask",
                                 "body_json": "{}", "state": "done", "model": "m", "created_at": now})
                proposals.append({"session_id": n, "group_id": group, "request_id": n, "version": 1, "status": "accepted",
                                  "content_json": json.dumps({"title": f"Voorstel {n}"}), "original_json": "{}",
                                  "language": "nl", "created_at": ended.isoformat(), "decided_at": ended.isoformat()})
    with db.atomic():
        db["bookings"].insert_all(bookings)  # type: ignore[union-attr]
        db["sessions"].insert_all(sessions)  # type: ignore[union-attr]
        db["session_presence"].insert_all(presence)  # type: ignore[union-attr]
        db["proposal_requests"].insert_all(requests)  # type: ignore[union-attr]
        db["proposals"].insert_all(proposals)  # type: ignore[union-attr]
    print(f"history: {len(bookings)} bookings, {len(sessions)} sessions, {len(presence)} presences, {len(proposals)} proposals")
    return MEMBERS_PER_GROUP + 1, 2  # group 1 gets every tenth booking: all released


def timed(label: str, runs: int, action: Any) -> Any:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    print(f"{label:<42} median {statistics.median(times) * 1000:8.1f} ms   max {max(times) * 1000:8.1f} ms")
    return result


def bench_reports(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(Path(folder) / "roomctl.db")
        today = datetime.now(UTC).date()
        member, group = seed_history(db, today)
        now = datetime.now(UTC)
        period = Period(now - timedelta(days=7 * WEEKS + 7), now)
        ten_years = Period(now - timedelta(days=3650), now)
        report = timed("utilisation, two years (JSON)", runs, lambda: utilisation(db, period, TZ, now))
        timed("utilisation, two years (JSON + CSV)", runs, lambda: utilisation_csv(utilisation(db, period, TZ, now)))
        timed("utilisation, ten years", runs, lambda: utilisation(db, ten_years, TZ, now))
        mine = timed("learning time, one member, two years", runs, lambda: member_report(db, member, period, TZ, now))
        timed("learning time, one group, two years", runs, lambda: group_report(db, group, period, TZ, now, per_member=True))
        print(f"  (used {report['summary']['used_hours']} h of {report['summary']['booked_hours']} h booked; "
              f"member used {mine['used_minutes']} of {mine['offered_minutes']} min)")


async def bench_latency(rooms: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder, Broker(workdir=Path(folder) / "mosquitto") as broker:
        settings = load_settings(
            None,
            {"storage": {"data_dir": Path(folder) / "data"}, "server": {"port": free_port()},
             "mqtt": {"enabled": True, "host": broker.host, "port": broker.port}},
        )
        room = build_room(settings)
        token = create_token(room.db, "facilities", label="bench", now=datetime.now(UTC))[1]
        ready, shutdown = asyncio.Event(), asyncio.Event()
        server = asyncio.create_task(serve(settings, room=room, on_ready=lambda _: ready.set(), shutdown=shutdown))
        await ready.wait()
        publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-rooms")
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        sent: dict[tuple[str, str], float] = {}
        latencies: list[float] = []
        url = settings.public_url.replace("http://", "ws://") + f"/api/v1/facilities/ws?token={token}"
        try:
            async with websockets.connect(url, max_size=None) as ws:
                await ws.recv()

                async def receive() -> None:
                    while len(latencies) < rooms * rounds:
                        message = json.loads(await ws.recv())
                        arrived = time.perf_counter()
                        for entry in message["rooms"]:
                            key = (entry["id"], entry["updated_at"])
                            if key in sent:
                                latencies.append(arrived - sent.pop(key))

                receiver = asyncio.create_task(receive())
                for _ in range(rounds):
                    for index in range(rooms):
                        room_id = f"r{index:02d}"
                        stamp = datetime.now(UTC).isoformat()
                        state = {"room": {"site": "hq", "id": room_id, "name": room_id}, "updated_at": stamp,
                                 "phase": {"name": "idle"}, "occupancy": {"booked": index % 3 == 0}}
                        sent[(room_id, datetime.fromisoformat(stamp).isoformat())] = time.perf_counter()
                        publisher.publish(f"roomctl/hq/{room_id}/state", json.dumps(state), qos=1, retain=True)
                        await asyncio.sleep(0.005)
                await asyncio.wait_for(receiver, timeout=30)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            shutdown.set()
            await server
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"/facilities update latency, {rooms} rooms x {rounds} rounds: median {statistics.median(latencies) * 1000:.1f} ms, "
              f"p95 {p95 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms ({len(latencies)} updates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    bench_reports(args.runs)
    asyncio.run(bench_latency(args.rooms, args.rounds))


if __name__ == "__main__":
    main()
