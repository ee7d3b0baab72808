"""Logging to journald with structured fields, plain key=value elsewhere, and never a secret in a log.

journald is not running here, so the test binds journald's native socket itself (a real AF_UNIX datagram
socket) and parses what the handler sends, exactly as journald would.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomctl.ops.logging import (
    NativeJournalHandler,
    SecretFilter,
    mask_secrets,
    setup_logging,
    stderr_is_journal,
)

API_KEY = "sk-ant-api03-AbCdEf0123456789_xyz-QWERTY"
TOKEN = "rct_Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA"


def parse_native(data: bytes) -> dict[str, str]:
    """Decode journald's native protocol (what journald itself does)."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            fields[key.decode()] = value.decode()
            pos = end + 1
        else:
            (size,) = struct.unpack("<Q", data[end + 1 : end + 9])
            fields[line.decode()] = data[end + 9 : end + 9 + size].decode()
            assert data[end + 9 + size : end + 10 + size] == b"\n"
            pos = end + 10 + size
    return fields


@pytest.fixture()
def journal(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "journal.sock"))
    sock.settimeout(2)
    yield sock
    sock.close()


@pytest.fixture()
def logger(tmp_path: Path, journal: socket.socket) -> Iterator[logging.Logger]:
    handler = NativeJournalHandler(tmp_path / "journal.sock")
    handler.addFilter(SecretFilter())
    log = logging.getLogger("roomctl.test.journal")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)
    handler.close()


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_structured_fields_reach_the_journal(logger: logging.Logger, journal: socket.socket) -> None:
    logger.warning("door held open for %d s", 45, extra={"booking_id": 7, "door": "main"})
    fields = parse_native(journal.recv(65536))
    assert fields["MESSAGE"] == "door held open for 45 s"
    assert fields["PRIORITY"] == "4"
    assert fields["SYSLOG_IDENTIFIER"] == "roomctl"
    assert fields["LOGGER"] == "roomctl.test.journal"
    assert fields["BOOKING_ID"] == "7"
    assert fields["DOOR"] == "main"
    assert fields["CODE_FILE"].endswith("test_systemd_journal.py")
    assert fields["CODE_FUNC"] == "test_structured_fields_reach_the_journal"


def test_tracebacks_are_sent_whole_and_masked(logger: logging.Logger, journal: socket.socket) -> None:
    try:
        raise RuntimeError(f"LLM refused key {API_KEY}")
    except RuntimeError:
        logger.exception("proposal failed")
    fields = parse_native(journal.recv(65536))
    assert fields["PRIORITY"] == "3"
    assert fields["MESSAGE"].startswith("proposal failed\nTraceback")
    assert "RuntimeError: LLM refused key sk-ant-***" in fields["MESSAGE"]
    assert API_KEY not in fields["MESSAGE"]


def test_a_record_too_big_for_a_datagram_goes_as_a_sealed_memfd(
    logger: logging.Logger, journal: socket.socket
) -> None:
    text = "x" * 600_000
    logger.info("transcript chunk %s", text)
    data, fds, _, _ = socket.recv_fds(journal, 65536, 1)
    assert data == b""
    assert len(fds) == 1
    seals = fcntl.fcntl(fds[0], fcntl.F_GET_SEALS)
    assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SHRINK, "journald refuses an unsealed memfd"
    with os.fdopen(fds[0], "rb") as handle:
        handle.seek(0)  # journald maps the memfd from its start
        fields = parse_native(handle.read())
    assert fields["MESSAGE"] == "transcript chunk " + text


def test_secrets_are_masked_everywhere(logger: logging.Logger, journal: socket.socket) -> None:
    logger.info(
        "calling %s with Authorization: Bearer %s",
        "https://api.anthropic.com",
        TOKEN,
        extra={"api_key": API_KEY, "url": "mqtt://room:hunter22@broker.example:8883"},
    )
    fields = parse_native(journal.recv(65536))
    assert TOKEN not in fields["MESSAGE"]
    assert "Bearer ***" in fields["MESSAGE"]
    assert fields["API_KEY"] == "***"
    assert fields["URL"] == "mqtt://room:***@broker.example:8883"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key={API_KEY}", "key=sk-ant-***"),
        ('{"x-api-key": "abc123def456"}', '{"x-api-key": "***"}'),
        ("password=hunter22 next", "password=*** next"),
        ("MQTT_PASSWORD: s3cr3t!", "MQTT_PASSWORD: ***"),
        (f"token {TOKEN}", "token rct_***"),
        ("https://admin:pw@example.org/x", "https://admin:***@example.org/x"),
        ("door unlocked for booking 12", "door unlocked for booking 12"),
    ],
)
def test_mask_secrets(text: str, expected: str) -> None:
    assert mask_secrets(text) == expected


def test_plain_key_value_lines_off_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    out = io.StringIO()
    handler = setup_logging("DEBUG", stream=out)
    assert isinstance(handler, logging.StreamHandler)
    logging.getLogger("roomctl.access").info("door unlocked", extra={"uid": "04A1", "secret": "x"})
    logging.getLogger("roomctl.llm").debug("key is %s", API_KEY)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("INFO roomctl.access: door unlocked uid=04A1 secret=***")
    assert lines[1].endswith("DEBUG roomctl.llm: key is sk-ant-***")


def test_setting_up_twice_keeps_one_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    setup_logging("INFO", stream=out)
    logging.getLogger("roomctl.x").info("once")
    assert out.getvalue().count("once") == 1


def test_under_systemd_the_journal_is_chosen(
    tmp_path: Path, journal: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "stderr", "w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        assert stderr_is_journal(stream=stream)
        handler = setup_logging("INFO", stream=stream, socket_path=tmp_path / "journal.sock")
        assert isinstance(handler, NativeJournalHandler)
        logging.getLogger("roomctl.core").info("room started", extra={"room": "room1"})
        fields = parse_native(journal.recv(65536))
        assert fields["MESSAGE"] == "room started"
        assert fields["ROOM"] == "room1"


def test_stderr_to_journal_without_the_socket_gets_priority_prefixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "stderr", "w+") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        setup_logging("INFO", stream=stream, socket_path=tmp_path / "absent.sock")
        logging.getLogger("roomctl.core").error("database locked")
        stream.seek(0)
        assert stream.read().startswith("<3>ERROR roomctl.core: database locked")


def test_another_stream_is_not_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    with open(tmp_path / "stderr", "w") as stream:
        assert not stderr_is_journal(stream=stream)
