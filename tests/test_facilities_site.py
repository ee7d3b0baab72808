"""/facilities across rooms: two real roomctl instances on one real Mosquitto, stale rooms, retained junk."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.async_api import expect

from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.devices.broker import Broker, free_port
from roomctl.facilities.service import FacilitiesService
from tests.clock_helpers import INSTANTS
from tests.conftest import ARTIFACTS, serving, wait_for

OTHER_PINS = {"door_relay": 18, "door_contact": 23, "exit_button": 24, "led_red": 12, "led_green": 16, "led_blue": 20,
              "buzzer": 21, "pir": 25}  # fmt: skip
"""Room B's pins: both rooms share this process' mock pin factory, so they need pins of their own."""


def room_settings(make_settings: Callable[..., Settings], tmp_path: Path, broker: Broker, room_id: str, **extra: Any) -> Settings:
    """Settings of one room of site ``hq`` on the shared broker, with its own data folder and port."""
    return make_settings(
        room={"id": room_id, "name": f"Ruimte {room_id.upper()}", "site": "hq"},
        storage={"data_dir": tmp_path / room_id},
        server={"port": free_port()},
        mqtt={"enabled": True, "host": broker.host, "port": broker.port},
        gpio=OTHER_PINS if room_id == "b" else {},
        **extra,
    )


def publisher(broker: Broker) -> mqtt.Client:
    """A plain paho client, connected, standing in for another room or a misbehaving device."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


async def rooms_of(url: str, token: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/api/v1/facilities/rooms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {room["id"]: room for room in response.json()["rooms"]}


async def test_two_instances_each_show_both_rooms_live(
    make_settings: Callable[..., Settings], tmp_path: Path, broker: Broker, browser: Any
) -> None:
    facilities = {"facilities": {"heartbeat_seconds": 0.5, "stale_after_seconds": 3}}
    async with serving(room_settings(make_settings, tmp_path, broker, "a", **facilities)) as room_a:
        async with serving(room_settings(make_settings, tmp_path, broker, "b", **facilities)) as room_b:
            for live in (room_a, room_b):
                token = live.tokens["facilities"]
                seen: dict[str, dict[str, Any]] = {}

                other_id = "b" if live.settings.room.id == "a" else "a"

                async def both(live: Any = live, token: str = token, seen: dict[str, Any] = seen, other_id: str = other_id) -> bool:
                    # the other room's availability may arrive before its first state: wait for the state itself
                    seen.update(await rooms_of(live.url, token))
                    return {"a", "b"} <= set(seen) and seen[other_id]["updated_at"] is not None

                for _ in range(100):
                    if await both():
                        break
                    await asyncio.sleep(0.05)
                assert {"a", "b"} <= set(seen), f"{live.settings.room.id} sees only {sorted(seen)}"
                other = seen[other_id]
                assert other["updated_at"] is not None, f"{live.settings.room.id} has no state of {other_id}: {other}"
                assert other["local"] is False and other["availability"] == "online"
                # the demo seed books each room around now: booked, nobody in, a locked door
                assert other["status"] == "booked", other
                assert other["door"]["locked"] is True
                assert other["name"].startswith("Ruimte")
                assert "present" not in json.dumps(other)

            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{room_a.url}/facilities#token={room_a.tokens['facilities']}")
            cards = page.locator("[data-testid=room-card]")
            await expect(page.locator("[data-testid=room-card]")).to_have_count(2, timeout=10_000)  # CSP: no eval
            assert await cards.count() == 2
            card_b = page.locator("[data-testid=room-card][data-room=b]")
            assert await card_b.get_attribute("data-status") == "booked"

            # a member taps in at room B: its session starts, and A's page shows it without reloading
            async with httpx.AsyncClient(base_url=room_b.url) as client:
                tap = await client.post("/api/v1/door/taps", json={"uid": "04A1B2C3D4E501"}, headers=room_b.headers("reader"))
            assert tap.json()["granted"] is True
            await page.wait_for_selector("[data-testid=room-card][data-room=b][data-status=occupied]", timeout=10_000)
            assert await card_b.locator("[data-testid=room-phase]").inner_text() != "idle"
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "facilities-two-rooms.png"), full_page=True)

        # room B stopped: it said offline, and A shows it as stale, never as free
        await page.wait_for_selector("[data-testid=room-card][data-room=b][data-status=stale]", timeout=10_000)
        rooms = await rooms_of(room_a.url, room_a.tokens["facilities"])
        assert rooms["b"]["status"] == "stale"
        assert rooms["b"]["availability"] == "offline"
        await page.screenshot(path=str(ARTIFACTS / "facilities-room-stale.png"), full_page=True)


