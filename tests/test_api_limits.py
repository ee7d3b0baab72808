"""Limits before work: big, slow and unauthenticated bodies are refused before they are read (real uvicorn)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import fastapi.routing
import httpx
import pytest

from roomctl.api import app as app_module
from roomctl.api import limits
from roomctl.config import Settings
from roomctl.devices.broker import free_port
from tests.conftest import LiveRoom, serving

HUNDRED_MB = 100 * 1024 * 1024


async def raw_request(live: LiveRoom, head: str, body: bytes = b"", *, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """Send ``head`` (and ``body``) on a fresh connection; answer the status and the JSON body of the response."""
    url = urlsplit(live.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head.encode("latin-1") + b"\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), timeout)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        content = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), timeout)
        assert headers.get("content-type", "").startswith("application/problem+json") or int(status_line.split()[1]) < 300, (status_line, headers, content)
        return int(status_line.split()[1]), json.loads(content) if content else {}
    finally:
        writer.close()


def _head(method: str, path: str, length: int, token: str | None = None, kind: str = "application/json") -> str:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"{method} {path} HTTP/1.1\r\nHost: room\r\n{auth}Content-Type: {kind}\r\nContent-Length: {length}\r\n"


async def test_an_unauthenticated_body_is_refused_before_it_is_sent(live_room: LiveRoom) -> None:
    members_before = live_room.room.db.execute("select count(*) from members").fetchone()[0]
    for token in (None, "rct_unknown", "Bearer-garbage"):
        status, body = await raw_request(live_room, _head("POST", "/api/v1/members", HUNDRED_MB, token))
        assert status == 401 and body["status"] == 401, "answered without waiting for 100 MB"
    status, body = await raw_request(live_room, _head("POST", "/api/v1/videoframes", HUNDRED_MB, None, "application/zip"))
    assert status == 401
    assert live_room.room.db.execute("select count(*) from members").fetchone()[0] == members_before


async def test_a_body_over_the_limit_answers_413_before_it_is_read(live_room: LiveRoom) -> None:
    admin = live_room.tokens["admin"]
    status, body = await raw_request(live_room, _head("POST", "/api/v1/members", HUNDRED_MB, admin))
    assert status == 413 and body["type"].endswith("http-413"), body
    small = json.dumps({"name": "x" * 100}).encode()
    status, _ = await raw_request(live_room, _head("POST", "/api/v1/members", len(small), admin), small)
    assert status == 201, "a small body still works"
    status, body = await raw_request(live_room, _head("POST", "/api/v1/tablet/pair", limits.DEFAULT_BODY_BYTES + 1))
    assert status == 413, "public routes are capped as well"


async def test_a_slow_body_is_cut_off(live_room: LiveRoom, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "BODY_SECONDS", 0.3)
    admin = live_room.tokens["admin"]
    status, body = await raw_request(live_room, _head("POST", "/api/v1/members", 1000, admin), b'{"name": ')
    assert status == 408 and body["status"] == 408
    assert live_room.room.db.execute("select count(*) from members where name = ''").fetchone()[0] == 0


@pytest.mark.parametrize("prepare", [True, False])
async def test_a_served_app_builds_its_routes_before_the_first_request(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, prepare: bool
) -> None:
    """``roomctl serve`` builds the routes FastAPI would build lazily, and the body limits, before it is ready.

    Once the room is ready, building a route raises here: with ``prepare`` (what ``roomctl serve`` does) the first
    command, the first read of another capability and the first body all answer; without, the first request
    fails, which shows that the check sees the lazy build.
    """
    built: list[str] = []

    def no_late_build(*args: Any, **kwargs: Any) -> Any:
        built.append("a route")
        raise AssertionError("a route was built on a request")

    async with serving(make_settings(server={"port": free_port()}), prepare=prepare) as live:
        monkeypatch.setattr(fastapi.routing._EffectiveRouteContext, "from_api_route", no_late_build)
        monkeypatch.setattr(app_module, "walk_routes", no_late_build)
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers("admin"), timeout=10) as http:
            statuses = []
            for method, path, body in (("POST", "/api/v1/session/commands", {"command": "start"}),
                                       ("GET", "/api/v1/members", None), ("GET", "/api/v1/facilities/rooms", None),
                                       ("GET", "/api/v1/devices", None)):  # fmt: skip
                try:
                    statuses.append((await http.request(method, path, json=body)).status_code)
                except httpx.HTTPError:
                    statuses.append(0)
    if prepare:
        assert statuses == [200, 200, 200, 200] and not built
    else:
        assert built and statuses[0] != 200
