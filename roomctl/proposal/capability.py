"""The proposal capability: the AI improvement proposal, its outbox worker, health and screen part.

Exports what :mod:`roomctl.runtime` wires: :func:`install`, :data:`router` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

from roomctl.core.health import ComponentHealth
from roomctl.core.room import Room
from roomctl.devices.bus import MqttBus
from roomctl.proposal.api import router
from roomctl.proposal.deduce_engine import deduce_loaded, deduce_ready
from roomctl.proposal.schema import MIGRATIONS
from roomctl.proposal.service import ProposalService

__all__ = ["MIGRATIONS", "install", "router"]


def install(room: Room, bus: MqttBus | None) -> None:
    """Register the proposal service (screen part ``proposal``) and the ``llm`` health component."""
    service = ProposalService(room)
    room.add_service(service)
    room.health.register("llm", lambda: llm_health(service), critical=False)


def llm_health(service: ProposalService) -> ComponentHealth:
    """Degraded (never down) when proposals cannot go out: the door and the room keep working without them."""
    settings = service.settings
    if not settings.enabled:
        return ComponentHealth("ok", "AI proposals are switched off")
    provider = service.outbox.provider
    if provider.needs_key and not provider.read_key():
        return ComponentHealth(
            "degraded", "no Anthropic API key: set ROOMCTL_ANTHROPIC_API_KEY or the credential anthropic_api_key"
        )
    dutch = "nl" in (service.room.settings.room.language, service.room.settings.speech.language)
    if dutch and not deduce_loaded() and not deduce_ready():
        return ComponentHealth(
            "degraded", "the Dutch de-identification is not set up: run `roomctl deidentify build`; nothing is sent"
        )
    reason = service.outbox.last_wait_reason
    pending = service.store.count_in_state("pending")
    if reason == "key_rejected":
        return ComponentHealth("degraded", "the API refuses the key; set a new one")
    if reason in ("offline", "server", "rate_limited") and pending:
        return ComponentHealth("degraded", f"{pending} proposal request(s) waiting: {service.outbox.last_error}")
    return ComponentHealth("ok", f"{pending} pending" if pending else "")
