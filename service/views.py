"""View models for the renderers in `blocks/`, built from rows while their session is open."""

from __future__ import annotations

from blocks.views import ClockView, EscalationView, SignalView
from storage.models import Deadline, Escalation, Signal


def signal_view(signal: Signal) -> SignalView:
    """A frozen snapshot of `signal` (its account's name included)."""
    return SignalView(
        id=signal.id, account=signal.account.name, csm_id=signal.csm_id, ae_id=signal.ae_id,
        urgency=signal.urgency, category=signal.category, kind=signal.kind,
        detail=signal.detail, note=signal.note, buyer_name=signal.buyer_name,
        buyer_title=signal.buyer_title, timeline=signal.timeline,
        timeline_date=signal.timeline_date, est_arr=signal.est_arr, stage=signal.stage,
        ownership=signal.ownership, outcome=signal.outcome,
        outcome_reason=signal.outcome_reason, won_arr=signal.won_arr,
        revisit_on=signal.revisit_on, source=signal.source, message_link=signal.message_link,
        created_at=signal.created_at, acting_ae_id=signal.acting_ae_id,
    )


def clock_view(deadline: Deadline | None) -> ClockView | None:
    """A snapshot of an SLA clock, or None."""
    if deadline is None:
        return None
    return ClockView(clock=deadline.clock, state=deadline.state, due_at=deadline.due_at,
                     policy=deadline.policy_name)


def escalation_view(escalation: Escalation | None) -> EscalationView | None:
    """A snapshot of an escalation, or None."""
    if escalation is None:
        return None
    return EscalationView(level=escalation.level, ae_id=escalation.ae_id,
                          decided_at=escalation.decided_at, due_at=escalation.due_at)
