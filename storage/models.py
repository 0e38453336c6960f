"""The tables: people, accounts, signals, their event log, SLA deadlines, escalations, outbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from protocol.sla import ClockState
from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (so Alembic and models agree)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Person(Base):
    """A Slack user the bot knows: CSM, AE, manager or admin."""

    __tablename__ = "people"

    slack_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    tz: Mapped[str | None] = mapped_column(String(64))
    manager_id: Mapped[str | None] = mapped_column(String(32))
    manager_set_by: Mapped[str | None] = mapped_column(String(32))  # None: from the YAML roster
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    profile_checked_at: Mapped[datetime | None]


class Account(Base):
    """A customer account; remembers the AE its last signal went to."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    crm_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    ae_id: Mapped[str | None] = mapped_column(String(32))
    csm_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # The registry (accounts import, ingest `account` events); None: not known.
    plan: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(64))  # e.g. enterprise, mid-market, smb
    seats: Mapped[int | None] = mapped_column(Integer)
    limits: Mapped[dict[str, Any] | None]  # metered metric -> limit per billing cycle
    cycle_months: Mapped[int | None] = mapped_column(Integer)  # billing-cycle length
    contract_start: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    health: Mapped[int | None] = mapped_column(Integer)  # 0-100
    feature_adoption: Mapped[float | None] = mapped_column(Float)  # 0-1
    open_support: Mapped[str | None] = mapped_column(String(8))  # worst open priority, or "none"
    support_resolved_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "renewal_date"),)


class ProductEvent(Base):
    """One product-data event (usage, active users, a gated-feature attempt), as ingested."""

    __tablename__ = "product_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True)  # the sender's id
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    type: Mapped[str] = mapped_column(String(16))  # usage | active_users | gated_feature
    name: Mapped[str | None] = mapped_column(String(100))  # the metric, or the feature
    value: Mapped[float | None] = mapped_column(Float)
    limit_value: Mapped[float | None] = mapped_column(Float)  # usage: the cycle's limit
    seats: Mapped[int | None] = mapped_column(Integer)  # active_users: seats bought then
    period_end: Mapped[date | None] = mapped_column(Date)  # usage: the billing cycle's end
    actor: Mapped[str | None] = mapped_column(String(320))  # gated_feature: who tried
    at: Mapped[datetime]
    received_at: Mapped[datetime]

    __table_args__ = (Index(None, "account_id", "type"), Index(None, "received_at"))


class TriggerQueue(Base):
    """An account with product data not evaluated yet: one row per ingest that touched it."""

    __tablename__ = "trigger_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    queued_at: Mapped[datetime]

    __table_args__ = (Index(None, "account_id"),)


class Trigger(Base):
    """A product-data trigger put in front of a CSM; one per account, kind and episode.

    `state`: a `protocol.triggers.TriggerState` (open, snoozed, suppressed, acted, dismissed,
    closed).
    """

    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(100))  # the metric or the feature
    episode: Mapped[str] = mapped_column(String(150))
    state: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(8))
    evidence: Mapped[dict[str, Any]]  # text, detail, figures, readiness
    recipients: Mapped[dict[str, Any]]  # {"users": [...]}: the CSM, or the admins
    notified: Mapped[int] = mapped_column(Integer, default=0)  # times put in front of them
    fired_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    snoozed_until: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    signal_id: Mapped[int | None] = mapped_column(Integer)

    account: Mapped[Account] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("account_id", "kind", "episode"),
        Index(None, "state", "snoozed_until"),
        Index(None, "fired_at"),
    )


class Signal(Base):
    """One expansion signal: the five-field record, its owner and where it stands."""

    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    csm_id: Mapped[str] = mapped_column(String(32))
    ae_id: Mapped[str | None] = mapped_column(String(32))
    ownership: Mapped[str] = mapped_column(String(16), default="ae")  # ae | cs_led | joint
    category: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(300))
    buyer_name: Mapped[str] = mapped_column(String(150))
    buyer_title: Mapped[str | None] = mapped_column(String(150))
    timeline: Mapped[str] = mapped_column(String(300))
    timeline_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(8))
    est_arr: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    stage: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64), default="slash")
    message_link: Mapped[str | None] = mapped_column(String(500))
    submission_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # The cover acting for the AE while they are away (protocol.away); the AE stays the owner.
    acting_ae_id: Mapped[str | None] = mapped_column(String(32))
    # Bumped by acknowledge and reassign: a queued reminder carrying an older token is void.
    token: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by every change: cards are re-rendered when it moves.
    version: Mapped[int] = mapped_column(Integer, default=1)
    revisit_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(500))
    won_arr: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime]
    handed_off_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    account: Mapped[Account] = relationship(lazy="joined")
    answers: Mapped[list[QualificationAnswer]] = relationship(
        back_populates="signal",
        cascade="all, delete-orphan",
        order_by="QualificationAnswer.criterion",
    )

    __table_args__ = (
        Index(None, "ae_id", "stage"),
        Index(None, "csm_id", "stage"),
        Index(None, "account_id"),
        Index(None, "created_at"),
        Index(None, "closed_at"),  # the digest's outcomes of a week
        # The digest's "stalled now": by stage, then who holds them (roster gaps, read from
        # the index alone), since when (contacts with no outcome), when to revisit (watch).
        Index(None, "stage", "ae_id"),
        Index(None, "stage", "contacted_at"),
        Index(None, "stage", "revisit_on"),
        Index(None, "acting_ae_id"),  # a cover's queue, the hand-back
    )


