"""Pairing a tablet with the room: a six-digit PIN on the projector, typed on the tablet, gives it a token.

The PIN is in the screen part ``pairing`` (``{"pin", "rotates_at", "locked_until", "show_until", "tries_left"}``),
which only the projector's (kiosk) feed carries (:mod:`roomctl.api.feeds`), and it carries the PIN only while
pairing is open (not locked). ``POST /api/v1/tablet/pair {"pin"}`` is public: the right PIN returns a
facilitator token bound to the running session's group and booking, expiring when that booking ends (at the
latest :data:`SESSION_TOKEN_HOURS`); paired while no session runs, the token holds only the group in the room
and is bound to the next session that starts (or expires after :data:`ROOM_TOKEN_HOURS`). The PIN changes every
:data:`PIN_ROTATE_SECONDS` and after every pairing.

Wrong PINs are limited per client and globally: :data:`MAX_WRONG_PINS` wrong PINs in a row from one client
lock that client out for :data:`LOCK_SECONDS` (others can still pair); every :data:`ROTATE_AFTER_WRONG` wrong
PINs from anywhere replace the PIN, and :data:`MAX_WRONG_GLOBAL` within one PIN's life lock pairing for
everybody, but only for :data:`GLOBAL_LOCK_SECONDS`. Guessing from many addresses thus gets at most
:data:`ROTATE_AFTER_WRONG` tries at one PIN of a million. Only the token's hash is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from roomctl.api.roles import Role
from roomctl.api.tokens import bind_token, create_token, revoke_token
from roomctl.core.room import Room
from roomctl.errors import AuthError, NotFoundError, RateLimitedError, ValidationError

log = logging.getLogger(__name__)

PART = "pairing"
"""The screen part holding the PIN."""
PIN_DIGITS = 6
"""Length of the PIN."""
PIN_ROTATE_SECONDS = 600
"""A PIN is replaced after this long even when nobody used it."""
MAX_WRONG_PINS = 5
"""Wrong PINs in a row from one client that lock that client out."""
LOCK_SECONDS = 300
"""How long a client stays locked out after too many wrong PINs."""
ROTATE_AFTER_WRONG = 10
"""Wrong PINs from all clients together after which the PIN is replaced."""
MAX_WRONG_GLOBAL = 30
"""Wrong PINs from all clients within one PIN rotation period that lock pairing for everybody."""
GLOBAL_LOCK_SECONDS = 60
"""How long pairing is locked for everybody after :data:`MAX_WRONG_GLOBAL` (short: nobody locks others out long)."""
MAX_CLIENTS_TRACKED = 1024
"""Clients whose wrong PINs are remembered (the oldest are forgotten first)."""
SHOW_SECONDS = 120
"""How long the projector shows the PIN on any screen after a tablet asks for it."""
ROOM_TOKEN_HOURS = 12
"""Lifetime of a token paired while no session runs (a working day)."""
SESSION_TOKEN_HOURS = 6
"""Longest lifetime of a session-bound token (it is revoked earlier, when its session ends)."""
TOKEN_LABEL = "tablet (paired with PIN)"  # noqa: S105 (a label, not a secret)
"""Label of paired tablets' tokens in ``roomctl token list``."""


