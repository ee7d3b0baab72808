"""/admin in Chromium: a weekly series previews its conflicts before saving, then books the free occurrences."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import httpx

from tests.conftest import ARTIFACTS, LiveRoom

UI_TIMEOUT_MS = 20_000
DASH = "\u2013"
"""The en dash the page puts between two times."""
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_series_form_shows_conflicts_before_saving(live_room: LiveRoom, browser: Any) -> None:
    tz = live_room.settings.room.tz
    tomorrow = live_room.room.clock.now().astimezone(tz).date() + timedelta(days=1)
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("admin")) as client:
        ids = [(await client.post("/api/v1/members", json={"name": n})).json()["id"] for n in ("Femke Mol", "Gijs Kok")]
        other = (await client.post("/api/v1/groups", json={"name": "Team Zorg", "member_ids": ids})).json()
        start = datetime.combine(tomorrow, time(10, 30), tz)
        blocker = await client.post("/api/v1/bookings", json={"group_id": other["id"], "start": start.isoformat(),
                                                              "end": (start + timedelta(minutes=30)).isoformat()})
        assert blocker.status_code == 201, blocker.text

    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    await page.goto(f"{live_room.url}/admin#token={live_room.tokens['admin']}")
    form = page.locator("[data-testid=series-form]")
    await form.wait_for(timeout=UI_TIMEOUT_MS)
    assert await page.locator("[data-testid=members]").inner_text() != ""
    await form.locator("select[name=group]").select_option(label="Team Klantcontact")
    key = WEEKDAY_KEYS[tomorrow.weekday()]
    await form.locator(f"input[name=day-{key}]").check()
    await form.locator(f"input[name=time-{key}]").fill("10:00")
    await form.locator("input[name=first_date]").fill(tomorrow.isoformat())
    await form.locator("input[name=weeks]").fill("3")

    await form.locator("[data-testid=series-preview-button]").click()
    conflicts = form.locator("[data-testid=series-conflicts] li")
    await conflicts.first.wait_for(timeout=UI_TIMEOUT_MS)
    assert await conflicts.count() == 1
    assert "Team Zorg" in await conflicts.first.inner_text()
    assert f"10:30{DASH}11:00" in await conflicts.first.inner_text(), "times are shown in the room's time zone"
    assert "2 vrij" in await form.locator("[data-testid=series-preview]").inner_text()
    assert live_room.room.db.execute("select count(*) from series").fetchone()[0] == 0, "a preview books nothing"
    ARTIFACTS.mkdir(exist_ok=True)
    await form.screenshot(path=str(ARTIFACTS / "admin-series-conflicts.png"))
    await page.screenshot(path=str(ARTIFACTS / "admin-page.png"), full_page=True)

    await form.locator("[data-testid=series-save]").click()  # all or nothing: refused, the conflict named
    await form.locator("[role=alert]", has_text="not free").wait_for(timeout=UI_TIMEOUT_MS)
    assert live_room.room.db.execute("select count(*) from series").fetchone()[0] == 0

    await form.locator("input[name=allow_partial]").check()
    await form.locator("[data-testid=series-save]").click()
    await form.locator("[data-testid=series-preview]", has_text="2 geboekt").wait_for(timeout=UI_TIMEOUT_MS)
    rows = live_room.room.db.execute("select count(*) from bookings where series_id is not null and status = 'booked'").fetchone()[0]
    assert rows == 2

    # a single booking typed on the room's wall clock lands at that local time, whatever the browser's zone
    bookings = page.locator("[data-testid=bookings]")
    await bookings.locator("select").select_option(label="Team Zorg")
    await bookings.locator("input[type=datetime-local]").nth(0).fill(f"{tomorrow.isoformat()}T14:00")
    await bookings.locator("input[type=datetime-local]").nth(1).fill(f"{tomorrow.isoformat()}T15:15")
    await bookings.locator("button.primary").click()
    await page.locator("[data-testid=bookings] td", has_text=f"14:00{DASH}15:15").wait_for(timeout=UI_TIMEOUT_MS)
    start_utc = live_room.room.db.execute("select start_utc from bookings where kind = 'single' order by id desc").fetchone()[0]
    assert datetime.fromisoformat(start_utc) == datetime.combine(tomorrow, time(14), tz)

    # enrol by tap: the page waits, the badge is tapped at the door, the page says it is enrolled
    member = page.locator(f"[data-testid=member-{ids[0]}]")
    await member.locator("button", has_text="Pas aanbieden").click()
    await page.locator("[data-testid=enrol-status]", has_text="Femke Mol").wait_for(timeout=UI_TIMEOUT_MS)
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("reader")) as client:
        tapped = (await client.post("/api/v1/door/taps", json={"uid": "04C0FFEE00C0DE"})).json()
    assert tapped["reason"] == "enrolment"
    await page.locator("[data-testid=enrol-status]", has_text="Pas gekoppeld: 04C0FFEE00C0DE").wait_for(timeout=UI_TIMEOUT_MS)
    await member.filter(has_text="04C0FFEE00C0DE").wait_for(timeout=UI_TIMEOUT_MS)

    await page.select_option("#lang", "en")
    await page.locator("h2", has_text="Weekly series").wait_for(timeout=UI_TIMEOUT_MS)
    await page.close()
