"""The view models the renderers take: frozen snapshots of rows, built in `service/views.py`.

A renderer never reaches into the database (no lazy loads while building blocks) and can be
fed plain values in a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class SignalView:
    """A signal as the card, App Home and `/signal list` show it."""

    id: int
    account: str  # the account's name
    csm_id: str
    ae_id: str | None
    urgency: str
    category: str
    kind: str
    detail: str | None
    note: str
    buyer_name: str
    buyer_title: str | None
    timeline: str
    timeline_date: date | None
    est_arr: Decimal | None
    stage: str
    ownership: str
    outcome: str | None
    outcome_reason: str | None
    won_arr: Decimal | None
    revisit_on: date | None
    source: str
    message_link: str | None
    created_at: datetime
    acting_ae_id: str | None = None  # who acts for the AE while they are away (protocol.away)


@dataclass(frozen=True)
class AwayLine:
    """An away period as the roster answer and App Home show it."""

    person: str
    span: str  # '23 Nov–6 Dec', in the person's time zone
    until: str  # '6 Dec'
    cover: str | None
    set_by: str
    set_at: datetime
    now: bool  # under way now (else ahead)


@dataclass(frozen=True)
class ClockView:
    """A running SLA clock: which, where it stands, when it is due."""

    clock: str
    state: str
    due_at: datetime
    policy: str | None = None  # the SLA policy it runs under (None: no policy, e.g. outcome)


@dataclass(frozen=True)
class EscalationView:
    """An escalation as a manager sees it."""

    level: int
    ae_id: str | None
    decided_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class ExtensionView:
    """A request for more time on the contact SLA, and its answer if it has one.

    `open`: still waiting and still answerable (the contact clock is running).
    """

    id: int
    ae_id: str | None
    asked_by: str
    approvers: tuple[str, ...]
    old_due: datetime
    new_due: datetime
    reason: str
    state: str  # protocol.extension.ExtensionState
    decided_by: str | None
    decided_at: datetime | None
    open: bool
