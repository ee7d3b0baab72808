"""The projector's browser launcher: Chromium on the kiosk page without the kiosk token on its command line.

Any local user can read every process's command line (``ps``), so the token must not be in Chromium's
arguments. systemd hands the launcher ``ROOMCTL_KIOSK_TOKEN`` from ``/etc/roomctl/kiosk.env`` (root:kiosk,
0640; a process's environment is readable only by its own user and root). The launcher writes a one-line
start page, readable by the kiosk user only, that forwards to ``ROOMCTL_KIOSK_URL#token=...``, and replaces
itself with Chromium opening that file. The kiosk page keeps the token after the first load.
"""

from __future__ import annotations

import html
import logging
import os
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
DEFAULT_URL = "http://127.0.0.1:8080/kiosk"
START_PAGE = "start.html"
CHROMIUM_FLAGS = (
    "--kiosk", "--ozone-platform=wayland", "--noerrdialogs", "--disable-infobars", "--no-first-run",
    "--disable-session-crashed-bubble", "--disable-features=Translate", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
)  # fmt: skip
"""Kiosk mode, Wayland, no first-run/crash/translate bubbles, no background traffic, video may autoplay."""


def start_page(url: str, token: str) -> str:
    """The start page's HTML: forwards to the kiosk page with the token in the fragment (never sent to a server)."""
    target = html.escape(f"{url}#token={token}", quote=True)
    return f'<!doctype html><meta http-equiv="refresh" content="0;url={target}"><title>roomctl</title>\n'


def write_start_page(state_dir: Path, url: str, token: str) -> Path:
    """Write the start page into ``state_dir`` readable by this user only; return its path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / START_PAGE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(start_page(url, token))
    path.chmod(0o600)
    return path


def browser_argv(state_dir: Path, page: Path, extra: str = "") -> list[str]:
    """Chromium's command line: no token in it, only the start page's path."""
    return [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={state_dir / 'chromium'}", *shlex.split(extra), page.as_uri()]


def main() -> None:
    """Entry point ``roomctl-kiosk-browser`` (run by ``roomctl-kiosk.service`` inside cage)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    token = os.environ.pop("ROOMCTL_KIOSK_TOKEN", "")
    if not token:
        log.error("ROOMCTL_KIOSK_TOKEN is not set; run `roomctl install` (it writes /etc/roomctl/kiosk.env)")
        sys.exit(2)
    state_dir = Path(os.environ.get("STATE_DIRECTORY", "/var/lib/roomctl-kiosk").split(":")[0])
    page = write_start_page(state_dir, os.environ.get("ROOMCTL_KIOSK_URL", DEFAULT_URL), token)
    argv = browser_argv(state_dir, page, os.environ.get("ROOMCTL_KIOSK_CHROMIUM_FLAGS", ""))
    os.execv(argv[0], argv)  # noqa: S606 - replaces the launcher; the token stays out of argv and the environment
