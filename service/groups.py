"""Slack user groups the config names: their last known members, kept in step with Slack.

A group is read on a schedule (`roster.group_refresh`) and changed at once by a
`subteam_members_changed` event. Every change of membership is a `SignalEvent`
(`group_members_changed`, with its source); a read that fails keeps the last known members
and tells the admins once, until a read works again. Reading Slack itself is the caller's
(`bot.groups`): these functions are the units of work around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.text import escape
from protocol.config import Config
from protocol.groups import configured_groups
from service import outgoing
from storage.db import insert_for, is_postgres
from storage.models import SignalEvent, UserGroup
from storage.outbox import Outgoing

CHANGED = "group_members_changed"
READ, EVENT = "refresh", "event"  # how a change was learnt


def memberships(session: Session) -> dict[str, tuple[str, ...]]:
    """Every stored group's last known members."""
    return {g.id: tuple(g.members.get("users", [])) for g in session.scalars(select(UserGroup))}


def groups_due(session: Session, config: Config, now: datetime) -> list[str]:
    """The configured groups to read from Slack now (never read, or due again)."""
    known = {g.id: g for g in session.scalars(select(UserGroup))}
    return [gid for gid in configured_groups(config)
            if gid not in known or known[gid].next_read_at <= now]


def _locked(session: Session, group_id: str, now: datetime) -> UserGroup:
    """The group's row, created empty if new, row-locked on PostgreSQL."""
    session.execute(insert_for(session, UserGroup).on_conflict_do_nothing().values(
        id=group_id, members={"users": []}, next_read_at=now, updated_at=now))
    stmt = select(UserGroup).where(UserGroup.id == group_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    group = session.scalar(stmt.execution_options(populate_existing=True))
    assert group is not None  # inserted above if it was missing
    return group


def read_succeeded(session: Session, config: Config, group_id: str, users: Sequence[str],
                   now: datetime) -> bool:
    """Slack listed the group's members: store them; True when membership changed."""
    group = _locked(session, group_id, now)
    changed = _set_members(session, group, set(users), now, READ)
    group.read_at = now
    group.next_read_at = now + config.group_refresh
    group.last_error = None
    group.told_at = None
    return changed


def read_failed(session: Session, config: Config, group_id: str, error: str,
                now: datetime) -> list[Outgoing]:
    """A read failed: keep the last known members, try again at the next refresh, and tell
    the admins (`config.admins`: the YAML ones and the group as last known) once."""
    group = _locked(session, group_id, now)
    group.last_error = error[:500]
    group.next_read_at = now + config.group_refresh
    group.updated_at = now
    if group.told_at is not None:
        return []
    group.told_at = now
    kept = len(group.members.get("users", []))
    text = (f":warning: signalbot could not read the Slack user group `{escape(group_id)}` "
            f"(`{escape(error[:200])}`). Its last known {kept} member(s) keep their role; "
            f"it is read again every {_span(config)}. You hear this once until a read works.")
    return [outgoing.notice(f"group-failed:{group_id}:{int(now.timestamp())}:{admin}", admin,
                            text) for admin in config.admins]


def members_changed(session: Session, config: Config, group_id: str, added: Iterable[str],
                    removed: Iterable[str], now: datetime) -> bool:
    """A `subteam_members_changed` event: apply its delta to a configured group (others are
    not ours to track); True when membership changed."""
    if group_id not in configured_groups(config):
        return False
    group = _locked(session, group_id, now)
    users = (set(group.members.get("users", [])) | set(added)) - set(removed)
    return _set_members(session, group, users, now, EVENT)


def _set_members(session: Session, group: UserGroup, users: set[str], now: datetime,
                 via: str) -> bool:
    before = set(group.members.get("users", []))
    if users == before:
        return False
    group.members = {"users": sorted(users)}
    group.updated_at = now
    session.add(SignalEvent(signal_id=None, at=now, actor_id=None, kind=CHANGED, detail={
        "group": group.id, "added": sorted(users - before), "removed": sorted(before - users),
        "via": via}))
    return True


def recent_changes(session: Session, limit: int = 5) -> list[dict]:
    """The latest membership changes, newest first: {"at", "group", "added", "removed", "via"}."""
    rows = session.scalars(select(SignalEvent).where(SignalEvent.kind == CHANGED)
                           .order_by(SignalEvent.at.desc(), SignalEvent.id.desc()).limit(limit))
    return [{"at": e.at, **(e.detail or {})} for e in rows]


def group_status(session: Session, config: Config) -> list[dict]:
    """Each configured group: members known, last read, last error."""
    known = {g.id: g for g in session.scalars(select(UserGroup))}
    out = []
    for gid in configured_groups(config):
        group = known.get(gid)
        out.append({"group": gid, "members": len(group.members.get("users", [])) if group else 0,
                    "read_at": group.read_at if group else None,
                    "error": group.last_error if group else None})
    return out


def _span(config: Config) -> str:
    minutes = int(config.group_refresh.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes}m"
