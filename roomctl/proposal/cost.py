"""What proposals cost: tokens and euro per API call, and the room's daily budget.

Every call that the API counted tokens for is recorded in ``proposal_usage`` (also calls whose answer was
malformed or cut off: they cost money too). The budget is per room and per local day (the room's time zone):
when today's spend has reached ``[llm] daily_budget_eur``, new requests are refused with a clear message;
requests already in the outbox still go out.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlite_utils

from roomctl.config import LlmSettings, ModelPrice
from roomctl.errors import StateError

TOKENS_PER_PRICE_UNIT = 1_000_000


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
