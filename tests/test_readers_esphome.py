"""The ESPHome door reader node over a real Mosquitto: its tags open the door, its availability raises alarms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from roomctl.access.readers.networked import DEFAULT_ESPHOME_TOPIC, status_topic
from roomctl.access.service import AccessService
from roomctl.devices.broker import Broker
from roomctl.devices.bus import MqttBus
from tests.access_helpers import (
    MEMBER_UID,
    OTHER_MEMBER_UID,
    audit_rows,
    component,
    relay_activations,
    room_sections,
    running_room,
)
from tests.conftest import wait_for

NODE_CONFIG = Path(__file__).resolve().parent.parent / "firmware_config" / "esphome" / "door-reader.yaml"


class _EsphomeLoader(yaml.SafeLoader):
    """Reads ESPHome YAML (its ``!secret`` and ``!lambda`` tags as plain strings)."""


_EsphomeLoader.add_constructor("!secret", lambda loader, node: f"secret:{node.value}")
_EsphomeLoader.add_constructor("!lambda", lambda loader, node: f"lambda:{node.value}")


def test_default_topic_is_the_one_the_node_publishes_on() -> None:
    node = yaml.load(NODE_CONFIG.read_text(), Loader=_EsphomeLoader)
    publish = node["pn532_i2c"]["on_tag"]["then"][0]["mqtt.publish"]
    assert publish["topic"] == DEFAULT_ESPHOME_TOPIC
    assert node["mqtt"]["will_message"]["topic"] == status_topic(DEFAULT_ESPHOME_TOPIC)
    assert node["mqtt"]["birth_message"]["payload"] == "online"


def node_client(broker: Broker) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="door-reader")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


async def test_tags_from_the_node_open_the_door_and_offline_raises_an_alarm(
    broker: Broker, make_settings: Callable[..., Any]
) -> None:
    sections = room_sections(
        mqtt={"enabled": True, "port": broker.port}, reader={"kind": "esphome", "name": "esphome-deur"}
    )
    async with running_room(make_settings(**sections)) as room:
        await wait_for(lambda: room.service(MqttBus).connected)
        node = node_client(broker)
        try:
            node.publish("door-reader/status", b"online", qos=1, retain=True).wait_for_publish(2)
            reader = room.service(AccessService).reader
            await wait_for(lambda: reader.online)
            dashed = "-".join(MEMBER_UID[i : i + 2] for i in range(0, len(MEMBER_UID), 2))
            node.publish(DEFAULT_ESPHOME_TOPIC, dashed.encode(), qos=1).wait_for_publish(2)
            await wait_for(lambda: audit_rows(room, "tap"))
            row = audit_rows(room, "tap")[0]
            assert (row["reader"], row["decision"], row["reason"]) == ("esphome-deur", "granted", "member")
            assert relay_activations(room) == 1
            # garbage on the tag topic: rejected and logged, never an unlock
            node.publish(DEFAULT_ESPHOME_TOPIC, b"\xff\xfe'; drop table audit; --" * 20, qos=1).wait_for_publish(2)
            await wait_for(lambda: len(audit_rows(room, "tap")) == 2)
            assert audit_rows(room, "tap")[1]["reason"] == "malformed"
            assert relay_activations(room) == 1
            # the node goes away (its last will says offline)
            node.publish("door-reader/status", b"offline", qos=1, retain=True).wait_for_publish(2)
            await wait_for(lambda: room.screen.get("alarms")["active"])
            alarm = room.screen.get("alarms")["active"][0]
            assert (alarm["kind"], alarm["reader"]) == ("reader_offline", "esphome-deur")
            assert component(room, "reader")["status"] == "degraded"
            node.publish("door-reader/status", b"online", qos=1, retain=True).wait_for_publish(2)
            await wait_for(lambda: room.screen.get("alarms")["active"] == [])
        finally:
            node.loop_stop()
            node.disconnect()


async def test_esphome_taps_are_uid_credentials_and_cannot_open_a_secure_badge(
    broker: Broker, make_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from roomctl.access.secure.keys import KEY_VERSION

    monkeypatch.setenv("ROOMCTL_BADGE_MASTER_KEY", "00112233445566778899AABBCCDDEEFF")
    sections = room_sections(
        mqtt={"enabled": True, "port": broker.port}, reader={"kind": "esphome", "name": "esphome-deur"}
    )
    async with running_room(make_settings(**sections)) as room:
        await wait_for(lambda: room.service(MqttBus).connected)
        node = node_client(broker)
        try:
            node.publish("door-reader/status", b"online", qos=1, retain=True).wait_for_publish(2)
            await wait_for(lambda: room.service(AccessService).reader.online)
            node.publish(DEFAULT_ESPHOME_TOPIC, OTHER_MEMBER_UID.encode(), qos=1).wait_for_publish(2)
            await wait_for(lambda: audit_rows(room, "tap"))
            plain = audit_rows(room, "tap")[0]
            assert (plain["decision"], plain["reason"], plain["credential"]) == ("granted", "member", "uid")
            # a member whose badge is an NTAG 424: the node can only pass its UID on, which is not enough
            room.service(AccessService).secure_badges.record(MEMBER_UID, counter=1, key_version=KEY_VERSION, now=room.clock.now())
            node.publish(DEFAULT_ESPHOME_TOPIC, MEMBER_UID.encode(), qos=1).wait_for_publish(2)
            await wait_for(lambda: len(audit_rows(room, "tap")) == 2)
            secure = audit_rows(room, "tap")[1]
            assert (secure["decision"], secure["reason"], secure["credential"]) == ("denied", "insecure_reader", "uid")
            assert relay_activations(room) == 1
        finally:
            node.loop_stop()
            node.disconnect()


async def test_a_retained_tag_is_not_a_tap(broker: Broker, make_settings: Callable[..., Any]) -> None:
    """A tag message the broker kept (retained) is replayed to every new subscriber: it must never open the door."""
    node = node_client(broker)
    try:
        node.publish(DEFAULT_ESPHOME_TOPIC, MEMBER_UID.encode(), qos=1, retain=True).wait_for_publish(2)
        node.publish("door-reader/status", b"online", qos=1, retain=True).wait_for_publish(2)
        sections = room_sections(
            mqtt={"enabled": True, "port": broker.port}, reader={"kind": "esphome", "name": "esphome-deur"}
        )
        async with running_room(make_settings(**sections)) as room:
            await wait_for(lambda: room.service(MqttBus).connected)
            reader = room.service(AccessService).reader
            await wait_for(lambda: reader.online)  # the retained status did arrive, so the retained tag did too
            node.publish(DEFAULT_ESPHOME_TOPIC, b"04EE0000000001", qos=1).wait_for_publish(2)  # a live tap after it
            await wait_for(lambda: audit_rows(room, "tap"))
            rows = audit_rows(room, "tap")
            assert [r["reason"] for r in rows] == ["unknown"], "only the live tap was decided"
            assert relay_activations(room) == 0
    finally:
        node.publish(DEFAULT_ESPHOME_TOPIC, b"", qos=1, retain=True).wait_for_publish(2)  # clear the retained tag
        node.loop_stop()
        node.disconnect()
