"""The one WebSocket push loop: send a view on connect, again on every change, and now and then regardless.

``/ws`` (the screen state) and ``/api/v1/facilities/ws`` (the site overview) both use :func:`push`. A change
only sets a flag, so a slow client skips intermediate states and always gets the newest view; messages from
the client are not used, but reading them is how the loop notices the client leaving while nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

Subscribe = Callable[[Callable[[], None]], Callable[[], None]]
"""Registers a no-argument change callback; returns the function that unregisters it."""

RECHECK_SECONDS = 2.0
"""How often an open WebSocket asks whether its token still holds (revoked or expired: closed)."""
WS_CLOSE_TOKEN_ENDED = 4401
"""Close code when the token was revoked or expired while the WebSocket was open."""


async def push(
    websocket: WebSocket,
    subscribe: Subscribe,
    render: Callable[[], Any],
    *,
    resend_seconds: float,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Accept ``websocket`` and keep it up to date until the client leaves.

    Args:
        websocket: The connection (not yet accepted).
        subscribe: Where changes are announced.
        render: The JSON-able view to send (called on the loop, once per send).
        resend_seconds: Without a change the view is sent again this often (keeps proxies and NATs open).
        alive: Asked every :data:`RECHECK_SECONDS`; when it answers False (the token was revoked or expired)
            the WebSocket is closed with :data:`WS_CLOSE_TOKEN_ENDED`.
    """
    await websocket.accept()
    changed = asyncio.Event()
    unsubscribe = subscribe(changed.set)
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            changed.clear()
            await websocket.send_json(render())
            waiter = asyncio.ensure_future(changed.wait())
            done = await _wait(receiver, waiter, resend_seconds, alive)
            waiter.cancel()
            if done is None:
                log.info("closing a WebSocket: its token was revoked or expired")
                await websocket.close(code=WS_CLOSE_TOKEN_ENDED, reason="token revoked or expired")
                break
            if receiver in done:
                if receiver.result()["type"] == "websocket.disconnect":
                    break
                receiver = asyncio.ensure_future(websocket.receive())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        unsubscribe()


async def _wait(
    receiver: asyncio.Future[Any], waiter: asyncio.Future[Any], resend_seconds: float, alive: Callable[[], bool] | None
) -> set[asyncio.Future[Any]] | None:
    """Wait for a message, a change or ``resend_seconds``; ``None`` when ``alive`` says the token ended."""
    if alive is None:
        done, _ = await asyncio.wait({receiver, waiter}, timeout=resend_seconds, return_when=asyncio.FIRST_COMPLETED)
        return done
    left = resend_seconds
    while True:
        step = min(left, RECHECK_SECONDS)
        done, _ = await asyncio.wait({receiver, waiter}, timeout=step, return_when=asyncio.FIRST_COMPLETED)
        if not alive():
            return None
        left -= step
        if done or left <= 0:
            return done
