"""Who writes the proposal: a :class:`Provider`, one streamed call through an official SDK per attempt.

Two providers, chosen by ``[llm] provider``:

- ``anthropic`` (:class:`AnthropicProvider`): the Messages API, the answer forced through the
  ``write_proposal`` tool;
- ``openai_compatible`` (:class:`OpenAICompatibleProvider`): a chat-completions server, typically on the LAN
  (llama.cpp server, Ollama, vLLM), through the ``openai`` SDK; the answer is forced into the same JSON schema
  with ``response_format`` (a server that answers with a ``write_proposal`` tool call instead is accepted too).

Both stream the answer's JSON to the kiosk as it arrives, and the outbox validates it, retries and counts the
cost the same way. A further provider (a local "demo writer" without a model, say) implements the same four
members. The stored request body is in the Messages API's shape; other providers translate it
(:func:`chat_request`). The SDKs' own retries are off (``max_retries=0``): the outbox decides when to try
again, so a retry survives a restart and honours ``retry-after``. Failures are sorted into kinds the outbox acts
on (:class:`LlmCallError`). Keys are passed to the clients and never logged.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from roomctl.config import LlmSettings
from roomctl.core import heap
from roomctl.errors import AdapterError
from roomctl.proposal.content import TOOL_NAME, MalformedProposalError

if TYPE_CHECKING:
    import anthropic
    import openai

log = logging.getLogger(__name__)


def _transport_error() -> type[Exception]:
    """The SDK's HTTP library's transport error (imported when a call is made: the SDK takes seconds to load)."""
    try:  # the SDK's HTTP library: httpx2 in anthropic >= 2, httpx before
        import httpx2 as _http
    except ImportError:  # pragma: no cover - older SDKs
        import httpx as _http  # type: ignore[no-redef]
    error: type[Exception] = _http.TransportError
    return error

FailureKind = Literal["rate_limited", "server", "network", "auth", "bad_request"]

KEY_ENV_FALLBACK = "ANTHROPIC_API_KEY"
"""Read after ``ROOMCTL_ANTHROPIC_API_KEY`` and the systemd credential."""


OPENAI_KEY_SECRET = "openai_api_key"  # noqa: S105 - the name of a secret, not one
"""``ROOMCTL_OPENAI_API_KEY`` or credential ``openai_api_key``; a LAN server usually needs none."""
NO_KEY = "no-key"
"""Sent as the bearer token to a chat-completions server when no key is configured (the SDK needs one)."""


def read_api_key() -> str | None:
    """The Anthropic key: ``ROOMCTL_ANTHROPIC_API_KEY``, credential ``anthropic_api_key``, ``ANTHROPIC_API_KEY``."""
    from roomctl.secrets import read_secret

    return read_secret("anthropic_api_key") or (os.environ.get(KEY_ENV_FALLBACK) or "").strip() or None


def read_openai_key() -> str | None:
    """The chat-completions server's key, if one is configured."""
    from roomctl.secrets import read_secret

    return read_secret(OPENAI_KEY_SECRET)


