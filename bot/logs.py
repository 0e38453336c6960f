"""How the bot logs: one line per record, never a request body.

`setup` is called once by the CLI before anything else runs. Every record goes through
`OneLine` (newlines and other control characters in any logged value are escaped, so a value
can never forge a log line of its own; a traceback becomes one line too) and `NoRequestBodies`
(Bolt logs the raw body of a request whose signature failed, and the body of a request a
middleware dropped: those parts are cut before anything is written).

`SIGNALBOT_LOG_FORMAT=json` writes one JSON object per line instead (`Json`: time, level,
logger, message, `exc_info`), with `request_id` / `outbox_id` / `signal_id` when the record
was logged inside `context(...)`, which the HTTP layer and the deliverer set around their work.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = {
    "apscheduler": logging.WARNING,  # one line a tick is noise
    "httpx": logging.WARNING,  # request URLs can carry e-mails
    "httpcore": logging.WARNING,
    "slack_sdk": logging.INFO,  # its DEBUG lines carry whole Slack payloads, even with -v
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Bolt messages that carry a request body, and where the body starts in each.
_BODY_MARKERS = (", body: ", "for the request (")


IDS = ("request_id", "outbox_id", "signal_id")
_ids: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "signalbot_log_ids", default=None
)


@contextmanager
def context(**ids: Any) -> Iterator[None]:
    """Attach `ids` (request_id, outbox_id, signal_id) to every record logged inside."""
    token = _ids.set({**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _ids.reset(token)


class WithIds(logging.Filter):
    """Copies the ids of the current `context` onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_ids.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class Json(logging.Formatter):
    """One JSON object per line (json.dumps escapes every newline in it)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def one_line(text: str) -> str:
    """`text` with every control character escaped (`\\n`, `\\r`, `\\t`, `\\x1b`, `\\u2028`)."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class OneLine(logging.Formatter):
    """The usual format, with the whole record (message and traceback) kept on one line."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={getattr(record, k)}" for k in IDS if hasattr(record, k))
        return one_line(super().format(record) + (f" [{ids}]" if ids else ""))


class NoRequestBodies(logging.Filter):
    """Cuts the request body out of Bolt's records (it logs it on a bad signature)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("slack_bolt"):
            return True
        message = record.getMessage()
        for marker in _BODY_MARKERS:
            cut = message.find(marker)
            if cut >= 0:
                record.msg, record.args = message[:cut] + " [request body not logged]", None
                break
        return True


def setup(verbose: bool = False, stream: TextIO | None = None,
          fmt: str = "plain") -> logging.Handler:
    """Send every record to `stream` (stderr) through `NoRequestBodies` and `OneLine` (or
    `Json` when `fmt` is "json").

    Replaces any handler the root logger had; returns the new one (tests remove it).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Json() if fmt == "json" else OneLine(FORMAT))
    handler.addFilter(NoRequestBodies())
    handler.addFilter(WithIds())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    return handler
