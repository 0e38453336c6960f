"""The signal card: the record, its qualification, its clocks and the buttons for the reader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from blocks import limits
from blocks.kit import Block, actions, button, context, divider, fields, mrkdwn_chunks, section
from blocks.text import escape, link, mention, truncate, urgency_label, when
from blocks.views import ClockView, ExtensionView, SignalView
from protocol import stages
from protocol.catalogue import URGENCY_EMOJI, URGENCY_NAMES, category_label, kind_label
from protocol.extension import EXTENDED_CLOCK, ExtensionState
from protocol.policy import SlaWindow
from protocol.qualification import Qualification
from protocol.routing import Ownership, csm_closes, pages_ae, upgrades
from protocol.sla import RUNNING, ClockState

CLOCK_VERBS = {
    "ack": "Acknowledge",
    "contact": "Contact the customer",
    "review": "Review",
    "outcome": "Record the outcome",
    "revisit": "Revisit",
}

# action ids, shared with the handlers that answer them
ACKNOWLEDGE = "signal_acknowledge"
LOG_CONTACT = "signal_log_contact"
RECORD_OUTCOME = "signal_record_outcome"
REASSIGN = "signal_reassign"
NUDGE = "signal_nudge"
REQUALIFY = "signal_requalify"
CHANGE_MODEL = "signal_change_model"
ASK_EXTENSION = "signal_ask_extension"
APPROVE_EXTENSION = "extension_approve"
DECLINE_EXTENSION = "extension_decline"
EXTENSION_BLOCK = "extension:"  # + the request's id: which request an answer is about
APPROVER = "approver"  # the audience of the card that asks the manager about an extension


def signal_card(
    signal: SignalView,
    audience: str,
    headline: str | None,
    qualification: Qualification,
    clocks: Sequence[ClockView] = (),
    crm_link: str | None = None,
    *,
    windows: Mapping[str, SlaWindow],
    extension: ExtensionView | None = None,
) -> tuple[str, list[Block]]:
    """The fallback text and blocks of the card `audience` (ae, csm, manager, approver) sees.

    `extension`: the request for more time an approver's card is about, else the signal's
    pending one (shown on every card).
    """
    account = escape(signal.account)
    blocks: list[Block] = []
    if headline:
        blocks.append(section(truncate(headline, 2900)))
    blocks.append(section(_title(signal, windows)))
    blocks.append(fields(_fields(signal)))
    blocks.extend(section(f"*Context*\n{part}") for part in _note_parts(signal.note))
    blocks.append(context(*_qualification_line(qualification)))
    status = _status_lines(signal, clocks)
    if extension and audience != APPROVER and extension.state == ExtensionState.PENDING:
        status.append(_pending_line(extension))
    if status:
        blocks.append(context(*status))
    links = _links(signal, crm_link)
    if links:
        blocks.append(context(links))
    if audience == APPROVER:
        blocks.extend(_extension_blocks(signal, extension))
        return f"More time asked on {account}", blocks
    buttons = _buttons(signal, audience)
    if audience == "ae" and _may_ask(signal, clocks, extension):
        buttons.append(button("Need more time", ASK_EXTENSION, str(signal.id)))
    if buttons:
        blocks.append(divider())
        blocks.append(actions(f"signal:{signal.id}", buttons))
    stage = stages.STAGE_LABELS.get(signal.stage, signal.stage)
    urgency = URGENCY_NAMES.get(signal.urgency, signal.urgency)
    text = f"{urgency} expansion signal: {account} ({stage})"
    return text, blocks


def _title(signal: SignalView, windows: Mapping[str, SlaWindow]) -> str:
    kind = kind_label(signal.category, signal.kind)
    line = (
        f"{URGENCY_EMOJI.get(signal.urgency, '')} *{escape(signal.account)}* · "
        f"{urgency_label(signal.urgency, windows)}\n"
        f"{category_label(signal.category)}: {escape(kind)}"
    )
    if signal.detail:
        line += f" — {escape(signal.detail)}"
    return line


def _fields(signal: SignalView) -> list[tuple[str, str]]:
    buyer = escape(signal.buyer_name)
    if signal.buyer_title:
        buyer += f", {escape(signal.buyer_title)}"
    timeline = escape(signal.timeline)
    if signal.timeline_date:
        timeline += f" (by {signal.timeline_date.isoformat()})"
    pairs = [
        ("Named buyer", buyer),
        ("Timeline", timeline),
        ("CSM", mention(signal.csm_id)),
        ("AE", _ae(signal)),
        ("Stage", stages.STAGE_LABELS.get(signal.stage, signal.stage)),
    ]
    if signal.est_arr is not None:
        pairs.append(("Est. expansion ARR", f"{signal.est_arr:,.0f}"))
    if signal.ownership == Ownership.JOINT:
        pairs.append(("Ownership", "Joint motion: AE and CSM co-own"))
    return pairs


def _ae(signal: SignalView) -> str:
    if not pages_ae(signal.ownership):
        return "CS-led (no AE)"
    if signal.acting_ae_id and signal.stage in stages.WITH_AE:
        return f"{mention(signal.ae_id)} (away) · acting: {mention(signal.acting_ae_id)}"
    return mention(signal.ae_id)


def _note_parts(note: str) -> list[str]:
    quoted = escape(note)
    return mrkdwn_chunks(quoted, limit=2900)


def _qualification_line(q: Qualification) -> list[str]:
    """The verdict and each criterion, as context elements within Slack's text limit
    (ten 75-character labels, escaped, can pass 3,000 characters)."""
    ticks = [f":white_check_mark: {escape(c.label)}" for c in q.met]
    ticks += [f":white_medium_square: {escape(c.label)}" for c in q.missing]
    verdict = "Qualified" if q.qualified else f"Not qualified yet (needs {q.threshold})"
    line = f"*{verdict}* · {q.score}: " + "  ".join(ticks)
    return mrkdwn_chunks(line, limit=limits.CONTEXT_TEXT - 10)


def policy_note(clock: ClockView) -> str:
    """` · policy *Name*`: the SLA policy a clock runs under, or nothing for clocks without."""
    return f" · policy *{escape(clock.policy)}*" if clock.policy else ""


def _status_lines(signal: SignalView, clocks: Sequence[ClockView]) -> list[str]:
    lines = []
    for clock in clocks:
        if clock.state not in RUNNING or clock.clock == "revisit":
            continue  # a revisit date is shown with the outcome or the watch item instead
        verb = CLOCK_VERBS.get(clock.clock, clock.clock)
        late = " — *missed, escalated*" if clock.state == ClockState.MISSED else ""
        lines.append(f":alarm_clock: {verb} by {when(clock.due_at)}{policy_note(clock)}{late}")
    if signal.outcome:
        label = stages.OUTCOME_LABELS[signal.outcome]
        line = f"*Outcome: {label}*"
        if signal.won_arr is not None:
            line += f" · ARR {signal.won_arr:,.0f}"
        if signal.outcome_reason:
            line += f" · {escape(truncate(signal.outcome_reason, 300))}"
        if signal.revisit_on:
            line += f" · back on {signal.revisit_on.isoformat()}"
        lines.append(line)
    elif signal.stage == stages.QUALIFYING and signal.revisit_on:
        lines.append(f":eyes: Watch item, revisit on {signal.revisit_on.isoformat()}")
    return lines


def _links(signal: SignalView, crm_link: str | None) -> str:
    parts = [f"Signal #{signal.id}", f"logged {when(signal.created_at)}"]
    if signal.source.startswith("trigger:"):
        parts.append(f":bar_chart: from a product-data trigger (#{signal.source[8:]})")
    source = link(signal.message_link, "source message")
    if source:
        parts.append(source)
    if crm_link:
        parts.append(crm_link)
    return " · ".join(parts)


def _may_ask(signal: SignalView, clocks: Sequence[ClockView],
             extension: ExtensionView | None) -> bool:
    """The AE may ask for more time: contact is on a running clock, nothing is waiting."""
    waiting = extension is not None and extension.state == ExtensionState.PENDING
    running = any(c.clock == EXTENDED_CLOCK and c.state == ClockState.OPEN for c in clocks)
    return running and not waiting and pages_ae(signal.ownership) and \
        "contact" in stages.allowed_actions(signal.stage)


def _pending_line(extension: ExtensionView) -> str:
    waiting = ", ".join(mention(u) for u in extension.approvers) or "an admin"
    return (f":hourglass_flowing_sand: More time asked by {mention(extension.asked_by)}: "
            f"contact by {when(extension.new_due)} instead of {when(extension.old_due)} "
            f"(waiting for {waiting}; the clock keeps running)")


EXTENSION_OUTCOMES = {
    ExtensionState.APPROVED: ":white_check_mark: *Approved* by {who} {at}: contact is now due by "
                             "{new}.",
    ExtensionState.DECLINED: ":no_entry_sign: *Declined* by {who} {at}: contact stays due by "
                             "{old}.",
    ExtensionState.LAPSED: ":hourglass: *Not answered in time*: the request lapsed (the contact "
                           "deadline passed or the hand-off moved on).",
}


def _extension_blocks(signal: SignalView, extension: ExtensionView | None) -> list[Block]:
    """The approver's part: the request, and Approve / Decline while it can be answered."""
    if extension is None:
        return []
    ask = (f":hourglass_flowing_sand: {mention(extension.asked_by)} asks for more time on "
           f"customer contact: due by {when(extension.new_due)} instead of "
           f"{when(extension.old_due)}. The clock keeps running until you approve.\n"
           f"> {escape(truncate(extension.reason, 500))}")
    blocks = [section(ask)]
    if extension.state == ExtensionState.PENDING and extension.open:
        value = str(signal.id)
        blocks.append(actions(f"{EXTENSION_BLOCK}{extension.id}", [
            button("Approve", APPROVE_EXTENSION, value, "primary"),
            button("Decline", DECLINE_EXTENSION, value, "danger"),
        ]))
        return blocks
    state = extension.state if extension.state != ExtensionState.PENDING else \
        ExtensionState.LAPSED
    at = when(extension.decided_at) if extension.decided_at else ""
    blocks.append(context(EXTENSION_OUTCOMES[ExtensionState(state)].format(
        who=mention(extension.decided_by), at=at, new=when(extension.new_due),
        old=when(extension.old_due))))
    return blocks


