"""How the bot logs: one line per record, never a request body.

`setup` is called once by the CLI before anything else runs. Every record goes through
`OneLine` (newlines and other control characters in any logged value are escaped, so a value
can never forge a log line of its own; a traceback becomes one line too) and `NoRequestBodies`
(Bolt logs the raw body of a request whose signature failed, and the body of a request a
middleware dropped: those parts are cut before anything is written).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

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
        return one_line(super().format(record))


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


def setup(verbose: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Send every record to `stream` (stderr) through `OneLine` and `NoRequestBodies`.

    Replaces any handler the root logger had; returns the new one (tests remove it).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(OneLine(FORMAT))
    handler.addFilter(NoRequestBodies())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    return handler
