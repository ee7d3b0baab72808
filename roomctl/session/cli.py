"""``roomctl videoframes``: install, list and remove videoframe packages; generate the default's clips."""

from __future__ import annotations

from pathlib import Path

import click

from roomctl.cli_options import RoomctlGroup, config_option, settings_from
from roomctl.session import media
from roomctl.session.videoframes import DEFAULT_ID, VideoframeLibrary, build_default_package


def _library(config: Path | None, data_dir: Path | None) -> VideoframeLibrary:
    directory = data_dir or settings_from(config).storage.data_dir
    try:
        return VideoframeLibrary(directory)
    except OSError as exc:
        raise click.ClickException(f"cannot use the videoframe store: {exc}") from None


def _spec(seconds: float, size: str) -> media.ClipSpec:
    width, _, height = size.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) >= 64 and int(height) >= 64):
        raise click.BadParameter(f"{size!r} is not WIDTHxHEIGHT (at least 64x64), e.g. 1280x720", param_hint="--size")
    return media.ClipSpec(seconds=seconds, width=int(width), height=int(height))


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Data folder holding videoframes/ (default: [storage] data_dir).",
)  # fmt: skip


@click.group("videoframes", cls=RoomctlGroup)
def videoframes_group() -> None:
    """Install, list and remove videoframes: the guided steps of a session.

    A videoframe package is a folder or a .zip with a manifest.json (schema_version 1) and the video clips its
    steps name. It is checked (schema, safe paths, real video files, known kader questions) before it is
    installed into <data_dir>/videoframes/<id>/<version>/.
    """


@videoframes_group.command("install")
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option("--replace", is_flag=True, help="Replace an installed package with the same id and version.")
@config_option
@data_dir_option
def install_command(path: Path, replace: bool, config: Path | None, data_dir: Path | None) -> None:
    """Check the package at PATH (folder or .zip) and install it."""
    library = _library(config, data_dir)
    frame = library.install(path, replace=replace)
    click.echo(f"installed {frame.id} {frame.version}: {frame.title['nl']} ({len(frame.steps)} steps) in {frame.path}")


@videoframes_group.command("list")
@config_option
@data_dir_option
def list_command(config: Path | None, data_dir: Path | None) -> None:
    """List the installed videoframes (highest version of each) and their steps."""
    library = _library(config, data_dir)
    frames = library.list()
    if not frames:
        click.echo("no videoframes installed; the default is installed when a session first needs it")
        return
    for frame in frames:
        versions = ", ".join(library.versions(frame.id))
        minutes = f"{frame.total_minutes:g} min; versions {versions}"
        click.echo(f"{frame.id} {frame.version}  {frame.title['nl']}  ({minutes})")
        for step in frame.steps:
            clip = step.clip or "no clip"
            click.echo(f"  {step.id:<16} {step.kind:<11} {step.suggested_minutes:>4g} min  {clip}")


@videoframes_group.command("remove")
@click.argument("videoframe_id", metavar="ID")
@click.option("--version", "version", default=None, help="Remove only this version (default: all versions).")
@config_option
@data_dir_option
def remove_command(videoframe_id: str, version: str | None, config: Path | None, data_dir: Path | None) -> None:
    """Remove the installed videoframe ID (every version, or only --version)."""
    library = _library(config, data_dir)
    library.remove(videoframe_id, version)
    click.echo(f"removed {videoframe_id}" + (f" {version}" if version else ""))


@videoframes_group.command("generate-media")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Write the default videoframe as a package folder here instead of installing it.",
)  # fmt: skip
@click.option("--seconds", type=click.FloatRange(0.5, 600), default=media.ClipSpec.seconds, show_default=True,
              help="Length of each clip.")  # fmt: skip
@click.option("--size", default=f"{media.ClipSpec.width}x{media.ClipSpec.height}", show_default=True,
              help="Frame size WIDTHxHEIGHT.")  # fmt: skip
@config_option
@data_dir_option
def generate_media_command(
    out: Path | None, seconds: float, size: str, config: Path | None, data_dir: Path | None
) -> None:
    """Render the default videoframe's clips with ffmpeg and (re)install it (or write it to --out)."""
    spec = _spec(seconds, size)
    if not media.ffmpeg_available():
        raise click.ClickException("ffmpeg is not installed; install it (apt-get install ffmpeg) to generate clips")
    if out is not None:
        build_default_package(out, spec)
        click.echo(f"wrote the {DEFAULT_ID} package with generated clips to {out}")
        return
    library = _library(config, data_dir)
    library.clip_spec = spec
    frame = library.install_default(replace=True)
    clips = sum(1 for s in frame.steps if s.clip_path)
    click.echo(f"installed {frame.id} {frame.version} with {clips} generated clips in {frame.path}")
