"""Running the service: the room core and uvicorn on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from roomctl.api.app import create_app, prepare_routes
from roomctl.config import Settings
from roomctl.core import heap
from roomctl.core.room import Room
from roomctl.errors import AdapterError, ConfigError
from roomctl.runtime import build_room

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 3
"""How long open requests and WebSockets get to finish when the service stops."""
LOOPBACK_HOST = "127.0.0.1"
"""With TLS on, plain HTTP answers only here (the kiosk's Chromium on the Pi itself)."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Signals that stop the service gracefully (Ctrl-C, systemd stop)."""
WS_COMPRESSION = False
"""No permessage-deflate on WebSockets: compressing each message again for each client cost ten times more
than sending it (bench_ws), and the room's clients are on its own network."""
WS_PING_INTERVAL_SECONDS = 20.0
"""How often uvicorn pings an open WebSocket (a client gone without closing is noticed)."""
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,  # roomctl's logging, not uvicorn's
    "access_log": False,
    "ws_ping_interval": WS_PING_INTERVAL_SECONDS,
    "ws_per_message_deflate": WS_COMPRESSION,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
}
"""What both servers take alike: the LAN's (HTTPS when TLS is on) and the plain one on loopback for the kiosk."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket, or a clear error when the port is taken.

    Raises:
        AdapterError: The address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say TCP, and
    # accepted connections inherit this. With Nagle on, a message sent behind one not yet acknowledged waited
    # for the client's delayed ACK, 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AdapterError(
                f"port {port} on {host} is already in use (another roomctl?); stop it or choose another port "
                "with [server] port or --port"
            ) from None
        raise AdapterError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: roomctl stops everything it started first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread; its owner stops this server
            return
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._request_exit, sig)
        try:
            yield
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _request_exit(self, sig: signal.Signals) -> None:
        log.info("received %s; stopping", sig.name)
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


class _QuietServer(uvicorn.Server):
    """A second server (plain HTTP on loopback) that leaves signals to the main one; it stops with it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: Settings,
    *,
    room: Room | None = None,
    on_ready: Callable[[Room], Awaitable[None] | None] | None = None,
    shutdown: asyncio.Event | None = None,
    prepare: bool = True,
) -> None:
    """Build the room (unless given), start it and serve HTTP until SIGINT, SIGTERM or ``shutdown``.

    Then stop it all: the HTTP server first, then the room and its adapters.

    Args:
        settings: The room's settings.
        room: The room to serve (default: built from ``settings``).
        on_ready: Called once the server listens (and, with ``prepare``, has built its routes).
        shutdown: Set it to stop serving.
        prepare: Build the API's routes once the server listens (:func:`roomctl.api.app.prepare_routes`), so
            that the first requests are as fast as the others. Tests that start many rooms leave it off.
    """
    server_settings = settings.server
    if (server_settings.tls_cert is not None and server_settings.tls_key is None) or (
        server_settings.tls_key is not None and server_settings.tls_cert is None
    ):
        raise ConfigError("[server] tls_cert and tls_key go together; set both (roomctl tls init) or neither")
    sock = bind_socket(server_settings.host, server_settings.port)
    sockets = [sock]
    loopback: socket.socket | None = None
    if server_settings.tls:
        try:
            loopback = bind_socket(LOOPBACK_HOST, server_settings.loopback_http_port)
        except AdapterError:
            sock.close()
            raise
        sockets.append(loopback)
    room = room or build_room(settings)
    app = create_app(room, manage_room=False)
    config = uvicorn.Config(app, lifespan="on", ssl_certfile=server_settings.tls_cert,
                            ssl_keyfile=server_settings.tls_key, **UVICORN_OPTIONS)  # fmt: skip
    server = _Server(config)
    plain: _QuietServer | None = None
    plain_serving: asyncio.Task[None] | None = None
    if loopback is not None:  # with TLS on, plain HTTP only for the kiosk on the Pi itself
        plain = _QuietServer(uvicorn.Config(app, lifespan="off", **UVICORN_OPTIONS))
        log.info("HTTPS on %s:%d; plain HTTP on %s:%d only", server_settings.host, server_settings.port,
                 LOOPBACK_HOST, server_settings.loopback_http_port)  # fmt: skip
    await room.start()
    try:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        plain_serving = asyncio.create_task(plain.serve(sockets=[loopback])) if plain and loopback else None
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if prepare and server.started:
            routes = await prepare_routes(app)
            log.debug("%d routes built before the first request", routes)
        heap.freeze("the room serves")
        if server.started and on_ready is not None:
            result = on_ready(room)
            if asyncio.iscoroutine(result):
                await result
        if shutdown is not None:
            waiter = asyncio.create_task(shutdown.wait())
            await asyncio.wait({serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            waiter.cancel()
        await serving
    finally:
        if plain is not None:
            plain.should_exit = True
            if plain_serving is not None:
                await plain_serving
        await room.stop()
        for each in sockets:
            each.close()
