"""SLA policies per team and segment, through signed requests and the stand-in, time frozen.

Two teams with different policies; a policy snapshot that survives a config change and a
restart; public holidays of two countries (Christmas and a bank holiday in England,
Thanksgiving for a US AE whose manager is in London).
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select
from sqlalchemy.orm import undefer

from bot.config import load_config
from protocol.config import Config
from service import signals as ops
from service.accounts import import_csv
from standin import requests as slack_requests
from storage.models import Deadline, Person, SignalEvent
from tests.conftest import make_services
from tests.flow import act, outbox_count
from tests.handlers.test_card_actions import only_signal
from tests.handlers.test_digest import preview
from tests.people import ADMIN, AE, AE2, MGR, SECRET
from tests.support import SlackDriver

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
CONFIG = """
roster:
  managers: {U0AE00001: U0MGR0001, U0AE00002: U0MGR0001, U0MGR0001: U0VP00001}
  admins: [U0REVOPS1]
  holidays:
    U0AE00001: {country: GB, subdivision: ENG}
    U0AE00002: {country: US}
    U0MGR0001: {country: GB, subdivision: ENG}
digest: {channel: C0DIGEST01}
business_hours: {enabled: true}
teams:
  - {name: Enterprise, members: [U0AE00001]}
  - {name: SMB, members: [U0AE00002]}
sla:
  policies:
    - name: Enterprise weekly
      match: {teams: [Enterprise], urgency: [hot, warm]}
      hot: {ack: 8h, contact: 3d}
      warm: {ack: 16h, contact: 5d}
      reminders: [0.5]
    - name: SMB pod
      match: {teams: [SMB]}
      hot: {ack: 2h, contact: 8h}
      warm: {ack: 8h, contact: 1d}
      watch: {review: 3d}
