"""The projector page reconnects by itself when roomctl restarts (no one touches the kiosk)."""

from __future__ import annotations

from typing import Any

import httpx

from roomctl.config import Settings
from roomctl.demo import DEMO_MEMBERS
from roomctl.devices.broker import free_port
from tests.conftest import serving

RECONNECT_TIMEOUT_MS = 30_000


async def test_kiosk_page_follows_the_room_across_a_restart(make_settings: Any, browser: Any) -> None:
    settings: Settings = make_settings(server={"port": free_port()})
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    async with serving(settings) as live:
        token = live.tokens["kiosk"]
        await page.goto(f"{live.url}/kiosk#token={token}")
        await page.wait_for_selector("[data-testid=tap-hint]")
    # roomctl is down: the page says so and keeps trying
    await page.wait_for_selector("#link:not([hidden])", timeout=RECONNECT_TIMEOUT_MS)
    async with serving(settings, seed=False) as again:
        async with httpx.AsyncClient(base_url=again.url) as client:
            response = await client.post(
                "/api/v1/door/taps", json={"uid": DEMO_MEMBERS[2][1]}, headers=again.headers("reader")
            )
        assert response.json()["granted"] is True
        title = page.locator("[data-testid=step-title]")
        await title.wait_for(timeout=RECONNECT_TIMEOUT_MS)
        assert await title.inner_text() == "Aankomst"
        assert await page.locator("#link").is_hidden()
        await page.close()
