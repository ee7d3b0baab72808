"""End to end: a member's tap during their booking opens the door and the real /kiosk shows the first step."""

from __future__ import annotations

from typing import Any

import httpx

from roomctl.access.service import AccessService
from roomctl.demo import DEMO_MEMBERS
from tests.conftest import ARTIFACTS, LiveRoom, wait_for

KIOSK_VIEWPORT = {"width": 1920, "height": 1080}


async def test_tap_opens_door_starts_session_and_kiosk_shows_first_step(live_room: LiveRoom, browser: Any) -> None:
    page = await browser.new_page(viewport=KIOSK_VIEWPORT)
    await page.goto(f"{live_room.url}/kiosk#token={live_room.tokens['kiosk']}")
    # idle: the room waits for a tap, and the hint is on screen
    await page.wait_for_selector("[data-testid=tap-hint]")
    assert await page.locator("#screen").get_attribute("data-view") == "idle"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "kiosk-idle.png"))

    door = live_room.room.service(AccessService).door
    relay_pin = door.relay.pin
    assert relay_pin.state == 0, "the door must start locked"

    async with httpx.AsyncClient(base_url=live_room.url) as client:
        response = await client.post(
            "/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live_room.headers("reader")
        )
    assert response.status_code == 200
    assert response.json()["granted"] is True
    assert relay_pin.state == 1, "a granted tap energises the strike relay"

    title = page.locator("[data-testid=step-title]")
    await title.wait_for(timeout=20_000)
    assert await title.inner_text() == "Aankomst"
    assert "1 van" in await page.locator("[data-testid=step-kind]").inner_text()
    present = await page.locator("[data-testid=present]").inner_text()
    assert DEMO_MEMBERS[0][0] in present
    await page.screenshot(path=str(ARTIFACTS / "kiosk-arrival.png"))

    # the booking is checked in and recorded before the relay moved
    rows = list(live_room.room.db.query("select decision, reason from audit where kind = 'tap'"))
    assert rows == [{"decision": "granted", "reason": "member"}]
    booking_status = live_room.room.db.execute("select status from bookings").fetchone()[0]
    assert booking_status == "checked_in"


async def test_unknown_badge_keeps_door_locked_and_kiosk_idle(live_room: LiveRoom, browser: Any) -> None:
    page = await browser.new_page(viewport=KIOSK_VIEWPORT)
    await page.goto(f"{live_room.url}/kiosk#token={live_room.tokens['kiosk']}")
    await page.wait_for_selector("[data-testid=tap-hint]")
    async with httpx.AsyncClient(base_url=live_room.url) as client:
        response = await client.post("/api/v1/door/taps", json={"uid": "04FFFFFFFFFFFF"}, headers=live_room.headers("reader"))
    answer = response.json()
    assert (answer["granted"], answer["reason"]) == (False, "unknown") and "member" not in answer, "no name to a reader"
    assert live_room.room.service(AccessService).door.relay.pin.state == 0
    await wait_for(lambda: live_room.room.screen.get("session") is None)
    assert await page.locator("#screen").get_attribute("data-view") == "idle"
