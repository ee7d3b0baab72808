"""firmware_config/ is valid for each firmware's own tools and agrees with roomctl's configuration."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from roomctl.config import Settings
from roomctl.core.clock import SystemClock
from roomctl.devices.broker import find_mosquitto, free_port
from roomctl.devices.drivers import make_driver, make_emulation
from roomctl.devices.example import example_config
from roomctl.devices.registry import DeviceRegistry
from roomctl.devices.scenes import SceneEngine
from roomctl.devices.settings import DeviceSettings
from tests.firmware_helpers import FIRMWARE, Client, esphome_binary, z2m_schema_path

ESPHOME_NODES = sorted((FIRMWARE / "esphome").glob("*.yaml"))
ESPHOME_NODES = [p for p in ESPHOME_NODES if not p.name.startswith("secrets")]
EXAMPLE = Settings(**example_config())
ROOMCTL_CLIENT = "roomctl-hq-room1"


def esphome_config(tmp_path: Path, node_text: str, name: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(FIRMWARE / "esphome" / "secrets.example.yaml", tmp_path / "secrets.yaml")
    (tmp_path / name).write_text(node_text)
    return subprocess.run([str(esphome_binary()), "config", name], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("node", ESPHOME_NODES, ids=lambda p: p.stem)
def test_esphome_node_is_valid(node: Path, tmp_path: Path) -> None:
    result = esphome_config(tmp_path, node.read_text(), node.name)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Configuration is valid" in result.stdout + result.stderr


def test_esphome_catches_a_broken_node(tmp_path: Path) -> None:
    broken = (FIRMWARE / "esphome" / "co2-node.yaml").read_text().replace("platform: scd4x", "platform: scd4xx")
    result = esphome_config(tmp_path, broken, "broken.yaml")
    assert result.returncode != 0


def load_z2m() -> dict:
    return yaml.safe_load((FIRMWARE / "zigbee2mqtt" / "configuration.yaml").read_text())


def test_zigbee2mqtt_settings_match_its_schema() -> None:
    schema = json.loads(z2m_schema_path().read_text())
    settings = load_z2m()
    assert settings["version"] == 5
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(settings)]
    assert errors == []
    settings["serial"]["adapter"] = "toaster"
    settings["availability"]["active"]["timeout"] = "soon"
    bad = list(jsonschema.Draft7Validator(schema).iter_errors(settings))
    assert len(bad) >= 2  # the schema does catch bad values


def test_tasmota_templates_and_backlogs() -> None:
    schema = json.loads((FIRMWARE / "tasmota" / "tasmota.schema.json").read_text())
    templates = sorted((FIRMWARE / "tasmota").glob("*.template.json"))
    assert templates
    for template in templates:
        jsonschema.validate(json.loads(template.read_text()), schema)
        backlog = backlog_commands(template.with_name(template.name.replace(".template.json", ".backlog")))
        topic = backlog["topic"]
        assert template.name.startswith(topic)
        assert backlog["fulltopic"] == "%prefix%/%topic%/"
        assert backlog["mqttuser"] == topic and backlog["mqttclient"] == topic
        assert backlog["poweronstate"] == "0"  # off after a power cut
        pulse = int(backlog["pulsetime1"])
        assert 112 <= pulse <= 64900, "PulseTime must be in seconds (112..64900 = value - 100 s)"
        assert "mqttpassword" not in backlog  # secrets stay out of the repository
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"NAME": "x", "GPIO": [0] * 14, "FLAG": 0, "BASE": 18}, schema)  # no relay


KNOWN_TASMOTA = {"devicename", "friendlyname1", "topic", "fulltopic", "mqtthost", "mqttport", "mqttuser",
                 "mqttclient", "poweronstate", "powerretain", "pulsetime1", "teleperiod", "setoption4",
                 "setoption26", "grouptopic1"}


def backlog_commands(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("Backlog "), f"{path.name}: one Backlog line expected"
    commands: dict[str, str] = {}
    for part in lines[0][len("Backlog "):].split(";"):
        name, _, value = part.strip().partition(" ")
        assert name.lower() in KNOWN_TASMOTA, f"{path.name}: unknown or unchecked command {name}"
        commands[name.lower()] = value.strip()
    return commands


def test_raspberry_pi_config_enables_uart_i2c_hdmi_audio() -> None:
    lines = {line.strip() for line in (FIRMWARE / "raspberrypi" / "config.txt").read_text().splitlines()}
    for needed in ("enable_uart=1", "dtparam=i2c_arm=on", "hdmi_force_hotplug=1", "dtparam=audio=on"):
        assert needed in lines


# -- consistency with roomctl's example configuration --------------------------------------------------------


def esphome_entities(node: Path) -> tuple[str, set[tuple[str, str]]]:
    """The node's topic prefix and its (domain, name) entities."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!secret", lambda loader, node: f"secret:{loader.construct_scalar(node)}")
    Loader.add_constructor("!lambda", lambda loader, node: loader.construct_scalar(node))
    data = yaml.load(node.read_text(), Loader=Loader)
    entities: set[tuple[str, str]] = set()
    for domain in ("sensor", "binary_sensor", "switch", "light", "fan", "cover"):
        for item in data.get(domain, []) or []:
            if "name" in item:
                entities.add((domain, item["name"]))
            for value in item.values():
                if isinstance(value, dict) and "name" in value:
                    entities.add((domain, value["name"]))
    return data["mqtt"]["topic_prefix"], entities


