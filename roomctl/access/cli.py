"""``roomctl badge``: provision NTAG 424 DNA badges at the PN532, list members who still carry plain badges."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from roomctl.cli_options import config_option, settings_from

DEFAULT_WAIT_SECONDS = 30.0
"""How long ``provision`` waits for the card."""


@click.group("badge")
def badge_group() -> None:
    """Secure badges (NTAG 424 DNA): provision them, see who still carries a plain badge."""


@badge_group.command("provision")
@config_option
@click.option("--member", "member_id", type=int, default=None, help="The member the badge is for.")
@click.option("--master", "as_master", is_flag=True, help="A master badge (its UID must be in [door] master_badges).")
@click.option("--force", is_flag=True, help="Provision a card that is already this room's secure badge again.")
@click.option("--wait", "wait_seconds", type=float, default=DEFAULT_WAIT_SECONDS, show_default=True,
              help="Seconds to wait for the card on the reader.")  # fmt: skip
def provision_command(config: Path | None, member_id: int | None, as_master: bool, force: bool, wait_seconds: float) -> None:
    """Make the blank NTAG 424 DNA on the door's PN532 a secure badge and enrol it (stop roomctl first).

    The master key comes from ROOMCTL_BADGE_MASTER_KEY or the systemd credential badge_master_key.
    """
    from roomctl.access.secure.desk import open_reader, provision_badge, wait_for_card
    from roomctl.access.secure.keys import BadgeKeys
    from roomctl.store import open_database

    if (member_id is None) == (not as_master):
        raise click.UsageError("give either --member ID or --master")
    settings = settings_from(config)
    keys = BadgeKeys.from_secret()
    db = open_database(settings.storage.database_path)
    reader, handle = open_reader(settings)
    try:
        click.echo(f"put the card on the reader {settings.reader.name} (waiting {wait_seconds:g} s)", err=True)
        target = wait_for_card(handle[0], wait_seconds)
        result = provision_badge(
            db, settings, keys, handle[0], target, member_id=member_id, force=force, now=datetime.now(UTC)
        )
    finally:
        reader.close_device(handle)
    who = f"member {member_id}" if member_id is not None else "a master badge"
    again = " again" if result.again else ""
    click.echo(f"badge {result.uid} provisioned{again} as a secure badge for {who} ({result.round_trips} APDUs)")


@badge_group.command("plain")
@config_option
def plain_command(config: Path | None) -> None:
    """List members who still carry a plain-UID badge (move them to secure badges)."""
    from roomctl.access.secure.credentials import SecureBadges
    from roomctl.store import open_database

    db = open_database(settings_from(config).storage.database_path)
    rows = SecureBadges(db).members_with_plain_badges()
    for row in rows:
        click.echo(f"{row['member_id']:>4}  {row['name']:<30} plain {row['plain_badges']}  secure {row['secure_badges']}")
    click.echo(f"{len(rows)} member(s) with a plain badge", err=True)
