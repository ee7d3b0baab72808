"""Tap-to-decision for a secure badge: an NTAG 424 DNA authenticated through the real PN532 driver.

Two figures, both software time on this machine (the fake PN532 answers at once, so UART and RF time are not in
them; see README "Badges: UID-only vs secure" for the estimate on a real PN532):

1. the door's card exchange alone (SELECT, counted ReadData, AuthenticateEV2First in two frames,
   GetFileCounters in CommMode.Full): APDU round trips and time per exchange, through ``PN532_UART`` and
   the fake serial device to the simulated card;
2. the whole room: from the card landing on the reader to the strike relay pin going high (reader thread,
   authentication, event loop, counter check, booking rules, durable audit row, relay).

Prints p50/p95 in milliseconds; asserts nothing.

    .venv/bin/python bench/bench_badge.py [--exchanges 200] [--taps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

import serial

from roomctl.access.readers.pn532 import exchange_apdu, read_target
from roomctl.access.secure.keys import BadgeKeys
from roomctl.access.secure.verify import CardVerifier
from roomctl.access.service import AccessService
from roomctl.config import load_settings
from roomctl.core.clock import ManualClock
from roomctl.demo import seed
from roomctl.runtime import build_room
from tests.access_helpers import MEMBER_UID, TUESDAY_10, room_sections
from tests.fake_pn532 import FakePN532, FakeSerial
from tests.ntag424_helpers import TEST_MASTER_KEY, mark_secure, provisioned_card

HOLD_GAP_SECONDS = 5.0
"""The room's (manual) clock moves this far between taps, past the hold window."""


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   (n={len(ordered)})"


def bench_exchange(count: int) -> None:
    from adafruit_pn532.uart import PN532_UART

    chip = FakePN532()
    card = provisioned_card(MEMBER_UID)
    pn532 = PN532_UART(FakeSerial(chip))
    verifier = CardVerifier(BadgeKeys(bytes.fromhex(TEST_MASTER_KEY)))
    detect, exchange, trips = [], [], set()
    for _ in range(count):
        chip.place(card)
        started = time.perf_counter()
        target = read_target(pn532, 0.05)
        found = time.perf_counter()
        assert target is not None
        before = chip.exchanges
        proof = verifier(target, lambda apdu, n: exchange_apdu(pn532, apdu, n))
        done = time.perf_counter()
        assert proof.verified, proof
        trips.add((proof.round_trips, chip.exchanges - before))
        detect.append((found - started) * 1000)
        exchange.append((done - found) * 1000)
        chip.remove()
    print(f"APDU round trips per door exchange: {sorted(trips)} (counted by the card check, by the fake chip)")
    print(f"card detection (InListPassiveTarget): {percentiles(detect)}")
    print(f"door exchange (5 APDUs, AES/CMAC): {percentiles(exchange)}")


async def bench_room(taps: int) -> None:
    chip = FakePN532()
    serial.Serial = lambda device, **options: FakeSerial(chip, timeout=options.get("timeout", 0.05))
    os.environ["ROOMCTL_BADGE_MASTER_KEY"] = TEST_MASTER_KEY
    with tempfile.TemporaryDirectory() as tmp:
        sections = room_sections(reader={"kind": "pn532_uart", "name": "voordeur"}, door={"unlock_seconds": 0.05})
        settings = load_settings(None, overrides={"storage": {"data_dir": tmp}, "mqtt": {"enabled": False}, **sections})
        clock = ManualClock(TUESDAY_10)
        room = build_room(settings, clock)
        seed(room)
        await room.start()
        try:
            access = room.service(AccessService)
            reader = access.reader
            reader.poll_seconds = 0.05
            card = provisioned_card(MEMBER_UID)
            mark_secure(room, MEMBER_UID, card, clock.now())
            pin = access.door.relay.pin
            high = threading.Event()
            original = pin._change_state

            def change(value: bool) -> Any:
                if value:
                    high.set()
                return original(value)

            pin._change_state = change
            while not reader.online:
                await asyncio.sleep(0.01)
            latencies = []
            for _ in range(taps):
                while not access.door.locked:
                    await asyncio.sleep(0.01)
                high.clear()
                started = time.perf_counter()
                chip.place(card)
                while not high.is_set():
                    await asyncio.sleep(0.0005)
                latencies.append((time.perf_counter() - started) * 1000)
                chip.remove()
                while reader._held is not None:
                    await asyncio.sleep(0.005)
                clock.advance(HOLD_GAP_SECONDS)
            granted = [r for r in room.db.query("select credential from audit where kind = 'tap' and decision = 'granted'")]
            assert len(granted) == taps and all(r["credential"] == "secure" for r in granted)
            print(f"card on reader -> relay high (whole room, secure badge): {percentiles(latencies)}")
        finally:
            await room.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=200)
    parser.add_argument("--taps", type=int, default=30)
    args = parser.parse_args()
    bench_exchange(args.exchanges)
    asyncio.run(bench_room(args.taps))


if __name__ == "__main__":
    main()
