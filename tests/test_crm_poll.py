"""From the CRM back to the signal: deals polled from the HubSpot / Salesforce stand-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from freezegun import freeze_time
from sqlalchemy import select

from protocol.sla import ClockState
from service import signals as ops
from service.crm_poll import OVERLAP, poll_crm
from service.digest import outcomes
from standin.hubspot import rate_limited
from storage.models import CrmPoll, Deadline, Person, Signal, SignalEvent
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    email,
    hubspot_crm,
    hubspot_fixture,
    record,
    salesforce_crm,
    salesforce_fixture,
)
from tests.flow import act, log, worker
from tests.people import AE, AE2, CSM


def drain(services, slack) -> None:
    worker(services, slack).deliverer.drain()


def events(services, signal_id: int) -> list[SignalEvent]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(SignalEvent).where(
            SignalEvent.signal_id == signal_id).order_by(SignalEvent.id)))


def signal(services, signal_id: int) -> Signal:
    with services.unit_of_work() as session:
        return session.get(Signal, signal_id)


def poll_state(services) -> CrmPoll:
    with services.unit_of_work() as session:
        return session.scalars(select(CrmPoll)).one()


def later(minutes: int) -> datetime:
    return datetime.fromisoformat(START).replace(tzinfo=UTC) + timedelta(minutes=minutes)


def test_won_in_hubspot_closes_the_signal_in_slack_within_one_poll(
        sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services, est_arr=30000)
        drain(services, standin)
        clock.tick(timedelta(hours=2))
        hubspot.edit_deal(signal_id, dealstage="closedwon", amount="48000.00")
        clock.tick(timedelta(minutes=1))
        w = worker(services, standin)
        w.sweep_once()  # the poll is one of the sweep's periodic checks
        w.deliverer.drain()
        won_at = services.now()
    closed = signal(services, signal_id)
    assert (closed.stage, closed.outcome, closed.won_arr) == ("won", "won", Decimal("48000"))
    [outcome] = [e for e in events(services, signal_id) if e.kind == "outcome"]
    assert outcome.actor_id == AE and outcome.detail["source"] == "crm"
    with services.unit_of_work() as session:  # the clocks are closed
        assert all(d.state != ClockState.OPEN for d in session.scalars(select(Deadline)))
        counted = outcomes(session, won_at - timedelta(days=1), won_at + timedelta(days=1))
    assert (counted.won, counted.won_arr) == (1, Decimal("48000"))
    csm_note = standin.dm_messages(CSM)[-1]["text"]
    assert "*Won*" in csm_note and "in HubSpot" in csm_note and "48,000" in csm_note
    updated = [c for c in standin.calls_to("chat.update")]
    assert updated and "Won" in str(updated[-1].params.get("blocks"))
    assert hubspot.deal_for(signal_id)["properties"]["signalbot_status"] == "Won"
    with freeze_time(later(130)):  # our write of the outcome back is not read again as news
        _due(services)
        rerun = poll_crm(services)
    assert rerun.ran and rerun.counts == {"same": 1}


def _due(services) -> None:
    """Make the next poll due now (instead of waiting out crm.poll_interval)."""
    with services.unit_of_work() as session:
        session.execute(CrmPoll.__table__.update().values(next_poll_at=services.now()))


def test_our_own_write_is_not_echoed(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        clock.tick(timedelta(minutes=10))
        act(services, ops.acknowledge, signal_id, AE)
        act(services, ops.log_contact, signal_id, AE)
        drain(services, standin)  # HubSpot now holds stage "contacted", written by us
        before = [e.kind for e in events(services, signal_id)]
        clock.tick(timedelta(minutes=5))
        result = poll_crm(services)
    assert result.ran and result.counts == {"same": 1}
    assert [e.kind for e in events(services, signal_id)] == before
    assert record(services, signal_id).crm_state["stage"] == "qualifiedtobuy"


def test_a_poll_that_meets_a_429_resumes_where_it_stopped(
        db_url, standin, hubspot, monkeypatch):
    services = bot(db_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        ids = [log(services, account=f"Account {n}") for n in range(4)]
        drain(services, standin)
        clock.tick(timedelta(seconds=3))  # the AE's 4th card waits its pace; its deal then
        drain(services, standin)
        provider = services.connections.provider(services.config.crm, services.now)
        provider.page_size = 2
        for n, signal_id in enumerate(ids):
            hubspot.edit_deal(signal_id, at=later(60 + n), dealstage="closedlost")
        clock.tick(timedelta(hours=2))
        hubspot.fail_next("deals.search", after=1, **rate_limited(retry_after=10))
        first = poll_crm(services)
        assert first.pages == 1 and first.stopped and "429" in first.stopped
        assert [signal(services, i).outcome for i in ids] == ["lost", "lost", None, None]
        assert poll_state(services).since == later(61)
        assert poll_crm(services).ran is False  # not before HubSpot's wait
        clock.tick(timedelta(seconds=11))
        second = poll_crm(services)
    assert second.counts.get("changed") == 2 and not second.stopped
    assert [signal(services, i).outcome for i in ids] == ["lost"] * 4
    searches = hubspot.calls_to("deals.search")
    resumed = searches[-1].json["filterGroups"][0]["filters"][-1]
    assert resumed == {"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                       "value": str(int((later(61) - OVERLAP).timestamp() * 1000))}
    for signal_id in ids:  # each deal applied once, whatever was read twice
        assert [e.kind for e in events(services, signal_id)].count("outcome") == 1


def test_a_change_indexed_late_behind_the_mark_is_still_read(
        sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        first, late = log(services, account="Early"), log(services, account="Late")
        drain(services, standin)
        hubspot.edit_deal(first, at=later(62), dealstage="closedlost")
        clock.tick(timedelta(hours=2))
        assert poll_crm(services).counts.get("changed") == 1
        assert poll_state(services).since == later(62)
        # HubSpot's search shows a change made at 61 only now, behind the mark of 62.
        hubspot.edit_deal(late, at=later(61), dealstage="closedlost")
        clock.tick(timedelta(minutes=10))
        _due(services)
        again = poll_crm(services)
    assert again.counts == {"same": 1, "changed": 1}
    assert signal(services, late).outcome == "lost"
    assert poll_state(services).since == later(62)  # the mark never moves back


def test_amount_and_owner_changes_update_the_signal(sqlite_url, standin, hubspot,
                                                     monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services, est_arr=20000)
        drain(services, standin)
        other = next(o["id"] for o in hubspot.owners.values() if o["email"] == email(AE2))
        clock.tick(timedelta(minutes=30))
        hubspot.edit_deal(signal_id, amount="35000", hubspot_owner_id=other)
        clock.tick(timedelta(minutes=1))
        _ensure_email(services, AE2)
        result = poll_crm(services)
        drain(services, standin)
    assert result.counts == {"changed": 1}
    changed = signal(services, signal_id)
    assert (changed.est_arr, changed.ae_id, changed.stage) == (Decimal("35000"), AE2,
                                                              "handed_off")
    kinds = [(e.kind, (e.detail or {}).get("source")) for e in events(services, signal_id)]
    assert ("reassigned", "crm") in kinds and ("crm_amount", "crm") in kinds
    assert standin.dm_messages(AE2), "the new owner gets the hand-off card"


def _ensure_email(services, user: str) -> None:
    with services.unit_of_work() as session:
        person = session.get(Person, user) or Person(slack_id=user)
        person.email = email(user)
        session.merge(person)


def test_the_later_change_wins_and_both_are_logged(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        clock.tick(timedelta(minutes=10))
        hubspot.edit_deal(signal_id, at=later(10), dealstage="closedlost")  # CRM first …
        clock.tick(timedelta(minutes=5))
        act(services, ops.record_outcome, signal_id, "won", AE,
            won_arr=Decimal(50000))  # … Slack later
        result = poll_crm(services)  # the CRM change is read after Slack's
        drain(services, standin)
    assert result.counts == {"superseded": 1}
    assert signal(services, signal_id).outcome == "won"
    kinds = [e.kind for e in events(services, signal_id)]
    assert kinds[-2:] == ["outcome", "crm_superseded"]
    assert hubspot.deal_for(signal_id)["properties"]["dealstage"] == "closedwon"
    with freeze_time(later(40)) as clock:  # now the AE marks it lost in HubSpot, later still
        hubspot.edit_deal(signal_id, at=later(40), dealstage="closedlost")
        clock.tick(timedelta(minutes=6))
        _due(services)
        poll_crm(services)
    corrected = [e for e in events(services, signal_id) if e.kind == "outcome"]
    assert [e.to_stage for e in corrected] == ["won", "lost"]
    assert corrected[-1].detail["was"] == "won" and signal(services, signal_id).won_arr is None


def test_unknown_signal_ids_are_ignored_and_counted(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        hubspot.deals["9"] = {"id": "9", "createdAt": "2026-11-23T14:00:00Z",
                              "updatedAt": "2026-11-23T14:00:00Z", "archived": False,
                              "properties": {"signalbot_signal_id": "777", "pipeline": "default",
                                             "dealstage": "closedwon",
                                             "hs_lastmodifieddate": "2026-11-23T14:00:00.000Z"}}
        result = poll_crm(services)
    assert result.counts == {"unknown": 1}
    assert poll_state(services).unknown == 1


def test_the_poll_waits_for_its_interval_and_one_replica_takes_it(
        db_url, standin, hubspot, monkeypatch):
    services = bot(db_url, standin, monkeypatch, hubspot_crm(hubspot,
                                                                 poll_interval=timedelta(minutes=5)))
    with freeze_time(START) as clock:
        assert poll_crm(services).ran
        assert not poll_crm(services).ran
        clock.tick(timedelta(minutes=5))
        with services.unit_of_work() as session:  # another replica holds the lease
            session.execute(CrmPoll.__table__.update().values(
                lease_until=services.now() + timedelta(minutes=1), claimed_by="other"))
        assert not poll_crm(services).ran
        clock.tick(timedelta(minutes=2))  # its lease ran out: this one takes over
        assert poll_crm(services).ran
    assert len(hubspot.calls_to("deals.search")) == 2


def test_won_in_salesforce_closes_the_signal(sqlite_url, standin, salesforce, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    salesforce.batch_size = 1
    with freeze_time(START) as clock:
        ids = [log(services, account=f"Account {n}") for n in range(2)]
        drain(services, standin)
        clock.tick(timedelta(hours=1))
        salesforce.edit_opportunity(ids[0], StageName="Closed Won", Amount=61000.0)
        salesforce.edit_opportunity(ids[1], StageName="Qualification")
        clock.tick(timedelta(minutes=1))
        result = poll_crm(services)
        drain(services, standin)
    assert result.pages == 2 and result.counts == {"changed": 2}
    won = signal(services, ids[0])
    assert (won.outcome, won.won_arr) == ("won", Decimal("61000"))
    assert signal(services, ids[1]).stage == "contacted"
    [query] = polls(salesforce)
    assert "LastModifiedDate >=" not in query.query["q"]  # the first poll reads everything
    assert len(salesforce.calls_to("query.more")) == 1
    with freeze_time(later(65)):
        _due(services)
        again = poll_crm(services)
    assert again.counts.get("changed") is None  # our writes back are not news
    # the mark of 15:00, less the five minutes of overlap
    assert "LastModifiedDate >= 2026-11-23T14:55:00Z" in polls(salesforce)[-1].query["q"]


def polls(salesforce):
    """The SOQL queries that read opportunities back."""
    return [c for c in salesforce.calls_to("query") if "FROM Opportunity" in c.query["q"]]
