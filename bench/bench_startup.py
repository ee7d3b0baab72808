"""Start-to-healthy time and idle memory of the service.

Starts `roomctl serve` (with a private Mosquitto) several times on a fresh data folder, then once more on the
same folder (a restart: what a reboot or ``systemctl restart`` does), and prints the time from process start
until GET /healthz answers 200, the resident memory after it has idled for a while (no speech model is
installed, so no speech worker runs), and how long importing the service's code takes in a fresh interpreter.
A first start also installs the default videoframe, generating its clips with ffmpeg beside the start.

The service is timed as installed: ``pip install`` byte-compiles the package it installs, but an editable checkout
run with ``PYTHONDONTWRITEBYTECODE`` set compiles every module from source on every start (about 0.4 s here).
So the benchmark byte-compiles roomctl first, as ``make setup`` does.

Run: .venv/bin/python bench/bench_startup.py [--runs 5] [--idle 5]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from roomctl.devices.broker import Broker, free_port

POLL_SECONDS = 0.02


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(broker: Broker, tmp: str, idle: float) -> tuple[float, float, float]:
    """Start ``roomctl serve`` on the data folder in ``tmp``.

    Returns:
        Seconds to healthy, CPU seconds the service used until then, and RSS (MB) after ``idle``.
    """
    port = free_port()
    config = Path(tmp) / "roomctl.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp}/data"\n[server]\nport = {port}\n[mqtt]\nport = {broker.port}\n')
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "roomctl", "serve", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise SystemExit("roomctl serve exited during start")
            time.sleep(POLL_SECONDS)
        healthy = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
        time.sleep(idle)
        return healthy, cpu, rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def one_run(broker: Broker, idle: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A first start on a fresh data folder, then a restart on it."""
    with tempfile.TemporaryDirectory() as tmp:
        return start(broker, tmp, idle), start(broker, tmp, idle)


def byte_compile() -> None:
    """Write roomctl's bytecode cache, as pip does for an installed package (a no-op when it is up to date)."""
    package = Path(__file__).resolve().parents[1] / "roomctl"
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not byte-compile {package}")


def import_seconds() -> float:
    """Seconds a fresh interpreter takes to import what ``roomctl serve`` imports before it starts the room."""
    code = "import time; t = time.perf_counter(); import roomctl.cli, roomctl.server; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to idle before reading RSS")
    args = parser.parse_args()
    byte_compile()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    with Broker() as broker:
        results = [one_run(broker, args.idle) for _ in range(args.runs)]
    imports = [import_seconds() for _ in range(args.runs)]
    for label, index in (("first start (fresh data folder)", 0), ("restart (same data folder)", 1)):
        times = [r[index][0] for r in results]
        cpu = [r[index][1] for r in results]
        rss = [r[index][2] for r in results]
        print(f"{label}: start-to-healthy median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
              f"max {max(times):.2f} s ({args.runs} runs)")  # fmt: skip
        print(f"  CPU time of the service until healthy: median {statistics.median(cpu):.2f} s")
        print(f"  idle RSS after {args.idle:.0f} s: median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB")
    print(f"importing roomctl.cli + roomctl.server: median {statistics.median(imports):.2f} s")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
