"""A PN532 NFC reader on the Pi's UART or I2C bus, through Adafruit's ``adafruit_pn532`` driver.

The driver does the framing (preamble, LEN/LCS, TFI, DCS, ACK); this module opens the port, polls with
InListPassiveTarget and turns the answer into a UID. The driver's own ``get_passive_target`` refuses UIDs
longer than 7 bytes, so the target data is parsed here to accept 4-, 7- and 10-byte UIDs. Anything odd from the
chip (a short frame, a wrong checksum, an unexpected answer, a port that vanished) raises; the polling thread
then closes the port and opens it again with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from roomctl.access.readers.base import PollingReader
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
ISO14443A_106K = 0x00
"""Baud rate / modulation byte for type A cards."""
UID_LENGTHS = (4, 7, 10)
"""Single, double and triple size NFCID1."""
TARGET_HEADER_BYTES = 6
"""NbTg, Tg, SENS_RES (2), SEL_RES, NFCIDLength precede the UID in the answer."""


class ReaderGarbage(AdapterError):  # noqa: N818 - names what the reader sent
    """The reader answered something that is not a valid target."""


def parse_target(response: bytes | bytearray) -> bytes | None:
    """The UID in an InListPassiveTarget answer (after the D5 4B header), or ``None`` for "no card".

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
    return uid


def read_uid(pn532: Any, poll_seconds: float = POLL_SECONDS) -> bytes | None:
    """Ask the chip for one type A card; its UID, or ``None`` when none came within ``poll_seconds``.

    Raises:
        ReaderGarbage: The chip did not acknowledge, or answered garbage.
        RuntimeError, IndexError: Raised by the driver on broken frames.
    """
    if not pn532.send_command(COMMAND_INLISTPASSIVETARGET, params=[0x01, ISO14443A_106K], timeout=ACK_TIMEOUT_SECONDS):
        raise ReaderGarbage("the PN532 did not acknowledge InListPassiveTarget")
    response = pn532.process_response(COMMAND_INLISTPASSIVETARGET, response_length=64, timeout=poll_seconds)
    if response is None:
        return None
    return parse_target(response)


class Pn532Reader(PollingReader):
    """A PN532 polled from its own thread.

    Args:
        name: The reader's name.
        open_transport: Opens the serial port or I2C bus (raises when it is absent).
        make_driver: Builds the Adafruit driver on an open transport (reads the firmware version).
        close_transport: Releases the transport.
        poll_seconds: Wait per poll.
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
        **backoff: float,
    ) -> None:
        super().__init__(name, **backoff)
        self._open_transport = open_transport
        self._make_driver = make_driver
        self._close_transport = close_transport
        self.poll_seconds = poll_seconds
        self.firmware: tuple[int, ...] | None = None

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

    def _read(self, handle: Any) -> str | None:
        driver, _ = handle
        uid = read_uid(driver, self.poll_seconds)
        return uid.hex().upper() if uid else None

    def _close(self, handle: Any) -> None:
        self._close_quietly(handle[1])

    def _close_quietly(self, transport: Any) -> None:
        if self._close_transport is None:
            return
        try:
            self._close_transport(transport)
        except Exception:
            log.debug("closing the PN532 transport failed", exc_info=True)
