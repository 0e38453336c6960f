"""Tiny Block Kit builders (plain dicts) shared by every surface."""

from __future__ import annotations

from typing import Any

from blocks import limits

Block = dict[str, Any]


def section(text: str, **extra: Any) -> Block:
    """A mrkdwn section; `text` must already be escaped."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of up to ten two-column mrkdwn fields."""
    shown = pairs[: limits.SECTION_FIELDS]
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in shown],
    }


def context(*texts: str) -> Block:
    """A context line of mrkdwn elements (up to ten)."""
    shown = texts[: limits.CONTEXT_ELEMENTS]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in shown]}


def header(text: str) -> Block:
    """A header (plain text, at most 150 characters)."""
    return {"type": "header", "text": plain(text[: limits.HEADER_TEXT])}


def divider() -> Block:
    """A divider line."""
    return {"type": "divider"}


def plain(text: str, emoji: bool = True) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text, "emoji": emoji}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button carrying `value` (the subject id) back to the handler."""
    element: Block = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def actions(block_id: str, elements: list[Block]) -> Block:
    """An actions block (at most 25 elements)."""
    shown = elements[: limits.ACTIONS_ELEMENTS]
    return {"type": "actions", "block_id": block_id, "elements": shown}


def option(text: str, value: str) -> dict[str, Any]:
    """An option for selects, radios and checkboxes (text at most 75 characters)."""
    return {"text": plain(text[: limits.OPTION_TEXT]), "value": value}


def mrkdwn_chunks(escaped: str, limit: int = limits.SECTION_TEXT - 10) -> list[str]:
    """Split escaped mrkdwn into pieces that fit a section, never inside an `&…;` entity."""
    pieces: list[str] = []
    rest = escaped
    while len(rest) > limit:
        cut = limit
        amp = rest.rfind("&", cut - 6, cut)
        if amp != -1 and ";" not in rest[amp:cut]:
            cut = amp
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces
