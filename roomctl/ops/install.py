"""Installing roomctl on Raspberry Pi OS (Bookworm, 64-bit): one idempotent command.

``roomctl install`` (or ``systemd/install.sh`` on a fresh Pi) installs the Debian packages, creates the
service users and groups, the directories and the credential files, builds a new virtual environment with
the package and its ``pi`` extras, validates the configuration against the new version (writing one with
``roomctl init`` if there is none), installs the speech model, backs up the database, switches
``/opt/roomctl/venv`` to the new environment, runs the migrations and installs, enables and (re)starts the
systemd units. Running it again upgrades in place: the previous environment stays in ``/opt/roomctl/venvs``
until the next upgrade, so a failed upgrade leaves the running version untouched.

``--dry-run`` prints every step and changes nothing; ``--root DIR`` performs the file-system steps under DIR
and skips apt, user accounts and systemctl with a note (for tests and for building an image).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from roomctl import __version__
from roomctl.errors import ConfigError, StateError, StorageError, ValidationError
from roomctl.ops.host import Host, InstallOptions, group_exists, install_lock, no_lock, os_release, user_exists

SERVICE_USER = "roomctl"
SERVICE_GROUPS = ("gpio", "i2c", "dialout", "audio", "input")
KIOSK_USER = "kiosk"
KIOSK_GROUPS = ("video", "render", "audio", "input")
KIOSK_HOME = Path("/var/lib/roomctl-kiosk")
UNIT_DIR = Path("/etc/systemd/system")
UNITS = (
    "roomctl.service",
    "roomctl-kiosk.service",
    "roomctl-kiosk-player.service",
    "roomctl-backup.service",
    "roomctl-backup.timer",
)
ENABLED_UNITS = ("mosquitto.service", "roomctl.service", "roomctl-kiosk.service", "roomctl-backup.timer")
RESTARTED_UNITS = ("roomctl.service", "roomctl-kiosk.service")
CREDENTIALS = ("anthropic_api_key", "mqtt_password", "badge_master_key", "openai_api_key")
MIN_FREE_BYTES = 1500 * 2**20
"""A venv with faster-whisper (~500 MB), the base model (~150 MB), the previous venv and some room."""
NOLOGIN = "/usr/sbin/nologin"

KIOSK_ENV_NAME = "kiosk.env"
"""Holds ROOMCTL_KIOSK_TOKEN for the kiosk page and the player (root:kiosk, 0640)."""


def preflight(host: Host) -> None:
    """Refuse clearly when this is not a system the installer knows, or it cannot work here."""
    opts = host.options
    host.step("checking the system")
    release = os_release(opts.os_release)
    family = {release.get("ID", "")} | set(release.get("ID_LIKE", "").split())
    if not family & {"debian", "raspbian"} and host.system:
        raise StateError(
            f"this is {release.get('PRETTY_NAME', 'not a Debian system')}; `roomctl install` supports Raspberry Pi "
            "OS Bookworm (64-bit) and Debian 12. Use --root DIR to only lay out the files"
        )
    if release.get("VERSION_CODENAME") not in ("bookworm", None):
        host.note(f"tested on Bookworm; this is {release.get('VERSION_CODENAME')}")
    if host.system and not opts.dry_run and os.geteuid() != 0:
        raise StateError("installing changes the system: run it as root (sudo roomctl install)")
    if not (opts.source / "pyproject.toml").is_file() or not (opts.source / "systemd").is_dir():
        raise ValidationError(f"{opts.source} is not a roomctl checkout (no pyproject.toml and systemd/ there)")
    existing = host.path(opts.prefix)
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        message = f"{free // 2**20} MB free on {existing}, {MIN_FREE_BYTES // 2**20} MB needed"
        if opts.dry_run:
            host.note(message)
        else:
            raise StorageError(f"{message}: free space on the SD card (sudo apt clean, old backups) and retry")


def install_packages(host: Host) -> None:
    """Check every package is available before installing any, then install them."""
    host.step("installing Debian packages")
    packages = list(host.options.apt_packages)
    if not host.system:
        host.note("skipped (--root): apt-get install " + " ".join(packages))
        return
    host.run(["apt-get", "update"], system=True)
    policy = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, check=False)
    available = set()
    current = ""
    for line in policy.stdout.splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
        elif line.strip().startswith("Candidate:") and line.split(":", 1)[1].strip() != "(none)":
            available.add(current)
    missing = [p for p in packages if p not in available]
    if missing:
        raise StateError(
            f"these Debian packages are not available: {', '.join(missing)}. Nothing was installed. "
            "Check /etc/apt/sources.list(.d) (Raspberry Pi OS Bookworm has them all) and the network"
        )
    host.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], system=True)


def create_accounts(host: Host) -> None:
    """Create the groups and the users ``roomctl`` and ``kiosk`` (if missing) and put them in their groups."""
    host.step("creating the service users and groups")
    for group in sorted(set(SERVICE_GROUPS) | set(KIOSK_GROUPS)):
        if not group_exists(group):
            host.run(["groupadd", "--system", group], system=True)
    users = ((SERVICE_USER, host.options.data_dir, SERVICE_GROUPS), (KIOSK_USER, KIOSK_HOME, KIOSK_GROUPS))
    for user, home, groups in users:
        if not user_exists(user):
            host.run(
                ["useradd", "--system", "--user-group", "--home-dir", str(home), "--shell", NOLOGIN, user], system=True
            )
        host.run(["usermod", "--append", "--groups", ",".join(groups), user], system=True)


def create_directories(host: Host) -> None:
    """The configuration and state directories and the credential files (empty = not configured)."""
    host.step("creating directories and credential files")
    opts = host.options
    config_dir = opts.config_path.parent
    host.mkdir(config_dir, 0o755)
    host.mkdir(config_dir / "credentials", 0o700)
    for name in CREDENTIALS:
        path = config_dir / "credentials" / name
        if host.path(path).exists():
            host.echo(f"    keep {host.path(path)}")
        else:
            host.write(path, "", 0o600)
    host.mkdir(opts.data_dir, 0o750, SERVICE_USER, SERVICE_USER)
    host.mkdir(opts.data_dir / "backups", 0o750, SERVICE_USER, SERVICE_USER)
    host.mkdir(KIOSK_HOME, 0o750, KIOSK_USER, KIOSK_USER)
    host.mkdir(opts.prefix / "venvs", 0o755)


def build_venv(host: Host, name: str) -> Path:
    """Make a new venv ``<prefix>/venvs/<name>`` with the package; remove it again if that fails."""
    opts = host.options
    host.step(f"building the Python environment {name}")
    venv = opts.prefix / "venvs" / name
    target = host.path(venv)
    spec = f"{opts.source.resolve()}[{opts.extras}]" if opts.extras else str(opts.source.resolve())
    try:
        host.run([opts.python, "-m", "venv", str(target)])
        host.run([str(target / "bin" / "pip"), "install", "--upgrade", *opts.pip_args, spec])
    except StateError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return venv


def _venv_name(now: datetime) -> str:
    return f"roomctl-{__version__}-{now:%Y%m%dT%H%M%S}"


def configure(host: Host, venv: Path) -> None:
    """Write a configuration if there is none; otherwise check the existing one against the new version."""
    opts = host.options
    host.step("configuration")
    config = host.path(opts.config_path)
    bin_dir = host.path(venv) / "bin"
    if config.exists():
        try:
            host.run([str(bin_dir / "python"), "-m", "roomctl.ops", "check-config", "--config", str(config)])
        except StateError as exc:
            raise ConfigError(
                f"{config} does not fit roomctl {__version__}: {exc.detail.splitlines()[-1]}. Fix it (compare with "
                f"`roomctl init -c /tmp/new.toml`) and run the install again; the running roomctl was not touched"
            ) from None
        return
    host.run([str(bin_dir / "roomctl"), "init", "--config", str(config)])
    if not opts.dry_run:
        config.chmod(0o640)
        host.chown(config, "root", SERVICE_USER)
    host.note(f"edit {config} for this room, and put the secrets in {config.parent / 'credentials'}/")


def install_model(host: Host, venv: Path) -> None:
    """Install the speech model as the service user."""
    opts = host.options
    if not opts.model:
        return
    host.step(f"installing the speech model {opts.model}")
    roomctl = str(host.path(venv) / "bin" / "roomctl")
    cmd = [roomctl, "models", "install", opts.model, "--quiet", "--config", str(host.path(opts.config_path))]
    host.run(cmd, user=SERVICE_USER)


def build_deidentifier(host: Host, venv: Path) -> None:
    """Build deduce's lookup data inside the new venv (readable by the hardened service, never built by it)."""
    host.step("building the Dutch de-identification's lookup data")
    roomctl = str(host.path(venv) / "bin" / "roomctl")
    host.run([roomctl, "deidentify", "build", "--quiet"])


