"""The quarterly RevOps review, pure: quarters, the CSM's signal credit, the AE review flag.

The playbook's incentive at the seam: the CSM earns a signal credit for verified signals that
convert (a share of the won expansion ARR, or a fixed spiff per converted signal), and an AE
whose SLA attainment for the quarter falls below the floor is flagged for review. Credit is
computed from what is recorded: the CSM who logged the signal keeps it, whoever held the
signal later (reassignments and covers split nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from protocol.digest import share

CREDIT_NOTE = ("Signal credit goes to the CSM who logged the signal; reassignments and covers "
               "split nothing.")


@dataclass(frozen=True)
class CreditPolicy:
    """`credit:` in the config: the CSM's rate (or a fixed spiff), the AE floor, the channel."""

    csm_rate: Decimal = Decimal("0.25")  # of the won expansion ARR
    spiff: Decimal | None = None  # a fixed amount per converted signal, instead of the rate
    attainment_floor: float = 0.8  # an AE below this (ack or contact) is flagged
    channel: str | None = None  # the RevOps channel the review is posted to


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter, e.g. 2026Q4."""

    year: int
    number: int  # 1-4

    @property
    def label(self) -> str:
        """'2026Q4'."""
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        """The quarter's first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next(self) -> Quarter:
        """The quarter after this one."""
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year,
                                                                           self.number + 1)

    @property
    def previous(self) -> Quarter:
        """The quarter before this one."""
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year,
                                                                           self.number - 1)


def quarter_of(day: date) -> Quarter:
    """The quarter holding `day`."""
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def parse_quarter(text: str) -> Quarter:
    """'2026Q4' (or '2026-Q4', 'q4 2026' is not accepted); ValueError with the reason."""
    found = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a quarter; write it like 2026Q4")
    return Quarter(int(found[1]), int(found[2]))


def signal_credit(policy: CreditPolicy, won: int, won_arr: Decimal) -> Decimal:
    """The CSM's credit for `won` converted signals worth `won_arr` of expansion ARR."""
    amount = policy.spiff * won if policy.spiff is not None else won_arr * policy.csm_rate
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def credit_basis(policy: CreditPolicy) -> str:
    """How the credit was computed, in words."""
    if policy.spiff is not None:
        return f"a fixed {policy.spiff:,.2f} per converted signal"
    return f"{(policy.csm_rate * 100).normalize():f}% of the won expansion ARR"


@dataclass(frozen=True)
class Miss:
    """An SLA clock an AE missed (or met late) in the quarter."""

    signal_id: int
    account: str
    clock: str  # ack | contact
    due_at: datetime
    met_at: datetime | None  # None: never met


@dataclass
class CsmLine:
    """One CSM's quarter: what they logged and what it became, and their credit."""

    csm_id: str
    logged: int = 0
    qualified: int = 0
    handed_off: int = 0
    routed: int = 0  # of those logged in the quarter, routed (for quality)
    routed_won: int = 0  # ... and won, by now
    won: int = 0  # signals they logged, closed won in the quarter
    won_arr: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)

    @property
    def quality(self) -> float | None:
        """Share of their routed signals that closed won."""
        return share(self.routed_won, self.routed)


@dataclass
class AeLine:
    """One AE's quarter: hand-offs, SLA attainment, escalations, outcomes, the review flag."""

    ae_id: str | None
    handoffs: int = 0
    ack_met: int = 0
    ack_counted: int = 0
    contact_met: int = 0
    contact_counted: int = 0
    escalations: int = 0
    won: int = 0
    lost: int = 0
    median_contact_s: float | None = None
    misses: list[Miss] = field(default_factory=list)
    flagged: bool = False

    @property
    def ack_attainment(self) -> float | None:
        """Acknowledge clocks met within SLA / decided."""
        return share(self.ack_met, self.ack_counted)

    @property
    def contact_attainment(self) -> float | None:
        """Contact clocks met within SLA / decided."""
        return share(self.contact_met, self.contact_counted)


def below_floor(line: AeLine, floor: float) -> bool:
    """True when the AE's ack or contact attainment for the quarter is under the floor."""
    return any(share is not None and share < floor
               for share in (line.ack_attainment, line.contact_attainment))


@dataclass
class QuarterReview:
    """The quarterly RevOps review."""

    quarter: Quarter
    start: datetime
    end: datetime
    policy: CreditPolicy
    csms: list[CsmLine]
    aes: list[AeLine]
    people: dict[str, str] = field(default_factory=dict)  # slack id -> name, where known

    @property
    def flagged(self) -> list[AeLine]:
        """The AEs flagged for review."""
        return [line for line in self.aes if line.flagged]
