"""Which processes `signalbot run` starts: web and one worker; Socket Mode adds its own."""

from __future__ import annotations

import dataclasses

import pytest
from alembic import command

from bot import cli, serve_cli, supervisor
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


def test_the_worker_yields_the_cpu_to_the_acks(sqlite_services, monkeypatch):
    """`signalbot worker` lowers its own priority by SIGNALBOT_WORKER_NICE; unset, not on
    SQLite (the acks share its write lock with the worker), by 10 on PostgreSQL."""
    command.stamp(alembic_config(sqlite_services.settings.database_url), "head")
    lowered: list[int] = []
    monkeypatch.setattr(serve_cli.os, "nice", lowered.append)
    args = cli.parser().parse_args(["worker", "--once"])
    assert args.handler(args, sqlite_services) == 0
    assert lowered == []
    assert args.handler(args, _with_nice(sqlite_services, 7)) == 0
    assert lowered == [7]
    monkeypatch.setattr(serve_cli, "is_postgres", lambda engine: True)
    assert serve_cli.worker_niceness(sqlite_services) == serve_cli.WORKER_NICE == 10
    assert serve_cli.worker_niceness(_with_nice(sqlite_services, 0)) == 0


def _with_nice(services, niceness: int):
    return dataclasses.replace(services, settings=dataclasses.replace(
        services.settings, runtime=dataclasses.replace(services.settings.runtime,
                                                       worker_nice=niceness)))


@pytest.mark.parametrize("value", ["-1", "20", "high"])
def test_a_bad_worker_niceness_is_refused_by_name(value):
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"SIGNALBOT_WORKER_NICE": value})
    assert "SIGNALBOT_WORKER_NICE must be a whole number from 0 to 19" in str(bad.value)
    assert Settings.from_env({"SIGNALBOT_WORKER_NICE": "5"}).runtime.worker_nice == 5
