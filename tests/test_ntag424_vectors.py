"""Known answers from NXP: roomctl's side AND the simulated card checked against the same published bytes.

Sources (values transcribed from NXP's application notes, as quoted by public NTAG 424 projects' test suites):

- AN12196 "NTAG 424 DNA and NTAG 424 DNA TagTamper features and hints", rev. 2.0 (rev. 1.8 numbering in
  brackets): §5.6 Table 14 (§6.6) AuthenticateEV2First with key 0x00 -- the APDU bytes, RndA, RndB, TI and both
  session keys; §5.9 Table 18 (§6.9 Table 19) ChangeFileSettings in CommMode.Full -- IV, cryptogram, MAC input,
  MACt and the answer's MAC; §5.10 Table 19 (§6.10 Table 20) and §5.14 Table 23 (§6.14 Table 24) -- the session
  of §5.16.1 Table 25 (§6.16 Table 26), ChangeKey of key 2 (XOR, CRC32NK); §5.16.2 Table 26, ChangeKey of key 0;
  §6.3 Table 28 (§7.3 Table 29) GetCardUID, the one published answer carrying encrypted data.
- AN10922 "Symmetric key diversifications", §2.2.1: the AES-128 example (master key 00112233..EEFF, UID
  04782E21801D80, AID 3042F5, system identifier "NXP Abu").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from roomctl.access.secure.card import Ntag424
from roomctl.access.secure.crypto import (
    SecureChannel,
    SecureMessagingError,
    crc32_nk,
    diversify,
    session_keys,
    session_vector,
)
from tests.fake_ntag424 import FakeNtag424

h = bytes.fromhex

# AN12196 Table 14
T14_KEY = bytes(16)
T14_CMD1 = h("9071000002000000")
T14_RESP1 = h("A04C124213C186F22399D33AC2A3021591AF")
T14_RND_A = h("13C5DB8A5930439FC3DEF9A4C675360F")
T14_RND_B = h("B9E2FC789B64BF237CCCAA20EC7E6E48")
T14_CMD2 = h("90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00")
T14_RESP2 = h("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F081206639100")
T14_TI = h("9D00C4DF")
T14_SV1 = h("A55A0001008013C56268A548D8FBBF237CCCAA20EC7E6E48C3DEF9A4C675360F")
T14_ENC = h("1309C877509E5A215007FF0ED19CA564")
T14_MAC = h("4C6626F5E72EA694202139295C7A7FC7")
# AN12196 Table 18 (ChangeFileSettings, CmdCtr 1, in Table 14's session)
T18_DATA = h("4000E0C1F121200000430000430000")
T18_IV = h("3E27082AB2ACC1EF55C57547934E9962")
T18_FIELD = h("02" "61B6D97903566E84C3AE5274467E89EA" "D799B7C1A0EF7A04")
T18_RESP = h("57BFF87B1241E93D")
# AN12196 Tables 19/23/25/26 (ChangeKey session: TI of Table 19, keys of Table 23)
T19_TI = h("7614281A")
T23_ENC = h("4CF3CB41A22583A61E89B158D252FC53")
T23_MAC = h("5529860B2FC5FB6154B7F28361D30BF9")
T25_NEW = h("F3847D627727ED3BC9C4CC050489B966")
T25_CRC = h("789DFADC")
T25_FIELD = h("02" "2CF362B7BF4311FF3BE1DAA295E8C68DE09050560D19B9E16C2393AE9CD1FAC7" "5D0CE20BCD1D06E6")
T25_RESP = h("203BB55D1089D587")
T26_NEW = h("5004BF991F408672B1EF00F08F9E8647")
T26_FIELD = h("00" "C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D05053FF75668A01D6FD" "A6610234BDED6432")
# AN12196 Table 28 (GetCardUID, CommMode.Full answer with data)
T28 = {"ti": h("DF055522"), "enc": h("2B4D963C014DC36F24F69A50A394F875"), "mac": h("379D32130CE61705DD5FD8C36B95D764")}
T28_CMD_MAC = h("8E2C155ADDA99BE3")
T28_RESP = h("70756055688505B52A5E26E59E329CD6" "595F672298EA41B7")
T28_UID = h("04958CAA5C5E80")
# AN10922 §2.2.1
AN10922_MASTER = h("00112233445566778899AABBCCDDEEFF")
AN10922_UID, AN10922_AID, AN10922_SYSTEM = h("04782E21801D80"), h("3042F5"), b"NXP Abu"
AN10922_KEY = h("A8DD63A3B89D54B37CA802473FDA9175")


def pinned(*values: bytes) -> Iterator[bytes]:
    return iter(values)


# -- roomctl's side -----------------------------------------------------------------------------------------


def test_authenticate_ev2_first_sends_and_derives_what_an12196_table_14_shows() -> None:
    sent: list[bytes] = []
    answers = iter([T14_RESP1, T14_RESP2])

    def card(apdu: bytes, answer_bytes: int) -> bytes:
        sent.append(apdu)
        answer = next(answers)
        assert len(answer) == answer_bytes
        return answer

    channel = Ntag424(card, random=lambda n: T14_RND_A).authenticate(0, T14_KEY)
    assert sent == [T14_CMD1, T14_CMD2]
    assert channel.ti == T14_TI
    assert (channel.enc_key, channel.mac_key) == (T14_ENC, T14_MAC)
    assert session_vector(b"\xa5\x5a", T14_RND_A, T14_RND_B) == T14_SV1
    assert session_keys(T14_KEY, T14_RND_A, T14_RND_B) == (T14_ENC, T14_MAC)


def test_a_card_answer_that_echoes_another_rnd_a_is_refused() -> None:
    from roomctl.access.secure.card import AuthenticationFailed

    other = bytearray(T14_RND_A)
    other[0] ^= 1
    answers = iter([T14_RESP1, T14_RESP2])
    with pytest.raises(AuthenticationFailed):
        Ntag424(lambda apdu, n: next(answers), random=lambda n: bytes(other)).authenticate(0, T14_KEY)


def test_commode_full_command_and_answer_match_an12196_table_18() -> None:
    channel = SecureChannel(0, T14_TI, T14_ENC, T14_MAC, counter=1)
    assert channel.command_iv() == T18_IV
    assert channel.wrap_full(0x5F, b"\x02", T18_DATA) == T18_FIELD
    assert channel.unwrap_full(0x00, T18_RESP) == b""
    assert channel.counter == 2
    tampered = SecureChannel(0, T14_TI, T14_ENC, T14_MAC, counter=1)
    with pytest.raises(SecureMessagingError):
        tampered.unwrap_full(0x00, bytes([T18_RESP[0] ^ 1]) + T18_RESP[1:])


def test_change_key_commands_match_an12196_tables_25_and_26() -> None:
    assert crc32_nk(T25_NEW) == T25_CRC
    sent: list[bytes] = []
    answers = iter([T25_RESP + b"\x91\x00", b"\x91\x00"])

    def card(apdu: bytes, answer_bytes: int) -> bytes:
        sent.append(apdu)
        return next(answers)

    channel = SecureChannel(0, T19_TI, T23_ENC, T23_MAC, counter=2)
    host = Ntag424(card)
    host.change_key(channel, 2, T25_NEW, bytes(16), 1)
    host.change_key(channel, 0, T26_NEW, bytes(16), 1)
    assert sent[0] == bytes([0x90, 0xC4, 0, 0, len(T25_FIELD)]) + T25_FIELD + b"\x00"
    assert sent[1] == bytes([0x90, 0xC4, 0, 0, len(T26_FIELD)]) + T26_FIELD + b"\x00"


def test_encrypted_answer_matches_an12196_table_28() -> None:
    channel = SecureChannel(0, T28["ti"], T28["enc"], T28["mac"])
    assert channel.wrap_full(0x51, b"", b"") == T28_CMD_MAC
    assert channel.unwrap_full(0x00, T28_RESP) == T28_UID


def test_key_diversification_matches_an10922() -> None:
    assert diversify(AN10922_MASTER, AN10922_UID, AN10922_AID, AN10922_SYSTEM) == AN10922_KEY
    with pytest.raises(ValueError):
        diversify(AN10922_MASTER, AN10922_UID, b"", b"")  # too short for the CMAC shortcut to equal AN10922


# -- the simulated card's side ------------------------------------------------------------------------------


def selected_card(**state: object) -> FakeNtag424:
    card = FakeNtag424(uid=h("04958CAA5C5E80"), **state)  # type: ignore[arg-type]
    card.activate()
    assert card.apdu(h("00A4040C07D276000085010100")) == h("9000")
    return card


def test_the_simulated_card_answers_an12196_table_14_byte_for_byte() -> None:
    card = selected_card(random=lambda n: T14_RND_B if n == 16 else T14_TI)
    assert card.apdu(T14_CMD1) == T14_RESP1
    assert card.apdu(T14_CMD2) == T14_RESP2
    session = card._session
    assert session is not None and (session.enc, session.mac) == (T14_ENC, T14_MAC)


def test_the_simulated_card_checks_and_answers_an12196_table_18() -> None:
    card = selected_card(random=lambda n: T14_RND_B if n == 16 else T14_TI)
    card.apdu(T14_CMD1)
    card.apdu(T14_CMD2)
    assert card._session is not None
    card._session.ctr = 1
    answer = card.apdu(bytes([0x90, 0x5F, 0, 0, len(T18_FIELD)]) + T18_FIELD + b"\x00")
    assert answer == T18_RESP + b"\x91\x00"
    settings = card.files[2]
    assert settings.sdm and settings.access == h("00E0") and settings.sdm_access == h("F121")


def test_the_simulated_card_performs_an12196_tables_25_and_26() -> None:
    card = selected_card()
    from tests.fake_ntag424 import _Session

    card._session = _Session(0, T19_TI, T23_ENC, T23_MAC, ctr=2)
    assert card.apdu(bytes([0x90, 0xC4, 0, 0, len(T25_FIELD)]) + T25_FIELD + b"\x00") == T25_RESP + b"\x91\x00"
    assert card.keys[2] == T25_NEW and card.versions[2] == 1
    assert card.apdu(bytes([0x90, 0xC4, 0, 0, len(T26_FIELD)]) + T26_FIELD + b"\x00") == b"\x91\x00"
    assert card.keys[0] == T26_NEW
    assert card._session is None  # its own key changed: the session is over


def test_the_simulated_card_refuses_a_command_whose_mac_is_wrong() -> None:
    card = selected_card()
    from tests.fake_ntag424 import _Session

    card._session = _Session(0, T19_TI, T23_ENC, T23_MAC, ctr=2)
    broken = bytearray(T25_FIELD)
    broken[-1] ^= 0x01
    assert card.apdu(bytes([0x90, 0xC4, 0, 0, len(broken)]) + bytes(broken) + b"\x00") == b"\x91\x1e"
    assert card.keys[2] == bytes(16)