def backup_before_upgrade(host: Host, venv: Path) -> None:
    """Back up the database before the new version migrates it."""
    opts = host.options
    database = host.path(opts.data_dir) / "roomctl.db"
    if not database.exists():
        return
    host.step("backing up the database before the upgrade")
    roomctl = str(host.path(venv) / "bin" / "roomctl")
    host.run([roomctl, "backup", "--config", str(host.path(opts.config_path))], user=SERVICE_USER)


def switch_venv(host: Host, venv: Path) -> Path | None:
    """Point ``<prefix>/venv`` at ``venv`` atomically; return the environment it pointed at before."""
    link = host.path(host.options.prefix / "venv")
    previous = Path(os.readlink(link)) if link.is_symlink() else None
    host.step(f"switching {link} to {venv.name}")
    host.run(["systemctl", "stop", "roomctl.service"], system=True, check=False)
    host.echo(f"    ln -sfn {host.path(venv)} {link}")
    if not host.options.dry_run:
        _point(link, host.path(venv))
    return previous


def _point(link: Path, target: Path) -> None:
    staged = link.with_name(f".{link.name}.new")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target)
    os.replace(staged, link)


def migrate(host: Host, previous: Path | None) -> None:
    """Run the migrations with the new version; on failure go back to the previous environment."""
    opts = host.options
    host.step("migrating the database")
    roomctl = str(host.path(opts.prefix / "venv") / "bin" / "roomctl")
    try:
        host.run([roomctl, "migrate", "--config", str(host.path(opts.config_path))], user=SERVICE_USER)
    except StateError as exc:
        if previous is not None:
            _point(host.path(opts.prefix / "venv"), previous)
            host.run(["systemctl", "start", "roomctl.service"], system=True, check=False)
        raise StateError(
            f"the migration failed, so the previous version is back in place: {exc.detail}. The database was "
            f"backed up to {host.path(opts.data_dir) / 'backups'} before the upgrade (`roomctl restore ARCHIVE`)"
        ) from None


