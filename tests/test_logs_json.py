"""JSON log lines (SIGNALBOT_LOG_FORMAT=json) and the ids of the work in hand."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from bot.settings import Settings, SettingsError


@pytest.fixture
def captured():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def run(fmt: str) -> list[str]:
        stream = io.StringIO()
        logs.setup(stream=stream, fmt=fmt)
        log = logging.getLogger("signalbot.test")
        with logs.context(request_id="r1", outbox_id=7):
            log.info("forged\nERROR injected line %s", "x\r\ny")
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        log.warning("outside")
        return stream.getvalue().splitlines()

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_parse_one_by_one_with_ids(captured):
    lines = captured("json")
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "forged\nERROR injected line x\r\ny"
    assert (first["level"], first["logger"], first["request_id"], first["outbox_id"]) == \
        ("INFO", "signalbot.test", "r1", 7)
    assert "ValueError: boom" in second["exc_info"]
    assert "request_id" not in third and third["level"] == "WARNING"
    assert first["time"].endswith("+00:00")


def test_plain_lines_carry_the_ids_too(captured):
    lines = captured("plain")
    assert len(lines) == 3
    assert "forged\\nERROR injected line x\\r\\ny [request_id=r1 outbox_id=7]" in lines[0]


def test_runtime_settings_are_read_and_checked():
    settings = Settings.from_env({"SIGNALBOT_LOG_FORMAT": "JSON", "SIGNALBOT_WORKERS": "3",
                                  "SIGNALBOT_SHUTDOWN_GRACE": "2.5"})
    assert settings.runtime.log_format == "json"
    assert (settings.runtime.web_workers, settings.runtime.shutdown_grace) == (3, 2.5)
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"SIGNALBOT_THREADS": "0", "SIGNALBOT_LOG_FORMAT": "xml"})
    assert bad.value.variables == ("SIGNALBOT_THREADS", "SIGNALBOT_LOG_FORMAT")
    assert "SIGNALBOT_THREADS must be a whole number above 0" in str(bad.value)
