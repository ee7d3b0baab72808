"""Turning a tap into an unlock: filter, decide, record, then move the relay; and watching the door.

The audit entry is written (durably) before the relay moves, so a crash between decision and unlock loses
nothing. The first granted tap in a booking's window checks the booking in; the session capability hears
:class:`~roomctl.access.events.AccessGranted` and starts the session (later taps mark members present).
Decisions read only the local database: no broker, WAN or LLM is involved.

Before a tap is decided, a card still lying on the reader (the same UID again within the hold window) gets the
earlier decision without a new one, and a reader that saw too many denied taps is locked out for a while.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any

from gpiozero.pins.mock import MockFactory
from prometheus_client import Counter

from roomctl.access.alarms import AlarmBoard, AlarmKind
from roomctl.access.audit import AuditLog, load_key
from roomctl.access.decisions import Decision, Reason, decide, in_closure
from roomctl.access.door import Door, Signal
from roomctl.access.events import (
    AccessGranted,
    AccessHousekeeping,
    DoorContactChanged,
    DoorRelocked,
    ExitPressed,
    HeldOpenCheck,
    LockoutEnded,
    ProvisioningTimeout,
    ReaderStatusChanged,
    Tap,
)
from roomctl.access.gpio import make_pin_factory
from roomctl.access.guard import NETWORK_LOCKOUT_FACTOR, NETWORK_READERS, HoldFilter, Lockout
from roomctl.access.presence import PresenceSensor
from roomctl.access.readers import Reader, make_reader
from roomctl.access.secure.credentials import SECURE, UID, SecureBadges
from roomctl.access.secure.policy import SecureBadgePolicy
from roomctl.access.secure.tap_desk import ProvisionDesk
from roomctl.access.secure.verify import CardProof, CardVerifier
from roomctl.booking.repository import BookingRepository, normalize_uid
from roomctl.booking.service import BookingService
from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.devices.events import PresenceChanged
from roomctl.errors import ValidationError
from roomctl.session.guests import DoorCodeEntered, GuestService
from roomctl.speech.events import RecordingChanged

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 30.0
"""How often the booked-soon colour is checked."""
RETENTION_EVERY_SECONDS = 3600.0
"""How often expired audit entries are deleted."""
REMEMBERED_PROOFS = 32
"""Card proofs whose decision is kept to answer the reader's repeats of a held card."""
DOOR = "door"
"""The subject of door alarms (one door per room)."""


