"""Alerts end to end: a real room on real Mosquitto, a CO2 node, the mock door, a failing speech worker, a
nearly full disk; listed, acknowledged, published on MQTT and posted to a webhook that fails at first."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.access.service import AccessService
from roomctl.config import Settings
from roomctl.devices.broker import Broker, free_port
from roomctl.facilities.alerts import AlertStore, Condition
from roomctl.facilities.service import FacilitiesService
from roomctl.speech.service import SpeechService
from roomctl.store.db import open_database
from tests.conftest import serving, wait_for


class Hook:
    """A local webhook receiver that answers 500 to the first ``failures`` posts, then 204."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                if hook.attempts <= hook.failures:
                    self.send_response(500)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[tuple[str, str]]:
        return [(m["event"], m["alert"]["key"]) for m in self.received]


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook(failures=2)
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def alert_settings(tmp_path: Path, broker: Broker, hook: Hook) -> Settings:
    devices = [
        {"id": "co2", "kind": "co2", "driver": "esphome", "name": "CO2", "topic": "co2-node", "entity": "co2"},
        {"id": "temp", "kind": "temperature", "driver": "esphome", "name": "Temperatuur", "topic": "co2-node", "entity": "temperature"},
    ]
    facilities = {
        "co2_limit_ppm": 1000,
        "disk_min_free_percent": 99,
        "check_interval_seconds": 0.2,
        "webhook_url": hook.url,
        "webhook_attempts": 4,
        "webhook_backoff_seconds": 0.05,
    }
    return Settings.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "server": {"port": free_port()},
            "mqtt": {"enabled": True, "host": broker.host, "port": broker.port},
            "door": {"held_open_alarm_seconds": 0.5},
            "devices": devices,
            "facilities": facilities,
        }
    )


