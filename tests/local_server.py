"""A Starlette app served by uvicorn in a thread on a free loopback port: the base of the fake API servers."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

START_TIMEOUT_SECONDS = 10.0


class DroppedConnectionError(Exception):
    """Raised inside a response stream to make uvicorn abort the connection mid-body."""


class LocalServer:
    """Serves :meth:`_handle` for every path and method; use as a context manager."""

    thread_name = "fake-server"

    def __init__(self) -> None:
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    async def _handle(self, request: Any) -> Any:  # pragma: no cover - every fake overrides it
        raise NotImplementedError

    def start(self) -> Self:
        """Start serving (returns when the server accepts connections)."""
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        sock = self._sock
        server = self._server
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name=self.thread_name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.thread_name} server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
