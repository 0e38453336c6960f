"""Away and cover, driven as Slack does (signed requests, the stand-in), with time frozen.

A fortnight's holiday with a cover and without one, a manager away during an escalation,
the errors a person sees, and a period that begins and ends by itself.
"""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from blocks import card
from storage.models import AwayPeriod, Deadline, Escalation, Person, Signal, SignalEvent
from tests.people import ADMIN, AE, AE2, CSM, MGR, VP, roster_config

MGR2 = "U0MGR0002"
START = "2026-11-23 14:00:00"  # a Monday, 09:00 in New York
BACK_AT = "2026-12-07 05:00:01"  # just after 6 Dec ends in New York: the fortnight is over


@pytest.fixture
def config():
    """AE and AE2 report to different managers: a miss goes to the cover's manager."""
    return roster_config(managers={AE: MGR, AE2: MGR2, MGR: VP, MGR2: VP})


@pytest.fixture
def away_slack(slack):
    slack.standin.add_user(MGR2, name="Mo Manager", tz="America/Chicago")
    return slack


def deliver(slack, clock) -> None:
    """Deliver everything due, letting the per-conversation pacing (a burst a few seconds)
    pass: frozen time would otherwise hold the rest of a burst forever."""
    for _ in range(4):
        slack.deliver()
        clock.tick(3)


def text_of(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["text"]


def signals(services) -> list[Signal]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(Signal).order_by(Signal.id)))


def dms(slack, user) -> list[str]:
    return [f"{m['text']} {m.get('blocks')}" for m in slack.standin.dm_messages(user)]


def kinds(services, kind) -> list[SignalEvent]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(SignalEvent).where(SignalEvent.kind == kind)
                                    .order_by(SignalEvent.id)))


def mention(user: str, name: str = "x") -> str:
    return f"<@{user}|{name}>"


