"""Drivers against their firmware conventions: topics, encoding, decoding, availability, malformed input."""

from __future__ import annotations

import contextlib
import json
import random

import pytest

from roomctl.devices.drivers import DRIVERS, MalformedPayloadError, make_driver, make_emulation
from roomctl.devices.settings import DeviceSettings
from roomctl.errors import ConfigError

ADDRESS = {
    "zigbee2mqtt": {"friendly_name": "room/dev"},
    "tasmota": {"topic": "dev"},
    "esphome": {"topic": "node", "entity": "thing"},
    "shelly_gen2": {"topic": "shelly-dev"},
    "generic_json": {"topic": "generic/dev"},
}
TARGETS = {
    "light": [{"on": True}, {"on": False}],
    "dimmer": [{"on": True, "brightness": 40}, {"on": True, "brightness": 100}, {"on": False}],
    "plug": [{"on": True}, {"on": False}],
    "projector": [{"on": True}],
    "fan": [{"on": True}, {"on": False}],
    "blinds": [{"position": 0}, {"position": 65}],
}
SENSORS = {"co2": 812.0, "temperature": 21.5, "humidity": 48.0, "presence": True}


def device(driver: str, kind: str) -> DeviceSettings:
    return DeviceSettings(id="dev", kind=kind, driver=driver, name="Dev", **ADDRESS[driver])  # type: ignore[arg-type]


def supported(driver: str, kind: str) -> bool:
    return not (driver == "shelly_gen2" and kind == "co2")


CASES = [(d, k) for d in DRIVERS for k in TARGETS if supported(d, k)]
SENSOR_CASES = [(d, k) for d in DRIVERS for k in SENSORS if supported(d, k)]


@pytest.mark.parametrize(("driver", "kind"), CASES)
def test_round_trip_command_and_confirmation(driver: str, kind: str) -> None:
    """roomctl's command, read by the device side, and the device's report, read back, match the target."""
    dev = device(driver, kind)
    ctl, emu = make_driver(dev, "roomctl-hq-room1"), make_emulation(dev)
    state: dict[str, object] = {"on": False, "brightness": 100} if kind == "dimmer" else {}
    for target in TARGETS[kind]:
        messages = ctl.encode(target)
        assert messages, f"{driver} sent nothing for {target}"
        for topic, payload in messages:
            assert any(_matches(f, topic) for f in emu.command_topics()), topic
            change = emu.apply(topic, payload)
            assert change is not None
            state.update(change)
        reported: dict[str, object] = {}
        for topic, payload in emu.report(state):
            assert topic in ctl.subscriptions()
            decoded = ctl.decode(topic, payload)
            assert decoded is not None and decoded.state is not None
            reported.update(decoded.state)
        assert ctl.matches(reported, target), (driver, kind, target, reported)


@pytest.mark.parametrize(("driver", "kind"), SENSOR_CASES)
def test_sensor_reports_decode(driver: str, kind: str) -> None:
    dev = device(driver, kind)
    ctl, emu = make_driver(dev), make_emulation(dev)
    values = []
    for topic, payload in emu.report({"value": SENSORS[kind]}):
        decoded = ctl.decode(topic, payload)
        assert decoded is not None and decoded.state is not None
        values.append(decoded.state["value"])
    assert values == [SENSORS[kind]]


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_availability_each_firmware_way(driver: str) -> None:
    dev = device(driver, "plug")
    ctl, emu = make_driver(dev), make_emulation(dev)
    for online in (True, False):
        topic, payload = emu.availability(online)
        assert topic in ctl.subscriptions()
        decoded = ctl.decode(topic, payload)
        assert decoded is not None and decoded.online is online


def test_exact_topics_and_payloads_follow_each_firmware() -> None:
    z2m = make_driver(device("zigbee2mqtt", "dimmer"))
    assert z2m.encode({"on": True, "brightness": 50}) == [
        ("zigbee2mqtt/room/dev/set", json.dumps({"state": "ON", "brightness": 127}).encode())
    ]
    assert z2m.decode("zigbee2mqtt/room/dev/availability", b'{"state":"offline"}').online is False  # type: ignore[union-attr]
    assert z2m.decode("zigbee2mqtt/room/dev/availability", b"online").online is True  # type: ignore[union-attr]
    tas = make_driver(device("tasmota", "plug"))
    assert tas.encode({"on": True}) == [("cmnd/dev/POWER", b"ON")]
    assert tas.decode("stat/dev/RESULT", b'{"POWER":"OFF"}').state == {"on": False}  # type: ignore[union-attr]
    assert tas.decode("tele/dev/LWT", b"Online").online is True  # type: ignore[union-attr]
    esp = make_driver(device("esphome", "plug"))
    assert esp.encode({"on": False}) == [("node/switch/thing/command", b"OFF")]
    assert esp.decode("node/status", b"offline").online is False  # type: ignore[union-attr]
    shelly = make_driver(device("shelly_gen2", "plug"), "roomctl-hq-room1")
    [(topic, payload)] = shelly.encode({"on": True})
    request = json.loads(payload)
    assert topic == "shelly-dev/rpc"
    assert request["method"] == "Switch.Set" and request["params"] == {"id": 0, "on": True}
    assert request["src"] == "roomctl-hq-room1"
    assert shelly.decode("shelly-dev/status/switch:0", b'{"id":0,"output":true}').state == {"on": True}  # type: ignore[union-attr]
    assert shelly.decode("shelly-dev/online", b"false").online is False  # type: ignore[union-attr]


JUNK = [b"", b"\xff\xfe\x00\x01", b"{", b"[1,2]", b"ONN", b'{"state": 12}', b'{"POWER": []}', b"x" * 20_000,
        b'{"brightness": "bright"}', b"NaN", b'{"co2": 1e400}', b'{"output": "maybe"}', b'{"temperature": -999}']


@pytest.mark.parametrize(("driver", "kind"), [*CASES, *SENSOR_CASES])
def test_malformed_payloads_raise_the_one_error(driver: str, kind: str) -> None:
    """Every junk payload on every subscribed topic is either ignored (None) or a MalformedPayloadError."""
    ctl = make_driver(device(driver, kind))
    rng = random.Random(1)
    payloads = JUNK + [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(200)]
    for topic in ctl.subscriptions():
        for payload in payloads:
            with contextlib.suppress(MalformedPayloadError):
                ctl.decode(topic, payload)


def test_shelly_has_no_co2_sensor() -> None:
    with pytest.raises(ConfigError, match="Shelly devices have no co2"):
        make_driver(device("shelly_gen2", "co2"))


def test_device_config_names_missing_addressing() -> None:
    with pytest.raises(ValueError, match="needs friendly_name"):
        DeviceSettings(id="x", kind="light", driver="zigbee2mqtt", name="X")
    with pytest.raises(ValueError, match="needs topic, entity"):
        DeviceSettings(id="x", kind="light", driver="esphome", name="X")


def _matches(topic_filter: str, topic: str) -> bool:
    import paho.mqtt.client as mqtt

    return bool(mqtt.topic_matches_sub(topic_filter, topic))
