"""The ``roomctl`` command line. ``roomctl --help`` lists every command; each has its own ``--help``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from roomctl import __version__
from roomctl.cli_options import RoomctlGroup, config_option, settings_from
from roomctl.errors import RoomctlError

log = logging.getLogger(__name__)

EXIT_ERROR = 1
"""Exit status when roomctl refuses or fails, with one sentence saying why."""
TAP_TIMEOUT_SECONDS = 10.0
DEMO_STATE_FILE = "demo.json"
"""Written by ``roomctl demo`` in its folder: the URL and a reader token, so ``roomctl tap`` finds the demo."""

def setup_logging(verbose: bool) -> None:
    """Log to stderr (journald picks it up under systemd)."""
    try:
        from roomctl.ops.logging import setup_logging as setup

        setup(logging.DEBUG if verbose else logging.INFO)
    except ImportError:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    logging.getLogger("httpx").setLevel(logging.WARNING)


@click.group(cls=RoomctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roomctl")
@click.option("--verbose", "-v", is_flag=True, help="Log debug messages.")
def cli(verbose: bool) -> None:
    """Roomctl runs a Vitale Weekcyclus learning room from one Raspberry Pi.

    Start with `roomctl demo` to see the whole room simulated in your browser.
    """
    setup_logging(verbose)


# -- init / serve ------------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("roomctl.toml"),
    show_default=True,
    help="Where to write the file.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(config: Path, force: bool) -> None:
    """Write a commented default configuration file."""
    from roomctl.config_template import render

    if config.exists() and not force:
        raise RoomctlError(f"{config} exists already; use --force to overwrite it")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(render(), encoding="utf-8")
    click.echo(f"wrote {config}; edit it, then run `roomctl doctor -c {config}`")


@cli.command()
@config_option
def serve(config: Path | None) -> None:
    """Run the room (production): the service, its API and pages, until SIGTERM."""
    from roomctl.server import serve as run

    settings = settings_from(config)
    asyncio.run(run(settings))


@cli.command()
@config_option
def migrate(config: Path | None) -> None:
    """Apply pending database migrations and list them."""
    from roomctl.store import open_database
    from roomctl.store.migrations import applied

    db = open_database(settings_from(config).storage.database_path)
    for name in applied(db):
        click.echo(name)


# -- tokens ------------------------------------------------------------------------------------------------


@cli.group()
def token() -> None:
    """Create, list and revoke API tokens (only a hash is stored)."""


@token.command("create")
@config_option
@click.option("--role", "-r", required=True, help="admin, facilitator, facilities, reader, kiosk or member.")
@click.option("--label", "-l", default="", help="Who or what the token is for.")
@click.option("--member", "member_id", type=int, default=None, help="Bind the token to a member (member, facilitator).")
@click.option("--group", "group_id", type=int, default=None, help="Bind a facilitator token to one group (a tablet).")
@click.option("--reader", "reader", default=None, help="Bind a reader token to one named networked reader.")
@click.option("--expires-hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Let the token expire after this many hours.")  # fmt: skip
def token_create(
    config: Path | None, role: str, label: str, member_id: int | None, group_id: int | None, reader: str | None,
    expires_hours: float | None,
) -> None:
    """Create a token and print it once."""
    import re
    from datetime import UTC, datetime, timedelta

    from roomctl.api.tokens import READER_NAME_PATTERN, create_token
    from roomctl.store import open_database

    settings = settings_from(config)
    db = open_database(settings.storage.database_path)
    if role == "member" and member_id is None:
        raise click.UsageError("a member token needs --member ID (the member whose report it may read)")
    if role == "reader" and reader is None:
        raise click.UsageError("a reader token needs --reader NAME (the one networked reader it speaks for)")
    if reader is not None and (not re.match(READER_NAME_PATTERN, reader) or reader == settings.reader.name):
        raise click.UsageError(f"--reader must be 1-40 of A-Z a-z 0-9 _ . - and not the door's own reader "
                               f"({settings.reader.name!r})")  # fmt: skip
    from roomctl.booking.repository import BookingRepository

    if member_id is not None:
        BookingRepository(db).member(member_id)
    if group_id is not None:
        BookingRepository(db).group(group_id)
    now = datetime.now(UTC)
    expires = now + timedelta(hours=expires_hours) if expires_hours else None
    token_id, value = create_token(db, role, label=label, now=now, member_id=member_id, group_id=group_id,
                                   reader=reader, expires_at=expires)  # fmt: skip
    from roomctl.api import admin_audit

    admin_audit.append(db, now, None, "token create", f"token {token_id}", 0, {"role": role}, who="cli")
    click.echo(value)
    click.echo(f"token {token_id} ({role}) created; it is shown only now", err=True)


def _binding(row: dict[str, Any]) -> str:
    parts = [f"{key}={row[key]}" for key in ("member_id", "group_id", "booking_id", "reader") if row[key] is not None]
    return ",".join(parts) or "-"


@token.command("list")
@config_option
def token_list(config: Path | None) -> None:
    """List tokens: id, role, state, expiry, binding, created, label (never the token)."""
    from datetime import UTC, datetime

    from roomctl.api.tokens import list_tokens
    from roomctl.store import open_database

    db = open_database(settings_from(config).storage.database_path)
    now = datetime.now(UTC)
    click.echo(f"{'id':>4}  {'role':<12} {'state':<8} {'expires':<26} {'binding':<24} {'created':<26} label")
    for row in list_tokens(db):
        expires = row["expires_at"]
        if row["revoked_at"]:
            state = "revoked"
        elif expires and datetime.fromisoformat(str(expires)) <= now:
            state = "expired"
        else:
            state = "active"
        click.echo(f"{row['id']:>4}  {row['role']:<12} {state:<8} {expires or 'never':<26} {_binding(row):<24} "
                   f"{row['created_at']:<26} {row['label'] or ''}")  # fmt: skip


@token.command("revoke")
@config_option
@click.argument("token_id", type=int)
def token_revoke(config: Path | None, token_id: int) -> None:
    """Revoke a token by id."""
    from datetime import UTC, datetime

    from roomctl.api import admin_audit
    from roomctl.api.tokens import revoke_token
    from roomctl.store import open_database

    db = open_database(settings_from(config).storage.database_path)
    now = datetime.now(UTC)
    revoke_token(db, token_id, now=now)
    admin_audit.append(db, now, None, "token revoke", f"token {token_id}", 0, who="cli")
    click.echo(f"token {token_id} revoked")


# -- tls -------------------------------------------------------------------------------------------------


@cli.group()
def tls() -> None:
    """HTTPS on the LAN: the room's own CA and the host's certificate."""


@tls.command("init")
@config_option
@click.option("--host", "host", required=True, help="The room's host name as tablets reach it, e.g. room1.local.")
@click.option("--also", multiple=True, help="More names or IP addresses for the certificate (repeatable).")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Where to write the files (default: <data_dir>/tls).")  # fmt: skip
@click.option("--replace", is_flag=True, help="Replace an existing host certificate (the CA is kept).")
def tls_init(config: Path | None, host: str, also: tuple[str, ...], directory: Path | None, replace: bool) -> None:
    """Make the room CA (once) and an HTTPS certificate for HOST; print the settings to add."""
    from datetime import UTC, datetime

    from roomctl.ops.tls import init_tls

    settings = settings_from(config)
    target = directory or settings.storage.data_dir / "tls"
    files = init_tls(target, host, now=datetime.now(UTC), room_name=settings.room.name, also=list(also),
                     replace=replace)  # fmt: skip
    click.echo(f"room CA: {files.ca_cert} (install it on each tablet; keep {files.ca_key} secret)")
    click.echo("add to roomctl.toml:\n[server]\nhost = \"0.0.0.0\"\nport = 8443")
    click.echo(f'tls_cert = "{files.cert}"\ntls_key = "{files.key}"')


# -- tap ---------------------------------------------------------------------------------------------------


@cli.command()
@click.argument("uid")
@click.option("--url", default=None, help="roomctl's URL (default: the demo's, from ./var/demo.json).")
@click.option("--token", "token_value", envvar="ROOMCTL_TOKEN", default=None, help="A reader token (env ROOMCTL_TOKEN).")
@click.option("--reader", default=None, help="Name of the reader (a reader token's own reader by default).")
@click.option("--dir", "demo_dir", type=click.Path(path_type=Path), default=Path("var"), show_default=True,
              help="The demo folder to find the URL and token in.")  # fmt: skip
def tap(uid: str, url: str | None, token_value: str | None, reader: str | None, demo_dir: Path) -> None:
    """Tap a badge at the simulated reader of a running roomctl and print the decision."""
    import httpx

    if url is None or token_value is None:
        state_file = demo_dir / DEMO_STATE_FILE
        if not state_file.exists():
            raise RoomctlError(f"no running demo found ({state_file} is missing); give --url and --token")
        state: dict[str, Any] = json.loads(state_file.read_text())
        url = url or state["url"]
        token_value = token_value or state["reader_token"]
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/v1/door/taps",
            json={"uid": uid, **({"reader": reader} if reader else {})},
            headers={"Authorization": f"Bearer {token_value}"},
            timeout=TAP_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise RoomctlError(f"cannot reach roomctl at {url}: {exc}") from None
    body = response.json()
    if response.status_code >= 400:
        raise RoomctlError(str(body.get("detail", body)))
    if body["granted"]:
        click.echo(f"granted ({body['reason']}); the door is open")
    else:
        click.echo(f"denied: {body['reason']}")
        sys.exit(EXIT_ERROR)


# -- doctor / demo -----------------------------------------------------------------------------------------


@cli.command()
@config_option
def doctor(config: Path | None) -> None:
    """Check config, database, broker, GPIO, reader, audio, speech model, LLM key (and the Pi); say how to fix."""
    from roomctl.doctor import run_doctor

    sys.exit(run_doctor(config))


@cli.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False), default=Path("var"),
              show_default=True, help="Folder for the demo's config, database and logs (reused next time).")  # fmt: skip
@click.option("--port", type=int, default=8080, show_default=True, help="HTTP port of the demo.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for a tablet).")
@click.option("--tour", is_flag=True,
              help="Walk the room through the hour by itself (a running demo in --dir, or a new one).")  # fmt: skip
@click.option("--speed", type=click.FloatRange(0.1, 1000), default=1.0, show_default=True,
              help="How fast the tour goes (1: about two minutes).")  # fmt: skip
def demo(directory: Path, port: int, host: str, tour: bool, speed: float) -> None:
    """Run the whole room simulated: broker, devices, door, reader, screens, video. Ctrl-C stops everything."""
    from roomctl.demo import run_demo, running_demo, tour_running_demo

    running = running_demo(directory.resolve()) if tour else None
    if running is not None:
        click.echo(f"touring the demo running at {running['url']}")
        asyncio.run(tour_running_demo(running, speed))
        return
    asyncio.run(run_demo(directory, host=host, port=port, tour=tour, speed=speed))


def _add_capability_commands() -> None:
    from roomctl.access.cli import badge_group
    from roomctl.proposal.cli import deidentify_group
    from roomctl.session.cli import videoframes_group

    cli.add_command(badge_group)
    from roomctl.speech.cli import models_group

    cli.add_command(models_group)
    cli.add_command(videoframes_group)
    cli.add_command(deidentify_group)
    from roomctl.ops.cli import backup_command, install_command, restore_command

    for command in (install_command, backup_command, restore_command):
        cli.add_command(command)


_add_capability_commands()


def main() -> None:
    """Entry point: run the CLI; a roomctl error ends with one sentence and a non-zero exit."""
    cli.main(prog_name="roomctl")
