"""One tap, the whole chain: from the badge tap (HTTP, as a networked reader sends it) to the arrival screen on
the projector (headless Chromium) and to every simulated device confirming the arrival scene over MQTT.

The whole room runs on a private Mosquitto with the example room's devices simulated (Zigbee2MQTT, Tasmota,
Shelly Gen2, ESPHome); the kiosk page is open in system Chromium. Each round serves a fresh room booked around
now (on the same broker and browser), taps once and waits for both. Prints median/min/max in milliseconds;
asserts nothing.

    .venv/bin/python bench/bench_chain.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

import httpx
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from playwright.async_api import Browser, async_playwright

from roomctl.config import load_settings
from roomctl.demo import DEMO_MEMBERS
from roomctl.devices.broker import Broker, free_port
from roomctl.devices.example import example_config
from roomctl.devices.service import DevicesService
from roomctl.devices.simulator import DeviceSimulator
from roomctl.session.service import SessionService
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, serving
from tests.devices_helpers import with_devices

ARRIVAL_STAMP = """() => {
  const observer = new MutationObserver(() => {
    const title = document.querySelector("[data-testid=step-title]");
    if (title && title.textContent.includes("Aankomst")) { window.arrivalShownAt = Date.now(); observer.disconnect(); }
  });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
}"""
"""Stamps (wall clock, ms) the moment the kiosk's DOM shows the arrival step; compared with the tap's wall clock."""
WAIT_SECONDS = 20.0
"""Longest one round may wait for the kiosk or the scene."""


async def one_round(broker: Broker, browser: Browser) -> tuple[float, float]:
    """A fresh room (booked around now) on ``broker``: seconds from the tap to the kiosk and to the scene."""
    base = load_settings(None, {
        "storage": {"data_dir": Path(tempfile.mkdtemp())},
        "mqtt": {"enabled": True, "port": broker.port},
        "server": {"port": free_port()},
    })  # fmt: skip
    settings = with_devices(base, None, {"command_timeout_seconds": 3.0, "command_retries": 2})
    simulator = DeviceSimulator(settings, sensor_interval=3600)
    await simulator.start()
    try:
        async with serving(settings) as live:
            registry = live.room.service(DevicesService).registry
            await asyncio.to_thread(live.room.service(SessionService).library.default)  # clips made before the tap
            while not all(d.availability in ("online", "assumed") for d in registry.devices.values()):
                await asyncio.sleep(0.01)
            kiosk = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await kiosk.goto(f"{live.url}/kiosk#token={live.tokens['kiosk']}")
            await kiosk.wait_for_selector("[data-testid=tap-hint]")
            scene_done = asyncio.Event()
            stamps: dict[str, float] = {}
            await kiosk.evaluate(ARRIVAL_STAMP)

            engine = live.room.service(DevicesService).engine

            def watch() -> None:
                run = engine.current
                if run is not None and run.name == "arrival" and run.status == "complete":
                    stamps.setdefault("scene", time.time())
                    scene_done.set()

            engine.on_change(watch)  # the engine's own moment, not the screen part's (that batches for 0.2 s)
            arrival = kiosk.locator("[data-testid=step-title]", has_text="Aankomst")
            async with httpx.AsyncClient(base_url=live.url) as http:
                start = time.time()
                tap = await http.post("/api/v1/door/taps", json={"uid": DEMO_MEMBERS[0][1]}, headers=live.headers("reader"))
                if not tap.json().get("granted"):
                    raise SystemExit(f"the tap was refused: {tap.text}")
                kiosk_task = asyncio.ensure_future(arrival.wait_for(timeout=WAIT_SECONDS * 1000))
                await asyncio.wait_for(scene_done.wait(), WAIT_SECONDS)
                await kiosk_task
                shown = await kiosk.evaluate("() => window.arrivalShownAt") / 1000
            await kiosk.close()
            return shown - start, stamps["scene"] - start
    finally:
        await simulator.stop()


async def run(rounds: int) -> None:
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    to_kiosk: list[float] = []
    to_scene: list[float] = []
    with Broker() as broker:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for _ in range(rounds):
                    kiosk, scene = await one_round(broker, browser)
                    to_kiosk.append(kiosk)
                    to_scene.append(scene)
            finally:
                await browser.close()
    devices = len(example_config()["devices"])
    print(f"one tap, the whole chain: {rounds} rounds (a fresh room each), {devices} simulated devices over Mosquitto")
    print("  (times from sending the tap over HTTP; the kiosk's moment is stamped in the page by a MutationObserver)")
    for label, values in (("tap -> kiosk shows arrival", to_kiosk), ("tap -> scene confirmed", to_scene)):
        ms = [v * 1000 for v in values]
        print(f"  {label:27s} median {statistics.median(ms):7.1f} ms  min {min(ms):7.1f}  max {max(ms):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