"""


def config_from(tmp_path, text: str) -> Config:
    path = tmp_path / "signalbot.yml"
    path.write_text(text)
    return load_config(path)


@pytest.fixture
def config(tmp_path) -> Config:
    return config_from(tmp_path, CONFIG)


@pytest.fixture
def people(sqlite_services, standin):
    """Where everyone works: in Slack's profiles (the stand-in's) and as the bot knows them."""
    for user, zone in ((AE, "Europe/London"), (AE2, "America/New_York"), (MGR, "Europe/London")):
        standin.add_user(user, tz=zone)
    with sqlite_services.unit_of_work() as session:
        session.add_all([Person(slack_id=AE, tz="Europe/London", deactivated=False),
                         Person(slack_id=AE2, tz="America/New_York", deactivated=False),
                         Person(slack_id=MGR, tz="Europe/London", deactivated=False)])


def clocks(services, ae: str | None = None) -> list[Deadline]:
    with services.unit_of_work() as session:
        stmt = select(Deadline).options(undefer(Deadline.policy)).order_by(Deadline.id)
        if ae:
            stmt = stmt.where(Deadline.owner_id == ae)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def ack_due(services, ae: str, tz: ZoneInfo) -> str:
    (ack,) = [d for d in clocks(services, ae) if d.clock == "ack"][-1:]
    return local(ack.due_at, tz)


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def submit(slack, **values) -> None:
    response = slack.log_signal(**values)
    assert response.status_code == 200 and response.text == "", response.text


def test_two_teams_run_under_their_own_policies_named_on_card_home_and_digest(slack, people):
    with freeze_time("2026-11-30 14:00:00") as clock:  # Monday, 14:00 London, 09:00 New York
        submit(slack, ae=AE, account="Globex")
        submit(slack, ae=AE2, account="Initech")
        submit(slack, ae=AE2, account="Umbrella", urgency="watch")
        assert ack_due(slack.services, AE, LONDON) == "Tue 2026-12-01 14:00"  # 8 working h
        assert ack_due(slack.services, AE2, NEW_YORK) == "Mon 2026-11-30 11:00"  # 2 working h
        names = {(d.owner_id, d.clock): d.policy_name for d in clocks(slack.services)}
        assert names == {(AE, "ack"): "Enterprise weekly", (AE, "contact"): "Enterprise weekly",
                         (AE2, "ack"): "SMB pod", (AE2, "contact"): "SMB pod",
                         (AE2, "review"): "SMB pod"}
        with slack.services.unit_of_work() as session:
            events = session.scalars(select(SignalEvent.detail).where(
                SignalEvent.kind == "handed_off").order_by(SignalEvent.id)).all()
        assert events[0]["sla_policy"] == {"policy": "Enterprise weekly", "team": "Enterprise",
                                           "urgency": "hot", "arr": None, "plan": None,
                                           "segment": None}
        assert [e["sla_policy"]["policy"] for e in events] == [
            "Enterprise weekly", "SMB pod", "SMB pod"]
        assert slack.deliver().held == 0
        card = json.dumps(slack.standin.dm_messages(AE)[-1]["blocks"])
        assert "Acknowledge by" in card and "policy *Enterprise weekly*" in card
        assert "policy *SMB pod*" in json.dumps(slack.standin.dm_messages(AE2)[-1]["blocks"])
        home = open_home(slack, AE2)
        assert "policy *SMB pod*" in json.dumps(home["blocks"])
        clock.move_to("2026-12-08 15:00:00")  # the next week: the digest of the last one
        shown = preview(slack, ADMIN)
    text = json.dumps(shown["blocks"])
    assert "By SLA policy" in text
    assert "*Enterprise weekly*: acknowledged 0/1" in text and "*SMB pod*: acknowledged 0/1" in text


def open_home(slack, user: str) -> dict:
    response = slack.post(slack_requests.event_callback(
        slack.secret, event=slack_requests.app_home_opened(user)))
    assert response.status_code == 200, response.text
    assert slack.deliver().held == 0
    return slack.standin.published_home(user)


def test_a_running_clock_keeps_its_policy_through_a_config_change_and_a_restart(
    slack, people, tmp_path, sqlite_url, standin
):
    with freeze_time("2026-11-30 09:00:00") as clock:  # Monday 09:00 London
        submit(slack, ae=AE, account="Globex")
        # RevOps tightens the Enterprise policy to 1h; the running clock keeps 8h
        changed = CONFIG.replace("hot: {ack: 8h", "hot: {ack: 1h")
        slack.services.config = config_from(tmp_path, changed)
        submit(slack, ae=AE, account="Initech")
        first, second = [d for d in clocks(slack.services, AE) if d.clock == "ack"]
        assert local(first.due_at, LONDON) == "Mon 2026-11-30 17:00"
        assert local(second.due_at, LONDON) == "Mon 2026-11-30 10:00"
        assert first.policy["windows"]["hot"]["ack"] == 8 * 3600
        # a restart: a new process reads the new file and the same database
        restarted = make_services(sqlite_url, standin, slack.services.config)
        again = SlackDriver.start(restarted, standin, SECRET)
        try:
            reminded = f"card:{first.signal_id}:ae:{AE}:1:remind:{first.id}:"
            clock.move_to("2026-11-30 09:45:00")  # the new clock: 0.5 of its 1h
            again.sweep()
            assert again.deliver().held == 0
            assert "Reminder: acknowledge" in json.dumps(standin.dm_messages(AE)[-1])
            clock.move_to("2026-11-30 12:59:00")
            again.sweep()
            assert {e.deadline_id for e in escalations_of(restarted)} == {second.id}
            assert outbox_count(restarted, reminded) == 0
            clock.move_to("2026-11-30 13:00:00")  # the old clock: 0.5 of its 8h
            again.sweep()
            assert outbox_count(restarted, reminded) == 1
            clock.move_to("2026-11-30 16:59:00")
            again.sweep()
            assert {e.deadline_id for e in escalations_of(restarted)} == {second.id}
            clock.move_to("2026-11-30 17:00:00")  # the 8h window, as it started
            again.sweep()
            missed = [(e.deadline_id, e.level) for e in escalations_of(restarted)]
            assert (first.id, 1) in missed
        finally:
            again.stop()
            restarted.engine.dispose()


def escalations_of(services):
    from storage.models import Escalation

    with services.unit_of_work() as session:
        rows = list(session.scalars(select(Escalation).order_by(Escalation.id)))
        session.expunge_all()
        return rows


def test_christmas_and_a_bank_holiday_in_england_stop_the_clock(slack, people):
    with freeze_time("2026-08-28 15:00:00"):  # Friday 16:00 London, before the bank holiday
        submit(slack, ae=AE, account="Globex")
    assert ack_due(slack.services, AE, LONDON) == "Tue 2026-09-01 16:00"  # 1h Fri, 7h Tue
    with freeze_time("2026-12-24 15:00:00"):  # Christmas Eve, 15:00 London
        submit(slack, ae=AE, account="Initech")
    # Christmas (Fri) and Boxing Day observed (Mon 28th) are holidays in England
    assert ack_due(slack.services, AE, LONDON) == "Tue 2026-12-29 15:00"


def test_a_us_holiday_stops_the_us_ae_s_clock_but_not_the_uk_manager_s(slack, people):
    with freeze_time("2026-11-25 19:00:00") as clock:  # Wed 14:00 New York, 19:00 London
        submit(slack, ae=AE2, account="Initech")
        assert ack_due(slack.services, AE2, NEW_YORK) == "Wed 2026-11-25 16:00"
        clock.move_to("2026-11-25 21:00:00")  # due: escalated to the manager in London
        slack.sweep()
        assert [e.level for e in escalations_of(slack.services)] == [1]
        # the manager has one more ack window (2h) in their own working time: Thanksgiving is
        # a working day in London, so it climbs on Thursday 11:00 London, not on Friday
        clock.move_to("2026-11-26 10:59:00")
        slack.sweep()
        assert [e.level for e in escalations_of(slack.services)] == [1]
        clock.move_to("2026-11-26 11:00:00")
        slack.sweep()
        assert [e.level for e in escalations_of(slack.services)] == [1, 2]
        clock.move_to("2026-11-26 15:00:00")  # Thanksgiving, 10:00 New York
        submit(slack, ae=AE2, account="Umbrella")
    # the US AE's own clock skips Thanksgiving: 2 working hours from Friday 09:00
    assert ack_due(slack.services, AE2, NEW_YORK) == "Fri 2026-11-27 11:00"


def test_the_policy_can_match_on_the_account_s_plan_and_segment(slack, people, tmp_path):
    text = CONFIG.replace("  policies:\n", """  policies:
    - name: Strategic accounts
      match: {segments: [strategic], arr: {min: 100000}}
      hot: {ack: 1d, contact: 5d}
      warm: {ack: 2d, contact: 10d}
      watch: {review: 14d}
