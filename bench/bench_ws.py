"""Tablet command → kiosk update latency with many WebSocket clients connected, and where a command's time goes.

Serves a seeded room with real uvicorn on a free port (in this process), starts a session, and runs the clients
in a second process, as real clients are other devices: it connects ``--clients`` WebSocket clients to ``/ws``
(kiosk and facilitator tokens, as projector, player and tablets would) and sends ``--commands`` tablet
commands (``next`` and ``previous`` in turn) over HTTP. For every command it measures, per client, the time
from sending the command to receiving the screen state that shows the new step, and prints p50/p99 over all
(client, command) pairs, of the slowest client per command, and of the command's HTTP answer.

Runs with clients that ask for deltas (``/ws?delta=true``, what the kiosk and tablet pages do) and with clients
that take whole states (the kiosk player, other tools). ``--busy`` repeats both while the speech worker
(faster-whisper in its own process) transcribes over and over and a proposal streams to the screen state
from the local fake Messages API, one after the other.

The server side is timed per command (wrapped from here, nothing in roomctl measures itself): decide (the
session's state machine and the rest of the command handler), store (the session row), view (building the
session's screen part and the status listeners), encode (JSON text of the changed part and of the messages),
the events it causes (the step and phase events other capabilities handle right after it, on the same loop)
and send (the 50 sends of one change, summed, and from the first to the last). It also counts the garbage
collections in the room's process meanwhile and the longest (a full one holds the loop), and the share of CPU
time the hypervisor took from this machine meanwhile (steal, from ``/proc/stat``): on a shared virtual machine
the p99 rises with it (here: 3 % steal with a p99 of 20 ms, 11 % with 53 ms, same code).

The clients, the tablet and the model's server stand for other machines: on a machine with two or more cores
they run on its last core and the room on the others (``--no-pin``: wherever the kernel puts them), so fifty
clients reading a message do not take the room's core while it sends; the speech worker, part of the room,
runs on every core. For the slowest commands of a run it lists what ran on the room's loops meanwhile, each
step longer than 2 ms: its wall time (``--step-cpu``: and CPU time), whose it was and how much of it was garbage
collection.

A timeline puts the server's steps on the tablet's clock (``perf_counter`` is the system's monotonic clock, the
same in every process): when the room had the command, had decided, had written the HTTP answer, and had
written the change to the first and to the last client. What the clients' arrival times add to the last is
their own reading, fifty clients in one process here.

    .venv/bin/python bench/bench_ws.py [--clients 50] [--commands 40] [--no-pin] [--step-cpu] [--busy [--no-proposal] [--model base] [--worker-nice 10]]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
from starlette.websockets import WebSocket
from uvicorn.protocols.http import httptools_impl
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

import roomctl.core.state as state_module
from roomctl.config import load_settings
from roomctl.core.room import Room
from roomctl.devices.broker import free_port
from roomctl.session.events import SessionCommand
from roomctl.session.service import SessionService
from tests.conftest import serving

SETTLE_SECONDS = 0.1
"""Pause between commands, so each one is measured on its own (every client has it well before the next)."""
WARMUP_COMMANDS = 6
"""Commands sent (and not counted) before measuring: first calls import and warm caches."""
TIMEOUT_SECONDS = 10.0
"""Longest wait for a client to see a command's result."""
LLM_KEY = "sk-bench"
PROPOSAL_EVENT_SECONDS = 0.05
"""The fake model streams 40 characters every 50 ms (800 characters a second: faster than real models)."""
FIRST_DRAFT_TIMEOUT_SECONDS = 60.0
"""Longest wait for the first proposal's draft on the screen before measuring (--busy)."""
STAGES = ("decide", "store", "view", "encode", "events it causes", "send (sum)", "send (first to last)")
MILESTONES = ("the room has the command", "the room has decided", "HTTP answer written", "first client written",
              "last client written")  # fmt: skip
