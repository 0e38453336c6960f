"""The App Home tab: one section per role the reader has, within Slack's 100-block limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from blocks import limits
from blocks.card import CLOCK_VERBS, NUDGE, REASSIGN, REQUALIFY, owner_buttons, policy_note
from blocks.charts import chart_block, chart_text
from blocks.digest import funnel_chart, sla_chart
from blocks.kit import Block, actions, button, context, divider, header, section
from blocks.text import duration, escape, mention, truncate, when
from blocks.views import AwayLine, ClockView, EscalationView, SignalView
from protocol import stages
from protocol.catalogue import URGENCY_EMOJI, kind_label
from protocol.digest import Funnel, WeekSla
from protocol.routing import csm_closes, pages_ae
from protocol.sla import ClockState

WELCOME = (
    "signalbot carries expansion signals from Customer Success to the account's AE, and keeps "
    "the hand-off on time.\n\n*Spotted a customer ready to grow?* Type `/signal` in any "
    "channel (or `/signal Account name`) and fill in the five fields: account, signal, named "
    "buyer, timeline and context. Qualified signals go straight to the AE; the rest become "
    "watch items you can update later.\n\nOnce you log or receive signals, this tab shows "
    "where each one stands."
)


@dataclass
class Item:
    """One signal as a Home line, with its nearest running clock and latest escalation."""

    signal: SignalView
    clock: ClockView | None = None
    escalation: EscalationView | None = None


@dataclass
class Listing:
    """A capped page of items and how many there are in all."""

    items: Sequence[Item]
    total: int

    @property
    def more(self) -> int:
        """How many did not fit on the page."""
        return max(0, self.total - len(self.items))


def home_view(*sections: list[Block]) -> dict[str, Any]:
    """A `home` view of the non-empty `sections`, divided, cut to at most 100 blocks."""
    blocks: list[Block] = []
    for part in (s for s in sections if s):
        if blocks:
            blocks.append(divider())
        blocks.extend(part)
    if len(blocks) > limits.VIEW_BLOCKS:
        blocks = blocks[: limits.VIEW_BLOCKS - 1]
        blocks.append(context("Not everything fits here: the rest is in your DMs with signalbot."))
    return {"type": "home", "blocks": blocks}


def intro_blocks(now: datetime) -> list[Block]:
    """The top of the tab: a title and when it was drawn."""
    return [header("Your expansion hand-offs"),
            context(f"Updated {when(now)} · log a new signal with `/signal`")]


def welcome_blocks() -> list[Block]:
    """What someone with no signals, team or admin role sees."""
    return [header("Welcome to signalbot"), section(WELCOME)]


OPEN_AWAY = "away_open"  # "Going away?": opens the time-away form
END_AWAY = "away_end"  # "I'm back" / "Cancel" on a period of one's own


def away_blocks(mine: Sequence[AwayLine], covering: Sequence[AwayLine], offer: bool,
                others: Sequence[AwayLine] = (), limit: int = 10) -> list[Block]:
    """Time away: the reader's own periods (with *I'm back* / *Cancel*), the people they cover
    for now, their team's (a manager) or everyone's (an admin) periods, and (for AEs and
    managers) *Going away?*."""
    blocks: list[Block] = []
    for line in mine:
        cover = f"cover {mention(line.cover)}" if line.cover else "no cover (hand-offs go to " \
            "your manager)"
        label = "I'm back" if line.now else "Cancel"
        text = (f":palm_tree: *You are away {line.span}* · {cover}" if line.now
                else f":calendar: Time away planned: {line.span} · {cover}")
        blocks.append(section(text, accessory=button(label, END_AWAY, line.person)))
    for line in covering:
        blocks.append(section(f":handshake: *Covering for {mention(line.person)} until "
                              f"{line.until}*: you are the acting AE on their hand-offs (they "
                              "are in your queue below)."))
    if others:
        shown = "\n".join(
            f"• {mention(a.person)} {a.span}, "
            + (f"cover {mention(a.cover)}" if a.cover else "no cover")
            + f" · set by {mention(a.set_by)}" + (" · *now*" if a.now else "")
            for a in others[:limit])
        more = f"\n…and {len(others) - limit} more (`/signal admin show`)" \
            if len(others) > limit else ""
        blocks.append(section(f":palm_tree: *Away (under way or ahead)*\n{shown}{more}"))
    if offer and not any(line.now for line in mine):
        blocks.append(actions("home:away", [button("Going away?", OPEN_AWAY, "away")]))
    return blocks


def csm_blocks(logged: Listing, watch: Listing, now: datetime) -> list[Block]:
    """The CSM's signals and where each stands, then their watch items."""
    blocks: list[Block] = []
    if logged.total:
        blocks.append(header("Signals you logged"))
        for item in logged.items:
            blocks.append(section(_csm_line(item, now)))
            if csm_closes(item.signal.ownership):
                blocks += _button_row("csm", item.signal, owner_buttons(item.signal))
        blocks += _more(logged)
    if watch.total:
        blocks.append(header("Your watch items"))
        for item in watch.items:
            requalify = button("Update qualification", REQUALIFY, str(item.signal.id), "primary")
            blocks.append(section(_watch_line(item.signal), accessory=requalify))
        blocks += _more(watch)
    return blocks