def key_fingerprint(key: str) -> str:
    """A short, non-reversible tag of a key, to notice that it changed (never the key itself)."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


class LlmCallError(AdapterError):
    """A call that did not produce an answer.

    Attributes:
        kind: What the outbox should do: wait and retry (rate_limited, server, network), wait for a new key
            (auth), or give up (bad_request).
        retry_after: Seconds the server asked to wait, if it said.
        input_tokens: Tokens the server counted before the failure (0 if unknown).
        output_tokens: Likewise, for output.
    """

    def __init__(
        self, kind: FailureKind, detail: str, *, retry_after: float | None = None, input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after = retry_after
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


class MalformedAnswerError(MalformedProposalError):
    """An answer that does not fit the form; it still cost tokens."""

    def __init__(self, detail: str, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        super().__init__(detail)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


@dataclass(frozen=True)
class LlmAnswer:
    """A complete answer: the tool input (not yet validated) and the usage."""

    tool_input: Any
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str | None


def make_client(api_key: str, *, base_url: str, connect_timeout: float, timeout: float) -> anthropic.AsyncAnthropic:
    """An SDK client with retries off (the outbox retries)."""
    import anthropic

    return anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=base_url or None,
        max_retries=0,
        timeout=anthropic.Timeout(timeout, connect=connect_timeout),
    )


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), or None."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - (now if now is not None else time.time()), 0.0)


def _classify(exc: BaseException, usage: dict[str, int]) -> LlmCallError:
    import anthropic
    import openai

    tokens = {"input_tokens": usage.get("input", 0), "output_tokens": usage.get("output", 0)}
    if isinstance(exc, anthropic.APIStatusError | openai.APIStatusError):
        status = exc.status_code
        headers = exc.response.headers if exc.response is not None else None
        if status == 429:
            return LlmCallError(
                "rate_limited", "the API is rate limiting this key", retry_after=retry_after_seconds(headers), **tokens
            )
        if status in (401, 403):
            return LlmCallError("auth", f"the API refused the key (HTTP {status})", **tokens)
        if status >= 500 or status < 400:  # < 400: an error event inside a 200 stream (e.g. overloaded)
            detail = f"the API had a server error (HTTP {status})"
            return LlmCallError("server", detail, retry_after=retry_after_seconds(headers), **tokens)
        detail = f"the API refused the request (HTTP {status}): {exc.message[:200]}"
        return LlmCallError("bad_request", detail, **tokens)
    if isinstance(exc, anthropic.APIConnectionError | openai.APIConnectionError | _transport_error() | OSError):
        return LlmCallError("network", f"the API cannot be reached: {type(exc).__name__}", **tokens)
    raise exc


async def stream_proposal(
    client: anthropic.AsyncAnthropic, body: dict[str, Any], on_draft: Callable[[str], None]
) -> LlmAnswer:
    """Send ``body`` streaming; call ``on_draft`` with the tool's JSON text received so far.

    Raises:
        LlmCallError: The call failed (sorted by kind).
        MalformedAnswerError: The stream completed but holds no usable tool call (or broken JSON).
    """
    import anthropic

    transport_error = _transport_error()
    usage: dict[str, int] = {}
    tool_json: list[str] = []
    try:
        async with client.messages.stream(**body) as stream:
            async for event in stream:
                if event.type == "message_start":
                    usage["input"] = event.message.usage.input_tokens
                elif event.type == "message_delta":
                    usage["output"] = event.usage.output_tokens
                elif event.type == "input_json":
                    tool_json.append(event.partial_json)
                    on_draft("".join(tool_json))
            final = await stream.get_final_message()
    except ValueError as exc:  # the SDK could not parse the streamed tool JSON
        raise MalformedAnswerError(
            f"the answer's tool input is not valid JSON: {str(exc)[:160]}",
            input_tokens=usage.get("input", 0),
            output_tokens=usage.get("output", 0),
        ) from None
    except (anthropic.APIError, transport_error, OSError) as exc:
        raise _classify(exc, usage) from None
    tool_inputs = [b.input for b in final.content if b.type == "tool_use" and b.name == TOOL_NAME]
    answer = LlmAnswer(
        tool_input=tool_inputs[0] if tool_inputs else None,
        input_tokens=final.usage.input_tokens,
        output_tokens=final.usage.output_tokens,
        model=final.model,
        stop_reason=final.stop_reason,
    )
    if not tool_inputs:
        raise MalformedAnswerError(
            f"the answer holds no {TOOL_NAME} call (stop reason {final.stop_reason})",
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
        )
    return answer



# -- the providers ---------------------------------------------------------------------------------------------


class Provider(Protocol):
    """One way of getting a proposal written (see the module docstring)."""

    name: str
    needs_key: bool
    """True: without a key nothing is sent (the request waits, ``no_key``)."""

    def read_key(self) -> str | None:
        """The key to send with, if any (read at every attempt: a new key is picked up)."""
        ...

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        """Send ``body`` (Messages API shape) and stream the answer's JSON text to ``on_draft``.

        Raises:
            LlmCallError: The call failed (sorted by kind).
            MalformedAnswerError: The answer holds no usable proposal JSON.
        """
        ...

    async def warm(self, key: str) -> None:
        """Load what the first :meth:`write` would (the SDK and its client); sends nothing."""
        ...

    async def close(self) -> None:
        """Close open connections."""
        ...


class _ClientCache:
    """SDK clients per key (a new key gets a new client; the key itself is never kept as a dict key)."""

    def __init__(self, factory: Callable[[str], Any]) -> None:
        self.factory = factory
        self.clients: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        tag = key_fingerprint(key)
        client = self.clients.get(tag)
        if client is None:
            with heap.loading("model SDK loaded"):  # the first client imports the SDK: thousands of classes
                client = self.clients[tag] = self.factory(key)
        return client

    async def close(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self.clients.clear()


class AnthropicProvider:
    """The Messages API through the ``anthropic`` SDK."""

    name = "anthropic"
    needs_key = True

    def __init__(self, settings: LlmSettings, *, key_reader: Callable[[], str | None] = read_api_key) -> None:
        self.key_reader = key_reader
        self._clients = _ClientCache(
            lambda key: make_client(
                key,
                base_url=settings.base_url,
                connect_timeout=settings.connect_timeout_seconds,
                timeout=settings.request_timeout_seconds,
            )
        )

    def read_key(self) -> str | None:
        """The Anthropic key."""
        return self.key_reader()

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        """One streamed Messages API call (:func:`stream_proposal`)."""
        return await stream_proposal(self._clients.get(key), body, on_draft)

    async def warm(self, key: str) -> None:
        """Make the client for ``key`` (the first imports the SDK); no connection is opened."""
        self._clients.get(key)

    async def close(self) -> None:
        """Close the SDK clients."""
        await self._clients.close()


SCHEMA_NAME = "improvement_proposal"
"""The name of the JSON schema in ``response_format``."""


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """The stored Messages API body as chat-completions arguments: same prompt, same schema, same limits."""
    tool = body["tools"][0]
    messages: list[dict[str, Any]] = [{"role": "system", "content": body["system"]}]
    messages += [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
    return {
        "model": body["model"],
        "max_tokens": body["max_tokens"],
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": tool["input_schema"], "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
    }


class OpenAICompatibleProvider:
    """A chat-completions server (``[llm] base_url``, ``model``) through the ``openai`` SDK."""

    name = "openai_compatible"
    needs_key = False

    def __init__(self, settings: LlmSettings, *, key_reader: Callable[[], str | None] = read_openai_key) -> None:
        self.key_reader = key_reader

        def client(key: str) -> openai.AsyncOpenAI:
            import openai  # imported when a call is made: the SDK takes a while to load

            return openai.AsyncOpenAI(
                api_key=key or NO_KEY,
                base_url=settings.base_url or None,
                max_retries=0,
                timeout=openai.Timeout(settings.request_timeout_seconds, connect=settings.connect_timeout_seconds),
            )

        self._clients = _ClientCache(client)

    def read_key(self) -> str | None:
        """The server's key (usually none on a LAN)."""
        return self.key_reader()

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        """One streamed chat completion; the content (or a ``write_proposal`` tool call) is the proposal JSON."""
        import openai

        client = self._clients.get(key)
        usage: dict[str, int] = {}
        content: list[str] = []
        tool_args: list[str] = []
        finish: str | None = None
        model = str(body["model"])
        try:
            stream = await client.chat.completions.create(**chat_request(body))
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage["input"] = chunk.usage.prompt_tokens or 0
                    usage["output"] = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                        on_draft("".join(content))
                    for call in delta.tool_calls or []:
                        if call.function is not None and call.function.arguments:
                            tool_args.append(call.function.arguments)
                            on_draft("".join(tool_args))
        except (openai.APIError, _transport_error(), OSError) as exc:
            raise _classify(exc, usage) from None
        tokens = {"input_tokens": usage.get("input", 0), "output_tokens": usage.get("output", 0)}
        raw = "".join(content).strip() or "".join(tool_args).strip()
        if not raw:
            raise MalformedAnswerError(f"the answer holds no proposal JSON (finish reason {finish})", **tokens)
        try:
            data = json.loads(_strip_fence(raw))
        except ValueError as exc:
            raise MalformedAnswerError(f"the answer is not valid JSON: {str(exc)[:160]}", **tokens) from None
        return LlmAnswer(tool_input=data, input_tokens=tokens["input_tokens"], output_tokens=tokens["output_tokens"],
                         model=model, stop_reason=finish)

    async def warm(self, key: str) -> None:
        """Make the client for ``key`` (the first imports the SDK); no connection is opened."""
        self._clients.get(key)

    async def close(self) -> None:
        """Close the SDK clients."""
        await self._clients.close()


