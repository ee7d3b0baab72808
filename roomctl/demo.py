"""``roomctl demo``: the whole room simulated, in one command.

Creates (or reuses, migrating an older one) a folder with a configuration and database, seeds a group of four
members with badges and a booking around now, starts a private Mosquitto, the simulated devices, the service
and the kiosk's video player (libvlc; dummy outputs without a display), and prints the URLs of the pages with
their tokens. Without an Anthropic key the proposals come from the demo writer (``[llm] provider = "demo"``),
labelled "demo — geen AI" on the screens. ``--tour`` then walks the room through the hour by itself
(:mod:`roomctl.demo_tour`). Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes.util
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np
import soundfile

from roomctl.api.tokens import create_token
from roomctl.booking.repository import BookingRepository
from roomctl.config import load_settings
from roomctl.config_template import render
from roomctl.core.room import Room
from roomctl.demo_tour import Tour, TourRefusedError, TourTokens
from roomctl.devices.broker import Broker
from roomctl.devices.example import example_config
from roomctl.devices.simulator import DeviceSimulator
from roomctl.errors import RoomctlError
from roomctl.proposal import demo_writer
from roomctl.proposal.llm import read_api_key
from roomctl.runtime import build_room
from roomctl.server import serve
from roomctl.session import media
from roomctl.session.service import SessionService

log = logging.getLogger(__name__)

DEMO_STATE_FILE = "demo.json"
DEMO_TOKEN_LABEL = "demo"  # noqa: S105 - the label of the demo's tokens, not a secret
BOOKING_LEAD_MINUTES = 5
"""The demo's booking around now starts this many minutes ago."""
BOOKING_MINUTES = 60

DEMO_GROUP = "Team Klantcontact"
DEMO_MEMBERS = (
    ("Anna de Vries", "04A1B2C3D4E501"),
    ("Bram Jansen", "04A1B2C3D4E502"),
    ("Chantal Bakker", "04A1B2C3D4E503"),
    ("Daan Visser", "04A1B2C3D4E504"),
)
DEMO_FACILITATOR = ("Eva Smit", "04A1B2C3D4E505")
SPEECH_RATE = 16_000
"""Whisper's sample rate."""
PAGE_ROLES = {"kiosk": "kiosk", "tablet": "facilitator", "facilities": "facilities", "admin": "admin"}


DEMO_BRAINSTORM = (
    "We hebben het probleem dat klanten te lang wachten aan de telefoon. "
    "Een oplossing is een terugbelservice, zodat niemand langer dan vijf minuten in de wacht staat. "
    "We kunnen ook de drukste uren beter bezetten door de pauzes te spreiden. "
    "En veel vragen gaan over facturen: daar kan een duidelijke pagina op de website bij helpen."
)
"""What the simulated microphone says when the demo group records its brainstorm."""
ESPEAK_TIMEOUT_SECONDS = 60
DEMO_VERSION = 2
"""The layout of the demo folder; an older folder is migrated (:func:`migrate_folder`)."""
VERSION_FILE = "demo-version"
CHUNK_SECONDS = 10.0
"""The demo cuts speech into short chunks so captions appear soon after recording starts."""
PLAYER_STOP_SECONDS = 5.0
"""How long the kiosk player gets to stop before it is killed."""


def missing_tools() -> list[str]:
    """What the demo lacks on this machine, each as a sentence saying what it means and how to fix it."""
    lacks = []
    if shutil.which("espeak-ng") is None:
        lacks.append("espeak-ng: the simulated microphone stays silent, so the brainstorm has no captions and no "
                     "proposal (apt-get install espeak-ng)")  # fmt: skip
    if not media.ffmpeg_available():
        lacks.append("ffmpeg: the steps run without their clips (apt-get install ffmpeg)")
    if importlib.util.find_spec("vlc") is None or ctypes.util.find_library("vlc") is None:
        lacks.append("libvlc/python-vlc: no video player runs (apt-get install vlc-bin vlc-plugin-base)")
    return lacks


