"""Start-to-healthy time and idle memory of the service.

Starts `roomctl serve` (with a private Mosquitto) several times on a fresh data folder and prints the time
from process start until GET /healthz answers 200, and the resident memory after it has idled for a while.

Run: .venv/bin/python bench/bench_startup.py [--runs 5] [--idle 5]
"""

from __future__ import annotations

import argparse
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


def one_run(broker: Broker, idle: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "roomctl.toml"
        config.write_text(
            f'[storage]\ndata_dir = "{tmp}/data"\n[server]\nport = {port}\n[mqtt]\nport = {broker.port}\n'
        )
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
            time.sleep(idle)
            return healthy, rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds to idle before reading RSS")
    args = parser.parse_args()
    with Broker() as broker:
        results = [one_run(broker, args.idle) for _ in range(args.runs)]
    times = [r[0] for r in results]
    rss = [r[1] for r in results]
    print(f"start-to-healthy: median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
          f"({args.runs} runs, fresh data folder each)")
    print(f"idle RSS after {args.idle:.0f} s: median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB")


if __name__ == "__main__":
    main()