def owner_buttons(signal: SignalView) -> list[Block]:
    """What whoever owns the close may do now (the AE, or the CSM on a CS-led deal)."""
    allowed, ae = stages.allowed_actions(signal.stage), pages_ae(signal.ownership)
    value = str(signal.id)
    buttons: list[Block] = []
    if "acknowledge" in allowed and ae:
        buttons.append(button("Acknowledge", ACKNOWLEDGE, value, "primary"))
    if "contact" in allowed:
        buttons.append(button("Log customer contact", LOG_CONTACT, value))
    if "outcome" in allowed:
        buttons.append(button("Record outcome", RECORD_OUTCOME, value))
    if "reassign" in allowed and ae:
        buttons.append(button("Reassign", REASSIGN, value))
    return buttons


def _buttons(signal: SignalView, audience: str) -> list[Block]:
    value, allowed = str(signal.id), stages.allowed_actions(signal.stage)
    if audience == "csm" and "requalify" in allowed:
        return [button("Update qualification", REQUALIFY, value, "primary")]
    if audience == "manager" and "reassign" in allowed:
        return [button("Reassign", REASSIGN, value), button("Nudge the AE", NUDGE, value)]
    owns = audience == "ae" or (audience == "csm" and csm_closes(signal.ownership))
    buttons = owner_buttons(signal) if owns else []
    if audience in ("ae", "csm") and signal.stage in stages.WITH_AE and upgrades(signal.ownership):
        buttons.append(button("Change ownership model", CHANGE_MODEL, value))
    return buttons