async def test_alerts_are_raised_listed_acknowledged_published_and_cleared(tmp_path: Path, broker: Broker, hook: Hook) -> None:
    node = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="co2-node")
    published: list[dict[str, Any]] = []
    node.on_message = lambda client, userdata, message: published.append(json.loads(message.payload))
    node.connect(broker.host, broker.port)
    node.subscribe("roomctl/hq/room1/alerts", qos=1)
    node.loop_start()
    try:
        async with serving(alert_settings(tmp_path, broker, hook)) as live:
            headers = live.headers("facilities")
            service = live.room.service(FacilitiesService)

            def active() -> dict[str, dict[str, Any]]:
                return {a["key"]: a for a in service.alerts.active()}

            async with httpx.AsyncClient(base_url=live.url, headers=headers) as client:
                # the disk holds less than 99 % free: critical alert at start
                await wait_for(lambda: "disk_low" in active())
                assert active()["disk_low"]["severity"] == "critical"

                # the CO2 node reports 1450 ppm, above the limit; the temperature is fine
                node.publish("co2-node/status", b"online", qos=1, retain=True)
                node.publish("co2-node/sensor/co2/state", b"1450", qos=1)
                node.publish("co2-node/sensor/temperature/state", b"21.5", qos=1)
                await wait_for(lambda: "co2_high:co2" in active())
                assert "1450 ppm" in active()["co2_high:co2"]["message"]
                assert not any(key.startswith("temperature") for key in active())
                rooms = (await client.get("/api/v1/facilities/rooms")).json()["rooms"]
                assert rooms[0]["sensors"] == {"co2": 1450.0, "temperature": 21.5}

                # the door is forced (opened while locked) and then held open
                pin = live.room.service(AccessService).factory.pin(live.settings.gpio.door_contact)
                pin.drive_high()
                await wait_for(lambda: "door_forced" in {a["kind"] for a in active().values()})
                await wait_for(lambda: "door_held_open" in {a["kind"] for a in active().values()}, timeout=5)

                # the speech worker keeps failing
                live.room.service(SpeechService).transcriber.failures = 3
                await wait_for(lambda: "speech_down" in active())

                listed = (await client.get("/api/v1/facilities/alerts", params={"state": "active"})).json()["alerts"]
                assert {a["kind"] for a in listed} >= {"disk_low", "sensor_out_of_range", "door_forced", "door_held_open", "speech_down"}
                assert all(a["raised_at"] and a["state"] == "active" and not a["acknowledged"] for a in listed)

                # staff acknowledge the CO2 alert; a second acknowledgement says who was first
                co2_id = active()["co2_high:co2"]["id"]
                ack = await client.post(f"/api/v1/facilities/alerts/{co2_id}/ack")
                assert ack.status_code == 200
                assert ack.json()["acknowledged_by"] == "test" and ack.json()["acknowledged_at"]
                again = await client.post(f"/api/v1/facilities/alerts/{co2_id}/ack")
                assert again.status_code == 409 and "test" in again.json()["detail"]
                assert (await client.post("/api/v1/facilities/alerts/99999/ack")).status_code == 404
                refused = await client.post(f"/api/v1/facilities/alerts/{co2_id}/ack", headers=live.headers("kiosk"))
                assert refused.status_code == 403

                # the node goes offline: device alert; then back with good air and the door shut: all clear
                node.publish("co2-node/status", b"offline", qos=1, retain=True)
                await wait_for(lambda: "device_offline:co2" in active())
                node.publish("co2-node/status", b"online", qos=1, retain=True)
                node.publish("co2-node/sensor/co2/state", b"620", qos=1)
                pin.drive_low()
                await wait_for(lambda: not ({"co2_high:co2", "device_offline:co2"} & set(active())))
                await wait_for(lambda: not any(a["kind"].startswith("door") for a in active().values()))

                history = (await client.get("/api/v1/facilities/alerts", params={"state": "all"})).json()["alerts"]
                co2 = next(a for a in history if a["id"] == co2_id)
                assert co2["state"] == "cleared" and co2["cleared_at"] >= co2["raised_at"] and co2["acknowledged"]
                bad = await client.get("/api/v1/facilities/alerts", params={"state": "whatever"})
                assert bad.status_code == 422

                # published retained on MQTT: the latest message lists what is active now
                await wait_for(lambda: published and {a["key"] for a in published[-1]["active"]} == set(active()))
                assert published[-1]["room"] == "room1"

                # the webhook failed twice, then got every message in order
                await wait_for(lambda: ("cleared", "co2_high:co2") in hook.events(), timeout=10)
                events = hook.events()
                assert hook.attempts == len(hook.received) + 2
                assert events.index(("raised", "co2_high:co2")) < events.index(("acknowledged", "co2_high:co2"))
                assert events.index(("acknowledged", "co2_high:co2")) < events.index(("cleared", "co2_high:co2"))
                assert hook.received[0]["room"] == "room1" and hook.received[0]["site"] == "hq"
                metrics = (await client.get("/metrics")).text
                assert 'roomctl_alerts_active{kind="disk_low"} 1.0' in metrics
    finally:
        node.loop_stop()
        node.disconnect()


def test_a_status_change_that_changes_no_alert_touches_no_table() -> None:
    """Every tablet command changes the room status; while the conditions stay, the store neither reads nor writes."""
    store = AlertStore(open_database(":memory:"))
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    co2 = Condition("co2_high:co2", "sensor_out_of_range", "warning", "CO2 1450 ppm", {"value": 1450})
    raised, cleared = store.reconcile([co2], now)
    assert [a["key"] for a in raised] == ["co2_high:co2"] and cleared == []
    assert [a["key"] for a in store.active()] == ["co2_high:co2"]  # read once after the change
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    for _ in range(3):
        assert store.reconcile([co2], now) == ([], [])
        assert [a["key"] for a in store.active()] == ["co2_high:co2"]
    assert statements == []

    store.active()[0]["detail"]["value"] = 0  # a caller's copy, not the store's
    assert store.active()[0]["detail"] == {"value": 1450}
    store.acknowledge(raised[0]["id"], "facilities", now)
    assert store.active()[0]["acknowledged"] is True
    assert statements, "an acknowledgement is written"
    raised, cleared = store.reconcile([], now)
    assert raised == [] and [a["key"] for a in cleared] == ["co2_high:co2"]
    assert store.active() == []
    assert store.db.execute("select count(*) from alerts where cleared_at is null").fetchone()[0] == 0
