"""/admin's content sections in Chromium: install a videoframe from a .zip, see it listed, edit a kader question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveRoom
from tests.media_helpers import base_manifest, write_package, zip_folder

UI_TIMEOUT_MS = 20_000


async def test_admin_installs_a_videoframe_and_edits_a_question(live_room: LiveRoom, browser: Any, tmp_path: Path) -> None:
    package = zip_folder(write_package(tmp_path / "pkg"), tmp_path / "testframe.zip")
    broken = zip_folder(write_package(tmp_path / "bad", base_manifest(steps=[])), tmp_path / "broken.zip")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{live_room.url}/admin#token={live_room.tokens['admin']}")
    frames = page.locator("[data-testid=videoframes]")
    await frames.filter(has_text="Werksituatie verbeteren").wait_for(timeout=UI_TIMEOUT_MS)

    await page.locator("[data-testid=videoframe-file]").set_input_files(str(broken))
    await page.locator("[data-testid=videoframes] button.primary").click()
    error = page.locator("[data-testid=videoframe-error]")
    await error.filter(has_text="manifest.json").wait_for(timeout=UI_TIMEOUT_MS)

    await page.locator("[data-testid=videoframe-file]").set_input_files(str(package))
    await page.locator("[data-testid=videoframes] button.primary").click()
    await frames.filter(has_text="testframe").wait_for(timeout=UI_TIMEOUT_MS)

    form = page.locator("[data-testid=kader-q3]")
    await form.locator("textarea").first.fill("Wat willen jullie bereiken?")
    await form.locator("button").click()
    await form.locator("[role=status]", has_text="Opgeslagen").wait_for(timeout=UI_TIMEOUT_MS)
    async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("admin")) as client:
        question = (await client.get("/api/v1/kader/q3")).json()
        frames_now = [f["id"] for f in (await client.get("/api/v1/videoframes")).json()]
    assert question["nl"] == "Wat willen jullie bereiken?"
    assert frames_now == ["testframe", "werksituatie-verbeteren"]
    await page.close()
