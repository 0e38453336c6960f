"""Capture: the CSM logs a signal, qualifies it, and a qualified one is handed off.

Each function is one step of one unit of work on the caller's session: it changes the
signal, appends to its event log and writes the messages the change causes into the outbox.
The caller commits (before acking Slack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from blocks.text import escape, mention
from protocol import stages
from protocol.catalogue import kind_label
from protocol.config import Config
from protocol.escalation import may_act_for
from protocol.qualification import Qualification, evaluate
from protocol.record import SignalDraft
from protocol.routing import ownership, pages_ae
from service import outgoing
from service.away import page
from service.clocks import add_clock, cancel_clocks, start_clocks
from service.crm import sync_items
from service.history import record_event
from service.signals import refuse
from service.trigger_actions import mark_acted
from storage.bulk import insert_pending, one_statement, write_changes
from storage.models import Deadline, QualificationAnswer, Signal, SignalEvent
from storage.outbox import Outgoing, enqueue
from storage.queries import ensure_person, insert_signal


@dataclass
class Logged:
    """The result of logging: the signal, whether it is new, and its qualification."""

    signal: Signal
    created: bool
    qualification: Qualification


def log_signal(
    session: Session,
    config: Config,
    draft: SignalDraft,
    actor: str,
    now: datetime,
    submission_key: str | None = None,
) -> Logged:
    """Save the CSM's record, then hand it off if qualified or keep it as a watch item.

    A `submission_key` already stored is refused by its unique index (IntegrityError at the
    signal's insert): the caller, which commits, treats that as "already saved" (no read
    first: a double submit is rare, every submission would pay for the look).
    The statements are few and each row kind is written once: the account (read, or
    inserted), the signal (one Core INSERT returning its id; on PostgreSQL a known account
    is read in it), then its answers, events, clocks and outbox rows in one statement each
    (no autoflush in between), and the signal's new stage and version in one UPDATE (no
    flush of it at commit), those last five in a single statement on PostgreSQL; people and
    time zones come from this process's caches (storage/cache.py).
    """
    # Logging never changes the account's owners: they come from the registry (import, CRM,
    # an admin). Anyone may log on any account; the owner CSM hears of it.
    ensure_person(session, actor)
    signal = _new_signal(draft, actor, now, submission_key)
    # its id, for its answers, events, clocks and messages; the account read with it
    account = insert_signal(session, signal, draft.account, draft.crm_id, now)
    with session.no_autoflush:  # no read below needs these rows; nothing is flushed
        session.add_all(_answers(signal.id, draft.answers, actor, now))
        owner = account.csm_id if account.csm_id not in (None, actor) else None
        data = {"source": draft.source, **({"account_csm": owner} if owner else {})}
        record_event(session, signal, "logged", actor, now, None, stages.SIGNAL, data)
        out = [outgoing.card(signal, "csm", actor, "Signal logged")]
        out += mark_acted(session, draft.source, signal.id, actor, now)  # from a trigger
        if owner:
            out.append(_tell_owner(signal, account.name, owner, actor))
        qualification = evaluate(config.rubric, draft.answers)
        out += _route(session, config, signal, qualification, actor, now)
        with one_statement(session):  # PostgreSQL: the rest in one round trip
            enqueue(session, out, now)
            insert_pending(session, QualificationAnswer, SignalEvent, Deadline)  # one each
            write_changes(session, signal)  # its stage and version: an UPDATE, not a flush
    return Logged(signal, True, qualification)


def _answers(signal_id: int, answers: dict[str, bool], actor: str, now: datetime,
             ) -> list[QualificationAnswer]:
    """A new signal's checklist (nothing to read first)."""
    return [QualificationAnswer(signal_id=signal_id, criterion=key, met=met, answered_by=actor,
                                answered_at=now) for key, met in answers.items()]


def _tell_owner(signal: Signal, account: str, owner: str, actor: str) -> Outgoing:
    kind = kind_label(signal.category, signal.kind)
    text = (
        f"{mention(actor)} logged an expansion signal on *{escape(account)}*, an account you "
        f"own: {escape(kind)}, buyer {escape(signal.buyer_name)} (signal #{signal.id}). "
        "The account's owners are unchanged."
    )
    return outgoing.notice(f"logged-on-yours:{signal.id}:{owner}", owner, text, signal)


