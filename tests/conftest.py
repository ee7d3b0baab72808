"""Shared fixtures: a real Mosquitto per test, room settings in a temp dir, a running room with its app."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from roomctl.config import Settings, load_settings
from roomctl.devices.broker import Broker

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
