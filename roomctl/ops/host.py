"""The host ``roomctl install`` acts on: the real system, a dry run that only prints, or a directory (``--root``).

Every action is printed as the shell command it amounts to, so a dry run is the install's exact plan.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from roomctl.errors import StateError

APT_PACKAGES: tuple[str, ...] = (
    "python3-venv", "python3-dev", "gcc",  # the venv; evdev builds from source
    "mosquitto", "mosquitto-clients",  # the room's local broker
    "vlc-bin", "vlc-plugin-base",  # libvlc for the kiosk player
    "chromium", "cage",  # the kiosk: Chromium in the cage Wayland compositor
    "libportaudio2", "libsndfile1", "alsa-utils",  # microphone (sounddevice) and `arecord -l`
    "sqlite3", "i2c-tools",  # looking into the database; `i2cdetect` for a PN532 on I2C
)  # fmt: skip
LOCK_FILE = Path("/run/lock/roomctl-install.lock")


@dataclass
class InstallOptions:
    """What to install and where.

    Attributes:
        source: The roomctl checkout (pyproject.toml and systemd/).
        root: Perform the file-system steps under this directory, skip apt, accounts and systemctl.
        dry_run: Print every step, change nothing.
        prefix: Where the virtual environments live.
        config_path: The configuration file.
        data_dir: The service's state directory.
        model: The speech model to install ("" for none).
        extras: The package extras to install.
        pip_args: Extra arguments for ``pip install`` (a local index, ``--no-index``...).
        python: The interpreter the venv is made from.
        keep_venvs: Environments kept, the current one included.
        start: (Re)start the units at the end.
        apt_packages: The Debian packages.
        os_release: The file that says which system this is.
    """

    source: Path
    root: Path | None = None
    dry_run: bool = False
    prefix: Path = Path("/opt/roomctl")
    config_path: Path = Path("/etc/roomctl/roomctl.toml")
    data_dir: Path = Path("/var/lib/roomctl")
    model: str = "base"
    extras: str = "pi"
    pip_args: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: _system_python())
    keep_venvs: int = 2
    start: bool = True
    apt_packages: tuple[str, ...] = APT_PACKAGES
    os_release: Path = Path("/etc/os-release")


class Host:
    """Carries out (or, in a dry run, only prints) each action; in ``--root`` mode under a directory."""

    def __init__(self, options: InstallOptions, echo: Callable[[str], None]) -> None:
        self.options = options
        self.echo = echo
        self.env = dict(os.environ)
        if options.root is not None:
            self.env["ROOMCTL_STORAGE__DATA_DIR"] = str(self.path(options.data_dir))

    @property
    def system(self) -> bool:
        """True when acting on the real system (not under ``--root``)."""
        return self.options.root is None

    def path(self, path: Path) -> Path:
        """Where ``path`` is on this host (under ``--root`` if given)."""
        root = self.options.root
        return root / path.relative_to("/") if root is not None else path

    def step(self, title: str) -> None:
        """Announce a step."""
        self.echo(f"==> {title}")

    def note(self, text: str) -> None:
        """Say something about a step."""
        self.echo(f"    note: {text}")

    def run(
        self, cmd: list[str], *, system: bool = False, user: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str] | None:
        """Run a command; ``system`` commands are skipped under ``--root``; ``user`` runs it as that user."""
        if user is not None and self.system:
            cmd = ["runuser", "-u", user, "--", *cmd]
        self.echo(f"    $ {shlex.join(cmd)}")
        if self.options.dry_run:
            return None
        if system and not self.system:
            self.note("skipped (--root): changes the running system")
            return None
        env = dict(self.env)
        if user is not None and self.system and user_exists(user):
            env["HOME"] = pwd.getpwnam(user).pw_dir  # caches (pip, models) go to the user's home, not /root
        # From "/", so a checkout in the current directory never shadows the package being installed.
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", check=False)
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise StateError(f"`{shlex.join(cmd)}` failed (exit {result.returncode}):\n{tail}")
        return result

    def chown(self, path: Path, user: str, group: str) -> None:
        """Give ``path`` to ``user:group`` (only on the real system, where the accounts exist)."""
        if self.system and not self.options.dry_run:
            shutil.chown(path, user, group)

    def mkdir(self, path: Path, mode: int, user: str = "root", group: str = "root") -> None:
        """Create a directory (or fix its mode and owner)."""
        target = self.path(path)
        self.echo(f"    install -d -m {mode:04o} -o {user} -g {group} {target}")
        if self.options.dry_run:
            return
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(mode)
        self.chown(target, user, group)

    def write(self, path: Path, text: str, mode: int, user: str = "root", group: str = "root") -> None:
        """Write a file atomically (a temporary file renamed over it)."""
        target = self.path(path)
        self.echo(f"    write {target} (mode {mode:04o}, {user}:{group})")
        if self.options.dry_run:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.new")
        partial.write_text(text, encoding="utf-8")
        partial.chmod(mode)
        self.chown(partial, user, group)
        os.replace(partial, target)


def _system_python() -> str:
    if Path("/usr/bin/python3").exists():
        return "/usr/bin/python3"
    return shutil.which("python3") or sys.executable


def os_release(path: Path) -> dict[str, str]:
    """The key/value pairs of an os-release(5) file (empty when it is missing)."""
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
    return values


def user_exists(name: str) -> bool:
    """True when the user account ``name`` exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def group_exists(name: str) -> bool:
    """True when the group ``name`` exists."""
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def install_lock(host: Host) -> Iterator[None]:
    """Only one install at a time."""
    path = host.path(LOCK_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(f"another roomctl install is running (it holds {path}); wait for it") from None
        yield


@contextmanager
def no_lock() -> Iterator[None]:
    """Stands in for :func:`install_lock` in a dry run."""
    yield
