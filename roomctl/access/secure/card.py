"""An NTAG 424 DNA's commands, as the door sends them over ISO 14443-4 (datasheet NT4H2421Gx §10).

Native commands travel wrapped in ISO/IEC 7816-4 APDUs (``90 INS 00 00 Lc data 00``; the card answers
``data 91 status``). ``transceive`` sends one APDU and returns the card's answer; it raises
:class:`CardRemoved` when the card is gone. Everything the card says is checked: a short answer, an unexpected
status or a MAC that does not verify raises a :class:`CardError` naming what went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from roomctl.access.secure.crypto import (
    BLOCK,
    MAC_BYTES,
    ZERO_IV,
    SecureChannel,
    SecureMessagingError,
    cbc_decrypt,
    cbc_encrypt,
    crc32_nk,
    pad,
    rotate_left,
    session_keys,
)
from roomctl.errors import AdapterError

Transceive = Callable[[bytes, int], bytes]
"""Sends one command APDU to the card in the field and returns its response APDU.

The second argument is how many bytes the answer should have (status word included): a PN532 over UART reads
that many, and would otherwise wait out its serial timeout on every exchange.
"""
Random = Callable[[int], bytes]

NDEF_APPLICATION = bytes.fromhex("D2760000850101")
"""ISO DF name of the NTAG 424 DNA's NDEF application (datasheet §8.2.2)."""
NDEF_FILE = 0x02
"""The NDEF file, whose secure dynamic messaging (SDM) read counter the door reads."""
ISO_OK = b"\x90\x00"
ISO_ERROR_SW1 = (0x62, 0x6F)
"""ISO 7816-4 warning and error status words (e.g. 6A82 file or application not found)."""
NATIVE_CLA = 0x90
NATIVE_SW1 = 0x91
OPERATION_OK = 0x00
ADDITIONAL_FRAME = 0xAF
AUTHENTICATION_ERROR = 0xAE
CMD_GET_VERSION = 0x60
CMD_AUTHENTICATE_EV2_FIRST = 0x71
CMD_CHANGE_KEY = 0xC4
CMD_CHANGE_FILE_SETTINGS = 0x5F
CMD_GET_FILE_SETTINGS = 0xF5
CMD_GET_FILE_COUNTERS = 0xF6
CMD_READ_DATA = 0xAD
VERSION_PART_BYTES = 7
VERSION_PRODUCTION_BYTES = 14
"""UID (7), batch number and fab key (5), production week and year (2); a fab key ID byte may follow."""
FILE_COUNTERS_BYTES = 5
"""SDMReadCtr (3, least significant first) and 2 reserved bytes."""
NXP_VENDOR = 0x04
NTAG_TYPE = 0x04
STORAGE_416_BYTES = 0x11
"""HWStorageSize of the NTAG 424 DNA (between 256 and 512 bytes)."""
AUTH_PART2_BYTES = 32
CAPABILITIES = bytes(6)
"""PCDcap2 sent in AuthenticateEV2First (LenCap 0: none)."""


class CardError(AdapterError):
    """The card did not answer as an NTAG 424 DNA does."""

    reason = "card_garbage"


class CardRemoved(CardError):  # noqa: N818 - names what happened
    """The card left the field during the exchange."""

    reason = "card_removed"


class NotNtag424(CardError):  # noqa: N818 - names what the card is not
    """The card is not an ISO 14443-4 NTAG 424 DNA (a plain-UID card, an NTAG21x, a UID clone)."""

    reason = "not_desfire"


class AuthenticationFailed(CardError):  # noqa: N818 - names what happened
    """The card does not hold the key (wrong key, a clone, a replayed recording)."""

    reason = "auth_failed"


@dataclass(frozen=True)
class Version:
    """What GetVersion tells about the chip."""

    hardware: bytes
    software: bytes
    uid: bytes
    production: bytes

    @property
    def is_ntag424_dna(self) -> bool:
        """NXP, NTAG type, 416-byte storage."""
        return self.hardware[0] == NXP_VENDOR and self.hardware[1] == NTAG_TYPE and self.hardware[5] == STORAGE_416_BYTES