""")
    slack.services.config = config_from(tmp_path, text)
    with slack.services.unit_of_work() as session:  # the registry, as `accounts import` fills it
        csv = io.StringIO("name,plan,segment\nGlobex,Enterprise,Strategic\n")
        report = import_csv(session, csv, slack.services.now())
        assert report.errors == []
    with freeze_time("2026-11-30 14:00:00"):
        submit(slack, ae=AE2, account="Globex", est_arr="250000")
        submit(slack, ae=AE2, account="Globex", est_arr="50000")
    names = [d.policy_name for d in clocks(slack.services, AE2) if d.clock == "ack"]
    assert names == ["Strategic accounts", "SMB pod"]


def test_admin_show_lists_the_teams_and_the_policies_in_order(slack):
    text = slack.command(ADMIN, "admin show").json()["text"]
    assert f"• *Enterprise*: <@{AE}>" in text and f"• *SMB*: <@{AE2}>" in text
    policies = text[text.index("*SLA policies*"):]
    assert ("1. *Enterprise weekly* — team Enterprise; urgency hot, warm — hot ack 8h/contact "
            "3d; warm ack 16h/contact 5d — Mon,Tue,Wed,Thu,Fri 09:00-17:00 — reminders at 0.5;"
            in policies)
    assert policies.index("2. *SMB pod* — team SMB —") < policies.index("3. *default*")


def test_a_reassignment_starts_clocks_under_the_new_ae_s_policy(slack, people):
    with freeze_time("2026-11-30 14:00:00"):
        submit(slack, ae=AE, account="Globex")
        signal = only_signal(slack.services)
        act(slack.services, ops.reassign, signal.id, AE2, "AE2 covers Globex", MGR)
    ack = [d for d in clocks(slack.services) if d.clock == "ack"]
    assert [(d.owner_id, d.policy_name, d.state) for d in ack] == [
        (AE, "Enterprise weekly", "cancelled"), (AE2, "SMB pod", "open")]
    with slack.services.unit_of_work() as session:
        detail = session.scalars(select(SignalEvent.detail).where(
            SignalEvent.kind == "reassigned")).one()
    assert detail["sla_policy"]["policy"] == "SMB pod" and detail["sla_policy"]["team"] == "SMB"