def test_a_fortnight_with_a_cover(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        slack.log_signal(account="Before Holiday")
        slack.deliver()
        clock.move_to("2026-11-23 15:00:00")
        answer = text_of(slack.command(AE, f"away until 2026-12-06 cover {mention(AE2)}"))
        assert "away 23 Nov–6 Dec" in answer and "acting AE" in answer
        slack.deliver()
        [before] = signals(slack.services)
        assert before.ae_id == AE and before.acting_ae_id == AE2  # owner of record kept
        assert any("Covering for" in t and "until 6 Dec" in t for t in dms(slack, AE2))
        assert any("acting AE" in t and f"<@{AE2}>" in t for t in dms(slack, CSM))

        clock.move_to("2026-11-24 15:00:00")
        ae_before = len(slack.standin.dm_messages(AE))
        slack.log_signal(account="During Holiday")
        slack.deliver()
        new = signals(slack.services)[1]
        assert new.ae_id == AE and new.acting_ae_id == AE2
        assert len(slack.standin.dm_messages(AE)) == ae_before  # nothing pages the away AE
        card_to_cover = [t for t in dms(slack, AE2) if "During Holiday" in t]
        assert card_to_cover and "New expansion hand-off" in card_to_cover[0]
        assert "Covering for" in card_to_cover[0] and "until 6 Dec" in card_to_cover[0]

        slack.press(card.ACKNOWLEDGE, new.id, AE2)  # the acting AE may press the buttons
        slack.deliver()
        assert signals(slack.services)[1].stage == "acknowledged"
        slack.press(card.ACKNOWLEDGE, new.id, "U0STRANGER")
        assert signals(slack.services)[1].stage == "acknowledged"

        # The first signal was never acknowledged: its clock ran on and was missed while
        # the cover held it. The cover's manager hears, and the message names both.
        slack.sweep()
        slack.deliver()
        with slack.services.unit_of_work() as session:
            escalation = session.scalars(select(Escalation).where(
                Escalation.level == 1, Escalation.signal_id == before.id)
                .order_by(Escalation.id)).first()  # the acknowledge clock, missed first
            assert escalation.ae_id == AE2
            assert escalation.to_ids == {"users": [MGR2]}
            missed = session.get(Deadline, escalation.deadline_id)
            assert missed.held_by == AE2 and missed.owner_id == AE
        page = [t for t in dms(slack, MGR2) if "Missed SLA" in t][0]
        assert f"<@{AE2}> (acting AE for <@{AE}>, who is away)" in page
        assert not [t for t in dms(slack, MGR) if "Missed SLA" in t]

        clock.move_to("2026-11-30 15:00:00")  # the digest of the first week counts the cover
        from tests.handlers.test_digest import preview

        digest = str(preview(slack, ADMIN))
        assert "Covered hand-offs" in digest and "2 (▲2 vs last week)" in digest
        assert "away: Alex AE (cover Avery AE)" in digest
        with slack.services.unit_of_work() as session:
            from service.digest import compute_digest, week_bounds

            start, end = week_bounds(slack.services.now(), slack.services.config)
            figures = compute_digest(session, slack.services.config, start, end,
                                     slack.services.now())
        holders = {row.ae_id for row in figures.week.per_ae}
        assert holders == {AE2}  # every clock ran out (or was met) while the cover held it

        clock.move_to(BACK_AT)  # the fortnight ends by itself: the sweep hands back
        slack.sweep()
        slack.sweep()
        deliver(slack, clock)
    assert [s.acting_ae_id for s in signals(slack.services)] == [None, None]
    [summary] = [t for t in dms(slack, AE) if "Welcome back" in t]
    assert "During Holiday" in summary and "Before Holiday" in summary
    assert f"acknowledged by <@{AE2}>" in summary and "escalated" in summary
    assert "2 open hand-offs are back with you" in summary
    assert any("is back" in t for t in dms(slack, AE2)), dms(slack, AE2)[-3:]
    assert len(kinds(slack.services, "away_ended")) == 1
    assert slack.standin.duplicates() == []
    assert not slack.standin.rejections


def test_a_fortnight_without_a_cover_goes_to_the_manager_at_once(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        slack.log_signal(account="Before Holiday")
        slack.deliver()
        answer = text_of(slack.command(AE, "away until 2026-12-06"))
        assert "No cover" in answer
        slack.deliver()
        [held] = [t for t in dms(slack, MGR) if "Before Holiday" in t]
        assert "away until 6 Dec with no cover" in held and card.REASSIGN in held

        clock.move_to("2026-11-24 15:00:00")
        slack.log_signal(account="During Holiday")
        slack.deliver()
        new = signals(slack.services)[1]
        assert new.acting_ae_id == MGR
        [at_once] = [t for t in dms(slack, MGR) if "During Holiday" in t]
        assert "New expansion hand-off" in at_once and "reassign" in at_once
        assert any("went to their manager" in t for t in dms(slack, CSM))

        view = slack.press_for_modal(card.REASSIGN, new.id, MGR)
        slack.submit(view, MGR, {"new_ae": AE2, "reason": "Alex is on holiday"})
        slack.deliver()
        moved = signals(slack.services)[1]
        assert (moved.ae_id, moved.acting_ae_id) == (AE2, None)
        assert any("During Holiday" in t and "Reassigned to you" in t for t in dms(slack, AE2))

        clock.move_to(BACK_AT)
        slack.sweep()
        slack.deliver()
    assert signals(slack.services)[0].acting_ae_id is None
    [summary] = [t for t in dms(slack, AE) if "Welcome back" in t]
    assert "Before Holiday" in summary


def test_a_manager_away_during_an_escalation(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        answer = text_of(slack.command(MGR, f"away until 2026-11-24 cover {mention(MGR2)}"))
        assert "away" in answer
        slack.log_signal(account="Covered Manager")
        slack.deliver()
        clock.move_to("2026-11-23 18:00:01")  # the 4 h acknowledge window is over
        slack.sweep()
        slack.deliver()
        with slack.services.unit_of_work() as session:
            [escalation] = session.scalars(select(Escalation)).all()
        assert escalation.to_ids == {"users": [MGR2]} and escalation.reason == "cover"
        [page] = [t for t in dms(slack, MGR2) if "Missed SLA" in t]
        assert "you cover for their manager" in page
        [signal] = signals(slack.services)
        view = slack.press_for_modal(card.REASSIGN, signal.id, MGR2)  # the acting manager acts
        slack.submit(view, MGR2, {"new_ae": AE2, "reason": "Covering for Morgan"})
        slack.deliver()
        assert signals(slack.services)[0].ae_id == AE2

        text_of(slack.command(MGR, "back"))
        text_of(slack.command(MGR2, "away until 2026-11-30"))  # no cover: one level up
        slack.log_signal(account="Manager Away", ae=AE2)
        slack.deliver()
        clock.move_to("2026-11-23 22:00:02")
        slack.sweep()
        slack.deliver()
        with slack.services.unit_of_work() as session:
            last = session.scalars(select(Escalation).order_by(Escalation.id.desc())).first()
        assert last.to_ids == {"users": [VP]} and last.reason == "manager_away"
    assert any("one level up" in t for t in dms(slack, VP))


def test_clear_answers_for_what_cannot_be(away_slack):
    slack = away_slack
    with freeze_time(START):
        with slack.services.unit_of_work() as session:
            session.add(Person(slack_id="U0GONE0001", deactivated=True))
        slack.log_signal()  # the CSM is known as one now
        cases = [
            (f"away until 2026-12-06 cover {mention(CSM)}", "a CSM"),
            ("away until 24/12/2026", "is not a date"),
            ("away until 2026-11-20", "already passed"),
            ("away from 2026-12-10 until 2026-12-01", "on or before"),
            (f"away until 2026-12-06 cover {mention(AE)}", "someone else"),
            (f"away until 2026-12-06 cover {mention('U0GONE0001')}", "deactivated"),
            (f"away until 2026-12-06 cover {mention(MGR)}", "a manager"),
            ("away until 2026-12-06 cover dana", "@mention"),
            ("away next week", "could not read"),
            (f"away {mention(AE2)} until 2026-12-06", "Only they"),
            ("back", "not away"),
        ]
        for text, expected in cases:
            body = slack.command(AE, text).json()
            assert body["response_type"] == "ephemeral"
            assert expected in body["text"], (text, body["text"])
        text_of(slack.command(AE2, "away from 2026-12-01 until 2026-12-10"))
        clash = text_of(slack.command(AE, f"away until 2026-12-06 cover {mention(AE2)}"))
        assert "away themselves 1 Dec–10 Dec" in clash
        text_of(slack.command(AE, "away until 2026-12-06"))
        again = text_of(slack.command(AE, "away from 2026-12-05 until 2026-12-08"))
        assert "Changed: you are away 23 Nov–8 Dec" in again  # under way: keeps its first day
        by_manager = text_of(slack.command(MGR2, f"away {mention(AE2)} from 2026-12-20 "
                                                "until 2026-12-24"))
        assert f"<@{AE2}> is away 20 Dec–24 Dec" in by_manager
        assert "overlap two" in text_of(slack.command(AE2, "away until 2026-12-25"))
        by_admin = text_of(slack.command(ADMIN, f"back {mention(AE2)}"))
        assert "Cancelled" in by_admin
    with slack.services.unit_of_work() as session:
        periods = session.scalars(select(AwayPeriod).order_by(AwayPeriod.id)).all()
        assert [(p.person_id, p.set_by) for p in periods] == [(AE2, AE2), (AE, AE), (AE2, MGR2)]
    assert len(kinds(slack.services, "away_set")) == 3


def test_a_period_from_a_future_day_begins_and_ends_by_itself(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        text_of(slack.command(AE, f"away from 2026-11-25 until 2026-11-26 cover {mention(AE2)}"))
        slack.log_signal(account="Before It Starts")
        slack.deliver()
        assert signals(slack.services)[0].acting_ae_id is None
        clock.move_to("2026-11-25 05:00:00")  # midnight in New York: the first day
        slack.sweep()
        slack.deliver()
        assert signals(slack.services)[0].acting_ae_id == AE2
        assert len(kinds(slack.services, "away_began")) == 1
        clock.move_to("2026-11-26 12:00:00")
        text_of(slack.command(AE, "back"))  # home early
        slack.sweep()
        slack.deliver()
    assert signals(slack.services)[0].acting_ae_id is None
    assert len([t for t in dms(slack, AE) if "Welcome back" in t]) == 1


def test_the_home_tab_form_and_the_back_button(away_slack):
    from blocks.home import END_AWAY, OPEN_AWAY
    from standin import requests as slack_requests

    def home_text(view):
        return str(view["blocks"])

    slack = away_slack

    def open_home(slack, user):
        slack.post(slack_requests.event_callback(
            slack.secret, event=slack_requests.app_home_opened(user)))
        deliver(slack, clock)
        return slack.standin.published_home(user)

    with freeze_time(START) as clock:
        slack.log_signal(account="Queue Item")
        slack.deliver()
        home = open_home(slack, AE)
        assert OPEN_AWAY in home_text(home)
        view = slack.press_for_modal(OPEN_AWAY, "away", AE)
        wrong = slack.submit(view, AE, {"last": "2026-11-20"}).json()
        assert "already passed" in wrong["errors"]["last"]
        wrong = slack.submit(view, AE, {"last": "2026-12-06", "cover": AE}).json()
        assert "someone else" in wrong["errors"]["cover"]
        wrong = slack.submit(view, AE, {"last": "2026-12-06", "cover": MGR}).json()
        assert "a manager" in wrong["errors"]["cover"]
        done = slack.submit(view, AE, {"last": "2026-12-06", "cover": AE2,
                                       "note": "Skiing <3"})
        assert done.status_code == 200 and not done.content
        deliver(slack, clock)
        assert "You are away 23 Nov–6 Dec" in home_text(open_home(slack, AE))
        cover_home = home_text(open_home(slack, AE2))
        assert "Covering for" in cover_home and "Queue Item" in cover_home
        assert "acting for" in cover_home
        manager_home = home_text(open_home(slack, MGR))
        assert "Away (under way or ahead)" in manager_home
        assert f"<@{AE}> 23 Nov–6 Dec" in manager_home
        assert any("Skiing &lt;3" in t for t in dms(slack, AE2))
        admin = text_of(slack.command(ADMIN, "admin show"))
        assert f"<@{AE}> 23 Nov–6 Dec, cover <@{AE2}>" in admin and "*now*" in admin
        assert "Queue Item" in str(slack.command(AE2, "list").json())

        clock.move_to("2026-11-25 15:00:00")
        slack.press(END_AWAY, AE, AE)  # "I'm back"
        deliver(slack, clock)
        assert "You are away" not in home_text(open_home(slack, AE))
    assert signals(slack.services)[0].acting_ae_id is None
    assert len([t for t in dms(slack, AE) if "Welcome back" in t]) == 1
    assert not slack.standin.rejections


def test_reminders_go_to_whoever_holds_the_hand_off(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        text_of(slack.command(AE, f"away until 2026-12-06 cover {mention(AE2)}"))
        slack.log_signal(account="Covered")
        deliver(slack, clock)
        clock.move_to("2026-11-23 16:00:01")  # half of the 4 h acknowledge window
        slack.sweep()
        deliver(slack, clock)
        [covered] = [t for t in dms(slack, AE2) if "Reminder: acknowledge" in t]
        assert f"(covering for <@{AE}>)" in covered and "Covered" in covered
        assert not [t for t in dms(slack, AE) if "Reminder" in t]

        text_of(slack.command(AE, "back"))
        text_of(slack.command(MGR, f"away {mention(AE)} until 2026-11-24"))  # no cover
        slack.log_signal(account="Held")
        deliver(slack, clock)
        clock.move_to("2026-11-23 18:05:00")  # half of the second one's window
        slack.sweep()
        deliver(slack, clock)
    held = [t for t in dms(slack, MGR) if "Reminder: acknowledge" in t and "Held" in t]
    assert held and card.REASSIGN in held[0]
    assert not [t for t in dms(slack, AE) if "Reminder" in t]


def test_the_rules_hold_on_both_databases(services, standin):
    """set, hand-off to the cover, the hand-back once, on SQLite and PostgreSQL (the
    reconcile locks the signals it moves there)."""
    from datetime import date

    from service import away
    from tests.flow import log, worker

    with freeze_time(START) as clock:
        with services.unit_of_work() as session:
            away.set_away(session, services.config, AE, AE, None, date(2026, 12, 6), AE2,
                          None, services.now())
        sid = log(services)
        with services.unit_of_work() as session:
            assert session.get(Signal, sid).acting_ae_id == AE2
            held = session.scalars(select(Deadline.held_by).where(Deadline.signal_id == sid))
            assert set(held) == {AE2}
        clock.move_to(BACK_AT)
        run = worker(services, standin)
        run.sweep_once()
        run.sweep_once()
        with services.unit_of_work() as session:
            assert session.get(Signal, sid).acting_ae_id is None
            [period] = session.scalars(select(AwayPeriod)).all()
            assert period.began_at is not None and period.handed_back_at is not None
        assert len(kinds(services, "away_ended")) == 1


def test_a_new_cover_mid_holiday_takes_over_at_once(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        slack.log_signal(account="Handed Around")
        text_of(slack.command(AE, f"away until 2026-12-06 cover {mention(AE2)}"))
        deliver(slack, clock)
        assert signals(slack.services)[0].acting_ae_id == AE2
        clock.move_to("2026-11-25 15:00:00")
        changed = text_of(slack.command(AE, "away until 2026-12-06"))  # AE2 fell ill: no cover
        assert "Changed" in changed and "No cover" in changed
        deliver(slack, clock)
    assert signals(slack.services)[0].acting_ae_id == MGR
    assert any("no longer cover" in t for t in dms(slack, AE2))
    assert any("Handed Around" in t and "with no cover" in t for t in dms(slack, MGR))
    assert len(kinds(slack.services, "away_changed")) == 1


def test_a_cover_deactivated_mid_holiday_hands_over_to_the_manager(away_slack):
    slack = away_slack
    with freeze_time(START) as clock:
        slack.log_signal(account="Orphaned")
        text_of(slack.command(AE, f"away until 2026-12-06 cover {mention(AE2)}"))
        deliver(slack, clock)
        with slack.services.unit_of_work() as session:
            session.get(Person, AE2).deactivated = True  # as the deliverer marks it
        clock.move_to("2026-11-23 15:00:00")
        slack.sweep()
        deliver(slack, clock)
    assert signals(slack.services)[0].acting_ae_id == MGR
    assert any("Orphaned" in t for t in dms(slack, MGR))
