"""Signal -> CRM deal fields, pure: the same facts for HubSpot and Salesforce, named per CRM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from protocol import stages
from protocol.catalogue import category_label, kind_label
from protocol.config import Crm
from protocol.qualification import Qualification
from protocol.routing import Ownership
from storage.models import Signal

DEFAULT_CLOSE_DAYS = 90  # Salesforce requires a close date: hand-off + 90 days when none is known
DEAL_LABELS = {
    "seat_utilisation": "seat expansion",
    "api_volume": "API volume upgrade",
    "feature_adoption": "paid tier upgrade",
    "paid_feature_request": "paid feature",
    "team_onboarded_product": "new team rollout",
    "budget_mentioned": "expansion",
    "new_division": "new division",
    "org_change": "expansion (new sponsor)",
    "m_and_a": "expansion (M&A)",
    "asks_missing_features": "feature upsell",
    "competitor_mentioned": "expansion (competitive)",
    "roi_referenced": "expansion (ROI)",
    "new_stakeholder": "expansion (new stakeholder)",
}


@dataclass(frozen=True)
class Field:
    """A custom property signalbot writes: neutral key, label, kind (id|text|longtext|url)."""

    key: str
    label: str
    kind: str
    help: str

    @property
    def hubspot(self) -> str:
        """The HubSpot internal property name, e.g. signalbot_buyer."""
        return f"signalbot_{self.key}"

    @property
    def salesforce(self) -> str:
        """The Salesforce field API name, e.g. Signalbot_Buyer__c."""
        return "Signalbot_" + "_".join(p.capitalize() for p in self.key.split("_")) + "__c"


EXTERNAL_ID = Field("signal_id", "Signalbot signal id", "id",
                    "The signal's id in signalbot; unique, so a retried write updates, not adds.")
FIELDS = (
    EXTERNAL_ID,
    Field("signal_type", "Signal type", "text", "Category and kind of the expansion signal."),
    Field("buyer", "Named buyer", "text", "Who will own the buying decision, with title."),
    Field("timeline", "Buyer timeline", "text", "When the customer expects to move."),
    Field("context", "Signal context", "longtext", "What the CSM saw and heard."),
    Field("urgency", "Signal urgency", "text", "Hot, Warm or Watch."),
    Field("qualification", "Qualification", "text", "Which qualification boxes were met."),
    Field("slack_link", "Slack hand-off", "url", "The AE's hand-off card in Slack."),
    Field("status", "Signalbot status", "text", "Where the hand-off stands in signalbot."),
    Field("outcome_reason", "Outcome reason", "text", "Why it was won, lost or deferred."),
)
CUSTOM = {f.key: f for f in FIELDS}


@dataclass(frozen=True)
class DealFields:
    """What one write sets: standard fields plus `values` keyed by Field.key."""

    external_id: str
    name: str
    amount: Decimal | None
    close_date: date | None
    stage: str | None
    closed: bool
    values: dict[str, str] = field(default_factory=dict)


def stage_key(signal: Signal) -> str:
    """The signalbot stage (or outcome) a CRM stage is configured for."""
    return signal.outcome or signal.stage


def deal_name(signal: Signal) -> str:
    """'Globex Corp — seat expansion'."""
    return f"{signal.account.name} — {DEAL_LABELS.get(signal.kind, 'expansion')}"[:120]


def deal_fields(signal: Signal, qualification: Qualification, crm: Crm, *,
                slack_link: str | None = None, escalated: bool = False,
                require_close_date: bool = False) -> DealFields:
    """The deal as the signal stands now (the current state, whatever the queued event was)."""
    closed = signal.outcome is not None
    amount = signal.won_arr if signal.outcome == "won" and signal.won_arr is not None \
        else signal.est_arr
    close = signal.closed_at.date() if closed and signal.closed_at else signal.timeline_date
    if close is None and require_close_date:
        start = signal.handed_off_at or signal.created_at
        close = (start + timedelta(days=DEFAULT_CLOSE_DAYS)).date()
    values = {
        "signal_type": _signal_type(signal),
        "buyer": signal.buyer_name + (f", {signal.buyer_title}" if signal.buyer_title else ""),
        "timeline": signal.timeline + (f" (by {signal.timeline_date.isoformat()})"
                                       if signal.timeline_date else ""),
        "context": signal.note,
        "urgency": signal.urgency.title(),
        "qualification": _qualification(qualification),
        "status": _status(signal, escalated),
    }
    if slack_link:
        values["slack_link"] = slack_link
    if signal.outcome_reason:
        values["outcome_reason"] = signal.outcome_reason
    return DealFields(external_id=str(signal.id), name=deal_name(signal), amount=amount,
                      close_date=close, stage=crm.stage(stage_key(signal)), closed=closed,
                      values=values)


def _signal_type(signal: Signal) -> str:
    text = f"{category_label(signal.category)}: {kind_label(signal.category, signal.kind)}"
    return f"{text} — {signal.detail}" if signal.detail else text


def _qualification(q: Qualification) -> str:
    met = ", ".join(c.label for c in q.met) or "none"
    verdict = "qualified" if q.qualified else "not qualified"
    return f"{q.score} ({verdict}): {met}"


def _status(signal: Signal, escalated: bool) -> str:
    label = stages.STAGE_LABELS.get(stage_key(signal), signal.stage)
    if signal.ownership == Ownership.CS_LED:
        label += " · CS-led"
    elif signal.ownership == Ownership.JOINT:
        label += " · joint AE/CSM"
    return label + (" · SLA missed, escalated" if escalated and not signal.outcome else "")


def clip(value: str, limit: int) -> str:
    """`value` cut to `limit` characters (with an ellipsis when cut)."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
