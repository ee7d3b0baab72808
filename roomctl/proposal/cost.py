"""What proposals cost: tokens and euro per API call, and the room's daily budget.

Every call that the API counted tokens for is recorded in ``proposal_usage`` (also calls whose answer was
malformed or cut off: they cost money too). The budget is per room and per local day (the room's time zone):
when today's spend has reached ``[llm] daily_budget_eur``, new requests are refused with a clear message.

The budget is also *reserved* when a request is sent (:func:`reserve`): the worst case of the call (its
input estimated from the body, its output at ``max_tokens``) is booked in one conditional INSERT, which fails
when today's spend plus the open reservations plus this call would pass the budget. So no number of requests
in parallel spends more than the budget; a request that does not fit waits for the next day (or a raise).
The reservation is released once the call's real usage is recorded (:func:`release`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.config import LlmSettings, ModelPrice
from roomctl.errors import StateError

TOKENS_PER_PRICE_UNIT = 1_000_000
CHARS_PER_TOKEN_ESTIMATE = 2
"""A pessimistic characters-per-token figure for the reservation (real text averages 3-4)."""


class BudgetExceededError(StateError):
    """Today's budget for AI proposals is used up."""

    slug = "llm-budget"
    title = "Daily AI budget reached"


def price_for(settings: LlmSettings, model: str) -> ModelPrice:
    """The price of ``model``: its own entry, the longest configured prefix of it, or ``default``."""
    if model in settings.prices:
        return settings.prices[model]
    prefixes = [name for name in settings.prices if name != "default" and model.startswith(name)]
    if prefixes:
        return settings.prices[max(prefixes, key=len)]
    return settings.prices.get("default", ModelPrice(input_eur_per_mtok=0.0, output_eur_per_mtok=0.0))


def cost_eur(settings: LlmSettings, model: str, input_tokens: int, output_tokens: int) -> float:
    """Euro for one call."""
    price = price_for(settings, model)
    return (
        input_tokens * price.input_eur_per_mtok + output_tokens * price.output_eur_per_mtok
    ) / TOKENS_PER_PRICE_UNIT


def local_day(instant: datetime, tz: ZoneInfo) -> str:
    """The room's calendar day of ``instant`` (YYYY-MM-DD)."""
    return instant.astimezone(tz).date().isoformat()


def spent_on(db: sqlite_utils.Database, day: str) -> float:
    """Euro spent on ``day`` (local)."""
    row = db.execute("select coalesce(sum(cost_eur), 0) from proposal_usage where local_day = ?", [day]).fetchone()
    return float(row[0])


def check_budget(db: sqlite_utils.Database, settings: LlmSettings, now: datetime, tz: ZoneInfo) -> None:
    """Refuse a new request when today's budget is used up.

    Raises:
        BudgetExceededError: With what was spent and when it resets.
    """
    spent = spent_on(db, local_day(now, tz))
    if spent >= settings.daily_budget_eur:
        raise BudgetExceededError(
            f"today's budget for AI proposals (EUR {settings.daily_budget_eur:.2f}) is used up "
            f"(spent EUR {spent:.2f}); new proposals can be asked for again tomorrow, or an admin can raise "
            "[llm] daily_budget_eur",
            spent_eur=round(spent, 4),
            budget_eur=settings.daily_budget_eur,
        )


def worst_case_eur(settings: LlmSettings, body: dict[str, Any]) -> float:
    """The most one call with ``body`` may cost: input estimated from its size, output at ``max_tokens``."""
    input_tokens = len(json.dumps(body, ensure_ascii=False)) // CHARS_PER_TOKEN_ESTIMATE + 1
    output_tokens = int(body.get("max_tokens") or settings.max_tokens)
    return cost_eur(settings, str(body.get("model", "")), input_tokens, output_tokens)


def reserve(
    db: sqlite_utils.Database, settings: LlmSettings, request_id: int, body: dict[str, Any], now: datetime,
    tz: ZoneInfo,
) -> bool:
    """Reserve today's budget for one call of ``request_id``, atomically; False when it does not fit."""
    day = local_day(now, tz)
    amount = worst_case_eur(settings, body)
    with db.atomic():
        db.execute("delete from proposal_reservations where request_id = ?", [request_id])
        cursor = db.execute(
            "insert into proposal_reservations (request_id, local_day, amount_eur, at) "
            "select ?, ?, ?, ? where (select coalesce(sum(cost_eur), 0) from proposal_usage where local_day = ?) "
            "+ (select coalesce(sum(amount_eur), 0) from proposal_reservations where local_day = ?) + ? <= ?",
            [request_id, day, amount, now.isoformat(), day, day, amount, settings.daily_budget_eur],
        )
    return cursor.rowcount == 1


def release(db: sqlite_utils.Database, request_id: int) -> None:
    """Drop the reservation of ``request_id`` (its real usage is recorded, or it was not sent)."""
    with db.atomic():
        db.execute("delete from proposal_reservations where request_id = ?", [request_id])


def release_all(db: sqlite_utils.Database) -> None:
    """Drop every reservation (at start: no call is in flight)."""
    with db.atomic():
        db.execute("delete from proposal_reservations")
