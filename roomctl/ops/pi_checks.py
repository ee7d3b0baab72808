"""Checks of the Raspberry Pi under the room, for ``roomctl doctor``.

Each check returns ``(name, ok, message)``; a failed check's message says what is wrong and how to fix it.
Off a Pi (a laptop running the demo, CI) the hardware checks say "not a Raspberry Pi" instead of failing
in a confusing way; :func:`is_raspberry_pi` lets the doctor decide whether to run them at all.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from roomctl.config import Settings

CheckResult = tuple[str, bool, str]

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
TIMESYNC_CLOCK = Path("/var/lib/systemd/timesync/clock")
"""systemd-timesyncd touches this file at every synchronisation: its mtime is a time the clock was right."""
EARLIEST_PLAUSIBLE = 1_767_225_600  # 2026-01-01T00:00:00Z: a clock before this has certainly lost the time
CLOCK_TOLERANCE_SECONDS = 120
MIN_FREE_BYTES = 500 * 2**20
TIMEDATECTL_TIMEOUT_SECONDS = 5
MB = 2**20


def is_raspberry_pi(model_file: Path = DEVICE_TREE_MODEL) -> str | None:
    """The Pi's model (``Raspberry Pi 5 Model B Rev 1.0``), or ``None`` when this is not a Raspberry Pi."""
    try:
        model = model_file.read_bytes().rstrip(b"\x00").decode(errors="replace").strip()
    except OSError:
        return None
    return model if model.startswith("Raspberry Pi") else None


def _not_a_pi(what: str) -> str:
    return f"not a Raspberry Pi (no Pi model in {DEVICE_TREE_MODEL}): {what} is only checked on the Pi"