def native(command: int, data: bytes = b"") -> bytes:
    """A native command wrapped in an ISO 7816-4 APDU."""
    if data:
        return bytes([NATIVE_CLA, command, 0x00, 0x00, len(data), *data, 0x00])
    return bytes([NATIVE_CLA, command, 0x00, 0x00, 0x00])


class Ntag424:
    """The commands the door and provisioning send to one card.

    Args:
        transceive: Sends an APDU, returns the answer.
        random: Source of RndA (``os.urandom``; tests may pin it).
    """

    def __init__(self, transceive: Transceive, random: Random = os.urandom) -> None:
        self._transceive = transceive
        self._random = random
        self.round_trips = 0
        """APDUs exchanged so far."""

    def _exchange(self, apdu: bytes, answer_bytes: int) -> bytes:
        self.round_trips += 1
        answer = bytes(self._transceive(apdu, answer_bytes))
        if len(answer) < 2:
            raise CardError(f"an answer of {len(answer)} bytes has no status word")
        return answer

    def _native(self, command: int, data: bytes = b"", *, expect: int = OPERATION_OK, answer_bytes: int = 0) -> bytes:
        answer = self._exchange(native(command, data), answer_bytes + 2)
        sw1, status = answer[-2], answer[-1]
        if sw1 != NATIVE_SW1:
            raise CardError(f"command {command:#04x} answered status word {answer[-2:].hex()}, not a native 91xx")
        if status == AUTHENTICATION_ERROR:
            raise AuthenticationFailed(f"the card refused the authentication ({command:#04x}: 91AE)")
        if status != expect:
            raise CardError(f"command {command:#04x} answered status 91{status:02X}")
        return answer[:-2]

    # -- plain commands -------------------------------------------------------------------------------------

    def select_application(self) -> None:
        """ISO SELECT of the NDEF application by its DF name.

        Raises:
            NotNtag424: The card has no such application.
        """
        apdu = bytes([0x00, 0xA4, 0x04, 0x0C, len(NDEF_APPLICATION), *NDEF_APPLICATION, 0x00])
        answer = self._exchange(apdu, 2)
        if answer[-2:] == ISO_OK:
            return
        if ISO_ERROR_SW1[0] <= answer[-2] <= ISO_ERROR_SW1[1]:
            raise NotNtag424(f"the card has no NTAG 424 DNA application (SELECT answered {answer[-2:].hex()})")
        raise CardError(f"SELECT answered {answer.hex()[:40]}, not an ISO 7816 status word")

    def get_version(self) -> Version:
        """GetVersion: hardware, software and production information in three frames."""
        hardware = self._native(CMD_GET_VERSION, expect=ADDITIONAL_FRAME, answer_bytes=VERSION_PART_BYTES)
        software = self._native(ADDITIONAL_FRAME, expect=ADDITIONAL_FRAME, answer_bytes=VERSION_PART_BYTES)
        production = self._native(ADDITIONAL_FRAME, answer_bytes=VERSION_PRODUCTION_BYTES)
        short = len(production) < VERSION_PRODUCTION_BYTES
        if len(hardware) != VERSION_PART_BYTES or len(software) != VERSION_PART_BYTES or short:
            raise CardError("GetVersion answered frames of the wrong length")
        return Version(hardware, software, production[:7], production[7:])

    def read_data(self, file_no: int, offset: int, length: int) -> bytes:
        """ReadData in CommMode.Plain (free read access); with SDM on, the card counts the read."""
        data = bytes([file_no]) + offset.to_bytes(3, "little") + length.to_bytes(3, "little")
        answer = self._native(CMD_READ_DATA, data, answer_bytes=length)
        if len(answer) != length:
            raise CardError(f"ReadData answered {len(answer)} bytes, {length} asked")
        return answer

    # -- authentication -------------------------------------------------------------------------------------

    def authenticate(self, key_no: int, key: bytes) -> SecureChannel:
        """AuthenticateEV2First (datasheet §10.4.1) with an AES-128 key; the session that follows.

        Raises:
            AuthenticationFailed: The card refused our proof, or its own proof is wrong.
        """
        encrypted_rnd_b = self._native(
            CMD_AUTHENTICATE_EV2_FIRST, bytes([key_no, 0x00]), expect=ADDITIONAL_FRAME, answer_bytes=BLOCK
        )
        if len(encrypted_rnd_b) != BLOCK:
            raise CardError(f"AuthenticateEV2First part 1 answered {len(encrypted_rnd_b)} bytes, not 16")
        rnd_b = cbc_decrypt(key, ZERO_IV, encrypted_rnd_b)
        rnd_a = self._random(BLOCK)
        proof = cbc_encrypt(key, ZERO_IV, rnd_a + rotate_left(rnd_b))
        answer = self._native(ADDITIONAL_FRAME, proof, answer_bytes=AUTH_PART2_BYTES)
        if len(answer) != AUTH_PART2_BYTES:
            raise CardError(f"AuthenticateEV2First part 2 answered {len(answer)} bytes, not 32")
        plain = cbc_decrypt(key, ZERO_IV, answer)
        ti, rnd_a_rotated = plain[:4], plain[4:20]
        if rnd_a_rotated != rotate_left(rnd_a):
            raise AuthenticationFailed("the card's answer does not prove it holds the key")
        enc_key, mac_key = session_keys(key, rnd_a, rnd_b)
        return SecureChannel(key_no, ti, enc_key, mac_key)

    # -- commands in an authenticated session (CommMode.Full) ---------------------------------------------

    def _full(self, channel: SecureChannel, command: int, header: bytes, data: bytes = b"", answer_bytes: int = 0) -> bytes:
        """A CommMode.Full exchange; ``answer_bytes`` is the plaintext the answer carries (0: MAC only)."""
        encrypted = len(pad(b"\x00" * answer_bytes)) if answer_bytes else 0
        wrapped = channel.wrap_full(command, header, data)
        answer = self._native(command, wrapped, answer_bytes=encrypted + MAC_BYTES)
        try:
            return channel.unwrap_full(OPERATION_OK, answer)
        except SecureMessagingError as exc:
            raise AuthenticationFailed(str(exc)) from exc

    def get_file_counters(self, channel: SecureChannel, file_no: int = NDEF_FILE) -> int:
        """GetFileCounters: the file's SDM read counter (3 bytes, least significant first)."""
        data = self._full(channel, CMD_GET_FILE_COUNTERS, bytes([file_no]), answer_bytes=FILE_COUNTERS_BYTES)
        if len(data) != FILE_COUNTERS_BYTES:
            raise CardError(f"GetFileCounters answered {len(data)} bytes, not 5")
        return int.from_bytes(data[:3], "little")

    def change_file_settings(self, channel: SecureChannel, file_no: int, settings: bytes) -> None:
        """ChangeFileSettings (CommMode.Full)."""
        self._full(channel, CMD_CHANGE_FILE_SETTINGS, bytes([file_no]), settings)

    def change_key(self, channel: SecureChannel, key_no: int, new_key: bytes, old_key: bytes, version: int) -> None:
        """ChangeKey (datasheet §10.6.1): the session's own key, or another key (XOR with the old, CRC32NK).

        Changing the session's own key ends the session: the card answers without a MAC.
        """
        if key_no == channel.key_no:
            data = new_key + bytes([version])
            answer = self._native(CMD_CHANGE_KEY, channel.wrap_full(CMD_CHANGE_KEY, bytes([key_no]), data))
            if answer:
                raise CardError("ChangeKey of the authenticated key answered data")
            channel.counter += 1
            return
        data = bytes(n ^ o for n, o in zip(new_key, old_key, strict=True)) + bytes([version]) + crc32_nk(new_key)
        self._full(channel, CMD_CHANGE_KEY, bytes([key_no]), data)


PROBE_BYTES = 2
"""How much of the NDEF file the door's counted read asks for (the NLEN field)."""


def door_exchange(card: Ntag424, key_no: int, key: bytes) -> int:
    """The door's exchange; returns the card's SDM read counter after this tap's counted read.

    SELECT; ReadData of the NDEF file outside a session (the card counts it); AuthenticateEV2First with
    ``key``; GetFileCounters in CommMode.Full. Five APDUs.

    Raises:
        CardError: Any way the card fails.
    """
    card.select_application()
    card.read_data(NDEF_FILE, 0, PROBE_BYTES)
    channel = card.authenticate(key_no, key)
    return card.get_file_counters(channel)
