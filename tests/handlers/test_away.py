"""The time-away listeners called directly, as Bolt calls them, and the form at its largest."""

from __future__ import annotations

from freezegun import freeze_time
from sqlalchemy import select

from blocks.home import END_AWAY, OPEN_AWAY
from blocks.modal import away_modal
from handlers.away import (
    away_command,
    back_command,
    end_away_button,
    open_away_form,
    parse_away,
    submit_away_form,
)
from standin.server import validate_view
from storage.models import AwayPeriod
from tests.handlers.direct import Acks, context_for, outbox, press, submission
from tests.people import AE, AE2, MGR

NOW = "2026-11-23 14:00:00"


def periods(services) -> list[AwayPeriod]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(AwayPeriod).order_by(AwayPeriod.id)))


def test_parse_away_reads_who_when_cover_and_note():
    asked = parse_away(f"away <@{AE}|alex> from 2026-12-14 until 2026-12-24 cover <@{AE2}|d> "
                       "Skiing, back on the 28th", MGR)
    assert (asked.person, asked.cover, asked.note) == (AE, AE2, "Skiing, back on the 28th")
    assert (asked.first.isoformat(), asked.last.isoformat()) == ("2026-12-14", "2026-12-24")
    mine = parse_away("away until 2026-12-24", AE)
    assert (mine.person, mine.first, mine.cover, mine.note) == (AE, None, None, None)


def test_open_away_form_builds_a_valid_view_for_the_presser(sqlite_services):
    body = press(OPEN_AWAY, "away", AE)
    context = context_for(body, sqlite_services)
    ack = Acks()
    open_away_form(ack, context)
    assert ack.once == ((), {})
    view = context["modal_view"]
    validate_view(view)
    person = next(b for b in view["blocks"] if b.get("block_id") == "person")
    assert person["element"]["initial_user"] == AE


def test_submit_away_form_saves_or_answers_next_to_the_field(sqlite_services):
    view = {**away_modal(AE), "id": "V0AWAY0001"}
    with freeze_time(NOW):
        ack = Acks()
        submit_away_form(ack, submission(view, AE, {"first": "2026-12-10", "last": "2026-12-01"})
                         ["view"], AE, sqlite_services)
        assert "on or before" in ack.once[1]["errors"]["first"]
        ack = Acks()
        submit_away_form(ack, submission(view, AE, {"last": "2026-12-06", "cover": AE2})["view"],
                         AE, sqlite_services)
        assert ack.once == ((), {})
    [period] = periods(sqlite_services)
    assert (period.person_id, period.cover_id, period.set_by) == (AE, AE2, AE)


def test_end_away_button_ends_it_or_says_why_not(sqlite_services):
    with freeze_time(NOW):
        ack = Acks()
        end_away_button(ack, press(END_AWAY, AE, AE), AE, sqlite_services)
        assert ack.once == ((), {})
        assert "not away" in outbox(sqlite_services, "slack.ephemeral")[-1].payload["text"]
        away_command(sqlite_services, AE, "away until 2026-12-06")
        ack = Acks()
        end_away_button(ack, press(END_AWAY, AE, AE), AE, sqlite_services)
        assert ack.once == ((), {})
    [period] = periods(sqlite_services)
    assert period.ended_by == AE and period.handed_back_at is not None


def test_away_and_back_commands_answer_ephemerally(sqlite_services):
    with freeze_time(NOW):
        assert "not away" in away_command(sqlite_services, AE, "away")["text"]
        done = away_command(sqlite_services, AE, f"away until 2026-12-06 cover <@{AE2}>")
        assert done["response_type"] == "ephemeral" and "acting AE" in done["text"]
        assert "23 Nov–6 Dec" in away_command(sqlite_services, AE, "away")["text"]
        assert "Usage" in back_command(sqlite_services, AE, "back later")["text"]
        assert "back" in back_command(sqlite_services, AE, "back")["text"]