def _ntp_synchronized() -> bool | None:
    timedatectl = shutil.which("timedatectl")
    if timedatectl is None:
        return None
    try:
        result = subprocess.run(
            [timedatectl, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=TIMEDATECTL_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip()
    return {"yes": True, "no": False}.get(value) if result.returncode == 0 else None


def check_clock(
    settings: Settings,
    *,
    now: float | None = None,
    synchronized: Callable[[], bool | None] = _ntp_synchronized,
    reference_files: Sequence[Path] | None = None,
) -> CheckResult:
    """Is the clock right? A Pi without an RTC battery wakes up after a power cut at the last saved time.

    Asks systemd (``timedatectl``) whether NTP synchronised the clock; where it cannot tell, compares the
    clock with the newest of files written when the clock was right (timesyncd's marker, the database).
    """
    name = "clock"
    current = time.time() if now is None else now
    fix = (
        "bookings and door decisions depend on it: check the network, `sudo timedatectl set-ntp true`, "
        "point /etc/systemd/timesyncd.conf at the organisation's NTP server, or fit the Pi 5's RTC battery"
    )
    if current < EARLIEST_PLAUSIBLE:
        return name, False, f"the clock says {time.strftime('%Y-%m-%d', time.gmtime(current))}, which is wrong; {fix}"
    state = synchronized()
    if state is False:
        return name, False, f"the clock is not synchronised with NTP; {fix}"
    files = reference_files if reference_files is not None else [TIMESYNC_CLOCK, settings.storage.database_path]
    times = [p.stat().st_mtime for p in files if p.exists()]
    if times and current < max(times) - CLOCK_TOLERANCE_SECONDS:
        behind = int(max(times) - current)
        return name, False, f"the clock is {behind // 60} min behind a file written earlier (power cut?); {fix}"
    if state is True:
        return name, True, "synchronised with NTP"
    return name, True, "plausible (systemd cannot say whether NTP synchronised it here)"


def check_disk(settings: Settings, *, min_free: int = MIN_FREE_BYTES) -> CheckResult:
    """Is there room on the card for the database, recordings and backups?"""
    path = settings.storage.data_dir
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    message = f"{usage.free // MB} MB free of {usage.total // MB} MB on {path}"
    if usage.free < min_free:
        return "disk", False, (
            f"{message}: the database and recordings need room; delete old backups in "
            f"{settings.storage.data_dir / 'backups'}, lower [backup] keep, `sudo apt clean`, or use a larger card"
        )
    return "disk", True, message


def check_display(*, drm_dir: Path = Path("/sys/class/drm"), model_file: Path = DEVICE_TREE_MODEL) -> CheckResult:
    """Is a screen or projector connected to an HDMI output (a DRM connector with status ``connected``)?"""
    connectors = sorted(drm_dir.glob("card*-*/status")) if drm_dir.is_dir() else []
    connected = [p.parent.name for p in connectors if p.read_text().strip() == "connected"]
    if connected:
        return "display", True, f"connected: {', '.join(connected)}"
    if is_raspberry_pi(model_file) is None and not connectors:
        return "display", False, _not_a_pi("the projector output")
    return "display", False, (
        "no screen is connected to an HDMI port: plug the projector into HDMI 0 (next to USB-C power) and "
        "switch it on, then `sudo systemctl restart roomctl-kiosk`"
    )


def check_audio(
    *, asound_dir: Path = Path("/proc/asound"), snd_dir: Path = Path("/dev/snd"), model_file: Path = DEVICE_TREE_MODEL
) -> CheckResult:
    """Is there an ALSA sound card with a capture device (the room's microphone)?"""
    cards_file = asound_dir / "cards"
    cards = cards_file.read_text() if cards_file.exists() else ""
    names = [line.split("]:", 1)[1].strip() for line in cards.splitlines() if "]:" in line]
    captures = sorted(p.name for p in snd_dir.glob("pcmC*D*c")) if snd_dir.is_dir() else []
    if captures:
        return "audio", True, f"capture devices {', '.join(captures)} ({'; '.join(names)})"
    if not names:
        hint = f" ({_not_a_pi('the microphone')})" if is_raspberry_pi(model_file) is None else ""
        return "audio", False, (
            f"no sound card: plug in the USB microphone (the Pi has no microphone input) and check `arecord -l`{hint}"
        )
    return "audio", False, (
        f"sound cards ({'; '.join(names)}) but none can record: plug in a USB microphone; `arecord -l` lists them"
    )


def check_reader(settings: Settings, *, model_file: Path = DEVICE_TREE_MODEL) -> CheckResult:
    """Is the NFC reader's device there and usable by this user?"""
    reader = settings.reader
    if reader.kind == "simulated":
        return "reader", True, "simulated reader (set [reader] kind for the real one at the door)"
    if reader.kind == "esphome":
        if not reader.esphome_topic:
            return "reader", False, "[reader] kind = esphome needs [reader] esphome_topic (the node's tag topic)"
        return "reader", True, f"ESPHome reader node on MQTT topic {reader.esphome_topic}"
    if reader.kind == "pn532_i2c":
        buses = sorted(glob.glob("/dev/i2c-*"))
        if not buses:
            hint = " " + _not_a_pi("I2C") if is_raspberry_pi(model_file) is None else ""
            return "reader", False, f"no I2C bus: `sudo raspi-config nonint do_i2c 0` and reboot.{hint}"
        return _device_access("reader", Path(buses[0]), "i2c")
    device = Path(reader.device)
    if not device.exists():
        if reader.kind == "pn532_uart":
            hint = " " + _not_a_pi("the UART") if is_raspberry_pi(model_file) is None else ""
            return "reader", False, (
                f"{device} does not exist: enable the UART without a login console (`sudo raspi-config nonint "
                f"do_serial_hw 0` and `do_serial_cons 1`), reboot, and wire the PN532 to GPIO 14/15.{hint}"
            )
        return "reader", False, f"{device} does not exist: plug in the USB reader; `ls /dev/input/by-id` lists it"
    return _device_access("reader", device, "dialout" if reader.kind == "pn532_uart" else "input")


def check_keypad(settings: Settings) -> CheckResult | None:
    """Is the keypad for guests' door codes there and readable? ``None`` when none is configured."""
    if not settings.reader.keypad_device:
        return None
    device = Path(settings.reader.keypad_device)
    if not device.exists():
        return "keypad", False, f"{device} does not exist: plug in the USB keypad; `ls /dev/input/by-id` lists it"
    return _device_access("keypad", device, "input")


def _device_access(name: str, device: Path, group: str) -> CheckResult:
    if not os.access(device, os.R_OK | os.W_OK):
        return name, False, f"{device} exists but this user cannot use it: add it to the group {group}"
    return name, True, f"{device.resolve()} present"


def check_pin_factory(
    settings: Settings, *, chips: Sequence[str] | None = None, model_file: Path = DEVICE_TREE_MODEL
) -> CheckResult:
    """Can gpiozero drive the real pins (lgpio importable, /dev/gpiochip* present and accessible)?"""
    if settings.gpio.factory == "mock":
        return "pin factory", True, "mock pins: the door, LEDs and sensors are simulated ([gpio] factory = mock)"
    found = list(chips) if chips is not None else sorted(glob.glob("/dev/gpiochip*"))
    if not found and is_raspberry_pi(model_file) is None:
        return "pin factory", False, _not_a_pi("GPIO") + "; set [gpio] factory = mock to simulate the pins"
    if importlib.util.find_spec("lgpio") is None:
        return "pin factory", False, "lgpio is not installed: `sudo roomctl install` (installs the pi extras)"
    if not found:
        return "pin factory", False, "no /dev/gpiochip*: update the kernel (`sudo apt full-upgrade`) and reboot"
    usable = [c for c in found if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return "pin factory", False, f"{', '.join(found)} not usable by this user: add it to the group gpio"
    return "pin factory", True, f"lgpio on {', '.join(usable)}"


def run_pi_checks(settings: Settings) -> list[CheckResult]:
    """Every Pi check, in the order the doctor shows them."""
    return [
        check_clock(settings),
        check_disk(settings),
        check_pin_factory(settings),
        check_reader(settings),
        check_audio(),
        check_display(),
    ]
