"""The unit files in systemd/: `systemd-analyze verify` must be silent and roomctl.service must stay hardened.

`systemd-analyze verify` refuses an ExecStart binary that does not exist, so each test copies the units into a
temporary directory and points every executable that is not on this machine (the venv's roomctl, cage) at a
real executable script there. Everything else is verified exactly as shipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNITS = sorted(p.name for p in SYSTEMD_DIR.iterdir() if p.suffix in {".service", ".timer"})

SECURITY_THRESHOLD = 20
"""`systemd-analyze security --threshold` for roomctl.service: overall exposure at most 2.0 of 10."""

PLAYER_THRESHOLD = 40
"""The kiosk player (a libvlc Wayland client) may be a little more exposed: at most 4.0."""

EXEC_KEYS = ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecStopPost", "ExecReload")


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail(
            "systemd-analyze is missing: install the Debian package `systemd` (listed in .ci/apt-packages) "
            "with `apt-get install -y --no-install-recommends systemd`"
        )
    return path


def _executables(text: str) -> set[str]:
    found: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in EXEC_KEYS and value.strip():
            found.add(value.strip().lstrip("-@:+!").split()[0])
    return found


@pytest.fixture()
def unit_copy(tmp_path: Path) -> Path:
    """The units with every missing executable replaced by a real script in tmp_path/bin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in UNITS:
        text = (SYSTEMD_DIR / name).read_text(encoding="utf-8")
        for exe in _executables(text):
            if Path(exe).is_file():
                continue
            stand_in = bin_dir / Path(exe).name
            stand_in.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
            stand_in.chmod(0o755)
            text = text.replace(exe, str(stand_in))
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_every_unit_is_shipped() -> None:
    assert set(UNITS) >= {
        "roomctl.service",
        "roomctl-kiosk.service",
        "roomctl-kiosk-player.service",
        "roomctl-backup.service",
        "roomctl-backup.timer",
    }


@pytest.mark.parametrize("unit", UNITS)
def test_unit_verifies_without_a_warning(unit_copy: Path, unit: str) -> None:
    analyze = _systemd_analyze()
    result = subprocess.run(
        [analyze, "verify", str(unit_copy / unit)], capture_output=True, text=True, cwd=unit_copy, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"systemd-analyze verify {unit} warned:\n{result.stderr}"


def test_verify_would_catch_a_mistake(unit_copy: Path) -> None:
    """The check above can fail: a misspelt key is reported on stderr."""
    analyze = _systemd_analyze()
    broken = unit_copy / "roomctl.service"
    broken.write_text(broken.read_text(encoding="utf-8").replace("PrivateTmp=yes", "PrivateTemp=yes"))
    result = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "PrivateTemp" in result.stderr


def _exposure(analyze: str, unit: Path, threshold: int) -> tuple[int, float, str]:
    result = subprocess.run(
        [analyze, "security", "--offline=yes", f"--threshold={threshold}", str(unit)],
        capture_output=True,
        text=True,
        cwd=unit.parent,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    return result.returncode, float(match.group(1)), result.stdout


def test_roomctl_service_is_hardened(unit_copy: Path) -> None:
    analyze = _systemd_analyze()
    rc, exposure, report = _exposure(analyze, unit_copy / "roomctl.service", SECURITY_THRESHOLD)
    assert rc == 0, f"exposure {exposure} is above {SECURITY_THRESHOLD / 10}:\n{report}"
    assert exposure <= SECURITY_THRESHOLD / 10


def test_security_threshold_bites(unit_copy: Path) -> None:
    """Dropping the hardening pushes the exposure over the threshold and the command fails."""
    analyze = _systemd_analyze()
    unit = unit_copy / "roomctl.service"
    kept = [
        line
        for line in unit.read_text(encoding="utf-8").splitlines()
        if not line.startswith(("Protect", "Private", "Restrict", "SystemCall", "Capability", "NoNewPriv"))
    ]
    unit.write_text("\n".join(kept) + "\n", encoding="utf-8")
    rc, exposure, _ = _exposure(analyze, unit, SECURITY_THRESHOLD)
    assert rc != 0
    assert exposure > SECURITY_THRESHOLD / 10


@pytest.mark.parametrize(
    ("unit", "threshold"),
    [("roomctl-backup.service", SECURITY_THRESHOLD), ("roomctl-kiosk-player.service", PLAYER_THRESHOLD)],
)
def test_helper_units_are_hardened(unit_copy: Path, unit: str, threshold: int) -> None:
    analyze = _systemd_analyze()
    rc, exposure, report = _exposure(analyze, unit_copy / unit, threshold)
    assert rc == 0, f"{unit}: exposure {exposure} is above {threshold / 10}:\n{report}"


def test_service_contract() -> None:
    """The settings the watchdog, the secrets and the devices rely on are in place."""
    text = (SYSTEMD_DIR / "roomctl.service").read_text(encoding="utf-8")
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    assert settings["Type"] == ["notify"]
    assert settings["WatchdogSec"] == ["20s"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["User"] == ["roomctl"]
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["CapabilityBoundingSet"] == [""]
    assert settings["SupplementaryGroups"] == ["gpio i2c dialout audio input"]
    assert {v.split(":")[0] for v in settings["LoadCredential"]} == {"anthropic_api_key", "mqtt_password", "badge_master_key", "openai_api_key"}
    assert {v.split()[0] for v in settings["DeviceAllow"]} == {
        "char-gpiochip",
        "char-i2c",
        "char-ttyAMA",
        "char-ttyUSB",
        "char-ttyACM",
        "char-alsa",
        "char-input",
    }
    kiosk = (SYSTEMD_DIR / "roomctl-kiosk.service").read_text(encoding="utf-8")
    assert "http://127.0.0.1:8080/kiosk" in kiosk
    assert "User=kiosk" in kiosk
    player = (SYSTEMD_DIR / "roomctl-kiosk-player.service").read_text(encoding="utf-8")
    assert "roomctl-kiosk-player" in player
    assert "User=kiosk" in player
    timer = (SYSTEMD_DIR / "roomctl-backup.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer
