"""Loading the admin's YAML file: defaults, the example file, and errors that name file and key."""

from __future__ import annotations

import os
from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import (
    DEFAULT_RUBRIC,
    Config,
    ConfigError,
    Criterion,
    SlaWindow,
    format_duration,
    load_config,
    parse_duration,
    parse_schedule,
)
from protocol.calendar import BusinessHours

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "signalbot.yml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.file == str(path)
    assert str(error) == f"{path}: {error.key}: {error.problem}"
    assert "\n" not in str(error)
    return error


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("90", timedelta(seconds=90)),
        (45, timedelta(seconds=45)),
    ],
)
def test_parse_duration_accepts(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["0", "0s", 0, -5, "-5m", "", "h", "4 hours", "1.5h", "4H", "1h2h", True, None, "1w"]
)
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["30s", "15m", "4h", "7d", "1d12h", "1h30m15s"])
def test_format_duration_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_parse_schedule() -> None:
    assert parse_schedule("mon 09:00") == (0, time(9, 0))
    assert parse_schedule("Sunday 17:30") == (6, time(17, 30))
    for bad in ("mon", "funday 09:00", "mon 25:00", "mon 9am"):
        with pytest.raises(ValueError):
            parse_schedule(bad)


# --- successful loads ----------------------------------------------------------------------


def test_no_file_gives_defaults() -> None:
    config = load_config(None)
    assert config == Config()
    assert config.timezone == ZoneInfo("America/New_York")
    assert config.sla["hot"] == SlaWindow(ack=timedelta(hours=4), contact=timedelta(hours=24))
    assert config.rubric == DEFAULT_RUBRIC
    assert config.source is None


def test_example_file_loads_and_equals_defaults_plus_roster_and_digest() -> None:
    config = load_config(EXAMPLE)
    assert config.managers["U0AE00001"] == "U0MGR0001"
    assert config.admins == ("U0REVOPS1",)
    assert config.digest_channel == "C0DIGEST01"
    assert config.source == str(EXAMPLE)
    same = {"managers": config.managers, "admins": config.admins, "source": config.source}
    assert config == Config(**same, digest_channel="C0DIGEST01")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    assert load_config(path) == Config(source=str(path))


def test_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: Europe/Berlin\n")
    assert load_config(os.fspath(path)).timezone == ZoneInfo("Europe/Berlin")


def test_partial_sla_keeps_other_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sla:\n  hot: {ack: 2h}\n"))
    assert config.sla["hot"] == SlaWindow(ack=timedelta(hours=2), contact=timedelta(hours=24))
    assert config.sla["warm"] == Config().sla["warm"]
    assert config.reminders == (0.5, 0.9)


