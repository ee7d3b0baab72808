"""The doctor's Pi checks: right on this machine (not a Pi), and each failure says what to do."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from roomctl.config import Settings, load_settings
from roomctl.ops import pi_checks
from roomctl.ops.pi_checks import (
    EARLIEST_PLAUSIBLE,
    check_audio,
    check_clock,
    check_disk,
    check_display,
    check_keypad,
    check_pin_factory,
    check_reader,
    is_raspberry_pi,
    run_pi_checks,
)


def _settings(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    return load_settings(None, overrides={"storage": {"data_dir": str(tmp_path / "data")}, **sections})


@pytest.fixture()
def pi_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    return model


def test_this_machine_is_not_a_pi_and_every_check_says_so_plainly(tmp_path: Path) -> None:
    assert is_raspberry_pi() is None
    results = run_pi_checks(_settings(tmp_path, gpio={"factory": "lgpio"}, reader={"kind": "pn532_uart"}))
    assert [name for name, _, _ in results] == ["clock", "disk", "pin factory", "reader", "audio", "display"]
    by_name = {name: (ok, message) for name, ok, message in results}
    assert by_name["disk"][0] is True
    for name in ("pin factory", "reader", "display"):
        ok, message = by_name[name]
        assert not ok
        assert "not a Raspberry Pi" in message, name


def test_a_pi_model_is_recognised(pi_model: Path, tmp_path: Path) -> None:
    assert is_raspberry_pi(pi_model) == "Raspberry Pi 5 Model B Rev 1.0"
    other = tmp_path / "other"
    other.write_text("QEMU Virtual Machine")
    assert is_raspberry_pi(other) is None


def test_clock_far_off_after_a_power_cut(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    marker = tmp_path / "timesync-clock"
    marker.touch()
    written = time.time()
    os.utime(marker, (written, written))
    name, ok, message = check_clock(
        settings, now=written - 3 * 3600, synchronized=lambda: None, reference_files=[marker]
    )
    assert (name, ok) == ("clock", False)
    assert "180 min behind" in message and "timedatectl set-ntp true" in message
    assert check_clock(settings, now=written + 5, synchronized=lambda: None, reference_files=[marker])[1]


def test_clock_before_any_plausible_date(tmp_path: Path) -> None:
    _, ok, message = check_clock(_settings(tmp_path), now=EARLIEST_PLAUSIBLE - 86400 * 400, synchronized=lambda: True)
    assert not ok
    assert "2024-" in message and "which is wrong" in message


def test_clock_not_synchronised(tmp_path: Path) -> None:
    _, ok, message = check_clock(_settings(tmp_path), synchronized=lambda: False, reference_files=[])
    assert not ok and "not synchronised" in message
    assert check_clock(_settings(tmp_path), synchronized=lambda: True, reference_files=[]) == (
        "clock",
        True,
        "synchronised with NTP",
    )


def test_a_full_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = shutil._ntuple_diskusage(total=32 * 2**30, used=32 * 2**30 - 2**20 * 40, free=2**20 * 40)  # type: ignore[attr-defined]
    monkeypatch.setattr(pi_checks.shutil, "disk_usage", lambda _: full)
    name, ok, message = check_disk(_settings(tmp_path))
    assert (name, ok) == ("disk", False)
    assert message.startswith("40 MB free") and "backups" in message


def test_display(tmp_path: Path, pi_model: Path) -> None:
    drm = tmp_path / "drm"
    (drm / "card1-HDMI-A-1").mkdir(parents=True)
    (drm / "card1-HDMI-A-1" / "status").write_text("disconnected\n")
    _, ok, message = check_display(drm_dir=drm, model_file=pi_model)
    assert not ok and "HDMI 0" in message
    (drm / "card1-HDMI-A-1" / "status").write_text("connected\n")
    assert check_display(drm_dir=drm, model_file=pi_model) == ("display", True, "connected: card1-HDMI-A-1")


def test_audio(tmp_path: Path) -> None:
    asound, snd = tmp_path / "asound", tmp_path / "snd"
    asound.mkdir()
    snd.mkdir()
    (asound / "cards").write_text(" 0 [vc4hdmi0      ]: vc4-hdmi - vc4-hdmi-0\n                      vc4-hdmi-0\n")
    (snd / "pcmC0D0p").touch()
    _, ok, message = check_audio(asound_dir=asound, snd_dir=snd)
    assert not ok and "none can record" in message
    (snd / "pcmC1D0c").touch()
    _, ok, message = check_audio(asound_dir=asound, snd_dir=snd)
    assert ok and "pcmC1D0c" in message


def test_reader(tmp_path: Path, pi_model: Path) -> None:
    assert check_reader(_settings(tmp_path))[1] is True  # simulated
    serial = tmp_path / "serial0"
    settings = _settings(tmp_path, reader={"kind": "pn532_uart", "device": str(serial)})
    _, ok, message = check_reader(settings, model_file=pi_model)
    assert not ok and "do_serial_hw 0" in message and "not a Raspberry Pi" not in message
    serial.touch()
    _, ok, message = check_reader(settings, model_file=pi_model)
    assert ok and str(serial) in message
    esphome = _settings(tmp_path, reader={"kind": "esphome"})
    assert check_reader(esphome)[1] is False


def test_keypad(tmp_path: Path) -> None:
    assert check_keypad(_settings(tmp_path)) is None, "no keypad configured: nothing to check"
    keypad = tmp_path / "usb-keypad-event-kbd"
    settings = _settings(tmp_path, reader={"keypad_device": str(keypad)})
    name, ok, message = check_keypad(settings) or ("", True, "")
    assert name == "keypad" and not ok and "plug in the USB keypad" in message
    keypad.touch()
    name, ok, message = check_keypad(settings) or ("", False, "")
    assert ok and str(keypad) in message


def test_pin_factory(tmp_path: Path, pi_model: Path) -> None:
    assert check_pin_factory(_settings(tmp_path))[1] is True  # mock
    real = _settings(tmp_path, gpio={"factory": "lgpio"})
    _, ok, message = check_pin_factory(real, chips=[], model_file=pi_model)
    assert not ok
    assert "lgpio is not installed" in message or "no /dev/gpiochip" in message
