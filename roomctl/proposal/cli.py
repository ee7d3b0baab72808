"""``roomctl deidentify``: build deduce's lookup data at set-up time, check it, and try the de-identification."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from roomctl.cli_options import RoomctlGroup
from roomctl.proposal import deduce_engine, deidentify

dir_option = click.option(
    "--dir", "directory", type=click.Path(path_type=Path, file_okay=False), default=None,
    help=f"Where the built lookup data goes (default: ${deduce_engine.DEDUCE_DIR_ENV}, else <venv>/share/roomctl/deduce).",
)  # fmt: skip


@click.group("deidentify", cls=RoomctlGroup)
def deidentify_group() -> None:
    """The Dutch de-identification (deduce) every text passes before it leaves the Pi.

    deduce needs lookup structures built once per installation; `build` makes them (make setup and
    roomctl install run it), so the service never builds them on a proposal.
    """


@deidentify_group.command("build")
@dir_option
@click.option("--force", is_flag=True, help="Build again even when the data is already built.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when all is well.")
def build_command(directory: Path | None, force: bool, quiet: bool) -> None:
    """Build deduce's lookup structures (a few seconds; nothing to do when already built)."""
    target = directory or deduce_engine.deduce_dir()
    was_ready = deduce_engine.deduce_ready(target) and not force
    started = time.monotonic()
    deduce_engine.build_deduce(target, force=force)
    if not quiet:
        if was_ready:
            click.echo(f"deduce's lookup data is already built in {target}")
        else:
            click.echo(f"built deduce's lookup data in {target} ({time.monotonic() - started:.1f} s)")


@deidentify_group.command("check")
@dir_option
def check_command(directory: Path | None) -> None:
    """Exit 0 when the lookup data is built for the installed deduce, 1 (with the reason) when not."""
    target = directory or deduce_engine.deduce_dir()
    if deduce_engine.deduce_ready(target):
        click.echo(f"ok: {target}")
        return
    click.echo(f"not built: {target}; run `roomctl deidentify build`", err=True)
    sys.exit(1)


@deidentify_group.command("try")
@click.option("--name", "names", multiple=True, help="A name roomctl knows (repeat for more).")
@click.option("--word", "words", multiple=True, help="A configured word to remove (repeat for more).")
@click.option("--language", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
@click.argument("text", required=False)
def try_command(names: tuple[str, ...], words: tuple[str, ...], language: str, text: str | None) -> None:
    """Print TEXT (or standard input) as it would leave the Pi, then the placeholders' mapping."""
    source = text if text is not None else sys.stdin.read()
    deid = deidentify.deidentifier(list(names), list(words), language)
    [out] = deid.apply_all([source])
    click.echo(out)
    for placeholder, originals in deid.mapping.items():
        click.echo(f"  {placeholder} = {', '.join(originals)}", err=True)
