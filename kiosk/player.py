"""The kiosk's video player: follows roomctl's screen state and plays the current step's clip full screen.

Runs beside the kiosk page on the projector (``roomctl-kiosk-player``, systemd unit
``roomctl-kiosk-player.service``). It holds a WebSocket to ``/ws?token=<kiosk token>`` (reconnecting by
itself) and reads ``session.clip`` from every screen-state snapshot::

    "session": {
        ...,
        "clip": {                       # absent or null: no clip, the player stops and closes its window
            "src": "/var/lib/roomctl/videoframes/<id>/<version>/clips/01-analyse.mp4",
                                        # a local path, or an http(s)/file URL ("path"/"url" are accepted too)
            "state": "playing",         # or "paused": what the tablet wants
            "restart": 0,               # incremented by the machine to play the clip again from the start
            "step": "analyse"           # optional, echoed back in reports
        }
    }

A new ``src`` loads that clip; a higher ``restart`` plays it again from the start; a change of ``state``
pauses or resumes (resuming a clip that ended plays it again). Only changes act: after a reconnect the same
snapshot leaves playback alone.

It reports back with ``POST /api/v1/session/player`` (``Authorization: Bearer <kiosk token>``) whenever the
playback state changes and every :data:`REPORT_INTERVAL_SECONDS` while playing::

    {
        "clip": "/var/lib/.../01-analyse.mp4",   # the src being played (as received)
        "step": "analyse",                        # as received, or null
        "restart": 0,                             # as received: lets roomctl ignore reports of an older start
        "state": "playing",                       # "playing" | "paused" | "ended" | "error"
        "position_ms": 12400,
        "length_ms": 60000,                       # null until libvlc knows it
        "error": null                             # a sentence when state is "error"
    }

Configuration comes from the environment (the systemd unit reads ``/etc/roomctl/kiosk-player.env``) or flags:
``ROOMCTL_PLAYER_URL`` (roomctl's address, default ``http://127.0.0.1:8080``), the kiosk token from
``ROOMCTL_KIOSK_TOKEN``, the file named by ``ROOMCTL_KIOSK_TOKEN_FILE`` or the systemd credential
``kiosk_token``; ``ROOMCTL_PLAYER_DUMMY=1`` for libvlc's dummy outputs; ``ROOMCTL_PLAYER_VLC_ARGS`` for more
libvlc arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import click
import httpx
import websockets
from websockets.asyncio.client import connect

from kiosk.clip_player import ClipPlayer, PlayerStatus

log = logging.getLogger(__name__)

__all__ = ["ClipPlayer", "ClipRequest", "PlayerConfig", "PlayerLoop", "PlayerStatus", "main"]

REPORT_PATH = "/api/v1/session/player"
"""Where playback reports go."""

REPORT_INTERVAL_SECONDS = 1.0
"""How often the position is reported while a clip plays (and how often pause/resume is re-checked)."""

RECONNECT_MIN_SECONDS = 0.5
"""First wait before reconnecting the WebSocket; doubles on every failure."""

RECONNECT_MAX_SECONDS = 10.0
"""Longest wait between reconnection attempts."""

HTTP_TIMEOUT_SECONDS = 5.0
"""Longest a report may take."""

DEFAULT_URL = "http://127.0.0.1:8080"
"""roomctl's address when none is configured."""

TOKEN_CREDENTIAL = "kiosk_token"  # noqa: S105 (a file name, not a secret)
"""Name of the systemd credential holding the kiosk token."""


@dataclass(frozen=True)
class ClipRequest:
    """What the screen state asks the player to do.

    Attributes:
        src: The clip (local path or URL).
        playing: ``True`` for ``state: playing``, ``False`` for paused.
        restart: The restart counter.
        step: The step id, if given.
    """

    src: str
    playing: bool
    restart: int = 0
    step: str | None = None

    @classmethod
    def from_screen(cls, snapshot: dict[str, Any]) -> ClipRequest | None:
        """The request in a screen-state snapshot, or ``None`` when there is no (usable) clip."""
        session = snapshot.get("session")
        clip = session.get("clip") if isinstance(session, dict) else None
        if not isinstance(clip, dict):
            return None
        src = clip.get("src") or clip.get("path") or clip.get("url")
        if not isinstance(src, str) or not src:
            log.warning("screen state has a clip without src: %s", clip)
            return None
        restart = clip.get("restart", 0)
        step = clip.get("step")
        return cls(
            src=src,
            playing=clip.get("state", "playing") == "playing",
            restart=restart if isinstance(restart, int) else 0,
            step=step if isinstance(step, str) else None,
        )


