"""A fake PN532 that speaks the chip's frames, for testing through the real ``adafruit_pn532`` driver.

It implements what the driver needs for reading badges, per the PN532 user manual: normal information frames
(preamble 00, start code 00 FF, LEN, LCS, TFI D4/D5, data, DCS, postamble), ACK frames, the HSU wake-up
sequence, and the commands GetFirmwareVersion (0x02), SAMConfiguration (0x14), InListPassiveTarget (0x4A)
with 4-, 7- and 10-byte UIDs, and InDataExchange (0x40), which carries ISO 14443-4 APDUs to a card that has
them (:class:`tests.fake_ntag424.FakeNtag424`): the chip answers ``D5 41 Status data``, Status 0x00 for success
and 0x01 ("time out, the target has not answered", user manual §7.1) when the card left the field or never
speaks ISO 14443-4. Anything else (an unknown command, a bad checksum from the host, a frame it
cannot parse) is recorded in :attr:`FakePN532.failures` and raised: tests assert the list is empty, so a
driver change that needs more of the chip fails loudly instead of passing by accident.

Faces: :class:`FakeSerial` (pyserial-like, for ``PN532_UART``) and :class:`FakeI2C` (busio-like, for
``PN532_I2C``). Tests can place and remove cards (a bare UID, or a card object with ``uid``, ``sens_res``,
``sel_res``, ``ats``, ``activate()`` and ``apdu()``), tear a card away after a number of APDUs, corrupt the
next answer, and unplug the device.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import serial

ACK = b"\x00\x00\xff\x00\xff\x00"
WAKEUP_BYTE = 0x55
HOST_TO_PN532 = 0xD4
PN532_TO_HOST = 0xD5
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])
"""IC PN532, version 1.6, supports ISO/IEC 14443 A and B and ISO 18092."""
SAM_NORMAL_MODE = bytes([0x01, 0x14, 0x01])
SENS_RES = bytes([0x00, 0x44])
SEL_RES = 0x00
GARBAGE_KINDS = ("short", "checksum", "length_checksum", "unexpected", "bad_ack", "noise")
STATUS_OK = 0x00
STATUS_TIMEOUT = 0x01
"""PN532 error: the target has not answered (gone, or it does not speak the protocol)."""
STATUS_WRONG_CONTEXT = 0x27
"""PN532 error: the command is not acceptable in the current context (no target activated)."""


class FakePN532Error(AssertionError):
    """The driver sent something this fake (and the chip) does not accept."""


def frame(data: bytes) -> bytes:
    """A normal information frame around ``data`` (TFI included)."""
    length = len(data)
    return bytes([0x00, 0x00, 0xFF, length, (-length) & 0xFF, *data, (-sum(data)) & 0xFF, 0x00])


class FakePN532:
    """The chip's behaviour, independent of the bus."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.commands: list[int] = []
        self.card: bytes | None = None
        self.target: Any = None
        """The card object on the reader (``None`` for a bare UID)."""
        self.active: Any = None
        """The card activated by the last InListPassiveTarget, which InDataExchange talks to."""
        self.exchanges = 0
        """InDataExchange commands received."""
        self._tear_after: int | None = None
        self.plugged = True
        self.sam_configured = False
        self._out: deque[bytes] = deque()
        self._listening = False
        self._garbage: deque[str] = deque()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    # -- what tests do --------------------------------------------------------------------------------------

    def place(self, card: Any) -> None:
        """Hold a card on the reader: a bare UID (bytes) or a card object (see the module docstring)."""
        uid = bytes(card) if isinstance(card, bytes | bytearray) else bytes(card.uid)
        if len(uid) not in (4, 7, 10):
            raise ValueError("a type A UID is 4, 7 or 10 bytes")
        with self._lock:
            self.card = uid
            self.target = None if isinstance(card, bytes | bytearray) else card
            self.active = None
            if self._listening:
                self._answer_target()
            self.changed.notify_all()

    def remove(self) -> None:
        """Take the card away."""
        with self._lock:
            self.card = None
            self.target = None
            self.active = None

    def tear_after(self, exchanges: int) -> None:
        """The card leaves the field once it has answered ``exchanges`` more APDUs (0: before the next)."""
        with self._lock:
            self._tear_after = exchanges

    def corrupt_next(self, kind: str) -> None:
        """Replace the next answer (or ACK, for ``bad_ack``) with garbage of ``kind``."""
        if kind not in GARBAGE_KINDS:
            raise ValueError(f"garbage kinds: {GARBAGE_KINDS}")
        with self._lock:
            self._garbage.append(kind)

    def unplug(self) -> None:
        """The reader disappears: every access raises like a vanished USB/serial device."""
        with self._lock:
            self.plugged = False
            self._out.clear()
            self._listening = False
            self.sam_configured = False

    def plug(self) -> None:
        """The reader comes back (freshly powered)."""
        with self._lock:
            self.plugged = True

    # -- the chip -------------------------------------------------------------------------------------------

    def _fail(self, message: str) -> FakePN532Error:
        self.failures.append(message)
        return FakePN532Error(message)

    def receive(self, data: bytes) -> None:
        """Bytes from the host (one write)."""
        with self._lock:
            if not self.plugged:
                raise serial.SerialException("device reports readiness to read but returned no data")
            self._out.clear()
            self._listening = False
            data = self._strip_wakeup(bytes(data))
            if not data:
                return
            self._command(self._parse(data))
            self.changed.notify_all()

    def _strip_wakeup(self, data: bytes) -> bytes:
        if data[:1] != bytes([WAKEUP_BYTE]):
            return data
        rest = data.lstrip(bytes([WAKEUP_BYTE]))
        stripped = rest.lstrip(b"\x00")
        if len(rest) - len(stripped) < 2:
            raise self._fail(f"wake-up sequence without the zero padding: {data.hex()}")
        # the frame that follows starts with its own preamble and start code
        return b"\x00\x00" + stripped if stripped.startswith(b"\xff") else stripped

    def _parse(self, data: bytes) -> bytes:
        if data == ACK:
            raise self._fail("host sent an ACK frame (abort); not implemented")
        if len(data) < 9 or data[:3] != b"\x00\x00\xff":
            raise self._fail(f"not a normal information frame: {data.hex()}")
        length, lcs = data[3], data[4]
        if (length + lcs) & 0xFF:
            raise self._fail(f"length checksum wrong in {data.hex()}")
        body = data[5 : 5 + length]
        if len(body) != length or len(data) < 5 + length + 2:
            raise self._fail(f"frame shorter than its LEN {length}: {data.hex()}")
        if (sum(body) + data[5 + length]) & 0xFF:
            raise self._fail(f"data checksum wrong in {data.hex()}")
        if data[5 + length + 1] != 0x00:
            raise self._fail(f"postamble missing in {data.hex()}")
        if body[0] != HOST_TO_PN532:
            raise self._fail(f"TFI {body[0]:#04x} is not host-to-PN532")
        return body[1:]

    def _command(self, command: bytes) -> None:
        code, params = command[0], command[1:]
        self.commands.append(code)
        garbage = self._garbage[0] if self._garbage else None
        if garbage == "bad_ack":
            self._garbage.popleft()
            self._out.append(b"\x00\x00\xff\xff\x00\x00")
            return
        self._out.append(ACK)
        if code == 0x02 and not params:
            self._reply(code, FIRMWARE)
        elif code == 0x14 and params == SAM_NORMAL_MODE:
            self.sam_configured = True
            self._reply(code, b"")
        elif code == 0x4A and params == b"\x01\x00":
            if not self.sam_configured:
                raise self._fail("InListPassiveTarget before SAMConfiguration")
            self._listening = True
            self.active = None
            if self.card is not None:
                self._answer_target()
        elif code == 0x40 and len(params) >= 2:
            self._data_exchange(params[0], params[1:])
        else:
            raise self._fail(f"command {code:#04x} with params {params.hex()} is not implemented by the fake")

    def _answer_target(self) -> None:
        assert self.card is not None
        self._listening = False
        card = self.target
        if card is None:
            self._reply(0x4A, bytes([0x01, 0x01, *SENS_RES, SEL_RES, len(self.card), *self.card]))
            return
        card.activate()
        self.active = card
        # an ISO 14443-4 target is activated with RATS by the chip itself; its ATS follows the UID
        self._reply(0x4A, bytes([0x01, 0x01, *card.sens_res, card.sel_res, len(self.card), *self.card, *card.ats]))

    def _data_exchange(self, target: int, apdu: bytes) -> None:
        self.exchanges += 1
        if target != 0x01:
            raise self._fail(f"InDataExchange to target {target}; only target 1 is listed")
        if self._tear_after is not None:
            if self._tear_after <= 0:
                self._tear_after = None
                self.card = self.target = self.active = None
            else:
                self._tear_after -= 1
        card = self.active
        if card is None:
            status = STATUS_TIMEOUT if self.card is None else STATUS_WRONG_CONTEXT
            self._reply(0x40, bytes([status]))
            return
        if card.apdu is None or not card.sel_res & 0x20:
            self._reply(0x40, bytes([STATUS_TIMEOUT]))
            return
        self._reply(0x40, bytes([STATUS_OK, *card.apdu(bytes(apdu))]))

    def _reply(self, code: int, payload: bytes) -> None:
        data = bytes([PN532_TO_HOST, code + 1, *payload])
        kind = self._garbage.popleft() if self._garbage else None
        if kind is None:
            self._out.append(frame(data))
        elif kind == "short":
            self._out.append(frame(data)[:4])
        elif kind == "checksum":
            good = bytearray(frame(data))
            good[-2] ^= 0x5A
            self._out.append(bytes(good))
        elif kind == "length_checksum":
            good = bytearray(frame(data))
            good[4] ^= 0x01
            self._out.append(bytes(good))
        elif kind == "unexpected":
            self._out.append(frame(bytes([PN532_TO_HOST, 0x33, 0x00])))
        else:  # noise
            self._out.append(bytes([0xFF, 0x13, 0x37, 0x00, 0xFF, 0x02]))

    # -- reading (the bus faces) ----------------------------------------------------------------------------

    def pending(self) -> int:
        """Bytes ready for the host."""
        with self._lock:
            if not self.plugged:
                raise serial.SerialException("device disconnected or multiple access on port?")
            return sum(len(chunk) for chunk in self._out)

    def take_stream(self, count: int) -> bytes:
        """Up to ``count`` bytes of the answer stream (UART)."""
        with self._lock:
            if not self.plugged:
                raise serial.SerialException("device disconnected or multiple access on port?")
            data = b"".join(self._out)
            self._out.clear()
            taken, rest = data[:count], data[count:]
            if rest:
                self._out.append(rest)
            return taken

    def take_frame(self) -> bytes | None:
        """The next whole frame (I2C reads one frame per transaction)."""
        with self._lock:
            if not self.plugged:
                raise OSError(121, "Remote I/O error")
            return self._out.popleft() if self._out else None

    def discard(self) -> None:
        """Drop unread answers (the host reset its input buffer)."""
        with self._lock:
            self._out.clear()


