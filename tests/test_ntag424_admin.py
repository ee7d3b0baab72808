"""Admin: provision a secure badge by tap at the door's PN532, and see who still carries a plain badge (HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from roomctl.access.secure.keys import ADMIN_KEY, BadgeKeys
from roomctl.access.service import AccessService
from tests.access_helpers import MEMBER_UID, OTHER_MEMBER_UID, audit_rows, relay_activations, room_sections
from tests.conftest import LiveRoom, serving
from tests.fake_ntag424 import FakeNtag424, PlainTag
from tests.fake_pn532 import FakePN532
from tests.ntag424_helpers import TEST_MASTER_KEY, patch_serial

NEW_UID = "04C0FFEE000001"
UI_TIMEOUT_MS = 20_000


@pytest.fixture
def chip(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePN532]:
    fake = FakePN532()
    patch_serial(monkeypatch, fake)
    yield fake
    assert fake.failures == [], "the driver sent frames the fake PN532 does not implement"


@asynccontextmanager
async def pn532_server(make_settings: Callable[..., Any], **reader: Any) -> AsyncIterator[tuple[LiveRoom, httpx.AsyncClient]]:
    from roomctl.devices.broker import free_port

    sections = room_sections(reader={"kind": "pn532_uart", "name": "voordeur", **reader})
    async with serving(make_settings(server={"port": free_port()}, **sections)) as live:
        live.room.service(AccessService).reader.poll_seconds = 0.05
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers("admin")) as client:
            yield live, client


async def member_id(client: httpx.AsyncClient, uid: str) -> int:
    members = (await client.get("/api/v1/members")).json()
    return next(m["id"] for m in members if uid in m["badges"])


async def outcome_of(client: httpx.AsyncClient, attempts: int = 100) -> dict[str, Any]:
    """Poll the provisioning status until it has an outcome."""
    for _ in range(attempts):
        state = (await client.get("/api/v1/door/provisioning")).json()
        if state["outcome"]:
            return state["outcome"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no provisioning outcome: {state}")


async def provision_by_tap(client: httpx.AsyncClient, chip: FakePN532, member: int, card: Any) -> dict[str, Any]:
    """Arm provisioning for ``member``, lay ``card`` on the reader; the outcome."""
    armed = await client.post(f"/api/v1/members/{member}/badges/provision-by-tap", json={})
    assert armed.status_code == 202 and armed.json()["armed"] is True, armed.text
    chip.place(card)
    try:
        return await outcome_of(client)
    finally:
        chip.remove()


async def test_provision_by_tap_enrols_a_secure_badge_and_the_door_stays_shut(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", TEST_MASTER_KEY)
    async with pn532_server(make_settings) as (live, client):
        member = await member_id(client, MEMBER_UID)
        before = (await client.get("/api/v1/door/badges")).json()
        assert before["master_key"] == "ready" and before["require_secure_badges"] is False
        assert before["secure"] == [] and member in [m["member_id"] for m in before["plain_members"]]
        card = FakeNtag424(bytes.fromhex(NEW_UID))
        outcome = await provision_by_tap(client, chip, member, card)
        assert outcome["status"] == "enrolled" and outcome["uid"] == NEW_UID, outcome
        assert card.keys[ADMIN_KEY] == BadgeKeys(bytes.fromhex(TEST_MASTER_KEY)).key(card.uid, ADMIN_KEY)
        members = (await client.get("/api/v1/members")).json()
        assert NEW_UID in next(m for m in members if m["id"] == member)["badges"]
        after = (await client.get("/api/v1/door/badges")).json()
        assert after["secure"] == [NEW_UID]
        plain = next(m for m in after["plain_members"] if m["member_id"] == member)
        assert (plain["plain_badges"], plain["secure_badges"]) == (1, 1)  # the old plain badge is still enrolled
        assert relay_activations(live.room) == 0
        badge_rows = audit_rows(live.room, "badge")
        assert [(r["decision"], r["reason"], r["credential"]) for r in badge_rows] == [("provisioned", "provisioned", "secure")]
        assert (await client.get("/api/v1/door/provisioning")).json()["armed"] is False


async def test_provision_by_tap_refuses_someone_elses_badge_and_plain_cards(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", TEST_MASTER_KEY)
    async with pn532_server(make_settings) as (live, client):
        member = await member_id(client, MEMBER_UID)
        other_card = FakeNtag424(bytes.fromhex(OTHER_MEMBER_UID))  # enrolled (plain) to another member
        outcome = await provision_by_tap(client, chip, member, other_card)
        assert outcome["status"] == "refused" and "enrolled to member" in outcome["detail"]
        assert other_card.keys == [bytes(16)] * 5  # nothing on the card changed
        outcome = await provision_by_tap(client, chip, member, PlainTag(bytes.fromhex(NEW_UID)))
        assert outcome["status"] == "refused" and "not an NTAG 424 DNA" in outcome["detail"]
        assert (await client.get("/api/v1/door/badges")).json()["secure"] == []
        assert relay_activations(live.room) == 0


async def test_provision_by_tap_needs_a_master_key_and_a_pn532(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOMCTL_BADGE_MASTER_KEY", raising=False)
    async with pn532_server(make_settings) as (live, client):
        member = await member_id(client, MEMBER_UID)
        refused = await client.post(f"/api/v1/members/{member}/badges/provision-by-tap", json={})
        assert refused.status_code == 409
        assert "ROOMCTL_BADGE_MASTER_KEY" in refused.json()["detail"]
        assert (await client.get("/api/v1/door/badges")).json()["master_key"].startswith("no badge master key")
        missing = await client.post("/api/v1/members/9999/badges/provision-by-tap", json={})
        assert missing.status_code == 404
        # a reader token may not arm provisioning
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers("reader")) as reader:
            assert (await reader.post(f"/api/v1/members/{member}/badges/provision-by-tap", json={})).status_code == 403


async def test_the_admin_page_lists_plain_badges_and_provisions_by_tap(
    make_settings: Callable[..., Any], chip: FakePN532, monkeypatch: pytest.MonkeyPatch, browser: Any
) -> None:
    from tests.conftest import ARTIFACTS

    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", TEST_MASTER_KEY)
    async with pn532_server(make_settings) as (live, client):
        member = await member_id(client, MEMBER_UID)
        page = await browser.new_page(viewport={"width": 1280, "height": 1400})
        await page.goto(f"{live.url}/admin#token={live.tokens['admin']}")
        section = page.locator("[data-testid=secure-badges]")
        await section.wait_for(timeout=UI_TIMEOUT_MS)
        assert "Gemengd" in await section.locator("[data-testid=badge-policy]").inner_text()
        anna = section.locator(f"[data-testid=plain-{member}]")
        assert "gewoon 1, beveiligd 0" in await anna.inner_text()
        await section.locator("select[name=provision-member]").select_option(value=str(member))
        await section.locator("[data-testid=provision-button]").click()
        status = section.locator("[data-testid=provision-status]")
        await expect(status).to_contain_text("Leg de nieuwe pas", timeout=UI_TIMEOUT_MS)  # the page's CSP allows no eval
        chip.place(FakeNtag424(bytes.fromhex(NEW_UID)))
        await expect(status).to_contain_text("Beveiligde pas gekoppeld", timeout=UI_TIMEOUT_MS)
        chip.remove()
        assert NEW_UID in await status.inner_text()
        await expect(section.locator(f"[data-testid=plain-{member}]")).to_contain_text("beveiligd 1", timeout=UI_TIMEOUT_MS)
        assert f"{NEW_UID} beveiligd" in await section.locator("select[name=provision-member]").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        await section.screenshot(path=str(ARTIFACTS / "admin-secure-badges.png"))
        await page.close()
