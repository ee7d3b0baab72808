"""RFC 9457 problem documents for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roomctl.errors import RoomctlError

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://roomctl.invalid/problems/"
MEDIA_TYPE = "application/problem+json"


RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


def problem(status: int, slug: str, title: str, detail: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    """A problem+json response; ``extra`` members may not replace the standard ones."""
    members = {k: v for k, v in (extra or {}).items() if k not in RESERVED_MEMBERS}
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **members}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Turn roomctl errors, validation errors and HTTP errors into problem documents."""

    @app.exception_handler(RoomctlError)
    async def _roomctl(request: Request, exc: RoomctlError) -> JSONResponse:
        return problem(exc.status, exc.slug, exc.title, exc.detail, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _where(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "validation", "Invalid input", detail, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 408: "Request timeout", 413: "Content too large"}
        return problem(exc.status_code, f"http-{exc.status_code}", titles.get(exc.status_code, "HTTP error"), str(exc.detail))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        log.info("a number out of range on %s %s: %s", request.method, request.url.path, exc)
        return problem(422, "validation", "Invalid input", "a number in the request is out of range (ids fit in 63 bits)")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal", "Internal error", "something went wrong in roomctl; the log has the details")
