"""One streamed call to the Messages API through the official SDK, and what its failures mean for the outbox.

The SDK's own retries are off (``max_retries=0``): the outbox decides when to try again, so a retry survives a
restart and honours ``retry-after``. Failures are sorted into kinds the outbox acts on (:class:`LlmCallError`).
The API key is passed to the client and never logged.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from roomctl.proposal.content import TOOL_NAME, MalformedProposalError

if TYPE_CHECKING:
    import anthropic

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


def read_api_key() -> str | None:
    """The Anthropic key: ``ROOMCTL_ANTHROPIC_API_KEY``, credential ``anthropic_api_key``, ``ANTHROPIC_API_KEY``."""
    from roomctl.secrets import read_secret

    return read_secret("anthropic_api_key") or (os.environ.get(KEY_ENV_FALLBACK) or "").strip() or None


def key_fingerprint(key: str) -> str:
    """A short, non-reversible tag of a key, to notice that it changed (never the key itself)."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


class LlmCallError(Exception):
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
        self.detail = detail
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

    tokens = {"input_tokens": usage.get("input", 0), "output_tokens": usage.get("output", 0)}
    if isinstance(exc, anthropic.APIStatusError):
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
    if isinstance(exc, anthropic.APIConnectionError | _transport_error() | OSError):
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

