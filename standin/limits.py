"""Slack's length and count limits as the stand-in enforces them, from Slack's references.

Every number comes from Slack's Block Kit reference (docs.slack.dev/reference/block-kit:
blocks, block elements, composition objects, view objects) or a method page, named beside
it. The stand-in refuses what breaks them as Slack does (`invalid_blocks` for messages,
`invalid_arguments` for views). The bot keeps its own copy of the numbers it builds to
(`blocks/limits.py`): the stand-ins know nothing of the bot, so a wrong number there is
caught here.
"""

from __future__ import annotations

from typing import Any

# Messages and views (chat.postMessage "blocks": up to 50; views: up to 100 blocks).
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000  # chat.postMessage: text beyond this is refused (`msg_too_long`)
# Text objects and blocks.
TEXT = 3000  # text object / section text / context text element
SECTION_FIELDS, FIELD_TEXT = 10, 2000  # section block: fields
HEADER_TEXT = 150  # header block
CONTEXT_ELEMENTS = 10  # context block
ACTIONS_ELEMENTS = 25  # actions block
ID_LENGTH = 255  # block_id, action_id, callback_id
INPUT_LABEL = INPUT_HINT = 2000  # input block
# Elements and option objects.
BUTTON_TEXT, BUTTON_VALUE = 75, 2000
PLACEHOLDER = 150
OPTION_TEXT, OPTION_DESCRIPTION, OPTION_VALUE = 75, 75, 150  # option object
CHECKBOX_OPTIONS = RADIO_OPTIONS = 10  # checkboxes / radio_buttons elements
SELECT_OPTIONS = 100  # static_select
TEXT_INPUT = 3000  # plain_text_input max_length and initial_value
# Views (modal / home view object).
VIEW_TITLE = VIEW_BUTTON = 24  # title, submit, close
PRIVATE_METADATA = 3000


def _len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else len(str(obj or ""))


def _over(out: list[str], path: str, size: int, limit: int, what: str) -> None:
    if size > limit:
        out.append(f"{what} is {size}, more than {limit} [json-pointer:{path}]")


def _option_errors(options: list[Any], path: str, limit: int, out: list[str]) -> None:
    _over(out, path, len(options), limit, "options")
    for i, option in enumerate(options):
        if isinstance(option, dict):
            _over(out, f"{path}/{i}/text", _len(option.get("text")), OPTION_TEXT, "option text")
            _over(out, f"{path}/{i}/description", _len(option.get("description")),
                  OPTION_DESCRIPTION, "option description")
            _over(out, f"{path}/{i}/value", len(str(option.get("value", ""))), OPTION_VALUE,
                  "option value")


def element_errors(element: dict[str, Any], path: str) -> list[str]:
    """Limits of one block element (button, selects, checkboxes, inputs)."""
    out: list[str] = []
    kind = element.get("type")
    _over(out, f"{path}/action_id", len(str(element.get("action_id", ""))), ID_LENGTH,
          "action_id")
    _over(out, f"{path}/placeholder", _len(element.get("placeholder")), PLACEHOLDER,
          "placeholder")
    if kind == "button":
        _over(out, f"{path}/text", _len(element.get("text")), BUTTON_TEXT, "button text")
        _over(out, f"{path}/value", len(str(element.get("value", ""))), BUTTON_VALUE,
              "button value")
    limit = {"checkboxes": CHECKBOX_OPTIONS, "radio_buttons": RADIO_OPTIONS,
             "static_select": SELECT_OPTIONS, "multi_static_select": SELECT_OPTIONS}.get(kind)
    if limit:
        _option_errors(element.get("options") or [], f"{path}/options", limit, out)
    if kind == "plain_text_input":
        _over(out, f"{path}/max_length", int(element.get("max_length") or 0), TEXT_INPUT,
              "max_length")
        _over(out, f"{path}/initial_value", len(element.get("initial_value") or ""),
              TEXT_INPUT, "initial_value")
    return out


def block_errors(block: dict[str, Any], path: str) -> list[str]:
    """Limits of one block and the elements in it."""
    out: list[str] = []
    kind = block.get("type")
    _over(out, f"{path}/block_id", len(str(block.get("block_id", ""))), ID_LENGTH, "block_id")
    if kind == "section":
        _over(out, f"{path}/text", _len(block.get("text")), TEXT, "section text")
        fields = block.get("fields") or []
        _over(out, f"{path}/fields", len(fields), SECTION_FIELDS, "fields")
        for i, item in enumerate(fields):
            _over(out, f"{path}/fields/{i}", _len(item), FIELD_TEXT, "field text")
        if isinstance(block.get("accessory"), dict):
            out += element_errors(block["accessory"], f"{path}/accessory")
    elif kind == "header":
        _over(out, f"{path}/text", _len(block.get("text")), HEADER_TEXT, "header text")
    elif kind == "context":
        elements = block.get("elements") or []
        _over(out, f"{path}/elements", len(elements), CONTEXT_ELEMENTS, "elements")
        for i, item in enumerate(elements):
            _over(out, f"{path}/elements/{i}", _len(item), TEXT, "context text")
    elif kind == "actions":
        elements = block.get("elements") or []
        _over(out, f"{path}/elements", len(elements), ACTIONS_ELEMENTS, "elements")
        for i, item in enumerate(elements):
            out += element_errors(item, f"{path}/elements/{i}")
    elif kind == "input":
        _over(out, f"{path}/label", _len(block.get("label")), INPUT_LABEL, "label")
        _over(out, f"{path}/hint", _len(block.get("hint")), INPUT_HINT, "hint")
        if isinstance(block.get("element"), dict):
            out += element_errors(block["element"], f"{path}/element")
    return out


def violations(blocks: list[Any], *, limit: int = MESSAGE_BLOCKS,
               root: str = "/blocks") -> list[str]:
    """Every limit the blocks break, Slack-style with a json-pointer (empty = within)."""
    out: list[str] = []
    _over(out, root, len(blocks), limit, "blocks")
    for i, block in enumerate(blocks):
        if isinstance(block, dict):
            out += block_errors(block, f"{root}/{i}")
    return out


def view_violations(view: dict[str, Any]) -> list[str]:
    """The limits a modal or home view breaks (its blocks included)."""
    out: list[str] = []
    for name in ("title", "submit", "close"):
        _over(out, f"/view/{name}", _len(view.get(name)), VIEW_TITLE, name)
    _over(out, "/view/private_metadata", len(view.get("private_metadata") or ""),
          PRIVATE_METADATA, "private_metadata")
    _over(out, "/view/callback_id", len(view.get("callback_id") or ""), ID_LENGTH,
          "callback_id")
    return out + violations(view.get("blocks") or [], limit=VIEW_BLOCKS, root="/view/blocks")
