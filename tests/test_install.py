"""`roomctl install`: the dry-run plan, a real run into a temporary root, upgrades, and clear refusals.

The run into a root builds real virtual environments and pip-installs into them, offline, from a small stand-in
project named roomctl whose `roomctl` command records how the installer calls it (the real package would need
~500 MB of dependencies per run). The unit files installed are the real ones from systemd/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from roomctl.errors import ConfigError, StateError, StorageError, ValidationError
from roomctl.ops.cli import install_command
from roomctl.ops.host import LOCK_FILE, Host, InstallOptions, install_lock
from roomctl.ops.install import CREDENTIALS, UNITS, install

CHECKOUT = Path(__file__).resolve().parent.parent

FAKE_PYPROJECT = """
[build-system]
requires = []
build-backend = "fakebackend"
backend-path = ["."]

[project]
name = "roomctl"
version = "0.0.1"
"""

# A PEP 517 backend in a few lines, so pip builds the stand-in offline with nothing to download.
FAKE_BACKEND = '''
import base64, hashlib, zipfile
from pathlib import Path

DIST = "roomctl-0.0.1.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    root = Path(__file__).parent
    files = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in sorted((root / "roomctl").rglob("*.py"))]
    files += [
        (DIST + "/METADATA", b"Metadata-Version: 2.1\\nName: roomctl\\nVersion: 0.0.1\\nProvides-Extra: pi\\n"),
        (DIST + "/WHEEL", b"Wheel-Version: 1.0\\nGenerator: fake\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"),
        (DIST + "/entry_points.txt", b"[console_scripts]\\nroomctl = roomctl.fakecli:main\\n"),
    ]
    record = []
    name = "roomctl-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as wheel:
        for path, data in files:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            wheel.writestr(path, data)
        wheel.writestr(DIST + "/RECORD", "\\n".join(record + [DIST + "/RECORD,,"]) + "\\n")
    return name
'''

FAKE_CLI = '''
import json, os, sys
from pathlib import Path


def record(argv):
    with open(os.environ["FAKE_ROOMCTL_LOG"], "a") as log:
        log.write(json.dumps({"argv": argv, "data_dir": os.environ.get("ROOMCTL_STORAGE__DATA_DIR")}) + "\\n")


def main():
    argv = sys.argv[1:]
    record(argv)
    if argv[0] == "init":
        Path(argv[argv.index("--config") + 1]).write_text('[room]\\nname = "Leerruimte"\\n')
    if argv[0] == "token":
        print("rct_faketoken")
    if argv[0] == "migrate" and os.environ.get("FAKE_MIGRATE_FAIL"):
        sys.exit("migration core_0009 failed: no such table")
'''

FAKE_CHECK = '''
import sys
from pathlib import Path
from roomctl.fakecli import record

argv = sys.argv[1:]
record(["ops", *argv])
if "broken" in Path(argv[argv.index("--config") + 1]).read_text():
    sys.exit("invalid configuration: room.nme: Extra inputs are not permitted")
'''


@pytest.fixture(scope="module")
def fake_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("source")
    (src / "pyproject.toml").write_text(FAKE_PYPROJECT)
    (src / "fakebackend.py").write_text(FAKE_BACKEND)
    (src / "roomctl" / "ops").mkdir(parents=True)
    (src / "roomctl" / "__init__.py").write_text("")
    (src / "roomctl" / "fakecli.py").write_text(FAKE_CLI)
    (src / "roomctl" / "ops" / "__init__.py").write_text("")
    (src / "roomctl" / "ops" / "__main__.py").write_text(FAKE_CHECK)
    shutil.copytree(CHECKOUT / "systemd", src / "systemd")
    return src


@pytest.fixture()
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_ROOMCTL_LOG", str(log))
    monkeypatch.delenv("FAKE_MIGRATE_FAIL", raising=False)
    return log


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line)["argv"][:3] for line in log.read_text().splitlines()]


def _options(source: Path, root: Path) -> InstallOptions:
    return InstallOptions(
        source=source, root=root, python=sys.executable, pip_args=("--no-index",)
    )


def _at(hour: int) -> datetime:
    return datetime(2026, 11, 29, hour, 0, tzinfo=UTC)


def test_dry_run_prints_the_plan_and_changes_nothing() -> None:
    result = CliRunner().invoke(install_command, ["--dry-run", "--source", str(CHECKOUT)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "apt-get install -y --no-install-recommends" in out
    for package in ("mosquitto", "vlc-bin", "chromium", "cage", "libportaudio2"):
        assert f" {package}" in out
    assert "useradd --system --user-group --home-dir /var/lib/roomctl --shell /usr/sbin/nologin roomctl" in out
    assert "usermod --append --groups gpio,i2c,dialout,audio,input roomctl" in out
    assert "usermod --append --groups video,render,audio,input kiosk" in out
    assert "install -d -m 0750 -o roomctl -g roomctl /var/lib/roomctl" in out
    assert "-m venv /opt/roomctl/venvs/roomctl-" in out
    assert f"pip install --upgrade '{CHECKOUT}[pi]'" in out
    assert "roomctl init --config /etc/roomctl/roomctl.toml" in out
    assert "roomctl models install base" in out
    assert "roomctl deidentify build --quiet" in out
    assert "roomctl migrate --config /etc/roomctl/roomctl.toml" in out
    assert "write /etc/systemd/system/roomctl.service" in out
    assert "systemctl enable mosquitto.service roomctl.service roomctl-kiosk.service roomctl-backup.timer" in out
    assert not Path("/etc/roomctl").exists()
    assert not Path("/opt/roomctl").exists()
    assert not Path("/etc/systemd/system/roomctl.service").exists()


def test_install_into_a_root_then_upgrade(fake_source: Path, calls: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    lines: list[str] = []
    first = install(_options(fake_source, root), echo=lines.append, now=_at(10))
    out = "\n".join(lines)
    assert "skipped (--root)" in out
    link = root / "opt/roomctl/venv"
    assert link.is_symlink() and link.resolve() == first.resolve()
    assert (link / "bin" / "roomctl").exists()
    config = root / "etc/roomctl/roomctl.toml"
    assert config.read_text() == '[room]\nname = "Leerruimte"\n'
    assert config.stat().st_mode & 0o777 == 0o640
    for name in CREDENTIALS:
        credential = root / "etc/roomctl/credentials" / name
        assert credential.read_text() == ""
        assert credential.stat().st_mode & 0o777 == 0o600
    assert (root / "etc/roomctl/credentials").stat().st_mode & 0o777 == 0o700
    assert (root / "var/lib/roomctl/backups").is_dir()
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_text() == (CHECKOUT / "systemd" / unit).read_text()
    assert _calls(calls) == [
        ["init", "--config", str(config)],
        ["models", "install", "base"],
        ["deidentify", "build", "--quiet"],
        ["migrate", "--config", str(config)],
        ["token", "create", "--role"],
    ]
    kiosk_env = root / "etc/roomctl/kiosk.env"
    assert kiosk_env.read_text() == "ROOMCTL_KIOSK_TOKEN=rct_faketoken\n"
    assert kiosk_env.stat().st_mode & 0o777 == 0o640
    data_dirs = {json.loads(line)["data_dir"] for line in calls.read_text().splitlines()}
    assert data_dirs == {str(root / "var/lib/roomctl")}, "commands under --root must use the root's data dir"

    # The room is configured and used; then the install runs again: an upgrade in place.
    config.write_text('[room]\nname = "Leerruimte 2.14"\n')
    (root / "etc/roomctl/credentials/mqtt_password").write_text("s3cret")
    (root / "var/lib/roomctl/roomctl.db").write_bytes(b"pretend database")
    calls.unlink()
    second = install(_options(fake_source, root), echo=lines.append, now=_at(11))
    assert second != first
    assert link.resolve() == second.resolve()
    assert first.exists(), "the previous environment is kept for a rollback"
    assert config.read_text() == '[room]\nname = "Leerruimte 2.14"\n'
    assert (root / "etc/roomctl/credentials/mqtt_password").read_text() == "s3cret"
    assert _calls(calls) == [
        ["ops", "check-config", "--config"],
        ["models", "install", "base"],
        ["deidentify", "build", "--quiet"],
        ["backup", "--config", str(config)],
        ["migrate", "--config", str(config)],
    ]

    # A config the new version does not accept: refused before anything is switched.
    config.write_text('[room]\nbroken = "yes"\n')
    with pytest.raises(ConfigError, match=r"room\.nme: Extra inputs"):
        install(_options(fake_source, root), echo=lines.append, now=_at(12))
    assert link.resolve() == second.resolve()
    assert sorted(p.name for p in (root / "opt/roomctl/venvs").iterdir()) == sorted([first.name, second.name])

    # A failing migration puts the previous environment back.
    config.write_text('[room]\nname = "Leerruimte"\n')
    os.environ["FAKE_MIGRATE_FAIL"] = "1"
    try:
        with pytest.raises(StateError, match="previous version is back in place"):
            install(_options(fake_source, root), echo=lines.append, now=_at(13))
    finally:
        del os.environ["FAKE_MIGRATE_FAIL"]
    assert link.resolve() == second.resolve()

    # The next good run prunes down to two environments.
    third = install(_options(fake_source, root), echo=lines.append, now=_at(14))
    assert sorted(p.name for p in (root / "opt/roomctl/venvs").iterdir()) == sorted([second.name, third.name])


def test_refuses_a_system_that_is_not_debian(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nPRETTY_NAME="Fedora Linux 41"\n')
    lines: list[str] = []
    options = InstallOptions(source=CHECKOUT, os_release=release, prefix=tmp_path / "opt")
    with pytest.raises(StateError, match="this is Fedora Linux 41; `roomctl install` supports Raspberry Pi OS"):
        install(options, echo=lines.append)
    assert not any("$ " in line for line in lines)
    assert not (tmp_path / "opt").exists()


def test_a_missing_apt_package_is_named_before_anything_is_installed() -> None:
    options = InstallOptions(source=CHECKOUT, dry_run=True, apt_packages=("mosquitto", "roomctl-no-such-package"))
    lines: list[str] = []
    with pytest.raises(StateError, match=r"not available: roomctl-no-such-package\. Nothing was installed"):
        install(options, echo=lines.append)
    assert not any("apt-get install" in line for line in lines)


def test_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a roomctl checkout"):
        install(InstallOptions(source=tmp_path, root=tmp_path / "root"), echo=lambda _: None)


def test_a_full_card_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = shutil._ntuple_diskusage(total=16 * 2**30, used=16 * 2**30 - 2**28, free=2**28)  # type: ignore[attr-defined]
    monkeypatch.setattr("roomctl.ops.install.shutil.disk_usage", lambda _: full)
    with pytest.raises(StorageError, match="256 MB free"):
        install(InstallOptions(source=CHECKOUT, root=tmp_path / "root"), echo=lambda _: None)
    assert not (tmp_path / "root" / "opt").exists()


def test_two_installs_at_once_are_refused(tmp_path: Path) -> None:
    options = InstallOptions(source=CHECKOUT, root=tmp_path / "root")
    with install_lock(Host(options, lambda _: None)), pytest.raises(StateError, match="another roomctl install"):
        install(options, echo=lambda _: None)
    assert (tmp_path / "root" / LOCK_FILE.relative_to("/")).exists()


def test_the_bootstrap_script_is_valid_sh() -> None:
    script = CHECKOUT / "systemd" / "install.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "-m roomctl.ops install --source" in script.read_text()
