"""The browser pages roomctl serves itself (no CDN, no build step): /kiosk, /tablet, /facilities, /admin.

The pages and their static files are public: they hold no data. Everything they show comes from the API and
the WebSocket, which need the page's token.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

import kiosk
from roomctl.api.security import public
from roomctl.errors import NotFoundError

router = APIRouter(tags=["pages"], include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
KIOSK_DIR = Path(kiosk.__file__).resolve().parent / "web"
PAGES = {"tablet": WEB_DIR, "facilities": WEB_DIR, "admin": WEB_DIR, "report": WEB_DIR, "kiosk": KIOSK_DIR,
         "trajectory": WEB_DIR}  # trajectory: the member's own page (issue 19)
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
NO_CACHE = {"Cache-Control": "no-cache"}
STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'{hashes}; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""The pages' Content-Security-Policy: everything from the room itself; a page's own ``<style>`` blocks by
hash; inline style attributes (bar widths set by the scripts) allowed; never framed."""


@cache
def page_headers(path: Path) -> dict[str, str]:
    """Headers of a page: no caching, and a Content-Security-Policy with the hashes of its ``<style>`` blocks."""
    text = path.read_text(encoding="utf-8")
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in STYLE_BLOCK.findall(text)
    )
    return {**NO_CACHE, "Content-Security-Policy": PAGE_POLICY.format(hashes=hashes), "X-Frame-Options": "DENY"}


def _file(folder: Path, name: str) -> FileResponse:
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents or not path.is_file() or path.suffix not in MEDIA_TYPES:
        raise NotFoundError(f"no such file: {name}")
    headers = page_headers(path) if path.suffix == ".html" else NO_CACHE
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.get("/", dependencies=[public()])
async def index() -> RedirectResponse:
    """The projector page is the room's front page."""
    return RedirectResponse("/kiosk")


@router.get("/{page}", dependencies=[public()])
async def page(page: str) -> FileResponse:
    """One of the room's pages."""
    folder = PAGES.get(page)
    if folder is None:
        raise NotFoundError(f"no page /{page}; the pages are /kiosk, /tablet, /facilities, /admin, /report and /trajectory")
    return _file(folder, f"{page}.html")


@router.get("/static/kiosk/{name}", dependencies=[public()])
async def kiosk_static(name: str) -> FileResponse:
    """The projector page's scripts and styles."""
    return _file(KIOSK_DIR, name)


@router.get("/static/{name}", dependencies=[public()])
async def static(name: str) -> FileResponse:
    """Shared scripts and styles of the pages."""
    return _file(WEB_DIR, name)
