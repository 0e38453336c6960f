"""The quarterly RevOps review as a channel post (Block Kit) and as plain text.

Names, not mentions, where known (a review must not ping everyone it lists). Every line is cut
to Slack's limits (`blocks/limits.py`): lines are packed into sections under SECTION_TEXT, the
post keeps under MESSAGE_BLOCKS, and each flagged AE lists at most MISSES_SHOWN misses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from blocks import limits
from blocks.kit import Block, context, divider, header, section
from blocks.text import duration, escape, mention, truncate
from protocol.credit import CREDIT_NOTE, AeLine, CsmLine, Miss, QuarterReview, credit_basis

MISSES_SHOWN = 5
NAME = 60  # characters of an account or person name


def review_blocks(review: QuarterReview) -> tuple[str, list[Block]]:
    """The fallback text and the blocks of the channel post."""
    def who(user: str | None) -> str:
        name = review.people.get(user) if user else None
        return escape(truncate(name, NAME)) if name else mention(user)

    blocks: list[Block] = [header(f"Quarterly RevOps review — {review.quarter.label}"),
                           context(escape(_intro(review)), escape(CREDIT_NOTE))]
    parts = [("*CSMs — signals and signal credit*",
              [_csm_line(line, who, bold=True) for line in review.csms] or ["No signals."]),
             ("*AEs — SLA attainment and outcomes*",
              [_ae_line(line, who, bold=True) for line in review.aes] or ["No hand-offs."])]
    if review.flagged:
        floor = f"{review.policy.attainment_floor:.0%}"
        parts.append((f":warning: *Flagged for review* (ack or contact attainment below "
                      f"{floor})", [_flag(line, who) for line in review.flagged]))
    for title, lines in parts:
        blocks.append(divider())
        blocks += [section(text) for text in _pack([title, *lines])]
    if len(blocks) > limits.MESSAGE_BLOCKS:
        blocks = blocks[: limits.MESSAGE_BLOCKS - 1]
        blocks.append(context("The review is longer than one post: `signalbot report quarter "
                              f"--quarter {review.quarter.label}` prints all of it."))
    return _summary(review)[: limits.MESSAGE_TEXT], blocks


def review_text(review: QuarterReview) -> str:
    """The review as readable plain text (names instead of ids where known, nothing cut)."""
    def who(user: str | None) -> str:
        return review.people.get(user, user) if user else "nobody"

    out = [f"Quarterly RevOps review — {review.quarter.label}", _intro(review), CREDIT_NOTE, "",
           "CSMs — signals and signal credit"]
    out += [f"  {_csm_line(line, who)}" for line in review.csms] or ["  No signals."]
    out += ["", "AEs — SLA attainment and outcomes"]
    out += [f"  {_ae_line(line, who)}" for line in review.aes] or ["  No hand-offs."]
    if review.flagged:
        out += ["", f"Flagged for review (below {review.policy.attainment_floor:.0%})"]
        for line in review.flagged:
            out.append(f"  {who(line.ae_id)}: {len(line.misses)} miss(es)")
            out += [f"    - {_miss(miss, lambda t: t)}" for miss in line.misses]
    return "\n".join(out) + "\n"


def _intro(review: QuarterReview) -> str:
    first = review.quarter.first_day
    last = review.quarter.next.first_day - timedelta(days=1)
    return (f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year} · signal credit: "
            f"{credit_basis(review.policy)} · AE attainment floor "
            f"{review.policy.attainment_floor:.0%}")


def _summary(review: QuarterReview) -> str:
    won = sum(line.won for line in review.csms)
    arr = sum((line.won_arr for line in review.csms), start=0)
    return (f"Quarterly RevOps review {review.quarter.label}: {won} signal(s) won, "
            f"{_money(arr)} expansion ARR, {len(review.flagged)} AE(s) flagged for review.")


def _csm_line(line: CsmLine, who: Callable[[str | None], str], bold: bool = False) -> str:
    name = f"*{who(line.csm_id)}*" if bold else who(line.csm_id)
    return (f"{name} — logged {line.logged} · qualified {line.qualified} · handed off "
            f"{line.handed_off} · won {line.won} ({_money(line.won_arr)}) · credit "
            f"{_money(line.credit, cents=True)} · quality {_pct(line.quality)}")


def _ae_line(line: AeLine, who: Callable[[str | None], str], bold: bool = False) -> str:
    name = f"*{who(line.ae_id)}*" if bold else who(line.ae_id)
    flag = " · FLAGGED" if line.flagged else ""
    wait = duration(line.median_contact_s) if line.median_contact_s is not None else "–"
    return (f"{name} — hand-offs {line.handoffs} · ack {_pct(line.ack_attainment)} "
            f"({line.ack_met}/{line.ack_counted}) · contact {_pct(line.contact_attainment)} "
            f"({line.contact_met}/{line.contact_counted}) · escalations {line.escalations} · "
            f"won {line.won} · lost {line.lost} · median time to contact {wait}{flag}")


def _flag(line: AeLine, who: Callable[[str | None], str]) -> str:
    shown = [f"• {_miss(miss, lambda t: escape(truncate(t, NAME)))}"
             for miss in line.misses[:MISSES_SHOWN]]
    more = len(line.misses) - len(shown)
    if more > 0:
        shown.append(f"• and {more} more")
    return "\n".join([f"*{who(line.ae_id)}* — ack {_pct(line.ack_attainment)}, contact "
                      f"{_pct(line.contact_attainment)}", *shown])


def _miss(miss: Miss, account: Callable[[str], str]) -> str:
    what = "acknowledge" if miss.clock == "ack" else "contact"
    late = (f"met {duration((miss.met_at - miss.due_at).total_seconds())} late"
            if miss.met_at else "missed")
    return (f"#{miss.signal_id} {account(miss.account)}: {what} due "
            f"{miss.due_at:%Y-%m-%d %H:%M} UTC, {late}")


def _pack(lines: list[str]) -> list[str]:
    """Lines joined into as few section texts as fit SECTION_TEXT."""
    limit = limits.SECTION_TEXT - 10
    texts: list[str] = []
    for line in lines:
        line = line[:limit]
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _money(amount, cents: bool = False) -> str:
    return f"${amount:,.2f}" if cents else f"${amount:,.0f}"
