"""What the trust boundaries cost: a refused 100 MB unauthenticated body, and the group check on a read route.

1. Serves a demo room with real uvicorn on a free port and sends ``POST /api/v1/members`` without a token,
   declaring and then streaming a 100 MB JSON body (chunked, and with Content-Length). Prints the time to the
   401 answer, how many bytes the client got to send before the server answered and closed, and the server
   process's RSS growth.
2. Times ``GET /api/v1/sessions/{id}/proposals`` (in-process, TestClient) for an admin (no group check work)
   and for a facilitator bound to the group's facilitator (scope computed, the session's group resolved), and
   the group check alone (``compute_scope`` + the session resolver).

    .venv/bin/python bench/bench_security.py [--runs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from roomctl.api import scope
from roomctl.api.app import create_app
from roomctl.api.tokens import create_token, verify_token
from roomctl.config import load_settings
from roomctl.demo import seed
from roomctl.devices.broker import free_port
from roomctl.runtime import build_room
from roomctl.server import serve

BODY_BYTES = 100 * 1024 * 1024
CHUNK = 64 * 1024
WARMUP = 30


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def send_body(port: int, chunked: bool) -> tuple[float, int, bytes]:
    """Send the request and stream the body until the server answers; time to the answer, bytes sent, status line."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = "POST /api/v1/members HTTP/1.1\r\nHost: room\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {BODY_BYTES}\r\n\r\n"
    started = time.perf_counter()
    sock.sendall(head.encode())
    sock.setblocking(False)
    sent, answer = 0, b""
    payload = b"[" + b"1," * (CHUNK // 2 - 1) + b"1"
    frame = f"{len(payload):x}\r\n".encode() + payload + b"\r\n" if chunked else payload
    while sent < BODY_BYTES and not answer:
        try:
            answer = sock.recv(4096)
            break
        except BlockingIOError:
            pass
        try:
            sent += sock.send(frame)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            time.sleep(0.0005)
    if not answer:
        sock.setblocking(True)
        answer = sock.recv(4096)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed, sent, answer.split(b"\r\n", 1)[0]


def send_small(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /api/v1/members HTTP/1.1\r\nHost: room\r\nContent-Length: 2\r\n\r\n{}")
        sock.recv(4096)


def refused_body() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-security-"))
    port = free_port()
    settings = load_settings(None, {"storage": {"data_dir": folder}, "mqtt": {"enabled": False},
                                    "server": {"port": port}})  # fmt: skip
    room = build_room(settings)
    seed(room)
    ready, shutdown = threading.Event(), None
    loop = asyncio.new_event_loop()

    async def run() -> None:
        nonlocal shutdown
        shutdown = asyncio.Event()
        await serve(settings, room=room, on_ready=lambda _: ready.set(), shutdown=shutdown)

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    ready.wait(30)
    send_small(port)  # warm up: the first request compiles the route table
    before = rss_kib()
    for chunked in (False, True):
        elapsed, sent, status = send_body(port, chunked)
        kind = "chunked" if chunked else "Content-Length"
        print(f"refused 100 MB unauthenticated body ({kind}): {status.decode()!r} after {elapsed * 1000:.1f} ms, "
              f"client sent {sent / 1024:.0f} KiB before the answer")  # fmt: skip
    print(f"server RSS growth over both: {(rss_kib() - before) / 1024:.1f} MiB")
    assert shutdown is not None
    loop.call_soon_threadsafe(shutdown.set)
    thread.join(30)


def group_check(runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-scope-"))
    settings = load_settings(None, {"storage": {"data_dir": folder}, "mqtt": {"enabled": False}})
    room = build_room(settings)
    seed(room)
    group = room.db.execute("select id, facilitator_id from groups").fetchone()
    now = room.clock.now().isoformat()
    room.db.execute("insert into sessions (id, group_id, videoframe_id, videoframe_version, started_at, ended_at, "
                    "state, updated_at) values (1, ?, 'vf', '1', ?, ?, '{}', ?)", [group[0], now, now, now])  # fmt: skip
    room.db.conn.commit()
    _, admin = create_token(room.db, "admin", label="bench", now=room.clock.now())
    _, facilitator = create_token(room.db, "facilitator", label="bench", now=room.clock.now(), member_id=group[1])
    with TestClient(create_app(room)) as client:
        for who, token in (("admin", admin), ("facilitator", facilitator)):
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/sessions/1/proposals", headers=headers).status_code == 200
            times = []
            for index in range(runs + WARMUP):
                started = time.perf_counter()
                client.get("/api/v1/sessions/1/proposals", headers=headers)
                if index >= WARMUP:
                    times.append(time.perf_counter() - started)
            print(f"GET /sessions/1/proposals as {who:<11}: median {statistics.median(times) * 1000:.3f} ms, "
                  f"p95 {sorted(times)[int(runs * 0.95)] * 1000:.3f} ms")  # fmt: skip
        principal = verify_token(room.db, facilitator, now=room.clock.now())
        assert principal is not None
        times = []
        for _ in range(runs * 10):
            started = time.perf_counter()
            held = scope.compute_scope(room, principal)
            held.require("session_id", 1)
            times.append(time.perf_counter() - started)
        print(f"the group check alone (scope + session resolver): median {statistics.median(times) * 1e6:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    refused_body()
    group_check(args.runs)


if __name__ == "__main__":
    main()
