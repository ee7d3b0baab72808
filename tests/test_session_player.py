"""The kiosk player against the real room: libvlc (dummy outputs) plays the step's clip, reports back, and the
end of a clip-led step's clip moves the session on; the tablet's pause reaches the player."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from kiosk.player import PlayerConfig, PlayerLoop
from roomctl.session.service import SessionService
from tests.conftest import LiveRoom, wait_for
from tests.session_helpers import MIXED_ID, install_mixed

CLIP_END_TIMEOUT_SECONDS = 30.0
WAIT_SECONDS = 20.0


async def test_player_follows_the_session_and_its_clip_end_moves_on(live_room: LiveRoom, tmp_path: Path) -> None:
    install_mixed(live_room.room, tmp_path)
    service = live_room.room.service(SessionService)
    loop_runner = PlayerLoop(PlayerConfig(url=live_room.url, token=live_room.tokens["kiosk"], dummy=True))
    task = asyncio.create_task(loop_runner.run())
    try:
        await asyncio.wait_for(loop_runner.connected.wait(), WAIT_SECONDS)
        async with httpx.AsyncClient(base_url=live_room.url, headers=live_room.headers("facilitator")) as client:
            started = await client.post("/api/v1/session/commands", json={"command": "start", "args": {"videoframe": MIXED_ID}})
            assert started.status_code == 200, started.text
            await client.post("/api/v1/session/commands", json={"command": "goto", "args": {"index": 3}})
            await wait_for(lambda: (service.current() or {}).get("clip_progress"), timeout=WAIT_SECONDS)
            assert service.current()["clip_progress"]["state"] == "playing"
            paused = await client.post("/api/v1/session/commands", json={"command": "pause_clip"})
            assert paused.json()["clip"]["state"] == "paused"
            await wait_for(lambda: loop_runner.player.status().state == "paused", timeout=WAIT_SECONDS)
            await wait_for(lambda: service.current()["clip_progress"]["state"] == "paused", timeout=WAIT_SECONDS)

            await client.post("/api/v1/session/commands", json={"command": "goto", "args": {"index": 1}})
        assert service.current()["step"]["id"] == "intro"
        await wait_for(lambda: service.current()["step"]["id"] == "pauze", timeout=CLIP_END_TIMEOUT_SECONDS)
        assert service.current()["clip"] is None
        await wait_for(lambda: loop_runner.player.clip is None, timeout=WAIT_SECONDS)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        service.pairing.rotate()  # a state change lets the server notice the closed WebSocket
