"""A local HTTP server that speaks the OpenAI chat-completions API (as llama.cpp server, Ollama and vLLM do).

It implements what roomctl uses and nothing more: ``POST /v1/chat/completions`` with ``"stream": true``,
answered with ``chat.completion.chunk`` SSE events, a last chunk with ``usage`` (when
``stream_options.include_usage`` is set), then ``data: [DONE]``. The answer is the content of the assistant
message (JSON, for a ``response_format`` of type ``json_schema``) or, scripted, a ``write_proposal`` tool call.
Anything else (a non-streaming call, an unknown field, a malformed message) is answered with HTTP 400 *and*
recorded in :attr:`FakeOpenAI.errors`, so a test fails loudly on a request shape the fake does not implement.

Behaviours are scripted per request with :meth:`FakeOpenAI.script`; every request body is recorded in
:attr:`FakeOpenAI.requests` so tests can assert on exactly what left the Pi::

    with FakeOpenAI() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="none", max_retries=0)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.local_server import DroppedConnectionError, FakeApi, RecordedRequest

PATH = "/v1/chat/completions"
REQUEST_KEYS = {
    "model", "messages", "stream", "stream_options", "response_format", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "tools", "tool_choice", "seed", "stop",
}
ROLES = {"system", "user", "assistant"}


@dataclass
class Reply:
    """A streamed answer.

    Attributes:
        content: The answer; a dict is sent as JSON, a str as-is (to script broken JSON), None: no content.
        tool_call: Send the JSON as the arguments of a ``write_proposal`` tool call instead of as content.
        delay: Seconds before the response starts (the model "thinking").
        event_delay: Seconds between chunks.
        chunk_chars: Size of each content piece.
        prompt_tokens: Reported in the usage chunk.
        completion_tokens: Likewise.
        finish_reason: Sent in the last choice chunk.
    """

    content: dict[str, Any] | str | None = None
    tool_call: bool = False
    delay: float = 0.0
    event_delay: float = 0.0
    chunk_chars: int = 40
    prompt_tokens: int = 900
    completion_tokens: int = 500
    finish_reason: str = "stop"


@dataclass
class Status:
    """An HTTP error answer (429 with retry-after, 500, 401, 503...)."""

    status: int
    retry_after: float | None = None
    message: str = ""


@dataclass
class Drop:
    """Start a streamed answer, then drop the connection after ``after_chunks`` chunks."""

    reply: Reply = field(default_factory=Reply)
    after_chunks: int = 3


Behaviour = Reply | Status | Drop


class FakeOpenAI(FakeApi[Behaviour]):
    """The fake chat-completions server (see the module docstring)."""

    thread_name = "fake-openai"
    api_name = "OpenAI"

    def __init__(self, *, api_key: str | None = None, default: Behaviour | None = None) -> None:
        super().__init__(default or Reply(content={"ok": True}))
        self.api_key = api_key
        self._counter = 0

    @property
    def base_url(self) -> str:
        """What to give the SDK (and ``[llm] base_url``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def completion_requests(self) -> list[RecordedRequest]:
        """Requests to the chat-completions path (in arrival order)."""
        return [r for r in self.requests if r.path == PATH]

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return _error(status, kind, message, headers)

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        read = await self._read(request, PATH)
        if isinstance(read, Response):
            return read
        headers, body = read
        problem = _check_request(body)
        if problem:
            return self._refuse(path, headers, body, problem)
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return self._refuse(path, headers, body, "no Authorization: Bearer header (the SDK always sends one)")
        if self.api_key is not None and key != self.api_key:
            self.requests.append(RecordedRequest(path, headers, body, "unauthorized"))
            return _error(401, "invalid_api_key", "Incorrect API key provided")
        behaviour = self._next()
        self.requests.append(RecordedRequest(path, headers, body, type(behaviour).__name__))
        if isinstance(behaviour, Status):
            extra = {"retry-after": f"{behaviour.retry_after:g}"} if behaviour.retry_after is not None else {}
            kind = "rate_limit_exceeded" if behaviour.status == 429 else "server_error"
            return _error(behaviour.status, kind, behaviour.message or f"scripted {behaviour.status}", extra)
        reply = behaviour.reply if isinstance(behaviour, Drop) else behaviour
        drop_after = behaviour.after_chunks if isinstance(behaviour, Drop) else None
        self._counter += 1
        chunks = _chunks(reply, body, f"chatcmpl-fake{self._counter:04d}")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return StreamingResponse(_sse(chunks, reply.event_delay, drop_after), media_type="text/event-stream")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": code, "param": None, "code": code}},
                        status_code=status, headers=headers)


def _check_request(body: Any) -> str:
    """What is wrong with a request, or '' when the fake implements its shape."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    unknown = set(body) - REQUEST_KEYS
    if unknown:
        return f"unknown request fields {sorted(unknown)}"
    if body.get("stream") is not True:
        return "only streaming requests (stream: true) are implemented"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model must be a non-empty string"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"messages[{i}]: role must be one of {sorted(ROLES)}"
        if set(message) - {"role", "content"} or not isinstance(message.get("content"), str):
            return f"messages[{i}]: only role and string content are implemented"
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return "response_format: only type json_schema is implemented"
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("schema"), dict):
            return "response_format.json_schema needs a name and a schema object"
    options = body.get("stream_options")
    if options is not None and (not isinstance(options, dict) or set(options) - {"include_usage"}):
        return "stream_options: only include_usage is implemented"
    for key in ("max_tokens", "max_completion_tokens"):
        if key in body and (not isinstance(body[key], int) or body[key] < 1):
            return f"{key} must be a positive integer"
    return ""


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _chunks(reply: Reply, body: dict[str, Any], chunk_id: str) -> list[dict[str, Any]]:
    """The chunks of one answer (the usage chunk last, when asked for)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": chunk_id, "object": "chat.completion.chunk", "created": 1_764_000_000, "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    raw = reply.content
    text = None if raw is None else raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    if text is not None and reply.tool_call:
        pieces = _pieces(text, reply.chunk_chars)
        first = {"index": 0, "id": f"call_{chunk_id}", "type": "function",
                 "function": {"name": "write_proposal", "arguments": pieces[0]}}
        out.append(chunk({"tool_calls": [first]}))
        out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces[1:]]
        finish = "tool_calls"
    else:
        out += [chunk({"content": p}) for p in _pieces(text, reply.chunk_chars)] if text is not None else []
        finish = reply.finish_reason
    out.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({"id": chunk_id, "object": "chat.completion.chunk", "created": 1_764_000_000,
                    "model": body["model"], "choices": [],
                    "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                              "total_tokens": reply.prompt_tokens + reply.completion_tokens}})
    return out


async def _sse(chunks: list[dict[str, Any]], event_delay: float, drop_after: int | None) -> AsyncIterator[bytes]:
    for count, data in enumerate(chunks):
        if drop_after is not None and count >= drop_after:
            raise DroppedConnectionError("scripted drop")
        if event_delay and count:
            await asyncio.sleep(event_delay)
        yield f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"