"""When each step of a command was done on the server, from the tablet's send (see :meth:`StageClock.timeline`)."""
SHORT_MILESTONES = dict(zip(MILESTONES, ("has it", "decided", "answered", "first sent", "last sent"), strict=True))
"""The milestones' names in the list of the slowest commands."""


LONG_STEP_SECONDS = 0.002
"""A step of an event loop this long is listed beside the slowest commands."""
SLOWEST_SHOWN = 3
"""How many of a run's slowest commands are shown with the long steps that ran meanwhile."""


class LoopSteps:
    """Every step of an event loop in this process (a callback or a task's step) longer than
    :data:`LONG_STEP_SECONDS`: when it started, its wall time, its thread and what it ran.

    With ``cpu`` also the thread's CPU time in the step (wall well above CPU: the thread waited, for a core or
    for the interpreter lock). That reading is a system call, about 1 µs twice a step here, a few tenths of a
    millisecond per command; without it a step costs two reads of the monotonic clock (70 ns each).
    """

    def __init__(self) -> None:
        self.steps: list[tuple[float, float, float, str]] = []
        self._run = asyncio.events.Handle._run

    def install(self, *, cpu: bool) -> None:
        """Time every step from now on."""
        run, steps = self._run, self.steps
        cpu_time = time.thread_time if cpu else (lambda: float("nan"))

        def timed_run(handle: asyncio.Handle) -> None:
            started, cpu_at = time.perf_counter(), cpu_time()
            try:
                run(handle)
            finally:
                wall = time.perf_counter() - started
                if wall > LONG_STEP_SECONDS:
                    steps.append((started, wall, cpu_time() - cpu_at, _step_name(handle)))

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    def between(self, start: float, end: float) -> list[tuple[float, float, float, str]]:
        """The long steps that ran (at least partly) between ``start`` and ``end``."""
        return [step for step in self.steps if step[0] < end and step[0] + step[1] > start]