def state_message(room_id: str, updated: datetime, **parts: Any) -> bytes:
    return json.dumps({"room": {"site": "hq", "id": room_id, "name": room_id}, "updated_at": updated.isoformat(), **parts}).encode()


async def test_stale_rooms_and_retained_junk(
    make_settings: Callable[..., Settings], tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="roomctl.facilities.site")
    client = publisher(broker)
    clock = ManualClock(INSTANTS["midday"])  # a room goes stale when the test moves the clock, never under load
    now = clock.now()
    try:
        # retained before the room starts: junk of every kind, a room that went quiet long ago, a fresh free room
        for topic, payload in (
            ("roomctl/hq/junk1/state", b"\xff\xfe not json"),
            ("roomctl/hq/junk2/state", b"[1, 2, 3]"),
            ("roomctl/hq/junk3/state", json.dumps({"door": "open"}).encode()),
            ("roomctl/hq/junk4/availability", b"maybe"),
            ("roomctl/hq/old/state", state_message("old", now - timedelta(hours=3), phase={"name": "idle"})),
            ("roomctl/hq/old/availability", b"online"),
            ("roomctl/hq/fresh/state", state_message("fresh", now, phase={"name": "idle"}, occupancy={"booked": False})),
            ("roomctl/hq/fresh/availability", b"online"),
        ):
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(2)
        settings = room_settings(make_settings, tmp_path, broker, "a", facilities={"stale_after_seconds": 1.5, "heartbeat_seconds": 0.5})
        async with serving(settings, clock=clock) as live:
            token = live.tokens["facilities"]
            seen: dict[str, Any] = {}

            async def poll() -> bool:
                seen.clear()
                seen.update(await rooms_of(live.url, token))
                return {"old", "fresh"} <= set(seen)

            for _ in range(100):
                if await poll():
                    break
                await asyncio.sleep(0.05)
            assert seen["old"]["status"] == "stale", "a room whose state is hours old is stale, not free"
            assert "no state for" in seen["old"]["status_reason"]
            assert seen["fresh"]["status"] == "free"
            assert not any(name.startswith("junk") for name in seen), "junk made no room appear"
            junk_lines = [r.getMessage() for r in caplog.records if "junk" in r.getMessage()]
            assert len(junk_lines) >= 4, junk_lines

            # junk after a good state keeps the last good state
            client.publish("roomctl/hq/fresh/state", b"{broken", qos=1, retain=True).wait_for_publish(2)
            await wait_for(lambda: live.room.service(FacilitiesService).site.rooms["fresh"].junk >= 1)
            assert (await rooms_of(live.url, token))["fresh"]["status"] == "free"

            # the fresh room stops publishing: just before stale_after it is free, after it stale
            clock.advance(1.4)
            assert (await rooms_of(live.url, token))["fresh"]["status"] == "free"
            clock.advance(0.2)
            assert (await rooms_of(live.url, token))["fresh"]["status"] == "stale"
            site = live.room.service(FacilitiesService).site.snapshot()
            assert site["counts"].get("stale", 0) >= 2
    finally:
        client.loop_stop()
        client.disconnect()


async def test_websocket_pushes_overview_to_staff_only(make_settings: Callable[..., Settings], tmp_path: Path, broker: Broker) -> None:
    import websockets

    settings = room_settings(make_settings, tmp_path, broker, "a")
    async with serving(settings) as live:
        ws_url = live.url.replace("http://", "ws://") + "/api/v1/facilities/ws"
        for role in ("kiosk", "facilitator", "member"):
            # refused before the handshake completes: uvicorn answers the upgrade with 403
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets.connect(f"{ws_url}?token={live.tokens[role]}") as ws:
                    await ws.recv()
            assert refused.value.response.status_code == 403
        async with websockets.connect(f"{ws_url}?token={live.tokens['facilities']}") as ws:
            first = json.loads(await ws.recv())
            assert first["rooms"][0]["id"] == "a" and first["rooms"][0]["local"] is True
            version = first["version"]
            client = publisher(broker)
            try:
                client.publish("roomctl/hq/z9/state", state_message("z9", live.room.clock.now(), phase={"name": "brainstorm"}), qos=1)
                client.publish("roomctl/hq/z9/availability", b"online", qos=1)
                while True:
                    update = json.loads(await ws.recv())
                    rooms = {r["id"]: r for r in update["rooms"]}
                    if "z9" in rooms and rooms["z9"]["availability"] == "online":
                        break
                assert update["version"] > version
                assert rooms["z9"]["status"] == "occupied" and rooms["z9"]["phase"] == "brainstorm"
            finally:
                client.loop_stop()
                client.disconnect()


