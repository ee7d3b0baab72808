"""The audit trail: append-only in the database, retention the only delete, written before the relay moves."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from roomctl.access.audit import AuditLog
from roomctl.access.service import AccessService
from roomctl.api.tokens import create_token
from roomctl.config import Settings
from roomctl.devices.broker import Broker, free_port
from roomctl.devices.bus import MqttBus
from roomctl.errors import StorageError
from roomctl.store import open_database
from tests.access_helpers import MEMBER_UID, audit_rows, component, relay_activations, room_sections, running_room, tap
from tests.conftest import serving

MakeSettings = Callable[..., Settings]
ROOT = Path(__file__).resolve().parent.parent


def audit_log(tmp_path: Path) -> AuditLog:
    return AuditLog(open_database(tmp_path / "audit.db"), b"k" * 32)


def test_rows_cannot_be_updated_or_deleted_within_retention(tmp_path: Path) -> None:
    log = audit_log(tmp_path)
    now = datetime.now(UTC)
    entry = log.append(now, "tap", reader="door", uid="04A1B2C3", decision="granted", reason="member")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log.db.execute("update audit set decision = 'denied' where id = ?", [entry])
    with pytest.raises(sqlite3.IntegrityError, match="retention"):
        log.db.execute("delete from audit where id = ?", [entry])
    with pytest.raises(sqlite3.IntegrityError, match="retention"):
        log.db.execute("delete from audit")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        log.db.execute("delete from access_settings")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        log.db.execute("update access_settings set audit_retention_days = 0")
    assert [r["decision"] for r in log.entries()] == ["granted"]


def test_retention_expiry_is_the_one_way_rows_leave(tmp_path: Path) -> None:
    log = audit_log(tmp_path)
    log.set_retention(30)
    now = datetime.now(UTC)
    old = log.append(now - timedelta(days=40), "tap", reader="door", decision="denied", reason="unknown")
    young = log.append(now - timedelta(days=20), "tap", reader="door", decision="denied", reason="unknown")
    assert log.expire_retention(now) == 1
    assert [r["id"] for r in log.entries()] == [young]
    assert old not in [r["id"] for r in log.entries()]
    # asking to delete inside the retention is refused by the database, and nothing goes
    with pytest.raises(StorageError, match="30-day retention"):
        log.expire(now)
    assert [r["id"] for r in log.entries()] == [young]
    # a longer retention protects more
    log.set_retention(10)
    assert log.retention_days == 10
    assert log.expire_retention(now) == 1


def test_badges_are_keyed_hashes_shown_shortened_and_csv_exports(tmp_path: Path) -> None:
    log = audit_log(tmp_path)
    other = AuditLog(log.db, b"x" * 32)
    assert log.badge_hash("04A1B2C3") != other.badge_hash("04A1B2C3")  # keyed: a plain SHA would match
    log.append(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "tap", reader="door", uid="04A1B2C3", decision="granted", reason="member")
    shown = log.entries()[0]["badge"]
    assert len(shown) == 10 and log.badge_hash("04A1B2C3").startswith(shown)
    rows = list(csv.DictReader(io.StringIO(log.to_csv())))
    assert rows[0]["at"] == "2026-12-01T10:00:00+00:00" and rows[0]["badge"] == shown and "04A1B2C3" not in log.to_csv()


def test_the_audit_row_is_durable_when_the_process_dies_as_the_relay_moves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = textwrap.dedent(
        f"""
        import asyncio, os
        os.environ["GPIOZERO_PIN_FACTORY"] = "mock"
        from roomctl.config import load_settings
        from roomctl.access.service import AccessService
        from tests.access_helpers import room_sections, running_room, tap
        settings = load_settings(None, {{**room_sections(), "storage": {{"data_dir": {str(data)!r}}},
                                         "mqtt": {{"enabled": False}}}})

        async def main():
            async with running_room(settings) as room:
                def die():
                    os._exit(42)  # the power fails as the strike is about to move
                room.service(AccessService).door.relay.on = die
                await tap(room, {MEMBER_UID!r})

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 42, done.stderr[-2000:]
    db = sqlite3.connect(data / "roomctl.db")
    rows = db.execute("select kind, decision, reason from audit where kind = 'tap'").fetchall()
    assert rows == [("tap", "granted", "member")]


async def test_retention_comes_from_the_config(make_settings: MakeSettings) -> None:
    async with running_room(make_settings(**room_sections(door={"audit_retention_days": 90}))) as room:
        assert room.service(AccessService).audit.retention_days == 90
        assert room.db.execute("select audit_retention_days from access_settings").fetchone()[0] == 90


async def test_the_door_works_with_the_broker_stopped_and_no_llm(
    broker: Broker, make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOMCTL_ANTHROPIC_API_KEY", raising=False)
    sections = room_sections(mqtt={"enabled": True, "port": broker.port}, llm={"enabled": True})
    async with running_room(make_settings(**sections)) as room:
        from tests.conftest import wait_for

        await wait_for(lambda: room.service(MqttBus).connected)
        broker.stop()
        await wait_for(lambda: not room.service(MqttBus).connected)
        decision = await tap(room, MEMBER_UID)
        assert decision.granted and relay_activations(room) == 1
        assert audit_rows(room, "tap")[0]["reason"] == "member"
        assert component(room, "mqtt")["status"] == "degraded"
        assert component(room, "door")["status"] == "ok"


async def test_alarms_api_and_tap_api_roles(make_settings: MakeSettings) -> None:
    settings = make_settings(**room_sections(server={"port": free_port()}))
    async with serving(settings) as live, httpx.AsyncClient(base_url=live.url) as client:
        for role in ("admin", "facilities"):
            response = await client.get("/api/v1/alarms", headers=live.headers(role))
            assert response.status_code == 200 and response.json() == []
        for role in ("kiosk", "reader", "facilitator"):
            assert (await client.get("/api/v1/alarms", headers=live.headers(role))).status_code == 403
        assert (await client.get("/api/v1/alarms")).status_code == 401
        for role in ("kiosk", "facilities", "facilitator"):
            response = await client.post("/api/v1/door/taps", json={"uid": MEMBER_UID}, headers=live.headers(role))
            assert response.status_code == 403
        assert live.room.service(AccessService).door.activations == 0
        lobby = {"Authorization": "Bearer " + create_token(live.room.db, "reader", label="lobby", now=live.room.clock.now(),
                                                           reader="lobby")[1]}  # fmt: skip
        for i in range(10):
            response = await client.post("/api/v1/door/taps", json={"uid": f"04EE00{i:02X}"}, headers=lobby)
            assert response.json()["reason"] == "unknown"
        alarms: list[dict[str, Any]] = (await client.get("/api/v1/alarms", headers=live.headers("facilities"))).json()
        assert [(a["kind"], a["reader"], a["active"]) for a in alarms] == [("lockout", "net:lobby", True)]
        assert set(alarms[0]) >= {"id", "kind", "since", "active", "detail"}
        csv_text = (await client.get("/api/v1/door/audit.csv", headers=live.headers("facilities"))).text
        assert csv_text.count("\n") >= 12 and "lockout" in csv_text
