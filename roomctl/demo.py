"""``roomctl demo``: the whole room simulated, in one command.

Creates (or reuses) a folder with a configuration and database, seeds a group of four members with badges
and a booking around now, starts a private Mosquitto, the simulated devices and the service, and prints the
URLs of the pages with their tokens. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
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
from roomctl.devices.broker import Broker
from roomctl.devices.example import example_config
from roomctl.devices.simulator import DeviceSimulator
from roomctl.runtime import build_room
from roomctl.server import serve

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
                    "speech": {"source": "simulated", "simulated_files": [str(audio)] if audio else []},
                    "devices": {"entries": example["devices"]},
                    "scenes": example.get("scenes", {}),
                }
            ),
            encoding="utf-8",
        )
    return path


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


def banner(url: str, tokens: dict[str, str], broker: Broker) -> str:
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
        "",
    ]
    return "\n".join(lines)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a token)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


async def run_demo(directory: Path, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the demo in ``directory`` until interrupted."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config = write_config(directory)
    load_settings(config)  # a broken edited config ends here, before anything starts
    state_file = directory / DEMO_STATE_FILE
    with Broker(workdir=directory / "mosquitto") as broker:
        settings = load_settings(
            config,
            {"mqtt": {"enabled": True, "host": broker.host, "port": broker.port}, "server": {"host": host, "port": port}},
        )
        room = build_room(settings)
        seed(room)
        tokens = demo_tokens(room)
        extras: list[Any] = []

        async def ready(room: Room) -> None:
            simulator = DeviceSimulator(settings, settings.devices)
            await simulator.start()
            extras.append(simulator)
            state = {"url": settings.public_url, "reader_token": tokens["reader"], "pid": os.getpid(), "broker_pid": broker.pid}
            write_private(state_file, json.dumps(state))
            click.echo(banner(settings.public_url, tokens, broker), err=False)

        try:
            await serve(settings, room=room, on_ready=ready)
        finally:
            for extra in extras:
                await extra.stop()
            state_file.unlink(missing_ok=True)
            click.echo("roomctl demo stopped; data kept in " + str(directory))


