"""Reads and small writes the handlers and the sweep share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, union, update
from sqlalchemy.orm import Session

from protocol.stages import OPEN_STAGES
from storage.bulk import insert_one, insert_one_under
from storage.cache import MISSING, caches_of
from storage.db import begin_writing, insert_for, is_postgres
from storage.lists import in_list
from storage.models import Account, Person, Signal


def name_key(name: str) -> str:
    """How account names are matched: case- and space-insensitive."""
    return " ".join(name.split()).casefold()


# Built once: every submission looks its account up (a statement's construction and cache
# key cost more than running it).
_ACCOUNT_BY_TEXT = select(Account).where(
    or_(Account.crm_id == bindparam("text"), Account.name_key == bindparam("key")))


def find_account(session: Session, text: str) -> Account | None:
    """An account by CRM id or by name."""
    text = text.strip()
    if not text:
        return None
    return session.scalar(_ACCOUNT_BY_TEXT, {"text": text, "key": name_key(text)})


def upsert_account(
    session: Session, name: str, now: datetime, crm_id: str | None = None
) -> Account:
    """The account called `name` (or with `crm_id`), created if new.

    Two CSMs logging the first signals on a new account at once must both succeed: the
    insert skips a conflict and the account is read back, whoever created it.
    """
    account = find_account(session, crm_id) if crm_id else None
    account = account or find_account(session, name)
    if account is None:
        cleaned = " ".join(name.split())
        session.execute(insert_for(session, Account).on_conflict_do_nothing().values(
            name=cleaned, name_key=name_key(cleaned), crm_id=crm_id, created_at=now))
        account = (find_account(session, crm_id) if crm_id else None) or find_account(session, name)
    elif crm_id and not account.crm_id:
        account.crm_id = crm_id
    return account


def insert_signal(session: Session, signal: Signal, account: str, crm_id: str | None,
                  now: datetime) -> Account:
    """Write the new `signal` (its id set, as `insert_one` leaves it) on the account called
    `account` (or with `crm_id`), created if new as `upsert_account` does; returns the account.

    An account known by its name is read in the signal's own INSERT on PostgreSQL (one round
    trip, not two: `insert_one_under`); a CRM id, a new account and SQLite take the two steps.
    """
    text = account.strip()
    if not crm_id and text:
        found = insert_one_under(session, signal, "account", _ACCOUNT_BY_TEXT,
                                 {"text": text, "key": name_key(text)})
        if found is not None:
            return found
    known = upsert_account(session, account, now, crm_id=crm_id)
    signal.account, signal.account_id = known, known.id
    insert_one(session, signal)
    return known


# The AE a form suggests for a new signal on an account: the registry's, else the one its
# latest signal went to (a suggestion only: ownership is the registry's).
_LATEST_AE = (select(Signal.ae_id)
              .where(Signal.account_id == Account.id, Signal.ae_id.is_not(None))
              .order_by(Signal.created_at.desc(), Signal.id.desc())
              .limit(1).correlate(Account).scalar_subquery())
_ACCOUNT_AND_AE = select(Account, func.coalesce(Account.ae_id, _LATEST_AE)).where(
    _ACCOUNT_BY_TEXT.whereclause)


def account_for_form(session: Session, text: str) -> tuple[Account | None, str | None]:
    """An account by CRM id or by name (as `find_account`), and the AE to suggest for a new
    signal on it, read together in one statement; (None, None) when there is none."""
    text = text.strip()
    if not text:
        return None, None
    found = session.execute(_ACCOUNT_AND_AE, {"text": text, "key": name_key(text)}).first()
    return (found[0], found[1]) if found is not None else (None, None)


def person(session: Session, slack_id: str) -> Person:
    """The person with `slack_id`, created (unknown profile) if new, race-free."""
    found = session.get(Person, slack_id)
    if found is None:
        session.execute(insert_for(session, Person).on_conflict_do_nothing().values(
            slack_id=slack_id, deactivated=False))
        found = session.get(Person, slack_id)
    return found


def remember_profile(session: Session, slack_id: str, **columns: Any) -> None:
    """Write what Slack said of a person (profile, DM channel) onto their row: one UPDATE."""
    session.execute(update(Person).where(Person.slack_id == slack_id).values(**columns))


def dm_channels(session: Session, slack_ids: set[str], checked_since: datetime) -> dict[str, str]:
    """The open DM channel of each of `slack_ids` whose profile was checked since
    `checked_since` and who is not deactivated, in one statement (the rest: not known)."""
    if not slack_ids:
        return {}
    return dict(session.execute(_DM_CHANNELS, {"ids": list(slack_ids),
                                               "checked_since": checked_since}).all())


_DM_CHANNELS = select(Person.slack_id, Person.dm_channel).where(
    in_list(Person.slack_id, "ids"), Person.dm_channel.is_not(None),
    Person.deactivated.is_(False),
    Person.profile_checked_at > bindparam("checked_since", type_=Person.profile_checked_at.type))


def ensure_person(session: Session, slack_id: str) -> None:
    """That the person has a row (created, unknown profile, if new). A row seen committed is
    remembered by this process's caches: people are never deleted, so it is not asked again."""
    caches = caches_of(session)
    if caches is not None and caches.people.get(slack_id) is not MISSING:
        return
    if session.get(Person, slack_id) is None:
        person(session, slack_id)  # created in this transaction: not remembered until seen
    elif caches is not None:
        caches.people.put(slack_id, True)