class QualificationAnswer(Base):
    """One checklist box for one signal, as the CSM last answered it."""

    __tablename__ = "qualification_answers"

    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    met: Mapped[bool] = mapped_column(Boolean)
    answered_by: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime]

    signal: Mapped[Signal] = relationship(back_populates="answers")


class SignalEvent(Base):
    """Append-only log: who did what to which signal, when, from which stage to which."""

    __tablename__ = "signal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"))
    at: Mapped[datetime]
    actor_id: Mapped[str | None] = mapped_column(String(32))  # None: the bot itself
    kind: Mapped[str] = mapped_column(String(32))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None]

    __table_args__ = (
        Index(None, "signal_id", "at"),
        Index(None, "kind", "at", "signal_id"),  # the digest's outcomes: read from the index
    )


class Deadline(Base):
    """One SLA clock of one signal (acknowledge, contact, review, outcome) and its state.

    `next_step_at` is when the sweep must next look at it (a reminder, the miss, the next
    escalation level); it is NULL once nothing is left to do, so the sweep's index only
    holds what is still ahead.
    """

    __tablename__ = "deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"))
    clock: Mapped[str] = mapped_column(String(16))
    token: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[str | None] = mapped_column(String(32))
    # Who holds the clock while the owner is away (their cover, or their manager); None: the
    # owner. Frozen once the clock is met or missed: attainment counts against whoever held it.
    held_by: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=ClockState.OPEN.value)  # ClockState
    met_at: Mapped[datetime | None]
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None]
    # The SLA policy the clock started under, kept through config changes and restarts:
    # its name (shown and counted) and its snapshot (`SlaPolicy.snapshot`). NULL on clocks
    # without an SLA policy (outcome, revisit) and on clocks started before policies existed.
    policy_name: Mapped[str | None] = mapped_column(String(60))
    policy: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)  # read by the sweep

    __table_args__ = (
        UniqueConstraint("signal_id", "clock", "token"),
        Index(
            "ix_deadlines_next_step_at_due",
            "next_step_at",
            postgresql_where=text("next_step_at IS NOT NULL"),
            sqlite_where=text("next_step_at IS NOT NULL"),
        ),
        Index(None, "due_at"),
        # The digest's SLA attainment of its weeks, per holder and policy, counted from the
        # index alone.
        Index("ix_deadlines_sla_counts", "clock", "started_at", "owner_id", "held_by", "state",
              "met_at", "due_at", "id", "policy_name"),
    )


class SlaRollupWeek(Base):
    """A week whose SLA figures are settled and kept (`service.sla_weeks`): [starts, ends) in
    UTC, counted under the counting rules `rules` (`service.sla_weeks.RULES`). Written once,
    by the first digest that finds the week settled; its figures are the `SlaRollup` rows (none
    for a week without clocks)."""

    __tablename__ = "sla_rollup_weeks"

    id: Mapped[int] = mapped_column(primary_key=True)
    starts: Mapped[datetime]
    ends: Mapped[datetime]
    rules: Mapped[int] = mapped_column(Integer)
    rolled_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("starts", "ends", "rules"),)


class SlaRollup(Base):
    """The kept figures of a settled week for one holder, SLA policy and clock: how many of its
    clocks were counted and how many of those were met within SLA (none is pending)."""

    __tablename__ = "sla_rollups"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_id: Mapped[int] = mapped_column(ForeignKey("sla_rollup_weeks.id"))
    clock: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str | None] = mapped_column(String(32))
    policy: Mapped[str | None] = mapped_column(String(60))
    met: Mapped[int] = mapped_column(Integer)
    counted: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "week_id"),)


