"""The room's own device behaviour: espresso schedule, empty room, Home Assistant discovery, the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from roomctl.api.app import create_app
from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.core.clock import ManualClock
from roomctl.core.room import Room
from roomctl.devices.automation import ESPRESSO_REARM_SECONDS
from roomctl.devices.broker import Broker
from roomctl.devices.events import PresenceChanged
from tests.conftest import wait_for
from tests.devices_helpers import Watcher, sim_room

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 08:00 in Amsterdam


def book_the_day(room: Room) -> None:
    """Two real bookings in the room's database: 09:00-11:00 and 14:00-16:00 Amsterdam (08-10 and 13-15 UTC)."""
    repo = BookingRepository(room.db)
    members = [repo.add_member(name, now=START) for name in ("Anna", "Bram")]
    group = repo.add_group("Team", [m.id for m in members], now=START)
    for first, last in ((1, 3), (6, 8)):
        repo.add_booking(group.id, START + timedelta(hours=first), START + timedelta(hours=last), now=START)


async def test_espresso_follows_the_days_bookings(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    clock = ManualClock(START)
    async with sim_room(broker, make_settings, clock=clock) as sr:
        automation = sr.service.automation
        book_the_day(sr.room)
        assert automation.tick()["espresso"] is False
        clock.advance(31 * 60)  # 08:31, first booking at 09:00, lead 30 minutes
        assert automation.tick()["espresso"] is True
        await wait_for(lambda: sr.sim.device("espresso").state == {"on": True})
        await wait_for(lambda: sr.device("espresso")["state"] == {"on": True})
        sent = sr.sim.device("espresso").commands
        clock.advance(60)
        automation.tick()
        assert sr.sim.device("espresso").commands == sent  # not again within the re-arm interval
        clock.advance(ESPRESSO_REARM_SECONDS)
        automation.tick()  # re-arms Tasmota's PulseTime while on
        await wait_for(lambda: sr.sim.device("espresso").commands == sent + 1)
        clock.set(START + timedelta(hours=8, minutes=5))  # 16:05 local, 5 minutes after the last booking
        assert automation.tick()["espresso"] is True
        clock.set(START + timedelta(hours=8, minutes=11))
        assert automation.tick()["espresso"] is False
        await wait_for(lambda: sr.sim.device("espresso").state == {"on": False})


async def test_espresso_switched_off_by_hand_is_not_overruled(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    clock = ManualClock(START + timedelta(hours=1))
    async with sim_room(broker, make_settings, clock=clock) as sr:
        automation = sr.service.automation
        book_the_day(sr.room)
        automation.tick()
        await wait_for(lambda: sr.device("espresso")["state"] == {"on": True})
        sr.sim.publish_raw("stat/espresso/POWER", b"OFF")  # someone pressed the plug's button
        await wait_for(lambda: sr.device("espresso")["state"] == {"on": False})
        sent = sr.sim.device("espresso").commands
        clock.advance(ESPRESSO_REARM_SECONDS * 2)
        automation.tick()
        assert sr.sim.device("espresso").commands == sent


async def test_empty_room_is_switched_off_once(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    clock = ManualClock(START + timedelta(hours=3, minutes=30))  # 11:30 local: between the bookings
    async with sim_room(broker, make_settings, clock=clock) as sr:
        automation = sr.service.automation
        book_the_day(sr.room)
        await sr.service.apply_scene("arrival")
        sr.room.post(PresenceChanged(present=True))
        await wait_for(lambda: automation.last_presence is not None)
        clock.advance(10 * 60)
        assert automation.tick()["empty"] is False
        sr.sim.set_sensor("presence", True)  # the presence sensor sees someone: the timer starts again
        await wait_for(lambda: sr.device("presence")["state"] == {"value": True})
        assert automation.tick()["empty"] is False
        sr.sim.set_sensor("presence", False)
        await wait_for(lambda: sr.device("presence")["state"] == {"value": False})
        clock.advance(19 * 60)
        assert automation.tick()["empty"] is False
        clock.advance(2 * 60)
        assert automation.tick()["empty"] is True
        run = sr.service.engine.current
        assert run.name == "leave" and run.source == "empty-room"
        await wait_for(lambda: run.status == "complete")
        assert sr.sim.device("ceiling").state["on"] is False and sr.sim.device("projector").state == {"on": False}
        clock.advance(60)
        automation.tick()
        assert sr.service.engine.current is run  # once per empty spell


async def test_empty_room_waits_while_booked(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    clock = ManualClock(START + timedelta(hours=1, minutes=5))
    async with sim_room(broker, make_settings, clock=clock) as sr:
        automation = sr.service.automation
        book_the_day(sr.room)
        clock.advance(60 * 60)  # an hour into the booking, nobody seen
        assert automation.tick()["empty"] is False
        assert sr.service.engine.current is None


async def test_home_assistant_discovery_and_scene_select(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings) as sr:
        watcher = Watcher(broker, "homeassistant/#", client_id="ha")
        try:
            node = "roomctl_hq_room1"
            expected = {f"homeassistant/{c}/{node}/{o}/config" for c, o in [
                ("binary_sensor", "occupancy"), ("sensor", "phase"), ("binary_sensor", "door"),
                ("select", "scene"), ("binary_sensor", "alarms")]}
            await wait_for(lambda: expected <= watcher.topics())
            assert all(retained for t, _, retained in watcher.messages if t in expected)
            select = json.loads(watcher.on(f"homeassistant/select/{node}/scene/config")[-1])
            assert select["options"] == ["arrival", "brainstorm", "break", "clip", "focus", "leave", "meditation", "movement", "presentation"]
            assert select["availability_topic"] == "roomctl/hq/room1/availability"
            assert select["state_topic"] == "roomctl/hq/room1/state"
            watcher.client.publish(select["command_topic"], b"disco", qos=1)
            watcher.client.publish(select["command_topic"], b"\xff\xfe", qos=1)
            watcher.client.publish(select["command_topic"], b"brainstorm", qos=1)
            engine = sr.service.engine
            await wait_for(lambda: engine.current is not None and engine.current.status == "complete")
            assert sr.service.engine.current.name == "brainstorm"
            assert sr.service.engine.current.source == "home-assistant"
        finally:
            watcher.close()


async def test_devices_api(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings) as sr:
        app = create_app(sr.room, manage_room=False)
        now = sr.room.clock.now()
        tokens = {role: create_token(sr.room.db, role, label=role, now=now)[1]
                  for role in ("admin", "facilities", "facilitator", "reader", "kiosk")}

        def auth(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"}

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://room") as client:
            for role in ("admin", "facilities", "facilitator"):
                response = await client.get("/api/v1/devices", headers=auth(role))
                assert response.status_code == 200
            body = response.json()
            assert [d["id"] for d in body["devices"]][:3] == ["ceiling", "corner_light", "blinds"]
            assert "arrival" in body["scenes"]
            assert (await client.get("/api/v1/devices", headers=auth("reader"))).status_code == 403
            assert (await client.get("/api/v1/devices")).status_code == 401
            one = await client.get("/api/v1/devices/projector", headers=auth("facilities"))
            assert one.json()["kind"] == "projector" and one.json()["availability"] == "online"
            missing = await client.get("/api/v1/devices/toaster", headers=auth("admin"))
            assert missing.status_code == 404 and "toaster" in missing.json()["detail"]
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert (await client.post("/api/v1/scenes/arrival", headers=auth("facilities"))).status_code == 403
            unknown = await client.post("/api/v1/scenes/disco", headers=auth("facilitator"))
            assert unknown.status_code == 404 and "arrival" in unknown.json()["detail"]
            started = await client.post("/api/v1/scenes/clip", headers=auth("facilitator"))
            assert started.status_code == 202 and started.json()["name"] == "clip"
            await wait_for(lambda: sr.service.engine.current.status == "complete")
            state = (await client.get("/api/v1/devices/blinds", headers=auth("admin"))).json()["state"]
            assert state == {"position": 0}