async def test_use_plots_and_printable_learning_time_report(make_settings: Callable[..., Settings], browser: Any) -> None:
    from roomctl.api.tokens import create_token
    from tests.facilities_helpers import seed_week

    async with serving(make_settings(server={"port": free_port()}), seed=False) as live:
        now = live.room.clock.now()
        week = seed_week(live.room.db, now)
        anna = create_token(live.room.db, "member", label="anna", now=now, member_id=week.members[0])[1]
        eva = create_token(live.room.db, "facilitator", label="eva", now=now, member_id=week.members[2])[1]
        ARTIFACTS.mkdir(exist_ok=True)

        page = await browser.new_page(viewport={"width": 1400, "height": 1100})
        await page.goto(f"{live.url}/facilities#token={live.tokens['facilities']}")
        await page.fill("#start", "2026-03-02")
        await page.fill("#end", "2026-03-08")
        await page.click("#show")
        await page.wait_for_selector("[data-testid=fig-used] b:text-is('3.5')", timeout=10_000)
        assert await page.locator("[data-testid=heatmap] rect").count() == 7 * 24
        assert await page.locator("[data-testid=weekday-bars] rect").count() == 14
        assert "1 (33 %)" in await page.locator("[data-testid=fig-noshow]").inner_text()
        await page.screenshot(path=str(ARTIFACTS / "facilities-use.png"), full_page=True)
        await page.fill("#start", "2026-03-09")
        await page.fill("#end", "2026-03-01")
        await page.click("#show")
        await page.wait_for_selector("[data-testid=use-error]:has-text('after its start')")

        report = await browser.new_page(viewport={"width": 1000, "height": 1200})
        await report.goto(f"{live.url}/static/report.html#token={anna}")
        await report.fill("#start", "2026-03-01")
        await report.fill("#end", "2026-03-31")
        await report.click("#show")
        headline = report.locator("[data-testid=headline]")
        await report.wait_for_selector("[data-testid=headline]:has-text('2:20')", timeout=10_000)
        assert "5:00" in await headline.inner_text()  # 140 minutes used of 300 offered
        assert await report.locator("[data-testid=who]").inner_text() == "Anna"
        assert "Minder wachttijd aan de balie" in await report.locator("[data-testid=proposals]").inner_text()
        await report.screenshot(path=str(ARTIFACTS / "learning-time-member.png"), full_page=True)
        await report.pdf(path=str(ARTIFACTS / "learning-time-member.pdf"))

        facilitator = await browser.new_page(viewport={"width": 1000, "height": 1200})
        await facilitator.goto(f"{live.url}/static/report.html#token={eva}")
        await expect(facilitator.locator("#subject option")).to_have_count(3)
        await facilitator.select_option("#subject", f"groups/{week.group}")
        await facilitator.fill("#start", "2026-03-01")
        await facilitator.fill("#end", "2026-03-31")
        await facilitator.click("#show")
        await facilitator.wait_for_selector("[data-testid=who]:has-text('Team Balie')", timeout=10_000)
        sheet = await facilitator.locator("[data-testid=sheet]").inner_text()
        assert "Anna" in sheet and "Bram" in sheet and "3:35" in sheet  # 215 member-minutes
        await facilitator.screenshot(path=str(ARTIFACTS / "learning-time-group.png"), full_page=True)

        refused = await browser.new_page()
        await refused.goto(f"{live.url}/static/report.html#token={live.tokens['facilities']}")
        await refused.wait_for_selector("[data-testid=error]:not(:empty)")
        assert "may not" in await refused.locator("[data-testid=error]").inner_text()
