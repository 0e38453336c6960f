"""Read what a person entered in a modal (Slack's `view.state.values`) into plain values."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from blocks.modal import ACTION
from protocol.catalogue import split_type
from protocol.policy import Rubric
from protocol.record import SignalDraft, parse_amount


class Form:
    """Typed access to one view submission's values; unreadable ones land in `errors`."""

    def __init__(self, view: dict[str, Any]):
        self.errors: dict[str, str] = {}  # block id -> what is wrong, for response_action
        self.values = view.get("state", {}).get("values", {})
        try:
            self.metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            self.metadata = {}

    def block_id(self, field: str) -> str:
        """The block id a field has in this view: `field`, or `field.<suffix>` when the bot
        gave it a new id on views.update (so Slack would show a new initial value)."""
        if field in self.values:
            return field
        return next((b for b in self.values if b.startswith(f"{field}.")), field)

    def _element(self, block: str) -> dict[str, Any]:
        return self.values.get(self.block_id(block), {}).get(ACTION, {})

    def text(self, block: str) -> str | None:
        """A text input's value, None when empty."""
        value = self._element(block).get("value")
        return value if value and value.strip() else None

    def option(self, block: str) -> str | None:
        """The value of the selected option of a select or radio group."""
        selected = self._element(block).get("selected_option")
        return selected.get("value") if selected else None

    def user(self, block: str) -> str | None:
        """A users_select's chosen user id."""
        return self._element(block).get("selected_user")

    def day(self, block: str) -> date | None:
        """A datepicker's date; None when empty or (noted in `errors`) unreadable."""
        value = self._element(block).get("selected_date")
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            self.errors[block] = "That is not a date."
            return None

    def checked(self, block: str) -> set[str]:
        """Values of ticked checkboxes."""
        return {o["value"] for o in self._element(block).get("selected_options") or []}

    def account(self) -> tuple[str, str | None]:
        """(name, CRM id) from the account field: typed text, or an option picked by
        CRM id (`c:<id>`, shown by name) or by name (`n:<name>`)."""
        element = self._element("account")
        if "selected_option" not in element and element.get("type") != "external_select":
            return self.text("account") or "", None
        selected = element.get("selected_option") or {}
        value = selected.get("value") or ""
        if value.startswith("c:"):
            return (selected.get("text") or {}).get("text") or value[2:], value[2:]
        return (value[2:] if value.startswith("n:") else value).strip(), None

    def amount(self, block: str) -> Decimal | None:
        """A number input's value; None when empty or (noted in `errors`) not a number."""
        try:
            return parse_amount(self._element(block).get("value"))
        except ValueError:
            self.errors[block] = "Enter a number, e.g. 25000."
            return None


def draft_from_form(form: Form, rubric: Rubric) -> tuple[SignalDraft | None, dict[str, str]]:
    """The signal draft, or the errors keyed by block id."""
    errors = form.errors
    category = kind = ""
    try:
        category, kind = split_type(form.option("signal_type") or "")
    except ValueError:
        errors["signal_type"] = "Pick the kind of signal."
    timeline_date = form.day("timeline_date")
    est_arr = form.amount("est_arr")
    ae_id = form.user("ae")
    if not ae_id:
        errors[form.block_id("ae")] = "Pick the account executive who takes it."
    checked = form.checked("qualification")
    account, crm_id = form.account()
    draft = SignalDraft(
        account=account,
        category=category,
        kind=kind,
        detail=form.text("detail"),
        buyer_name=form.text("buyer_name") or "",
        buyer_title=form.text("buyer_title"),
        timeline=form.text("timeline") or "",
        timeline_date=timeline_date,
        note=form.text("note") or "",
        urgency=form.option("urgency") or "",
        ae_id=ae_id,
        est_arr=est_arr,
        answers={c.key: c.key in checked for c in rubric.criteria},
        source=form.metadata.get("source", "slash"),
        message_link=form.metadata.get("link"),
        crm_id=crm_id,
    )
    return (None if errors else draft), errors
