"""Fill in a modal as a person would: Slack's `view.state.values` for given answers."""

from __future__ import annotations

from typing import Any


def state_values(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Slack's `view.state.values` for `values` keyed by block id, shaped per element type."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        value = values.get(block["block_id"])
        state[block["block_id"]] = {element["action_id"]: _element_state(element, value)}
    return state


def _element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element["type"]
    if kind in ("static_select", "radio_buttons", "external_select"):
        option = (
            None
            if value is None
            else {"text": {"type": "plain_text", "text": str(value)}, "value": value}
        )
        return {"type": kind, "selected_option": option}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "checkboxes":
        return {
            "type": kind,
            "selected_options": [
                {"text": {"type": "plain_text", "text": v}, "value": v} for v in value or []
            ],
        }
    return {"type": kind, "value": None if value is None else str(value)}
