"""The weekly digest as a channel post (Block Kit) and as plain text (`signalbot digest --dry-run`).

Both come from one list of parts (`_parts`); only people, account names and emphasis are
written differently. The post stays inside Slack's limits however many AEs and CSMs there
are: lists show the first ten and "and N more", sections are cut under 3000 characters.
The product-data triggers and CRM sync parts appear only for teams that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from blocks import limits
from blocks.charts import (
    Chart,
    Series,
    Table,
    chart_block,
    chart_lines,
    chart_text,
    fit_table,
    table_block,
    table_lines,
    table_text,
)
from blocks.kit import Block, context, divider, header, section
from blocks.text import duration, escape, mention, truncate
from protocol.catalogue import category_label
from protocol.digest import (
    AeEscalations,
    AeSla,
    CrmSync,
    CsmQuality,
    Digest,
    Escalations,
    Funnel,
    Item,
    ProductTriggers,
    Tally,
    TriggerConversion,
    Week,
    WeekSla,
)
from protocol.policy import DEFAULT_POLICY
from protocol.triggers import LABELS as TRIGGER_LABELS

MAX_BLOCKS = limits.MESSAGE_BLOCKS
BUDGET = limits.SECTION_TEXT - 100  # characters of one section's text, with room to spare
TOP = 10  # entries per list in the post
FALLBACK = limits.MESSAGE_TEXT  # characters of the message's `text` (notifications show it)
NAME = 60  # account names are cut to this length before escaping
REASON = 80  # dismiss reasons likewise
URGENCY_NAMES = {"hot": "Hot", "warm": "Warm", "watch": "Watch"}


@dataclass(frozen=True)
class _Style:
    """How people, accounts and emphasis are written on one surface."""

    who: Callable[[str | None], str]
    account: Callable[[str], str]
    bold: Callable[[str], str]
    em: Callable[[str], str]
    text: Callable[[str, int], str]  # other user text (cut to a length, escaped)


@dataclass
class _Part:
    """One piece of the digest: header, context, fields, list or divider."""

    kind: str
    title: str = ""
    lines: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    total: int = 0  # entries in the whole list (lines may hold fewer)
    chart: Chart | None = None
    table: Table | None = None


def digest_blocks(digest: Digest, quality_inline: bool = False) -> tuple[str, list[Block]]:
    """The fallback text and Block Kit blocks of the channel post; the CSMs' signal quality
    is in the next post (`quality_blocks`), or listed here with `quality_inline` (a preview
    is one message)."""
    # names, not mentions, where known: a weekly post must not ping everyone it lists
    style = _Style(who=lambda user: _named(digest, user),
                   account=lambda name: escape(truncate(name, NAME)),
                   bold=lambda text: f"*{text}*", em=lambda text: f"_{text}_",
                   text=lambda words, limit: escape(truncate(words, limit)))
    parts = _parts(digest, style, quality=_QUALITY_INLINE if quality_inline else _QUALITY_NEXT)
    blocks = [_block(part) for part in parts]
    return _fallback(_summary(digest), parts), blocks[:MAX_BLOCKS]


def quality_blocks(digest: Digest) -> tuple[str, list[Block]] | None:
    """The second channel post, right after the digest: signal quality per CSM as a table.

    Slack draws one table a message (`only_one_table_allowed`), and the digest's table is
    the per-AE SLA, so the CSMs' table travels in a message of its own. None without CSMs.
    """
    if not digest.csm_quality:
        return None
    title = f"Signal quality by CSM: {_span(digest.first_day, digest.last_day)}"
    parts = [_Part("header", title),
             _Part("context", "Routed signals that were won, last 90 days, most routed first"),
             _Part("table", title="By CSM", table=_quality_table(digest))]
    return _fallback(title + ".", parts), [_block(part) for part in parts]


def _fallback(summary: str, parts: list[_Part]) -> str:
    """The message's `text`: the summary, then every chart's and table's figures in words
    (notifications show the start; screen readers and old clients read it all). Kept under
    FALLBACK characters: table rows past that are counted, not listed."""
    lines = [summary]
    for part in parts:
        if part.chart is not None:
            lines.append(chart_text(part.chart))
    for part in parts:
        if part.table is not None:
            lines.append(part.title + ":")
            rows = table_text(part.table)
            shown = 0
            for row in rows:
                if sum(len(line) + 1 for line in lines) + len(row) > FALLBACK - 80:
                    break
                lines.append(f"• {row}")
                shown += 1
            if part.table.total > shown:
                lines.append(f"• and {part.table.total - shown} more in the table")
    return "\n".join(lines)


def _named(digest: Digest, user: str | None) -> str:
    name = digest.people.get(user) if user else None
    return escape(name) if name else mention(user)


def digest_text(digest: Digest) -> str:
    """The digest as readable plain text (names instead of mentions, nothing cut)."""
    style = _Style(who=lambda user: digest.people.get(user, user) if user else "nobody",
                   account=lambda name: name, bold=lambda text: text, em=lambda text: text,
                   text=lambda words, _limit: words)
    out: list[str] = []
    for part in _parts(digest, style, quality=_QUALITY_INLINE):
        out += _text(part)
    return "\n".join(out).strip() + "\n"


# -- rendering parts ------------------------------------------------------------------------


def _block(part: _Part) -> Block:
    if part.kind == "header":
        return header(part.title)
    if part.kind == "context":
        return context(_fit(part.title))
    if part.kind == "divider":
        return divider()
    if part.kind == "chart" and part.chart is not None:
        return chart_block(part.chart)
    if part.kind == "table" and part.table is not None:
        return table_block(part.table)
    if part.kind == "fields":
        block = {"type": "section", "fields": [
            {"type": "mrkdwn", "text": _fit(f"*{label}*\n{value}", 1900)}
            for label, value in part.pairs[: limits.SECTION_FIELDS]]}
        if part.title:
            block["text"] = {"type": "mrkdwn", "text": _fit(part.title)}
        return block
    return section(_listing(part))


def _listing(part: _Part) -> str:
    text, shown = part.title, 0
    for line in part.lines[:TOP]:
        if len(text) + len(line) + 1 > BUDGET - 120:
            break
        text += "\n" + line
        shown += 1
    if part.total > shown:
        text += f"\n_and {part.total - shown} more: `signalbot export` has the full table_"
    return _fit(text)


def _fit(text: str, limit: int = BUDGET) -> str:
    return truncate(text, limit)


def _text(part: _Part) -> list[str]:
    if part.kind == "header":
        return [part.title, "=" * len(part.title)]
    if part.kind == "divider":
        return [""]
    if part.kind == "chart" and part.chart is not None:
        return chart_lines(part.chart)
    if part.kind == "table" and part.table is not None:
        more = part.table.total - len(part.table.rows)
        return table_lines(part.table) + ([f"  and {more} more"] if more else [])
    lines = [part.title] if part.title else []
    lines += [f"  {label}: {value.replace(chr(10), '; ')}" for label, value in part.pairs]
    lines += [f"  {line}" for line in part.lines]
    if part.total > len(part.lines):
        lines.append(f"  and {part.total - len(part.lines)} more")
    return lines


def _summary(d: Digest) -> str:
    week = d.week
    text = (f"Weekly expansion digest, {_span(d.first_day, d.last_day)}: "
            f"{_n(week.signals.total, 'signal')} logged, {week.outcomes.won} won "
            f"(ARR {_money(week.outcomes.won_arr)})")
    if week.ack.share is not None:
        text += f", {_pct(week.ack.share)} of hand-offs acknowledged within SLA"
    return text + "."


# -- the content ----------------------------------------------------------------------------


_QUALITY_INLINE, _QUALITY_NEXT = "inline", "next"


def _parts(d: Digest, s: _Style, quality: str) -> list[_Part]:
    """The digest's parts; the CSMs' signal quality `inline` (text) or as a pointer to the
    `next` message, which carries it as a table (`quality_blocks`)."""
    parts = [
        _Part("header", f"Weekly expansion digest: {_span(d.first_day, d.last_day)}"),
        _Part("context", f"{d.first_day:%a} {_day(d.first_day)} to {d.last_day:%a} "
                         f"{_day(d.last_day)} {d.last_day.year} ({d.timezone}) · ▲▼ compare "
                         "with the week before"),
        _signals(d.week, d.previous, s),
        _Part("divider"),
        *_sla(d, s),
        _Part("divider"),
        *_escalations(d, s),
        _Part("divider"),
        _outcomes(d.week, d.previous, s),
        *_funnels(d, s),
        *(_quality(d.csm_quality, s) if quality == _QUALITY_INLINE else _quality_next(d, s)),
        *_triggers(d, s),
        _Part("divider"),
        *_stalled(d, s),
        *_crm(d.crm, s),
        _Part("context", f"Full table: `signalbot export --since {d.first_day.isoformat()} "
                         "--format csv`"),
    ]
    return parts


def _signals(week: Week, before: Week, s: _Style) -> _Part:
    now, then = week.signals, before.signals
    urgencies = [u for u in URGENCY_NAMES if u in now.by_urgency or u in then.by_urgency]
    categories = sorted(set(now.by_category) | set(then.by_category),
                        key=lambda c: (-now.by_category.get(c, 0), c))
    return _Part("fields", title=s.bold("Signals"), pairs=(
        ("Signals logged", _counted(now.total, then.total)),
        ("Qualified and handed off", _counted(now.qualified, then.qualified)),
        ("Kept as watch items", _counted(now.watch, then.watch)),
        ("By urgency", " · ".join(
            f"{URGENCY_NAMES[u]} {_short(now.by_urgency.get(u, 0), then.by_urgency.get(u, 0))}"
            for u in urgencies) or "—"),
        ("By type", " · ".join(
            f"{category_label(c)} {_short(now.by_category.get(c, 0), then.by_category.get(c, 0))}"
            for c in categories) or "—"),
        ("Ownership upgrades", _upgrades(week.upgrades, before.upgrades)),
        ("Covered hand-offs", _covered(week, before, s)),
    ))


def _covered(week: Week, before: Week, s: _Style) -> str:
    """'3 (1 before) · away: Alex (cover Dana), Sam (no cover)': hand-offs that went to a
    cover while their AE was away, and who was away."""
    text = _counted(week.covered, before.covered)
    if week.away:
        text += " · away: " + ", ".join(
            f"{s.who(person)} ({'cover ' + s.who(cover) if cover else 'no cover'})"
            for person, cover in week.away[:5])
        text += f" and {len(week.away) - 5} more" if len(week.away) > 5 else ""
    return text


def _upgrades(now: dict[str, int], then: dict[str, int]) -> str:
    """'2 (1 before): CS-led → AE closes 1 · AE closes → joint 1'."""
    total = _counted(sum(now.values()), sum(then.values()))
    moves = " · ".join(f"{_MODEL.get(a, a)} → {_MODEL.get(b, b)} {n}"
                       for (a, b), n in sorted((tuple(k.split(">", 1)), n)
                                               for k, n in now.items()))
    return f"{total}: {moves}" if moves else total


_MODEL = {"cs_led": "CS-led", "ae": "AE closes", "joint": "joint"}


def _sla(d: Digest, s: _Style) -> list[_Part]:
    week, before = d.week, d.previous
    parts = [_Part("fields", title=f"{s.bold('SLA attainment')} — hand-offs to AEs this week",
                   pairs=(("Acknowledged within SLA", _attained(week.ack, before.ack)),
                          ("Customer contact within SLA",
                           _attained(week.contact, before.contact))))]
    trend = sla_chart(d.sla_weeks)
    if trend is not None:
        parts += [_Part("chart", title=trend.title, chart=trend),
                  _Part("context", chart_text(trend))]
    if any(row.policy != DEFAULT_POLICY for row in week.per_policy):
        lines = tuple(f"{s.bold(s.text(row.policy, 60))}: acknowledged {_ratio(row.ack)}, "
                      f"contacted {_ratio(row.contact)} within SLA" for row in week.per_policy)
        parts.append(_Part("list", title=s.bold("By SLA policy") + " (the policy each "
                           "hand-off's clocks run under)", lines=lines, total=len(lines)))
    if week.per_ae:
        parts += [_Part("context", s.bold("By AE") + " (most hand-offs first): SLA attainment "
                                   "of each AE's hand-offs this week"),
                  _Part("table", title="By AE", table=_ae_table(week.per_ae, d))]
    return parts


def sla_chart(weeks: list[WeekSla], title: str = "") -> Chart | None:
    """Ack and contact attainment (% within SLA) per week, for the weeks where both had
    decided clocks; None when no week had (a first week, a quiet team)."""
    shown = [w for w in weeks if w.ack.counted and w.contact.counted]
    if not shown:
        return None
    return Chart(
        kind="line", title=title or f"SLA attainment, last {len(weeks)} weeks (%)",
        categories=tuple(_day(w.first_day) for w in shown),
        series=(Series("Acknowledged", tuple(_share(w.ack) for w in shown)),
                Series("Contacted", tuple(_share(w.contact) for w in shown))),
        x_label="Week starting", y_label="% within SLA", unit="%")


def _share(tally: Tally) -> int:
    return round((tally.share or 0) * 100)


def _ae_table(rows: list[AeSla], d: Digest) -> Table:
    header = ("AE", "Hand-offs", "Ack within SLA", "Contact within SLA", "Pending")
    return fit_table(header, [
        (d.people.get(row.ae_id or "", row.ae_id or "no AE"),
         f"{row.ack.counted + row.ack.pending:,}", _ratio(row.ack), _ratio(row.contact),
         f"{row.ack.pending + row.contact.pending:,}")
        for row in rows])


def _escalations(d: Digest, s: _Style) -> list[_Part]:
    esc: Escalations = d.week.escalations
    title = f"{s.bold('Escalations')}: {_counted(esc.total, d.previous.escalations.total)}"
    if esc.total:
        title += (f" · escalated on average {duration(esc.avg_late_s or 0)} after the "
                  f"deadline (at most {duration(esc.max_late_s or 0)})")
    parts = [_Part("list", title=title, lines=tuple(_esc_line(r, s) for r in esc.per_ae),
                   total=len(esc.per_ae))]
    if d.week.extensions:
        asked = sum(r.asked for r in d.week.extensions)
        granted = sum(r.granted for r in d.week.extensions)
        parts.append(_Part("list", title=f"{s.bold('Extensions')} of the contact SLA: "
                                         f"{asked} asked, {granted} granted",
                           lines=tuple(f"{s.who(r.ae_id)} — {r.asked} asked, {r.granted} granted"
                                       for r in d.week.extensions),
                           total=len(d.week.extensions)))
    if esc.open_signals:
        parts.append(_Part("list", title=f"{s.bold('Escalated and still open')} "
                                         f"({esc.open_signals})",
                           lines=tuple(_item(i, s, d.now, "handed off") for i in esc.open_items),
                           total=esc.open_signals))
    return parts


def _esc_line(row: AeEscalations, s: _Style) -> str:
    return (f"{s.who(row.ae_id)} — {_n(row.escalations, 'escalation')} on "
            f"{_n(row.signals, 'signal')}, {row.still_open} still open")


def _outcomes(week: Week, before: Week, s: _Style) -> _Part:
    now, then = week.outcomes, before.outcomes
    won = (f"{_counted(now.won, then.won)}\nARR {_money(now.won_arr)} "
           f"({_versus(now.won_arr - then.won_arr, _money)})")
    return _Part("fields", title=f"{s.bold('Outcomes')} — signals closed this week", pairs=(
        ("Won", won), ("Lost", _counted(now.lost, then.lost)),
        ("Deferred", _counted(now.deferred, then.deferred)),
        ("Customer not ready", _counted(now.not_ready, then.not_ready)),
    ))


def _funnels(d: Digest, s: _Style) -> list[_Part]:
    since = _day(d.quarter_start.astimezone(ZoneInfo(d.timezone)).date())
    parts = [_Part("list", title=s.bold("Funnel") + " (how far the signals got, as of now)",
                   lines=(f"This week's signals: {_funnel(d.week.funnel)}",
                          f"Rolling quarter (since {since}): {_funnel(d.quarter_funnel)}"),
                   total=2)]
    chart = funnel_chart(d.week.funnel)
    if chart is not None:
        parts += [_Part("chart", title=chart.title, chart=chart),
                  _Part("context", chart_text(chart))]
    return parts


FUNNEL_STEPS = (("Logged", "logged"), ("Qualified", "qualified"), ("Handed off", "handed_off"),
                ("Acknowledged", "acknowledged"), ("Contacted", "contacted"), ("Won", "won"))


def funnel_chart(f: Funnel, title: str = "This week's signals, as far as they got") -> Chart | None:
    """The funnel as a bar chart (logged → … → won); None when nothing was logged."""
    if not f.logged:
        return None
    return Chart(kind="bar", title=title, categories=tuple(name for name, _ in FUNNEL_STEPS),
                 series=(Series("Signals", tuple(getattr(f, key) for _, key in FUNNEL_STEPS)),),
                 y_label="Signals")


def _funnel(f: Funnel) -> str:
    steps = [("qualified", f.qualified), ("handed off", f.handed_off),
             ("acknowledged", f.acknowledged), ("contacted", f.contacted), ("won", f.won)]
    text, previous = f"logged {f.logged:,}", f.logged
    for name, value in steps:
        text += f" → {name} {value:,}" + (f" ({_pct(value / previous)})" if previous else "")
        previous = value
    return text


def _quality(rows: list[CsmQuality], s: _Style) -> list[_Part]:
    if not rows:
        return []
    return [_Part("list", title=s.bold("Signal quality by CSM")
                  + " — routed signals that were won, last 90 days",
                  lines=tuple(_quality_line(r, s) for r in rows), total=len(rows))]


def _quality_next(d: Digest, s: _Style) -> list[_Part]:
    if not d.csm_quality:
        return []
    return [_Part("context", s.bold("Signal quality by CSM") + f" ({_n(len(d.csm_quality), 'CSM')}"
                             "): in the next message")]


def _quality_table(d: Digest) -> Table:
    header = ("CSM", "Routed", "Won", "Won share", "Closed")
    return fit_table(header, [
        (d.people.get(row.csm_id, row.csm_id), f"{row.routed:,}", f"{row.won:,}",
         _pct(row.share), f"{row.closed:,}")
        for row in d.csm_quality])


def _quality_line(row: CsmQuality, s: _Style) -> str:
    return (f"{s.who(row.csm_id)} — {row.won:,} of {row.routed:,} won ({_pct(row.share)}), "
            f"{row.closed:,} closed")


def _stalled(d: Digest, s: _Style) -> list[_Part]:
    st = d.stalled
    days = d.outcome_reminder_days
    groups = [
        ("Not acknowledged", "handed off, not acknowledged past the SLA", st.unacknowledged,
         st.unacknowledged_items, "handed off"),
        ("Awaiting outcome", f"contacted, no outcome after {days} days", st.awaiting_outcome,
         st.awaiting_items, "contacted"),
        ("Overdue watch items", "past their revisit date", st.overdue_watch, st.watch_items,
         "revisit"),
    ]
    parts = [_Part("list", title=s.bold("Stalled now"), total=3, lines=tuple(
        f"• {name} ({what}): {count:,}" for name, what, count, _, _ in groups))]
    for name, _, count, items, verb in groups:
        if count:
            parts.append(_Part("list", title=f"{s.em(name)} ({count:,})", total=count,
                               lines=tuple(_item(i, s, d.now, verb) for i in items)))
    if st.roster_gaps:
        shown = ", ".join(s.who(u) for u in st.roster_gaps[:TOP])
        more = f" and {len(st.roster_gaps) - TOP} more" if len(st.roster_gaps) > TOP else ""
        parts.append(_Part("context", f"Roster gaps (open hand-offs, no manager): {shown}{more}."
                                      " Fix with `/signal admin manager @ae @manager`."))
    if st.held:
        held = "1 message could not be delivered and is" if st.held == 1 else \
            f"{st.held:,} messages could not be delivered and are"
        parts.append(_Part("context", f"For admins: {held} held; see `signalbot status`."))
    return parts


def _triggers(d: Digest, s: _Style) -> list[_Part]:
    t: ProductTriggers | None = d.triggers
    if t is None:
        return []
    kinds = sorted(set(t.fired) | set(t.fired_before),
                   key=lambda k: (-t.fired.get(k, 0), _kind(k)))
    held = _counted(t.held_back, t.held_back_before)
    if t.risk_notes:
        held += f"\n{_n(t.risk_notes, 'risk note')} sent to CSMs instead"
    title = f"{s.bold('Product-data triggers')} — this week"
    if t.handled:
        title += f"; shares are of the {_n(t.handled, 'trigger')} CSMs handled"
    dismissed = f"{t.dismissed:,}{_of(t.dismissed, t.handled)}"
    if t.dismiss_reasons:
        dismissed += "\n" + "; ".join(f"{s.text(reason, REASON) or s.em('no reason')} ×{n}"
                                       for reason, n in t.dismiss_reasons)
    still_open = f"{t.open:,}"
    if t.oldest_open_since is not None:
        ago = duration((d.now - t.oldest_open_since).total_seconds())
        still_open += f", the oldest fired {ago} ago"
    from_triggers = f"{_n(t.signals, 'signal')} logged, {t.won:,} won"
    if t.won:
        from_triggers += f" (ARR {_money(t.won_arr)})"
    received = _n(t.events_received, "event")
    if t.last_event_at is not None:
        received += f", the last {duration((d.now - t.last_event_at).total_seconds())} ago"
    parts = [
        _Part("divider"),
        _Part("fields", title=title, pairs=(
            ("Fired", _counted(t.fired_total, sum(t.fired_before.values()))),
            ("By type", " · ".join(
                f"{_kind(k)} {_short(t.fired.get(k, 0), t.fired_before.get(k, 0))}"
                for k in kinds) or "—"),
            ("Held back (account at risk)", held),
            ("Acted on (logged as a signal)", f"{t.acted:,}{_of(t.acted, t.handled)}"),
            ("Snoozed", f"{t.snoozed:,}{_of(t.snoozed, t.handled)}"),
            ("Dismissed (not expansion)", dismissed),
            ("Still open now", still_open),
            ("Signals from triggers", from_triggers),
            ("Product data received", received),
        )),
    ]
    if t.stale:
        parts.append(_Part("context", f"⚠️ {s.bold('Product data looks stale')}: no "
                                      f"event received for {t.stale_days} days. Check the feed "
                                      "(`POST /ingest/v1/events` or `signalbot ingest`): "
                                      "triggers cannot fire without it."))
    since = _day(d.quarter_start.astimezone(ZoneInfo(d.timezone)).date())
    parts.append(_Part("list", title=f"{s.bold('Trigger → signal → won')} by type — triggers "
                                     f"fired since {since} (held-back ones aside), as of now",
                       lines=tuple(_conversion_line(c) for c in t.conversion)
                       or ("No triggers fired in the last 90 days.",),
                       total=len(t.conversion)))
    return parts


def _conversion_line(c: TriggerConversion) -> str:
    return (f"{_kind(c.kind)} — fired {c.fired:,} → signal {c.signals:,} "
            f"({_pct(c.signal_share)}) → won {c.won:,} ({_pct(c.won_share)})")


def _kind(kind: str) -> str:
    return TRIGGER_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _of(count: int, total: int) -> str:
    return f" ({_pct(count / total)})" if total else ""


def _crm(crm: CrmSync | None, s: _Style) -> list[_Part]:
    if crm is None:
        return []
    lines = [
        f"• Writes held this week: {crm.held:,}",
        f"• Webhooks held this week: {crm.webhooks_held:,}",
        f"• Records written without a matched owner this week: {crm.unmatched_owners:,}",
        f"• Held right now: {crm.still_held:,}" + (
            " — fix the cause, then run `signalbot crm retry`" if crm.still_held else ""),
    ]
    return [_Part("list", title=f"{s.bold('CRM sync')} ({crm.provider})", lines=tuple(lines),
                  total=len(lines))]


def _item(item: Item, s: _Style, now: datetime, verb: str) -> str:
    owner = s.who(item.csm_id if verb == "revisit" else item.ae_id)
    urgency = URGENCY_NAMES.get(item.urgency, item.urgency)
    text = f"{s.bold(s.account(item.account))} · {urgency} · {owner} · #{item.signal_id}"
    if item.revisit_on:
        return f"{text} · revisit was due {item.revisit_on.isoformat()}"
    if item.at:
        return f"{text} · {verb} {duration((now - item.at).total_seconds())} ago"
    return text


# -- numbers --------------------------------------------------------------------------------


def _counted(now: int, before: int) -> str:
    """'12 (▲3 vs last week)', '12 (same as last week)'."""
    return f"{now:,} ({_versus(now - before, _int)})"


def _versus(diff: Any, fmt: Callable[[Any], str]) -> str:
    return f"{_delta(diff, fmt)} vs last week" if diff else "same as last week"


def _short(now: int, before: int) -> str:
    return f"{now:,} ({_delta(now - before, _int)})"


def _delta(diff: Any, fmt: Callable[[Any], str]) -> str:
    if diff > 0:
        return f"▲{fmt(diff)}"
    if diff < 0:
        return f"▼{fmt(-diff)}"
    return "="


def _attained(now: Tally, before: Tally) -> str:
    if not now.counted:
        text = "nothing due yet" if now.pending else "no hand-offs"
    else:
        text = f"{_pct(now.share)} · {now.met} of {now.counted}"
    if now.pending:
        text += f", {now.pending} pending"
    if now.share is not None and before.share is not None:
        points = round(now.share * 100) - round(before.share * 100)
        text += f" ({_versus(points, lambda p: f'{p} pts')})"
    return text


def _ratio(tally: Tally) -> str:
    if not tally.counted:
        return "—"
    return f"{tally.met}/{tally.counted} ({_pct(tally.share)})"


def _int(value: int) -> str:
    return f"{value:,}"


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def _money(amount: Any) -> str:
    return f"{amount:,.0f}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def _span(first: date, last: date) -> str:
    """'16–22 Nov 2026', '30 Nov – 6 Dec 2026', '29 Dec 2025 – 4 Jan 2026'."""
    if first.year != last.year:
        return f"{_day(first)} {first.year} – {_day(last)} {last.year}"
    if first.month != last.month:
        return f"{_day(first)} – {_day(last)} {last.year}"
    return f"{first.day}–{_day(last)} {last.year}"
