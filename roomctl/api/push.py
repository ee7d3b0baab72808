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
        alive: Asked on the loop's timer (every :data:`RECHECK_SECONDS`, or ``resend_seconds`` if shorter); when
            it says no, the socket is closed (4401).
    """
    await websocket.accept()
    loop = asyncio.get_running_loop()
    wake = _Wake(loop, min(RECHECK_SECONDS, resend_seconds))
    unsubscribe = subscribe(wake.change)
    listener = asyncio.ensure_future(_until_gone(websocket))
    listener.add_done_callback(lambda _: wake.change())
    resend_at, ended = loop.time(), False
    try:
        while not listener.done():
            if wake.ticked:
                wake.ticked = False
                if alive is not None and not alive():
                    ended = True
                    break
                wake.changed = wake.changed or loop.time() >= resend_at
            if wake.changed:
                wake.changed = False
                message = render()
                await websocket.send_text(message if isinstance(message, str) else encode(message).decode())
                resend_at = loop.time() + resend_seconds
            await wake.wait()
        if ended:
            log.info("closing a WebSocket: its token was revoked or expired")
            await websocket.close(code=WS_CLOSE_TOKEN_ENDED, reason="token revoked or expired")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        wake.close()
        listener.cancel()
        unsubscribe()


class _Wake:
    """What woke a push loop: a change, or its timer (every ``tick`` seconds, for the token check and the resend).

    One timer per connection for its whole life, not one per wait: a change then costs the loop a flag, an
    event and the send, which matters when one change goes to fifty clients.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self.changed = True  # the view is sent on connect
        self.ticked = False
        self._event = asyncio.Event()
        self._loop = loop
        self._tick = tick
        self._timer = loop.call_later(tick, self._on_tick)

    def change(self) -> None:
        """Something changed (or the client left): the loop looks at once."""
        self.changed = True
        self._event.set()

    def _on_tick(self) -> None:
        self.ticked = True
        self._event.set()
        self._timer = self._loop.call_later(self._tick, self._on_tick)

    async def wait(self) -> None:
        """Return when something new happened (at once if it already has)."""
        if not (self.changed or self.ticked):
            self._event.clear()
            await self._event.wait()

    def close(self) -> None:
        """Stop the timer."""
        self._timer.cancel()


async def _until_gone(websocket: WebSocket) -> None:
    """Read (and drop) what the client sends until it leaves."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
