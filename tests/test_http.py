"""The core's HTTP surface: /healthz, /metrics, /openapi.json, and the screen state over /ws."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import websockets

from roomctl.access.service import AccessService
from roomctl.demo import DEMO_MEMBERS
from roomctl.server import bind_socket
from tests.conftest import LiveRoom


async def test_openapi_documents_the_api(live_room: LiveRoom) -> None:
    async with httpx.AsyncClient(base_url=live_room.url) as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "roomctl"
    for path in ("/healthz", "/api/v1/door/taps", "/api/v1/session", "/api/v1/session/commands", "/api/v1/bookings"):
        assert path in schema["paths"], path


async def test_healthz_is_503_when_the_room_cannot_work(live_room: LiveRoom) -> None:
    async with httpx.AsyncClient(base_url=live_room.url) as client:
        healthy = await client.get("/healthz")
        assert healthy.status_code == 200
        assert healthy.json()["components"]["door"]["status"] == "ok"
        await live_room.room.service(AccessService).stop()  # the door hardware is gone
        broken = await client.get("/healthz")
    assert broken.status_code == 503
    body = broken.json()
    assert body["status"] == "down"
    assert body["components"]["door"]["status"] == "down"
    assert "[gpio]" in body["components"]["door"]["detail"]


async def test_metrics_count_what_the_core_handled(live_room: LiveRoom) -> None:
    async with httpx.AsyncClient(base_url=live_room.url) as client:
        await client.post("/api/v1/door/taps", json={"uid": "04BADBAD0000"}, headers=live_room.headers("reader"))
        text = (await client.get("/metrics")).text
    assert 'roomctl_events_total{event="Tap"} 1.0' in text
    assert "roomctl_event_seconds_bucket" in text


async def test_ws_pushes_every_change_of_the_screen_state(live_room: LiveRoom) -> None:
    url = live_room.url.replace("http", "ws") + f"/ws?token={live_room.tokens['kiosk']}"
    async with websockets.connect(url) as socket:
        first = json.loads(await socket.recv())
        assert first.get("session") is None
        async with httpx.AsyncClient(base_url=live_room.url) as client:
            await client.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[1][1]}, headers=live_room.headers("reader"))
        versions = [first["version"]]
        deadline = asyncio.get_running_loop().time() + 30
        state = first
        while state.get("session") is None:
            state = json.loads(await asyncio.wait_for(socket.recv(), deadline - asyncio.get_running_loop().time()))
            versions.append(state["version"])
        assert versions == sorted(versions)
        assert state["session"]["step"]["id"] == "arrival"
        assert state["door"]["locked"] is False


async def test_the_rooms_connections_send_at_once_without_nagle() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol says TCP; a listening socket made with protocol 0
    gave every connection Nagle's algorithm, and a WebSocket message behind an unacknowledged one waited for the
    client's delayed ACK: 40 ms late, about every tenth command in bench_ws."""
    sock = bind_socket("127.0.0.1", 0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(accepted, 5) == 1
        writer.close()
