"""HTTPS on the LAN: `roomctl tls init` makes a room CA and a host certificate; with TLS on, plain HTTP only on loopback."""

from __future__ import annotations

import asyncio
import json
import ssl
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from click.testing import CliRunner

from roomctl.cli import cli
from roomctl.config import Settings
from roomctl.devices.broker import free_port
from roomctl.errors import ConflictError
from roomctl.ops.tls import init_tls
from roomctl.runtime import build_room
from roomctl.server import LOOPBACK_HOST, serve
from tests.conftest import role_tokens

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def test_tls_init_makes_a_ca_and_a_host_certificate(tmp_path: Path) -> None:
    config = tmp_path / "roomctl.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    made = CliRunner().invoke(cli, ["tls", "init", "-c", str(config), "--host", "room1.local", "--also", "127.0.0.1"])
    assert made.exit_code == 0, made.output
    folder = tmp_path / "data" / "tls"
    assert "tls_cert" in made.output and str(folder / "server.crt") in made.output
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    assert context.get_ca_certs()[0]["subject"][0][0][1].startswith("roomctl room CA")
    again = CliRunner().invoke(cli, ["tls", "init", "-c", str(config), "--host", "room1.local"])
    assert again.exit_code != 0 and "--replace" in again.output
    with pytest.raises(ConflictError):
        init_tls(folder, "room1.local", now=NOW, room_name="x")


async def test_with_tls_the_lan_gets_https_and_plain_http_answers_only_on_loopback(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # the handshake checks the certificate against the machine's own clock (OpenSSL), so it is made valid from now
    files = init_tls(tmp_path / "tls", "localhost", now=datetime.now(UTC), room_name="Test", also=["127.0.0.1"])
    port, plain_port = free_port(), free_port()
    settings = make_settings(server={"host": "127.0.0.1", "port": port, "tls_cert": str(files.cert),
                                     "tls_key": str(files.key), "loopback_http_port": plain_port})  # fmt: skip
    assert settings.public_url.startswith("https://")
    ready, shutdown = asyncio.Event(), asyncio.Event()
    room = build_room(settings)
    task = asyncio.create_task(serve(settings, room=room, on_ready=lambda _: ready.set(), shutdown=shutdown))
    await asyncio.wait_for(ready.wait(), 15)
    try:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(files.ca_cert))) as client:
            secure = await client.get(f"https://127.0.0.1:{port}/healthz")
            assert secure.status_code in (200, 503) and "components" in secure.json()
            local = await client.get(f"http://{LOOPBACK_HOST}:{plain_port}/healthz")
            assert local.status_code in (200, 503), "the kiosk on the Pi still reaches plain HTTP on loopback"
            with pytest.raises(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/healthz")  # plain HTTP on the TLS port: no answer
        async with httpx.AsyncClient() as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(f"https://127.0.0.1:{port}/healthz")  # a device without the room CA refuses
        kiosk = role_tokens(room)["kiosk"]
        trusting = ssl.create_default_context(cafile=str(files.ca_cert))
        for url, tls in ((f"wss://127.0.0.1:{port}/ws", trusting), (f"ws://{LOOPBACK_HOST}:{plain_port}/ws", None)):
            async with websockets.connect(f"{url}?token={kiosk}", ssl=tls) as ws:  # offers permessage-deflate
                assert "version" in json.loads(await ws.recv())
                assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers, (
                    f"{url}: the screen state is sent uncompressed on both servers, as WS_COMPRESSION says"
                )
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 15)


def test_half_a_tls_setting_is_refused(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    from roomctl.errors import ConfigError

    settings = make_settings(server={"port": free_port(), "tls_cert": str(tmp_path / "x.crt")})

    async def run() -> Any:
        await serve(settings)

    with pytest.raises(ConfigError, match="go together"):
        asyncio.run(run())
