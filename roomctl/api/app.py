"""The FastAPI application of one room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from roomctl import __version__
from roomctl.api import core_routes, pages
from roomctl.api.limits import AuthBeforeBodyMiddleware, SecurityHeadersMiddleware, route_rules
from roomctl.api.problems import install_problem_handlers
from roomctl.core.room import Room
from roomctl.runtime import API_PREFIX, CAPABILITIES, capability_name

MATCHED_FIRST = ("session", "access")
"""Capabilities whose routes are included first. FastAPI tries a request against the routes in order, so the
tablet's commands and the door's taps are not first compared with every booking route (bench_ws: about
0.15 ms of a command). No two capabilities' routes match the same path (tested), so the order changes no
answer."""


def create_app(room: Room, *, manage_room: bool = True) -> FastAPI:
    """The app serving ``room``.

    Args:
        room: The room (built by :func:`roomctl.runtime.build_room`).
        manage_room: Start and stop the room with the app (off when the caller runs the room itself).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_room:
            await room.start()
        try:
            yield
        finally:
            if manage_room:
                await room.stop()

    app = FastAPI(
        title="roomctl",
        version=__version__,
        description="The controller of a Vitale Weekcyclus learning room. Every route states who may call it.",
        lifespan=lifespan,
    )
    app.add_middleware(AuthBeforeBodyMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.state.room = room
    install_problem_handlers(app)
    app.include_router(core_routes.router)
    for capability in sorted(CAPABILITIES, key=_route_rank):
        if capability.router is not None:
            app.include_router(capability.router, prefix=API_PREFIX)
    app.include_router(pages.router)  # last: its /{page} route must not shadow the API
    return app


async def prepare_routes(app: FastAPI) -> int:
    """Build now what the first request to each part of the API would otherwise wait for.

    FastAPI builds an included router's routes (their dependencies, their models' validators) when a request
    first reaches them, and the body limits are read from the routes on the first request with a body: 0.15 to
    0.3 s of CPU here, which the first tablet command after a restart would wait for. Walking the routes
    builds them, a router at a time; between two routers the loop serves whatever request came meanwhile.

    Returns:
        How many routes the app has.
    """
    count = 0
    for _ in walk_routes(app):
        count += 1
        await asyncio.sleep(0)
    route_rules(app)
    return count


def _route_rank(capability: ModuleType) -> int:
    name = capability_name(capability)
    return MATCHED_FIRST.index(name) if name in MATCHED_FIRST else len(MATCHED_FIRST)


def walk_routes(app: FastAPI) -> Iterator[tuple[str, BaseRoute]]:
    """Every route of the app with its full path (included routers flattened)."""
    for context in iter_route_contexts(app.routes):
        yield context.path or "", context.original_route
