"""The room: one asyncio loop that owns everything that happens in the room.

Every happening becomes an :class:`~roomctl.core.events.Event`. Events are handled one at a time, in order,
by the handlers capabilities registered with :meth:`Room.on`; a handler decides, records its decision and
tells adapters what to do. Threads that libraries bring (gpiozero callbacks, paho's network loop) hand events
over with :meth:`Room.post`, which is thread-safe; they never decide.

The core imports no hardware library: adapters are given to capabilities, not to the core.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlite_utils
from prometheus_client import CollectorRegistry, Counter, Histogram

from roomctl.core.clock import Clock, SystemClock
from roomctl.core.events import Event
from roomctl.core.health import ComponentHealth, HealthRegistry
from roomctl.core.state import StateStore
from roomctl.errors import RoomctlError, StateError

if TYPE_CHECKING:
    from roomctl.config import Settings

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
S = TypeVar("S")
Handler = Callable[[Any], Any]

QUEUE_WARN_DEPTH = 100
"""Log a warning when this many events wait: something on the loop is too slow."""


class Service(Protocol):
    """A capability's long-running part, started and stopped with the room."""

    name: str

    async def start(self) -> None:
        """Start background work (tasks, adapters)."""
        ...

    async def stop(self) -> None:
        """Stop background work; must not raise."""
        ...


class Room:
    """The room core.

    Attributes:
        settings: The validated configuration.
        db: The room's database (used from the loop's thread only).
        clock: Where the room reads the time.
        screen: What the kiosk, tablets and player show; pushed over ``/ws``.
        status: The room's state for other rooms and Home Assistant; published retained on MQTT.
        health: Per-component health for ``/healthz``.
        registry: The Prometheus registry for ``/metrics``.
        services: Started services by name, in start order.
    """

    def __init__(self, settings: Settings, db: sqlite_utils.Database, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.screen = StateStore("screen")
        self.status = StateStore("status")
        self.health = HealthRegistry()
        self.registry = CollectorRegistry()
        self.services: dict[str, Service] = {}
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._queue: asyncio.Queue[tuple[Event, asyncio.Future[Any] | None]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._events_total = Counter(
            "roomctl_events_total", "Events handled by the room core", ["event"], registry=self.registry
        )
        self._event_seconds = Histogram(
            "roomctl_event_seconds", "Time the core took to handle an event", ["event"], registry=self.registry
        )
        self.health.register("database", self._database_health, critical=True)

    # -- wiring ---------------------------------------------------------------------------------------------

    def on(self, event_type: type[E], handler: Callable[[E], Any]) -> None:
        """Handle every event of ``event_type`` (and its subclasses) with ``handler`` (sync or async)."""
        self._handlers[event_type].append(handler)

    def add_service(self, service: Service) -> None:
        """Register a service; it is started with the room (or at once if the room already runs)."""
        if service.name in self.services:
            raise ValueError(f"service {service.name!r} registered twice")
        self.services[service.name] = service
        if self._worker is not None:
            self.spawn(service.start(), name=f"start-{service.name}")

    def service(self, kind: type[S]) -> S:
        """The registered service of type ``kind`` (a capability's typed interface).

        Raises:
            StateError: No service of that type runs in this room.
        """
        for service in self.services.values():
            if isinstance(service, kind):
                return service
        raise StateError(f"the {kind.__name__} is not running in this room")

    def find_service(self, kind: type[S]) -> S | None:
        """The registered service of type ``kind``, or ``None`` when the room runs without it."""
        for service in self.services.values():
            if isinstance(service, kind):
                return service
        return None

    def every(
        self, seconds: float, action: Callable[[], Any], *, name: str, first: float | None = None
    ) -> asyncio.Task[None]:
        """Run ``action`` (sync or async) every ``seconds`` on the loop, as a background task of the room.

        This is the one way to do periodic work: a failing run is logged and the next run comes on time; the
        task is cancelled when the room stops.

        Args:
            seconds: The interval.
            action: What to run; an awaitable result is awaited.
            name: The task's name, for logs.
            first: Delay before the first run (default: ``seconds``).
        """

        async def loop() -> None:
            delay = seconds if first is None else first
            while True:
                await asyncio.sleep(delay)
                delay = seconds
                try:
                    value = action()
                    if inspect.isawaitable(value):
                        await value
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("periodic task %s failed; next run in %.0f s", name, seconds)

        return self.spawn(loop(), name=name)

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop that owns the room (set by :meth:`start`)."""
        if self._loop is None:
            raise RuntimeError("the room has not been started")
        return self._loop

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._worker is not None

    async def start(self) -> None:
        """Start the event worker, then every service in registration order."""
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.create_task(self._work(), name="room-events")
        for service in list(self.services.values()):
            log.debug("starting service %s", service.name)
            await service.start()

    async def stop(self) -> None:
        """Stop services in reverse order, then the event worker and background tasks."""
        for service in reversed(list(self.services.values())):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping service %s failed", service.name)
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    # -- events ---------------------------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """Hand an event to the room from any thread; fire and forget."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._queue.put_nowait((event, None))
        else:
            loop.call_soon_threadsafe(self._queue.put_nowait, (event, None))

    async def dispatch(self, event: Event) -> Any:
        """Hand an event to the room from the loop and wait for the decision (the first non-None result)."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self._queue.put_nowait((event, future))
        return await future

    def post_later(self, delay: float, event: Event) -> asyncio.TimerHandle:
        """Post ``event`` after ``delay`` seconds (a timer is an event like any other)."""
        return self.loop.call_later(delay, self.post, event)

    def spawn(self, coro: Awaitable[Any], *, name: str) -> asyncio.Task[Any]:
        """Run a background coroutine owned by the room; it is cancelled when the room stops."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    async def _work(self) -> None:
        while True:
            event, future = await self._queue.get()
            if self._queue.qsize() > QUEUE_WARN_DEPTH:
                log.warning("%d events waiting for the room core", self._queue.qsize())
            try:
                result = await self._handle(event)
            except Exception as exc:
                if future is not None and not future.done():
                    future.set_exception(exc)
                if not isinstance(exc, RoomctlError):
                    log.exception("handling %s failed", type(event).__name__)
                else:
                    log.info("%s refused: %s", type(event).__name__, exc)
            else:
                if future is not None and not future.done():
                    future.set_result(result)

    async def _handle(self, event: Event) -> Any:
        name = type(event).__name__
        self._events_total.labels(name).inc()
        start = self.clock.monotonic()
        result: Any = None
        try:
            for event_type in type(event).__mro__:
                for handler in self._handlers.get(event_type, []):
                    value = handler(event)
                    if inspect.isawaitable(value):
                        value = await value
                    if result is None and value is not None:
                        result = value
        finally:
            self._event_seconds.labels(name).observe(max(self.clock.monotonic() - start, 0.0))
        return result

    # -- health ---------------------------------------------------------------------------------------------

    def _database_health(self) -> ComponentHealth:
        try:
            self.db.execute("select 1").fetchone()
        except Exception as exc:
            return ComponentHealth("down", f"the database does not answer: {exc}")
        return ComponentHealth("ok")
