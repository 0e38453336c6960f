"""Away and cover: set and end away periods, route work to the acting AE, hand it back.

While an AE is away their open hand-offs (and new ones) are held by the *acting AE*: their
cover, or, with no cover, their manager (who gets a Reassign card at once). The AE stays the
owner of record (`Signal.ae_id`); `Signal.acting_ae_id` and each running clock's `held_by` say
who holds it now. `reconcile` is idempotent: it begins periods whose first day came, moves
signals to whoever should hold them, and hands everything back (with a summary, once) when a
period ends by date or early. It runs with each sweep and in the unit of work of every change
to a period. Each function is a step of the caller's unit of work; the caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from blocks.text import escape, mention
from blocks.views import AwayLine
from protocol import stages
from protocol.away import (
    Acting,
    Acts,
    Period,
    away_at,
    cover_problem,
    covering,
    day_label,
    last_day,
    overlaps,
    period_bounds,
)
from protocol.away import acting_for as acting_rule
from protocol.config import Config
from protocol.escalation import may_act_for
from protocol.routing import Ownership
from protocol.sla import ClockState
from service import outgoing
from service.clocks import tz_of
from service.history import record_event
from service.runtime import Runtime
from storage.cache import MISSING, caches_of
from storage.db import is_postgres
from storage.models import Account, AwayPeriod, Deadline, Person, Signal, SignalEvent
from storage.outbox import Outgoing, enqueue
from storage.queries import managers, person

SUMMARY_SIGNALS = 15  # signals listed in the welcome-back summary; the rest are counted
WHAT_HAPPENED = {
    "handed_off": "handed off", "covered": "went to {acting}", "acknowledged": "acknowledged",
    "contacted": "customer contacted", "outcome": "closed", "escalated": "SLA missed, escalated",
    "reassigned": "reassigned", "nudged": "nudged", "ownership_changed": "model changed",
}


class AwayError(ValueError):
    """An away period that cannot be set or ended; the message says why, for the person, and
    `field` which part of the form it is about (person, first, last, cover)."""

    def __init__(self, message: str, field: str = "person"):
        super().__init__(message)
        self.field = field


# -- reads --------------------------------------------------------------------------------------


def periods_in_force(session: Session, now: datetime) -> list[AwayPeriod]:
    """Periods under way at `now` (begun by date, not ended early)."""
    return list(session.scalars(
        select(AwayPeriod).where(AwayPeriod.starts <= now, AwayPeriod.ends > now,
                                 AwayPeriod.ended_at.is_(None))
        .order_by(AwayPeriod.starts, AwayPeriod.id)))


def away_now(session: Session, now: datetime, fresh: bool = False) -> dict[str, str | None]:
    """Who is away at `now` -> their cover (None: no cover).

    The periods not over yet are kept in the process's caches for `AWAY_TTL` (the hand-off
    on the ack path asks every time); `fresh` reads them from the database (`reconcile`,
    which also puts right whatever a stale answer routed, on the next sweep)."""
    caches = caches_of(session)
    periods = MISSING if fresh or caches is None else caches.away.get(AWAY_KEY)
    if periods is MISSING:
        periods = [Period(p.person_id, p.starts, p.ends, p.cover_id)
                   for p in upcoming(session, now, limit=10_000)]
        if caches is not None:
            caches.away.put(AWAY_KEY, periods)
    return away_at(periods, now)


def _forget(session: Session) -> None:
    """A period was set or ended: this process asks the database again."""
    caches = caches_of(session)
    if caches is not None:
        caches.away.forget(AWAY_KEY)


AWAY_KEY = "periods"


def upcoming(session: Session, now: datetime, person_id: str | None = None,
             limit: int = 50) -> list[AwayPeriod]:
    """Periods in force or still ahead (not ended early), soonest first; one person's or all."""
    stmt = select(AwayPeriod).where(AwayPeriod.ends > now, AwayPeriod.ended_at.is_(None))
    if person_id is not None:
        stmt = stmt.where(AwayPeriod.person_id == person_id)
    return list(session.scalars(stmt.order_by(AwayPeriod.starts, AwayPeriod.id).limit(limit)))


def covered_by(session: Session, actor: str, now: datetime) -> set[str]:
    """The people `actor` covers for now."""
    return covering(actor, away_now(session, now))


def acting_for(session: Session, config: Config, person_id: str, now: datetime) -> Acting:
    """Who acts for `person_id` now (protocol.away.acting_for on the roster in force)."""
    away = away_now(session, now)
    if person_id not in away:
        return Acting(person_id, Acts.SELF, (person_id,))
    return acting_rule(person_id, managers(session, config.managers), away, config.admins)


def may_act(session: Session, config: Config, actor: str, owner: str | None,
            now: datetime | None) -> bool:
    """`may_act_for`, with the people `actor` covers for now (none when `now` is None)."""
    roster = managers(session, config.managers)
    covers = covered_by(session, actor, now) if now is not None else set()
    return may_act_for(actor, owner, roster, config.admins, covers)


def until_label(session: Session, config: Config, period: AwayPeriod) -> str:
    """'24 Dec': the period's last day in the away person's time zone."""
    return day_label(last_day(period.ends, tz_of(session, period.person_id, config)))


def span_label(session: Session, config: Config, period: AwayPeriod) -> str:
    """'10 Dec–24 Dec' in the person's time zone."""
    tz = tz_of(session, period.person_id, config)
    first = day_label(period.starts.astimezone(tz).date())
    return f"{first}–{until_label(session, config, period)}"


def away_lines(session: Session, config: Config, now: datetime) -> list[AwayLine]:
    """Periods under way or ahead, as `/signal admin show` and App Home list them."""
    return [_line_of(session, config, p, now) for p in upcoming(session, now)]


def _line_of(session: Session, config: Config, period: AwayPeriod, now: datetime) -> AwayLine:
    return AwayLine(period.person_id, span_label(session, config, period),
                    until_label(session, config, period), period.cover_id, period.set_by,
                    period.set_at, period.starts <= now)


def home_lines(session: Session, config: Config, user_id: str, now: datetime
               ) -> tuple[list[AwayLine], list[AwayLine]]:
    """(the person's own periods under way or ahead, the periods they cover now)."""
    mine = [_line_of(session, config, p, now) for p in upcoming(session, now, user_id, 5)]
    covers = [_line_of(session, config, p, now) for p in periods_in_force(session, now)
              if p.cover_id == user_id]
    return mine, covers


# -- setting and ending -------------------------------------------------------------------------


def set_away(session: Session, config: Config, actor: str, person_id: str,
             first: date | None, last: date, cover: str | None, note: str | None,
             now: datetime) -> tuple[AwayPeriod, bool]:
    """Record that `person_id` is away from `first` (None: now) through `last` (their time
    zone), covered by `cover`; set by themselves, someone above them or an admin.

    New dates that overlap one period of theirs change that period (a period under way keeps
    the day it began): returns the period and whether it was an existing one, changed."""
    roster = managers(session, config.managers)
    if actor != person_id and not may_act_for(actor, person_id, roster, config.admins):
        raise AwayError("Only they, their manager (or someone above) or an admin can set "
                        f"{mention(person_id)} away.")
    try:
        starts, ends = period_bounds(first, last, now, tz_of(session, person_id, config))
    except ValueError as exc:
        raise AwayError(str(exc), "first" if "first day" in str(exc) else "last") from None
    inactive = cover is not None and person(session, cover).deactivated
    problem = cover_problem(person_id, cover, roster, inactive,
                            cover is not None and _only_csm(session, cover))
    if problem:
        raise AwayError(problem, "cover")
    own = _check_clashes(session, config, person_id, cover, starts, ends, now)
    if own is not None:
        return _change(session, config, own, actor, (starts, ends, cover, note), now), True
    period = AwayPeriod(person_id=person_id, starts=starts, ends=ends, cover_id=cover,
                        note=(note or "").strip()[:300] or None, set_by=actor, set_at=now)
    session.add(period)
    session.flush()
    _forget(session)
    _event(session, "away_set", actor, now, period)
    enqueue(session, _set_messages(session, config, period, actor), now)
    reconcile(session, config, now)
    return period, False


def _change(session: Session, config: Config, period: AwayPeriod, actor: str,
            new: tuple[datetime, datetime, str | None, str | None], now: datetime) -> AwayPeriod:
    """New dates, cover or note for a period under way or ahead; `reconcile` moves the work
    to the new cover (or back) at once."""
    starts, ends, cover, note = new
    was_cover, was = period.cover_id, {"starts": period.starts.isoformat(),
                                       "ends": period.ends.isoformat(), "cover": period.cover_id}
    period.starts = period.starts if period.starts <= now else starts  # begun: it began then
    period.ends, period.cover_id = ends, cover
    period.note = (note or "").strip()[:300] or period.note
    _forget(session)
    _event(session, "away_changed", actor, now, period, {"was": was})
    out = _set_messages(session, config, period, actor, key=f"{period.id}:{now.timestamp()}")
    if was_cover and was_cover != cover:
        out.append(outgoing.notice(
            f"away:{period.id}:{now.timestamp()}:uncover", was_cover,
            f":palm_tree: {mention(period.person_id)}'s time away changed: you no longer cover "
            f"for them{f' ({mention(cover)} does)' if cover else ''}."))
        out.append(outgoing.home(was_cover))
    enqueue(session, out, now)
    reconcile(session, config, now)
    return period


def end_away(session: Session, config: Config, actor: str, person_id: str,
             now: datetime) -> AwayPeriod:
    """End `person_id`'s current period now (or cancel the next one): their work comes back
    with the summary, at once."""
    roster = managers(session, config.managers)
    if actor != person_id and not may_act_for(actor, person_id, roster, config.admins):
        raise AwayError("Only they, their manager (or someone above) or an admin can end "
                        f"{mention(person_id)}'s time away.")
    periods = upcoming(session, now, person_id, limit=1)
    if not periods:
        who = "You are" if actor == person_id else f"{mention(person_id)} is"
        raise AwayError(f"{who} not away, and no time away is planned.")
    period = periods[0]
    period.ended_at, period.ended_by = now, actor
    _forget(session)
    if period.starts > now:  # not begun: a cancellation, nothing to hand back
        period.handed_back_at = now
    _event(session, "away_ended", actor, now, period)
    reconcile(session, config, now)
    return period


def _check_clashes(session: Session, config: Config, person_id: str, cover: str | None,
                   starts: datetime, ends: datetime, now: datetime) -> AwayPeriod | None:
    """Refuse a cover away themselves then, or dates overlapping two periods of the person;
    returns the one period of theirs the dates overlap (to change), if any."""
    own: list[AwayPeriod] = []
    for other in upcoming(session, now, limit=500):
        if not overlaps(starts, ends, other.starts, other.ends):
            continue
        span = span_label(session, config, other)
        if other.person_id == person_id:
            own.append(other)
        elif cover is not None and other.person_id == cover:
            raise AwayError(f"{mention(cover)} is away themselves {span}: pick another cover.",
                            "cover")
    if len(own) > 1:
        spans = " and ".join(span_label(session, config, p) for p in own)
        raise AwayError(f"Those dates overlap two planned periods of {mention(person_id)} "
                        f"({spans}): cancel one first (`/signal back`), then set the dates.",
                        "last")
    return own[0] if own else None


def _only_csm(session: Session, user: str) -> bool:
    """Known as a CSM (logs signals, owns accounts as CSM) and never as an AE."""
    def known(*conditions) -> bool:
        return any(session.scalar(select(model.id).where(c).limit(1)) is not None
                   for model, c in conditions)

    as_csm = known((Signal, Signal.csm_id == user), (Account, Account.csm_id == user))
    return as_csm and not known((Signal, Signal.ae_id == user), (Account, Account.ae_id == user))


def _cover_words(period: AwayPeriod) -> str:
    return f" (cover {mention(period.cover_id)})" if period.cover_id else " (no cover)"


def _event(session: Session, kind: str, actor: str | None, now: datetime,
           period: AwayPeriod, extra: dict | None = None) -> None:
    session.add(SignalEvent(signal_id=None, at=now, actor_id=actor, kind=kind, detail={
        "person": period.person_id, "cover": period.cover_id, "period": period.id,
        "starts": period.starts.isoformat(), "ends": period.ends.isoformat(),
        "note": period.note, **(extra or {})}))


def _set_messages(session: Session, config: Config, period: AwayPeriod,
                  actor: str, key: str | None = None) -> list[Outgoing]:
    span, who = span_label(session, config, period), mention(period.person_id)
    note = f"\n> {escape(period.note)}" if period.note else ""
    out = [outgoing.home(period.person_id)]
    if period.cover_id:
        out += [outgoing.home(period.cover_id), outgoing.notice(
            f"away:{key or period.id}:cover", period.cover_id,
            f":palm_tree: {who} is away {span} and you cover for them: while they are away "
            f"their hand-offs come to you as *acting AE* (set by {mention(actor)}).{note}")]
    if actor != period.person_id:
        out.append(outgoing.notice(
            f"away:{key or period.id}:person", period.person_id,
            f":palm_tree: {mention(actor)} set you away {span}{_cover_words(period)}.{note}"))
    return out


# -- routing work -------------------------------------------------------------------------------


def page(session: Session, config: Config, signal: Signal, headline: str,
         now: datetime) -> list[Outgoing]:
    """The card that pages the signal's AE for a hand-off: to the AE, or while they are away
    to their acting AE (the cover), else their manager with a Reassign card, else the admins.
    Call after the signal's clocks were started."""
    signal.acting_ae_id = None
    acting = acting_for(session, config, signal.ae_id, now)
    period = None if acting.acts == Acts.SELF else _period_of(session, signal.ae_id, now)
    if period is None:  # in (or back a moment ago, another process's news not cached yet)
        return [outgoing.card(signal, "ae", signal.ae_id, headline)]
    if acting.acts != Acts.ADMINS:
        return _move_to(session, config, signal, acting, period, now, headline)
    until = until_label(session, config, period)
    return [outgoing.card(signal, "manager", admin,
                          f"{headline}\n:palm_tree: {mention(signal.ae_id)} is away until "
                          f"{until} with no cover and no manager on the roster: reassign it.",
                          key_suffix=f":away:{period.id}")
            for admin in acting.users]


def reconcile(session: Session, config: Config, now: datetime) -> int:
    """Begin periods that came, move signals to whoever should hold them, hand back (with the
    summary, once) those that ended. Idempotent; returns how many signals moved."""
    _begin(session, now)
    moved = _realign(session, config, now)
    _hand_back(session, config, now)
    return moved


def periodic(services: Runtime) -> int:
    """The worker's check (bot.worker.PERIODIC): `reconcile` in its own unit of work."""
    with services.unit_of_work() as session:
        return reconcile(session, services.config, services.now())


def _begin(session: Session, now: datetime) -> None:
    due = session.scalars(select(AwayPeriod).where(
        AwayPeriod.starts <= now, AwayPeriod.ends > now, AwayPeriod.began_at.is_(None),
        AwayPeriod.ended_at.is_(None)))
    for period in list(due):
        if _claim(session, period, AwayPeriod.began_at, now):
            _event(session, "away_began", None, now, period)


def _claim(session: Session, period: AwayPeriod, column, now: datetime) -> bool:
    """Set `column` (began_at / handed_back_at) once, whoever else runs this at the same time."""
    done = session.execute(update(AwayPeriod).where(AwayPeriod.id == period.id, column.is_(None))
                           .values({column.key: now}).execution_options(synchronize_session=False))
    session.refresh(period)
    return done.rowcount == 1


def _realign(session: Session, config: Config, now: datetime) -> int:
    away = away_now(session, now, fresh=True)
    gone = set(session.scalars(select(Person.slack_id).where(  # a cover deactivated since
        Person.slack_id.in_([c for c in away.values() if c]), Person.deactivated.is_(True))))
    away = {who: (None if cover in gone else cover) for who, cover in away.items()}
    stmt = select(Signal).where(
        Signal.stage.in_(stages.WITH_AE), Signal.ownership != Ownership.CS_LED,
        Signal.ae_id.is_not(None),
        or_(Signal.ae_id.in_(list(away)), Signal.acting_ae_id.is_not(None))).order_by(Signal.id)
    if is_postgres(session):  # replicas reconciling at once move each signal once
        stmt = stmt.with_for_update(of=Signal)
    candidates = session.scalars(stmt)
    roster = managers(session, config.managers)
    out: list[Outgoing] = []
    moved = 0
    for signal in list(candidates):
        acting = acting_rule(signal.ae_id, roster, away, config.admins)
        if acting.holder == signal.acting_ae_id:
            continue
        moved += 1
        if acting.holder is None:
            out += _move_back(session, signal, now)
        else:
            period = _period_of(session, signal.ae_id, now)
            out += _move_to(session, config, signal, acting, period, now)
    enqueue(session, out, now)
    return moved


def _period_of(session: Session, person_id: str, now: datetime) -> AwayPeriod | None:
    return next((p for p in periods_in_force(session, now) if p.person_id == person_id), None)


def _hold(session: Session, signal: Signal, holder: str | None) -> None:
    """Running clocks of the AE follow the holder; met and missed ones keep theirs (clocks
    started in this unit of work and not flushed yet included)."""
    new = [d for d in session.new if isinstance(d, Deadline) and d.signal_id == signal.id]
    stored = session.scalars(select(Deadline).where(
        Deadline.signal_id == signal.id, Deadline.token == signal.token,
        Deadline.state == ClockState.OPEN, Deadline.owner_id == signal.ae_id))
    for deadline in [*new, *stored]:
        if deadline.state == ClockState.OPEN and deadline.owner_id == signal.ae_id:
            deadline.held_by = holder


def _move_to(session: Session, config: Config, signal: Signal, acting: Acting,
             period: AwayPeriod, now: datetime, headline: str | None = None) -> list[Outgoing]:
    holder, ae = acting.holder, mention(signal.ae_id)
    signal.acting_ae_id = holder
    _hold(session, signal, holder)
    record_event(session, signal, "covered", None, now, signal.stage, signal.stage,
                 {"ae": signal.ae_id, "acting": holder, "as": acting.acts.value,
                  "period": period.id})
    until, account = until_label(session, config, period), escape(signal.account.name)
    lead = f"{headline}\n" if headline else ""
    out = [outgoing.refresh(signal), outgoing.home(signal.csm_id)]
    if acting.acts == Acts.COVER:
        out += [outgoing.card(signal, "ae", holder,
                              f"{lead}:palm_tree: Covering for {ae} until {until}: you are the "
                              "*acting AE* on this hand-off.", key_suffix=f":cover:{period.id}"),
                _tell_csm(signal, period, f"{ae} is away until {until}: {mention(holder)} is "
                          f"the *acting AE* on your *{account}* signal.")]
    elif acting.acts == Acts.MANAGER:
        out += [outgoing.card(signal, "manager", holder,
                              f"{lead}:palm_tree: {ae} is away until {until} with no cover: "
                              "reassign this hand-off (its SLA clocks are running).",
                              key_suffix=f":away:{period.id}"),
                _tell_csm(signal, period, f"{ae} is away until {until} with no cover: your "
                          f"*{account}* signal went to their manager {mention(holder)}.")]
    return out + ([outgoing.home(holder)] if holder else [])


def _move_back(session: Session, signal: Signal, now: datetime) -> list[Outgoing]:
    was = signal.acting_ae_id
    signal.acting_ae_id = None
    _hold(session, signal, None)
    record_event(session, signal, "cover_ended", None, now, signal.stage, signal.stage,
                 {"ae": signal.ae_id, "acting": was})
    return [outgoing.refresh(signal), outgoing.home(was), outgoing.home(signal.csm_id)]


