"""Time a scene over 20 simulated devices: until every command is out, and until every device confirmed.

Runs a private Mosquitto, the device simulator (5 devices per driver family: Zigbee2MQTT, Tasmota, ESPHome,
Shelly Gen2) and the devices capability. Prints numbers; asserts nothing.

The simulator runs in a process of its own (``python -m roomctl.devices.simulator``, one per device delay), as
the devices are machines of their own. In this process its MQTT thread and its handlers shared the GIL and the
loop with roomctl's: most of a scene's 20-25 ms here went to the simulator receiving one command after another.

    .venv/bin/python bench/bench_scene.py [--rounds 20] [--delays 0 0.05 0.2]

For each simulated device delay it prints how long until every command is out, until every device confirmed
(median and p90), the overhead (confirmed minus the device delay) and the CPU time per scene, roomctl's and the
simulator's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_startup import cpu_seconds  # this folder is on the path of a script run from it

from roomctl.config import load_settings
from roomctl.core.room import Room
from roomctl.devices import capability as devices
from roomctl.devices.broker import Broker
from roomctl.devices.bus import MqttBus
from roomctl.devices.service import DevicesService
from roomctl.devices.settings import DeviceSettings, ScenesSettings, Target
from roomctl.runtime import install_capabilities
from roomctl.store import open_database

DEVICES_PER_DRIVER = 5
ONLINE_TIMEOUT_SECONDS = 30.0
"""Longest wait for a fresh simulator's devices to be online in roomctl's registry."""


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


def simulator_config(path: Path, port: int, devices: list[DeviceSettings]) -> Path:
    """The TOML the simulator reads: the broker and the devices (JSON strings are TOML basic strings here)."""
    lines = [f"[mqtt]\nport = {port}\n"]
    for device in devices:
        lines.append("[[devices]]")
        for key, value in device.model_dump(exclude_none=True, exclude_defaults=True).items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


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
        config = simulator_config(settings.storage.data_dir / "simulator.toml", broker.port, settings.devices)
        room = Room(settings, open_database(settings.storage.database_path))
        install_capabilities(room, [devices])
        await room.start()
        service = room.service(DevicesService)
        bus = room.service(MqttBus)
        results: list[tuple[float, list[float], list[float], list[float], float]] = []
        try:
            original_publish = bus.publish
            counter = {"n": 0}

            def counting_publish(*args: Any, **kwargs: Any) -> None:
                counter["n"] += 1
                original_publish(*args, **kwargs)

            bus.publish = counting_publish
            for delay in delays:
                simulator = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "roomctl.devices.simulator", "--config", str(config),
                    "--delay", str(delay), "--sensor-interval", "3600",
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                try:
                    async with asyncio.timeout(ONLINE_TIMEOUT_SECONDS):
                        while not all(d.availability == "online" for d in service.registry.devices.values()):
                            await asyncio.sleep(0.01)
                    await asyncio.sleep(0.5)  # the retained states and first reports are in
                    sent: list[float] = []
                    confirmed: list[float] = []
                    cpu: list[float] = []
                    simulator_cpu = cpu_seconds(simulator.pid)
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
                    simulator_cpu = (cpu_seconds(simulator.pid) - simulator_cpu) / rounds
                    results.append((delay, sent, confirmed, cpu, simulator_cpu))
                finally:
                    simulator.send_signal(signal.SIGINT)  # it announces its devices offline, as on Ctrl-C
                    await asyncio.wait_for(simulator.wait(), 10)
                async with asyncio.timeout(ONLINE_TIMEOUT_SECONDS):
                    while any(d.availability == "online" for d in service.registry.devices.values()):
                        await asyncio.sleep(0.01)
        finally:
            await room.stop()
    print(f"scene over {len(settings.devices)} simulated devices, {rounds} rounds per simulated device delay")
    print(
        f"  {'delay':>7s}  {'commands out':>13s}  {'confirmed':>9s} {'p90':>8s}  {'overhead':>9s} {'p90':>8s}  {'cpu':>8s}"
        f"  {'simulator':>9s}"
    )
    for delay, sent, confirmed, cpu, simulator_cpu in results:
        out_ms = statistics.median(sent) * 1000
        conf_ms = [v * 1000 for v in confirmed]
        median, p90 = statistics.median(conf_ms), percentile(conf_ms, 0.9)
        delay_ms = delay * 1000
        print(
            f"  {delay_ms:5.0f}ms  {out_ms:10.2f} ms  {median:6.1f} ms {p90:5.1f} ms  "
            f"{median - delay_ms:6.1f} ms {p90 - delay_ms:5.1f} ms  {statistics.median(cpu) * 1000:5.1f} ms"
            f"  {simulator_cpu * 1000:6.1f} ms"
        )
    print("  (medians unless p90; overhead = confirmed minus the simulated device delay;")
    print("   cpu = roomctl's CPU time per scene (median); simulator = the simulator process's, mean per scene;")
    print("   CPU time is counted in ticks of 10 ms, so the simulator's is a mean over the rounds)")


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
