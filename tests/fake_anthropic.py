"""A local HTTP server that speaks the Anthropic Messages API, for tests only.

It implements what roomctl uses and nothing more: ``POST /v1/messages`` with ``"stream": true``, answered with
the SSE events the real API sends (``message_start``, ``content_block_start``, ``content_block_delta`` with
``text_delta`` or ``input_json_delta``, ``content_block_stop``, ``message_delta`` with usage, ``message_stop``,
plus ``ping``). Anything else (a non-streaming call, an unknown field, a malformed message) is answered with
HTTP 400 *and* recorded in :attr:`FakeAnthropic.errors`, so a test can fail loudly on a request shape the fake
does not implement.

Behaviours are scripted per request with :meth:`FakeAnthropic.script`: each request takes the next scripted
behaviour; when the script is empty, :attr:`FakeAnthropic.default` answers. Every request body is recorded in
:attr:`FakeAnthropic.requests` so tests can assert on exactly what left the Pi.

The server runs uvicorn in a thread on a free loopback port::

    with FakeAnthropic() as fake:
        client = AsyncAnthropic(base_url=fake.base_url, api_key="test-key", max_retries=0)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.local_server import DroppedConnectionError, FakeApi, RecordedRequest

API_VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
"""Any dated API version: the streaming event shapes implemented here have been stable across versions."""

REQUEST_KEYS = {
    "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stream", "temperature", "metadata",
    "stop_sequences", "top_p", "top_k",
}
TOOL_KEYS = {"name", "description", "input_schema"}
TOOL_CHOICE_TYPES = {"auto", "any", "tool", "none"}


# -- behaviours -------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """A normal streamed answer.

    Attributes:
        tool_input: The tool's input; a dict is sent as JSON, a str is sent as-is (to script broken JSON).
            ``None`` answers with text only.
        text: Text sent in a text block before the tool block (models often say a sentence first).
        delay: Seconds before the response starts (the model "thinking").
        event_delay: Seconds between SSE events.
        chunk_chars: Size of each ``input_json_delta`` / ``text_delta`` piece.
        input_tokens: Reported in ``message_start``.
        output_tokens: Reported in the final ``message_delta``.
        tool_name: The tool name in the ``tool_use`` block; defaults to the forced tool of the request.
        stop_reason: Sent in ``message_delta``.
    """

    tool_input: dict[str, Any] | str | None = None
    text: str = ""
    delay: float = 0.0
    event_delay: float = 0.0
    chunk_chars: int = 40
    input_tokens: int = 1200
    output_tokens: int = 600
    tool_name: str | None = None
    stop_reason: str = "tool_use"


@dataclass
class Status:
    """An HTTP error answer (429 with retry-after, 500, 401, 529...)."""

    status: int
    retry_after: float | None = None
    error_type: str = ""
    message: str = ""
    delay: float = 0.0


@dataclass
class Drop:
    """Start a normal streamed answer, then drop the connection after ``after_events`` SSE events."""

    reply: Reply = field(default_factory=Reply)
    after_events: int = 4


Behaviour = Reply | Status | Drop

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeApi[Behaviour]):
    """The fake Messages API server (see the module docstring)."""

    thread_name = "fake-anthropic"
    api_name = "Anthropic"

    def __init__(self, *, valid_keys: set[str] | None = None, default: Behaviour | None = None) -> None:
        super().__init__(default or Reply(tool_input={"ok": True}))
        self.valid_keys = valid_keys
        self._message_counter = 0

    # -- control ----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to give the SDK as ``base_url``."""
        return f"http://127.0.0.1:{self.port}"

    def revoke(self, key: str) -> None:
        """Make ``key`` answer 401 from now on."""
        with self._lock:
            if self.valid_keys is None:
                self.valid_keys = set()
            self.valid_keys.discard(key)

    def message_requests(self) -> list[RecordedRequest]:
        """Requests to ``/v1/messages`` (in arrival order)."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    # -- serving ----------------------------------------------------------------------------------------

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return _error(status, kind, message, headers)

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        read = await self._read(request, "/v1/messages")
        if isinstance(read, Response):
            return read
        headers, body = read
        problem = _check_request(headers, body)
        if problem:
            return self._refuse(path, headers, body, problem)
        key = _key_from(headers)
        with self._lock:
            valid = self.valid_keys is None or key in self.valid_keys
        if not valid:
            self.requests.append(RecordedRequest(path, headers, body, "unauthorized"))
            return _error(401, "authentication_error", "invalid x-api-key")
        behaviour = self._next()
        self.requests.append(RecordedRequest(path, headers, body, type(behaviour).__name__))
        if isinstance(behaviour, Status):
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            extra = {}
            if behaviour.retry_after is not None:
                extra["retry-after"] = f"{behaviour.retry_after:g}"
            kind = behaviour.error_type or ERROR_TYPES.get(behaviour.status, "api_error")
            return _error(behaviour.status, kind, behaviour.message or f"scripted {behaviour.status}", extra)
        reply = behaviour.reply if isinstance(behaviour, Drop) else behaviour
        drop_after = behaviour.after_events if isinstance(behaviour, Drop) else None
        self._message_counter += 1
        events = _events(reply, body, f"msg_fake_{self._message_counter:04d}")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return StreamingResponse(
            _sse(events, reply.event_delay, drop_after),
            media_type="text/event-stream",
            headers={"request-id": f"req_fake_{self._message_counter:04d}", "cache-control": "no-cache"},
        )


def _key_from(headers: dict[str, str]) -> str:
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else ""


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}}, status_code=status, headers=headers
    )


def _check_content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return "" if content else f"{where}: empty text"
    if not isinstance(content, list) or not content:
        return f"{where}: content must be a string or a non-empty list of blocks"
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            return f"{where}: only text blocks are implemented, got {block!r:.80}"
        if set(block) - {"type", "text", "cache_control"}:
            return f"{where}: unknown text block fields {sorted(set(block) - {'type', 'text', 'cache_control'})}"
    return ""


def _check_request(headers: dict[str, str], body: Any) -> str:
    """What is wrong with a request, or '' when the fake implements its shape."""
    if not API_VERSION_PATTERN.match(headers.get("anthropic-version", "")):
        return "anthropic-version header must be a dated API version"
    if not _key_from(headers):
        return "no API key (x-api-key or Authorization: Bearer)"
    if not isinstance(body, dict):
        return "body must be a JSON object"
    unknown = set(body) - REQUEST_KEYS
    if unknown:
        return f"unknown request fields {sorted(unknown)}"
    if body.get("stream") is not True:
        return "only streaming requests (stream: true) are implemented"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model must be a non-empty string"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens must be a positive integer"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages[{i}]: role must be user or assistant"
        if set(message) - {"role", "content"}:
            return f"messages[{i}]: unknown fields"
        problem = _check_content(message.get("content"), f"messages[{i}]")
        if problem:
            return problem
    if messages[0]["role"] != "user":
        return "the first message must be from the user"
    if "system" in body:
        problem = _check_content(body["system"], "system")
        if problem:
            return problem
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        return "tools must be a list"
    names = set()
    for tool in tools:
        if not isinstance(tool, dict) or set(tool) - TOOL_KEYS or not isinstance(tool.get("name"), str):
            return f"tool {tool!r:.80} has an unimplemented shape"
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return f"tool {tool['name']}: input_schema must be a JSON schema of type object"
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
            return f"tool_choice {choice!r} is not implemented"
        if choice["type"] == "tool" and choice.get("name") not in names:
            return f"tool_choice names {choice.get('name')!r}, which is not among the tools"
    return ""


def _forced_tool(body: dict[str, Any]) -> str:
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return str(choice["name"])
    tools = body.get("tools") or []
    return str(tools[0]["name"]) if tools else "tool"


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _events(reply: Reply, body: dict[str, Any], message_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of one answer, as (event name, data) pairs."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": body["model"],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    index = 0
    if reply.text:
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": {"type": "text", "text": ""}}))
        for piece in _chunks(reply.text, reply.chunk_chars):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "text_delta", "text": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if reply.tool_input is not None:
        raw = reply.tool_input
        if not isinstance(raw, str):
            raw = json.dumps(raw, ensure_ascii=False)
        block = {"type": "tool_use", "id": f"toolu_{message_id}", "name": reply.tool_name or _forced_tool(body),
                 "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": block}))
        for piece in _chunks(raw, reply.chunk_chars):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "input_json_delta", "partial_json": piece}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                                     "usage": {"output_tokens": reply.output_tokens}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


async def _sse(
    events: list[tuple[str, dict[str, Any]]], event_delay: float, drop_after: int | None
) -> AsyncIterator[bytes]:
    for count, (name, data) in enumerate(events):
        if drop_after is not None and count >= drop_after:
            raise DroppedConnectionError("scripted drop")
        if event_delay and count:
            await asyncio.sleep(event_delay)
        yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
