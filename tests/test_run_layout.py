"""Which processes `signalbot run` starts: web and one worker; Socket Mode adds its own."""

from __future__ import annotations

import dataclasses

import pytest
from alembic import command

from bot import cli, supervisor
from storage.db import alembic_config


@pytest.fixture
def started(sqlite_services, monkeypatch):
    command.stamp(alembic_config(sqlite_services.settings.database_url), "head")
    seen: dict = {}

    def fake_supervise(children, grace):
        seen.update(children={c.name: c for c in children}, grace=grace)
        return 0

    monkeypatch.setattr(supervisor, "supervise", fake_supervise)

    def run(*argv: str, **settings) -> dict:
        services = dataclasses.replace(sqlite_services, settings=dataclasses.replace(
            sqlite_services.settings, **settings))
        args = cli.parser().parse_args(["run", *argv])
        assert args.handler(args, services) == 0
        return seen

    return run


def test_http_mode_runs_gunicorn_and_exactly_one_worker(started):
    seen = started("--http", "--workers", "3", "--port", "0")
    children = seen["children"]
    assert list(children) == ["web", "worker"]
    assert children["web"].essential and not children["worker"].essential
    web = children["web"].argv
    assert web[web.index("web") + 1:] == ["--host", "0.0.0.0", "--port", "0", "--workers", "3"]
    assert children["worker"].argv[-1] == "worker"
    assert seen["grace"] == 10.0


def test_socket_mode_holds_one_connection_in_its_own_process(started):
    seen = started("--socket", slack_app_token="xapp-1-test")
    children = seen["children"]
    assert list(children) == ["web", "socket", "worker"]
    assert "--no-slack" in children["web"].argv
    assert children["socket"].argv[-1] == "socket"


def test_no_worker_leaves_the_sweep_to_another_host(started):
    assert list(started("--http", "--no-worker")["children"]) == ["web"]
