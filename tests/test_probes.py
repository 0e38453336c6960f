"""/livez, /readyz and /metrics as a load balancer and Prometheus see them (one process)."""

from __future__ import annotations

import dataclasses
import json

from alembic import command
from freezegun import freeze_time

from bot.runtime_settings import Runtime
from bot.web import wsgi_app
from storage.db import alembic_config
from tests.flow import worker


def get(application, path: str, **headers: str) -> tuple[int, str]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "CONTENT_LENGTH": "0",
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    seen: list[str] = []
    body = b"".join(application(environ, lambda status, _headers: seen.append(status)))
    return int(seen[0].split()[0]), body.decode()


def test_readyz_follows_the_worker_and_the_slack_token(services, standin):
    command.stamp(alembic_config(str(services.engine.url.render_as_string(False))), "head")
    app = wsgi_app(services, None)
    with freeze_time("2026-11-23 14:00:00") as clock:
        assert get(app, "/livez") == (200, '{"ok": true}')
        status, body = get(app, "/readyz")
        assert status == 503 and json.loads(body)["worker"] == "no worker has reported yet"

        running = worker(services, standin)
        running.heartbeat()
        assert get(app, "/readyz")[0] == 200

        clock.tick(120)  # the worker went quiet
        status, body = get(app, "/readyz")
        assert status == 503 and json.loads(body)["worker"] == "last seen 120s ago"

        standin.fail_next("auth.test", error="token_revoked")
        running.heartbeat()  # a minute passed: it asks Slack again
        status, body = get(app, "/readyz")
        assert status == 503
        assert json.loads(body)["slack_token"] == "refused by Slack: token_revoked"
        assert json.loads(body)["worker"] == "ok"

        clock.tick(61)
        running.heartbeat()  # Slack takes the token again
        assert get(app, "/readyz")[0] == 200


def test_metrics_are_off_unless_enabled_and_can_require_a_token(services):
    assert get(wsgi_app(services, None), "/metrics")[0] == 404
    token = dataclasses.replace(services, settings=dataclasses.replace(
        services.settings, runtime=Runtime(metrics_token="s3cret")))
    app = wsgi_app(token, None)
    assert get(app, "/metrics")[0] == 401
    assert get(app, "/metrics", authorization="Bearer wrong")[0] == 401
    status, body = get(app, "/metrics", authorization="Bearer s3cret")
    assert status == 200 and "signalbot_outbox_held 0.0" in body


def test_readyz_fails_while_slack_delivery_is_paused_over_the_token(services, standin):
    from service import slack_pause

    command.stamp(alembic_config(str(services.engine.url.render_as_string(False))), "head")
    app = wsgi_app(services, None)
    with freeze_time("2026-11-23 14:00:00"):
        worker(services, standin).heartbeat()
        assert get(app, "/readyz")[0] == 200
        with services.unit_of_work() as session:
            slack_pause.pause(session, "token_revoked", None, services.now())
        status, body = get(app, "/readyz")
    assert status == 503
    assert json.loads(body)["slack_token"].startswith("Slack delivery paused: ")
