"""Modals: log a signal, record an outcome, reassign, update qualification."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from blocks import limits
from blocks.kit import Block, option, plain, section
from blocks.text import escape, urgency_label
from protocol.catalogue import CATEGORIES, URGENCIES
from protocol.policy import Rubric, SlaWindow
from protocol.record import LIMITS
from protocol.stages import OUTCOME_LABELS

SIGNAL_MODAL = "signal_modal"
OUTCOME_MODAL = "outcome_modal"
REASSIGN_MODAL = "reassign_modal"
OWNERSHIP_MODAL = "ownership_modal"
REQUALIFY_MODAL = "requalify_modal"
EXTENSION_MODAL = "extension_modal"
ACTION = "value"  # every input's action_id: the block_id says which field it is


@dataclass
class Prefill:
    """What the modal starts with: from `/signal Acme hot`, a message, or a trigger."""

    account: str | None = None
    urgency: str | None = None
    category: str | None = None
    kind: str | None = None
    detail: str | None = None
    note: str | None = None
    ae_id: str | None = None
    answers: dict[str, bool] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    crm_id: str | None = None  # the prefilled account's, when known
    account_picker: bool = False  # the registry has accounts: type-ahead over them


def signal_modal(rubric: Rubric, windows: Mapping[str, SlaWindow], prefill: Prefill
                 ) -> dict[str, Any]:
    """The five-field record, account, AE, estimated ARR and the qualification checklist."""
    blocks = [
        _account(prefill),
        _type_select(prefill.category, prefill.kind),
        _text_input(
            "detail",
            "What exactly",
            LIMITS["detail"],
            prefill.detail,
            optional=True,
            placeholder="e.g. Seat utilisation at 89%",
        ),
        _text_input(
            "buyer_name",
            "Named buyer",
            LIMITS["buyer_name"],
            None,
            placeholder="Who will own the decision, e.g. Jamie Reyes",
        ),
        _text_input(
            "buyer_title",
            "Buyer's title",
            LIMITS["buyer_title"],
            None,
            optional=True,
            placeholder="e.g. VP Operations",
        ),
        _text_input(
            "timeline",
            "Timeline",
            LIMITS["timeline"],
            None,
            placeholder="In their words, e.g. Q3, before July budget freeze",
        ),
        _input(
            "timeline_date",
            "Target date",
            {"type": "datepicker", "action_id": ACTION},
            optional=True,
            hint="Optional; not in the past.",
        ),
        _text_input(
            "note",
            "Context note",
            LIMITS["note"],
            prefill.note,
            multiline=True,
            placeholder="Two or three sentences of what you heard",
        ),
        _urgency(prefill.urgency, windows),
        _ae_select(prefill.ae_id),
        _input(
            "est_arr",
            "Estimated expansion ARR",
            {
                "type": "number_input",
                "action_id": ACTION,
                "is_decimal_allowed": True,
                "min_value": "0",
            },
            optional=True,
        ),
        _checklist(
            "qualification",
            rubric,
            prefill.answers,
            f"Qualification (qualified at {rubric.threshold} of {len(rubric.criteria)})",
        ),
    ]
    return _modal(SIGNAL_MODAL, "Log expansion signal", "Log signal", blocks, prefill.metadata)


def requalify_modal(rubric: Rubric, signal_id: int, account: str, answers: dict[str, bool]):
    """The checklist alone, for a watch item the CSM has learned more about."""
    blocks = [
        section(
            f"*{escape(account)}*: tick what is now true. At {rubric.threshold} of "
            f"{len(rubric.criteria)} the signal is handed off to the AE."
        ),
        _checklist("qualification", rubric, answers, "Qualification"),
    ]
    return _modal(REQUALIFY_MODAL, "Update qualification", "Save", blocks, {"signal": signal_id})


def outcome_modal(signal_id: int, account: str) -> dict[str, Any]:
    """Won / lost / deferred / not ready, with ARR for a win and a revisit date."""
    outcomes = [option(label, key) for key, label in OUTCOME_LABELS.items()]
    blocks = [
        section(f"Record the outcome of the *{escape(account)}* signal. The CSM is told."),
        _input(
            "outcome",
            "Outcome",
            {"type": "radio_buttons", "action_id": ACTION, "options": outcomes},
        ),
        _input(
            "won_arr",
            "Expansion ARR won",
            {
                "type": "number_input",
                "action_id": ACTION,
                "is_decimal_allowed": True,
                "min_value": "0",
            },
            optional=True,
            hint="Required for a win.",
        ),
        _text_input(
            "reason",
            "Reason",
            LIMITS["reason"],
            None,
            optional=True,
            multiline=True,
            placeholder="What tipped it, or what stood in the way",
        ),
        _input(
            "revisit_on",
            "Revisit on",
            {"type": "datepicker", "action_id": ACTION},
            optional=True,
            hint="Required when deferred; the CSM hears about it then.",
        ),
    ]
    return _modal(OUTCOME_MODAL, "Record outcome", "Save", blocks, {"signal": signal_id})


def reassign_modal(signal_id: int, account: str) -> dict[str, Any]:
    """Pick another AE and say why."""
    blocks = [
        section(
            f"Hand the *{escape(account)}* signal to another AE. Their SLA clock starts "
            f"fresh; the history is kept."
        ),
        _input("new_ae", "New AE", {"type": "users_select", "action_id": ACTION}),
        _text_input("reason", "Reason", LIMITS["reason"], None, multiline=True),
    ]
    return _modal(REASSIGN_MODAL, "Reassign signal", "Reassign", blocks, {"signal": signal_id})


def ownership_modal(signal_id: int, account: str, current: str, choices: list[tuple[str, str]],
                    ae_id: str | None) -> dict[str, Any]:
    """Move the deal up a model (`choices`: (value, label)), pick the AE, say why."""
    ae_element: dict[str, Any] = {"type": "users_select", "action_id": ACTION}
    if ae_id:
        ae_element["initial_user"] = ae_id
    blocks = [
        section(f"The *{escape(account)}* signal is *{escape(current)}* now. A deal can outgrow "
                "its model: moving to *AE closes* pages the AE with the normal hand-off and "
                "SLAs; a *joint motion* makes the AE and the CSM co-owners."),
        _input("model", "New model", {"type": "radio_buttons", "action_id": ACTION,
                                      "options": [option(label, value)
                                                  for value, label in choices]}),
        _input("ae", "AE", ae_element, optional=bool(ae_id),
               hint="Who closes (Model B) or co-owns (Model C) the deal."),
        _text_input("reason", "Reason", LIMITS["reason"], None, multiline=True,
                    placeholder="e.g. the seat add turned into a three-team rollout"),
    ]
    return _modal(OWNERSHIP_MODAL, "Change ownership model", "Change", blocks,
                  {"signal": signal_id})


AWAY_MODAL = "away_modal"


def away_modal(person: str) -> dict[str, Any]:
    """Time away: who (yourself, or for a manager/admin someone on their team), the first and
    last day, the cover, a note."""
    blocks = [
        section("While you are away your *cover* is the acting AE: your hand-offs, cards, "
                "reminders and buttons go to them, and everything comes back to you with a "
                "summary when you return. With no cover, hand-offs go to your manager."),
        _input("person", "Who is away", {"type": "users_select", "action_id": ACTION,
                                         "initial_user": person},
               hint="You, or (managers and admins) someone on your team."),
        _input("first", "First day away", {"type": "datepicker", "action_id": ACTION},
               optional=True, hint="Leave empty to start now."),
        _input("last", "Last day away", {"type": "datepicker", "action_id": ACTION},
               hint="Back the day after. Days in the away person's time zone."),
        _input("cover", "Cover (acting AE)", {"type": "users_select", "action_id": ACTION},
               optional=True, hint="An AE covers for an AE, a manager for a manager."),
        _text_input("note", "Note", 300, None, optional=True, multiline=True,
                    placeholder="e.g. Holiday, back on the 28th"),
    ]
    return _modal(AWAY_MODAL, "Time away", "Save", blocks, {})


def extension_modal(signal_id: int, account: str, due_by: str, latest: date) -> dict[str, Any]:
    """Ask the manager for more time on customer contact: a new date and a reason.

    `due_by`: the current deadline as shown (`blocks.text.when`); `latest`: the last day
    the request may ask for.
    """
    blocks = [
        section(f"Customer contact on the *{escape(account)}* hand-off is due by {due_by}. "
                "Your manager is asked to approve a new date; until then the clock keeps "
                "running."),
        _input("new_date", "New contact date", {"type": "datepicker", "action_id": ACTION},
               hint=f"Up to {latest.isoformat()}."),
        _text_input("reason", "Reason", LIMITS["reason"], None, multiline=True,
                    placeholder="e.g. the buyer is travelling until Thursday"),
    ]
    return _modal(EXTENSION_MODAL, "Ask for more time", "Ask", blocks, {"signal": signal_id})


def _modal(callback_id: str, title: str, submit: str, blocks: list[Block], meta: dict[str, Any]):
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title[: limits.MODAL_TITLE]),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(meta)[: limits.PRIVATE_METADATA],
        "blocks": blocks,
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def _text_input(
    block_id: str,
    label: str,
    limit: int,
    initial: str | None,
    *,
    optional: bool = False,
    multiline: bool = False,
    placeholder: str | None = None,
) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION,
        "max_length": limit,
        "multiline": multiline,
    }
    if initial:
        element["initial_value"] = initial[:limit]
    if placeholder:
        element["placeholder"] = plain(placeholder[: limits.PLACEHOLDER])
    return _input(block_id, label, element, optional)


def account_option(name: str, crm_id: str | None = None, new: bool = False) -> dict[str, Any]:
    """An account choice: picked by CRM id (`c:`) or by name (`n:`, created if it is new)."""
    by_name = " ".join(name.split())[: limits.OPTION_VALUE - 2]
    value = f"c:{crm_id}" if crm_id and not new else f"n:{by_name}"
    return option(f"New account: {name}" if new else name, value)


def _account(prefill: Prefill) -> Block:
    """A type-ahead over the registry once it has accounts; a text input until then."""
    if not prefill.account_picker:
        return _text_input(
            "account", "Account", LIMITS["account"], prefill.account,
            placeholder="Customer account name",
        )
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": ACTION,
        "min_query_length": 1,
        "placeholder": plain("Type to search accounts, or a new name"),
    }
    if prefill.account:
        element["initial_option"] = account_option(prefill.account, prefill.crm_id)
    block = _input("account", "Account", element)
    block["dispatch_action"] = True  # picking one fills in its AE (handlers.suggestions)
    return block


def _type_select(category: str | None, kind: str | None) -> Block:
    groups = [
        {
            "label": plain(label),
            "options": [option(text, f"{cat}:{key}") for key, text in kinds.items()],
        }
        for cat, (label, kinds) in CATEGORIES.items()
    ]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ACTION,
        "placeholder": plain("Pick the kind of signal"),
        "option_groups": groups,
    }
    if category in CATEGORIES and kind in CATEGORIES[category][1]:
        element["initial_option"] = option(CATEGORIES[category][1][kind], f"{category}:{kind}")
    return _input("signal_type", "Signal type", element)


def _urgency(initial: str | None, windows: Mapping[str, SlaWindow]) -> Block:
    options = [option(urgency_label(key, windows), key) for key in URGENCIES]
    element: dict[str, Any] = {"type": "radio_buttons", "action_id": ACTION, "options": options}
    if initial in URGENCIES:
        element["initial_option"] = option(urgency_label(initial, windows), initial)
    return _input("urgency", "Urgency", element)


def _ae_select(ae_id: str | None) -> Block:
    element: dict[str, Any] = {
        "type": "users_select",
        "action_id": ACTION,
        "placeholder": plain("Who takes it in Sales"),
    }
    if ae_id:
        element["initial_user"] = ae_id
    return _input("ae", "Account executive", element)


def _checklist(block_id: str, rubric: Rubric, answers: dict[str, bool], label: str) -> Block:
    options = [
        {
            "text": plain(c.label[: limits.OPTION_TEXT]),
            "value": c.key,
            **({"description": plain(c.hint[: limits.OPTION_TEXT])} if c.hint else {}),
        }
        for c in rubric.criteria[: limits.CHECKBOX_OPTIONS]
    ]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": ACTION, "options": options}
    initial = [o for o in options if answers.get(o["value"])]
    if initial:
        element["initial_options"] = initial
    return _input(block_id, label, element, optional=True)
