"""Room devices through a real Mosquitto and the device simulator: scenes, confirmation, bad devices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from roomctl.config import Settings
from roomctl.devices.broker import Broker
from roomctl.session.events import PhaseChanged
from tests.conftest import wait_for
from tests.devices_helpers import Watcher, sim_room


async def test_arrival_scene_is_confirmed_by_every_driver(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings, delay=0.02) as sr:
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "complete", run
        assert set(run["devices"]) == {"ceiling", "corner_light", "blinds", "projector"}
        assert sr.device("ceiling")["state"] == {"on": True, "brightness": 100}
        assert sr.device("projector")["state"] == {"on": True}
        assert sr.sim.device("projector").state == {"on": True}
        assert sr.device("espresso")["command"] != "pending"  # the espresso plug follows bookings, not scenes
        await wait_for(lambda: ((sr.room.screen.get("devices") or {}).get("scene") or {}).get("status") == "complete")
        part = sr.room.status.get("devices")
        ceiling = next(d for d in part["devices"] if d["id"] == "ceiling")
        assert ceiling["availability"] == "online" and ceiling["last_seen"]
        assert {"id", "name", "kind", "state", "availability", "last_seen"} <= set(ceiling)
        run = await sr.service.apply_scene("break")
        assert run["status"] == "complete"
        assert sr.sim.device("fan").state == {"on": True}  # Shelly RPC
        assert sr.room.health.report()["components"]["devices"]["status"] == "ok"


async def test_retained_room_state_carries_devices(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings) as sr:
        await sr.service.apply_scene("clip")
        watcher = Watcher(broker, "roomctl/hq/room1/state")
        try:
            def scene_in_state() -> bool:
                for payload in watcher.on("roomctl/hq/room1/state"):
                    scene = json.loads(payload).get("devices", {}).get("scene") or {}
                    if scene.get("name") == "clip" and scene.get("status") == "complete":
                        return True
                return False

            await wait_for(scene_in_state)
        finally:
            watcher.close()


async def test_device_that_never_confirms_is_retried_then_reported(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings) as sr:
        sr.sim.behave("projector", drop_confirmations=True)
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "incomplete" and run["waiting_for"] == ["projector"]
        assert sr.sim.device("projector").commands == 2  # first try + one retry (FAST_SCENES)
        projector = sr.device("projector")
        assert projector["command"] == "failed" and "did not" in projector["detail"]
        health = sr.room.health.report()["components"]["devices"]
        assert health["status"] == "degraded" and "Projector" in health["detail"]


async def test_device_confirming_the_wrong_state_is_reported(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings) as sr:
        sr.sim.behave("corner_light", wrong_state=True)
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "incomplete"
        light = sr.device("corner_light")
        assert light["command"] == "failed" and "reports {'on': False}" in light["detail"]


async def test_device_offline_mid_scene_completes_the_scene_when_it_returns(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings) as sr:
        sr.sim.behave("projector", offline=True)
        await wait_for(lambda: sr.device("projector")["availability"] == "offline")
        health = sr.room.health.report()["components"]["devices"]
        assert health["status"] == "degraded" and "offline: Projector" in health["detail"]
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "incomplete" and run["waiting_for"] == ["projector"]
        assert "offline" in sr.device("projector")["detail"]
        sr.sim.behave("projector", offline=False)
        await wait_for(lambda: sr.service.engine.current.status == "complete")
        assert sr.sim.device("projector").state == {"on": True}
        assert sr.device("projector")["command"] == "confirmed"
        assert sr.room.health.report()["components"]["devices"]["status"] == "ok"


async def test_broker_restart_during_a_scene(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings, delay=0.5, scenes={"command_timeout_seconds": 1.0}) as sr:
        run = sr.service.engine.start_scene("arrival")
        await asyncio.sleep(0.1)
        await asyncio.to_thread(broker.restart)
        await wait_for(lambda: run.status == "complete", timeout=20)
        assert sr.sim.device("ceiling").state["on"] is True
        assert all(sr.device(d)["state"] for d in run.targets)


async def test_no_feedback_device_is_assumed(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    devices = [
        {"id": "sign", "kind": "light", "driver": "generic_json", "name": "Bord", "topic": "room/sign",
         "feedback": False},
        {"id": "lamp", "kind": "dimmer", "driver": "generic_json", "name": "Lamp", "topic": "room/lamp"},
    ]
    async with sim_room(broker, make_settings, devices=devices) as sr:
        assert sr.device("sign")["availability"] == "assumed"
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "complete"
        assert sr.device("sign")["command"] == "assumed" and sr.device("sign")["state"] == {"on": True}
        await wait_for(lambda: sr.sim.device("sign").state.get("on") is True)
        assert sr.device("lamp")["state"] == {"on": True, "brightness": 100}


async def test_phase_change_applies_the_phase_scene(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings) as sr:
        sr.room.post(PhaseChanged(source="session", phase="clip", scene="clip"))
        engine = sr.service.engine
        await wait_for(lambda: engine.current is not None and engine.current.status == "complete")
        assert sr.service.engine.current.name == "clip"
        assert sr.sim.device("blinds").state["position"] == 0
        assert sr.sim.device("ceiling").state == {"on": True, "brightness": 20}
        sr.room.post(PhaseChanged(source="session", phase="brainstorm"))  # no scene named: the phase's own
        await wait_for(lambda: engine.current.name == "brainstorm" and engine.current.status == "complete")
        sr.room.post(PhaseChanged(source="session", phase="wrapup", scene=None))  # no such scene: nothing
        await asyncio.sleep(0.2)
        assert sr.service.engine.current.name == "brainstorm"


async def test_flood_of_messages_does_not_stall_the_room(
    broker: Broker, make_settings: Callable[..., Settings]
) -> None:
    async with sim_room(broker, make_settings) as sr:
        version = sr.room.screen.version
        for i in range(3000):
            payload = json.dumps({"state": "ON", "brightness": i % 255}).encode()
            sr.sim.publish_raw("zigbee2mqtt/leerruimte/plafond", payload)
        # Mosquitto drops what roomctl cannot take fast enough (max_queued_messages); wait until it is quiet
        last = None
        while (current := sr.device("ceiling")["state"]) != last:
            last = current
            await asyncio.sleep(0.5)
        sr.sim.publish_raw("zigbee2mqtt/leerruimte/plafond", b'{"state":"OFF","brightness":127}')
        await wait_for(lambda: sr.device("ceiling")["state"] == {"on": False, "brightness": 50})
        assert sr.room.screen.version - version < 200  # coalesced, not one push per message
        run = await sr.service.apply_scene("arrival")
        assert run["status"] == "complete"


async def test_binary_junk_is_ignored(broker: Broker, make_settings: Callable[..., Settings]) -> None:
    async with sim_room(broker, make_settings) as sr:
        await sr.service.apply_scene("arrival")
        before = {d["id"]: (d["state"], d["availability"]) for d in sr.service.registry.snapshot()}
        topics = [t for dev in sr.service.registry.devices.values() for t in dev.driver.subscriptions()]
        for topic in topics:
            for junk in (b"\x00\xff\xfe", b"\x89PNG\r\n\x1a\n", b"{\"state\":", b"Offlin", b"\xc3\x28"):
                sr.sim.publish_raw(topic, junk)
        sr.sim.publish_raw("tele/projector/LWT", b"Online")  # a good message after the junk, as a marker
        await wait_for(lambda: sum(d.malformed for d in sr.service.registry.devices.values()) >= len(topics) * 4)
        after = {d["id"]: (d["state"], d["availability"]) for d in sr.service.registry.snapshot()}
        assert after == before
        assert (await sr.service.apply_scene("leave"))["status"] == "complete"