def _step_name(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    what = owner.get_coro().__qualname__ if isinstance(owner, asyncio.Task) else repr(handle)[:80]  # type: ignore[union-attr]
    return f"{threading.current_thread().name}: {what}"


LOOP_STEPS = LoopSteps()


def placement(pin: bool) -> tuple[set[int] | None, list[str]]:
    """The cores for the room (this process) and the command prefix that puts a client process on the last core.

    ``(None, [])`` when not pinned: one core, ``--no-pin``, or no ``taskset``.
    """
    cores = sorted(os.sched_getaffinity(0))
    if not pin or len(cores) < 2 or shutil.which("taskset") is None:
        return None, []
    return set(cores[:-1]), ["taskset", "-c", str(cores[-1])]


class Collections:
    """The garbage collections in this (the room's) process, with how long each held the loop."""

    def __init__(self) -> None:
        self.durations: list[tuple[int, float]] = []
        self.spans: list[tuple[float, float]] = []
        """Every collection's start and end (``perf_counter``), kept for the whole run."""
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            ended = time.perf_counter()
            self.durations.append((info["generation"], ended - self._started))
            self.spans.append((self._started, ended))

    def within(self, start: float, end: float) -> float:
        """Seconds of collection between ``start`` and ``end``."""
        return sum(max(min(e, end) - max(s, start), 0.0) for s, e in self.spans if s < end and e > start)

    def take(self) -> list[tuple[int, float]]:
        """The collections since the last call."""
        taken, self.durations = self.durations, []
        return taken


COLLECTIONS = Collections()


def cpu_ticks() -> tuple[int, int]:
    """All CPU time since boot and the part of it the host took from this (virtual) machine ("steal"), in ticks.

    From ``/proc/stat`` (Linux); ``(0, 0)`` where there is none. Steal is time this machine wanted to run and its
    hypervisor ran something else: no code of ours is quicker then, so a report says how much there was.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(field) for field in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields), fields[7] if len(fields) > 7 else 0


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# -- the clients (two more processes) -------------------------------------------------------------------------


class Follower(asyncio.Protocol):
    """One WebSocket client that records when it sees the session's step change, ``expect`` times.

    The fifty clients stand for fifty devices but share this one process, so whatever a client spends reading
    a message delays the clients after it. This one is as light as a client can be: websockets' sans-I/O
    protocol, fed from the transport's callback (no task, no queue per message), the arrival time taken as
    the bytes come in, and orjson, as fast as a browser's ``JSON.parse``. With websockets' asyncio client
    and the standard library's parser the last client of a command read its message about 5 ms after the
    server had written it; with orjson about 2.5 ms.
    """

    def __init__(self, uri: str, expect: int) -> None:
        self.arrivals: list[float] = []
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._expect = expect
        self._protocol = ClientProtocol(parse_uri(uri), max_size=None)
        self._index: int | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._protocol.send_request(self._protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._read(orjson.loads(event.data), arrived)
            elif not isinstance(event, Frame) and self._protocol.handshake_exc is not None:
                self._fail(self._protocol.handshake_exc)
        self._flush()  # the pong to a ping

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the server closed the WebSocket"))

    def close(self) -> None:
        """Close the WebSocket as a client does."""
        self._protocol.send_close()
        self._flush()

    def _read(self, message: dict[str, Any], arrived: float) -> None:
        session = message.get("delta", message).get("session")
        if not self.connected.done():  # the state on connect
            self._index = (session or {}).get("index")
            self.connected.set_result(None)
        elif session is not None and session.get("index") != self._index:
            self.arrivals.append(arrived)
            self._index = session.get("index")
            if len(self.arrivals) == self._expect and not self.done.done():
                self.done.set_result(None)

    def _flush(self) -> None:
        if self._transport is not None and (out := self._protocol.data_to_send()):
            self._transport.write(b"".join(out))

    def _fail(self, exc: BaseException) -> None:
        for future in (self.connected, self.done):
            if not future.done():
                future.set_exception(exc)


async def listen(url: str, tokens: dict[str, str], clients: int, expect: int, delta: bool) -> list[list[float]]:
    """Connect ``clients`` WebSocket clients; when each saw ``expect`` step changes, their arrival times."""
    loop = asyncio.get_running_loop()
    roles = ["kiosk", "facilitator"]
    query = "delta=true&" if delta else ""
    parts = urlsplit(url)
    followers = []
    for i in range(clients):
        follower = Follower(f"ws://{parts.netloc}/ws?{query}token={tokens[roles[i % 2]]}", expect)
        await loop.create_connection(lambda f=follower: f, parts.hostname, parts.port)  # type: ignore[misc]
        await asyncio.wait_for(follower.connected, TIMEOUT_SECONDS)
        followers.append(follower)
    await asyncio.sleep(SETTLE_SECONDS)
    print("READY", flush=True)
    await asyncio.wait_for(asyncio.gather(*(f.done for f in followers)),
                           TIMEOUT_SECONDS + expect * (SETTLE_SECONDS + TIMEOUT_SECONDS))  # fmt: skip
    for follower in followers:
        follower.close()
    return [follower.arrivals for follower in followers]


def tablet(url: str, token: str, commands: int) -> list[dict[str, float]]:
    """Send ``commands`` commands, ``next`` and ``previous`` in turn; when each was sent and answered.

    The standard library's keep-alive HTTP client: the lightest there is, so the figure is the server's.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT_SECONDS)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    sent: list[dict[str, float]] = []
    for n in range(commands):
        body = json.dumps({"command": "next" if n % 2 == 0 else "previous"})
        t0 = time.perf_counter()
        connection.request("POST", "/api/v1/session/commands", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        sent.append({"t0": t0, "http": time.perf_counter() - t0})
        if response.status != 200:
            raise SystemExit(f"the command was refused: {response.status} {answer[:200]!r}")
        time.sleep(SETTLE_SECONDS)
    connection.close()
    return sent


def client_main(argv: list[str]) -> None:
    """``--listen URL TOKENS CLIENTS EXPECT DELTA`` or ``--tablet URL TOKENS COMMANDS``: print results as JSON."""
    role, url, tokens = argv[0], argv[1], json.loads(argv[2])
    if role == "--listen":
        result: Any = asyncio.run(listen(url, tokens, int(argv[3]), int(argv[4]), argv[5] == "1"))
    else:
        result = tablet(url, tokens["facilitator"], int(argv[3]))
    print(json.dumps(result), flush=True)


# -- the server side (this process) ----------------------------------------------------------------------------


class StageClock:
    """Wraps the room's command path and records, per tablet command, the seconds spent in each stage."""

    def __init__(self, room: Room) -> None:
        self.commands: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None
        self._in_command = False
        service = room.service(SessionService)
        handle, persist, publish, encode, message = (room._handle, service._persist, service._publish,
                                                     state_module.encode, room.screen.message)  # fmt: skip

        async def timed_handle(event: Any) -> Any:
            start = time.perf_counter()
            if not isinstance(event, SessionCommand):
                try:
                    return await handle(event)
                finally:
                    if self._current is not None:
                        self._current["events"] += time.perf_counter() - start
            self._current = {"at": start, "total": 0.0, "store": 0.0, "publish": 0.0, "encode": 0.0, "message": 0.0,
                             "events": 0.0, "sends": []}  # fmt: skip
            self.commands.append(self._current)
            self._in_command = True
            try:
                return await handle(event)
            finally:
                self._in_command = False
                self._current["total"] = time.perf_counter() - start

        def timer(key: str, fn: Callable[..., Any], *, in_command: bool = True) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    if self._current is not None and (self._in_command or not in_command):
                        self._current[key] += time.perf_counter() - start

            return timed

        send_text = WebSocket.send_text

        async def timed_send(websocket: WebSocket, data: str) -> None:
            start = time.perf_counter()
            await send_text(websocket, data)
            if self._current is not None:
                self._current["sends"].append((start, time.perf_counter()))

        cycle_send = httptools_impl.RequestResponseCycle.send

        async def timed_cycle_send(cycle: Any, message: Any) -> None:
            await cycle_send(cycle, message)
            if message["type"] == "http.response.body" and self._current is not None:
                self._current["answered"] = time.perf_counter()

        httptools_impl.RequestResponseCycle.send = timed_cycle_send  # type: ignore[method-assign]
        room._handle = timed_handle  # type: ignore[method-assign]
        service._persist = timer("store", persist)  # type: ignore[method-assign]
        service._publish = timer("publish", publish)  # type: ignore[method-assign]
        state_module.encode = timer("encode", encode)
        room.screen.message = timer("message", message, in_command=False)  # type: ignore[method-assign]
        WebSocket.send_text = timed_send  # type: ignore[method-assign,assignment]

    def timeline(self, sent_at: list[float], *, clients: int) -> dict[str, list[float]]:
        """Per tablet command (sent at each of ``sent_at``), seconds from its send to each of :data:`MILESTONES`.

        ``perf_counter`` is the system's monotonic clock, the same in the tablet's process and this one. What a
        client's arrival adds to the last client written is the clients' own reading: fifty clients share one
        process here, fifty devices in the room.
        """
        out: dict[str, list[float]] = {milestone: [] for milestone in MILESTONES}
        for t0 in sent_at:
            for milestone, after in self.milestones(t0, clients=clients).items():
                out[milestone].append(after)
        return out

    def milestones(self, t0: float, *, clients: int) -> dict[str, float]:
        """Seconds from the send at ``t0`` to each of :data:`MILESTONES` of that command (empty if unknown)."""
        command = next((c for c in self.commands if c["at"] >= t0), None)
        if command is None or len(command["sends"]) < clients or "answered" not in command:
            return {}
        sends = command["sends"][:clients]
        times = (command["at"], command["at"] + command["total"], command["answered"], min(s for s, _ in sends),
                 max(e for _, e in sends))  # fmt: skip
        return {milestone: at - t0 for milestone, at in zip(MILESTONES, times, strict=True)}

    def stages(self, measured_from: float, *, skip: int, clients: int) -> dict[str, list[float]]:
        """Seconds per stage for each command that arrived after ``measured_from``, but the first ``skip``.

        Send counts the first ``clients`` sends after the command (the change it made, to every client).
        """
        out: dict[str, list[float]] = {stage: [] for stage in STAGES}
        for c in [c for c in self.commands if c["at"] >= measured_from][skip:]:
            out["decide"].append(c["total"] - c["store"] - c["publish"])
            out["store"].append(c["store"])
            out["view"].append(c["publish"] - c["encode"])
            out["encode"].append(c["encode"] + c["message"])
            out["events it causes"].append(c["events"])
            sends = c["sends"][:clients]
            out["send (sum)"].append(sum(end - start for start, end in sends))
            out["send (first to last)"].append(max(e for _, e in sends) - min(s for s, _ in sends) if sends else 0.0)
        return out


class Busy:
    """Keeps the room busy: faster-whisper transcribes chunks over and over and live-captions beside them (as
    while a brainstorm is recorded), and proposals stream one after another."""

    def __init__(self, room: Room, media: Path, model: str, nice: int, *, propose: bool = True) -> None:
        self.room = room
        self.propose = propose
        self.media = media
        self.model = model
        self.nice = nice
        self.chunks = 0
        self.captions = 0
        self.proposals = 0
        self.drafts = 0
        self.looks = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Busy]:
        """Both loads run while the block runs (from the first chunk under way)."""
        from roomctl.speech import models
        from roomctl.speech.worker import WorkerConfig, WorkerProcess
        from tests.speech_helpers import DUTCH_TEXT, DUTCH_VOICE, speech_file

        path = models.cache_dir() / self.model
        if not (path / "model.bin").exists():
            raise SystemExit(f"speech model {self.model} is not in {models.cache_dir()}; "
                             f"install it: roomctl models install {self.model}")  # fmt: skip
        wav = speech_file(DUTCH_TEXT, self.media / "speech.wav", DUTCH_VOICE)
        worker = WorkerProcess(WorkerConfig(model_path=str(path), language="nl", parallel=2))
        await worker.start()
        if worker.pid is not None:  # every thread: on Linux niceness and the cores are per thread
            for task in Path(f"/proc/{worker.pid}/task").iterdir():
                os.sched_setaffinity(int(task.name), range(os.cpu_count() or 1))  # all, not the room's
                if self.nice:
                    os.setpriority(os.PRIO_PROCESS, int(task.name), self.nice)
        asked = await self._ask() if self.propose else None  # before measuring: the group asked and checked
        self._tasks = [
            asyncio.create_task(self._transcribe(worker, wav)),
            asyncio.create_task(self._caption(worker, wav)),
            *([asyncio.create_task(self._propose(*asked))] if asked is not None else []),
        ]
        try:
            while worker.busy is None and not self._tasks[0].done():
                await asyncio.sleep(0.1)
            if asked is not None:  # the first call imports the SDK (once a process): measure the streaming after it
                async with asyncio.timeout(FIRST_DRAFT_TIMEOUT_SECONDS):
                    while self.drafts == 0:
                        await asyncio.sleep(0.05)
            yield self
        finally:
            self._stop.set()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await worker.stop()

    async def _transcribe(self, worker: Any, wav: Path) -> None:
        while not self._stop.is_set():
            await worker.transcribe(self.chunks, wav, "")
            self.chunks += 1

    async def _caption(self, worker: Any, wav: Path) -> None:
        """Live captions as a recording has them: a pass over the last few seconds every couple of seconds."""
        import soundfile

        from roomctl.speech.live import MAX_WINDOW_SECONDS
        from roomctl.speech.tuning import DEFAULT_INTERVAL_SECONDS, INTERVAL_SECONDS, model_size

        audio, rate = soundfile.read(str(wav), dtype="int16")
        window, step = int(MAX_WINDOW_SECONDS * rate * 0.75), int(INTERVAL_SECONDS.get(model_size(self.model), DEFAULT_INTERVAL_SECONDS) * rate)
        at = window
        while not self._stop.is_set():
            started = time.perf_counter()
            await worker.caption(audio[at - window : at], "Het team bespreekt de planning van de week.")
            self.captions += 1
            at = window + (at + step - window) % (len(audio) - window)
            await asyncio.sleep(max(step / rate - (time.perf_counter() - started), 0.0))

    async def _ask(self) -> tuple[int, int, dict[str, Any]]:
        """The group asks once (de-identification, then the preview it checks) and sends it from the tablet.

        Returns:
            The session, the first request's id and the request body the model gets.
        """
        from roomctl.proposal.service import ProposalService
        from tests.proposal_helpers import TRANSCRIPT

        svc = self.room.service(ProposalService)
        session_id = self.room.service(SessionService).session_id or 0
        preview, _ = await svc.ask_async(session_id, transcript=TRANSCRIPT, problem="Overdracht")
        request, _ = svc.send(preview["preview_id"], [])
        return session_id, int(request["id"]), svc.store.request(request["id"])["body"]

    async def _propose(self, session_id: int, request_id: int, body: dict[str, Any]) -> None:
        """Proposals stream to the screen one after another, as the group's does once it sent its preview.

        The same request body goes to the model again and again (:meth:`_ask` made it), so what runs meanwhile
        is the streaming: the SDK reading the model's events and the growing draft on the kiosk.
        """
        from roomctl.proposal.service import ProposalService

        svc = self.room.service(ProposalService)
        group_id = svc.store.request(request_id)["group_id"]
        request = {"id": request_id}
        while not self._stop.is_set():
            while svc.store.active_request(session_id) is not None and not self._stop.is_set():
                await asyncio.sleep(0.05)
                part = self.room.screen.get("proposal") or {}
                self.looks += 1
                self.drafts += part.get("state") == "writing" and bool(part.get("draft"))
            if self._stop.is_set():
                break
            if svc.store.request(request["id"])["state"] != "done":
                raise SystemExit(f"a proposal did not stream: {svc.store.request(request['id'])}")
            self.proposals += 1
            request = {"id": svc._enqueue(session_id, group_id, "ask", None, body, 0, 0, None)}


