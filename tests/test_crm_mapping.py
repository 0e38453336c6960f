"""Signal -> CRM fields: names, amounts, dates, stages, and the per-CRM property names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.config import DEFAULT_RUBRIC, Crm
from protocol.qualification import evaluate
from service.crm.mapping import FIELDS, deal_fields, deal_name
from storage.models import Account, Signal

HANDED_OFF = datetime(2026, 11, 23, 14, tzinfo=UTC)


def signal(**changes) -> Signal:
    values = dict(
        id=7, account=Account(name="Globex", name_key="globex"), csm_id="U0CSM0001",
        ae_id="U0AE00001", ownership="ae", category="product", kind="seat_utilisation",
        detail=None, buyer_name="Jamie Reyes", buyer_title=None, timeline="Q3",
        timeline_date=None, note="Ops team is growing.", urgency="warm",
        est_arr=Decimal("24000.00"), stage="handed_off", outcome=None, outcome_reason=None,
        won_arr=None, created_at=HANDED_OFF, handed_off_at=HANDED_OFF, closed_at=None, version=3,
    )
    values.update(changes)
    return Signal(**values)


def fields(s: Signal, crm: Crm | None = None, **kwargs):
    qualification = evaluate(DEFAULT_RUBRIC, {"budget": True, "buyer": True, "timeline": True})
    return deal_fields(s, qualification, crm or Crm(provider="hubspot"), **kwargs)


def test_the_deal_is_named_after_the_account_and_the_kind_of_expansion():
    assert deal_name(signal()) == "Globex — seat expansion"
    assert deal_name(signal(kind="new_division")) == "Globex — new division"
    assert deal_name(signal(kind="something_new")) == "Globex — expansion"


def test_an_open_deal_carries_the_estimate_and_the_timeline_date():
    deal = fields(signal(timeline_date=date(2027, 2, 1)))
    assert (deal.external_id, deal.amount, deal.close_date) == ("7", Decimal("24000.00"),
                                                                 date(2027, 2, 1))
    assert deal.stage == "appointmentscheduled" and not deal.closed
    assert deal.values["urgency"] == "Warm"
    assert deal.values["qualification"] == "3 of 4 (qualified): Budget conversation, " \
                                           "Named buyer, Timeline"
    assert "slack_link" not in deal.values and "outcome_reason" not in deal.values


def test_no_close_date_unless_the_crm_requires_one():
    assert fields(signal()).close_date is None
    assert fields(signal(), require_close_date=True).close_date == date(2027, 2, 21)


def test_won_closes_with_the_won_arr_on_the_day_it_closed():
    closed = datetime(2026, 12, 4, 9, tzinfo=UTC)
    deal = fields(signal(stage="won", outcome="won", won_arr=Decimal("30000"), closed_at=closed,
                         timeline_date=date(2027, 2, 1)))
    assert (deal.stage, deal.amount, deal.close_date) == ("closedwon", Decimal("30000"),
                                                          date(2026, 12, 4))
    assert deal.closed and deal.values["status"] == "Won"


@pytest.mark.parametrize(("outcome", "stage"), [("lost", "Closed Lost"),
                                                ("deferred", "Closed Lost"),
                                                ("not_ready", "Nurture")])
def test_outcomes_fall_back_to_the_lost_stage_unless_mapped(outcome, stage):
    crm = Crm(provider="salesforce", stages=(("handed_off", "Prospecting"), ("won", "Closed Won"),
                                             ("lost", "Closed Lost"), ("not_ready", "Nurture")))
    deal = fields(signal(stage=outcome, outcome=outcome, outcome_reason="No budget",
                         closed_at=HANDED_OFF), crm)
    assert deal.stage == stage and deal.values["outcome_reason"] == "No budget"
    assert crm.stage("acknowledged") == crm.stage("contacted") == "Prospecting"


def test_escalation_and_ownership_show_in_the_status():
    assert fields(signal(), escalated=True).values["status"] == \
        "Handed off, awaiting acknowledgement · SLA missed, escalated"
    assert "CS-led" in fields(signal(ownership="cs_led")).values["status"]


def test_each_custom_field_has_one_name_per_crm():
    names = {(f.hubspot, f.salesforce) for f in FIELDS}
    assert ("signalbot_signal_id", "Signalbot_Signal_Id__c") in names
    assert ("signalbot_slack_link", "Signalbot_Slack_Link__c") in names
    assert len(names) == len(FIELDS) == 10