def _new_signal(draft: SignalDraft, actor: str, now: datetime, key: str | None) -> Signal:
    """The new signal, its account not set yet (`insert_signal` finds it)."""
    return Signal(
        csm_id=actor,
        ae_id=draft.ae_id,
        category=draft.category,
        kind=draft.kind,
        detail=draft.detail,
        buyer_name=draft.buyer_name.strip(),
        buyer_title=draft.buyer_title,
        timeline=draft.timeline.strip(),
        timeline_date=draft.timeline_date,
        note=draft.note,
        urgency=draft.urgency,
        est_arr=draft.est_arr,
        stage=stages.SIGNAL,
        source=draft.source,
        message_link=draft.message_link,
        submission_key=key,
        token=1,
        version=1,
        created_at=now,
        updated_at=now,
    )


def qualification_of(config: Config, signal: Signal) -> Qualification:
    """The signal's current answers weighed against the rubric."""
    return evaluate(config.rubric, {a.criterion: a.met for a in signal.answers})


def check_requalify(config: Config, signal: Signal, actor: str) -> None:
    """Raise NotAllowed unless `actor` is its CSM or an admin (checked first: a stranger learns
    nothing of the stage), StageError unless the signal is still with the CSM: the one rule
    for the button and for the submission."""
    if not may_act_for(actor, signal.csm_id, {}, config.admins):
        raise refuse(signal, signal.csm_id, actor)
    stages.check_move("requalify", signal.stage)


def update_qualification(
    session: Session,
    config: Config,
    signal: Signal,
    answers: dict[str, bool],
    actor: str,
    now: datetime,
) -> Qualification:
    """The CSM ticks boxes later; reaching the threshold hands the signal off then."""
    check_requalify(config, signal, actor)
    _set_answers(session, signal, answers, actor, now)
    qualification = evaluate(config.rubric, answers)
    record_event(
        session,
        signal,
        "qualification_updated",
        actor,
        now,
        signal.stage,
        signal.stage,
        {"met": [c.key for c in qualification.met]},
    )
    out = []
    if qualification.qualified:
        cancel_clocks(session, signal, now)
        out += _hand_off(session, config, signal, actor, now)
    out.append(outgoing.refresh(signal))
    enqueue(session, out, now)
    return qualification


def _route(
    session: Session,
    config: Config,
    signal: Signal,
    qualification: Qualification,
    actor: str,
    now: datetime,
) -> list[Outgoing]:
    if qualification.qualified:
        return _hand_off(session, config, signal, actor, now)
    return _keep_watching(session, config, signal, actor, now)


def _hand_off(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> list[Outgoing]:
    stages.check_move("hand_off", signal.stage)
    signal.ownership = ownership(config.routing, signal.est_arr)
    previous = signal.stage
    signal.stage = stages.HANDED_OFF
    signal.handed_off_at = now
    signal.revisit_on = None
    paged = pages_ae(signal.ownership) and signal.ae_id
    # the CSM owns the close when no AE is paged: no AE clock runs
    policy = start_clocks(session, config, signal, signal.ae_id, now) if paged else {}
    record_event(
        session,
        signal,
        "handed_off",
        actor,
        now,
        previous,
        stages.HANDED_OFF,
        {"ae": signal.ae_id, "ownership": signal.ownership, **policy},
    )
    sync = sync_items(config, signal, "handed_off")  # the CRM record, webhooks
    if not paged:
        return sync
    headline = f"New expansion hand-off from {mention(signal.csm_id)}"
    return [*page(session, config, signal, headline, now), *sync]  # the AE, or who acts for them


def _keep_watching(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> list[Outgoing]:
    previous = signal.stage
    signal.stage = stages.QUALIFYING
    revisit = now + config.watch_revisit
    signal.revisit_on = revisit.date()
    add_clock(session, signal, "revisit", signal.csm_id, now, revisit)
    record_event(
        session,
        signal,
        "kept_watching",
        actor,
        now,
        previous,
        stages.QUALIFYING,
        {"revisit_on": signal.revisit_on.isoformat()},
    )
    return []


def _set_answers(
    session: Session, signal: Signal, answers: dict[str, bool], actor: str, now: datetime
) -> None:
    current = {a.criterion: a for a in signal.answers}
    for key, met in answers.items():
        if key in current:
            current[key].met, current[key].answered_by, current[key].answered_at = met, actor, now
        else:
            signal.answers.append(
                QualificationAnswer(criterion=key, met=met, answered_by=actor, answered_at=now)
            )
