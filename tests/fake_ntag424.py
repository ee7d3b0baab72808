"""A simulated NTAG 424 DNA, written from NXP's datasheet NT4H2421Gx (rev. 3.0) on the card's side.

It answers ISO/IEC 7816-4 APDUs as the chip does once activated as an ISO 14443-4 target: ISO SELECT of the NDEF
application by DF name, GetVersion (§10.5, three frames), AuthenticateEV2First with its 0xAF continuation (§10.4),
ChangeKey (§10.6.1, Table 63), ChangeFileSettings and GetFileSettings (§10.7), ReadData in plain mode (§10.8) and
GetFileCounters. Session keys follow §9.1.7, secure messaging in CommMode.Full §9.1.2-9.1.5, the transport keys
(all zero) §8.2.4.2. The NDEF file's SDM read counter is the card's monotonic counter: with SDM and the counter
enabled, each read of the file outside an authenticated session adds one, and it never goes down. Where the
datasheet leaves a detail open (the session after an integrity error ends; the counter counts without
mirroring) the simulation says so in a comment and the real card may differ.

The card's cryptography is written here on its own (AES and CMAC from ``cryptography``), NOT imported from
roomctl: a card and a reader written together can agree on a mistake, so ``tests/test_ntag424_vectors.py``
checks this card against NXP's worked examples (AN12196) as well as roomctl's side.

Status codes (datasheet Table 22): 91 00 OK, 91 AF additional frame, 91 AE authentication error, 91 1E integrity
error, 91 7E length error, 91 9D permission denied, 91 40 no such key, 91 1C illegal command; ISO 90 00, 6A 82.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

DF_NAME = bytes.fromhex("D2760000850101")
UID_BYTES = 7
KEYS = 5
NDEF_FILE = 0x02
FILE_SIZES = {0x01: 32, 0x02: 256, 0x03: 128}
HARDWARE = bytes.fromhex("04040230001105")
"""Vendor NXP, type NTAG, subtype 2 (50 pF), version 3.0, storage 0x11 (416 bytes), ISO 14443-4."""
SOFTWARE = bytes.fromhex("04040201021105")
PRODUCTION = bytes.fromhex("CF39D449800000")
"""Batch number, fab week and year (an example, as GetVersion's third frame ends)."""
ATS = bytes.fromhex("067777710280")
"""The answer to select of the NTAG 424 DNA (datasheet §8.1): FSCI 7, TA/TB/TC, historical byte 0x80."""
SENS_RES = bytes([0x00, 0x44])
"""ATQA 0x0044 as the PN532 reports it (NTAG 424 DNA, 7-byte UID)."""
SEL_RES = 0x20
"""SAK: ISO 14443-4 compliant."""

OK, MORE, AUTH_ERROR, INTEGRITY, LENGTH, DENIED, NO_KEY, ILLEGAL = 0x00, 0xAF, 0xAE, 0x1E, 0x7E, 0x9D, 0x40, 0x1C
FREE = 0xE
NEVER = 0xF


def _aes(key: bytes) -> algorithms.AES:
    return algorithms.AES(key)


def _cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(_aes(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def _ecb(key: bytes, block: bytes) -> bytes:
    worker = Cipher(_aes(key), modes.ECB()).encryptor()
    return worker.update(block) + worker.finalize()


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(_aes(key))
    mac.update(data)
    return mac.finalize()


def _mact(key: bytes, data: bytes) -> bytes:
    full = _cmac(key, data)
    return bytes(full[i] for i in range(1, 16, 2))


def _pad(data: bytes) -> bytes:
    data = data + b"\x80"
    return data + bytes((16 - len(data) % 16) % 16)


def _unpad(data: bytes) -> bytes | None:
    end = len(data) - 1
    while end >= 0 and data[end] == 0:
        end -= 1
    return data[:end] if end >= 0 and data[end] == 0x80 else None


def _crc32nk(data: bytes) -> bytes:
    return (zlib.crc32(data) ^ 0xFFFFFFFF).to_bytes(4, "little")


@dataclass
class _Session:
    key_no: int
    ti: bytes
    enc: bytes
    mac: bytes
    ctr: int = 0


@dataclass
class FileSettings:
    """One standard data file's settings (datasheet §8.2.3, §10.7.1)."""

    option: int = 0x00
    """Bit 6: SDM enabled; bits 1-0: CommMode (0 plain)."""
    access: bytes = bytes([0x00, 0xE0])
    """``RW<<4 | Change``, ``Read<<4 | Write`` (factory NDEF file: read and write free, change with key 0)."""
    sdm_options: int = 0
    sdm_access: bytes = bytes([0xFF, 0xFF])
    """``RFU<<4 | SDMCtrRet``, ``SDMMetaRead<<4 | SDMFileRead``."""
    rest: bytes = b""
    """The SDM offsets, kept as sent."""

    @property
    def sdm(self) -> bool:
        return bool(self.option & 0x40)

    @property
    def counter_enabled(self) -> bool:
        return self.sdm and bool(self.sdm_options & 0x40)

    def key(self, right: str) -> int:
        change_rw, read_write = self.access
        return {"rw": change_rw >> 4, "change": change_rw & 0xF, "read": read_write >> 4, "write": read_write & 0xF}[
            right
        ]

    @property
    def counter_key(self) -> int:
        return self.sdm_access[0] & 0xF


@dataclass
class FakeNtag424:
    """The card. Tests read and set its state directly (keys, counter) to build clones and stale copies.

    Args:
        uid: 7-byte UID.
        keys: The five application keys (factory: all zero).
        random: Source of RndB and TI (``os.urandom``; the known-answer tests pin it).
    """

    uid: bytes
    keys: list[bytes] = field(default_factory=lambda: [bytes(16) for _ in range(KEYS)])
    random: Callable[[int], bytes] = os.urandom
    versions: list[int] = field(default_factory=lambda: [0] * KEYS)
    files: dict[int, FileSettings] = field(
        default_factory=lambda: {1: FileSettings(access=bytes([0x00, 0xE0])), 2: FileSettings(), 3: FileSettings(option=0x03, access=bytes([0x30, 0x23]))}
    )
    sdm_read_counter: int = 0
    sens_res: bytes = SENS_RES
    sel_res: int = SEL_RES
    ats: bytes = ATS
    log: list[bytes] = field(default_factory=list)
    """Every APDU received."""
    _selected: bool = False
    _session: _Session | None = None
    _pending: tuple[int, bytes] | None = None
    _version_frame: int = 0

    def __post_init__(self) -> None:
        if len(self.uid) != UID_BYTES:
            raise ValueError("an NTAG 424 DNA has a 7-byte UID")

    # -- the field ------------------------------------------------------------------------------------------

    def activate(self) -> None:
        """The card entered the field (or was re-activated): nothing selected, no session."""
        self._selected = False
        self._session = None
        self._pending = None
        self._version_frame = 0

    def apdu(self, command: bytes) -> bytes:
        """Answer one command APDU."""
        self.log.append(bytes(command))
        if len(command) >= 4 and command[0] == 0x00 and command[1] == 0xA4:
            return self._select(command)
        if len(command) < 5 or command[0] != 0x90:
            return b"\x6e\x00"  # class not supported
        ins, lc = command[1], command[4]
        if command[2:4] != b"\x00\x00":
            return self._status(LENGTH)
        if lc == 0 and len(command) == 5:
            data = b""
        elif len(command) == 5 + lc + 1 and command[-1] == 0x00:
            data = command[5 : 5 + lc]
        else:
            return self._status(LENGTH)
        if not self._selected:
            return self._status(DENIED)
        if ins != MORE:
            self._version_frame = 0
            if ins != 0x71:
                self._pending = None
        handler = {
            0x60: self._get_version,
            0xAF: self._additional_frame,
            0x71: self._authenticate_first,
            0xAD: self._read_data,
            0xF5: self._get_file_settings,
            0xF6: self._get_file_counters,
            0x5F: self._change_file_settings,
            0xC4: self._change_key,
        }.get(ins)
        if handler is None:
            return self._status(ILLEGAL)
        return handler(data)

    # -- plain commands -------------------------------------------------------------------------------------

    def _select(self, command: bytes) -> bytes:
        if len(command) >= 5 + command[4] and command[2] == 0x04 and command[5 : 5 + command[4]] == DF_NAME:
            self._selected = True
            self._session = None
            return b"\x90\x00"
        return b"\x6a\x82"

    @staticmethod
    def _status(code: int, data: bytes = b"") -> bytes:
        return data + bytes([0x91, code])

    def _get_version(self, data: bytes) -> bytes:
        self._version_frame = 1
        return self._status(MORE, HARDWARE)

    def _additional_frame(self, data: bytes) -> bytes:
        if self._pending is not None:
            return self._authenticate_part2(data)
        if self._version_frame == 1:
            self._version_frame = 2
            return self._status(MORE, SOFTWARE)
        if self._version_frame == 2:
            self._version_frame = 0
            return self._status(OK, self.uid + PRODUCTION)
        return self._status(ILLEGAL)

    def _read_data(self, data: bytes) -> bytes:
        if len(data) != 7 or data[0] not in FILE_SIZES:
            return self._status(LENGTH)
        settings = self.files[data[0]]
        offset, length = int.from_bytes(data[1:4], "little"), int.from_bytes(data[4:7], "little")
        size = FILE_SIZES[data[0]]
        length = length or size - offset
        if offset + length > size:
            return self._status(0xBE)  # boundary error
        if settings.key("read") != FREE and settings.key("rw") != FREE:
            return self._status(DENIED)
        if settings.counter_enabled and self._session is None:  # assumed: counts without UID/counter mirroring
            self.sdm_read_counter = min(self.sdm_read_counter + 1, 0xFFFFFF)
        return self._status(OK, bytes(length))

    def _get_file_settings(self, data: bytes) -> bytes:
        if len(data) != 1 or data[0] not in self.files:
            return self._status(LENGTH)
        settings = self.files[data[0]]
        body = bytes([0x00, settings.option, *settings.access]) + FILE_SIZES[data[0]].to_bytes(3, "little")
        if settings.sdm:
            body += bytes([settings.sdm_options, *settings.sdm_access]) + settings.rest
        return self._status(OK, body)

    # -- authentication -------------------------------------------------------------------------------------

    def _authenticate_first(self, data: bytes) -> bytes:
        self._session = None
        if len(data) < 2:
            return self._status(LENGTH)
        key_no = data[0]
        if key_no >= KEYS:
            return self._status(NO_KEY)
        rnd_b = self.random(16)
        self._pending = (key_no, rnd_b)
        return self._status(MORE, _cbc(self.keys[key_no], bytes(16), rnd_b, encrypt=True))

    def _authenticate_part2(self, data: bytes) -> bytes:
        assert self._pending is not None
        key_no, rnd_b = self._pending
        self._pending = None
        if len(data) != 32:
            return self._status(LENGTH)
        key = self.keys[key_no]
        plain = _cbc(key, bytes(16), data, encrypt=False)
        rnd_a, rnd_b_rotated = plain[:16], plain[16:]
        if rnd_b_rotated != rnd_b[1:] + rnd_b[:1]:
            return self._status(AUTH_ERROR)
        ti = self.random(4)
        answer = _cbc(key, bytes(16), ti + rnd_a[1:] + rnd_a[:1] + bytes(12), encrypt=True)
        # session vectors, datasheet §9.1.7: RndA[15..14] || RndA[13..8] ^ RndB[15..10] || RndB[9..0] || RndA[7..0]
        mixed = bytes(rnd_a[2 + i] ^ rnd_b[i] for i in range(6))
        tail = rnd_a[0:2] + mixed + rnd_b[6:16] + rnd_a[8:16]
        enc = _cmac(key, bytes.fromhex("A55A00010080") + tail)
        mac = _cmac(key, bytes.fromhex("5AA500010080") + tail)
        self._session = _Session(key_no, ti, enc, mac)
        return self._status(OK, answer)

    # -- CommMode.Full --------------------------------------------------------------------------------------

    def _open(self, ins: int, data: bytes, header_bytes: int) -> tuple[bytes, bytes] | bytes:
        """Check a CommMode.Full command's MAC and decrypt it: ``(header, plain)`` or an error answer."""
        session = self._session
        if session is None:
            return self._status(DENIED)
        if len(data) < header_bytes + 8:
            return self._status(LENGTH)
        header, encrypted, mac = data[:header_bytes], data[header_bytes:-8], data[-8:]
        expected = _mact(session.mac, bytes([ins]) + session.ctr.to_bytes(2, "little") + session.ti + header + encrypted)
        if mac != expected:
            self._session = None
            return self._status(INTEGRITY)
        if len(encrypted) % 16:
            return self._status(LENGTH)
        plain = b""
        if encrypted:
            iv = _ecb(session.enc, b"\xa5\x5a" + session.ti + session.ctr.to_bytes(2, "little") + bytes(8))
            unpadded = _unpad(_cbc(session.enc, iv, encrypted, encrypt=False))
            if unpadded is None:
                self._session = None
                return self._status(INTEGRITY)
            plain = unpadded
        return header, plain

    def _answer(self, data: bytes = b"") -> bytes:
        """A CommMode.Full answer: the counter moves on, data encrypted, MACed."""
        session = self._session
        assert session is not None
        session.ctr += 1
        encrypted = b""
        if data:
            iv = _ecb(session.enc, b"\x5a\xa5" + session.ti + session.ctr.to_bytes(2, "little") + bytes(8))
            encrypted = _cbc(session.enc, iv, _pad(data), encrypt=True)
        mac = _mact(session.mac, bytes([OK]) + session.ctr.to_bytes(2, "little") + session.ti + encrypted)
        return self._status(OK, encrypted + mac)

    def _get_file_counters(self, data: bytes) -> bytes:
        opened = self._open(0xF6, data, 1)
        if isinstance(opened, bytes):
            return opened
        header, _ = opened
        settings = self.files.get(header[0])
        assert self._session is not None
        if settings is None or not settings.counter_enabled:
            return self._status(DENIED)
        if settings.counter_key not in (self._session.key_no, FREE):
            return self._status(DENIED)
        return self._answer(self.sdm_read_counter.to_bytes(3, "little") + b"\x00\x00")

    def _change_file_settings(self, data: bytes) -> bytes:
        opened = self._open(0x5F, data, 1)
        if isinstance(opened, bytes):
            return opened
        header, plain = opened
        settings = self.files.get(header[0])
        assert self._session is not None
        if settings is None or len(plain) < 3:
            return self._status(LENGTH)
        if settings.key("change") != self._session.key_no:
            return self._status(DENIED)
        option, access = plain[0], plain[1:3]
        if option & 0x40:
            if len(plain) < 6:
                return self._status(LENGTH)
            new = FileSettings(option, access, plain[3], plain[4:6], plain[6:])
        else:
            new = FileSettings(option, access)
        self.files[header[0]] = new
        return self._answer()

    def _change_key(self, data: bytes) -> bytes:
        opened = self._open(0xC4, data, 1)
        if isinstance(opened, bytes):
            return opened
        header, plain = opened
        session = self._session
        assert session is not None
        key_no = header[0] & 0x0F
        if key_no >= KEYS:
            return self._status(NO_KEY)
        if session.key_no != 0:  # ChangeKey needs the AppMasterKey (factory key settings)
            return self._status(DENIED)
        if key_no == session.key_no:
            if len(plain) != 17:
                return self._status(LENGTH)
            self.keys[key_no], self.versions[key_no] = plain[:16], plain[16]
            self._session = None  # the session's key changed: no MAC in the answer
            return self._status(OK)
        if len(plain) != 21:
            return self._status(LENGTH)
        new = bytes(a ^ b for a, b in zip(plain[:16], self.keys[key_no], strict=True))
        if _crc32nk(new) != plain[17:21]:
            self._session = None  # assumed: an integrity error ends the session
            return self._status(INTEGRITY)
        self.keys[key_no], self.versions[key_no] = new, plain[16]
        return self._answer()


class RecordingCard:
    """Wraps a card and records its answers; :meth:`replay` then plays them back to whatever is asked.

    This is the attacker's relay/replay device: it has sniffed one genuine exchange and sends the same bytes.
    """

    def __init__(self, card: FakeNtag424) -> None:
        self.card = card
        self.uid = card.uid
        self.sens_res, self.sel_res, self.ats = card.sens_res, card.sel_res, card.ats
        self.answers: list[bytes] = []
        self._replaying = False
        self._next = 0

    def activate(self) -> None:
        self._next = 0
        if not self._replaying:
            self.card.activate()

    def replay(self) -> None:
        """From now on answer with the recorded bytes, in order, without the card."""
        self._replaying = True
        self._next = 0

    def apdu(self, command: bytes) -> bytes:
        if not self._replaying:
            answer = self.card.apdu(command)
            self.answers.append(answer)
            return answer
        answer = self.answers[self._next % len(self.answers)]
        self._next += 1
        return answer


class GarbageCard:
    """An ISO 14443-4 card that answers nonsense (a broken or hostile card)."""

    def __init__(self, uid: bytes, answer: bytes = b"\x13\x37") -> None:
        self.uid = uid
        self.sens_res, self.sel_res, self.ats = SENS_RES, SEL_RES, ATS
        self.answer = answer

    def activate(self) -> None:
        """Nothing to reset."""

    def apdu(self, command: bytes) -> bytes:
        return self.answer


class PlainTag:
    """A card that is not ISO 14443-4: an NTAG21x, a MIFARE Classic or a "magic" UID-changeable clone (SAK 00)."""

    def __init__(self, uid: bytes, sel_res: int = 0x00) -> None:
        self.uid = uid
        self.sens_res, self.sel_res, self.ats = bytes([0x00, 0x44]), sel_res, b""

    def activate(self) -> None:
        """Nothing to reset."""

    apdu = None
