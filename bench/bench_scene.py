"""Time a scene over 20 simulated devices: until every command is out, and until every device confirmed.

Runs a private Mosquitto, the device simulator (5 devices per driver family: Zigbee2MQTT, Tasmota, ESPHome,
Shelly Gen2) and the devices capability. Prints numbers; asserts nothing.

    .venv/bin/python bench/bench_scene.py [--rounds 20] [--delays 0 0.05 0.2]

For each simulated device delay it prints how long until every command is out, until every device confirmed
(median and p90), the overhead (confirmed minus the device delay) and the CPU time per scene.
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
            DeviceSettings(
                id=f"e{i}", kind="light", driver="esphome", name=f"E{i}", topic=f"bench-e{i}", entity="lamp"
            ),
            DeviceSettings(id=f"s{i}", kind="fan", driver="shelly_gen2", name=f"S{i}", topic=f"bench-s{i}"),
        ]
    return devices


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def run(rounds: int, delays: list[float]) -> None:
    with Broker() as broker:
        base = load_settings(
            None, {"storage": {"data_dir": Path(tempfile.mkdtemp())}, "mqtt": {"enabled": True, "port": broker.port}}
        )
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
        sim = DeviceSimulator(settings, sensor_interval=3600)
        await sim.start()
        room = Room(settings, open_database(settings.storage.database_path))
        install_capabilities(room, [devices])
        await room.start()
        service = room.service(DevicesService)
        bus = room.service(MqttBus)
        results: list[tuple[float, list[float], list[float], list[float]]] = []
        try:
            while not all(d.availability == "online" for d in service.registry.devices.values()):
                await asyncio.sleep(0.01)
            original_publish = bus.publish
            counter = {"n": 0}

            def counting_publish(*args: Any, **kwargs: Any) -> None:
                counter["n"] += 1
                original_publish(*args, **kwargs)

            bus.publish = counting_publish
            for delay in delays:
                for device_id in sim.devices:
                    sim.behave(device_id, delay=delay)
                sent: list[float] = []
                confirmed: list[float] = []
                cpu: list[float] = []
                for i in range(rounds):
                    name = "on" if i % 2 == 0 else "off"
                    counter["n"] = 0
                    start = time.perf_counter()
                    cpu_start = time.process_time()
                    task = asyncio.ensure_future(service.engine.apply_scene(name, source="bench"))
                    while counter["n"] < len(settings.devices):
                        await asyncio.sleep(0)
                    sent.append(time.perf_counter() - start)
                    scene_run = await task
                    confirmed.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - cpu_start)
                    assert scene_run.status == "complete", scene_run.as_dict()
                results.append((delay, sent, confirmed, cpu))
        finally:
            await room.stop()
            await sim.stop()
    print(f"scene over {len(settings.devices)} simulated devices, {rounds} rounds per simulated device delay")
    print(
        f"  {'delay':>7s}  {'commands out':>13s}  {'confirmed':>9s} {'p90':>8s}  {'overhead':>9s} {'p90':>8s}  {'cpu':>8s}"
    )
    for delay, sent, confirmed, cpu in results:
        out_ms = statistics.median(sent) * 1000
        conf_ms = [v * 1000 for v in confirmed]
        median, p90 = statistics.median(conf_ms), percentile(conf_ms, 0.9)
        delay_ms = delay * 1000
        print(
            f"  {delay_ms:5.0f}ms  {out_ms:10.2f} ms  {median:6.1f} ms {p90:5.1f} ms  "
            f"{median - delay_ms:6.1f} ms {p90 - delay_ms:5.1f} ms  {statistics.median(cpu) * 1000:5.1f} ms"
        )
    print("  (medians unless p90; overhead = confirmed minus the simulated device delay;")
    print("   cpu = this process's CPU time per scene, roomctl and the simulator together)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--delays",
        type=float,
        nargs="+",
        default=[0.0, 0.05, 0.2],
        help="seconds each simulated device waits to answer; one run per value",
    )
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.delays))


if __name__ == "__main__":
    main()
