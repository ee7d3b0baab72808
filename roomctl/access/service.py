"""Turning a tap into an unlock: decide, record, then move the relay.

The audit entry is written (durably) before the relay moves, so a crash between decision and unlock loses
nothing. The first granted tap in a booking's window checks the booking in; the session capability hears
:class:`~roomctl.access.events.AccessGranted` and starts the session.
"""

from __future__ import annotations

import logging
from typing import Any

from gpiozero.pins.mock import MockFactory

from roomctl.access.audit import AuditLog, load_key
from roomctl.access.decisions import Decision, Reason, decide
from roomctl.access.door import Door, Signal
from roomctl.access.events import AccessGranted, DoorContactChanged, DoorRelocked, ExitPressed, Tap
from roomctl.access.gpio import make_pin_factory
from roomctl.booking.repository import BookingRepository, normalize_uid
from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.errors import ValidationError

log = logging.getLogger(__name__)


class AccessService:
    """Owns the door and decides on taps."""

    name = "access"

    def __init__(self, room: Room) -> None:
        self.room = room
        self.repo = BookingRepository(room.db)
        self.audit = AuditLog(room.db, load_key(room.settings.storage.data_dir))
        self.factory = make_pin_factory(room.settings.gpio)
        self.door: Door | None = None
        room.on(Tap, self.on_tap)
        room.on(ExitPressed, self._on_exit)
        room.on(DoorContactChanged, self._on_contact)
        room.on(DoorRelocked, lambda event: self._publish())

    async def start(self) -> None:
        """Open the GPIO devices (locked) and publish the door's state."""
        gpio = self.room.settings.gpio
        self.door = Door(
            gpio,
            self.room.settings.door,
            self.factory,
            on_contact=lambda is_open: self.room.post(DoorContactChanged(source="contact", open=is_open)),
            on_exit=lambda: self.room.post(ExitPressed(source="exit_button")),
            on_relock=lambda: self.room.post(DoorRelocked(source="door")),
        )
        if isinstance(self.factory, MockFactory) and gpio.door_contact is not None:
            self.factory.pin(gpio.door_contact).drive_low()  # the simulated door starts shut
        self._publish()

    async def stop(self) -> None:
        """Lock the door and release the pins."""
        if self.door is not None:
            self.door.close()
            self.door = None

    def health(self) -> ComponentHealth:
        """Down when the door hardware is not open: then nobody gets in."""
        if self.door is None:
            return ComponentHealth("down", "the door's GPIO devices are not open; check the [gpio] settings")
        return ComponentHealth("ok", "locked" if self.door.locked else "unlocked")

    # -- handlers -------------------------------------------------------------------------------------------

    def on_tap(self, tap: Tap) -> Decision:
        """Decide on a tap, record it, then unlock on a grant."""
        now = self.room.clock.now()
        try:
            uid = normalize_uid(tap.uid)
        except ValidationError:
            self.audit.append(
                now, "tap", reader=tap.reader, decision="denied", reason=Reason.MALFORMED.value,
                detail={"length": len(tap.uid) if isinstance(tap.uid, str) else None},
            )
            log.warning("malformed UID from reader %s rejected", tap.reader)
            self._signal(Signal.DENIED)
            return Decision(False, Reason.MALFORMED)
        decision = decide(self.repo, self.room.settings, uid, now)
        first = bool(decision.granted and decision.booking and decision.booking.status == "booked")
        self.audit.append(
            now,
            "tap",
            reader=tap.reader,
            uid=uid,
            member_id=decision.member.id if decision.member else None,
            decision="granted" if decision.granted else "denied",
            reason=decision.reason.value,
            detail={"booking_id": decision.booking.id} if decision.booking else None,
        )
        if not decision.granted:
            log.info("tap at %s denied: %s", tap.reader, decision.reason.value)
            self._signal(Signal.DENIED)
            return decision
        if self.door is not None:
            self.door.unlock()
        self._signal(Signal.GRANTED)
        if decision.booking and first:
            self.repo.check_in(decision.booking.id, now=now)
        self.room.post(
            AccessGranted(
                source="access",
                member_id=decision.member.id if decision.member else None,
                group_id=decision.booking.group_id if decision.booking else None,
                booking_id=decision.booking.id if decision.booking else None,
                first=first,
            )
        )
        self._publish()
        return decision

    def _on_exit(self, event: ExitPressed) -> None:
        self.audit.append(self.room.clock.now(), "door", reader="exit_button", decision="granted", reason="exit")
        self._publish()

    def _on_contact(self, event: DoorContactChanged) -> None:
        self.audit.append(self.room.clock.now(), "door", reason="opened" if event.open else "closed")
        self._publish()

    # -- output ---------------------------------------------------------------------------------------------

    def _signal(self, signal: Signal) -> None:
        if self.door is not None:
            self.door.show(signal)

    def _publish(self) -> None:
        state: dict[str, Any] = self.door.state() if self.door else {"locked": True, "open": None, "source": "assumed"}
        self.room.screen.set("door", state)
        self.room.status.set("door", state)
