"""CRM writes and webhooks through the outbox: queued with the state change, sent by the worker.

`sync_items` is the one hook the use cases call: it turns a change of a signal into a
`crm.upsert` row (key `crm:<signal>:<version>`) and one `webhook` row per interested
webhook, written in the same transaction as the change. The senders run in the deliverer,
outside any transaction, on their own rows: a CRM that is down or refuses never holds a
Slack message back.

`send_crm` renders the signal as it is at send time, so a later row supersedes an earlier
one (a row whose version the CRM already holds is skipped). The write is an upsert keyed by
the signal's id, so a retry after a timeout finds the record the first attempt made. The
hand-off link is built from the AE card's channel and ts and the workspace URL from
`auth.test` (asked once per process, kept in `Connections`), not with one chat.getPermalink
call per record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from blocks.text import escape, mention
from protocol.config import SYNCED_EVENTS, Config
from protocol.qualification import evaluate
from protocol.routing import owner_of, pages_ae
from protocol.sla import ClockState
from service import webhooks
from service.crm import http, records
from service.crm.base import Provider, Written, amount_text
from service.crm.delivery import Claimed, Delivery, Sender
from service.crm.http import Permanent, Transient
from service.crm.mapping import DealFields, deal_fields
from storage.db import unit_of_work
from storage.models import Card, Deadline, Person, Signal
from storage.outbox import OutboxStatus, Outgoing, enqueue, finish

CRM_KIND = records.CRM_KIND
LINK_RETRY = timedelta(minutes=2)  # no AE card in Slack yet: write again this much later


def sync_items(config: Config, signal: Signal, event: str,
               detail: dict[str, Any] | None = None, *, unversioned: str = "",
               at: datetime | None = None) -> list[Outgoing]:
    """The CRM write and the webhook posts `event` on `signal` causes (none if unconfigured).

    `unversioned` names a change that does not move the signal's version (the sweep's
    escalations, `:esc:<clock>:<level>`): it ends the rows' keys, and the CRM row is written
    even when the CRM holds this version already (what it shows changed: escalated); `at` is
    when it happened (else the signal's `updated_at`).
    """
    out = []
    if config.crm.enabled and event in SYNCED_EVENTS:
        payload: dict[str, Any] = {"event": event, **({"force": True} if unversioned else {})}
        out.append(Outgoing(key=f"crm:{signal.id}:{signal.version}{unversioned}",
                            kind=CRM_KIND, target=config.crm.label, payload=payload,
                            signal_id=signal.id))
    return out + webhooks.items(config, signal, event, detail, unversioned, at)


@dataclass
class _Job:
    signal_id: int
    version: int
    deal: DealFields
    account: tuple[str | None, str]
    owner: str | None
    email: str | None
    company: str | None
    card: tuple[str, str] | None  # the AE card (channel, ts), once it is in Slack
    wants_card: bool  # an AE is paged: a card will come
    force: bool


def send_crm(d: Delivery, row: Claimed) -> str:
    """Sender of `crm.upsert` rows."""
    if not d.config.crm.enabled:
        return "skipped"
    provider = d.connections.provider(d.config.crm, d.clock)
    with unit_of_work(d.factory) as session:
        job = _prepare(session, d.config, provider, row, d.clock())
    if job is None:
        return "skipped"
    try:
        result = _write(d, provider, job)
    except (Transient, Permanent) as exc:
        _failed(d, row, job, exc)
        raise
    _record(d, row, job, *result)
    return "sent"


def _prepare(session: Any, config: Config, provider: Provider, row: Claimed,
             now: datetime) -> _Job | None:
    signal = session.get(Signal, row.signal_id)
    if signal is None:
        return None
    record = records.record_for(session, signal.id, config.crm.provider, now)
    force = bool(row.payload.get("force"))
    if not force and (record.synced_version or 0) >= signal.version:
        return None  # a later row already wrote this state (or a newer one)
    owner = owner_of(signal.ownership, signal.csm_id, signal.ae_id)
    person = session.get(Person, owner) if owner else None
    card = session.scalars(select(Card).where(
        Card.signal_id == signal.id, Card.audience == "ae", Card.user_id == signal.ae_id
    ).order_by(Card.id.desc()).limit(1)).first() if signal.ae_id else None
    escalated = session.scalar(select(func.count()).select_from(Deadline).where(
        Deadline.signal_id == signal.id, Deadline.token == signal.token,
        Deadline.state == ClockState.MISSED)) > 0
    qualification = evaluate(config.rubric, {a.criterion: a.met for a in signal.answers})
    deal = deal_fields(signal, qualification, config.crm, escalated=escalated,
                       require_close_date=provider.needs_close_date)
    return _Job(signal.id, signal.version, deal, (signal.account.crm_id, signal.account.name),
                owner, person.email if person else None, record.company_id,
                (card.channel, card.ts) if card else None,
                bool(signal.ae_id) and pages_ae(signal.ownership), force)


def _write(d: Delivery, provider: Provider, job: _Job
           ) -> tuple[Written, str | None, str | None, str | None, str | None]:
    link = _permalink(d, job.card)
    deal = replace(job.deal, values={**job.deal.values, "slack_link": link}) if link \
        else job.deal
    email = job.email or _slack_email(d.client, job.owner)
    owner_id = provider.owner_id(email) if email else None
    company = job.company or provider.company_id(*job.account)
    written = provider.upsert(deal, owner_id, company, associate=company != job.company)
    problem = None
    if job.owner and not owner_id:
        problem = (f"no {provider.label} user has the e-mail {email}" if email
                   else "Slack has no e-mail for this person")
    return written, problem, company, email if email != job.email else None, owner_id


def _record(d: Delivery, row: Claimed, job: _Job, written: Written, problem: str | None,
            company: str | None, new_email: str | None, owner_id: str | None) -> None:
    now = d.clock()
    crm = d.config.crm
    with unit_of_work(d.factory) as session:
        record = records.record_for(session, job.signal_id, crm.provider, now)
        out: list[Outgoing] = []
        if written.url and record.url != written.url:
            out.append(Outgoing(key=f"crm-link:{job.signal_id}:{written.record_id}",
                                kind="slack.refresh", target=None, signal_id=job.signal_id))
        if (record.synced_version or 0) > job.version:  # a newer write finished first
            out.append(_again(crm.label, job.signal_id, f"{record.synced_version}:after:"
                                                       f"{job.version}", now))
        record.record_id, record.url = written.record_id, written.url or record.url
        record.company_id = company or record.company_id
        newest = (record.synced_version or 0) <= job.version
        record.synced_version = max(record.synced_version or 0, job.version)
        record.synced_at, record.owner_problem = now, problem
        if newest:  # what the CRM holds now, from us
            record.crm_state = written_state(job.deal, owner_id, record.crm_state)
        record.last_error = record.last_error_at = None
        if problem:  # told once per signal and owner (the notice's key)
            out += _owner_notices(d.config, session, job, problem)
        if job.card is None and job.wants_card and not row.payload.get("link_retry"):
            out.append(_again(crm.label, job.signal_id, f"{job.version}:link", now + LINK_RETRY))
        if new_email and job.owner and (person := session.get(Person, job.owner)):
            person.email = person.email or new_email
        finish(session, row.id, d.worker, row.attempt, status=OutboxStatus.SENT, sent_at=now,
               last_error=None, maybe_sent=False)
        enqueue(session, out, now)


def written_state(deal: DealFields, owner_id: str | None,
                  before: dict[str, Any] | None) -> dict[str, Any]:
    """The deal's followed fields as this write left them (a field not sent stays as it was)."""
    before = before or {}
    owner = owner_id if owner_id is not None else before.get("owner")
    amount = amount_text(deal.amount) if deal.amount is not None else before.get("amount")
    return {"stage": deal.stage, "amount": amount, "owner": owner}


def _again(label: str, signal_id: int, suffix: str, due: datetime) -> Outgoing:
    return Outgoing(key=f"crm:{signal_id}:{suffix}", kind=CRM_KIND, target=label,
                    payload={"event": "resync", "force": True, "link_retry": True},
                    signal_id=signal_id, due_at=due)


def _owner_notices(config: Config, session: Any, job: _Job, problem: str) -> list[Outgoing]:
    signal = session.get(Signal, job.signal_id)
    label = config.crm.label
    text = (f":warning: {label}: {problem}, so the *{escape(signal.account.name)}* deal "
            f"(signal #{signal.id}) has no owner; {mention(job.owner)} should own it. Add "
            f"them to {label} with the e-mail they use in Slack; the signal's next update "
            "sets the owner (or run `signalbot crm backfill`).")
    return [Outgoing(key=f"crm-owner:{job.signal_id}:{job.owner}:{admin}", kind="slack.post",
                     target=admin, payload={"text": text}, signal_id=job.signal_id)
            for admin in config.admins]


def _failed(d: Delivery, row: Claimed, job: _Job, exc: Exception) -> None:
    now = d.clock()
    with unit_of_work(d.factory) as session:
        record = records.record_for(session, job.signal_id, d.config.crm.provider, now)
        record.last_error, record.last_error_at = str(exc)[:500], now
        if isinstance(exc, Permanent) and records.already_held(session, CRM_KIND, str(exc),
                                                               row.id):
            exc.quiet = True  # the admins were told about this very problem already


def _permalink(d: Delivery, card: tuple[str, str] | None) -> str | None:
    """The AE card's permalink, from the workspace URL (auth.test, once) and channel/ts."""
    workspace = d.connections.workspace_url(d.client) if card else None
    if card is None or workspace is None:
        return None
    channel, ts = card
    return f"{workspace.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def _slack_email(client: Any, user: str | None) -> str | None:
    if not user:
        return None
    try:
        return (client.users_info(user=user)["user"].get("profile") or {}).get("email")
    except Exception:  # noqa: BLE001 - reported as an unmatched owner instead
        return None


def send_webhook(d: Delivery, row: Claimed) -> str:
    """Sender of `webhook` rows: sign this attempt and POST the event's JSON body."""
    hook = next((h for h in d.config.webhooks if h.url == row.payload.get("url")), None)
    if hook is None:
        return "skipped"  # the webhook was removed from the config since
    body = webhooks.encode(row.payload["body"])
    stamp = int(d.clock().timestamp())
    client = d.connections.pool.client("webhook", "", timedelta(seconds=10))
    try:
        secret = http.secret(hook.secret_env)
        if secret is None:
            raise Permanent(f"webhook secret missing: set ${hook.secret_env}")
        headers = webhooks.headers(secret, stamp, body, row.payload["event"], row.key)
        d.connections.pool.send(client, f"webhook {row.target}", "POST", hook.url, content=body,
                  headers=headers)
    except Permanent as exc:
        with unit_of_work(d.factory) as session:
            exc.quiet = records.already_held(session, webhooks.KIND, str(exc), row.id)
        raise
    d.finish(row, status=OutboxStatus.SENT, sent_at=d.clock(), last_error=None)
    return "sent"


SENDERS: dict[str, Sender] = {CRM_KIND: send_crm, webhooks.KIND: send_webhook}
