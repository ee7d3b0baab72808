"""Shared fixtures: a real Mosquitto per test, room settings in a temp dir, a running room with its app."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from roomctl.config import Settings, load_settings
from roomctl.core.clock import Clock, RunningClock
from roomctl.core.room import Room
from roomctl.devices.broker import Broker
from tests.clock_helpers import DEFAULT_INSTANT, INSTANTS

os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, stopped by PID after the test."""
    with Broker(workdir=tmp_path / "mosquitto") as running:
        yield running


@pytest.fixture(autouse=True)
def mock_pins() -> Iterator[MockFactory]:
    """gpiozero's own MockFactory (with PWM for the RGB LED), fresh for every test."""
    factory = MockFactory(pin_class=MockPWMPin)
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = None


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with data in the test's temp dir; keyword sections override (``mqtt={"port": 1}``)."""

    def make(**sections: dict[str, Any]) -> Settings:
        overrides: dict[str, dict[str, Any]] = {
            "storage": {"data_dir": tmp_path / "data"},
            "mqtt": {"enabled": False},
        }
        for name, values in sections.items():
            overrides.setdefault(name, {}).update(values)
        return load_settings(None, overrides)

    return make


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> RunningClock:
    """The room's clock: running from a fixed instant (``midday`` unless parametrised, see clock_helpers)."""
    return RunningClock(INSTANTS[getattr(request, "param", DEFAULT_INSTANT)])


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings (MQTT off)."""
    return make_settings()


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` on the loop until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def utc(*args: int) -> datetime:
    """A UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class LiveRoom:
    """A room served by real uvicorn on a free port, seeded like the demo, with a token per role."""

    url: str
    room: Room
    settings: Settings
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        """Authorization header for ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def role_tokens(room: Room) -> dict[str, str]:
    """One fresh token for every role."""
    from roomctl.api.roles import Role
    from roomctl.api.tokens import create_token

    now = room.clock.now()
    return {role.value: create_token(room.db, role.value, label="test", now=now)[1] for role in Role}


@asynccontextmanager
async def serving(
    settings: Settings, *, seed: bool = True, clock: Clock | None = None, prepare: bool = False
) -> AsyncIterator[LiveRoom]:
    """Serve a room with real uvicorn in this loop until the block ends (on ``clock``, default: midday).

    ``prepare`` builds the routes before serving, as ``roomctl serve`` does; off here, since the suite starts
    many rooms and each would spend about 0.15 s on it.
    """
    from roomctl.demo import seed as seed_demo
    from roomctl.runtime import build_room
    from roomctl.server import serve

    room = build_room(settings, clock or RunningClock(INSTANTS[DEFAULT_INSTANT]))
    if seed:
        seed_demo(room)
    tokens = role_tokens(room)
    ready = asyncio.Event()
    shutdown = asyncio.Event()
    task = asyncio.create_task(
        serve(settings, room=room, on_ready=lambda _: ready.set(), shutdown=shutdown, prepare=prepare)
    )
    done, _ = await asyncio.wait({task, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    try:
        yield LiveRoom(settings.public_url, room, settings, tokens)
    finally:
        shutdown.set()
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def live_room(make_settings: Callable[..., Settings]) -> AsyncIterator[LiveRoom]:
    """The room, seeded like the demo (four members, a booking around now), served on a free port."""
    from roomctl.devices.broker import free_port

    async with serving(make_settings(server={"port": free_port()})) as live:
        yield live


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless system Chromium through Playwright (no downloaded browser)."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make setup does)")
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()
