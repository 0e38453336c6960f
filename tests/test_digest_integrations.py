"""The weekly digest's integration parts: product-data triggers and CRM sync problems."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import insert

from blocks.digest import digest_blocks, digest_text
from bot.config import Crm
from protocol.digest import CrmSync, ProductTriggers, TriggerConversion
from service.digest import (
    compute_digest,
    trigger_conversion,
)
from storage.models import Account, CrmRecord, OutboxMessage, ProductEvent, Signal, Trigger
from tests.flow import at
from tests.people import AE, CSM
from tests.support import validate_message_blocks as validate

WEEK_START = datetime(2026, 11, 16, 5, tzinfo=UTC)  # Monday 00:00 in New York (EST)
WEEK_END = datetime(2026, 11, 23, 5, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # Monday 09:30 in New York
REASON = "Smith & <Co> churn risk"


def digest_now(services, config=None):
    with freeze_time(NOW), services.unit_of_work() as session:
        return compute_digest(session, config or services.config, WEEK_START, WEEK_END,
                              services.now())


# -- a known trigger history -----------------------------------------------------------------


class Rows:
    """Inserts accounts, triggers, signals and events with explicit times."""

    def __init__(self) -> None:
        self.accounts: list[dict] = []
        self.triggers: list[dict] = []
        self.signals: list[dict] = []
        self.events: list[dict] = []

    def account(self, name: str) -> int:
        account_id = len(self.accounts) + 1
        self.accounts.append({"id": account_id, "name": name, "name_key": name.lower(),
                              "csm_id": CSM, "ae_id": AE, "created_at": at("2026-01-01 00:00")})
        return account_id

    def trigger(self, kind: str, fired: str, state: str, updated: str | None = None,
                reason: str | None = None, account: int = 1) -> int:
        trigger_id = len(self.triggers) + 1
        self.triggers.append({
            "id": trigger_id, "account_id": account, "kind": kind, "subject": None,
            "episode": f"e{trigger_id}", "state": state, "urgency": "warm",
            "evidence": {"text": "t"}, "recipients": {"users": [CSM]}, "notified": 1,
            "fired_at": at(fired), "updated_at": at(updated or fired),
            "snoozed_until": at("2026-12-21 00:00") if state == "snoozed" else None,
            "reason": reason, "resolved_by": None, "signal_id": None,
        })
        return trigger_id

    def signal(self, source: str, created: str, outcome: str | None = None,
               closed: str | None = None, won_arr: str | None = None) -> int:
        signal_id = len(self.signals) + 1
        self.signals.append({
            "id": signal_id, "account_id": 1, "csm_id": CSM, "ae_id": AE, "category": "product",
            "kind": "seat_utilisation", "buyer_name": "B", "timeline": "Q3", "note": "n",
            "urgency": "warm", "stage": outcome or "contacted", "source": source,
            "token": 1, "version": 1, "ownership": "ae", "created_at": at(created),
            "updated_at": at(closed or created), "handed_off_at": at(created),
            "outcome": outcome, "closed_at": at(closed) if closed else None,
            "won_arr": Decimal(won_arr) if won_arr else None,
        })
        return signal_id

    def event(self, received: str, kind: str = "usage") -> None:
        self.events.append({"account_id": 1, "type": kind, "name": "api_calls", "value": 1.0,
                            "at": at(received), "received_at": at(received)})

    def save(self, services) -> None:
        with services.unit_of_work() as session:
            for model, rows in ((Account, self.accounts), (Trigger, self.triggers),
                                (Signal, self.signals), (ProductEvent, self.events)):
                if rows:
                    session.execute(insert(model), rows)


def build_triggers(services) -> dict[str, int]:
    """Triggers fired this week (16-22 Nov, New York), the week before, and earlier in the
    quarter (which starts 25 Aug 05:00 UTC); the figures below are counted from it by hand."""
    r = Rows()
    r.account("Globex")
    r.account("Initech")
    ids = {}
    # the week
    ids["T1"] = r.trigger("usage_ceiling", "2026-11-16 14:00", "acted", "2026-11-17 10:00")
    r.signal(f"trigger:{ids['T1']}", "2026-11-17 10:00", "won", "2026-11-20 10:00", "12000")
    ids["T2"] = r.trigger("usage_ceiling", "2026-11-17 14:00", "dismissed", "2026-11-18 10:00",
                          REASON, account=2)
    ids["T3"] = r.trigger("seat_capacity", "2026-11-18 14:00", "open")
    ids["T4"] = r.trigger("feature_unlock", "2026-11-19 14:00", "suppressed")
    ids["T5"] = r.trigger("at_risk", "2026-11-19 14:00", "open")
    ids["T6"] = r.trigger("seat_capacity", "2026-11-20 14:00", "snoozed", "2026-11-21 10:00",
                          account=2)
    ids["T7"] = r.trigger("renewal_window", "2026-11-21 14:00", "dismissed", "2026-11-22 10:00",
                          REASON)
    # the week before (9-15 Nov)
    ids["P1"] = r.trigger("usage_ceiling", "2026-11-10 14:00", "acted", "2026-11-12 10:00",
                          account=2)
    r.signal(f"trigger:{ids['P1']}", "2026-11-12 10:00", "won", "2026-11-19 10:00", "8000")
    ids["P2"] = r.trigger("seat_capacity", "2026-11-11 15:00", "open", account=2)
    ids["P3"] = r.trigger("usage_trend", "2026-11-12 14:00", "dismissed", "2026-11-16 20:00",
                          "duplicate")
    ids["P4"] = r.trigger("feature_unlock", "2026-11-13 14:00", "suppressed", account=2)
    # earlier in the quarter, and before it
    ids["Q1"] = r.trigger("usage_ceiling", "2026-10-01 14:00", "acted", "2026-10-02 10:00",
                          account=2)
    r.signal(f"trigger:{ids['Q1']}", "2026-10-02 10:00", "lost", "2026-10-20 10:00")
    ids["Q2"] = r.trigger("seat_capacity", "2026-09-15 14:00", "acted", "2026-09-16 10:00",
                          account=2)
    r.signal(f"trigger:{ids['Q2']}", "2026-09-16 10:00", "won", "2026-10-30 10:00", "5000")
    r.signal(f"trigger:{ids['Q2']}", "2026-09-16 11:00")  # logged twice from one trigger
    ids["Q3"] = r.trigger("seat_capacity", "2026-10-10 14:00", "closed", "2026-10-20 10:00",
                          account=2)
    ids["X1"] = r.trigger("usage_ceiling", "2026-08-01 14:00", "acted", "2026-08-02 10:00",
                          account=2)
    r.signal(f"trigger:{ids['X1']}", "2026-08-02 10:00", "won", "2026-09-01 10:00", "1000")
    r.signal("slash", "2026-11-18 10:00")  # not from a trigger
    r.signal(f"trigger:{ids['Q3']}x", "2026-10-18 11:00")  # a source that only starts alike
    for when in ("2026-11-17 10:00", "2026-11-19 10:00", "2026-11-20 10:00"):
        r.event(when)
    r.event("2026-11-21 09:00", kind="account")  # the feed's last word: 2 days before now
    r.save(services)
    return ids


@pytest.fixture
def history(services):
    ids = build_triggers(services)
    return ids, digest_now(services)


def test_the_weeks_triggers_by_type_with_trend(history):
    _, d = history
    t = d.triggers
    assert t.fired == {"usage_ceiling": 2, "seat_capacity": 2, "feature_unlock": 1,
                       "renewal_window": 1}
    assert t.fired_before == {"usage_ceiling": 1, "seat_capacity": 1, "usage_trend": 1,
                              "feature_unlock": 1}
    assert t.fired_total == 6
    assert (t.held_back, t.held_back_before, t.risk_notes) == (1, 1, 1)


def test_what_csms_did_with_them(history):
    _, d = history
    t = d.triggers
    assert (t.acted, t.snoozed, t.dismissed, t.handled) == (1, 1, 3, 5)
    assert t.dismiss_reasons == [(REASON, 2), ("duplicate", 1)]
    assert t.open == 2 and t.oldest_open_since == at("2026-11-11 15:00")
    assert (t.signals, t.won, t.won_arr) == (1, 2, Decimal("20000"))


def test_the_feed_and_its_staleness(history):
    _, d = history
    t = d.triggers
    assert t.events_received == 3
    assert t.last_event_at == at("2026-11-21 09:00")
    assert t.stale_days == 2 and t.stale


def test_conversion_per_trigger_type_over_the_quarter(history):
    _, d = history
    assert d.quarter_start == at("2026-08-25 05:00")
    assert d.triggers.conversion == [
        TriggerConversion("seat_capacity", fired=5, signals=1, won=1),
        TriggerConversion("usage_ceiling", fired=4, signals=3, won=2),
        TriggerConversion("renewal_window", fired=1, signals=0, won=0),
        TriggerConversion("usage_trend", fired=1, signals=0, won=0),
    ]
    assert d.triggers.conversion[1].signal_share == 0.75
    assert d.triggers.conversion[1].won_share == pytest.approx(2 / 3)
    assert d.triggers.conversion[2].won_share is None


def test_conversion_of_an_empty_window(services):
    build_triggers(services)
    with services.unit_of_work() as session:
        assert trigger_conversion(session, at("2025-01-01 00:00"), at("2025-04-01 00:00")) == []


def test_the_post_and_the_text_show_the_trigger_figures(history):
    _, d = history
    _, blocks = digest_blocks(d)
    validate(blocks)
    assert blocks[-1]["type"] == "context" and "signalbot export" in str(blocks[-1])
    [section] = [b for b in blocks if "Product-data triggers" in b.get("text", {}).get("text", "")]
    assert "shares are of the 5 triggers CSMs handled" in section["text"]["text"]
    fields = {f["text"].split("\n", 1)[0].strip("*"): f["text"].split("\n", 1)[1]
              for f in section["fields"]}
    assert fields["Fired"] == "6 (▲2 vs last week)"
    assert fields["By type"] == ("Seat capacity 2 (▲1) · Usage ceiling 2 (▲1) · Feature unlock "
                                 "1 (=) · Renewal window 1 (▲1) · Usage trend (early) 0 (▼1)")
    assert fields["Held back (account at risk)"] == (
        "1 (same as last week)\n1 risk note sent to CSMs instead")
    assert fields["Acted on (logged as a signal)"] == "1 (20%)"
    assert fields["Snoozed"] == "1 (20%)"
    assert fields["Dismissed (not expansion)"] == (
        "3 (60%)\nSmith &amp; &lt;Co&gt; churn risk ×2; duplicate ×1")
    assert fields["Still open now"] == "2, the oldest fired 11d 23h ago"
    assert fields["Signals from triggers"] == "1 signal logged, 2 won (ARR 20,000)"
    assert fields["Product data received"] == "3 events, the last 2d 5h ago"
    body = str(blocks)
    assert REASON not in body
    assert "Product data looks stale*: no event received for 2 days" in body
    assert "Usage ceiling — fired 4 → signal 3 (75%) → won 2 (67%)" in body
    assert "Renewal window — fired 1 → signal 0 (0%) → won 0 (—)" in body
    assert "triggers fired since 25 Aug" in body
    plain = digest_text(d)
    assert "Product-data triggers" in plain and REASON in plain and "&amp;" not in plain
    assert "Seat capacity — fired 5 → signal 1 (20%) → won 1 (100%)" in plain


def test_a_fresh_feed_shows_no_warning(services):
    build_triggers(services)
    rows = Rows()
    rows.event("2026-11-23 12:00")
    rows.save(services)
    d = digest_now(services)
    assert d.triggers.stale_days == 0 and not d.triggers.stale
    assert "stale" not in str(digest_blocks(d)[1])


# -- absent when unused ----------------------------------------------------------------------


def test_both_sections_are_absent_for_a_team_without_them(services):
    rows = Rows()
    rows.account("Globex")
    rows.signal("slash", "2026-11-18 10:00", "won", "2026-11-19 10:00", "1000")
    rows.save(services)
    d = digest_now(services)
    assert d.triggers is None and d.crm is None
    _, blocks = digest_blocks(d)
    validate(blocks)
    body, plain = str(blocks), digest_text(d)
    for text in (body, plain):
        assert "Product-data triggers" not in text and "Trigger → signal" not in text
        assert "CRM sync" not in text


def test_product_events_alone_show_the_section(services):
    rows = Rows()
    rows.account("Globex")
    rows.event("2026-11-23 10:00")
    rows.save(services)
    d = digest_now(services)
    assert d.triggers is not None and d.triggers.fired_total == 0
    assert d.triggers.conversion == [] and not d.triggers.stale
    _, blocks = digest_blocks(d)
    validate(blocks)
    assert "No triggers fired in the last 90 days." in str(blocks)


# -- CRM sync problems -----------------------------------------------------------------------


def outbox_row(key: str, kind: str, status: str, created: datetime) -> dict:
    return {"key": key, "kind": kind, "target": "HubSpot", "payload": {}, "status": status,
            "due_at": created, "next_try_at": created, "created_at": created}


def test_a_held_crm_write_shows_without_a_configured_crm(services):
    rows = Rows()
    rows.account("Globex")
    signal_id = rows.signal("slash", "2026-11-18 10:00")
    rows.save(services)
    with services.unit_of_work() as session:
        session.execute(insert(OutboxMessage), [
            outbox_row("crm:1:1", "crm.upsert", "held", at("2026-11-18 11:00")),
            outbox_row("crm:1:2", "crm.upsert", "held", at("2026-11-02 11:00")),  # weeks ago
            outbox_row("crm:1:3", "crm.upsert", "sent", at("2026-11-18 12:00")),
            outbox_row("webhook:1", "webhook", "held", at("2026-11-19 11:00")),
        ])
        session.add(CrmRecord(signal_id=signal_id, provider="hubspot", record_id="d1",
                              owner_problem="no HubSpot user for ae@example.com",
                              synced_at=at("2026-11-18 11:00"), created_at=at("2026-11-18 11:00")))
    d = digest_now(services)
    assert services.config.crm.provider == "none"
    assert d.crm == CrmSync(provider="CRM", held=1, webhooks_held=1, unmatched_owners=1,
                            still_held=3)
    _, blocks = digest_blocks(d)
    validate(blocks)
    [section] = [b for b in blocks if "CRM sync" in b.get("text", {}).get("text", "")]
    text = section["text"]["text"]
    assert "• Writes held this week: 1" in text
    assert "• Webhooks held this week: 1" in text
    assert "• Records written without a matched owner this week: 1" in text
    assert "• Held right now: 3 — fix the cause, then run `signalbot crm retry`" in text
    assert blocks[-1]["type"] == "context" and "signalbot export" in str(blocks[-1])
    assert "signalbot crm retry" in digest_text(d)


def test_a_configured_crm_shows_even_when_all_is_well(services):
    config = replace(services.config, crm=Crm(provider="hubspot", token_env="HUBSPOT_TOKEN"))
    d = digest_now(services, config)
    assert d.crm == CrmSync(provider="HubSpot")
    _, blocks = digest_blocks(d)
    validate(blocks)
    body = str(blocks)
    assert "*CRM sync* (HubSpot)" in body and "• Held right now: 0" in body
    assert "crm retry" not in body


# -- Slack's limits with every part at its largest ------------------------------------------


def test_every_part_at_once_stays_within_slacks_limits(services):
    d = digest_now(services)
    long_reason = "&<>" * 200
    d.triggers = ProductTriggers(
        fired={f"kind_{i}": i for i in range(12)}, fired_before={"usage_ceiling": 3},
        held_back=4, risk_notes=2, acted=3, snoozed=2, dismissed=5,
        dismiss_reasons=[(long_reason, 5 - i) for i in range(5)], open=9,
        oldest_open_since=NOW - timedelta(days=40), events_received=10**6,
        last_event_at=NOW - timedelta(days=9), stale_days=9,
        conversion=[TriggerConversion(f"kind_{i}", 100, 50, 10) for i in range(30)],
    )
    d.crm = CrmSync(provider="Salesforce", held=10, webhooks_held=3, unmatched_owners=7,
                    still_held=20)
    st = d.stalled
    st.unacknowledged = st.awaiting_outcome = st.overdue_watch = st.held = 3
    st.roster_gaps = [f"U0GAP{i:04d}" for i in range(40)]
    _, blocks = digest_blocks(d)
    validate(blocks)
    assert blocks[-1]["type"] == "context" and "signalbot export" in str(blocks[-1])
    body = str(blocks)
    assert "and 20 more" in body  # 30 trigger kinds in the conversion list: ten shown
    assert long_reason not in body and "&amp;&lt;&gt;" in body
    assert "Kind 11 11 (▲11)" in body
