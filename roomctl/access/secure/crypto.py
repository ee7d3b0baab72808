"""The NTAG 424 DNA's cryptography, from NXP's NT4H2421Gx datasheet, AN12196 and AN10922.

AES and CMAC come from the ``cryptography`` library; this module only arranges their inputs: the session vectors
of AuthenticateEV2First (datasheet §9.1.7), the IVs, MAC inputs and truncation of secure messaging (§9.1.3-9.1.5),
the padding of encrypted data (ISO/IEC 9797-1 method 2) and AN10922's AES-128 key diversification. Every function
is checked against NXP's worked examples in ``tests/test_ntag424_vectors.py``.
"""

from __future__ import annotations

import hmac
import zlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from roomctl.errors import AdapterError

BLOCK = 16
"""AES block and key size in bytes."""
MAC_BYTES = 8
"""A truncated MAC (MACt) is 8 bytes."""
ZERO_IV = bytes(BLOCK)
SV1_LABEL = b"\xa5\x5a"
"""Session vector label of SesAuthENCKey."""
SV2_LABEL = b"\x5a\xa5"
"""Session vector label of SesAuthMACKey."""
SV_HEADER = bytes.fromhex("00010080")
"""Counter 0001 and length 0080 (128 bits) of the session vectors."""
IV_COMMAND_LABEL = b"\xa5\x5a"
IV_RESPONSE_LABEL = b"\x5a\xa5"
COUNTER_LIMIT = 0xFFFF
"""CmdCtr is 16 bits; the session must end before it wraps."""
DIVERSIFICATION_CONSTANT = 0x01
"""AN10922 §2.2: the constant that starts the input of an AES-128 diversified key."""
MIN_DIVERSIFICATION_INPUT = 16
"""AN10922 pads inputs shorter than 32 bytes to 32; CMAC pads to the next block, which agrees only above 16."""
MAX_DIVERSIFICATION_INPUT = 31
"""AN10922 §2.2: M is 1 to 31 bytes after the constant."""


class SecureMessagingError(AdapterError):
    """A MAC did not verify or a padded plaintext is malformed (the card or the line is not genuine)."""


def _check_key(key: bytes) -> None:
    if len(key) != BLOCK:
        raise ValueError(f"an AES-128 key is {BLOCK} bytes, not {len(key)}")


def encrypt_block(key: bytes, block: bytes) -> bytes:
    """AES-128 of one block (ECB, as the IV derivation uses it)."""
    _check_key(key)
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block, by the datasheet
    return encryptor.update(block) + encryptor.finalize()


def cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC of whole blocks, no padding."""
    _check_key(key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC decryption of whole blocks, no padding."""
    _check_key(key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def cmac(key: bytes, data: bytes) -> bytes:
    """The full 16-byte AES-CMAC (NIST SP 800-38B) of ``data``."""
    _check_key(key)
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def truncate(mac: bytes) -> bytes:
    """MACt: the 8 even-numbered bytes S14, S12, ..., S0 (datasheet §9.1.3), i.e. indexes 1, 3, ..., 15."""
    return mac[1::2]


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros; a full extra block when ``data`` fills its blocks."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % BLOCK)


def unpad(data: bytes) -> bytes:
    """Remove method-2 padding.

    Raises:
        SecureMessagingError: No 0x80 marker after the trailing zeros.
    """
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK:
        raise SecureMessagingError("the decrypted data is not padded as ISO/IEC 9797-1 method 2")
    return stripped[:-1]


def rotate_left(data: bytes) -> bytes:
    """Rotate left by one byte (RndB' and RndA' in AuthenticateEV2First)."""
    return data[1:] + data[:1]


def session_vector(label: bytes, rnd_a: bytes, rnd_b: bytes) -> bytes:
    """SV1 or SV2 of datasheet §9.1.7, bytes numbered most significant first (RndA[15] is ``rnd_a[0]``).

    ``label || 0001 0080 || RndA[15..14] || (RndA[13..8] XOR RndB[15..10]) || RndB[9..0] || RndA[7..0]``.
    """
    mixed = bytes(a ^ b for a, b in zip(rnd_a[2:8], rnd_b[0:6], strict=True))
    return label + SV_HEADER + rnd_a[0:2] + mixed + rnd_b[6:16] + rnd_a[8:16]


def session_keys(key: bytes, rnd_a: bytes, rnd_b: bytes) -> tuple[bytes, bytes]:
    """``(SesAuthENCKey, SesAuthMACKey)``: the CMAC under the authentication key of SV1 and SV2."""
    return cmac(key, session_vector(SV1_LABEL, rnd_a, rnd_b)), cmac(key, session_vector(SV2_LABEL, rnd_a, rnd_b))


def crc32_nk(data: bytes) -> bytes:
    """CRC32NK of ChangeKey: the IEEE 802.3 CRC-32 without its final complement, least significant byte first."""
    return ((zlib.crc32(data) ^ 0xFFFFFFFF) & 0xFFFFFFFF).to_bytes(4, "little")


def diversify(master_key: bytes, uid: bytes, application: bytes, system_identifier: bytes) -> bytes:
    """AN10922 §2.2 AES-128 key diversification: ``CMAC(K, 0x01 || UID || AID || SystemIdentifier)``.

    AN10922 pads the input to 32 bytes and takes CMAC's K2 branch when it padded; for inputs of 17 to 31 bytes
    that is exactly what CMAC itself does, so inputs of 16 bytes or fewer are refused rather than computed
    differently.

    Raises:
        ValueError: The diversification input is not 17 to 32 bytes with its constant.
    """
    data = uid + application + system_identifier
    if not MIN_DIVERSIFICATION_INPUT <= len(data) <= MAX_DIVERSIFICATION_INPUT:
        raise ValueError(f"the diversification input is {len(data)} bytes; it must be 16 to 31")
    return cmac(master_key, bytes([DIVERSIFICATION_CONSTANT]) + data)


@dataclass
class SecureChannel:
    """An authenticated session (datasheet §9.1.2-9.1.5): its keys, transaction identifier and command counter.

    Attributes:
        key_no: The key the session was authenticated with.
        ti: The card's transaction identifier (4 bytes).
        enc_key: SesAuthENCKey.
        mac_key: SesAuthMACKey.
        counter: CmdCtr, incremented after every command answered in the session.
    """

    key_no: int
    ti: bytes
    enc_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    counter: int = 0

    def _iv(self, label: bytes, counter: int) -> bytes:
        return encrypt_block(self.enc_key, label + self.ti + counter.to_bytes(2, "little") + bytes(8))

    def command_iv(self) -> bytes:
        """IV for command data: ``E(SesAuthENCKey, A55A || TI || CmdCtr || 0^8)``."""
        return self._iv(IV_COMMAND_LABEL, self.counter)

    def response_iv(self) -> bytes:
        """IV for response data: ``E(SesAuthENCKey, 5AA5 || TI || CmdCtr+1 || 0^8)``."""
        return self._iv(IV_RESPONSE_LABEL, self.counter + 1)

    def command_mac(self, command: int, header: bytes, data: bytes) -> bytes:
        """MACt over ``Cmd || CmdCtr || TI || CmdHeader || data``."""
        message = bytes([command]) + self.counter.to_bytes(2, "little") + self.ti + header + data
        return truncate(cmac(self.mac_key, message))

    def response_mac(self, status: int, data: bytes) -> bytes:
        """MACt over ``RC || CmdCtr+1 || TI || data``."""
        message = bytes([status]) + (self.counter + 1).to_bytes(2, "little") + self.ti + data
        return truncate(cmac(self.mac_key, message))

    def wrap_full(self, command: int, header: bytes, data: bytes) -> bytes:
        """The data field of a CommMode.Full command: ``CmdHeader || E(data) || MACt`` (no data: no cryptogram)."""
        if self.counter >= COUNTER_LIMIT:
            raise SecureMessagingError("the command counter is exhausted; authenticate again")
        encrypted = cbc_encrypt(self.enc_key, self.command_iv(), pad(data)) if data else b""
        return header + encrypted + self.command_mac(command, header, encrypted)

    def unwrap_full(self, status: int, body: bytes) -> bytes:
        """Check and decrypt a CommMode.Full answer (``E(data) || MACt``); the counter moves on.

        Raises:
            SecureMessagingError: The MAC is wrong or the plaintext is not padded.
        """
        if len(body) < MAC_BYTES or (len(body) - MAC_BYTES) % BLOCK:
            raise SecureMessagingError(f"a CommMode.Full answer of {len(body)} bytes is not cryptogram + MAC")
        encrypted, mac = body[:-MAC_BYTES], body[-MAC_BYTES:]
        if not _equal(mac, self.response_mac(status, encrypted)):
            raise SecureMessagingError("the answer's MAC does not verify: not the card that authenticated")
        plain = unpad(cbc_decrypt(self.enc_key, self.response_iv(), encrypted)) if encrypted else b""
        self.counter += 1
        return plain


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