def device_user(device: DeviceSettings) -> str:
    return "zigbee2mqtt" if device.driver == "zigbee2mqtt" else device.topic


def acl_users() -> set[str]:
    text = (FIRMWARE / "mosquitto" / "roomctl.acl").read_text()
    return set(re.findall(r"^user (\S+)$", text, flags=re.MULTILINE))


def test_every_example_device_has_matching_firmware_config() -> None:
    from roomctl.devices.drivers.esphome import domain_of

    z2m_names = {d["friendly_name"] for d in load_z2m()["devices"].values()}
    nodes = dict(esphome_entities(p) for p in ESPHOME_NODES)
    users = acl_users()
    for device in EXAMPLE.devices:
        assert device_user(device) in users, f"{device.id}: no MQTT user {device_user(device)} in roomctl.acl"
        if device.driver == "zigbee2mqtt":
            assert device.friendly_name in z2m_names, device.id
            assert (device.topic or "zigbee2mqtt") == load_z2m()["mqtt"]["base_topic"]
        elif device.driver == "tasmota":
            backlog = backlog_commands(FIRMWARE / "tasmota" / f"{device.topic}.backlog")
            assert backlog["topic"] == device.topic
        elif device.driver == "esphome":
            assert device.topic in nodes, f"{device.id}: no ESPHome node with topic_prefix {device.topic}"
            assert (domain_of(device), device.entity) in nodes[device.topic], device.id
        elif device.driver == "shelly_gen2":
            config = json.loads((FIRMWARE / "shelly" / f"{device.topic}.json").read_text())["params"]["config"]
            assert config["topic_prefix"] == device.topic and config["status_ntf"] and config["enable_rpc"]
            assert config["user"] == device.topic
        else:
            pytest.fail(f"{device.id}: the example room should only use devices with firmware config here")
    registry = DeviceRegistry(EXAMPLE.devices, EXAMPLE.scenes, SystemClock(), client_id=ROOMCTL_CLIENT)
    SceneEngine(registry, EXAMPLE.scenes, SystemClock()).check()
    espresso = next(d for d in EXAMPLE.devices if d.id == EXAMPLE.scenes.espresso_device)
    assert espresso.driver == "tasmota"  # its auto-off is Tasmota PulseTime (checked above)


# -- Mosquitto with the shipped config and ACL ----------------------------------------------------------------


PASSWORD = "test-only-password"


@pytest.fixture
def shipped_broker(tmp_path: Path) -> Iterator[int]:
    """Mosquitto running the shipped roomctl.conf + roomctl.acl, paths moved into tmp_path."""
    yield from start_shipped(tmp_path, tls=False)


