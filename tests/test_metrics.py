"""What the worker counts for /metrics: SLA steps by level, deliveries, Slack's errors."""

from __future__ import annotations

from freezegun import freeze_time
from prometheus_client import REGISTRY

from tests.flow import log, worker
from tests.people import AE


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_sla_steps_deliveries_and_slack_errors_are_counted(services, standin):
    before = {
        "reminder": sample("signalbot_sla_steps_total", step="reminder", level=""),
        "level1": sample("signalbot_sla_steps_total", step="escalation", level="1"),
        "sent": sample("signalbot_deliveries_total", kind="slack.post", result="sent"),
        "error": sample("signalbot_slack_errors_total", error="channel_not_found"),
        "sweeps": sample("signalbot_sweep_seconds_count"),
    }
    running = worker(services, standin)
    with freeze_time("2026-11-23 14:00:00") as clock:
        log(services)
        standin.fail_next("chat.postMessage", error="channel_not_found")
        running.catch_up()
        clock.move_to("2026-11-23 16:00:01")  # 50% of the ack window: a reminder
        running.catch_up()
        clock.move_to("2026-11-23 18:00:01")  # missed: escalation level 1
        running.catch_up()
        running.catch_up()  # nothing new is decided twice
    assert sample("signalbot_sla_steps_total", step="reminder", level="") - \
        before["reminder"] == 1  # 50%; at 18:00 the 90% one is pointless and skipped
    assert sample("signalbot_sla_steps_total", step="escalation", level="1") - \
        before["level1"] == 1
    assert sample("signalbot_slack_errors_total", error="channel_not_found") - \
        before["error"] == 1
    sent = sample("signalbot_deliveries_total", kind="slack.post", result="sent") - before["sent"]
    assert sent == len(standin.all_posts()) and len(standin.dm_messages(AE)) >= 3
    assert sample("signalbot_sweep_seconds_count") - before["sweeps"] == 4
