"""What every ``roomctl`` command shares: the ``--config`` option, settings, and how errors end a command."""

from __future__ import annotations

from pathlib import Path

import click

from roomctl.config import DEFAULT_CONFIG_PATH, Settings, load_settings
from roomctl.errors import RoomctlError

config_option = click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="ROOMCTL_CONFIG",
    help="The roomctl.toml to use (env ROOMCTL_CONFIG; default: /etc/roomctl/roomctl.toml if it exists).",
)


def config_path(config: Path | None) -> Path | None:
    """The file named on the command line, else the production file if it exists, else none (defaults)."""
    if config is None and DEFAULT_CONFIG_PATH.exists():
        return DEFAULT_CONFIG_PATH
    return config


def settings_from(config: Path | None) -> Settings:
    """Load and validate the configuration a command was given.

    Raises:
        ConfigError: The file is missing or invalid (the CLI prints the sentence and exits non-zero).
    """
    return load_settings(config_path(config))


class RoomctlGroup(click.Group):
    """A command group in which a :class:`RoomctlError` from any command ends with its sentence and exit 1.

    Commands raise roomctl's own errors; this is the one place that turns them into click's error output.
    """

    def invoke(self, ctx: click.Context) -> object:
        """Run the chosen command, turning a roomctl error into a click error (no traceback)."""
        try:
            return super().invoke(ctx)
        except RoomctlError as exc:
            raise click.ClickException(exc.detail) from None
