"""What a person sees in a modal's inputs, and the two Slack rules around opening and updating.

- trigger_id: `views.open` / `views.push` answer `expired_trigger_id` for a trigger older than
  3 seconds and `exchanged_trigger_id` for one used before, `invalid_trigger_id` for a malformed
  one (Slack's views.open method page, "Errors"; the modals guide: "trigger_id … expires in
  3 seconds").
- views.update: "Data entered or selected in input blocks can be preserved while updating
  views. The new view object … should contain the same input blocks and elements with identical
  block_id and action_id values" (Slack's views.update page, "Preserving input entry"). So an
  input whose block_id and action_id are unchanged keeps what the person sees, and any
  `initial_*` sent for it is ignored; a new block_id starts from its `initial_*`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from typing import Any

TRIGGER_TTL = 3.0
_counter = itertools.count(1)
_lock = threading.Lock()

Shown = dict[str, Any]  # block_id -> the value the person sees (as standin.forms takes it)


def new_trigger_id(issued_at: float | None = None) -> str:
    """A trigger_id shaped like Slack's ("12345.98765.abcd2358fdea"); its first part is the
    issue time in milliseconds, so the stand-in can tell its age."""
    millis = int((time.time() if issued_at is None else issued_at) * 1000)
    with _lock:
        serial = next(_counter)
    return f"{millis}.{serial}.{uuid.uuid4().hex[:24]}"


def trigger_issued_at(trigger_id: str) -> float | None:
    """When the trigger was issued (epoch seconds), or None if it is not a trigger."""
    parts = str(trigger_id).split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2]:
        return None
    return int(parts[0]) / 1000


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view.get("blocks") or []
            if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
            and isinstance(b.get("element"), dict)}


def initial_value(element: dict[str, Any]) -> Any:
    """The value an element starts with, as `standin.forms.state_values` takes it."""
    if "initial_user" in element:
        return element["initial_user"]
    if "initial_option" in element:
        return element["initial_option"].get("value")
    if "initial_options" in element:
        return [o.get("value") for o in element["initial_options"]]
    for key in ("initial_value", "initial_date", "initial_conversation", "initial_channel"):
        if key in element:
            return element[key]
    return None


def shown_on_open(view: dict[str, Any]) -> Shown:
    """What the person sees in a freshly opened view: every input's initial value."""
    return {bid: initial_value(el) for bid, el in _inputs(view).items()}


def shown_after_update(old: dict[str, Any], shown: Shown, new: dict[str, Any]) -> Shown:
    """Slack's rule: same block_id and action_id keep what was there; others start afresh."""
    before = _inputs(old)
    out: Shown = {}
    for bid, element in _inputs(new).items():
        kept = bid in before and before[bid].get("action_id") == element.get("action_id")
        out[bid] = shown.get(bid) if kept else initial_value(element)
    return out


def submission_answer_problems(view: dict[str, Any], answer: Any) -> list[str]:
    """What Slack would not show of an app's answer to a view_submission: `response_action:
    errors` must map block ids of the view's own input blocks to non-empty messages (an
    unknown block id is an error nobody sees); `update` and `push` must carry a view."""
    if not isinstance(answer, dict) or "response_action" not in answer:
        return []
    action = answer["response_action"]
    if action == "errors":
        errors = answer.get("errors")
        if not isinstance(errors, dict) or not errors:
            return ["errors: must be a non-empty object of block_id -> message"]
        inputs = _inputs(view)
        return [f"errors.{key}: not an input block of the view" for key in errors
                if key not in inputs] + \
               [f"errors.{key}: the message must be a non-empty string" for key, text in
                errors.items() if not isinstance(text, str) or not text.strip()]
    if action in ("update", "push"):
        return [] if isinstance(answer.get("view"), dict) else [f"{action}: no view"]
    if action == "clear":
        return []
    return [f"response_action: unknown value {action!r}"]