class Escalation(Base):
    """A missed SLA taken to someone above the AE; one per deadline and level."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"))
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    level: Mapped[int] = mapped_column(Integer)
    ae_id: Mapped[str | None] = mapped_column(String(32))
    to_ids: Mapped[dict[str, Any]]  # {"users": [...]}: the manager, or the admins
    reason: Mapped[str] = mapped_column(String(32))  # missed | roster_gap | ae_inactive
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("deadline_id", "level"), Index(None, "decided_at"))


class AwayPeriod(Base):
    """A person away [starts, ends) with an optional cover; set by them, their manager or an
    admin. `began_at` / `handed_back_at` record that their work went to the cover and came
    back (each once); `ended_at` is set when it was ended early (or cancelled) by someone."""

    __tablename__ = "away_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32))
    starts: Mapped[datetime]
    ends: Mapped[datetime]
    cover_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(300))
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime]
    began_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(32))
    handed_back_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "person_id", "ends"), Index(None, "ends", "starts"))


class Extension(Base):
    """The AE asked for more time on the contact SLA; the manager (or an admin) answers once.

    `state`: a `protocol.extension.ExtensionState`. At most one pending request per signal
    (a partial unique index); the answer is a conditional update of a pending row, so two
    people pressing at once decide it once.
    """

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"))
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    ae_id: Mapped[str | None] = mapped_column(String(32))  # whose clock it is
    asked_by: Mapped[str] = mapped_column(String(32))
    approvers: Mapped[dict[str, Any]]  # {"users": [...]}: the AE's manager, else the admins
    old_due: Mapped[datetime]
    new_due: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_extensions_pending",
            "signal_id",
            unique=True,
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(None, "asked_at"),
        Index(None, "decided_at"),
    )


class Card(Base):
    """A Slack message that shows a signal; updated in place when the signal changes."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"))
    audience: Mapped[str] = mapped_column(String(16))  # ae | csm | manager
    user_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    headline: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # An approver's card (audience "approver") shows this extension request and its answer.
    extension_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("channel", "ts"), Index(None, "signal_id"))


class OutboxMessage(Base):
    """Something to send (a Slack post, update, home view), written with the change it follows."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    signal_id: Mapped[int | None] = mapped_column(Integer)
    # The SLA clock a reminder belongs to: once that clock is met or cancelled, the row is void.
    guard_deadline_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # outbox.OutboxStatus
    due_at: Mapped[datetime]
    next_try_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    attempt_started_at: Mapped[datetime | None]
    # Set when an attempt failed in a way that may have reached Slack: reconcile before resending.
    maybe_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(500))
    result_channel: Mapped[str | None] = mapped_column(String(32))
    result_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "next_try_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_sending",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        Index(None, "status", "due_at"),
    )


class CrmRecord(Base):
    """The CRM deal / opportunity a signal was written to, and how its last write went.

    One per signal (the CRM side is keyed by the signal's id in a unique external-id
    property, so a retried write never makes a second record). `synced_version` is the
    signal version the CRM holds: a queued write for an older version is void.
    """

    __tablename__ = "crm_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(16))  # hubspot | salesforce
    record_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(500))
    company_id: Mapped[str | None] = mapped_column(String(64))  # the associated company/account
    synced_version: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime | None]
    owner_problem: Mapped[str | None] = mapped_column(String(300))  # owner not matched: why
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The deal as signalbot last knew it ({"stage", "amount", "owner"}): what it wrote, or what
    # a poll read. A polled value equal to it is not news (never our own write read back).
    crm_state: Mapped[dict[str, Any] | None]


class SlackPause(Base):
    """Slack refused the bot's own token or workspace: Slack delivery waits, for every process.

    One row (id 1) while paused; web processes read it for /readyz, workers to hold off.
    """

    __tablename__ = "slack_pause"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    error: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
    since: Mapped[datetime]
    next_check_at: Mapped[datetime]
    checks: Mapped[int] = mapped_column(Integer, default=0)


class CrmPoll(Base):
    """Reading deals back from the CRM: the high-water mark and who polls now (one row per CRM).

    `since` is the last-modified time of the last change applied: a poll asks for changes at or
    after it, so a poll cut short (a 429, a crash) resumes where it stopped. A replica takes
    the poll by setting `lease_until` in one conditional UPDATE; the HTTP calls run outside
    any transaction.
    """

    __tablename__ = "crm_polls"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    since: Mapped[datetime | None]
    next_poll_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    polled_at: Mapped[datetime | None]  # the last poll that reached the end
    changes: Mapped[int] = mapped_column(Integer, default=0)  # applied to signals, all time
    unknown: Mapped[int] = mapped_column(Integer, default=0)  # deals naming no known signal
    last_error: Mapped[str | None] = mapped_column(String(500))


class Heartbeat(Base):
    """What a background process last reported, for /readyz in every web process.

    `worker`: the sweep and delivery process is alive (written every few seconds).
    `slack_token`: whether Slack accepted the bot token when last asked (`ok`), and when.
    """

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[str | None] = mapped_column(String(200))


class OutboxAction(Base):
    """An operator's `signalbot outbox retry` or `drop` of one row: who, when and why."""

    __tablename__ = "outbox_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))  # retry | drop
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime]


class UserGroup(Base):
    """A Slack user group the config names (`roster.admins_group`): its members as last read.

    Read again every `roster.group_refresh` and changed by `subteam_members_changed` events;
    a failed read keeps `members` (the last known) and records `last_error`, told to the
    admins once (`told_at`) until a read works again.
    """

    __tablename__ = "user_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    members: Mapped[dict[str, Any]]  # {"users": [...]}
    read_at: Mapped[datetime | None]  # the last read that worked
    next_read_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500))
    told_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