def test_full_file(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
timezone: Europe/London
sla:
  warm: {ack: 12h, contact: 2d}
  watch: {review: 14d}
  reminders: [0.25, 0.75]
escalation: {repeat_after: 1h30m}
business_hours:
  enabled: true
  days: [mon, tue, wed, thu]
  start: 8:30
  end: "18:00"
  holidays: [2026-12-25, "2027-01-01"]
scheduler: {sweep_interval: 15}
roster:
  managers: {U0AE00001: U0MGR0001, W0AE00002: U0MGR0001}
  admins: [U0REVOPS1, U0REVOPS2]
digest: {channel: G0PRIVATE1, schedule: "fri 16:30"}
qualification:
  threshold: 2
  criteria:
    - {key: budget, label: Budget}
    - {key: timeline, label: Timeline, hint: "Not eventually"}
    - {key: named_buyer, label: Named buyer}
watch: {revisit: 60d}
outcome: {reminder_after: 45d}
routing: {enabled: true, cs_led_below: 10000, joint_at_or_above: 150000}
""",
        )
    )
    assert config.timezone == ZoneInfo("Europe/London")
    assert config.sla["warm"] == SlaWindow(ack=timedelta(hours=12), contact=timedelta(days=2))
    assert config.sla["watch"].review == timedelta(days=14)
    assert config.reminders == (0.25, 0.75)
    assert config.escalation_repeat == timedelta(hours=1, minutes=30)
    assert config.business_hours == BusinessHours(
        enabled=True,
        days=(0, 1, 2, 3),
        start=time(8, 30),  # unquoted 8:30 is not read as a base-60 number
        end=time(18, 0),
        holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
    )
    assert config.sweep_interval == timedelta(seconds=15)
    assert config.managers == {"U0AE00001": "U0MGR0001", "W0AE00002": "U0MGR0001"}
    assert config.admins == ("U0REVOPS1", "U0REVOPS2")
    assert (config.digest_channel, config.digest_weekday) == ("G0PRIVATE1", 4)
    assert config.digest_time == time(16, 30)
    assert config.rubric.threshold == 2
    assert config.rubric.criteria[1] == Criterion("timeline", "Timeline", "Not eventually")
    assert config.watch_revisit == timedelta(days=60)
    assert config.outcome_reminder == timedelta(days=45)
    assert config.routing.enabled
    assert (config.routing.cs_led_below, config.routing.joint_at_or_above) == (10000, 150000)


def test_threshold_alone_keeps_default_criteria(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "qualification: {threshold: 4}\n"))
    assert config.rubric.criteria == DEFAULT_RUBRIC.criteria
    assert config.rubric.threshold == 4


def test_empty_reminders_turn_them_off(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "sla: {reminders: []}\n")).reminders == ()


# --- errors name file and key --------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match="no such file") as caught:
        load_config(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\n")
    path.chmod(0)
    try:
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(path)
    finally:
        path.chmod(0o600)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, "timezone: UTC\nsla:\n  hot: {ack: 4h\n  warm: 1\n")
    assert error.key.startswith("line ")
    assert "not valid YAML" in error.problem


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    error = error_for(tmp_path, "sla:\n  hot: {ack: 1h}\nsla:\n  warm: {ack: 1h}\n")
    assert error.key == "line 3"
    assert "'sla' appears twice" in error.problem


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = error_for(tmp_path, "- timezone\n- sla\n")
    assert error.key == "(top level)"
    assert "expected a mapping, got a list" in error.problem


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("timezon: UTC\n", "timezon", "did you mean 'timezone'?"),
        ("sla:\n  hott: {ack: 1h}\n", "sla.hott", "did you mean 'hot'?"),
        ("sla:\n  hot: {akc: 1h}\n", "sla.hot.akc", "did you mean 'ack'?"),
        ("sla:\n  watch: {ack: 1h}\n", "sla.watch.ack", "known keys here: review"),
        ("digest: {chanel: C0DIGEST01}\n", "digest.chanel", "did you mean 'channel'?"),
        ("qualification:\n  criteria:\n    - {key: a, lable: A}\n",
         "qualification.criteria[0].lable", "did you mean 'label'?"),
    ],
)  # fmt: skip
def test_unknown_keys(tmp_path: Path, text: str, key: str, hint: str) -> None:
    error = error_for(tmp_path, text)
    assert error.key == key
    assert "unknown key" in error.problem
    assert hint in error.problem


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("sla: [hot]\n", "sla", "expected a mapping, got a list"),
        ("sla:\n  hot: 4h\n", "sla.hot", "expected a mapping, got '4h'"),
        ("timezone: 5\n", "timezone", "expected text, got 5"),
        ("business_hours: {enabled: maybe}\n", "business_hours.enabled", "expected true or false"),
        ("roster: {admins: U0REVOPS1}\n", "roster.admins", "expected a list"),
        ("qualification: {threshold: 2.5}\n", "qualification.threshold", "expected a whole number"),
        ("qualification: {threshold: true}\n", "qualification.threshold", "got True"),
        ("routing: {cs_led_below: lots}\n", "routing.cs_led_below", "expected a number"),
        ("sla: {reminders: [0.5, yes]}\n", "sla.reminders[1]", "expected a number, got True"),
        ("qualification:\n  criteria: [budget]\n", "qualification.criteria[0]",
         "expected a mapping"),
    ],
)  # fmt: skip
def test_wrong_types(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("sla:\n  hot: {ack: 4 hours}\n", "sla.hot.ack"),
        ("sla:\n  warm: {contact: 0s}\n", "sla.warm.contact"),
        ("sla:\n  watch: {review: -1d}\n", "sla.watch.review"),
        ("escalation: {repeat_after: soon}\n", "escalation.repeat_after"),
        ("scheduler: {sweep_interval: 0}\n", "scheduler.sweep_interval"),
        ("watch: {revisit: 1:30}\n", "watch.revisit"),
        ("outcome: {reminder_after: 1.5d}\n", "outcome.reminder_after"),
    ],
)
def test_bad_durations(tmp_path: Path, text: str, key: str) -> None:
    assert error_for(tmp_path, text).key == key


def test_contact_shorter_than_ack(tmp_path: Path) -> None:
    error = error_for(tmp_path, "sla:\n  hot: {ack: 48h}\n")
    assert error.key == "sla.hot.contact"
    assert "1d is shorter than the ack window (2d)" in error.problem


@pytest.mark.parametrize(
    ("reminders", "problem"),
    [("[0, 0.5]", "between 0 and 1"), ("[0.5, 1]", "between 0 and 1"), ("[0.9, 0.5]", "ascending")],
)
def test_bad_reminders(tmp_path: Path, reminders: str, problem: str) -> None:
    error = error_for(tmp_path, f"sla: {{reminders: {reminders}}}\n")
    assert error.key.startswith("sla.reminders[")
    assert problem in error.problem


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "../etc/passwd", "EST5EDT/x"])
def test_bad_time_zone(tmp_path: Path, zone: str) -> None:
    error = error_for(tmp_path, f"timezone: {zone}\n")
    assert error.key == "timezone"
    assert "unknown time zone" in error.problem


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('digest: {schedule: "monday"}\n', "digest.schedule", "not a schedule"),
        ('digest: {schedule: "someday 09:00"}\n', "digest.schedule", "not a weekday"),
        ('digest: {schedule: "mon 24:00"}\n', "digest.schedule", "not a time of day"),
        ("business_hours: {start: 9am}\n", "business_hours.start", "not a time of day"),
        ("business_hours: {end: 17}\n", "business_hours.end", "write the time in quotes"),
        ('business_hours: {start: "18:00"}\n', "business_hours.end", "before it starts"),
        ("business_hours: {days: [mon, tues]}\n", "business_hours.days[1]", "not a weekday"),
        ("business_hours: {days: [mon, mon]}\n", "business_hours.days[1]", "listed twice"),
        ("business_hours: {days: []}\n", "business_hours.days", "at least one"),
        ("business_hours: {holidays: [2026-13-01]}\n", "line 1", "not a real date"),
        ("business_hours: {holidays: [Dec 25]}\n", "business_hours.holidays[0]", "not a date"),
        ("business_hours: {holidays: [2026-12-25 10:00:00]}\n", "business_hours.holidays[0]",
         "expected a date"),
    ],
)  # fmt: skip
def test_bad_schedules_and_hours(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("qualification: {threshold: 5}\n", "qualification.threshold", "more than the 4 criteria"),
        ("qualification: {threshold: 0}\n", "qualification.threshold", "at least 1"),
        ("qualification:\n  criteria: [{key: a, label: A}, {key: b, label: B}]\n",
         "qualification.threshold", "the default threshold 3 is more than the 2 criteria"),
        ("qualification:\n  criteria: []\n", "qualification.criteria", "at least one"),
        ("qualification:\n  criteria: [{key: a, label: A}, {key: a, label: B}]\n  threshold: 1\n",
         "qualification.criteria[1].key", "'a' is used by another criterion"),
        ("qualification:\n  criteria: [{key: Budget, label: B}]\n  threshold: 1\n",
         "qualification.criteria[0].key", "a-z, 0-9 and _"),
        ("qualification:\n  criteria: [{label: B}]\n  threshold: 1\n",
         "qualification.criteria[0].key", "required"),
        ("qualification:\n  criteria: [{key: b}]\n  threshold: 1\n",
         "qualification.criteria[0].label", "required"),
    ],
)  # fmt: skip
def test_bad_rubric(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("roster:\n  managers: {u0ae00001: U0MGR0001}\n", "roster.managers.u0ae00001",
         "not a Slack user id"),
        ("roster:\n  managers: {U0AE00001: jane}\n", "roster.managers.U0AE00001",
         "'jane' is not a Slack user id"),
        ("roster:\n  managers: {U0AE00001: U0AE00001}\n", "roster.managers.U0AE00001",
         "their own manager"),
        ("roster:\n  managers: {U0AAA: U0BBB, U0BBB: U0AAA}\n", "roster.managers.U0AAA",
         "loop: U0AAA -> U0BBB -> U0AAA"),
        ("roster:\n  managers: {U0X: U0AAA, U0AAA: U0BBB, U0BBB: U0CCC, U0CCC: U0AAA}\n",
         "roster.managers.U0AAA", "loop: U0AAA -> U0BBB -> U0CCC -> U0AAA"),
        ("roster:\n  admins: [U0REVOPS1, C0CHANNEL]\n", "roster.admins[1]",
         "not a Slack user id"),
        ("digest: {channel: '#expansion'}\n", "digest.channel", "not a channel id"),
        ("digest: {channel: U0PERSON1}\n", "digest.channel", "not a channel id"),
    ],
)  # fmt: skip
def test_bad_slack_ids_and_roster(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("routing: {cs_led_below: 200000, joint_at_or_above: 150000}\n", "routing.cs_led_below",
         "above joint_at_or_above"),
        ("routing: {cs_led_below: -1}\n", "routing.cs_led_below", "negative"),
        ("routing: {enabled: true}\n", "routing.enabled", "neither"),
    ],
)  # fmt: skip
def test_bad_routing(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


# --- crm and webhooks (docs/crm.md) --------------------------------------------------------


def test_crm_and_webhooks_are_off_by_default() -> None:
    config = load_config(None)
    assert not config.crm.enabled and config.webhooks == ()


def test_the_crm_section_from_the_docs(tmp_path: Path) -> None:
    from bot.config import Crm, Webhook

    config = load_config(write(tmp_path, """
crm:
  provider: hubspot            # hubspot | salesforce | none (default)
  base_url: https://api.hubapi.com
  token_env: HUBSPOT_TOKEN
  pipeline: default
  stages: {handed_off: appointmentscheduled, contacted: qualifiedtobuy, won: closedwon, lost: closedlost}
  poll_interval: 2m
webhooks:
  - url: https://example.internal/hooks/signals
    secret_env: SIGNALBOT_WEBHOOK_SECRET
    events: [handed_off, escalated, outcome]
"""))  # noqa: E501
    assert config.crm == Crm(
        provider="hubspot", base_url="https://api.hubapi.com", token_env="HUBSPOT_TOKEN",
        stages=(("handed_off", "appointmentscheduled"), ("contacted", "qualifiedtobuy"),
                ("won", "closedwon"), ("lost", "closedlost")),
        poll_interval=timedelta(minutes=2))
    assert config.crm.stage("acknowledged") == "appointmentscheduled"
    assert [config.crm.outcome_of(s) for s in ("closedwon", "closedlost", "qualifiedtobuy",
                                               "appointmentscheduled", None)] == [
        "won", "lost", "contacted", None, None]
    assert config.crm.stage("deferred") == "closedlost"
    assert config.webhooks == (Webhook("https://example.internal/hooks/signals",
                                       "SIGNALBOT_WEBHOOK_SECRET",
                                       ("handed_off", "escalated", "outcome")),)


def test_salesforce_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "crm:\n  provider: salesforce\n"
                                         "  instance_url: https://acme.my.salesforce.com/\n"
                                         "  api_version: 61.0\n  session_timeout: 1h\n"))
    crm = config.crm
    assert (crm.base_url, crm.api_version) == ("https://acme.my.salesforce.com", "61.0")
    assert (crm.client_id_env, crm.client_secret_env) == ("SALESFORCE_CLIENT_ID",
                                                          "SALESFORCE_CLIENT_SECRET")
    assert crm.session_timeout == timedelta(hours=1) and crm.token_env is None
    assert crm.stage("won") == "Closed Won" and crm.stage("contacted") == "Qualification"
    assert crm.poll_interval == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("crm: {provider: pipedrive}\n", "crm.provider", "not one of none, hubspot, salesforce"),
        ("crm: {provider: salesforce}\n", "crm.instance_url", "is required for Salesforce"),
        ("crm: {provider: hubspot, base_url: api.hubapi.com}\n", "crm.base_url", "http(s) URL"),
        ("crm: {provider: hubspot, token_env: pat-na1-1234}\n", "crm.token_env",
         "never in this file"),
        ("crm: {provider: hubspot, stages: {won: closedwon}}\n", "crm.stages.handed_off",
         "required"),
        ("crm: {provider: hubspot, stages: {handed_off: a, won: b, lost: c, closed: d}}\n",
         "crm.stages.closed", "unknown key"),
        ("crm: {provider: salesforce, instance_url: 'https://x.my.salesforce.com',"
         " api_version: v62}\n", "crm.api_version", "not an API version"),
        ("crm: {provider: hubspot, tokn_env: X}\n", "crm.tokn_env", "did you mean 'token_env'"),
        ("crm: {provider: hubspot, poll_interval: 10s}\n", "crm.poll_interval", "at least 30s"),
        ("webhooks:\n  - url: https://x.example/h\n", "webhooks[0].secret_env", "required"),
        ("webhooks:\n  - {url: https://x.example/h, secret_env: S, events: [won]}\n",
         "webhooks[0].events[0]", "'won' is not one of"),
        ("webhooks:\n  - {url: ftp://x.example/h, secret_env: S}\n", "webhooks[0].url",
         "http(s) URL"),
        ("webhooks: {url: https://x.example/h}\n", "webhooks", "expected a list"),
    ],
)  # fmt: skip
def test_bad_crm_and_webhooks(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


# --- triggers from product data --------------------------------------------------------------


def test_trigger_defaults_come_from_the_playbooks() -> None:
    from bot.config import Tier

    t = Config().triggers
    assert (t.ceiling_share, t.ceiling_cycles, t.projection_cycles) == (0.70, 2, 3)
    assert (t.trend_growth, t.trend_cycles, t.seat_margin) == (0.08, 3, 0.15)
    assert (t.unlock_attempts, t.unlock_window) == (2, timedelta(days=14))
    assert (t.renewal_from, t.renewal_to) == (timedelta(days=60), timedelta(days=90))
    assert (t.risk_health_below, t.risk_support, t.snooze) == (70, ("P1", "P2"), timedelta(days=30))
    assert t.urgency["feature_unlock"] == "hot" and t.urgency["usage_trend"] == "watch"
    r = t.readiness
    assert (r.health, r.adoption) == (Tier(85, 25, 70, 15), Tier(0.75, 20, 0.60, 12))
    assert (r.active_users, r.tenure_months) == (Tier(5, 20, 3, 12), Tier(9, 10, 6, 6))
    assert (r.support_clear, r.support_recent, r.usage_growing, r.usage_flat) == (15, 8, 10, 5)
    assert (t.max_events, t.max_body, t.max_value_ratio) == (1000, 1_000_000, 100)


def test_triggers_section(tmp_path: Path) -> None:
    path = write(tmp_path, """
triggers:
  snooze: 14d
  usage_ceiling: {share: 0.8, cycles: 3, urgency: hot}
  usage_trend: {growth: 0.1}
  seat_capacity: {margin: 0.1}
  feature_unlock: {attempts: 3, window: 7d}
  renewal_window: {from: 75d, to: 120d}
  at_risk: {health_below: 60, support: [P1]}
  readiness:
    health: {high: 90, high_points: 30, mid: 75, mid_points: 10}
    support: {recent_days: 14}
    bands: {work_above: 80}
  ingest: {max_events: 500}
""")
    t = load_config(path).triggers
    assert (t.snooze, t.ceiling_share, t.ceiling_cycles) == (timedelta(days=14), 0.8, 3)
    assert (t.urgency["usage_ceiling"], t.urgency["seat_capacity"]) == ("hot", "hot")
    assert (t.trend_growth, t.trend_cycles, t.seat_margin) == (0.1, 3, 0.1)
    assert (t.unlock_attempts, t.unlock_window) == (3, timedelta(days=7))
    assert (t.renewal_from.days, t.renewal_to.days) == (75, 120)
    assert (t.risk_health_below, t.risk_support, t.max_events) == (60, ("P1",), 500)
    assert (t.readiness.health.high, t.readiness.health.high_points) == (90, 30)
    assert (t.readiness.support_recent_days, t.readiness.work_above) == (14, 80)
    assert t.readiness.adoption == Config().triggers.readiness.adoption


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("triggers: {usage_ceiling: {share: 70}}\n", "triggers.usage_ceiling.share",
         "not a fraction"),
        ("triggers: {usage_ceiling: {cycles: 0}}\n", "triggers.usage_ceiling.cycles",
         "at least 1"),
        ("triggers: {usage_ceiling: {projection_cycles: 1}}\n",
         "triggers.usage_ceiling.projection_cycles", "at least 2"),
        ("triggers: {feature_unlock: {window: soon}}\n", "triggers.feature_unlock.window",
         "not a duration"),
        ("triggers: {renewal_window: {from: 90d, to: 60d}}\n", "triggers.renewal_window.from",
         "later than"),
        ("triggers: {seat_capacity: {urgency: urgent}}\n", "triggers.seat_capacity.urgency",
         "not one of hot, warm, watch"),
        ("triggers: {at_risk: {support: [high]}}\n", "triggers.at_risk.support[0]",
         "support priority"),
        ("triggers: {readiness: {health: {high: 60, mid: 70}}}\n",
         "triggers.readiness.health.mid", "above high"),
        ("triggers: {readiness: {bands: {work_above: 30}}}\n",
         "triggers.readiness.bands.watch_from", "above bands.work_above"),
        ("triggers: {usage_celing: {share: 0.7}}\n", "triggers.usage_celing",
         "did you mean 'usage_ceiling'"),
        ("triggers: {ingest: {max_events: -1}}\n", "triggers.ingest.max_events", "at least 1"),
    ],
)  # fmt: skip
def test_bad_triggers(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


# --- credit (README: The quarterly review) --------------------------------------------------


def test_the_credit_section_from_the_readme(tmp_path: Path) -> None:
    from decimal import Decimal

    from protocol.credit import CreditPolicy

    assert load_config(None).credit == CreditPolicy()
    config = load_config(write(tmp_path, """
credit:
  csm_rate: 0.3
  attainment_floor: 0.75
  channel: C0REVOPS01
"""))
    assert config.credit == CreditPolicy(csm_rate=Decimal("0.3"), attainment_floor=0.75,
                                         channel="C0REVOPS01")
    assert load_config(write(tmp_path, "credit: {spiff: 1500}\n")).credit.spiff == Decimal(1500)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("credit: {csm_rate: 25}\n", "credit.csm_rate", "between 0 and 1"),
        ("credit: {csm_rate: lots}\n", "credit.csm_rate", "not a number"),
        ("credit: {spiff: -5}\n", "credit.spiff", "negative"),
        ("credit: {attainment_floor: 80}\n", "credit.attainment_floor", "between 0 and 1"),
        ("credit: {channel: revops}\n", "credit.channel", "channel id"),
        ("credit: {rate: 0.2}\n", "credit.rate", "unknown key"),
    ],
)  # fmt: skip
def test_bad_credit(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


# --- teams ---------------------------------------------------------------------------------


def test_teams_in_order_with_members_and_group(tmp_path: Path) -> None:
    from bot.config import Team

    config = load_config(write(tmp_path, """teams:
  - name: Enterprise
    members: [U0AE00001, U0MGR0001]
    group: S0ENTAES1
  - {name: SMB, members: [U0AE00002]}
  - {name: Pooled, group: S0POOL001}
"""))
    assert config.teams == (
        Team("Enterprise", ("U0AE00001", "U0MGR0001"), "S0ENTAES1"),
        Team("SMB", ("U0AE00002",)),
        Team("Pooled", (), "S0POOL001"),
    )
    assert config.team_of_member == {"U0AE00001": "Enterprise", "U0MGR0001": "Enterprise",
                                     "U0AE00002": "SMB"}
    assert config.team_named("smb") == config.teams[1]
    assert load_config(None).teams == ()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("teams: {name: A}\n", "teams", "expected a list"),
        ("teams:\n  - {members: [U0AE00001]}\n", "teams[0].name", "every team needs a name"),
        ("teams:\n  - {name: '  ', members: [U0AE00001]}\n", "teams[0].name", "is required"),
        ("teams:\n  - {name: A, members: [U0AE00001]}\n  - {name: a, members: [U0AE00002]}\n",
         "teams[1].name", "'a' is already the name of another team"),
        ("teams:\n  - {name: A, members: [U0AE00001]}\n  - {name: B, members: [U0AE00001]}\n",
         "teams[1].members", "U0AE00001 is already a member of team 'A'"),
        ("teams:\n  - {name: A, members: [U0AE00001, U0AE00001]}\n", "teams[0].members[1]",
         "listed twice"),
        ("teams:\n  - {name: A, members: [jane]}\n", "teams[0].members[0]",
         "not a Slack user id"),
        ("teams:\n  - {name: A, group: '@sales'}\n", "teams[0].group",
         "not a Slack user group id"),
        ("teams:\n  - {name: A}\n", "teams[0].members", "no members and no group"),
        ("teams:\n  - {name: A, member: [U0AE00001]}\n", "teams[0].member",
         "did you mean 'members'"),
    ],
)
def test_bad_teams(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), error.problem


# --- SLA policies and holiday calendars ------------------------------------------------------

TEAMS = """teams:
  - {name: Enterprise, members: [U0AE00001]}
  - {name: SMB, members: [U0AE00002]}
"""
HOT_WARM = "hot: {ack: 1d, contact: 3d}\n      warm: {ack: 2d, contact: 5d}"


def test_policies_in_order_inherit_the_top_level_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TEAMS + f"""business_hours:
  enabled: true
  holidays: {{country: US, dates: [2026-12-24]}}
sla:
  reminders: [0.25]
  policies:
    - name: Enterprise weekly
      match: {{teams: [enterprise], urgency: [hot, warm], arr: {{min: 150000}}}}
      {HOT_WARM}
      business_hours:
        start: "08:00"
        holidays: {{country: GB, subdivision: ENG, dates: [2026-12-31]}}
    - name: SMB pod
      match: {{teams: [SMB], plans: [Growth], segments: [smb]}}
      hot: {{ack: 2h, contact: 8h}}
      warm: {{ack: 8h, contact: 1d}}
      watch: {{review: 3d}}
      reminders: [0.75]
      escalation_repeat: 2h
roster:
  holidays:
    U0MGR0001: {{country: GB, subdivision: ENG}}
"""))
    enterprise, smb, default = config.policies
    assert [p.name for p in config.policies] == ["Enterprise weekly", "SMB pod", "default"]
    assert enterprise.match.teams == ("Enterprise",)  # the team's own spelling
    assert (enterprise.match.urgencies, enterprise.match.arr_min) == (("hot", "warm"), 150000)
    assert enterprise.windows == {"hot": SlaWindow(ack=timedelta(days=1),
                                                   contact=timedelta(days=3)),
                                  "warm": SlaWindow(ack=timedelta(days=2),
                                                    contact=timedelta(days=5))}
    assert enterprise.reminders == (0.25,) and smb.reminders == (0.75,)
    assert smb.escalation_repeat == timedelta(hours=2) and enterprise.escalation_repeat is None
    hours = enterprise.business_hours
    assert (hours.enabled, hours.start, hours.end) == (True, time(8), time(17))
    assert (hours.country, hours.subdivision, hours.holidays) == (
        "GB", "ENG", frozenset({date(2026, 12, 31)}))
    assert hours.is_holiday(date(2026, 8, 31))  # the English summer bank holiday
    assert not hours.is_holiday(date(2026, 11, 26))  # Thanksgiving is not
    assert default.business_hours.is_holiday(date(2026, 11, 26))
    assert default.business_hours.is_holiday(date(2026, 12, 24))
    assert smb.business_hours == default.business_hours  # inherited whole
    assert smb.match.plans == ("Growth",) and smb.match.segments == ("smb",)
    assert config.person_holidays == {"U0MGR0001": ("GB", "ENG")}
    assert set(config.calendars) == {("US", None), ("GB", "ENG")}


def test_no_policies_leave_the_default_alone(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sla: {hot: {ack: 2h}}\n"))
    assert config.policies == (config.sla_policy,) and config.sla_policy.name == "default"
    assert config == Config(source=config.source, sla={
        **Config().sla, "hot": SlaWindow(ack=timedelta(hours=2), contact=timedelta(hours=24))})


def policy_error(tmp_path: Path, policies: str) -> ConfigError:
    return error_for(tmp_path, TEAMS + "sla:\n  policies:\n" + policies)


@pytest.mark.parametrize(
    ("policies", "key", "problem"),
    [
        (f"    - match: {{teams: [SMB]}}\n      {HOT_WARM}\n", "sla.policies[0].name",
         "every policy needs a name"),
        (f"    - name: default\n      {HOT_WARM}\n", "sla.policies[0].name",
         "built-in policy's name"),
        (f"    - name: A\n      match: {{teams: [SMB], urgency: [hot, warm]}}\n      {HOT_WARM}\n"
         f"    - name: a\n      match: {{teams: [Enterprise], urgency: [hot, warm]}}\n"
         f"      {HOT_WARM}\n", "sla.policies[1].name", "also the name of sla.policies[0]"),
        (f"    - name: A\n      match: {{teams: [Sales]}}\n      {HOT_WARM}\n",
         "sla.policies[0].match.teams[0]", "unknown team 'Sales'; the teams are 'Enterprise'"),
        (f"    - name: A\n      match: {{urgency: [urgent]}}\n      {HOT_WARM}\n",
         "sla.policies[0].match.urgency[0]", "'urgent' is not an urgency"),
        (f"    - name: A\n      match: {{urgency: [hot, warm], arr: {{min: 5000, max: 5000}}}}\n"
         f"      {HOT_WARM}\n", "sla.policies[0].match.arr.max", "the range is empty"),
        (f"    - name: A\n      match: {{urgency: [hot, warm], arr: {{min: -1}}}}\n"
         f"      {HOT_WARM}\n", "sla.policies[0].match.arr.min", "must not be negative"),
        (f"    - name: A\n      match: {{urgency: [hot, warm], arr: {{}}}}\n      {HOT_WARM}\n",
         "sla.policies[0].match.arr", "give min"),
        (f"    - name: Mid\n      match: {{urgency: [hot, warm], arr: {{min: 10000, max: 150000}}}}"
         f"\n      {HOT_WARM}\n"
         f"    - name: Big\n      match: {{urgency: [hot, warm], arr: {{min: 100000}}}}\n"
         f"      {HOT_WARM}\n", "sla.policies[1].match.arr", "overlaps the ARR range of "
         "sla.policies[0] ('Mid')"),
        (f"    - name: Any SMB\n      match: {{teams: [SMB], urgency: [hot, warm]}}\n"
         f"      {HOT_WARM}\n"
         f"    - name: SMB hot\n      match: {{teams: [SMB], urgency: [hot]}}\n"
         "      hot: {ack: 1h, contact: 2h}\n", "sla.policies[1].match",
         "never matches: sla.policies[0] ('Any SMB') comes first"),
        ("    - name: A\n      match: {teams: [SMB]}\n      hot: {ack: 1h, contact: 2h}\n"
         "      warm: {ack: 1h, contact: 2h}\n", "sla.policies[0].watch",
         "missing: the policy takes watch hand-offs"),
        ("    - name: A\n      match: {urgency: [hot]}\n      hot: {ack: 1h}\n",
         "sla.policies[0].hot.contact", "a hot window needs ack and contact"),
        (f"    - name: A\n      match: {{urgency: [hot]}}\n      {HOT_WARM}\n",
         "sla.policies[0].warm", "never takes warm hand-offs"),
        ("    - name: A\n      match: {urgency: [hot]}\n      hot: {ack: 1d, contact: 1h}\n",
         "sla.policies[0].hot.contact", "shorter than the ack window"),
        ("    - name: A\n      match: {urgency: [hot]}\n      hot: {ack: 1h, contact: 2h}\n"
         "      business_hours: {holidays: {country: XX}}\n",
         "sla.policies[0].business_hours.holidays.country", "Country XX not available"),
        ("    - name: A\n      match: {urgency: [hot]}\n      hot: {ack: 1h, contact: 2h}\n"
         "      business_hours: {holidays: {country: GB, subdivision: TX}}\n",
         "sla.policies[0].business_hours.holidays.subdivision", "does not have subdivision TX"),
        ("    - name: A\n      match: {urgency: [hot]}\n      hot: {ack: 1h, contact: 2h}\n"
         "      business_hours: {holidays: {country: gb}}\n",
         "sla.policies[0].business_hours.holidays.country", "ISO 3166-1 code in capitals"),
        ("    - name: A\n      match: {urgency: [hot], team: [SMB]}\n"
         "      hot: {ack: 1h, contact: 2h}\n", "sla.policies[0].match.team",
         "did you mean 'teams'"),
    ],
)
def test_bad_policies(tmp_path: Path, policies: str, key: str, problem: str) -> None:
    error = policy_error(tmp_path, policies)
    assert (error.key, problem in error.problem) == (key, True), (error.key, error.problem)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("business_hours: {holidays: {subdivision: ENG}}\n",
         "business_hours.holidays.subdivision", "needs a country too"),
        ("business_hours: {holidays: {country: US, dates: [2026-02-30]}}\n", "line 1",
         "not a real date"),
        ("business_hours: {holidays: {country: US, dates: [someday]}}\n",
         "business_hours.holidays.dates[0]", "write it as YYYY-MM-DD"),
        ("roster: {holidays: {U0AE00001: {subdivision: ENG}}}\n",
         "roster.holidays.U0AE00001.subdivision", "needs a country too"),
        ("roster: {holidays: {U0AE00001: {}}}\n", "roster.holidays.U0AE00001",
         "needs a country"),
        ("roster: {holidays: {jane: {country: US}}}\n", "roster.holidays.jane",
         "not a Slack user id"),
        ("roster: {holidays: {U0AE00001: {country: US, dates: [2026-01-02]}}}\n",
         "roster.holidays.U0AE00001.dates", "unknown key"),
    ],
)
def test_bad_holiday_calendars(tmp_path: Path, text: str, key: str, problem: str) -> None:
    error = error_for(tmp_path, text)
    assert (error.key, problem in error.problem) == (key, True), (error.key, error.problem)


def test_extension_max_defaults_to_seven_days_and_must_allow_a_day(tmp_path: Path) -> None:
    from datetime import timedelta

    assert load_config(None).extension_max == timedelta(days=7)
    assert load_config(write(tmp_path, "extension:\n  max: 3d\n")).extension_max == \
        timedelta(days=3)
    error = error_for(tmp_path, "extension:\n  max: 12h\n")
    assert error.key == "extension.max" and "at least 1d" in error.problem


def test_roster_admins_group_is_a_group_id_and_merges_with_the_list(tmp_path: Path) -> None:
    from datetime import timedelta

    config = load_config(write(tmp_path, "roster:\n  admins: [U0ADMIN001]\n"
                                         "  admins_group: S0ADMINS1\n  group_refresh: 1h\n"))
    assert config.admins == ("U0ADMIN001",) and config.admins_group == "S0ADMINS1"
    assert config.group_refresh == timedelta(hours=1)
    assert load_config(None).group_refresh == timedelta(minutes=15)
    error = error_for(tmp_path, "roster:\n  admins_group: '@revops'\n")
    assert error.key == "roster.admins_group" and "S0123ABCD" in error.problem
    error = error_for(tmp_path, "roster:\n  group_refresh: 10s\n")
    assert error.key == "roster.group_refresh"
