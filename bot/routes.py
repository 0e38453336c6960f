"""The HTTP routes served beside Slack's (`bot.web.wsgi_app`), listed in one place."""

from __future__ import annotations

from bot import ingest_http
from bot.services import Services
from bot.web import Route


def routes(services: Services) -> dict[tuple[str, str], Route]:
    """(method, path) -> handler, for every extra route."""
    return {ingest_http.PATH: ingest_http.route(services)}