@dataclass(frozen=True)
class PlayerConfig:
    """How to reach roomctl and how to run libvlc.

    Attributes:
        url: roomctl's base URL (reports go to ``url + REPORT_PATH``).
        token: The kiosk token.
        ws_url: The screen-state WebSocket; derived from ``url`` when empty.
        dummy: Use libvlc's dummy outputs.
        vlc_args: More libvlc arguments.
    """

    url: str = DEFAULT_URL
    token: str = ""
    ws_url: str = ""
    dummy: bool = False
    vlc_args: tuple[str, ...] = field(default=())

    def websocket_url(self) -> str:
        """The WebSocket URL with the token as query parameter."""
        if self.ws_url:
            base = self.ws_url
        else:
            parts = urlsplit(self.url.rstrip("/"))
            scheme = "wss" if parts.scheme == "https" else "ws"
            base = urlunsplit((scheme, parts.netloc, parts.path + "/ws", "", ""))
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}token={quote(self.token, safe='')}"


class PlayerLoop:
    """Follows the screen state over the WebSocket, drives a :class:`ClipPlayer` and reports back.

    Args:
        config: Where roomctl is.
        player: The player to drive (built from ``config`` when ``None``; then closed by :meth:`run`).
    """

    def __init__(self, config: PlayerConfig, player: ClipPlayer | None = None) -> None:
        self.config = config
        self._own_player = player is None
        self._player = player
        self._request: ClipRequest | None = None
        self._changed = asyncio.Event()
        self._last_sent: tuple[Any, ...] | None = None
        self.connected = asyncio.Event()
        self.connections = 0

    @property
    def player(self) -> ClipPlayer:
        """The player being driven."""
        if self._player is None:
            raise RuntimeError("the player starts with run()")
        return self._player

    async def run(self) -> None:
        """Follow and report until cancelled."""
        loop = asyncio.get_running_loop()

        def from_vlc_thread() -> None:
            loop.call_soon_threadsafe(self._changed.set)

        if self._player is None:
            self._player = ClipPlayer(dummy=self.config.dummy, extra_args=self.config.vlc_args)
        self._player.on_change = from_vlc_thread
        headers = {"Authorization": f"Bearer {self.config.token}"}
        try:
            http = httpx.AsyncClient(base_url=self.config.url, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)
            async with http, asyncio.TaskGroup() as tasks:
                tasks.create_task(self._follow(), name="player-websocket")
                tasks.create_task(self._report_loop(http), name="player-reports")
        finally:
            if self._own_player and self._player is not None:
                self._player.close()

    def notify(self) -> None:
        """Wake the report loop (thread-safe only from the loop's thread; libvlc's thread uses call_soon_threadsafe)."""
        self._changed.set()

    async def _follow(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                async with connect(self.config.websocket_url(), open_timeout=HTTP_TIMEOUT_SECONDS) as ws:
                    self.connections += 1
                    self.connected.set()
                    log.info("connected to roomctl's screen state")
                    delay = RECONNECT_MIN_SECONDS
                    async for message in ws:
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except websockets.InvalidStatus as exc:
                log.error("roomctl refused the screen-state WebSocket (HTTP %s); check the kiosk token",
                          exc.response.status_code)  # fmt: skip
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                log.warning("screen-state WebSocket lost (%s); reconnecting in %.1f s", exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _on_message(self, message: str | bytes) -> None:
        try:
            snapshot = json.loads(message)
        except ValueError:
            log.warning("ignored a screen-state message that is not JSON")
            return
        if isinstance(snapshot, dict):
            self.apply(ClipRequest.from_screen(snapshot))

    def apply(self, request: ClipRequest | None) -> None:
        """Act on the changes between ``request`` and the previous one."""
        previous, self._request = self._request, request
        player = self.player
        if request is None:
            if player.clip is not None:
                player.stop()
                log.info("clip stopped: the screen state has no clip")
        elif previous is None or request.src != previous.src or player.clip != request.src:
            player.load(request.src, play=request.playing)
        elif request.restart != previous.restart:
            player.restart(play=request.playing)
        elif request.playing and not previous.playing:
            player.play()
        elif previous.playing and not request.playing:
            player.pause()
        self._changed.set()

    def report(self) -> dict[str, Any] | None:
        """The report for the current playback, or ``None`` when no clip is loaded."""
        request = self._request
        status = self.player.status()
        if request is None or status.state == "idle":
            return None
        return {
            "clip": status.clip,
            "step": request.step,
            "restart": request.restart,
            "state": status.state,
            "position_ms": status.position_ms,
            "length_ms": status.length_ms,
            "error": status.error,
        }

    async def _report_loop(self, http: httpx.AsyncClient) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPORT_INTERVAL_SECONDS):
                    await self._changed.wait()
            self._changed.clear()
            self.player.sync()
            body = self.report()
            if body is None:
                self._last_sent = None
                continue
            key = (body["clip"], body["restart"], body["state"], body["length_ms"], body["error"])
            if key == self._last_sent and body["state"] != "playing":
                continue
            if await self._send(http, body):
                self._last_sent = key

    async def _send(self, http: httpx.AsyncClient, body: dict[str, Any]) -> bool:
        try:
            response = await http.post(REPORT_PATH, json=body)
        except httpx.HTTPError as exc:
            log.warning("could not report playback to roomctl (%s); retrying", exc)
            return False
        if response.status_code >= 400:
            log.warning("roomctl refused a playback report: HTTP %s %s", response.status_code, response.text[:200])
            return response.status_code < 500
        return True


def read_token(token_file: Path | None = None) -> str:
    """The kiosk token: ``token_file``, ``ROOMCTL_KIOSK_TOKEN``, ``ROOMCTL_KIOSK_TOKEN_FILE`` or the credential.

    Raises:
        click.ClickException: No token is configured.
    """
    candidates: list[Path] = []
    if token_file is not None:
        candidates.append(token_file)
    elif os.environ.get("ROOMCTL_KIOSK_TOKEN"):
        return os.environ["ROOMCTL_KIOSK_TOKEN"].strip()
    else:
        if os.environ.get("ROOMCTL_KIOSK_TOKEN_FILE"):
            candidates.append(Path(os.environ["ROOMCTL_KIOSK_TOKEN_FILE"]))
        if os.environ.get("CREDENTIALS_DIRECTORY"):
            candidates.append(Path(os.environ["CREDENTIALS_DIRECTORY"]) / TOKEN_CREDENTIAL)
    for candidate in candidates:
        try:
            token = candidate.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise click.ClickException(f"cannot read the kiosk token from {candidate}: {exc.strerror}") from None
        if token:
            return token
    raise click.ClickException(
        "no kiosk token: set ROOMCTL_KIOSK_TOKEN or ROOMCTL_KIOSK_TOKEN_FILE (create one with "
        "`roomctl token create kiosk`), or give the systemd credential kiosk_token"
    )


async def _run_until_signalled(loop_runner: PlayerLoop) -> None:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if task is not None:
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await loop_runner.run()


@click.command("roomctl-kiosk-player")
@click.option("--url", envvar="ROOMCTL_PLAYER_URL", default=DEFAULT_URL, show_default=True,
              help="roomctl's address (env ROOMCTL_PLAYER_URL).")  # fmt: skip
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File holding the kiosk token (else ROOMCTL_KIOSK_TOKEN or ROOMCTL_KIOSK_TOKEN_FILE).")  # fmt: skip
@click.option("--dummy/--no-dummy", envvar="ROOMCTL_PLAYER_DUMMY", default=False, show_default=True,
              help="Use libvlc's dummy video and audio outputs (env ROOMCTL_PLAYER_DUMMY=1).")  # fmt: skip
@click.option("--vlc-arg", "vlc_args", multiple=True,
              help="Extra libvlc argument, repeatable (env ROOMCTL_PLAYER_VLC_ARGS, space separated).")  # fmt: skip
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))  # fmt: skip
def main(url: str, token_file: Path | None, dummy: bool, vlc_args: tuple[str, ...], log_level: str) -> None:
    """Play the room's session clips full screen, following roomctl's screen state, and report playback."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    extra = vlc_args or tuple(shlex.split(os.environ.get("ROOMCTL_PLAYER_VLC_ARGS", "")))
    config = PlayerConfig(url=url, token=read_token(token_file), dummy=dummy, vlc_args=extra)
    asyncio.run(_run_until_signalled(PlayerLoop(config)))


if __name__ == "__main__":
    main()
