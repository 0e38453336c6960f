"""The weekly digest's figures, as plain data.

`service.digest` counts them from the database; `blocks.digest` renders them (channel post,
App Home charts, plain text). Neither imports the other: both import these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


def share(part: float, whole: float) -> float | None:
    """`part` as a share of `whole` (0-1); None when there is no whole to share."""
    return part / whole if whole else None


@dataclass
class Tally:
    """SLA clocks of one kind: met within SLA, counted (decided), still pending."""

    met: int = 0
    counted: int = 0
    pending: int = 0

    @property
    def share(self) -> float | None:
        """Met / counted, or None when nothing was decided yet."""
        return share(self.met, self.counted)

    def add(self, other: Tally) -> None:
        """Add another tally into this one."""
        self.met += other.met
        self.counted += other.counted
        self.pending += other.pending


@dataclass
class AeSla:
    """One AE's acknowledge and contact clocks started in the week."""

    ae_id: str | None
    ack: Tally = field(default_factory=Tally)
    contact: Tally = field(default_factory=Tally)


@dataclass
class PolicySla:
    """The acknowledge and contact clocks started in the week under one SLA policy."""

    policy: str  # its name; "default" for the built-in policy and clocks from before policies
    ack: Tally = field(default_factory=Tally)
    contact: Tally = field(default_factory=Tally)


@dataclass
class SignalCounts:
    """Signals logged in the week, split by urgency, by category, and how they were routed."""

    total: int = 0
    qualified: int = 0
    watch: int = 0
    by_urgency: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)


@dataclass
class Item:
    """A signal named in a list; `at` is when it entered the state the list is about."""

    signal_id: int
    account: str
    ae_id: str | None
    csm_id: str
    urgency: str
    at: datetime | None = None
    revisit_on: date | None = None


@dataclass
class AeEscalations:
    """Escalations of one AE's clocks in the week."""

    ae_id: str | None
    escalations: int
    signals: int
    still_open: int


@dataclass
class AeExtensions:
    """Requests for more time on one AE's contact clocks: asked in the week, granted in it."""

    ae_id: str | None
    asked: int = 0
    granted: int = 0


@dataclass
class Escalations:
    """Escalations decided in the week, how late the bot decided them, what is still open."""

    total: int = 0
    avg_late_s: float | None = None
    max_late_s: float | None = None
    per_ae: list[AeEscalations] = field(default_factory=list)
    open_signals: int = 0
    open_items: list[Item] = field(default_factory=list)


@dataclass
class Outcomes:
    """Signals closed in the week, by outcome, and the expansion ARR won."""

    won: int = 0
    won_arr: Decimal = Decimal(0)
    lost: int = 0
    deferred: int = 0
    not_ready: int = 0


@dataclass
class Funnel:
    """Signals logged in a period and how far each got (by now)."""

    logged: int = 0
    qualified: int = 0
    handed_off: int = 0
    acknowledged: int = 0
    contacted: int = 0
    won: int = 0


@dataclass
class CsmQuality:
    """One CSM's signals over the rolling quarter: routed, won, closed."""

    csm_id: str
    routed: int
    won: int
    closed: int

    @property
    def share(self) -> float | None:
        """Won / routed."""
        return share(self.won, self.routed)


@dataclass
class Stalled:
    """What is stuck right now, with a few examples of each."""

    unacknowledged: int = 0
    unacknowledged_items: list[Item] = field(default_factory=list)
    awaiting_outcome: int = 0
    awaiting_items: list[Item] = field(default_factory=list)
    overdue_watch: int = 0
    watch_items: list[Item] = field(default_factory=list)
    roster_gaps: list[str] = field(default_factory=list)
    held: int = 0


@dataclass
class TriggerConversion:
    """Triggers of one kind fired over the rolling quarter, and how far they got by now."""

    kind: str
    fired: int
    signals: int  # became a signal: one was logged with source `trigger:<id>`
    won: int  # ... and that signal was won

    @property
    def signal_share(self) -> float | None:
        """Signals / fired."""
        return share(self.signals, self.fired)

    @property
    def won_share(self) -> float | None:
        """Won / signals."""
        return share(self.won, self.signals)


