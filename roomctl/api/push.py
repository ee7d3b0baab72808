"""The one WebSocket push loop: send a view on connect, again on every change, and now and then regardless.

``/ws`` (the screen state) and ``/api/v1/facilities/ws`` (the site overview) both use :func:`push`. A change
only sets a flag, so a slow client skips intermediate states and always gets the newest view; messages from
the client are not used, but reading them is how the loop notices the client leaving while nothing changes.

A render may hand over JSON text it encoded once for every client (the screen state does, see
:class:`roomctl.core.state.Follower`); anything else is encoded here, for this client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from roomctl.core.state import encode

log = logging.getLogger(__name__)

Subscribe = Callable[[Callable[[], None]], Callable[[], None]]
"""Registers a no-argument change callback; returns the function that unregisters it."""
Render = Callable[[], Any]
"""The next message: JSON text (a ``str``, sent as it is) or a JSON-able value (encoded for this send)."""

RECHECK_SECONDS = 2.0
"""How often an open WebSocket asks whether its token still holds (revoked or expired: closed)."""
WS_CLOSE_TOKEN_ENDED = 4401
"""Close code when the token was revoked or expired while the WebSocket was open."""


async def push(
    websocket: WebSocket,
    subscribe: Subscribe,
    render: Render,
    *,
    resend_seconds: float,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Accept ``websocket`` and keep it up to date until the client leaves or its token ends.

    Args:
        websocket: The connection (not yet accepted).
        subscribe: Where changes are announced.
        render: The message to send (called on the loop, once per send).
        resend_seconds: Without a change the view is sent again this often (keeps proxies and NATs open).
        alive: Asked every :data:`RECHECK_SECONDS`; when it says no, the socket is closed (4401).
    """
    await websocket.accept()
    changed = asyncio.Event()
    unsubscribe = subscribe(changed.set)
    listener = asyncio.ensure_future(_until_gone(websocket))
    listener.add_done_callback(lambda _: changed.set())
    loop = asyncio.get_running_loop()
    checked, ended = loop.time(), False

    def token_ended() -> bool:
        """Ask ``alive`` when :data:`RECHECK_SECONDS` passed since it was last asked (changes or not)."""
        nonlocal checked, ended
        if alive is not None and not ended and loop.time() >= checked + RECHECK_SECONDS:
            checked, ended = loop.time(), not alive()
        return ended

    try:
        while not listener.done() and not token_ended():
            changed.clear()
            message = render()
            await websocket.send_text(message if isinstance(message, str) else encode(message).decode())
            resend_at = loop.time() + resend_seconds
            while not changed.is_set() and (now := loop.time()) < resend_at and not token_ended():
                wake = resend_at if alive is None else min(resend_at, checked + RECHECK_SECONDS)
                await _wait_for_change(changed, wake - now)
        if ended:
            log.info("closing a WebSocket: its token was revoked or expired")
            await websocket.close(code=WS_CLOSE_TOKEN_ENDED, reason="token revoked or expired")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        listener.cancel()
        unsubscribe()


async def _wait_for_change(changed: asyncio.Event, seconds: float) -> None:
    """Wait in this task (no task per message) for a change, at most ``seconds``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0.0)):
            await changed.wait()


async def _until_gone(websocket: WebSocket) -> None:
    """Read (and drop) what the client sends until it leaves."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
