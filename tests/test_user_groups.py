"""Admins from a Slack user group: read on a schedule, changed by subteam_members_changed,
a failed read keeps the last known members and tells the admins once."""

from __future__ import annotations

import dataclasses

from freezegun import freeze_time
from sqlalchemy import select

from standin import requests as slack_requests
from storage.models import SignalEvent, UserGroup
from tests.people import ADMIN, AE2, SECRET

GROUP = "S0ADMINS1"
OPS = "U0OPS00001"  # in the user group, not in the YAML list


def show(slack, user: str) -> str:
    response = slack.command(user, "admin show")
    assert response.status_code == 200
    return response.json()["text"]


def members_changed(slack, added=(), removed=()):
    event = {"type": "subteam_members_changed", "subteam_id": GROUP, "team_id": "T0TEST",
             "date_previous_update": 1795449600, "date_update": 1795450000,
             "added_users": list(added), "added_users_count": str(len(added)),
             "removed_users": list(removed), "removed_users_count": str(len(removed))}
    return slack.post(slack_requests.event_callback(SECRET, event=event))


def group_events(slack) -> list[dict]:
    with slack.services.unit_of_work() as session:
        rows = session.scalars(select(SignalEvent).where(
            SignalEvent.kind == "group_members_changed").order_by(SignalEvent.id))
        return [e.detail for e in rows]


def with_group(slack):
    slack.standin.add_user(OPS, name="Ops Person")
    slack.standin.set_usergroup(GROUP, [OPS])
    slack.services.config = dataclasses.replace(slack.services.config, admins_group=GROUP)


def test_a_user_group_change_takes_effect(slack):
    with_group(slack)
    with freeze_time("2026-11-23 15:00:00"):
        assert "Only the signalbot admins" in show(slack, OPS)  # not read yet
        slack.sweep()  # the scheduled read
        text = show(slack, OPS)
    assert f"<@{OPS}> (group {GROUP})" in text and f"<@{ADMIN}> (yaml)" in text
    assert f"+<@{OPS}>" in text  # the change, with its source
    [call] = slack.standin.calls_to("usergroups.users.list")
    assert call.params["usergroup"] == GROUP

    with freeze_time("2026-11-23 15:05:00"):  # Slack says: OPS left, AE2 joined
        assert members_changed(slack, added=[AE2], removed=[OPS]).status_code == 200
        assert "Only the signalbot admins" in show(slack, OPS)
        text = show(slack, AE2)
        assert members_changed(slack, added=[AE2], removed=[OPS]).status_code == 200  # again
    assert f"<@{AE2}> (group {GROUP})" in text and "(event)" in text
    assert group_events(slack) == [
        {"group": GROUP, "added": [OPS], "removed": [], "via": "refresh"},
        {"group": GROUP, "added": [AE2], "removed": [OPS], "via": "event"},
    ]
    with freeze_time("2026-11-23 15:10:00"):  # not due yet: Slack is not asked again
        slack.sweep()
    assert len(slack.standin.calls_to("usergroups.users.list")) == 1
    with freeze_time("2026-11-23 15:16:00"):  # the scheduled read brings Slack's list back
        slack.sweep()
    assert slack.services.config.admins == (ADMIN, OPS)
    assert not slack.standin.rejections


def test_a_failed_read_keeps_the_last_members_and_tells_the_admins_once(slack):
    with_group(slack)
    with freeze_time("2026-11-23 15:00:00"):
        slack.sweep()
    slack.standin.scopes.discard("usergroups:read")  # the scope was not granted on reinstall
    for minute in (16, 32):
        with freeze_time(f"2026-11-23 15:{minute}:00"):
            slack.sweep()
            slack.deliver()
    assert slack.services.config.admins == (ADMIN, OPS)  # the last known members stay
    for admin in (ADMIN, OPS):
        told = [m["text"] for m in slack.standin.dm_messages(admin) if GROUP in m["text"]]
        assert len(told) == 1 and "missing_scope" in told[0] and "usergroups:read" in told[0]
    with slack.services.unit_of_work() as session:
        assert session.get(UserGroup, GROUP).last_error.startswith("missing_scope")
    text = show(slack, ADMIN)
    assert "last read failed" in text
    slack.standin.scopes.add("usergroups:read")
    slack.standin.set_usergroup(GROUP, [])  # everyone left the group meanwhile
    with freeze_time("2026-11-23 15:48:00"):
        slack.sweep()
    assert slack.services.config.admins == (ADMIN,)  # the YAML list still works
    with slack.services.unit_of_work() as session:
        group = session.get(UserGroup, GROUP)
        assert group.last_error is None and group.told_at is None


def test_an_unknown_group_is_refused_like_slack_does(slack):
    with_group(slack)
    slack.services.config = dataclasses.replace(slack.services.config, admins_group="S0GONE001")
    with freeze_time("2026-11-23 15:00:00"):
        slack.sweep()
        slack.deliver()
    [told] = [m["text"] for m in slack.standin.dm_messages(ADMIN) if "S0GONE001" in m["text"]]
    assert "no_such_subteam" in told
    assert slack.services.config.admins == (ADMIN,)
