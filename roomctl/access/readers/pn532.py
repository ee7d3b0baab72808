"""A PN532 NFC reader on the Pi's UART or I2C bus, through Adafruit's ``adafruit_pn532`` driver.

The driver does the framing (preamble, LEN/LCS, TFI, DCS, ACK); this module opens the port, polls with
InListPassiveTarget and turns the answer into a UID. The driver's own ``get_passive_target`` refuses UIDs
longer than 7 bytes, so the target data is parsed here to accept 4-, 7- and 10-byte UIDs. Anything odd from the
chip (a short frame, a wrong checksum, an unexpected answer, a port that vanished) raises; the polling thread
then closes the port and opens it again with backoff.

With a ``card_check`` (the access service's :class:`~roomctl.access.secure.verify.CardVerifier`), a new card is
also authenticated while it lies on the reader: APDUs go to it through InDataExchange, and the proof travels
with the UID. A card held on the reader is checked once per presentation, not on every poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roomctl.access.readers.base import PollingReader
from roomctl.access.secure.card import CardError, CardRemoved
from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

UART_BAUDRATE = 115200
"""The PN532's default HSU speed."""
SERIAL_TIMEOUT_SECONDS = 0.05
"""pyserial read timeout; the driver polls ``in_waiting`` itself."""
POLL_SECONDS = 0.2
"""How long one InListPassiveTarget waits for a card before the next poll."""
ACK_TIMEOUT_SECONDS = 0.5
"""How long the chip may take to acknowledge a command."""
COMMAND_INLISTPASSIVETARGET = 0x4A
"""PN532 command code (user manual §7.3.5)."""
COMMAND_INDATAEXCHANGE = 0x40
"""PN532 command code (user manual §7.3.8): data to and from the listed target."""
TARGET = 0x01
"""The one target InListPassiveTarget lists."""
EXCHANGE_TIMEOUT_SECONDS = 0.5
"""How long one APDU round trip may take (the chip's own timeout towards the card is shorter)."""
STATUS_ERROR_BITS = 0x3F
"""InDataExchange status: bits 0-5 the error code, bit 6 "more information" (chaining)."""
STATUS_TIMEOUT = 0x01
"""The target did not answer: it left the field, or does not speak ISO 14443-4."""
ISO14443_4 = 0x20
"""SEL_RES (SAK) bit: the card is ISO/IEC 14443-4 compliant (DESFire, NTAG 424 DNA)."""
ISO14443A_106K = 0x00
"""Baud rate / modulation byte for type A cards."""
UID_LENGTHS = (4, 7, 10)
"""Single, double and triple size NFCID1."""
TARGET_HEADER_BYTES = 6
"""NbTg, Tg, SENS_RES (2), SEL_RES, NFCIDLength precede the UID in the answer."""


class ReaderGarbage(AdapterError):  # noqa: N818 - names what the reader sent
    """The reader answered something that is not a valid target."""


@dataclass(frozen=True)
class Target:
    """The card InListPassiveTarget found."""

    uid: bytes
    sens_res: bytes
    sel_res: int

    @property
    def iso14443_4(self) -> bool:
        """True when the card speaks ISO 14443-4 (the chip activated it with RATS)."""
        return bool(self.sel_res & ISO14443_4)


def parse_target(response: bytes | bytearray) -> bytes | None:
    """The UID in an InListPassiveTarget answer (after the D5 4B header), or ``None`` for "no card".

    Raises:
        ReaderGarbage: The answer is short, lists more than one card, or has a UID of an unknown size.
    """
    target = parse_target_info(response)
    return target.uid if target else None


def parse_target_info(response: bytes | bytearray) -> Target | None:
    """The card in an InListPassiveTarget answer, or ``None`` for "no card".

    Raises:
        ReaderGarbage: The answer is short, lists more than one card, or has a UID of an unknown size.
    """
    if len(response) < 1:
        raise ReaderGarbage("empty InListPassiveTarget answer")
    targets = response[0]
    if targets == 0:
        return None
    if targets != 1:
        raise ReaderGarbage(f"answer lists {targets} cards; hold one card at a time")
    if len(response) < TARGET_HEADER_BYTES:
        raise ReaderGarbage(f"target data is {len(response)} bytes, too short for a header")
    length = response[5]
    if length not in UID_LENGTHS:
        raise ReaderGarbage(f"UID of {length} bytes; cards have 4, 7 or 10")
    uid = bytes(response[TARGET_HEADER_BYTES : TARGET_HEADER_BYTES + length])
    if len(uid) != length:
        raise ReaderGarbage(f"UID cut short: {len(uid)} of {length} bytes")
    return Target(uid, bytes(response[2:4]), response[4])


def read_uid(pn532: Any, poll_seconds: float = POLL_SECONDS) -> bytes | None:
    """Ask the chip for one type A card; its UID, or ``None`` when none came within ``poll_seconds``.

    Raises:
        ReaderGarbage: The chip did not acknowledge, or answered garbage.
        RuntimeError, IndexError: Raised by the driver on broken frames.
    """
    target = read_target(pn532, poll_seconds)
    return target.uid if target else None


def read_target(pn532: Any, poll_seconds: float = POLL_SECONDS) -> Target | None:
    """Like :func:`read_uid`, with the card's SENS_RES and SEL_RES."""
    if not pn532.send_command(COMMAND_INLISTPASSIVETARGET, params=[0x01, ISO14443A_106K], timeout=ACK_TIMEOUT_SECONDS):
        raise ReaderGarbage("the PN532 did not acknowledge InListPassiveTarget")
    response = pn532.process_response(COMMAND_INLISTPASSIVETARGET, response_length=64, timeout=poll_seconds)
    if response is None:
        return None
    return parse_target_info(response)


def exchange_apdu(pn532: Any, apdu: bytes, answer_bytes: int) -> bytes:
    """Send one APDU to the listed card through InDataExchange and return its answer.

    Args:
        pn532: The Adafruit driver.
        apdu: The command APDU.
        answer_bytes: The answer's expected length (the UART read waits for that many bytes).

    Raises:
        CardRemoved: The card did not answer (it left the field).
        CardError: The chip reported another error, or the frame was broken.
    """
    try:
        response = pn532.call_function(
            COMMAND_INDATAEXCHANGE,
            params=bytes([TARGET]) + apdu,
            response_length=1 + answer_bytes,
            timeout=EXCHANGE_TIMEOUT_SECONDS,
        )
    except (RuntimeError, IndexError, OSError) as exc:
        raise CardError(f"broken InDataExchange frame: {exc}") from exc
    if response is None or len(response) < 1:
        raise CardRemoved("the card did not answer within the exchange timeout")
    status = response[0] & STATUS_ERROR_BITS
    if status == STATUS_TIMEOUT:
        raise CardRemoved("the card left the field (PN532 status 0x01, time out)")
    if status:
        raise CardError(f"the PN532 reported error {status:#04x} talking to the card")
    return bytes(response[1:])


CardCheck = Callable[[Target, Callable[[bytes, int], bytes]], Any]
"""Authenticates a card on the reader: given the target and a transceive function, returns a proof."""


class Pn532Reader(PollingReader):
    """A PN532 polled from its own thread.

    Args:
        name: The reader's name.
        open_transport: Opens the serial port or I2C bus (raises when it is absent).
        make_driver: Builds the Adafruit driver on an open transport (reads the firmware version).
        close_transport: Releases the transport.
        poll_seconds: Wait per poll.
        card_check: Authenticates each new card while it lies on the reader (its proof goes with the UID).
        min_backoff: First wait after a failure.
        max_backoff: Longest wait between attempts.
    """

    kind = "pn532"

    def __init__(
        self,
        name: str,
        open_transport: Callable[[], Any],
        make_driver: Callable[[Any], Any],
        *,
        close_transport: Callable[[Any], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
        card_check: CardCheck | None = None,
        **backoff: float,
    ) -> None:
        super().__init__(name, **backoff)
        self._open_transport = open_transport
        self._make_driver = make_driver
        self._close_transport = close_transport
        self.poll_seconds = poll_seconds
        self.card_check = card_check
        self.firmware: tuple[int, ...] | None = None
        self._held: tuple[bytes, Any] | None = None

    @classmethod
    def uart(cls, name: str, device: str, **options: Any) -> Pn532Reader:
        """A PN532 on a serial port (``/dev/serial0`` on a Pi) through pyserial."""

        def open_port() -> Any:
            try:
                import serial
            except ImportError as exc:
                raise AdapterError("pyserial is missing; install roomctl with the [pi] extra") from exc
            return serial.Serial(device, baudrate=UART_BAUDRATE, timeout=SERIAL_TIMEOUT_SECONDS)

        def driver(port: Any) -> Any:
            from adafruit_pn532.uart import PN532_UART

            return PN532_UART(port, debug=False)

        return cls(name, open_port, driver, close_transport=lambda port: port.close(), **options)

    @classmethod
    def i2c(cls, name: str, address: int, **options: Any) -> Pn532Reader:
        """A PN532 on the Pi's I2C bus (SDA/SCL) through Blinka's ``busio``."""

        def open_bus() -> Any:
            try:
                import board
                import busio
            except (ImportError, NotImplementedError, RuntimeError) as exc:
                raise AdapterError(f"no I2C bus here ({exc}); is this a Raspberry Pi with I2C enabled?") from exc
            return busio.I2C(board.SCL, board.SDA)

        def driver(bus: Any) -> Any:
            from adafruit_pn532.i2c import PN532_I2C

            return PN532_I2C(bus, address=address, debug=False)

        return cls(name, open_bus, driver, close_transport=lambda bus: bus.deinit(), **options)

    def open_device(self) -> Any:
        """Open the chip outside the polling thread (provisioning); close with :meth:`close_device`."""
        return self._open()

    def close_device(self, handle: Any) -> None:
        """Release what :meth:`open_device` opened."""
        self._close(handle)

    def _open(self) -> Any:
        transport = self._open_transport()
        try:
            driver = self._make_driver(transport)
            self.firmware = tuple(driver.firmware_version)
        except Exception:
            self._close_quietly(transport)
            raise
        log.info("PN532 %s found: IC 0x%02X, firmware %d.%d", self.name, *self.firmware[:3])
        return (driver, transport)

    def _read(self, handle: Any) -> str | tuple[str, Any] | None:
        driver, _ = handle
        target = read_target(driver, self.poll_seconds)
        if target is None:
            self._held = None
            return None
        uid = target.uid.hex().upper()
        if self.card_check is None:
            return uid
        if self._held is not None and self._held[0] == target.uid:
            proof = self._held[1]  # the same card, still lying on the reader: checked once
        else:
            proof = self.card_check(target, lambda apdu, answer_bytes: exchange_apdu(driver, apdu, answer_bytes))
            self._held = (target.uid, proof)
        return uid, proof

    def _close(self, handle: Any) -> None:
        self._close_quietly(handle[1])

    def _close_quietly(self, transport: Any) -> None:
        if self._close_transport is None:
            return
        try:
            self._close_transport(transport)
        except Exception:
            log.debug("closing the PN532 transport failed", exc_info=True)
