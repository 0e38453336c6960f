"""The systemd units in deploy/systemd run real `signalbot` command lines."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from bot.cli import parser

UNITS = sorted((Path(__file__).resolve().parents[1] / "deploy" / "systemd").glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str
    parsed.read(path)
    return parsed


def test_there_is_a_unit_for_each_process():
    assert {p.name for p in UNITS} == {"signalbot.service", "signalbot-web.service",
                                       "signalbot-worker.service", "signalbot-backup.service"}


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_exec_line_is_a_signalbot_command(path):
    service = unit(path)["Service"]
    lines = [service[key] for key in ("ExecStartPre", "ExecStart") if key in service]
    assert lines
    for line in lines:
        program, *argv = shlex.split(line)
        assert program.endswith("/signalbot")
        args = parser().parse_args(argv)  # exits (SystemExit) on anything signalbot refuses
        assert callable(args.handler)


@pytest.mark.parametrize("path", [p for p in UNITS if "backup" not in p.name],
                         ids=lambda p: p.name)
def test_long_running_units_stop_with_sigterm_after_the_grace(path):
    service = unit(path)["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 10 + 5  # SIGNALBOT_SHUTDOWN_GRACE + the margin
    assert service["Restart"] == "always"


def test_every_runtime_setting_is_in_the_readme_settings_table():
    from bot.runtime_settings import VARIABLES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in VARIABLES:
        assert f"| `{name}` |" in readme, name