def ae_blocks(queue: Listing, watch: Listing, now: datetime, reader: str | None = None
              ) -> list[Block]:
    """The AE's open hand-offs (those they act on as cover included), nearest deadline first,
    then watch items for the account sync."""
    blocks: list[Block] = []
    if queue.total:
        blocks.append(header("Your hand-off queue"))
        for item in queue.items:
            blocks.append(section(_ae_line(item, now, reader)))
            blocks += _button_row("ae", item.signal, owner_buttons(item.signal))
        blocks += _more(queue)
    if watch.total:
        blocks.append(header("Watch items for your account sync"))
        for item in watch.items:
            blocks.append(section(_ae_line(item, now)))
            blocks += _button_row("aew", item.signal, owner_buttons(item.signal))
        blocks += _more(watch)
    return blocks


def manager_blocks(breaches: Listing, now: datetime) -> list[Block]:
    """The manager's team: missed SLAs and open escalations, with Reassign / Nudge."""
    blocks: list[Block] = [header("Your team: breaches and escalations")]
    if not breaches.total:
        return blocks + [context(":white_check_mark: No missed SLAs on your team's open "
                                 "hand-offs.")]
    for item in breaches.items:
        blocks.append(section(_manager_line(item, now)))
        if item.signal.stage in stages.WITH_AE:
            value = str(item.signal.id)
            blocks += _button_row("mgr", item.signal, [button("Reassign", REASSIGN, value),
                                                        button("Nudge the AE", NUDGE, value)])
    return blocks + _more(breaches)


def admin_blocks(gaps: Sequence[str], held: int, limit: int = 30) -> list[Block]:
    """Roster gaps (AEs with open hand-offs and no manager) and the held outbox count."""
    if gaps:
        shown = ", ".join(mention(ae) for ae in gaps[:limit])
        extra = f" and {len(gaps) - limit} more" if len(gaps) > limit else ""
        gap_text = (f":warning: *Roster gaps:* {shown}{extra} hold open hand-offs but have no "
                    "manager on the roster, so their misses go to the admins.")
    else:
        gap_text = ":white_check_mark: *Roster:* every AE with open hand-offs has a manager."
    if held:
        held_text = (f":warning: *{held} outbox message{'s' if held != 1 else ''} held* "
                     "(not retried); `signalbot status` shows the backlog.")
    else:
        held_text = ":white_check_mark: *Outbox:* nothing held."
    return [header("Admin"), section(gap_text), section(held_text)]


def chart_blocks(weeks: list[WeekSla], funnel: Funnel | None, whose: str) -> list[Block]:
    """SLA attainment per week (line) and last week's funnel (bar), each with its figures in
    words; `whose` names them ("Your team's", "Everyone's", "Your"). Empty: nothing to draw."""
    charts = [sla_chart(weeks, f"{whose} SLA attainment, last {len(weeks)} weeks (%)"),
              funnel_chart(funnel, f"{whose} signals last week") if funnel else None]
    blocks: list[Block] = []
    for chart in (c for c in charts if c is not None):
        blocks += [chart_block(chart), context(escape(chart_text(chart)))]
    return blocks


