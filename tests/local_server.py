"""A Starlette app served by uvicorn in a thread on a free loopback port: the base of the fake API servers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
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


B = TypeVar("B")
"""A fake's behaviour type (a scripted reply, status or dropped connection)."""


@dataclass
class RecordedRequest:
    """One request as a fake server received it."""

    path: str
    headers: dict[str, str]
    body: Any
    behaviour: str
    received_at: float = field(default_factory=time.monotonic)


class FakeApi(LocalServer, Generic[B]):
    """A fake API: scripted behaviours, every request recorded, unimplemented shapes refused and recorded.

    Subclasses set :attr:`api_name`, implement :meth:`_error` (the API's error body) and call :meth:`_read`,
    :meth:`_refuse` and :meth:`_next` from :meth:`_handle`.
    """

    api_name = "API"

    def __init__(self, default: B) -> None:
        super().__init__()
        self.default: B = default
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._script: deque[B] = deque()
        self._lock = threading.Lock()

    def script(self, *behaviours: B) -> None:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def assert_no_errors(self) -> None:
        """Fail if any request had a shape the fake does not implement."""
        assert not self.errors, f"the fake {self.api_name} server refused requests: {self.errors}"

    def _next(self) -> B:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        raise NotImplementedError  # pragma: no cover

    def _refuse(self, path: str, headers: dict[str, str], body: Any, problem: str) -> Response:
        self.errors.append(problem)
        self.requests.append(RecordedRequest(path, headers, body, "refused"))
        return self._error(400, "invalid_request_error", f"fake {self.api_name} server: {problem}")

    async def _read(self, request: Request, path: str) -> tuple[dict[str, str], Any] | Response:
        """Headers and JSON body of a POST to ``path``, or the refusal of anything else."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return self._refuse(request.url.path, headers, raw.decode("utf-8", "replace"), "request body is not JSON")
        if request.method != "POST" or request.url.path != path:
            return self._refuse(request.url.path, headers, body, f"{request.method} {request.url.path} is not implemented")
        return headers, body