class FakeSerial:
    """A pyserial-like port onto a :class:`FakePN532` (what ``PN532_UART`` is given)."""

    def __init__(self, chip: FakePN532, timeout: float = 0.05) -> None:
        self.chip = chip
        self.timeout = timeout
        self.is_open = True

    @property
    def in_waiting(self) -> int:
        """Bytes ready to read."""
        self._check()
        return self.chip.pending()

    def write(self, data: bytes) -> int:
        """Send bytes to the chip."""
        self._check()
        self.chip.receive(data)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        """Like pyserial: wait up to ``timeout`` for ``size`` bytes, return what came."""
        self._check()
        deadline = time.monotonic() + self.timeout
        while self.chip.pending() < size and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.chip.take_stream(size)

    def reset_input_buffer(self) -> None:
        """Drop unread bytes."""
        self._check()
        self.chip.discard()

    def close(self) -> None:
        """Close the port."""
        self.is_open = False

    def _check(self) -> None:
        if not self.is_open:
            raise serial.PortNotOpenError()


class FakeI2C:
    """A busio.I2C-like bus with the fake chip at ``address`` (what ``PN532_I2C`` is given)."""

    def __init__(self, chip: FakePN532, address: int = 0x24) -> None:
        self.chip = chip
        self.address = address
        self._locked = False
        self.deinited = False

    def try_lock(self) -> bool:
        """Take the bus."""
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        """Release the bus."""
        self._locked = False

    def deinit(self) -> None:
        """Release the bus for good."""
        self.deinited = True

    def writeto(self, address: int, buffer: bytes, *, start: int = 0, end: int | None = None) -> None:
        """Write to a device (an empty write is the bus probe)."""
        self._device(address)
        data = bytes(buffer[start:end])
        if data:
            self.chip.receive(data)

    def readfrom_into(self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None) -> None:
        """Read: a status byte (0x01 ready), then, for longer reads, the next frame."""
        self._device(address)
        end = len(buffer) if end is None else end
        ready = self.chip.pending() > 0
        buffer[start] = 0x01 if ready else 0x00
        if end - start == 1 or not ready:
            return
        data = self.chip.take_frame() or b""
        chunk = data[: end - start - 1].ljust(end - start - 1, b"\x00")
        buffer[start + 1 : end] = chunk

    def _device(self, address: int) -> None:
        if address != self.address:
            raise OSError(121, f"no device at {address:#04x}")
        if not self.chip.plugged:
            raise OSError(121, "Remote I/O error")
