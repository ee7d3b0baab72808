"""Tables of the proposal capability: the outbox of requests, usage per API call, and proposal versions.

``proposal_requests`` is the outbox: a row is written (with its idempotency key and the exact body that will be
sent, names already removed) before anything leaves the Pi. Its ``state`` moves pending → sending →
done | failed; see :mod:`roomctl.proposal.outbox` for the rules.

``proposal_previews`` holds what the group sees before a request goes out: the de-identified material split
into passages (``sections_json``), the passages the group struck, and the mapping from placeholders back to
what they replaced (``mapping_json``: kept on the Pi, never sent). ``open`` until the group sends it; ``sent``
links the request made from it; ``expired`` once the transcript's retention time has passed (the material, the
mapping and the request's body are then deleted).
"""

from __future__ import annotations

import sqlite_utils

from roomctl.store.migrations import Migration


def _outbox_and_proposals(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table proposal_requests (
            id integer primary key,
            idempotency_key text not null unique,
            session_id integer not null,
            group_id integer,
            kind text not null check (kind in ('ask', 'revise')),
            parent_proposal_id integer,
            body_json text not null,
            state text not null default 'pending' check (state in ('pending', 'sending', 'done', 'failed')),
            wait_reason text,
            attempts integer not null default 0,
            malformed integer not null default 0,
            next_attempt_at text,
            last_error text,
            rejected_key text,
            redactions integer not null default 0,
            omitted_chars integer not null default 0,
            model text not null,
            input_tokens integer not null default 0,
            output_tokens integer not null default 0,
            cost_eur real not null default 0,
            response_json text,
            proposal_id integer,
            created_at text not null,
            sent_at text,
            completed_at text
        )"""
    )
    db.execute("create index proposal_requests_state on proposal_requests(state)")
    db.execute("create index proposal_requests_session on proposal_requests(session_id)")
    db.execute(
        """create table proposal_usage (
            id integer primary key,
            request_id integer not null references proposal_requests(id),
            at text not null,
            local_day text not null,
            model text not null,
            input_tokens integer not null,
            output_tokens integer not null,
            cost_eur real not null
        )"""
    )
    db.execute("create index proposal_usage_day on proposal_usage(local_day)")
    db.execute(
        """create table proposals (
            id integer primary key,
            session_id integer not null,
            group_id integer,
            request_id integer not null unique references proposal_requests(id),
            version integer not null,
            parent_id integer references proposals(id),
            status text not null default 'draft'
                check (status in ('draft', 'accepted', 'rejected', 'revised')),
            content_json text not null,
            original_json text not null,
            edited integer not null default 0,
            remarks text,
            language text not null,
            created_at text not null,
            decided_at text,
            unique (session_id, version)
        )"""
    )
    db.execute("create index proposals_group on proposals(group_id, status)")


def _previews(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table proposal_previews (
            id integer primary key,
            idempotency_key text unique,
            session_id integer not null,
            group_id integer,
            kind text not null check (kind in ('ask', 'revise')),
            parent_proposal_id integer,
            sections_json text,
            mapping_json text,
            struck_json text not null default '[]',
            state text not null default 'open' check (state in ('open', 'sent', 'expired')),
            request_id integer unique references proposal_requests(id),
            redactions integer not null default 0,
            omitted_chars integer not null default 0,
            created_at text not null,
            sent_at text
        )"""
    )
    db.execute("create index proposal_previews_session on proposal_previews(session_id, state)")


def _budget_reservations(db: sqlite_utils.Database) -> None:
    """The budget reserved by calls in flight (issue 14: the budget is reserved when a request is sent)."""
    db.execute(
        """create table proposal_reservations (
            request_id integer primary key,
            local_day text not null,
            amount_eur real not null,
            at text not null
        )"""
    )


MIGRATIONS = [
    Migration("proposal_0001_outbox_and_proposals", _outbox_and_proposals),
    Migration("proposal_0002_previews", _previews),
    Migration("proposal_0003_budget_reservations", _budget_reservations),
]