class AccessService:
    """Owns the door and the reader, decides on taps, raises the door's alarms."""

    name = "access"

    def __init__(self, room: Room, bus: MqttBus | None = None) -> None:
        self.room = room
        self.bus = bus
        self.settings = room.settings
        self.repo = BookingRepository(room.db)
        self.audit = AuditLog(room.db, load_key(room.settings.storage.data_dir))
        self.secure_badges = SecureBadges(room.db)
        self.verifier = CardVerifier.from_secret()
        self.policy = SecureBadgePolicy(room.settings, self.repo, self.secure_badges)
        self.provisioning = ProvisionDesk(
            room, self.repo, self.secure_badges, self.audit, self.verifier, lambda: self.reader.kind if self.reader else None
        )
        self.factory = make_pin_factory(room.settings.gpio)
        self.door: Door | None = None
        self.reader: Reader | None = None
        self.keypad: Reader | None = None
        """The keypad at the door for guests' codes, when ``[reader] keypad_device`` names one."""
        self.presence: PresenceSensor | None = None
        door = room.settings.door
        self.hold: HoldFilter[Decision] = HoldFilter()
        self._proofs: OrderedDict[int, tuple[CardProof, Decision]] = OrderedDict()
        """Decisions on recent card proofs: a reader repeats a held card's proof, which is one presentation."""
        self.lockout = Lockout(door.lockout_denied_taps, door.lockout_window_seconds, door.lockout_seconds)
        self.network_lockout = Lockout(door.lockout_denied_taps * NETWORK_LOCKOUT_FACTOR, door.lockout_window_seconds,
                                       door.lockout_seconds)  # all networked readers together (issue 14)
        self.alarms = AlarmBoard(self.audit, room.clock, self._publish_alarms)
        self._opening = 0
        self._recording = False
        self._booked_soon = False
        self._standing: Signal | None = None
        self._relay_error: str | None = None
        self._last_retention = -RETENTION_EVERY_SECONDS
        self._door_screen = room.screen.claim("door", owner=self.name)
        self._door_status = room.status.claim("door", owner=self.name)
        self._alarms_screen = room.screen.claim("alarms", owner=self.name)
        self._alarms_status = room.status.claim("alarms", owner=self.name)
        self._taps = Counter(
            "roomctl_door_taps_total", "Taps decided at the door", ["decision", "reason"], registry=room.registry
        )
        room.on(Tap, self.on_tap)
        room.on(ExitPressed, self._on_exit)
        room.on(DoorContactChanged, self._on_contact)
        room.on(DoorRelocked, lambda event: self._publish())
        room.on(HeldOpenCheck, self._on_held_open_check)
        room.on(LockoutEnded, self._on_lockout_ended)
        room.on(ReaderStatusChanged, self._on_reader_status)
        room.on(AccessHousekeeping, lambda event: self.housekeeping())
        room.on(ProvisioningTimeout, self.provisioning.on_timeout)
        room.on(DoorCodeEntered, self.on_door_code)
        self._listen_for_recording()
        self._publish_alarms(self.alarms.part())

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the GPIO devices (locked), start the reader, publish the door's state."""
        gpio = self.room.settings.gpio
        self.door = Door(
            gpio,
            self.room.settings.door,
            self.factory,
            on_contact=lambda is_open, let_in: self.room.post(
                DoorContactChanged(source="contact", open=is_open, let_in=let_in)
            ),
            on_exit=lambda: self.room.post(ExitPressed(source="exit_button")),
            on_relock=lambda: self.room.post(DoorRelocked(source="door")),
        )
        if isinstance(self.factory, MockFactory) and gpio.door_contact is not None:
            self.factory.pin(gpio.door_contact).drive_low()  # the simulated door starts shut
        self.audit.set_retention(self.settings.door.audit_retention_days)
        if self.verifier.problem and self.secure_badges.count():
            log.error("%d secure badges will be refused: %s", self.secure_badges.count(), self.verifier.problem)
        self.reader = make_reader(self.settings, bus=self.bus, card_check=self.verifier)
        reader = self.reader
        reader.start(
            lambda uid, proof=None: self.room.post(Tap(source=reader.kind, uid=uid, reader=reader.name, proof=proof)),
            lambda online, detail: self.room.post(
                ReaderStatusChanged(source=reader.kind, reader=reader.name, online=online, detail=detail)
            ),
        )
        if self.settings.reader.keypad_device:
            self.keypad = self._start_keypad(self.settings.reader.keypad_device)
        if gpio.pir is not None:
            self.presence = PresenceSensor(
                gpio.pir, self.factory, lambda present: self.room.post(PresenceChanged(source="pir", present=present))
            )
        self.housekeeping()
        self.room.every(
            HOUSEKEEPING_SECONDS, lambda: self.room.post(AccessHousekeeping(source="access")), name="access-housekeeping"
        )
        self._publish()

    async def stop(self) -> None:
        """Stop the reader, lock the door and release the pins."""
        for reader in (self.reader, self.keypad):
            if reader is not None:
                await asyncio.to_thread(reader.stop)
        self.reader = self.keypad = None
        if self.presence is not None:
            self.presence.close()
            self.presence = None
        if self.door is not None:
            self.door.close()
            self.door = None

    def health(self) -> ComponentHealth:
        """Down when the door hardware is not open or the strike relay failed: then nobody gets in."""
        if self.door is None:
            return ComponentHealth("down", "the door's GPIO devices are not open; check the [gpio] settings")
        if self._relay_error:
            return ComponentHealth("down", f"the strike relay failed: {self._relay_error}; check the relay wiring")
        return ComponentHealth("ok", "locked" if self.door.locked else "unlocked")

    def reader_health(self) -> ComponentHealth:
        """The reader's own health; degraded (never down) while offline: the exit button and API still work.

        With a keypad, degraded too while the keypad is offline (guests can still use the tablet).
        """
        if self.reader is None:
            return ComponentHealth("degraded", "the reader has not started")
        health = self.reader.health()
        if self.keypad is None or self.keypad.online:
            return health
        keypad = self.keypad.health()
        return ComponentHealth("degraded", f"{health.detail}; {keypad.detail}")

    def _start_keypad(self, device: str) -> Reader:
        """Start the keypad at ``device``: each code typed on it is decided like one from the tablet."""
        from roomctl.access.readers.keypad import KeypadReader

        keypad = KeypadReader(device)
        keypad.start(
            lambda code, proof=None: self.room.post(DoorCodeEntered(source=keypad.kind, code=code, reader=keypad.name)),
            lambda online, detail: self.room.post(
                ReaderStatusChanged(source=keypad.kind, reader=keypad.name, online=online, detail=detail)
            ),
        )
        return keypad

    # -- taps -----------------------------------------------------------------------------------------------

    def on_tap(self, tap: Tap) -> Decision:
        """Decide on a tap (once per card held), record it, then unlock on a grant."""
        mono = self.room.clock.monotonic()
        raw = tap.uid if isinstance(tap.uid, str) else ""
        try:
            uid: str | None = normalize_uid(tap.uid)
        except ValidationError:
            uid = None
        key = uid or raw[:80]
        earlier = self.hold.repeat_of(tap.reader, key, mono)
        if earlier is None and tap.proof is not None and id(tap.proof) in self._proofs:
            proof, earlier = self._proofs[id(tap.proof)]
            earlier = earlier if proof is tap.proof else None
        if earlier is not None:
            log.debug("card still held at %s: no new decision", tap.reader)
            return earlier
        decision = self._decide(tap, uid, mono)
        self.hold.remember(tap.reader, key, mono, decision)
        if tap.proof is not None:
            self._proofs[id(tap.proof)] = (tap.proof, decision)
            while len(self._proofs) > REMEMBERED_PROOFS:
                self._proofs.popitem(last=False)
        return decision

    def _lockout_keys(self, tap: Tap) -> list[tuple[Lockout, str]]:
        """Lockout counts per reader, and for networked (API) readers also all of them together (issue 14)."""
        own = (self.lockout, tap.reader)
        return [own, (self.network_lockout, NETWORK_READERS)] if tap.source == "api" else [own]

    def _decide(self, tap: Tap, uid: str | None, mono: float) -> Decision:
        now = self.room.clock.now()
        if any(lockout.locked(key, mono) for lockout, key in self._lockout_keys(tap)):
            decision = Decision(False, Reason.LOCKED_OUT)
            remaining = round(max(lockout.remaining(key, mono) for lockout, key in self._lockout_keys(tap)), 1)
            self._record(tap, uid, decision, {"lockout_remaining_seconds": remaining})
            log.warning("tap at %s refused: reader locked out for %.0f s more", tap.reader, remaining)
            self._signal(Signal.DENIED)
            return decision
        if uid is None:
            decision = Decision(False, Reason.MALFORMED)
            length = len(tap.uid) if isinstance(tap.uid, str) else None
            self._record(tap, None, decision, {"length": length, "type": type(tap.uid).__name__})
            log.warning("malformed UID (length %s) from reader %s rejected", length, tap.reader)
            self._denied(self._lockout_keys(tap), mono)
            return decision
        if tap.proof is not None and tap.proof.provisioning is not None:
            return self._provisioned(tap, uid, tap.proof, now)
        booking = self.room.find_service(BookingService)  # enrol-by-tap and walk-ins
        if booking is not None and (enrolled := booking.enrol_by_tap(uid, now)) is not None:
            self._record(tap, uid, Decision(False, Reason.ENROLMENT, enrolled), None)
            return Decision(False, Reason.ENROLMENT, enrolled)
        credential, refusal = self.policy.judge(uid, tap.proof, now)
        if refusal is not None:
            return self._refuse_credential(tap, uid, mono, credential, refusal)
        decision = decide(self.repo, self.settings, uid, now)
        decision = self._guest_badge(uid, now, decision)
        if decision.reason is Reason.OUTSIDE_WINDOW and booking is not None and decision.member is not None:
            walk_in = booking.walk_in(decision.member, now)
            decision = Decision(True, Reason.WALK_IN, decision.member, walk_in) if walk_in else decision
        decision = dataclasses.replace(decision, credential=credential)
        if not decision.granted:
            self._record(tap, uid, decision, {"booking_id": decision.booking.id} if decision.booking else None)
            log.info("tap at %s denied: %s", tap.reader, decision.reason.value)
            self._denied(self._lockout_keys(tap), mono)
            return decision
        self._grant(tap, uid, decision)
        return decision

    # -- secure badges --------------------------------------------------------------------------------------

    def _refuse_credential(self, tap: Tap, uid: str, mono: float, credential: str, reason: Reason) -> Decision:
        member, _ = self.repo.badge_owner(uid)
        decision = Decision(False, reason, member, credential=credential)
        self._record(tap, uid, decision, self.policy.refusal_detail(uid, tap.proof, reason) or None)
        log.warning("tap at %s refused: %s", tap.reader, reason.value)
        self._denied(self._lockout_keys(tap), mono, Signal.NOT_SECURE if reason is Reason.BADGE_NOT_SECURE else Signal.DENIED)
        return decision

    def _provisioned(self, tap: Tap, uid: str, proof: CardProof, now: datetime) -> Decision:
        """Enrol what the reader provisioned for the admin (or record why not); the door stays shut."""
        member, status = self.provisioning.enrol(tap.reader, uid, proof, now)
        decision = Decision(False, Reason.ENROLMENT, member, credential=SECURE if member else UID)
        self._record(tap, uid, decision, {"provisioning": status})
        return decision

    # -- guests (issue 19) -- the one hook for the session capability's GuestService: it says whether a door
    # code or a temporary guest badge opens now; recording, lockout and the relay stay this service's own.

    def _guest_badge(self, uid: str, now: Any, decision: Decision) -> Decision:
        guests = self.room.find_service(GuestService)
        if decision.reason is not Reason.UNKNOWN or guests is None or in_closure(self.repo, now):
            return decision
        booking = guests.admit_badge(uid, now)
        return Decision(True, Reason.GUEST, None, booking) if booking else decision

    def on_door_code(self, event: DoorCodeEntered) -> dict[str, Any]:
        """A guest's door code from the keypad or the tablet: opens once, in its booking's window."""
        mono = self.room.clock.monotonic()
        now = self.room.clock.now()
        tap = Tap(source=event.source, uid="", reader=event.reader)
        guests = self.room.find_service(GuestService)
        if self.lockout.locked(event.reader, mono):
            self._record(tap, None, Decision(False, Reason.LOCKED_OUT), None)
            return {"granted": False, "reason": Reason.LOCKED_OUT.value,
                    "message": "too many wrong codes; wait a few minutes and try again"}  # fmt: skip
        if guests is None or in_closure(self.repo, now):
            self._record(tap, None, Decision(False, Reason.GUEST_CODE), {"why": "closed"})
            self._denied([(self.lockout, event.reader)], mono)
            return {"granted": False, "reason": Reason.GUEST_CODE.value, "why": "closed",
                    "message": "the room is closed now"}  # fmt: skip
        check = guests.redeem_code(event.code, now)
        if check.booking is None:
            self._record(tap, None, Decision(False, Reason.GUEST_CODE), {"why": check.reason, "guest_id": check.guest_id})
            self._denied([(self.lockout, event.reader)], mono)
            return {"granted": False, "reason": Reason.GUEST_CODE.value, "why": check.reason,
                    "message": check.message, **check.extra}  # fmt: skip
        decision = Decision(True, Reason.GUEST, None, check.booking)
        self._grant(tap, "", decision)
        return {**decision.as_dict(), "message": check.message}

    # -- end of the guests hook --

    def _grant(self, tap: Tap, uid: str, decision: Decision) -> None:
        now = self.room.clock.now()
        first = bool(decision.booking and decision.booking.status == "booked")
        detail: dict[str, Any] = {"booking_id": decision.booking.id} if decision.booking else {}
        if decision.reason is Reason.MASTER:
            detail["master"] = True
            log.warning("master badge %s opened the door at %s", self.audit.badge_hash(uid)[:10], tap.reader)
        self._record(tap, uid, decision, detail or None)  # durable before the relay moves
        if self.door is not None:
            try:
                self.door.unlock()
            except Exception as exc:
                self._relay_error = f"{type(exc).__name__}: {exc}"
                log.exception("the strike relay did not energise")
                self.audit.append(now, "door", reader=tap.reader, reason="relay_failed", detail={"error": str(exc)})
            else:
                self._relay_error = None
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

    def _record(self, tap: Tap, uid: str | None, decision: Decision, detail: dict[str, Any] | None) -> None:
        self.audit.append(
            self.room.clock.now(),
            "tap",
            reader=tap.reader,
            uid=uid,
            member_id=decision.member.id if decision.member else None,
            decision="granted" if decision.granted else "denied",
            reason=decision.reason.value,
            detail=detail,
            credential=decision.credential,
        )
        self._taps.labels("granted" if decision.granted else "denied", decision.reason.value).inc()

    def _denied(self, lockouts: list[tuple[Lockout, str]], mono: float, signal: Signal = Signal.DENIED) -> None:
        self._signal(signal)
        for lockout, reader in lockouts:
            self._count_denial(lockout, reader, mono)

    def _count_denial(self, lockout: Lockout, reader: str, mono: float) -> None:
        if lockout.denied(reader, mono):
            door = self.settings.door
            self.alarms.raise_alarm(
                AlarmKind.LOCKOUT,
                reader,
                f"{door.lockout_denied_taps} denied taps within {door.lockout_window_seconds:g} s; "
                f"reader locked out for {door.lockout_seconds:g} s",
            )
            self.room.post_later(door.lockout_seconds, LockoutEnded(source="access", reader=reader))

    def _on_lockout_ended(self, event: LockoutEnded) -> None:
        lockout = self.network_lockout if event.reader == NETWORK_READERS else self.lockout
        if not lockout.locked(event.reader, self.room.clock.monotonic()):
            self.alarms.clear(AlarmKind.LOCKOUT, event.reader, "lockout over")

    # -- the door -------------------------------------------------------------------------------------------

    def _on_exit(self, event: ExitPressed) -> None:
        self.audit.append(self.room.clock.now(), "door", reader="exit_button", decision="granted", reason="exit")
        self._publish()

    def _on_contact(self, event: DoorContactChanged) -> None:
        now = self.room.clock.now()
        if event.open:
            self._opening += 1
            forced = not event.let_in
            self.audit.append(now, "door", reason="opened", detail={"forced": True} if forced else None)
            if forced:
                self.alarms.raise_alarm(AlarmKind.FORCED, DOOR, "the door opened while the strike was locked")
            self.room.post_later(
                self.settings.door.held_open_alarm_seconds, HeldOpenCheck(source="access", opening=self._opening)
            )
        else:
            self.audit.append(now, "door", reason="closed")
            self.alarms.clear(AlarmKind.HELD_OPEN, DOOR, "door shut")
            self.alarms.clear(AlarmKind.FORCED, DOOR, "door shut")
        self._publish()

    def _on_held_open_check(self, event: HeldOpenCheck) -> None:
        if self.door is None or event.opening != self._opening or not self.door.is_open:
            return
        self.alarms.raise_alarm(
            AlarmKind.HELD_OPEN, DOOR, f"open longer than {self.settings.door.held_open_alarm_seconds:g} s"
        )

    def _on_reader_status(self, event: ReaderStatusChanged) -> None:
        if event.online:
            self.alarms.clear(AlarmKind.READER_OFFLINE, event.reader, event.detail)
        else:
            self.alarms.raise_alarm(AlarmKind.READER_OFFLINE, event.reader, event.detail)
        self._publish()

    # -- LED, housekeeping ----------------------------------------------------------------------------------

    def _listen_for_recording(self) -> None:
        def changed(event: RecordingChanged) -> None:
            self._recording = event.active
            self._show_standing()

        self.room.on(RecordingChanged, changed)

    def _show_standing(self) -> None:
        if self._recording:
            standing = Signal.RECORDING
        elif self._booked_soon:
            standing = Signal.BOOKED_SOON
        else:
            standing = Signal.IDLE
        if standing is not self._standing and self.door is not None:
            self._standing = standing
            self.door.show(standing)

    def housekeeping(self) -> None:
        """Update the booked-soon colour; delete expired audit entries (hourly)."""
        now = self.room.clock.now()
        upcoming = self.repo.next_after(now)
        soon = self.settings.door.booked_soon_minutes * 60
        self._booked_soon = bool(
            upcoming and upcoming.status == "booked" and (upcoming.start - now).total_seconds() <= soon
        )
        self._show_standing()
        mono = self.room.clock.monotonic()
        if mono - self._last_retention >= RETENTION_EVERY_SECONDS:
            self._last_retention = mono
            self.audit.expire_retention(now)

    # -- output ---------------------------------------------------------------------------------------------

    def _signal(self, signal: Signal) -> None:
        if self.door is not None:
            self.door.show(signal)

    def door_state(self) -> dict[str, Any]:
        """The door's state as the screens show it (locked, open, source, the reader)."""
        state: dict[str, Any] = self._door_screen.get({})
        return state

    def _publish(self) -> None:
        state: dict[str, Any] = self.door.state() if self.door else {"locked": True, "open": None, "source": "assumed"}
        if self.reader is not None:
            state["reader"] = {"name": self.reader.name, "kind": self.reader.kind, "online": self.reader.online}
        self._door_screen.set(state)
        self._door_status.set(state)

    def _publish_alarms(self, part: dict[str, Any]) -> None:
        self._alarms_screen.set(part)
        self._alarms_status.set(part)