def brainstorm_audio(directory: Path) -> Path | None:
    """A Dutch brainstorm spoken by espeak-ng (16 kHz mono WAV) for the simulated microphone, made once."""
    path = directory / "brainstorm-nl.wav"
    if path.exists():
        return path
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        log.warning("espeak-ng is not installed: the demo's simulated microphone stays silent")
        return None
    raw = directory / "brainstorm-nl.22k.wav"
    subprocess.run([espeak, "-v", "nl+m1", "-s", "140", "-g", "4", "-w", str(raw), DEMO_BRAINSTORM],
                   check=True, timeout=ESPEAK_TIMEOUT_SECONDS, capture_output=True)  # fmt: skip
    data, rate = soundfile.read(raw, dtype="float32")
    target = np.interp(np.arange(0, len(data), rate / SPEECH_RATE), np.arange(len(data)), data).astype("float32")
    soundfile.write(path, target, SPEECH_RATE, subtype="PCM_16")
    raw.unlink()
    return path


def write_config(directory: Path) -> Path:
    """The demo's configuration file (written once; edits are kept)."""
    path = directory / "roomctl.toml"
    if not path.exists():
        example = example_config()
        audio = brainstorm_audio(directory)
        path.write_text(
            render(
                {
                    "room": {"name": "Demo-leerruimte", "id": "demo"},
                    "storage": {"data_dir": str(directory / "data")},
                    "gpio": {"factory": "mock"},
                    "reader": {"kind": "simulated"},
                    "speech": {"source": "simulated", "simulated_files": [str(audio)] if audio else [],
                               "chunk_seconds": CHUNK_SECONDS},
                    "devices": {"entries": example["devices"]},
                    "scenes": example.get("scenes", {}),
                }
            ),
            encoding="utf-8",
        )
        (directory / VERSION_FILE).write_text(f"{DEMO_VERSION}\n", encoding="utf-8")
    return path


