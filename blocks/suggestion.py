"""The DM a product-data trigger sends: the suggestion, its evidence, readiness and buttons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blocks import limits
from blocks.kit import Block, actions, button, context, header, section
from blocks.modal import _modal, _text_input
from blocks.text import escape, mention, truncate, urgency_label
from protocol.catalogue import URGENCY_EMOJI
from protocol.policy import SlaWindow
from protocol.readiness import Score
from protocol.triggers import LABELS, TriggerState

# action ids, shared with handlers/suggestions.py
LOG_SIGNAL = "trigger_log_signal"
SNOOZE = "trigger_snooze"
NOT_EXPANSION = "trigger_not_expansion"
DISMISS_MODAL = "trigger_dismiss_modal"


def suggestion(
    trigger_id: int,
    account: str,
    kind: str,
    urgency: str,
    evidence: str,
    score: Score,
    *,
    snooze_days: int,
    windows: Mapping[str, SlaWindow],
    csm_id: str | None = None,
) -> tuple[str, list[Block]]:
    """Fallback text and blocks; `csm_id` None means it goes to the admins (no CSM on record)."""
    name = escape(account)
    title = f"Suggested expansion signal — {account}"
    blocks: list[Block] = [header(truncate(title, limits.HEADER_TEXT))]
    if csm_id is None:
        blocks.append(
            section(
                f":warning: *{name}* has no CSM on record, so this comes to you: "
                "log it, or give the account a CSM in the registry."
            )
        )
    label = f"{URGENCY_EMOJI.get(urgency, '')} *{LABELS.get(kind, kind)}* · "
    label += urgency_label(urgency, windows)
    blocks.append(section(truncate(f"{label}\n{escape(evidence)}", 2900)))
    blocks.append(
        section(truncate(f"*Readiness {score.summary()}*\n{escape(score.breakdown())}", 2900))
    )
    blocks.append(
        context(
            "From product data. A trigger is a task, not an alert: qualify it before anything "
            f"goes to Sales (trigger #{trigger_id})."
        )
    )
    value = str(trigger_id)
    blocks.append(
        actions(
            f"trigger:{trigger_id}",
            [
                button("Log signal", LOG_SIGNAL, value, "primary"),
                button(f"Snooze {snooze_days} days", SNOOZE, value),
                button("Not expansion", NOT_EXPANSION, value),
            ],
        )
    )
    text = f"Suggested expansion signal — {name}: {LABELS.get(kind, kind)}"
    return text, blocks


def risk_note(account: str, reasons: list[str], held_back: str) -> str:
    """The short note a CSM gets instead of a suggestion when the account is at risk."""
    return (
        f":warning: *{escape(account)}* shows an expansion trigger ({escape(held_back)}), "
        f"but it is at risk: {escape('; '.join(reasons))}. No expansion suggestion for now: "
        "a value and health conversation comes first."
    )


def dismiss_modal(trigger_id: int, account: str, kind: str) -> dict[str, Any]:
    """'Not expansion': ask why, in a small modal."""
    blocks = [
        section(
            f"*{escape(account)}* · {LABELS.get(kind, kind)}\nWhy is this not an expansion "
            "signal? The reason is kept, and this trigger will not come back."
        ),
        _text_input(
            "reason",
            "Reason",
            500,
            None,
            multiline=True,
            placeholder="e.g. seasonal peak; they are consolidating tools",
        ),
    ]
    return _modal(DISMISS_MODAL, "Not expansion", "Save", blocks, {"trigger": trigger_id})


def settled(blocks: list[Block], trigger_id: int, note: str) -> list[Block] | None:
    """A posted suggestion once someone acted on it: the same blocks without its buttons,
    and a line saying what was done. None when `blocks` holds no buttons of that trigger."""
    kept = [b for b in blocks if b.get("block_id") != f"trigger:{trigger_id}"]
    if len(kept) == len(blocks):
        return None
    return [*kept, context(note)]


def settled_note(state: str, actor: str, until: str | None = None,
                 signal_id: int | None = None) -> str:
    """What the suggestion's DM says once handled: by whom, and what became of it."""
    if state == TriggerState.ACTED:
        return f":white_check_mark: Logged as signal #{signal_id} by {mention(actor)}."
    if state == TriggerState.SNOOZED:
        return f":zzz: Snoozed by {mention(actor)} until {until}; it comes back then if it holds."
    return f":no_entry_sign: Marked as not expansion by {mention(actor)}; the reason is kept."


def outcome_line(state: str, actor: str, until: str | None = None) -> str:
    """The ephemeral confirmation after a button press."""
    if state == TriggerState.SNOOZED:
        return f"Snoozed until {until}. It comes back then if it still holds."
    if state == TriggerState.DISMISSED:
        return f"Marked as not expansion by {mention(actor)}. The reason is kept."
    return "Done."
