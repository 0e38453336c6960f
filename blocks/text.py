"""Safe mrkdwn: escaping user text, mentions, and dates each reader sees in their own zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

from protocol.catalogue import URGENCY_NAMES
from protocol.policy import SlaWindow

HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.I)
_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"  # what may stay as is in a path, query or fragment


def escape(text: str | None) -> str:
    """Escape &, < and > so user text never becomes a ping, link or mention."""
    if not text:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str | None) -> str:
    """A user mention, or 'nobody' for an empty id."""
    return f"<@{user_id}>" if user_id else "_nobody_"


def urgency_label(urgency: str, windows: Mapping[str, SlaWindow]) -> str:
    """'Hot (contact within 24h)', 'Watch (review in 7d)': the name and its configured window."""
    name = URGENCY_NAMES.get(urgency, urgency)
    window = windows.get(urgency) or SlaWindow()
    if window.contact:
        return f"{name} (contact within {duration(window.contact.total_seconds())})"
    if window.ack:
        return f"{name} (acknowledge within {duration(window.ack.total_seconds())})"
    if window.review:
        return f"{name} (review in {duration(window.review.total_seconds())})"
    return name


def safe_url(url: str | None) -> str | None:
    """`url` rebuilt from its parsed parts when it is https:// on a plain host name (no user,
    no odd port), with everything outside the URL alphabet percent-encoded (so `|`, `<`, `>`
    and spaces never reach mrkdwn); None when it is anything else."""
    if not url or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme.lower() != "https" or not HOST.fullmatch(host) or parts.username \
            or parts.password or port not in (None, 443):
        return None
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = quote(parts.query, safe=_URL_SAFE)
    fragment = quote(parts.fragment, safe=_URL_SAFE)
    return urlunsplit(("https", host.lower(), path, query, fragment))


def link(url: str | None, label: str) -> str | None:
    """`<url|label>` for a safe https URL (see `safe_url`), the label escaped; else None."""
    safe = safe_url(url)
    if safe is None:
        return None
    return f"<{safe.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def when(moment: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """Slack's `<!date^…>` token: each reader sees `moment` in their own time zone."""
    utc = moment.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{fmt}|{fallback}>"


def duration(seconds: float) -> str:
    """'3h 20m', '2d 4h', '45s': a short human span."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with an ellipsis (Slack rejects longer fields)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
