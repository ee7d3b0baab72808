"""Helpers for the firmware_config tests: the ESPHome venv, the Zigbee2MQTT package, MQTT clients as users."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware_config"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "roomctl"
ESPHOME_VERSION = "2026.6.5"
Z2M_VERSION = "2.14.1"
INSTALL_TIMEOUT = 900


def esphome_binary() -> Path:
    """``esphome`` in its own venv under the cache dir (never in the project's venv); installed if missing."""
    venv = CACHE / "esphome-venv"
    binary = venv / "bin" / "esphome"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"esphome=={ESPHOME_VERSION}"],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
    )
    if result.returncode != 0 or not binary.exists():
        raise AssertionError(f"could not install esphome {ESPHOME_VERSION} from PyPI: {result.stderr[-2000:]}")
    return binary


def z2m_schema_path() -> Path:
    """Zigbee2MQTT's settings schema from ``npm pack zigbee2mqtt@<version>`` (cached)."""
    target = CACHE / f"zigbee2mqtt-{Z2M_VERSION}"
    schema = target / "package" / "dist" / "util" / "settings.schema.json"
    if schema.exists():
        return schema
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "pack", f"zigbee2mqtt@{Z2M_VERSION}"], cwd=target, capture_output=True, text=True,
        timeout=INSTALL_TIMEOUT,
    )
    if result.returncode != 0:
        raise AssertionError(f"npm pack zigbee2mqtt@{Z2M_VERSION} failed (npm registry?): {result.stderr[-999:]}")
    with tarfile.open(target / f"zigbee2mqtt-{Z2M_VERSION}.tgz") as archive:
        archive.extractall(target, filter="data")
    return schema


class Client:
    """A paho client connected as one user, recording what it receives."""

    def __init__(self, port: int, user: str | None, password: str | None, *, client_id: str,
                 tls_ca: Path | None = None, subscribe: list[str] | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.reason: Any = None
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        if user:
            self.client.username_pw_set(user, password)
        if tls_ca:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.subscriptions = subscribe or []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("localhost" if tls_ca else "127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.reason = reason
        if reason.is_failure:
            self.ready.set()
            return
        if self.subscriptions:
            client.subscribe([(t, 1) for t in self.subscriptions])
        else:
            self.ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def wait_ready(self) -> bool:
        """True when connected (and subscribed); False when refused."""
        if not self.ready.wait(5):
            raise AssertionError("no CONNACK/SUBACK within 5 s")
        return not self.reason.is_failure

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1 and wait until the broker took it."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def received(self) -> list[tuple[str, bytes]]:
        """A copy of what arrived."""
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