@dataclass
class ProductTriggers:
    """The week's product-data triggers (`service.triggers.trigger_digest`), the week before
    (fired counts only), and the rolling quarter's conversion per trigger kind."""

    fired: dict[str, int] = field(default_factory=dict)  # expansion triggers by kind
    fired_before: dict[str, int] = field(default_factory=dict)
    held_back: int = 0  # fired in the week while the account was at risk, still held back
    held_back_before: int = 0
    risk_notes: int = 0  # at-risk notes sent to CSMs instead
    acted: int = 0  # handled in the week: logged as a signal
    snoozed: int = 0
    dismissed: int = 0
    dismiss_reasons: list[tuple[str, int]] = field(default_factory=list)  # the top five
    open: int = 0  # right now
    oldest_open_since: datetime | None = None
    signals: int = 0  # signals logged from triggers in the week
    won: int = 0  # signals from triggers won in the week
    won_arr: Decimal = Decimal(0)
    events_received: int = 0  # product events received in the week
    last_event_at: datetime | None = None
    stale_days: int | None = None  # whole days since the last product event
    conversion: list[TriggerConversion] = field(default_factory=list)

    @property
    def fired_total(self) -> int:
        """Expansion triggers fired in the week."""
        return sum(self.fired.values())

    @property
    def handled(self) -> int:
        """Triggers the CSMs acted on, snoozed or dismissed in the week."""
        return self.acted + self.snoozed + self.dismissed

    @property
    def stale(self) -> bool:
        """True when the product-data feed has been quiet for more than a day."""
        return self.stale_days is not None and self.stale_days > 1


@dataclass
class CrmSync:
    """CRM sync problems (`service.crm.records.crm_problems`) and the configured CRM."""

    provider: str  # its label ("HubSpot"), or "CRM" when none is configured
    held: int = 0  # CRM writes queued in the week and held
    webhooks_held: int = 0
    unmatched_owners: int = 0  # records written in the week without a matched owner
    still_held: int = 0  # CRM and webhook rows held right now


@dataclass
class WeekSla:
    """SLA attainment of the hand-offs of one week (a point of the digest's trend chart)."""

    first_day: date  # the week's Monday, in the configured time zone
    ack: Tally
    contact: Tally


@dataclass
class Week:
    """The figures of one week."""

    start: datetime
    end: datetime
    signals: SignalCounts
    ack: Tally
    contact: Tally
    per_ae: list[AeSla]
    escalations: Escalations
    outcomes: Outcomes
    funnel: Funnel
    upgrades: dict[str, int] = field(default_factory=dict)  # "cs_led>ae" -> ownership changes
    covered: int = 0  # hand-offs that went to a cover (or the manager) while their AE was away
    away: list[tuple[str, str | None]] = field(default_factory=list)  # (person, cover) away
    per_policy: list[PolicySla] = field(default_factory=list)  # in the order of most hand-offs
    extensions: list[AeExtensions] = field(default_factory=list)  # most asked first


@dataclass
class Digest:
    """One weekly digest: the week, the week before (for trends), the quarter, what is stuck."""

    week: Week
    # the week before, its figures compared with the week's: signals, SLA, escalations (how
    # many, how late), outcomes, upgrades, covered; its per-AE escalations, still-open items,
    # funnel, away periods and extensions are left empty (`service.digest.compared_figures`)
    previous: Week
    first_day: date  # the week's Monday, in the configured time zone
    last_day: date  # its Sunday
    timezone: str
    now: datetime
    quarter_start: datetime
    quarter_funnel: Funnel
    csm_quality: list[CsmQuality]
    stalled: Stalled
    outcome_reminder_days: int
    people: dict[str, str] = field(default_factory=dict)  # slack id -> name, where known
    triggers: ProductTriggers | None = None  # None: no product data and no trigger, ever
    crm: CrmSync | None = None  # None: no CRM configured and nothing to report
    sla_weeks: list[WeekSla] = field(default_factory=list)  # oldest first, ending with `week`