def managers(session: Session, configured: Mapping[str, str]) -> dict[str, str]:
    """The roster in force: the YAML file's roster, overridden by changes an admin made in Slack."""
    roster = dict(configured)
    overrides = session.execute(
        select(Person.slack_id, Person.manager_id).where(Person.manager_set_by.is_not(None))
    )
    for slack_id, manager_id in overrides:
        if manager_id:
            roster[slack_id] = manager_id
        else:
            roster.pop(slack_id, None)
    return roster


def signal_for_update(session: Session, signal_id: int) -> Signal | None:
    """Load a signal so concurrent clicks apply one at a time: row-locked on PostgreSQL, read
    holding the write lock on SQLite (`begin_writing`; a click read before another click's
    commit would be applied on what that click changed)."""
    begin_writing(session)  # SQLite; nothing on PostgreSQL, where the row lock does it
    stmt = select(Signal).where(Signal.id == signal_id)
    if is_postgres(session):
        stmt = stmt.with_for_update(of=Signal)
    return session.scalar(stmt)


def open_signals_for(session: Session, user_id: str, limit: int = 20) -> Sequence[Signal]:
    """Open signals the person logged, owns or acts on (as cover), newest first."""
    return session.scalars(
        select(Signal)
        .where(
            Signal.stage.in_(OPEN_STAGES),
            or_(Signal.csm_id == user_id, Signal.ae_id == user_id,
                Signal.acting_ae_id == user_id),
        )
        .order_by(Signal.created_at.desc())
        .limit(limit)
    ).all()


def count_open_signals_for(session: Session, user_id: str) -> int:
    """How many open signals the person logged, owns or acts on (as cover)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Signal)
            .where(
                Signal.stage.in_(OPEN_STAGES),
                or_(Signal.csm_id == user_id, Signal.ae_id == user_id,
                Signal.acting_ae_id == user_id),
            )
        )
        or 0
    )


def owners_in_stages(session: Session, stages: Sequence[str]) -> set[str]:
    """The AEs holding a signal in any of `stages`, in one statement.

    A loose index scan of `ix_signals_stage_ae_id`: per stage, the smallest AE id, then the
    next one above it, and so on (one index probe per AE, not one row per signal).
    """
    walks = []
    for i, stage in enumerate(stages):
        in_stage = (Signal.stage == stage, Signal.ae_id.is_not(None))
        walk = select(func.min(Signal.ae_id).label("ae")).where(*in_stage).cte(
            f"owners_{i}", recursive=True)
        above = select(func.min(Signal.ae_id)).where(*in_stage, Signal.ae_id > walk.c.ae)
        walk = walk.union_all(select(above.scalar_subquery()).where(walk.c.ae.is_not(None)))
        walks.append(select(walk.c.ae).where(walk.c.ae.is_not(None)))
    return set(session.scalars(union(*walks))) if walks else set()
