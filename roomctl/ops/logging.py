"""Logging for the service: structured fields to journald under systemd, ``key=value`` lines elsewhere.

Under systemd (``JOURNAL_STREAM`` names our stderr) every record goes to journald with its fields:
``MESSAGE``, ``PRIORITY``, ``SYSLOG_IDENTIFIER=roomctl``, ``LOGGER``, ``CODE_FILE``/``CODE_LINE``/``CODE_FUNC``,
``THREAD_NAME`` and every ``extra={...}`` key in upper case (``extra={"booking_id": 7}`` becomes
``BOOKING_ID=7``), so ``journalctl -u roomctl BOOKING_ID=7`` finds them. ``systemd.journal`` is used when
installed; otherwise the records are sent over journald's native protocol (a datagram per record to
``/run/systemd/journal/socket``, large ones passed as a sealed memfd). Off systemd, lines go to stderr.

Secrets never reach a log: :class:`SecretFilter` masks bearer tokens, API keys and ``password=...`` in the
message, the traceback and the extra fields before any handler formats them.
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import os
import re
import socket
import struct
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
SYSLOG_IDENTIFIER = "roomctl"
MASK = "***"
FIELD_NAME_MAX = 64
"""journald ignores field names longer than this."""

_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRET_KEY = re.compile(r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|authorization|credential)")
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{6,}"), f"sk-ant-{MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), f"sk-{MASK}"),
    (re.compile(r"\brct_[A-Za-z0-9_-]{6,}"), f"rct_{MASK}"),
    (
        re.compile(
            r"(?i)\b([\w-]*?(?:api[_-]?key|pass(?:word|wd)?|secret|token|authorization))"
            r"(\"?'?\s*[:=]\s*\"?'?)(?!\*\*\*|(?i:bearer|basic)\s)([^\s\"',;&}]+)"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(mqtts?|https?)://([^:/\s@]+):[^@/\s]+@"), rf"\1://\2:{MASK}@"),
)


def mask_secrets(text: str) -> str:
    """``text`` with anything that looks like a token, key or password replaced by ``***``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` values of a record (the attributes a plain LogRecord does not have)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and extra fields (always passes the record on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place with its secrets masked."""
        if getattr(record, "_secrets_masked", False):
            return True
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        for key, value in extra_fields(record).items():
            if _SECRET_KEY.search(key):
                setattr(record, key, MASK)
            elif isinstance(value, str):
                setattr(record, key, mask_secrets(value))
        record._secrets_masked = True
        return True


def journal_priority(levelno: int) -> int:
    """The syslog priority (0-7) journald uses for a Python log level."""
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return 7


def field_name(key: str) -> str:
    """A journald field name for ``key``: upper case letters, digits and underscores, not leading ``_``."""
    name = re.sub(r"[^A-Z0-9_]", "_", key.upper()).lstrip("_")
    if not name or name[0].isdigit():
        name = "F_" + name
    return name[:FIELD_NAME_MAX]


def encode_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """Encode fields in journald's native protocol (length-prefixed when a value has a newline)."""
    out = bytearray()
    for key, value in fields:
        data = value.encode("utf-8", "replace")
        name = key.encode("ascii")
        if b"\n" in data:
            out += name + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name + b"=" + data + b"\n"
    return bytes(out)


class NativeJournalHandler(logging.Handler):
    """Sends each record to journald as one native-protocol datagram with structured fields."""

    def __init__(self, socket_path: Path = JOURNAL_SOCKET, identifier: str = SYSLOG_IDENTIFIER) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.identifier = identifier
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def fields(self, record: logging.LogRecord) -> list[tuple[str, str]]:
        """The journald fields for ``record``."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        fields = [
            ("MESSAGE", message),
            ("PRIORITY", str(journal_priority(record.levelno))),
            ("SYSLOG_IDENTIFIER", self.identifier),
            ("LOGGER", record.name),
            ("CODE_FILE", record.pathname),
            ("CODE_LINE", str(record.lineno)),
            ("CODE_FUNC", record.funcName),
            ("THREAD_NAME", record.threadName or ""),
        ]
        taken = {name for name, _ in fields}
        for key, value in extra_fields(record).items():
            name = field_name(key)
            if name not in taken:
                fields.append((name, str(value)))
                taken.add(name)
        return fields

    def emit(self, record: logging.LogRecord) -> None:
        """Send the record; a record too large for one datagram goes as a sealed memfd."""
        try:
            payload = encode_fields(self.fields(record))
            try:
                self._sock.sendto(payload, str(self.socket_path))
            except OSError as exc:
                if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                    raise
                self._send_memfd(payload)
        except Exception:
            self.handleError(record)

    def _send_memfd(self, payload: bytes) -> None:
        fd = os.memfd_create("roomctl-journal", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
        try:
            os.write(fd, payload)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
            self._sock.sendmsg([b""], rights, 0, str(self.socket_path))
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
        super().close()


class KeyValueFormatter(logging.Formatter):
    """``2026-11-29 14:30:00,123 INFO roomctl.access: door unlocked booking_id=7 uid=04A1``.

    Args:
        syslog_prefix: Start each line with ``<priority>`` (stderr read by journald, SyslogLevelPrefix).
    """

    def __init__(self, syslog_prefix: bool = False) -> None:
        fmt = "%(levelname)s %(name)s: %(message)s"
        super().__init__(fmt if syslog_prefix else "%(asctime)s " + fmt)
        self.syslog_prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        """The line (and traceback) for ``record``."""
        text = super().format(record)
        pairs = " ".join(f"{k}={_quote(v)}" for k, v in extra_fields(record).items())
        if pairs:
            first, sep, rest = text.partition("\n")
            text = f"{first} {pairs}{sep}{rest}"
        if self.syslog_prefix:
            text = f"<{journal_priority(record.levelno)}>{text}"
        return text


def _quote(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if not text or any(c in text for c in ' "=') else text


def stderr_is_journal(environ: dict[str, str] | None = None, stream: IO[str] | None = None) -> bool:
    """True when stderr is connected to journald (systemd sets ``JOURNAL_STREAM=<dev>:<inode>`` of it)."""
    value = (environ if environ is not None else os.environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def _journal_handler(socket_path: Path) -> logging.Handler | None:
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        pass
    else:
        handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER)
        return handler
    if socket_path.exists():
        return NativeJournalHandler(socket_path)
    return None


def setup_logging(
    level: str | int = "INFO",
    journald: bool | None = None,
    *,
    stream: IO[str] | None = None,
    socket_path: Path = JOURNAL_SOCKET,
) -> logging.Handler:
    """Configure the root logger once for the whole process and return the handler it uses.

    Args:
        level: The lowest level logged (``"DEBUG"``, ``"INFO"``, ...).
        journald: Send to journald; ``None`` decides by whether stderr is the journal (running under systemd).
        stream: Where plain lines go (default stderr).
        socket_path: journald's native socket.
    """
    out = stream or sys.stderr
    use_journal = stderr_is_journal(stream=out) if journald is None else journald
    handler: logging.Handler | None = _journal_handler(socket_path) if use_journal else None
    if handler is None:
        handler = logging.StreamHandler(out)
        handler.setFormatter(KeyValueFormatter(syslog_prefix=use_journal))
    handler.addFilter(SecretFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_roomctl", False):
            root.removeHandler(old)
            old.close()
    handler._roomctl = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler
