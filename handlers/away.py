"""Away and cover from Slack: `/signal away …`, `/signal back`, and the App Home form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App

from blocks import limits, replies
from blocks.home import END_AWAY, OPEN_AWAY
from blocks.modal import AWAY_MODAL, away_modal
from blocks.text import escape, mention
from handlers.forms import Form
from handlers.interaction import answer, commit_then_ack, open_modal
from service.away import AwayError, end_away, set_away, span_label, upcoming
from service.runtime import Runtime
from storage.models import AwayPeriod

USAGE = ("Usage: `/signal away until 2026-12-24 cover @dana` (optionally `from 2026-12-14`, and "
         "a note at the end); a manager or admin puts a name first: `/signal away @alex until "
         "2026-12-24 cover @dana`. `/signal back` ends it early. Dates are YYYY-MM-DD, in the "
         "away person's time zone, the last day included.")
USER = r"<@(?P<{name}>[UW][A-Z0-9]+)(?:\|[^>]*)?>"
AWAY = re.compile(
    r"^away(?:\s+" + USER.format(name="who") + r")?"
    r"(?:\s+from\s+(?P<first>\S+))?"
    r"\s+(?:until|till|to|through)\s+(?P<last>\S+)"
    r"(?:\s+(?:cover(?:ed\s+by)?|with)\s+(?:" + USER.format(name="cover") + r"|(?P<bad>\S+)))?"
    r"(?:\s+(?:note:?\s+)?(?P<note>.+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
BACK = re.compile(r"^back(?:\s+" + USER.format(name="who") + r")?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class AwayRequest:
    """What `/signal away …` asked for."""

    person: str
    first: date | None
    last: date
    cover: str | None
    note: str | None


def parse_away(text: str, actor: str) -> AwayRequest:
    """`/signal away [@who] [from DATE] until DATE [cover @who] [note]`; ValueError says why."""
    found = AWAY.match(text.strip())
    if not found:
        raise ValueError(f"I could not read that. {USAGE}")
    if found["bad"]:
        raise ValueError("Name the cover with an @mention, e.g. `cover @dana`.")
    first = _day(found["first"]) if found["first"] else None
    return AwayRequest(found["who"] or actor, first, _day(found["last"]), found["cover"],
                       found["note"])


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{escape(text)}` is not a date: write it as YYYY-MM-DD, e.g. "
                         "`until 2026-12-24`.") from None


def away_command(services: Runtime, actor: str, text: str) -> dict[str, Any]:
    """Answer `/signal away …`: set the period (committed before the answer) or say why not."""
    if text.strip().lower() == "away":
        return _status(services, actor)
    try:
        asked = parse_away(text, actor)
        with services.unit_of_work() as session:
            period, changed = set_away(session, services.config, actor, asked.person,
                                       asked.first, asked.last, asked.cover, asked.note,
                                       services.now())
            answer = _set_answer(services, session, period, actor, changed)
    except (ValueError, AwayError) as exc:
        return replies.ephemeral(str(exc))
    return replies.ephemeral(answer)


def back_command(services: Runtime, actor: str, text: str) -> dict[str, Any]:
    """Answer `/signal back [@who]`: end the period now (or cancel the next one)."""
    found = BACK.match(text.strip())
    if not found:
        return replies.ephemeral("Usage: `/signal back`, or `/signal back @alex` for someone on "
                                 "your team.")
    person = found["who"] or actor
    try:
        with services.unit_of_work() as session:
            period = end_away(session, services.config, actor, person, services.now())
            begun = period.began_at is not None
            span = span_label(session, services.config, period)
    except AwayError as exc:
        return replies.ephemeral(str(exc))
    who = "You are" if person == actor else f"{mention(person)} is"
    if not begun:
        return replies.ephemeral(f"Cancelled: {who} not going away after all "
                                 f"({span}).".replace("You are", "you are"))
    return replies.ephemeral(f":wave: {who} back: every open hand-off is back, and a summary "
                             "of what happened is on its way.")


def _set_answer(services: Runtime, session, period: AwayPeriod, actor: str,
                changed: bool = False) -> str:
    who = "You are" if period.person_id == actor else f"{mention(period.person_id)} is"
    who = f"Changed: {who[0].lower()}{who[1:]}" if changed else who
    span = span_label(session, services.config, period)
    cover = (f"{mention(period.cover_id)} covers as *acting AE*: hand-offs go to them, the "
             "signals stay yours" if period.cover_id else
             "No cover: new hand-offs go to the manager at once, to reassign")
    back = "`/signal back`" if period.person_id == actor else \
        f"`/signal back {mention(period.person_id)}`"
    return f":palm_tree: {who} away {span}. {cover}. {back} ends it early."


def _status(services: Runtime, actor: str) -> dict[str, Any]:
    with services.unit_of_work() as session:
        periods = upcoming(session, services.now(), actor, limit=3)
        lines = [f"• {span_label(session, services.config, p)}"
                 + (f", cover {mention(p.cover_id)}" if p.cover_id else ", no cover")
                 for p in periods]
    now = "You are not away, and no time away is planned." if not lines else \
        "Your time away:\n" + "\n".join(lines)
    return replies.ephemeral(f"{now}\n{USAGE}")


# -- App Home: the form and the buttons ---------------------------------------------------------


def register(app: App) -> None:
    """*Going away?* opens the form (after the ack); the form's submission; *I'm back*."""
    app.action(OPEN_AWAY)(ack=open_away_form, lazy=[open_modal])
    app.view(AWAY_MODAL)(submit_away_form)
    app.action(END_AWAY)(end_away_button)


def open_away_form(ack: Ack, context) -> None:
    """Build the time-away form for whoever pressed; `open_modal` opens it after the ack."""
    context["modal_view"] = away_modal(context["actor"])
    ack()


def submit_away_form(ack: Ack, view: dict[str, Any], actor: str, services: Runtime) -> None:
    """Set the period; a problem is shown next to its field, nothing is saved."""
    form = Form(view)
    last = form.day("last")
    first = form.day("first")
    if form.errors or last is None:
        return ack(response_action="errors",
                   errors=form.errors or {"last": "Pick the last day away."})
    try:
        with services.unit_of_work() as session:
            set_away(session, services.config, actor, form.user("person") or actor, first,
                     last, form.user("cover"), form.text("note"), services.now())
    except AwayError as exc:
        return ack(response_action="errors", errors={exc.field: str(exc)[: limits.FIELD_ERROR]})
    ack()
    services.wake()


def end_away_button(ack: Ack, body: dict[str, Any], actor: str, services: Runtime) -> None:
    """*I'm back* (or *Cancel*) on the Home tab: end the person's period now."""
    person = (body.get("actions") or [{}])[0].get("value") or actor

    def work(session, now):
        try:
            end_away(session, services.config, actor, person, now)
        except AwayError as exc:
            return [answer(body, actor, str(exc))]
        return []

    commit_then_ack(services, ack, work)
