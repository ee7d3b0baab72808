"""The PIR on the GPIO reports presence to the room (for the empty-room switch-off), nothing else."""

from __future__ import annotations

import asyncio

from gpiozero.pins.mock import MockFactory

from roomctl.access.service import AccessService
from roomctl.config import Settings
from roomctl.core.clock import RunningClock
from roomctl.devices.events import PresenceChanged
from roomctl.runtime import build_room
from tests.conftest import wait_for


async def test_pir_motion_becomes_presence_events(settings: Settings, mock_pins: MockFactory, clock: RunningClock) -> None:
    room = build_room(settings, clock)
    seen: list[bool] = []
    room.on(PresenceChanged, lambda event: seen.append(event.present))
    await room.start()
    try:
        pin = mock_pins.pin(settings.gpio.pir)
        # gpiozero's sensor queue must fill once before it reports edges (0.1 s at the configured rate)
        await asyncio.to_thread(room.service(AccessService).presence.sensor.wait_for_no_motion, 2)
        pin.drive_high()
        await wait_for(lambda: seen == [True])
        pin.drive_low()
        await wait_for(lambda: seen == [True, False])
        assert room.service(AccessService).door.relay.pin.state == 0, "presence never opens the door"
    finally:
        await room.stop()
