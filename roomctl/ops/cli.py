"""Command line for running roomctl on a Pi: ``install``, ``backup``, ``restore`` and ``check-config``.

The commands join the ``roomctl`` CLI; ``python -m roomctl.ops`` runs them on their own (the installer uses
that to check a configuration with the new version before switching to it).
"""

from __future__ import annotations

from pathlib import Path

import click

from roomctl.cli_options import RoomctlGroup, config_option, config_path, settings_from


def _checkout() -> Path | None:
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() and (here / "systemd").is_dir() else None


@click.command("install")
@click.option("--source", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="The roomctl checkout to install from (default: the one this roomctl runs from).")
@click.option("--dry-run", is_flag=True, help="Print every step; change nothing.")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Lay the files out under this directory; skip apt, user accounts and systemctl.")
@click.option("--model", default="base", show_default=True, help="Speech model to install ('' for none).")
@click.option("--no-start", is_flag=True, help="Enable the units but do not (re)start them.")
@click.option("--pip-arg", "pip_args", multiple=True, help="Extra argument for pip install (repeatable).")
@click.option("--python", "python", default=None, help="Interpreter for the venv (default: python3).")
def install_command(
    source: Path | None,
    dry_run: bool,
    root: Path | None,
    model: str,
    no_start: bool,
    pip_args: tuple[str, ...],
    python: str | None,
) -> None:
    """Install or upgrade roomctl on Raspberry Pi OS Bookworm (run as root; again to upgrade)."""
    from roomctl.ops.host import InstallOptions
    from roomctl.ops.install import install

    checkout = source or _checkout()
    if checkout is None:
        raise click.UsageError("give --source: the roomctl checkout (git clone) to install from")
    options = InstallOptions(
        source=checkout, root=root, dry_run=dry_run, model=model, start=not no_start, pip_args=pip_args
    )
    if python:
        options.python = python
    install(options, echo=click.echo)


@click.command("backup")
@config_option
@click.option("--dest", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory for the archive (default: [backup] dir, else <data_dir>/backups).")
@click.option("--keep", type=click.IntRange(min=1), default=None, help="Archives kept (default: [backup] keep).")
def backup_command(config: Path | None, dest: Path | None, keep: int | None) -> None:
    """Back up the database (online), the configuration and the videoframes into a .tar.gz."""
    from roomctl.ops.backup import backup

    archive = backup(settings_from(config), dest, config_path=config_path(config), keep=keep)
    click.echo(str(archive))


@click.command("restore")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@config_option
@click.option("--force", is_flag=True, help="Restore even though roomctl.service seems to run.")
@click.option("--keep-config", is_flag=True, help="Leave the configuration file as it is.")
def restore_command(archive: Path, config: Path | None, force: bool, keep_config: bool) -> None:
    """Restore a backup; the replaced files are kept in <data_dir>/before-restore-<time>/."""
    from roomctl.ops.backup import restore

    restore_config = None if keep_config else config_path(config)
    result = restore(archive, settings_from(config), config_path=restore_config, force=force)
    click.echo(f"restored {archive}; the previous files are in {result.aside}")
    if result.migrations:
        click.echo(f"migrated the restored database: {', '.join(result.migrations)}")


@click.command("check-config")
@config_option
def check_config_command(config: Path | None) -> None:
    """Check that the configuration file is valid for this version of roomctl."""
    settings = settings_from(config)
    click.echo(f"{config_path(config) or 'defaults'}: valid (room {settings.room.site}/{settings.room.id})")


@click.group("ops", cls=RoomctlGroup)
def ops_group() -> None:
    """Install, back up and restore roomctl on a Raspberry Pi."""


for _command in (install_command, backup_command, restore_command, check_config_command):
    ops_group.add_command(_command)


def main() -> None:
    """Run ``python -m roomctl.ops``; a roomctl error ends with one sentence and exit status 1."""
    ops_group.main(prog_name="python -m roomctl.ops")