def _strip_fence(text: str) -> str:
    """Some local models wrap JSON in a Markdown code fence despite the schema; take what is inside."""
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


class DemoProvider:
    """The demo writer (:mod:`roomctl.proposal.demo_writer`): a proposal from the group's own words, no AI.

    It answers through the same stream the Messages API gives, so validation and the screens are the same.
    """

    name = "demo"
    needs_key = False

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings

    def read_key(self) -> str | None:
        """The writer needs no key; a fixed marker stands in for one."""
        from roomctl.proposal import demo_writer

        return demo_writer.read_key()

    async def write(self, key: str, body: dict[str, Any], on_draft: Callable[[str], None]) -> LlmAnswer:
        """Write the proposal locally and stream it like a model would."""
        from roomctl.proposal import demo_writer

        return await stream_proposal(demo_writer.make_client(key), body, on_draft)  # type: ignore[arg-type]

    async def warm(self, key: str) -> None:
        """Import what writing imports: the writer and the Anthropic SDK's stream types."""
        with heap.loading("model SDK loaded"):
            import anthropic  # noqa: F401  (stream_proposal's exception types)

            from roomctl.proposal import demo_writer

            demo_writer.make_client(key)

    async def close(self) -> None:
        """Nothing to close."""


PROVIDERS: dict[str, Callable[[LlmSettings], Provider]] = {
    "anthropic": AnthropicProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "demo": DemoProvider,
}
"""``[llm] provider`` → the class that implements it; a new provider registers here."""


def make_provider(settings: LlmSettings) -> Provider:
    """The provider ``[llm] provider`` names, running on the model SDK thread (:mod:`roomctl.proposal.llm_thread`)."""
    from roomctl.proposal.llm_thread import ThreadedProvider

    return ThreadedProvider(PROVIDERS[settings.provider](settings))