def folder_version(directory: Path) -> int:
    """The layout version of an existing demo folder (1: made before versions were recorded)."""
    try:
        return int((directory / VERSION_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 1


def migrate_folder(directory: Path) -> list[str]:
    """Bring a demo folder made by an older roomctl up to date; returns what was changed (nothing when current).

    Version 1 had no ``focus``/``presentation`` scenes (the videoframe's steps switched nothing), 30-second
    speech chunks, and no clips when ffmpeg was missing at its first run. The old configuration is kept as
    ``roomctl.toml.v1``; the member data, bookings and history are kept as they are.
    """
    config = directory / "roomctl.toml"
    if not config.exists() or folder_version(directory) >= DEMO_VERSION:
        return []
    changes = []
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    configured = data.get("scenes", {}).get("scenes")
    if configured is not None and data.get("devices"):  # without its own scenes the defaults (with both) apply
        for name, targets in example_config()["scenes"]["scenes"].items():
            if name not in configured:
                configured[name] = targets
                changes.append(f"added scene {name}")
    speech = data.setdefault("speech", {})
    if speech.get("chunk_seconds", 30.0) > CHUNK_SECONDS:
        speech["chunk_seconds"] = CHUNK_SECONDS
        changes.append(f"speech chunks of {CHUNK_SECONDS:.0f} s")
    overrides = {k: v for k, v in data.items() if isinstance(v, dict)}
    overrides["devices"] = {"entries": data.get("devices", [])}
    shutil.copy2(config, directory / "roomctl.toml.v1")
    config.write_text(render(overrides), encoding="utf-8")
    (directory / VERSION_FILE).write_text(f"{DEMO_VERSION}\n", encoding="utf-8")
    log.info("migrated the demo folder %s to version %d: %s", directory, DEMO_VERSION, ", ".join(changes))
    return changes


def refresh_clips(room: Room) -> bool:
    """Reinstall the shipped videoframe when it was installed without clips and ffmpeg is here now."""
    library = room.service(SessionService).library
    if not media.ffmpeg_available():
        return False
    frame = library.default()
    if all(step.clip_path for step in frame.steps):
        return False
    library.install_default(replace=True)
    return True


def demo_overrides(host: str, port: int, broker: Broker) -> dict[str, dict[str, Any]]:
    """What the demo sets at run time: its broker and port, and the demo writer when there is no Anthropic key."""
    overrides: dict[str, dict[str, Any]] = {
        "mqtt": {"enabled": True, "host": broker.host, "port": broker.port},
        "server": {"host": host, "port": port},
    }
    if not read_api_key():
        overrides["llm"] = {"provider": demo_writer.PROVIDER, "model": demo_writer.MODEL}
    return overrides


def has_display() -> bool:
    """Whether there is a desktop to open the player's window on."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start_player(url: str, kiosk_token: str) -> subprocess.Popen[bytes] | None:
    """The kiosk's video player (python-vlc) following the demo; dummy outputs when there is no display."""
    if importlib.util.find_spec("vlc") is None or ctypes.util.find_library("vlc") is None:
        return None
    headless = not has_display()
    env = {**os.environ, "ROOMCTL_KIOSK_TOKEN": kiosk_token}
    args = [sys.executable, "-m", "kiosk.player", "--url", url, "--log-level", "WARNING"]
    if headless:
        args.append("--dummy")
    return subprocess.Popen(args, env=env)


def stop_player(player: subprocess.Popen[bytes] | None) -> None:
    """Stop the player by its pid (SIGTERM, then SIGKILL after :data:`PLAYER_STOP_SECONDS`)."""
    if player is None or player.poll() is not None:
        return
    player.send_signal(signal.SIGTERM)
    try:
        player.wait(timeout=PLAYER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        player.kill()
        player.wait()


def seed(room: Room) -> None:
    """A group of four with a facilitator on first run; a booking around now on every run."""
    repo = BookingRepository(room.db)
    now = room.clock.now()
    if not repo.members():
        ids = []
        for name, uid in DEMO_MEMBERS:
            member = repo.add_member(name, now=now)
            repo.enroll_badge(member.id, uid, now=now)
            ids.append(member.id)
        facilitator = repo.add_member(DEMO_FACILITATOR[0], now=now)
        repo.enroll_badge(facilitator.id, DEMO_FACILITATOR[1], now=now)
        repo.add_group(DEMO_GROUP, ids, facilitator_id=facilitator.id, now=now)
    group = repo.groups()[0]
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=BOOKING_LEAD_MINUTES)
    end = start + timedelta(minutes=BOOKING_MINUTES)
    if not repo.overlapping(now, now + timedelta(minutes=1)) and not repo.overlapping(start, end):
        repo.add_booking(group.id, start, end, now=now)


def demo_tokens(room: Room) -> dict[str, str]:
    """Fresh tokens for the pages and the CLI reader; the previous run's demo tokens are revoked."""
    now = room.clock.now()
    with room.db.atomic():
        room.db.execute(
            "update tokens set revoked_at = ? where label = ? and revoked_at is null", [now.isoformat(), DEMO_TOKEN_LABEL]
        )
    tokens = {page: create_token(room.db, role, label=DEMO_TOKEN_LABEL, now=now)[1] for page, role in PAGE_ROLES.items()}
    tokens["reader"] = create_token(room.db, "reader", label=DEMO_TOKEN_LABEL, now=now, reader="cli")[1]  # one named reader
    return tokens


def banner(url: str, tokens: dict[str, str], broker: Broker, *, writer: str = "", player: str = "",
           lacks: list[str] | None = None) -> str:  # fmt: skip
    """What the demo prints once it is ready."""
    lines = [
        "",
        "roomctl demo is running: the whole room simulated. Ctrl-C stops everything.",
        "",
        f"  Projector (kiosk):  {url}/kiosk#token={tokens['kiosk']}",
        f"  Tablet:             {url}/tablet#token={tokens['tablet']}",
        f"  Facilities:         {url}/facilities#token={tokens['facilities']}",
        f"  Admin:              {url}/admin#token={tokens['admin']}",
        f"  Admin token:        {tokens['admin']}",
        f"  API docs:           {url}/docs",
        "",
        "  Tap a badge at the door:  roomctl tap 04A1B2C3D4E501",
        "  Members: " + ", ".join(f"{name} {uid}" for name, uid in DEMO_MEMBERS),
        f"  Facilitator: {DEMO_FACILITATOR[0]} {DEMO_FACILITATOR[1]}",
        f"  MQTT broker: {broker.host}:{broker.port} (pid {broker.pid})",
    ]
    if writer:
        lines.append(f"  Proposals: {writer}")
    if player:
        lines.append(f"  Video player: {player}")
    for lack in lacks or []:
        lines.append(f"  Missing {lack}")
    lines.append("  A guided tour of the hour: roomctl demo --tour")
    lines.append("")
    return "\n".join(lines)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a token)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def tour_for(url: str, tokens: dict[str, str], speed: float) -> Tour:
    """The guided tour against the demo at ``url`` (``tokens``: the demo's page tokens and reader token)."""
    return Tour(url, TourTokens(reader=tokens["reader"], facilitator=tokens["tablet"], admin=tokens["admin"]),
                badges=DEMO_MEMBERS, speed=speed, echo=click.echo)  # fmt: skip


def running_demo(directory: Path) -> dict[str, Any] | None:
    """The state of a demo already running in ``directory`` (its ``demo.json``), or ``None``."""
    try:
        state: dict[str, Any] = json.loads((directory / DEMO_STATE_FILE).read_text(encoding="utf-8"))
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state if "tour_tokens" in state else None


async def tour_running_demo(state: dict[str, Any], speed: float) -> None:
    """Walk the already running demo described by ``state`` through the hour."""
    await tour_for(state["url"], state["tour_tokens"], speed).run()


async def run_demo(
    directory: Path, *, host: str = "127.0.0.1", port: int = 8080, tour: bool = False, speed: float = 1.0
) -> None:
    """Run the demo in ``directory`` until interrupted; with ``tour``, walk it through the hour once it is up.

    Raises:
        TourRefusedError: ``tour`` while the folder's room has a session running (nothing is walked).
    """
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for change in migrate_folder(directory):
        click.echo(f"migrated the demo folder from an older roomctl: {change}")
    config = write_config(directory)
    load_settings(config)  # a broken edited config ends here, before anything starts
    state_file = directory / DEMO_STATE_FILE
    lacks = missing_tools()
    with Broker(workdir=directory / "mosquitto") as broker:
        settings = load_settings(config, demo_overrides(host, port, broker))
        room = build_room(settings)
        seed(room)
        tokens = demo_tokens(room)
        extras: list[Any] = []
        player: list[subprocess.Popen[bytes] | None] = []
        shutdown = asyncio.Event()
        refused: list[TourRefusedError] = []

        async def ready(room: Room) -> None:
            running = room.service(SessionService).current() if tour else None
            if running is not None:
                refused.append(TourRefusedError(
                    f"a session is running ({running.get('group')}, step {running['index'] + 1}); the tour only "
                    "starts in an empty room: end the session on the tablet first"))  # fmt: skip
                shutdown.set()
                return
            if await asyncio.to_thread(refresh_clips, room):
                click.echo("generated the videoframe's clips (ffmpeg is here now)")
            simulator = DeviceSimulator(settings, settings.devices)
            await simulator.start()
            extras.append(simulator)
            player.append(start_player(settings.public_url, tokens["kiosk"]))
            tour_tokens = {k: tokens[k] for k in ("reader", "tablet", "admin")}
            state = {"url": settings.public_url, "reader_token": tokens["reader"], "pid": os.getpid(),
                     "broker_pid": broker.pid, "player_pid": player[0].pid if player[0] else None,
                     "tour_tokens": tour_tokens}  # fmt: skip
            write_private(state_file, json.dumps(state))
            writer = (f"{demo_writer.LABEL['en']} (the demo writer; set ROOMCTL_ANTHROPIC_API_KEY to use Claude)"
                      if settings.llm.provider == demo_writer.PROVIDER else f"Claude ({settings.llm.model})")  # fmt: skip
            shown = "" if player[0] is None else ("libvlc window" if has_display() else "libvlc, dummy outputs (no display)")
            click.echo(banner(settings.public_url, tokens, broker, writer=writer, player=shown, lacks=lacks), err=False)
            if tour:
                extras.append(room.spawn(walk(), name="demo-tour"))

        async def walk() -> None:
            try:
                await tour_for(settings.public_url, tokens, speed).run()
            except RoomctlError as exc:
                click.echo(f"[tour] stopped: {exc.detail}", err=True)

        try:
            await serve(settings, room=room, on_ready=ready, shutdown=shutdown)
        finally:
            for extra in extras:
                if isinstance(extra, asyncio.Task):
                    extra.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await extra
                else:
                    await extra.stop()
            for process in player:
                stop_player(process)
            state_file.unlink(missing_ok=True)
            click.echo("roomctl demo stopped; data kept in " + str(directory))
    if refused:
        raise refused[0]
