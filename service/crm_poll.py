"""Reading the CRM back: the periodic poll for deals changed since the high-water mark.

`poll_crm` runs with every sweep (`bot.worker.PERIODIC`) and does nothing until
`crm.poll_interval` has passed since the last poll. One replica takes the poll (a lease set by
a conditional UPDATE on `CrmPoll`), asks the CRM for one page at a time outside any
transaction, and applies each page in its own unit of work together with the new high-water
mark (the last applied deal's modification time). A 429 or 5xx ends the poll where it is: the
mark stays at the last page applied, and the next poll, after the server's wait or the
interval, resumes from there. Reading a deal twice changes nothing
(`service.crm_inbound.apply_change`).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.config import Config
from protocol.stages import StageError
from service.crm.base import Page, Provider
from service.crm.connections import Connections
from service.crm.http import Permanent, Transient
from service.crm_inbound import Applied, apply_change
from service.runtime import Runtime
from service.signals import NotAllowed
from storage.models import CrmPoll

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)  # a poller that died frees the poll after this
MAX_PAGES = 50  # per poll; the rest waits for the next one (the mark moved)
# Each poll looks this far behind its mark: a CRM's search index can show a change late, with a
# modification time already behind the mark. Re-reading a change is harmless (not news twice).
OVERLAP = timedelta(minutes=5)


class Polling(Runtime, Protocol):
    """What the poll needs of the process: the runtime and its outbound connections."""

    connections: Connections


@dataclass
class PollResult:
    """What one poll did (for logs, `crm check` and tests)."""

    ran: bool = False
    pages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None  # why it ended early (a 429, a refusal)


def poll_crm(services: Polling) -> PollResult:
    """The periodic check: poll the CRM when due (see the module docstring)."""
    config, now = services.config, services.now()
    result = PollResult()
    if not config.crm.enabled:
        return result
    me = _me()
    with services.unit_of_work() as session:
        since = _claim(session, config, me, now)
    if since is False:
        return result
    result.ran = True
    provider = services.connections.provider(config.crm, services.now)
    wait = config.crm.poll_interval
    try:
        _pages(services, provider, since, result, me)
    except Transient as exc:
        result.stopped = str(exc)
        if exc.retry_after:
            wait = min(wait, timedelta(seconds=exc.retry_after))
    except Permanent as exc:
        result.stopped = str(exc)
        log.warning("crm poll refused: %s", exc)
    with services.unit_of_work() as session:
        _release(session, config, me, services.now(), wait, result)
    if result.counts.get(Applied.CHANGED):
        services.wake()
    return result


def _pages(services: Polling, provider: Provider, since: datetime | None,
           result: PollResult, me: str) -> None:
    cursor: str | None = None
    look_from = since - OVERLAP if since else None
    for _ in range(MAX_PAGES):
        page: Page = provider.changes(look_from, cursor)
        with services.unit_of_work() as session:
            _apply(session, services.config, page, result, me, services.now(), since)
        result.pages += 1
        cursor = page.cursor
        if not cursor:
            return


def _apply(session: Session, config: Config, page: Page, result: PollResult, me: str,
           now: datetime, since: datetime | None) -> None:
    mark = since
    for change in page.changes:
        try:
            with session.begin_nested():
                outcome = apply_change(session, config, change, now)
        except (StageError, NotAllowed) as exc:
            log.info("crm change on signal %s not applied: %s", change.signal_key, exc)
            outcome = Applied.SAME
        result.counts[outcome] = result.counts.get(outcome, 0) + 1
        mark = max(mark, change.modified_at) if mark else change.modified_at
    values: dict[str, datetime] = {"lease_until": now + LEASE}
    if mark is not None:
        values["since"] = mark
    session.execute(update(CrmPoll).where(CrmPoll.provider == config.crm.provider,
                                          CrmPoll.claimed_by == me).values(**values))


def _claim(session: Session, config: Config, me: str, now: datetime) -> datetime | None | bool:
    """Take the poll if it is due and free: its high-water mark, or False when not ours."""
    provider = config.crm.provider
    if session.get(CrmPoll, provider) is None:
        try:
            with session.begin_nested():
                session.add(CrmPoll(provider=provider, next_poll_at=now, changes=0, unknown=0))
        except IntegrityError:
            pass  # another replica made it first
    taken = session.execute(
        update(CrmPoll)
        .where(CrmPoll.provider == provider, CrmPoll.next_poll_at <= now,
               or_(CrmPoll.lease_until.is_(None), CrmPoll.lease_until < now))
        .values(lease_until=now + LEASE, claimed_by=me)
    ).rowcount
    if not taken:
        return False
    row = session.get(CrmPoll, provider)
    session.refresh(row)
    return row.since


def _release(session: Session, config: Config, me: str, now: datetime, wait: timedelta,
             result: PollResult) -> None:
    row = session.get(CrmPoll, config.crm.provider)
    if row is None or row.claimed_by != me:
        return  # the lease ran out and another replica took over
    row.lease_until, row.claimed_by = None, None
    row.next_poll_at = now + wait
    row.changes += result.counts.get(Applied.CHANGED, 0)
    row.unknown += result.counts.get(Applied.UNKNOWN, 0)
    row.last_error = (result.stopped or "")[:500] or None
    if result.stopped is None:
        row.polled_at = now
    if result.counts.get(Applied.UNKNOWN):
        log.info("crm poll: %d deal(s) name no known signal; ignored",
                 result.counts[Applied.UNKNOWN])


def _me() -> str:
    """A name for this poll run (host, process, run), so the lease is fenced on it."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
