"""A private Mosquitto broker on a free loopback port, for ``roomctl demo`` and the tests.

It is started as a child process and stopped by PID; nothing is left running when the owner exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

BROKER_START_TIMEOUT = 10.0
"""Seconds to wait for a started Mosquitto to accept connections."""
BROKER_STOP_TIMEOUT = 5.0
"""Seconds to wait for Mosquitto to exit after SIGTERM before SIGKILL."""
POLL_INTERVAL = 0.02
MOSQUITTO_ENV = "ROOMCTL_MOSQUITTO"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_mosquitto() -> str:
    """The mosquitto binary (``ROOMCTL_MOSQUITTO`` names another).

    Raises:
        AdapterError: It is not installed.
    """
    configured = os.environ.get(MOSQUITTO_ENV)
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise AdapterError(f"{MOSQUITTO_ENV}={configured} is not an executable mosquitto broker")
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise AdapterError(
        "the mosquitto broker is not installed; install it with `apt-get install mosquitto` (or run `make setup`)"
    )


class Broker:
    """A Mosquitto child process listening on ``127.0.0.1:port``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``extra_config`` lines are appended to
    the generated configuration (for ACL or password tests).
    """

    def __init__(self, port: int | None = None, *, workdir: Path | None = None, extra_config: str = "") -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="roomctl-mosquitto-"))
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The broker's PID while it runs."""
        return self.process.pid if self.process else None

    def config_text(self) -> str:
        """The Mosquitto configuration this broker runs with."""
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "user root",
        ]
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def start(self) -> Broker:
        """Start Mosquitto and wait until it accepts connections.

        Raises:
            AdapterError: Mosquitto is missing, the port is taken, or it did not come up.
        """
        binary = find_mosquitto()
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text(), encoding="utf-8")
        log_path = self.workdir / "mosquitto.log"
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=log_file, stderr=log_file, start_new_session=True
            )
        deadline = time.monotonic() + BROKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise AdapterError(f"mosquitto exited at start on port {self.port}: {' '.join(output)}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    log.info("mosquitto %d listening on %s:%d", self.process.pid, self.host, self.port)
                    return self
            except OSError:
                time.sleep(POLL_INTERVAL)
        self.stop()
        raise AdapterError(f"mosquitto did not accept connections on port {self.port} within {BROKER_START_TIMEOUT} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(BROKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        own, self._own_dir = self._own_dir, False
        self.stop()
        self._own_dir = own
        self.start()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