def kiosk_token(host: Host) -> None:
    """Give the projector page and the player a kiosk token, once (``/etc/roomctl/kiosk.env``, kiosk-readable)."""
    opts = host.options
    env_file = opts.config_path.parent / KIOSK_ENV_NAME
    if host.path(env_file).exists():
        host.echo(f"    keep {host.path(env_file)}")
        return
    host.step("creating the kiosk token")
    roomctl = str(host.path(opts.prefix / "venv") / "bin" / "roomctl")
    cmd = [roomctl, "token", "create", "--role", "kiosk", "--label", "kiosk", "--config", str(host.path(opts.config_path))]
    result = host.run(cmd, user=SERVICE_USER)
    token = result.stdout.strip() if result is not None else ""
    host.write(env_file, f"ROOMCTL_KIOSK_TOKEN={token}\n", 0o640, "root", KIOSK_USER)


def install_units(host: Host) -> None:
    """Copy the unit files, add the kiosk player's runtime-dir drop-in, enable and (re)start the units."""
    opts = host.options
    host.step("installing the systemd units")
    for unit in UNITS:
        text = (opts.source / "systemd" / unit).read_text(encoding="utf-8")
        host.write(UNIT_DIR / unit, text, 0o644)
    drop_in = UNIT_DIR / "roomctl-kiosk-player.service.d" / "runtime-dir.conf"
    if host.system and user_exists(KIOSK_USER):
        uid = pwd.getpwnam(KIOSK_USER).pw_uid
        text = f"# Written by roomctl install: where the kiosk compositor's Wayland socket is.\n[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/{uid}\n"
        host.write(drop_in, text, 0o644)
    elif host.system:
        host.echo(f"    write {drop_in} (Environment=XDG_RUNTIME_DIR=/run/user/<uid of {KIOSK_USER}>)")
    else:
        host.note(f"skipped (--root): {drop_in} needs the uid of the user {KIOSK_USER}")
    if shutil.which("raspi-config") and host.system:
        # The PN532 on the UART needs the serial port without a login console; I2C for a PN532 on I2C.
        host.run(["raspi-config", "nonint", "do_serial_cons", "1"], system=True)
        host.run(["raspi-config", "nonint", "do_serial_hw", "0"], system=True)
        host.run(["raspi-config", "nonint", "do_i2c", "0"], system=True)
    host.run(["systemctl", "daemon-reload"], system=True)
    host.run(["systemctl", "enable", *ENABLED_UNITS], system=True)
    if opts.start:
        host.run(["systemctl", "restart", *RESTARTED_UNITS], system=True)


def prune_venvs(host: Host, current: Path) -> None:
    """Delete environments beyond ``keep_venvs`` (never the current one)."""
    directory = host.path(host.options.prefix / "venvs")
    if not directory.is_dir():
        return
    others = sorted((p for p in directory.iterdir() if p.name != current.name), key=lambda p: p.name)
    for old in others[: max(len(others) - (host.options.keep_venvs - 1), 0)]:
        host.echo(f"    rm -r {old}")
        if not host.options.dry_run:
            shutil.rmtree(old)


def install(options: InstallOptions, echo: Callable[[str], None] = print, now: datetime | None = None) -> Path:
    """Install or upgrade roomctl; return the environment now in use.

    Raises:
        StateError: Not a Debian system, not root, a package is missing, a command failed, another install runs.
        ConfigError: The existing configuration does not fit the new version (nothing was switched).
        StorageError: Not enough free space.
    """
    host = Host(options, echo)
    if options.root is not None:
        host.note(f"--root {options.root}: files go there; apt, user accounts and systemctl are skipped")
    if options.dry_run:
        host.note("--dry-run: nothing is changed")
    preflight(host)
    with install_lock(host) if not options.dry_run else no_lock():
        install_packages(host)
        create_accounts(host)
        create_directories(host)
        venv = build_venv(host, _venv_name((now or datetime.now(UTC)).astimezone(UTC)))
        try:
            configure(host, venv)
            install_model(host, venv)
            build_deidentifier(host, venv)
            backup_before_upgrade(host, venv)
        except BaseException:
            if not options.dry_run:
                shutil.rmtree(host.path(venv), ignore_errors=True)
            raise
        previous = switch_venv(host, venv)
        try:
            migrate(host, previous)
        except StateError:
            if previous is not None and not options.dry_run:
                shutil.rmtree(host.path(venv), ignore_errors=True)
            raise
        kiosk_token(host)
        install_units(host)
        prune_venvs(host, venv)
    host.step(f"done: roomctl {__version__} in {host.path(options.prefix / 'venv')}")
    return host.path(venv)