class TabletPairing:
    """The PIN, the wrong-PIN counter and the tokens of paired tablets.

    Args:
        room: The room (its clock, database and screen).
        session_id: Returns the running session's id, or ``None``.
    """

    def __init__(
        self,
        room: Room,
        session_id: Callable[[], int | None],
        binding: Callable[[], tuple[int | None, int | None]] = lambda: (None, None),
    ) -> None:
        self.room = room
        self._session_id = session_id
        self._binding = binding
        self._clients: dict[str, tuple[int, datetime | None]] = {}
        self.wrong_total = 0
        self._part = room.screen.claim(PART, owner="session")
        self.pin = ""
        self.rotates_at: datetime | None = None
        self.locked_until: datetime | None = None
        self.show_until: datetime | None = None
        self.wrong = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Pick a first PIN and drop the tokens that expired while the room was down."""
        self.sweep()
        self.rotate()

    def stop(self) -> None:
        """Cancel the rotation timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def rotate(self) -> None:
        """Replace the PIN (never by the same one) and schedule the next rotation."""
        now = self.room.clock.now()
        old = self.pin
        while self.pin == old:
            self.pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
        self.rotates_at = now + timedelta(seconds=PIN_ROTATE_SECONDS)
        self.wrong_total = 0
        self._schedule(PIN_ROTATE_SECONDS)
        self.publish()

    def _schedule(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._timer = None
            return
        self._timer = loop.call_later(seconds, self.refresh)

    def refresh(self) -> None:
        """Lift a lock that ran out and rotate a PIN that is due, by the room's clock (the timers call this)."""
        self._timer = None
        now = self.room.clock.now()
        self._catch_up(now)
        if self._timer is None:
            due = self.locked_until or self.rotates_at
            self._schedule(max((due - now).total_seconds() if due else PIN_ROTATE_SECONDS, 1.0))

    def _catch_up(self, now: datetime) -> None:
        if self.locked_until is not None and now >= self.locked_until:
            self.locked_until = None
            self.wrong = 0
            log.info("tablet pairing unlocked")
            self.rotate()
        elif self.rotates_at is not None and now >= self.rotates_at:
            self.rotate()

    # -- pairing --------------------------------------------------------------------------------------------

    def request_show(self) -> dict[str, Any]:
        """A tablet asks the projector to show the PIN for a while."""
        self.show_until = self.room.clock.now() + timedelta(seconds=SHOW_SECONDS)
        self.publish()
        return self.public_view()

    def pair(self, pin: object, client: str = "local") -> dict[str, Any]:
        """Check a PIN; the right one gives a facilitator token.

        Args:
            pin: What the tablet sent.
            client: Who sent it (the client's address), for the per-client limit.

        Returns:
            ``{"token", "role", "session_id", "group_id", "expires_at"}``.

        Raises:
            ValidationError: ``pin`` is not six digits (not counted as a wrong PIN).
            RateLimitedError: This client (or, briefly, everybody) is locked out after too many wrong PINs.
            AuthError: The PIN is wrong (says how many tries this client has left).
        """
        now = self.room.clock.now()
        self._catch_up(now)
        wrong, client_locked = self._clients.get(client, (0, None))
        if client_locked is not None and now >= client_locked:
            wrong, client_locked = 0, None
            self._clients.pop(client, None)
        locked = max((t for t in (self.locked_until, client_locked) if t is not None), default=None)
        if locked is not None:
            seconds = int((locked - now).total_seconds()) + 1
            raise RateLimitedError(
                f"pairing is locked after too many wrong PINs; try again in {seconds // 60 + 1} minutes",
                retry_after_seconds=seconds, locked_until=locked.isoformat(),
            )  # fmt: skip
        if not isinstance(pin, str) or len(pin) != PIN_DIGITS or not pin.isascii() or not pin.isdigit():
            raise ValidationError(f"the PIN is {PIN_DIGITS} digits, as shown on the projector", field="pin")
        if not hmac.compare_digest(pin, self.pin):
            self._wrong(client, wrong + 1, now)
        self._clients.pop(client, None)
        return self._issue(now)

    def _wrong(self, client: str, wrong: int, now: datetime) -> None:
        self.wrong = wrong
        self.wrong_total += 1
        if len(self._clients) >= MAX_CLIENTS_TRACKED and client not in self._clients:
            self._clients.pop(next(iter(self._clients)))
        if self.wrong_total >= MAX_WRONG_GLOBAL:
            self.locked_until = now + timedelta(seconds=GLOBAL_LOCK_SECONDS)
            self._schedule(GLOBAL_LOCK_SECONDS)
            self.publish()
            log.warning("tablet pairing locked for everybody for %d s after %d wrong PINs", GLOBAL_LOCK_SECONDS,
                        self.wrong_total)  # fmt: skip
        elif self.wrong_total % ROTATE_AFTER_WRONG == 0:
            log.warning("tablet pairing PIN replaced after %d wrong PINs", self.wrong_total)
            total = self.wrong_total
            self.rotate()
            self.wrong_total = total
        if wrong >= MAX_WRONG_PINS:
            until = now + timedelta(seconds=LOCK_SECONDS)
            self._clients[client] = (wrong, until)
            self.publish()
            log.warning("tablet pairing locked for one client for %d s after %d wrong PINs", LOCK_SECONDS, wrong)
            raise RateLimitedError(
                f"that PIN is wrong, {MAX_WRONG_PINS} times in a row: pairing is locked for "
                f"{LOCK_SECONDS // 60} minutes",
                retry_after_seconds=LOCK_SECONDS, locked_until=until.isoformat(),
            )  # fmt: skip
        self._clients[client] = (wrong, None)
        self.publish()
        left = MAX_WRONG_PINS - wrong
        raise AuthError(f"that PIN is wrong; look at the projector and try again ({left} tries left)",
                        tries_left=left)  # fmt: skip

    def _expiry(self, now: datetime, booking_end: datetime | None) -> datetime:
        latest = now + timedelta(hours=SESSION_TOKEN_HOURS)
        return min(booking_end, latest) if booking_end is not None and booking_end > now else latest

    def _issue(self, now: datetime) -> dict[str, Any]:
        session_id = self._session_id()
        group_id, booking_id = self._binding() if session_id is not None else (None, None)
        if session_id is not None:
            expires = self._expiry(now, self._booking_end(booking_id))
            # the token itself lives at most SESSION_TOKEN_HOURS; its booking binding ends it when the booking
            # ends, extensions included (checked on every request)
            lifetime = now + timedelta(hours=SESSION_TOKEN_HOURS) if booking_id is not None else expires
        else:
            expires = lifetime = now + timedelta(hours=ROOM_TOKEN_HOURS)
        token_id, token = create_token(self.room.db, Role.FACILITATOR.value, label=TOKEN_LABEL, now=now,
                                       group_id=group_id, booking_id=booking_id, expires_at=lifetime)  # fmt: skip
        with self.room.db.atomic():
            self.room.db.execute(
                "insert into tablet_pairings (token_id, session_id, created_at, expires_at) values (?, ?, ?, ?)",
                [token_id, session_id, now.isoformat(), lifetime.isoformat()],
            )
        self.wrong = 0
        self.show_until = None
        log.info("tablet paired (token %d, %s)", token_id, f"session {session_id}" if session_id else "room")
        self.rotate()
        return {"token": token, "role": Role.FACILITATOR.value, "session_id": session_id, "group_id": group_id,
                "expires_at": expires.isoformat()}  # fmt: skip

    def _booking_end(self, booking_id: int | None) -> datetime | None:
        if booking_id is None:
            return None
        row = self.room.db.execute("select end_utc from bookings where id = ?", [booking_id]).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def session_started(self, session_id: int, group_id: int | None, booking_id: int | None) -> None:
        """Bind the tablets paired while the room was idle to this session's group and booking."""
        now = self.room.clock.now()
        expires = self._expiry(now, self._booking_end(booking_id))
        ids = [r[0] for r in self.room.db.execute(
            "select token_id from tablet_pairings where session_id is null and expires_at > ?", [now.isoformat()])]  # fmt: skip
        lifetime = now + timedelta(hours=SESSION_TOKEN_HOURS) if booking_id is not None else expires
        for token_id in ids:
            bind_token(self.room.db, token_id, group_id=group_id, booking_id=booking_id, expires_at=lifetime)
        if ids:
            with self.room.db.atomic():
                self.room.db.execute(
                    f"update tablet_pairings set session_id = ?, expires_at = ? where token_id in ({','.join('?' * len(ids))})",  # noqa: S608
                    [session_id, lifetime.isoformat(), *ids],
                )
            log.info("bound %d idle-paired tablet tokens to session %d (group %s)", len(ids), session_id, group_id)

    # -- tokens ---------------------------------------------------------------------------------------------

    def _revoke(self, token_ids: list[int]) -> None:
        now = self.room.clock.now()
        for token_id in token_ids:
            with contextlib.suppress(NotFoundError):  # revoked by an admin already
                revoke_token(self.room.db, token_id, now=now)
        if token_ids:
            with self.room.db.atomic():
                self.room.db.execute(
                    f"delete from tablet_pairings where token_id in ({','.join('?' * len(token_ids))})",  # noqa: S608
                    token_ids,
                )

    def session_ended(self, session_id: int) -> None:
        """Revoke the tokens of tablets paired during ``session_id``."""
        ids = [r["token_id"] for r in self.room.db.query(
            "select token_id from tablet_pairings where session_id = ?", [session_id])]  # fmt: skip
        self._revoke(ids)
        if ids:
            log.info("revoked %d tablet tokens of session %d", len(ids), session_id)
        self.sweep()

    def sweep(self) -> None:
        """Revoke paired tokens whose time is up."""
        now = self.room.clock.now().isoformat()
        ids = [r["token_id"] for r in self.room.db.query(
            "select token_id from tablet_pairings where expires_at <= ?", [now])]  # fmt: skip
        self._revoke(ids)

    # -- views ----------------------------------------------------------------------------------------------

    def public_view(self) -> dict[str, Any]:
        """What anyone may know: whether pairing is locked and until when (never the PIN)."""
        return {
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "tries_left": MAX_WRONG_PINS - self.wrong,
            "show_until": self.show_until.isoformat() if self.show_until else None,
        }

    def publish(self) -> None:
        """Put the PIN on the screen state (only the projector's feed carries it; none while locked)."""
        self._part.set(
            {"pin": None if self.locked_until is not None else self.pin, "rotates_at": self.rotates_at.isoformat() if self.rotates_at else None,
             **self.public_view()},
        )  # fmt: skip