def start_shipped(tmp_path: Path, *, tls: bool) -> Iterator[int]:
    passwd = tmp_path / "roomctl.passwd"
    users = sorted(acl_users())
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), users[0], PASSWORD], check=True)
    for user in users[1:]:
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, PASSWORD], check=True)
    shutil.copy(FIRMWARE / "mosquitto" / "roomctl.acl", tmp_path / "roomctl.acl")
    port = free_port()
    text = (FIRMWARE / "mosquitto" / "roomctl.conf").read_text()
    replacements = {
        "password_file /etc/mosquitto/roomctl.passwd": f"password_file {passwd}",
        "acl_file /etc/mosquitto/roomctl.acl": f"acl_file {tmp_path / 'roomctl.acl'}",
        "persistence true": "persistence false",
        "persistence_location /var/lib/mosquitto/\n": "",
        "log_dest syslog": "log_dest stderr\nuser root",
        "listener 1883": f"listener {port} 127.0.0.1",
    }
    for old, new in replacements.items():
        assert old in text, f"roomctl.conf changed: {old!r} not found"
        text = text.replace(old, new)
    if tls:
        certs = make_certs(tmp_path)
        tls_text = (FIRMWARE / "mosquitto" / "tls.conf").read_text()
        tls_text = tls_text.replace("listener 8883", f"listener {port} 127.0.0.1").replace(
            "/etc/mosquitto/certs", str(certs))
        text = text.replace(f"listener {port} 127.0.0.1", "") + tls_text
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    log = (tmp_path / "mosquitto.log").open("wb")
    process = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        import socket

        while True:
            assert process.poll() is None, (tmp_path / "mosquitto.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(5)
        log.close()


def make_certs(tmp_path: Path) -> Path:
    certs = tmp_path / "certs"
    certs.mkdir()

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=roomctl test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (certs / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "server.crt", "-days", "2", "-extfile", "san.ext")
    return certs


MARKERS = itertools.count(1)
"""Numbers the markers :func:`settle` sends."""


def settle(sender: Client, receiver: Client, marker_topic: str) -> None:
    """Send a marker the receiver may get; once it arrived, everything sent before it has arrived too.

    Each marker is new: devices that share a topic (the CO2 node's sensors share its status topic) must not
    find the marker an earlier device sent there and stop waiting before their own messages arrived.
    """
    marker = f"marker {next(MARKERS)}".encode()
    sender.publish(marker_topic, marker)
    deadline = time.monotonic() + 5
    while (marker_topic, marker) not in receiver.received():
        assert time.monotonic() < deadline, f"marker on {marker_topic} never arrived"
        time.sleep(0.01)


def test_anonymous_and_wrong_passwords_are_refused(shipped_broker: int) -> None:
    anonymous = Client(shipped_broker, None, None, client_id="anon")
    wrong = Client(shipped_broker, "roomctl", "nope", client_id="wrong")
    try:
        assert anonymous.wait_ready() is False
        assert wrong.wait_ready() is False
    finally:
        anonymous.close()
        wrong.close()


def test_a_device_cannot_publish_roomctls_topics(shipped_broker: int) -> None:
    roomctl = Client(shipped_broker, "roomctl", PASSWORD, client_id=ROOMCTL_CLIENT, subscribe=["#"])
    plug = Client(shipped_broker, "espresso", PASSWORD, client_id="espresso")
    try:
        assert roomctl.wait_ready() and plug.wait_ready()
        plug.publish("roomctl/hq/room1/state", b'{"occupancy":{"occupied":false}}')
        plug.publish("roomctl/hq/room1/scene/set", b"leave")
        plug.publish("stat/projector/POWER", b"OFF")  # another device's topic
        plug.publish("cmnd/projector/POWER", b"OFF")
        settle(plug, roomctl, "stat/espresso/POWER")
        topics = {t for t, _ in roomctl.received()}
        assert topics == {"stat/espresso/POWER"}
    finally:
        roomctl.close()
        plug.close()


def test_every_example_device_reaches_roomctl_on_exactly_its_topics(shipped_broker: int) -> None:
    roomctl = Client(shipped_broker, "roomctl", PASSWORD, client_id=ROOMCTL_CLIENT,
                     subscribe=sorted({t for d in EXAMPLE.devices for t in make_driver(d).subscriptions()}))
    assert roomctl.wait_ready()
    try:
        for device in EXAMPLE.devices:
            driver, emulation = make_driver(device, ROOMCTL_CLIENT), make_emulation(device)
            dev = Client(shipped_broker, device_user(device), PASSWORD, client_id=f"dev-{device.id}",
                         subscribe=emulation.command_topics() or None)
            try:
                assert dev.wait_ready(), device.id
                messages = [emulation.availability(True), *emulation.report({"value": 1} if driver.is_sensor
                                                                           else {"on": True, "position": 10})]
                for topic, payload in messages:
                    dev.publish(topic, payload)
                settle(dev, roomctl, messages[0][0])
                got = roomctl.received()
                for message in messages:
                    assert message in got, f"{device.id}: roomctl did not get {message[0]}"
                if driver.is_sensor:
                    continue
                target = {"position": 50} if device.kind == "blinds" else {"on": True}
                for topic, payload in driver.encode(target):
                    roomctl.publish(topic, payload)
                deadline = time.monotonic() + 5
                while not any(t == topic for t, _ in dev.received()):
                    assert time.monotonic() < deadline, f"{device.id} did not get roomctl's command on {topic}"
                    time.sleep(0.01)
            finally:
                dev.close()
    finally:
        roomctl.close()


def test_tls_option(tmp_path: Path) -> None:
    for port in start_shipped(tmp_path, tls=True):
        client = Client(port, "roomctl", PASSWORD, client_id="tls", tls_ca=tmp_path / "certs" / "ca.crt",
                        subscribe=["roomctl/#"])
        try:
            assert client.wait_ready()
            client.publish("roomctl/hq/room1/availability", b"online")
            settle(client, client, "roomctl/hq/room1/state")
        finally:
            client.close()
