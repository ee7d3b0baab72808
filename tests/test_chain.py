"""One badge tap, the whole chain, with MQTT on: door, booking, session, devices, projector.

A real Mosquitto, the example room's devices simulated on it (Zigbee2MQTT, Tasmota, Shelly, ESPHome), the
whole room served on a free port, the kiosk and the tablet in headless Chromium. One tap at the door must open
the door, check the booking in, start the session in its arrival phase, have every simulated device confirm
the arrival scene, and put the arrival screen on the projector.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from roomctl.booking.repository import BookingRepository
from roomctl.config import Settings
from roomctl.demo import DEMO_MEMBERS
from roomctl.devices.broker import Broker, free_port
from roomctl.devices.service import DevicesService
from roomctl.devices.simulator import DeviceSimulator
from tests.conftest import serving, wait_for
from tests.devices_helpers import with_devices
from tests.screen_helpers import KIOSK, TABLET_LANDSCAPE, UI_TIMEOUT_MS, shot

ARRIVAL_TARGETS: dict[str, dict[str, bool | int]] = {
    "ceiling": {"on": True, "brightness": 100},
    "corner_light": {"on": True},
    "blinds": {"position": 100},
    "projector": {"on": True},
}
"""The example room's arrival scene (example_devices.toml), as the simulated devices must end up."""


async def test_one_tap_opens_the_door_checks_in_starts_arrival_sets_the_scene_and_shows_it(
    broker: Broker, make_settings: Callable[..., Settings], browser: Any
) -> None:
    settings = with_devices(make_settings(server={"port": free_port()}, mqtt={"enabled": True, "port": broker.port}))
    simulator = DeviceSimulator(settings, sensor_interval=3600)
    await simulator.start()
    try:
        async with serving(settings) as live:
            registry = live.room.service(DevicesService).registry
            await wait_for(lambda: all(d.availability in ("online", "assumed") for d in registry.devices.values()),
                           timeout=10)  # fmt: skip
            kiosk = await browser.new_page(viewport=KIOSK)
            await kiosk.goto(f"{live.url}/kiosk#token={live.tokens['kiosk']}")
            await kiosk.wait_for_selector("[data-testid=tap-hint]", timeout=UI_TIMEOUT_MS)
            tablet = await browser.new_page(viewport=TABLET_LANDSCAPE)
            await tablet.goto(f"{live.url}/tablet#token={live.tokens['facilitator']}")
            await tablet.wait_for_selector("[data-testid=no-session]", timeout=UI_TIMEOUT_MS)
            repo = BookingRepository(live.room.db)
            booking = live.room.screen.get("booking")["current"]
            assert repo.booking(booking["id"]).status == "booked"

            async with httpx.AsyncClient(base_url=live.url) as client:
                tap = await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live.headers("reader"))
                assert tap.json()["granted"] is True
                door = (await client.get("/api/v1/door", headers=live.headers("admin"))).json()
            assert door["locked"] is False, "the door did not unlock"
            assert repo.booking(booking["id"]).status == "checked_in"
            session = live.room.screen.get("session")
            assert session["phase"] == "arrival"
            rows = list(live.room.db.query("select booking_id from sessions where id = ?", [session["id"]]))
            assert rows[0]["booking_id"] == booking["id"], "the session is not the booking's"

            def scene() -> dict[str, Any]:
                return live.room.screen.get("devices")["scene"] or {}

            await wait_for(lambda: scene().get("name") == "arrival" and scene().get("status") == "complete", timeout=10)
            for device_id, target in ARRIVAL_TARGETS.items():
                state = simulator.device(device_id).state
                assert {k: state.get(k) for k in target} == target, f"{device_id} is {state}"
                assert {k: registry.get(device_id).state.get(k) for k in target} == target

            await kiosk.locator("[data-testid=step-title]", has_text="Aankomst").wait_for(timeout=UI_TIMEOUT_MS)
            await kiosk.locator("[data-testid=present]", has_text=DEMO_MEMBERS[0][0]).wait_for(timeout=UI_TIMEOUT_MS)
            confirmed = tablet.locator("[data-testid=room-scene][data-scene=arrival][data-status=complete]")
            await confirmed.wait_for(timeout=UI_TIMEOUT_MS)
            assert "Aankomst" in await confirmed.inner_text()
            await shot(kiosk, "kiosk-1920-chain-arrival")
            await shot(tablet, "tablet-1280x800-chain-arrival")
            await kiosk.close()
            await tablet.close()
    finally:
        await simulator.stop()