def _tell_csm(signal: Signal, period: AwayPeriod, text: str) -> Outgoing:
    return outgoing.notice(f"away:{period.id}:csm:{signal.id}:{signal.token}", signal.csm_id,
                           text, signal)


# -- handing back -------------------------------------------------------------------------------


def _hand_back(session: Session, config: Config, now: datetime) -> None:
    due = session.scalars(select(AwayPeriod).where(
        AwayPeriod.began_at.is_not(None), AwayPeriod.handed_back_at.is_(None),
        or_(AwayPeriod.ends <= now, AwayPeriod.ended_at.is_not(None))))
    for period in list(due):
        if not _claim(session, period, AwayPeriod.handed_back_at, now):
            continue
        if period.ended_at is None:
            _event(session, "away_ended", None, now, period)
        enqueue(session, _welcome_back(session, config, period, now), now)


def _welcome_back(session: Session, config: Config, period: AwayPeriod,
                  now: datetime) -> list[Outgoing]:
    lines = summary_lines(session, period.person_id, period.began_at or period.starts, now)
    span = span_label(session, config, period)
    by = f", {mention(period.cover_id)} covering" if period.cover_id else ""
    head = f":wave: Welcome back! While you were away ({span}{by}):"
    body = "\n".join(lines) if lines else "Nothing happened on your signals."
    waiting = session.scalar(select(func.count()).select_from(Signal).where(
        Signal.ae_id == period.person_id, Signal.stage.in_(stages.WITH_AE))) or 0
    tail = (f"{waiting} open hand-off{'s are' if waiting != 1 else ' is'} back with you: see "
            "your App Home." if waiting else "Nothing is waiting on you.")
    out = [outgoing.notice(f"away:{period.id}:back", period.person_id,
                           f"{head}\n{body}\n{tail}"), outgoing.home(period.person_id)]
    if period.cover_id:
        out += [outgoing.notice(f"away:{period.id}:back:cover", period.cover_id,
                                f":wave: {mention(period.person_id)} is back: the hand-offs you "
                                "covered are theirs again. Thank you!"),
                outgoing.home(period.cover_id)]
    return out


def summary_lines(session: Session, person_id: str, since: datetime, now: datetime,
                  limit: int = SUMMARY_SIGNALS) -> list[str]:
    """One line per signal of `person_id` that something happened to in [since, now]."""
    rows = session.execute(
        select(SignalEvent.signal_id, SignalEvent.kind, SignalEvent.actor_id,
               SignalEvent.detail, Signal)
        .join(Signal, Signal.id == SignalEvent.signal_id)
        .where(Signal.ae_id == person_id, SignalEvent.at >= since, SignalEvent.at <= now,
               SignalEvent.kind.in_(list(WHAT_HAPPENED)))
        .order_by(SignalEvent.at, SignalEvent.id))
    happened: dict[int, list[str]] = defaultdict(list)
    signals: dict[int, Signal] = {}
    for signal_id, kind, actor, detail, signal in rows:
        signals[signal_id] = signal
        happened[signal_id].append(_happening(kind, actor, detail or {}))
    lines = [_line(signals[sid], list(dict.fromkeys(what))) for sid, what in happened.items()]
    if len(lines) > limit:
        lines = lines[:limit] + [f"…and {len(lines) - limit} more (see your App Home)."]
    return lines


def _happening(kind: str, actor: str | None, detail: dict) -> str:
    text = WHAT_HAPPENED[kind].format(acting=mention(detail.get("acting")))
    return f"{text} by {mention(actor)}" if actor and kind != "handed_off" else text


def _line(signal: Signal, what: Sequence[str]) -> str:
    stage = stages.STAGE_LABELS.get(signal.stage, signal.stage)
    if signal.outcome:
        stage = stages.OUTCOME_LABELS.get(signal.outcome, stage)
    return (f"• *{escape(signal.account.name)}* (#{signal.id}, now {stage}): "
            f"{', '.join(what)}")
