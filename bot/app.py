"""The Bolt app: request verification, listeners, the error handler."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import handlers
from bot.delivery import make_client
from bot.metrics import name_request
from bot.services import Services

log = logging.getLogger(__name__)


def create_app(services: Services, client: WebClient | None = None) -> App:
    """A Bolt app that verifies Slack's signature and acks only after committing.

    `process_before_response=True`: the HTTP answer (the ack) leaves after the listener's
    transaction committed; slow Slack calls go through the outbox or a lazy listener.
    """
    settings = services.settings
    client = client or make_client(settings.slack_bot_token, settings.slack_api_url)
    identity = _identify(client)
    app = App(
        client=client,
        authorize=lambda **_: identity,
        signing_secret=settings.slack_signing_secret,
        process_before_response=True,
        token_verification_enabled=False,
        url_verification_enabled=True,
        raise_error_for_unhandled_request=False,
    )
    app.use(name_request)  # the kind and id of each request, for the metrics and the logs
    app.use(_process_client(client))
    handlers.register(app, services)
    return app


def _process_client(client: WebClient):
    """Middleware giving listeners the process's client, not the one Bolt makes for each
    request: its connections to Slack are kept between requests (bot/slack_http.py), so
    opening a modal pays no new connection (over TLS, a handshake) inside the trigger's 3 s.
    The token is the same: the app knows one workspace and one bot."""

    def process_client(context, next) -> None:
        context["client"] = client
        next()

    return process_client


def socket_mode_handler(app: App, app_token: str, ping_interval: float = 10):
    """Slack's Socket Mode client for `app`: no public URL; acks go back over the socket.

    The ack of each envelope leaves after the listener returned (bolt's socket mode adapter
    dispatches, then sends the response), so it follows the commit as it does over HTTP.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token, ping_interval=ping_interval)


class TokenRejected(Exception):
    """Slack refused the bot token at start-up."""


def _identify(client: WebClient) -> AuthorizeResult:
    """Ask Slack once, at start-up, who the bot is: no auth.test on any request's path."""
    try:
        me = client.auth_test()
    except SlackApiError as exc:
        raise TokenRejected(
            f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}). Check the token from "
            "your app's 'OAuth & Permissions' page; see the README's install steps."
        ) from exc
    return AuthorizeResult(
        enterprise_id=me.get("enterprise_id"),
        team_id=me.get("team_id"),
        bot_user_id=me.get("user_id"),
        bot_id=me.get("bot_id"),
        bot_token=client.token,
    )