# -- lines -----------------------------------------------------------------------------------


def _title(signal: SignalView) -> str:
    kind = escape(kind_label(signal.category, signal.kind))
    line = f"{URGENCY_EMOJI.get(signal.urgency, '')} *{escape(signal.account)}* · {kind}"
    if signal.detail:
        line += f" — {escape(truncate(signal.detail, 150))}"
    return line


def _stage(signal: SignalView) -> str:
    return stages.STAGE_LABELS.get(signal.stage, signal.stage)


def _clock_line(clock: ClockView | None, now: datetime) -> str:
    if clock is None:
        return ""
    verb = CLOCK_VERBS.get(clock.clock, clock.clock)
    left = (clock.due_at - now).total_seconds()
    policy = policy_note(clock)
    if left > 0:
        return f"\n:alarm_clock: {verb} by {when(clock.due_at)} · {duration(left)} left{policy}"
    escalated = " · escalated" if clock.state == ClockState.MISSED else ""
    return (f"\n:rotating_light: {verb} by {when(clock.due_at)} · *overdue* "
            f"({duration(left)} late){escalated}{policy}")


def _outcome(signal: SignalView) -> str:
    if not signal.outcome:
        return ""
    line = f"\n*{stages.OUTCOME_LABELS.get(signal.outcome, signal.outcome)}*"
    if signal.won_arr is not None:
        line += f" · ARR {signal.won_arr:,.0f}"
    if signal.revisit_on:
        line += f" · back on {signal.revisit_on.isoformat()}"
    return line


def _csm_line(item: Item, now: datetime) -> str:
    signal = item.signal
    owner = f"AE {mention(signal.ae_id)}" if pages_ae(signal.ownership) else "CS-led (you own it)"
    if signal.acting_ae_id and pages_ae(signal.ownership) and signal.stage in stages.WITH_AE:
        owner += f" (away; acting: {mention(signal.acting_ae_id)})"
    return (f"{_title(signal)}\n{owner} · {_stage(signal)}"
            f"{_outcome(signal)}{_clock_line(item.clock, now)}")


def _watch_line(signal: SignalView) -> str:
    revisit = (f"revisit on {signal.revisit_on.isoformat()}" if signal.revisit_on
               else "not qualified yet")
    return f"{_title(signal)}\n:eyes: Watch item · {revisit} · AE {mention(signal.ae_id)}"


def _ae_line(item: Item, now: datetime, reader: str | None = None) -> str:
    signal = item.signal
    covering = (f" · acting for {mention(signal.ae_id)} (away)"
                if reader and signal.acting_ae_id == reader and signal.ae_id != reader else "")
    return (f"{_title(signal)}\nFrom {mention(signal.csm_id)} · {_stage(signal)}{covering}"
            f"{_clock_line(item.clock, now)}")


def _manager_line(item: Item, now: datetime) -> str:
    signal = item.signal
    text = f"{_title(signal)}\nAE {mention(signal.ae_id)} · {_stage(signal)}"
    if item.clock is not None and item.clock.due_at <= now:
        text += _clock_line(item.clock, now)
    if item.escalation is not None:
        esc = item.escalation
        text += (f"\n:arrow_up: Escalated (level {esc.level}) {when(esc.decided_at)}: "
                 f"{mention(esc.ae_id)} missed the SLA due {when(esc.due_at)}")
    return text


# -- buttons ---------------------------------------------------------------------------------


def _button_row(prefix: str, signal: SignalView, buttons: list[Block]) -> list[Block]:
    return [actions(f"home:{prefix}:{signal.id}", buttons)] if buttons else []


def _more(listing: Listing) -> list[Block]:
    if not listing.more:
        return []
    return [context(f"…and {listing.more} more: see your DMs with signalbot.")]
