"""Ephemeral answers to /signal: help, the caller's list, the roster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from blocks import limits
from blocks.kit import Block, context, section
from blocks.text import duration, escape, mention, when
from blocks.views import AwayLine, SignalView
from protocol.catalogue import URGENCIES, URGENCY_EMOJI, URGENCY_NAMES
from protocol.policy import SlaPolicy, SlaWindow, Team, describe
from protocol.stages import STAGE_LABELS

HELP = """*signalbot* turns what you hear on a call into a hand-off Sales must act on.
• `/signal` — log an expansion signal (opens a form)
• `/signal Acme hot` — the same, with the account and urgency filled in
• `/signal list` — your open signals
• `/signal digest` — preview this week's digest (only you see it)
• `/signal away until 2026-12-24 cover @dana` — you are away; your cover acts for you \
(`/signal back` ends it early)
• `/signal admin show` — the roster (admins: `/signal admin manager @ae @manager`)
• On any message: *⋯ → Log expansion signal* starts a signal from it."""


def help_reply(windows: Mapping[str, SlaWindow]) -> dict:
    """Usage and the SLA windows in force, as an ephemeral reply."""
    promises = " ".join(_promise(urgency, windows.get(urgency)) for urgency in URGENCIES)
    return {"response_type": "ephemeral", "text": f"{HELP}\n{promises}".rstrip()}


def _promise(urgency: str, window: SlaWindow | None) -> str:
    name = URGENCY_NAMES.get(urgency, urgency)
    if window is None:
        return ""
    steps = [f"{verb} within {duration(length.total_seconds())}" for verb, length in (
        ("the AE acknowledges", window.ack), ("contacts the customer", window.contact),
        ("the CSM reviews it", window.review)) if length]
    return f"{name}: {', '.join(steps)}." if steps else ""


def list_reply(signals: Sequence[SignalView], total: int) -> dict:
    """The caller's open signals, newest first."""
    if not signals:
        return {
            "response_type": "ephemeral",
            "text": "You have no open signals. Log one with `/signal`.",
        }
    blocks: list[Block] = [section(f"*Your open signals* ({total})")]
    for signal in signals:
        blocks.append(
            section(
                f"{URGENCY_EMOJI.get(signal.urgency, '')} *{escape(signal.account)}* — "
                f"{STAGE_LABELS.get(signal.stage, signal.stage)} · AE {mention(signal.ae_id)} · "
                f"CSM {mention(signal.csm_id)} · #{signal.id}"
            )
        )
    if total > len(signals):
        blocks.append(context(f"and {total - len(signals)} more: see the bot's Home tab."))
    return {
        "response_type": "ephemeral",
        "text": f"Your open signals ({total})",
        "blocks": blocks[: limits.MESSAGE_BLOCKS],
    }


def roster_reply(roster: dict[str, str], admins: Mapping[str, Sequence[str]],
                 gaps: Sequence[str], teams: Sequence[Team] = (),
                 away: Sequence[AwayLine] = (), policies: Sequence[SlaPolicy] = (),
                 groups: Sequence[Mapping[str, Any]] = (),
                 changes: Sequence[Mapping[str, Any]] = ()) -> dict:
    """Who reports to whom, the admins and where each one's role comes from ("yaml",
    "group S…"), AEs with open hand-offs but no manager, the teams, who is away (or will be)
    with their cover, the SLA policies, the user groups and their latest membership changes."""
    pairs = sorted(roster.items())[: limits.ROSTER_LINES]
    lines = [f"{mention(p)} → {mention(m)}" for p, m in pairs]
    text = "*Roster* (person → manager)\n" + ("\n".join(lines) or "_empty_")
    text += "\n*Admins:* " + (", ".join(f"{mention(a)} ({', '.join(src)})"
                                        for a, src in admins.items()) or "_none configured_")
    for group in groups:
        read = when(group["read_at"]) if group.get("read_at") else "not read yet"
        problem = f" · last read failed: `{escape(group['error'])}`" if group.get("error") else ""
        text += (f"\n*User group* `{escape(group['group'])}`: {group['members']} member(s), "
                 f"read {read}{problem}")
    if changes:
        text += "\n*Group changes* (newest first):"
        for change in changes:
            moved = [f"+{mention(u)}" for u in change.get("added", [])]
            moved += [f"−{mention(u)}" for u in change.get("removed", [])]
            if len(moved) > 20:
                moved = [*moved[:20], f"and {len(moved) - 20} more"]
            text += (f"\n{when(change['at'])} group `{escape(change.get('group', ''))}` "
                     f"({escape(change.get('via', ''))}): {' '.join(moved)}")
    if gaps:
        text += "\n*Roster gaps* (open hand-offs, no manager): " + ", ".join(map(mention, gaps))
    if teams:
        text += "\n*Teams*\n" + "\n".join(_team_line(t) for t in teams[: limits.ROSTER_LINES])
    if away:
        text += "\n*Away* (cover acts for them):\n" + "\n".join(
            f"• {mention(a.person)} {a.span}, "
            + (f"cover {mention(a.cover)}" if a.cover else "no cover")
            + f" · set by {mention(a.set_by)} {when(a.set_at)}" + (" · *now*" if a.now else "")
            for a in away[: limits.ROSTER_LINES])
    if policies:
        text += "\n*SLA policies* (first match wins; the default is last)\n"
        text += "\n".join(_policy_line(i, p) for i, p in enumerate(policies, 1))
    return {"response_type": "ephemeral", "text": text[: limits.MESSAGE_TEXT]}


def _team_line(team: Team) -> str:
    members = ", ".join(mention(m) for m in team.members) or "_no listed members_"
    group = f" (user group <!subteam^{team.group}>)" if team.group else ""
    return f"• *{escape(team.name)}*: {members}{group}"


def _policy_line(number: int, policy: SlaPolicy) -> str:
    words = {k: escape(v) for k, v in describe(policy).items()}
    return (f"{number}. *{words['name']}* — {words['match']} — {words['windows']} — "
            f"{words['hours']} — {words['steps']}")


def ephemeral(text: str) -> dict:
    """A one-line ephemeral reply."""
    return {"response_type": "ephemeral", "text": text}
