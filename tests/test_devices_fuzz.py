"""Fuzz: random payloads on every topic roomctl subscribes to, through the broker and straight into the registry."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

from roomctl.config import Settings
from roomctl.devices.broker import Broker
from tests.conftest import wait_for
from tests.devices_helpers import sim_room

FUZZ_MESSAGES = 10_000


def random_payload(rng: random.Random) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    if choice == 1:
        return rng.choice([b"ON", b"OFF", b"online", b"offline", b"Online", b"true", b"false", b"", b"null"])
    if choice == 2:
        keys = ["state", "brightness", "position", "POWER", "Dimmer", "output", "current_pos", "co2", "value",
                "temperature", "humidity", "occupancy", "on", "Shutter1", "SCD40", "tC", "rh"]
        values = [True, False, None, "ON", "OFF", -1, 0, 50, 254, 10**9, 1.5, "x", [], {}, {"Position": "a"}]
        return json.dumps({rng.choice(keys): rng.choice(values) for _ in range(rng.randrange(4))}).encode()
    if choice == 3:
        return str(rng.uniform(-1e6, 1e6)).encode()
    if choice == 4:
        return b"{" * rng.randrange(1, 200)
    return rng.choice([b"NaN", b"Infinity", b"-0", b"1e999", b'"ON"', b"[\"ON\"]"])


async def test_fuzz_every_subscribed_topic(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings) as sr:
        registry = sr.service.registry
        rng = random.Random(20261129)
        subscribed = [(dev, t) for dev in registry.devices.values() for t in dev.driver.subscriptions()]
        # 10,000 random payloads on every subscribed topic, straight into the registry's handler
        for device, topic in subscribed:
            for _ in range(FUZZ_MESSAGES):
                registry.handle(device, topic, random_payload(rng))
        # and 10,000 through the broker, spread over every subscribed topic
        for i in range(FUZZ_MESSAGES):
            _, topic = subscribed[i % len(subscribed)]
            sr.sim.publish_raw(topic, random_payload(rng))
            if i % 500 == 0:
                await asyncio.sleep(0.05)  # let the broker and roomctl keep up (Mosquitto drops past its queue)
        seen = -1
        while (total := sum(d.malformed for d in registry.devices.values())) != seen:  # until the broker is drained
            seen = total
            await asyncio.sleep(0.5)
        assert sum(d.malformed for d in registry.devices.values()) > FUZZ_MESSAGES
        for device in registry.devices.values():  # every state still has sane, normalised values
            for key, value in device.state.items():
                assert key in ("on", "brightness", "position", "value"), (device.config.id, key)
                if key in ("brightness", "position"):
                    assert 0 <= value <= 100
        for device_id in ("ceiling", "corner_light", "projector", "blinds"):  # reset what the fuzz set
            sr.sim.behave(device_id, offline=True)
            sr.sim.behave(device_id, offline=False)
        await wait_for(lambda: all(registry.get(d).availability == "online" for d in ("ceiling", "projector")))
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "complete", run
