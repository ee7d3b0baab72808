"""Posting alerts to a webhook (``[facilities] webhook_url``), with retries, off the room's decisions.

Every raised or cleared alert is queued; one worker posts them in order as JSON. A 2xx answer is delivery;
a connection error, a timeout, a 429 or a 5xx is retried with doubling waits; any other 4xx is a
configuration problem and is not retried. After the last attempt the alert is logged as undelivered (it
stays listed on /facilities either way).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from roomctl.core.health import ComponentHealth
from roomctl.facilities.settings import FacilitiesSettings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
"""Alerts waiting beyond this are dropped (oldest first) with a log line."""
RETRY_STATUSES = frozenset({408, 425, 429})


class WebhookPoster:
    """Posts alert messages to one URL.

    Args:
        settings: The ``[facilities]`` section (URL, attempts, timeout, backoff).
    """

    def __init__(self, settings: FacilitiesSettings) -> None:
        self.settings = settings
        self.delivered = 0
        self.failed = 0
        self.last_error = ""
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def enqueue(self, message: dict[str, Any]) -> None:
        """Queue one message (from the loop)."""
        while self._queue.qsize() >= QUEUE_LIMIT:
            dropped = self._queue.get_nowait()
            log.error("webhook queue full; dropped alert message %s", dropped.get("alert", {}).get("key"))
        self._queue.put_nowait(message)

    async def run(self) -> None:
        """Post queued messages until cancelled."""
        import httpx  # imported when a webhook is configured: not needed to start the room

        async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds) as client:
            while True:
                message = await self._queue.get()
                await self._deliver(client, message)

    async def _deliver(self, client: httpx.AsyncClient, message: dict[str, Any]) -> None:
        import httpx

        delay = self.settings.webhook_backoff_seconds
        for attempt in range(1, self.settings.webhook_attempts + 1):
            try:
                response = await client.post(self.settings.webhook_url, json=message)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    self.delivered += 1
                    self.last_error = ""
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    break
            log.warning("webhook attempt %d for %s failed: %s", attempt, message.get("event"), problem)
            self.last_error = problem
            if attempt < self.settings.webhook_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        log.error("alert message %s not delivered to the webhook: %s", message.get("alert", {}).get("key"), self.last_error)

    def health(self) -> ComponentHealth:
        """Degraded after a message could not be delivered (until the next one is)."""
        if self.last_error and self.failed:
            return ComponentHealth("degraded", f"the alert webhook does not accept messages ({self.last_error}); check webhook_url")
        return ComponentHealth("ok", f"{self.delivered} alert messages delivered")