async def measure(
    live: Any, clock: StageClock, clients: int, commands: int, delta: bool, elsewhere: list[str]
) -> dict[str, Any]:
    """One run: the WebSocket clients in one process, the tablet in another, this process serving.

    ``elsewhere`` prefixes the client processes' commands (see :func:`placement`).
    """
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    total = WARMUP_COMMANDS + commands
    tokens = json.dumps(live.tokens)
    listener = await asyncio.create_subprocess_exec(
        *elsewhere, sys.executable, __file__, "--listen", live.url, tokens, str(clients), str(total), "1" if delta else "0",
        stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert listener.stdout is not None
    if (await listener.stdout.readline()).strip() != b"READY":
        raise SystemExit("the WebSocket clients did not connect")
    started, ticks = time.perf_counter(), cpu_ticks()
    COLLECTIONS.take()
    driver = await asyncio.create_subprocess_exec(
        *elsewhere, sys.executable, __file__, "--tablet", live.url, tokens, str(total), stdout=subprocess.PIPE, env=env
    )
    sent_out, _ = await driver.communicate()
    arrived_out, _ = await listener.communicate()
    if driver.returncode or listener.returncode:
        raise SystemExit("a client process failed")
    sent, arrived = json.loads(sent_out)[WARMUP_COMMANDS:], json.loads(arrived_out)
    result: dict[str, Any] = {"commands": [
        {"http": s["http"], "clients": [times[WARMUP_COMMANDS + k] - s["t0"] for times in arrived]}
        for k, s in enumerate(sent)
    ]}  # fmt: skip
    result["stages"] = clock.stages(started, skip=WARMUP_COMMANDS, clients=clients)
    result["timeline"] = clock.timeline([s["t0"] for s in sent], clients=clients)
    slowest = sorted(zip(sent, result["commands"], strict=True), key=lambda pair: -max(pair[1]["clients"]))
    result["slowest"] = [
        {"latency": max(c["clients"]), "milestones": clock.milestones(s["t0"], clients=clients),
         "steps": [(at - s["t0"], wall, cpu, name, COLLECTIONS.within(at, at + wall))
                   for at, wall, cpu, name in LOOP_STEPS.between(s["t0"], s["t0"] + max(c["clients"]))]}
        for s, c in slowest[:SLOWEST_SHOWN]
    ]  # fmt: skip
    result["collections"] = COLLECTIONS.take()
    (total, stolen), (total_before, stolen_before) = cpu_ticks(), ticks
    result["steal"] = (stolen - stolen_before) / (total - total_before) if total > total_before else None
    return result


def report(label: str, result: dict[str, Any], clients: int) -> None:
    def ms(value: float) -> str:
        return f"{value * 1000:7.2f} ms"

    commands = result["commands"]
    each = [latency for c in commands for latency in c["clients"]]
    slowest = [max(c["clients"]) for c in commands]
    http = [c["http"] for c in commands]
    print(f"{label}: {clients} WebSocket clients, {len(commands)} commands")
    print(f"  every client   p50 {ms(statistics.median(each))}   p99 {ms(percentile(each, 0.99))}   n={len(each)}")
    print(f"  slowest client p50 {ms(statistics.median(slowest))}   p99 {ms(percentile(slowest, 0.99))}")
    print(f"  HTTP answer    p50 {ms(statistics.median(http))}   p99 {ms(percentile(http, 0.99))}")
    print("  on the server, from the tablet's send (p50 / p99):")
    for milestone, values in result["timeline"].items():
        if values:
            print(f"    {milestone:<26} {ms(statistics.median(values))} / {ms(percentile(values, 0.99))}")
    print("  server side per command (p50 / p99):")
    for stage, values in result["stages"].items():
        if values:
            print(f"    {stage:<22} {ms(statistics.median(values))} / {ms(percentile(values, 0.99))}")
    collections = result["collections"]
    per_generation = []
    for generation, name in ((0, "young"), (1, "middle"), (2, "full")):
        took = [seconds for g, seconds in collections if g == generation]
        if took:
            per_generation.append(f"{len(took)} {name} (median {ms(statistics.median(took)).strip()}, "
                                  f"longest {ms(max(took)).strip()})")  # fmt: skip
    print(f"  garbage collections in the room's process: {len(collections)}"
          + (f": {', '.join(per_generation)}" if per_generation else ""))
    if result["steal"] is not None:
        print(f"  CPU time the host took from this machine meanwhile (steal): {result['steal']:.1%}")
    print(f"  the {len(result['slowest'])} slowest commands, with the loop steps over "
          f"{LONG_STEP_SECONDS * 1000:.0f} ms meanwhile (from the tablet's send; wall / CPU with --step-cpu):")  # fmt: skip
    for slow in result["slowest"]:
        marks = ", ".join(f"{SHORT_MILESTONES[m]} {after * 1000:.1f}" for m, after in slow["milestones"].items())
        print(f"    {ms(slow['latency']).strip()}: {marks}")
        for after, wall, cpu, name, collecting in slow["steps"]:
            times = f"{wall * 1000:5.2f} ms" if math.isnan(cpu) else f"{wall * 1000:5.2f} / {cpu * 1000:5.2f} ms"
            of_it = f" (garbage collection {collecting * 1000:.2f} ms of it)" if collecting else ""
            print(f"      at {after * 1000:6.1f} ms  {times}  {name}{of_it}")


async def run(
    clients: int, commands: int, busy: bool, model: str, worker_nice: int = 0, *, propose: bool = True,
    pin: bool = True, step_cpu: bool = False,
) -> None:
    LOOP_STEPS.install(cpu=step_cpu)
    room_cores, elsewhere = placement(pin)
    if room_cores is not None:
        os.sched_setaffinity(0, room_cores)  # this thread: the room's loop, and every thread it starts
    with tempfile.TemporaryDirectory(prefix="roomctl-bench-ws-") as tmp:
        overrides: dict[str, Any] = {"storage": {"data_dir": Path(tmp)}, "mqtt": {"enabled": False},
                                     "server": {"port": free_port()}}  # fmt: skip
        fake = None
        if busy and propose:  # the model's server is another machine: another process here, not a thread of ours
            os.environ["ROOMCTL_ANTHROPIC_API_KEY"] = LLM_KEY
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            fake = await asyncio.create_subprocess_exec(
                *elsewhere, sys.executable, __file__, "--fake-llm", stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
            )
            assert fake.stdout is not None
            url = (await fake.stdout.readline()).decode().strip()
            overrides["llm"] = {"base_url": url, "daily_budget_eur": 100000}
        settings = load_settings(None, overrides)
        try:
            async with serving(settings) as live:
                headers = live.headers("facilitator")
                async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
                    (await http.post("/api/v1/session/commands", json={"command": "start"})).raise_for_status()
                clock = StageClock(live.room)
                where = (f"the room on cores {sorted(room_cores)}, the clients on core {elsewhere[-1]}"
                         if room_cores is not None else "the kernel places the room and the clients")  # fmt: skip
                print(f"{os.cpu_count()} CPUs ({where}), load average {os.getloadavg()[0]:.2f} at the start")
                for delta in (True, False):
                    label = "delta clients (kiosk and tablet pages)" if delta else "whole-state clients (player, tools)"
                    report(label, await measure(live, clock, clients, commands, delta, elsewhere), clients)
                if busy:
                    async with Busy(live.room, Path(tmp), model, worker_nice, propose=propose).running() as load:
                        for delta in (True, False):
                            label = ("while Whisper transcribes and proposals stream, " if propose
                                     else "while Whisper transcribes and captions, ") + (
                                "delta clients" if delta else "whole-state clients")
                            report(label, await measure(live, clock, clients, commands, delta, elsewhere), clients)
                        print(f"  meanwhile: {load.chunks} speech chunks transcribed and {load.captions} caption passes "
                              f"(worker niceness {worker_nice or 'as roomctl sets it'}), "
                              f"{load.proposals} proposals streamed (a growing draft on the screen in {load.drafts} of {load.looks} looks)")  # fmt: skip
                print(f"load average {os.getloadavg()[0]:.2f} at the end")
        finally:
            if fake is not None:
                fake.terminate()
                await fake.wait()


def fake_llm_main() -> None:
    """The local fake Messages API, streaming proposals at :data:`PROPOSAL_EVENT_SECONDS`, until stdin closes."""
    from tests.fake_anthropic import FakeAnthropic, Reply
    from tests.proposal_helpers import GOOD_PROPOSAL

    pace = Reply(tool_input=GOOD_PROPOSAL, delay=0.2, event_delay=PROPOSAL_EVENT_SECONDS, chunk_chars=40)
    with FakeAnthropic(default=pace) as fake:
        print(fake.base_url, flush=True)
        # Nothing reads this process's output after the address: the server's log must not fill the pipe.
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        sys.stdin.read()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--listen", "--tablet"):
        client_main(sys.argv[1:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--fake-llm":
        fake_llm_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--busy", action="store_true", help="also measure while Whisper and a proposal run")
    parser.add_argument("--no-proposal", action="store_true", help="--busy with Whisper only (no proposal streams)")
    parser.add_argument("--model", default="base", help="speech model in the roomctl model cache (--busy)")
    parser.add_argument("--step-cpu", action="store_true", help="also read each loop step's CPU time (costs ~2 µs a step)")
    parser.add_argument("--no-pin", action="store_true", help="let the kernel place the room and the client processes")
    parser.add_argument("--worker-nice", type=int, default=0, help="run the speech worker at this niceness instead of roomctl's own (--busy)")
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.commands, args.busy, args.model, args.worker_nice, propose=not args.no_proposal,
                    pin=not args.no_pin, step_cpu=args.step_cpu))  # fmt: skip


if __name__ == "__main__":
    main()
