"""Drive the bot as Slack does: signed HTTP requests in; the stand-in records what goes out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bot.app import create_app
from bot.delivery import make_client
from bot.services import Services
from bot.web import serve_in_thread, wsgi_app
from bot.worker import Worker
from standin import SlackStandin
from standin import requests as slack_requests
from standin.forms import state_values
from standin.server import SlackError, check_message
from standin.views import submission_answer_problems

VALID_SIGNAL = {
    "account": "Globex Corp",
    "signal_type": "product:seat_utilisation",
    "detail": "Seat utilisation at 89%",
    "buyer_name": "Jamie Reyes",
    "buyer_title": "VP Operations",
    "timeline": "Q3, before July budget freeze",
    "note": "Champion mentioned ops team is 6 people and growing.",
    "urgency": "hot",
    "ae": "U0AE00001",
    "qualification": ["budget", "buyer", "timeline"],
}


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy (lazy listeners run on a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def validate_message_blocks(blocks: list[dict[str, Any]]) -> None:
    """Slack's message limits (standin/limits.py) and the stand-in's validation (slack_sdk's
    models, and the chart and table rules of `standin.blockkit`), for every block."""
    assert blocks
    try:
        check_message({"text": "fallback", "blocks": blocks})
    except SlackError as refused:
        raise AssertionError(f"{refused.error}: {refused.errors}") from None


@dataclass
class SlackDriver:
    """A bot listening on a free port, the stand-in it talks to, and a worker to run by hand."""

    services: Services
    standin: SlackStandin
    secret: str
    server: Any
    worker: Worker

    @classmethod
    def start(cls, services: Services, standin: SlackStandin, secret: str) -> SlackDriver:
        client = make_client("xoxb-test", standin.base_url)
        app = create_app(services, client)
        server = serve_in_thread(wsgi_app(services, app))
        return cls(services, standin, secret, server, Worker(services, client))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def post(self, built: tuple[str, dict[str, str]]) -> httpx.Response:
        body, headers = built
        return httpx.post(
            f"{self.url}/slack/events", content=body.encode(), headers=headers, timeout=10
        )

    def command(self, user: str, text: str = "", **kw) -> httpx.Response:
        return self.post(slack_requests.slash_command(self.secret, user_id=user, text=text, **kw))

    def open_signal_modal(self, user: str, text: str = "") -> dict[str, Any]:
        before = len(self.standin.views_opened())
        response = self.command(user, text)
        assert response.status_code == 200, response.text
        return wait_for(lambda: self.standin.views_opened()[before:])[-1]

    def submit(self, view: dict[str, Any], user: str, values: dict[str, Any], **kw):
        response = self.post(
            slack_requests.view_submission(
                self.secret, user_id=user, view=view, state_values=state_values(view, values), **kw
            )
        )
        answered = response.json() if response.content and response.headers.get(
            "content-type", "").startswith("application/json") else None
        assert submission_answer_problems(view, answered) == [], answered
        return response

    def press(self, action_id: str, signal_id: int, user: str, channel: str = "D0TEST", **kw):
        return self.post(
            slack_requests.block_actions(
                self.secret,
                user_id=user,
                action_id=action_id,
                value=str(signal_id),
                channel_id=channel,
                **kw,
            )
        )

    def press_for_modal(self, action_id: str, signal_id: int, user: str) -> dict[str, Any]:
        before = len(self.standin.views_opened())
        response = self.press(action_id, signal_id, user)
        assert response.status_code == 200, response.text
        return wait_for(lambda: self.standin.views_opened()[before:])[-1]

    def log_signal(self, user: str = "U0CSM0001", **changes) -> httpx.Response:
        view = self.open_signal_modal(user)
        values = {**VALID_SIGNAL, **changes}
        return self.submit(view, user, values)

    def deliver(self):
        return self.worker.deliverer.drain()

    def sweep(self) -> int:
        return self.worker.sweep_once()
