"""Limits before work (OWASP API4): a request is refused before its body is read when it is too big or unauthenticated.

- Every request body is capped: :data:`DEFAULT_BODY_BYTES` unless its route sets its own ``max_body_size``
  (FastAPI's limit, counted as the bytes arrive and checked against ``Content-Length`` first): 413.
- A request with a body to a guarded route without a valid token is answered 401 by
  :class:`AuthBeforeBodyMiddleware` before a byte of its body is read (the route's own guard would only run
  after FastAPI read and parsed the body).
- A body that arrives slower than :data:`MIN_BODY_BYTES_PER_SECOND` (after a :data:`BODY_SECONDS` head start)
  is cut off: 408.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomctl.api import admin_audit
from roomctl.api.admin_audit import audited_route
from roomctl.api.problems import problem
from roomctl.api.security import AUTHENTICATED_KEY, PublicMarker, authenticate, declared_access
from roomctl.errors import AuthError

log = logging.getLogger(__name__)

DEFAULT_BODY_BYTES = 256 * 1024
"""The largest request body a route takes unless it says otherwise (JSON bodies are small)."""
ASK_BODY_BYTES = 8 * 1024 * 1024
"""A proposal request may carry a typed transcript (up to the proposal's material limit)."""
CALENDAR_BODY_BYTES = 2 * 1024 * 1024
"""An imported closures calendar."""
BODY_SECONDS = 30.0
"""Head start for a body to arrive (a slow-body attack holds a connection open otherwise)."""
MIN_BODY_BYTES_PER_SECOND = 64 * 1024
"""Beyond the head start a body must keep arriving at least this fast (a large upload gets more time)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods whose requests may carry a body."""


@dataclass(frozen=True)
class _RouteRule:
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    public: bool
    max_body: int


def route_rules(app: Any) -> list[_RouteRule]:
    """Every API route's body limit and whether it is public, built once per app.

    Building them walks the app's routes, which makes FastAPI build the lazily included routes it otherwise
    builds on the first request that reaches them (see :func:`roomctl.api.app.prepare_routes`).
    """
    cached: list[_RouteRule] | None = getattr(app.state, "_body_rules", None)
    if cached is None:
        from roomctl.api.app import walk_routes

        cached = []
        for path, route in walk_routes(app):
            if isinstance(route, APIRoute):
                public = any(isinstance(d, PublicMarker) for d in declared_access(route.dependant))
                limit = route.max_body_size if route.max_body_size is not None else DEFAULT_BODY_BYTES
                cached.append(_RouteRule(path, compile_path(path)[0], frozenset(route.methods or ()), public, limit))
        app.state._body_rules = cached
    return cached


def _rule_for(app: Any, scope: Scope) -> _RouteRule | None:
    """The route ``scope`` goes to (``None``: no API route; it answers 404 or 405 without reading a body)."""
    for rule in route_rules(app):
        if scope["method"] in rule.methods and rule.pattern.match(scope["path"]):
            return rule
    return None


class AuthBeforeBodyMiddleware:
    """Refuse a body-carrying request to a guarded route without a valid token before reading the body; time the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the token and the declared length, then pass the request on with a counting, timed body."""
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        rule = _rule_for(scope["app"], scope)
        limit = rule.max_body if rule is not None else DEFAULT_BODY_BYTES
        principal = None
        if rule is not None and not rule.public:
            try:
                principal = authenticate(Request(scope))
                scope.setdefault("state", {})[AUTHENTICATED_KEY] = principal  # the route's guard need not look again
            except AuthError as exc:
                log.info("refused %s %s before its body: %s", scope["method"], scope["path"], exc.detail)
                await _refuse(scope, receive, send, exc.status, exc.detail)
                return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _refuse(scope, receive, send, 413, f"the body is {int(length)} bytes; this route takes at most {limit}")
            return
        if rule is None or principal is None or not audited_route(scope["method"], rule.template):
            await self.app(scope, _timed(receive, limit), _problem_413(send))
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, _timed(receive, limit), _problem_413(send_noting_status))
        if 200 <= status < 300:
            room = scope["app"].state.room
            action = f"{scope['method']} {rule.template}"
            admin_audit.append(room.db, room.clock.now(), principal, action, scope["path"], status)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    titles = {401: ("unauthorized", "Unauthorized"), 413: ("http-413", "Content too large")}
    slug, title = titles[status]
    response = problem(status, slug, title, detail)
    response.headers["Connection"] = "close"  # the unread body must not be taken for the next request
    await response(scope, receive, send)


def _problem_413(send: Send) -> Send:
    """Answer the framework's plain-text 413 as a problem document, like every other error."""
    replacing = False

    async def send_problem(message: Message) -> None:
        nonlocal replacing
        if message["type"] == "http.response.start" and message["status"] == 413:
            replacing = True
            return
        if replacing:
            if not message.get("more_body", False):
                detail = "the request body is larger than this route takes; send less"
                response = problem(413, "http-413", "Content too large", detail)
                response.headers["Connection"] = "close"
                await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})
            return
        await send(message)

    return send_problem


def _timed(receive: Receive, limit: int) -> Receive:
    loop = asyncio.get_running_loop()
    started: float | None = None
    received = 0
    done = False

    async def timed_receive() -> Message:
        nonlocal started, received, done
        if done:
            return await receive()
        if started is None:
            started = loop.time()
        deadline = started + BODY_SECONDS + received / MIN_BODY_BYTES_PER_SECOND
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                message = await receive()
        except TimeoutError:
            raise HTTPException(408, "the request body arrives too slowly; send it at once") from None
        received += len(message.get("body", b""))
        if received > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes, the most this route takes")
        if message["type"] != "http.request" or not message.get("more_body", False):
            done = True
        return message

    return timed_receive


SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
"""Sent with every HTTP response (pages and API alike)."""


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
