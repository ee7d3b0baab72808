"""Time a scene over 20 simulated devices: until every command is out, and until every device confirmed.

Runs a private Mosquitto, the device simulator (5 devices per driver family: Zigbee2MQTT, Tasmota, ESPHome,
Shelly Gen2) and the devices capability. Prints numbers; asserts nothing.

    .venv/bin/python bench/bench_scene.py [--rounds 20] [--delay 0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from roomctl.config import load_settings
from roomctl.core.room import Room
from roomctl.devices import capability as devices
from roomctl.devices.broker import Broker
from roomctl.devices.bus import MqttBus
from roomctl.devices.service import DevicesService
from roomctl.devices.settings import DeviceSettings, ScenesSettings, Target
from roomctl.devices.simulator import DeviceSimulator
from roomctl.runtime import install_capabilities
from roomctl.store import open_database

DEVICES_PER_DRIVER = 5


def bench_devices() -> list[DeviceSettings]:
    devices = []
    for i in range(DEVICES_PER_DRIVER):
        devices += [
            DeviceSettings(id=f"z{i}", kind="dimmer", driver="zigbee2mqtt", name=f"Z{i}", friendly_name=f"bench/z{i}"),
            DeviceSettings(id=f"t{i}", kind="plug", driver="tasmota", name=f"T{i}", topic=f"bench-t{i}"),
            DeviceSettings(id=f"e{i}", kind="light", driver="esphome", name=f"E{i}", topic=f"bench-e{i}", entity="lamp"),
            DeviceSettings(id=f"s{i}", kind="fan", driver="shelly_gen2", name=f"S{i}", topic=f"bench-s{i}"),
        ]
    return devices


async def run(rounds: int, delay: float) -> None:
    with Broker() as broker:
        base = load_settings(None, {"storage": {"data_dir": Path(tempfile.mkdtemp())},
                                    "mqtt": {"enabled": True, "port": broker.port}})
        kinds = ("dimmer", "plug", "light", "fan")
        scenes = ScenesSettings(
            scenes={
                "on": {f"kind:{k}": Target(on=True, brightness=80 if k == "dimmer" else None) for k in kinds},
                "off": {f"kind:{k}": Target(on=False) for k in kinds},
            },
            empty_scene="off",
            check_interval_seconds=600,
            home_assistant_discovery=False,
        )
        settings = base.model_copy(update={"devices": bench_devices(), "scenes": scenes})
        sim = DeviceSimulator(settings, delay=delay, sensor_interval=3600)
        await sim.start()
        room = Room(settings, open_database(settings.storage.database_path))
        install_capabilities(room, [devices])
        await room.start()
        service = room.service(DevicesService)
        bus = room.service(MqttBus)
        try:
            while not all(d.availability == "online" for d in service.registry.devices.values()):
                await asyncio.sleep(0.01)
            sent: list[float] = []
            confirmed: list[float] = []
            original_publish = bus.publish
            counter = {"n": 0}

            def counting_publish(*args: Any, **kwargs: Any) -> None:
                counter["n"] += 1
                original_publish(*args, **kwargs)

            bus.publish = counting_publish
            for i in range(rounds):
                name = "on" if i % 2 == 0 else "off"
                counter["n"] = 0
                start = time.perf_counter()
                task = asyncio.ensure_future(service.engine.apply_scene(name, source="bench"))
                while counter["n"] < len(settings.devices):
                    await asyncio.sleep(0)
                sent.append(time.perf_counter() - start)
                run = await task
                confirmed.append(time.perf_counter() - start)
                assert run.status == "complete", run.as_dict()
        finally:
            await room.stop()
            await sim.stop()
    print(f"scene over {len(settings.devices)} simulated devices, {rounds} rounds, simulated device delay {delay} s")
    for label, values in (("all commands out", sent), ("all confirmed", confirmed)):
        ms = [v * 1000 for v in values]
        print(f"  {label:17s} median {statistics.median(ms):7.2f} ms  min {min(ms):7.2f}  max {max(ms):7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each simulated device waits to answer")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.delay))


if __name__ == "__main__":
    main()
