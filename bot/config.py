"""The admin's YAML file: SLAs, roster, digest, qualification rubric, routing."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from difflib import get_close_matches
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from protocol.calendar import BusinessHours

URGENCIES = ("hot", "warm", "watch")


@dataclass(frozen=True)
class SlaWindow:
    """The clocks one urgency runs: acknowledge and contact for Hot/Warm, review for Watch."""

    ack: timedelta | None = None
    contact: timedelta | None = None
    review: timedelta | None = None


@dataclass(frozen=True)
class Criterion:
    """One box of the qualification checklist."""

    key: str
    label: str
    hint: str = ""


@dataclass(frozen=True)
class Rubric:
    """The qualification checklist and how many boxes make a signal qualified."""

    criteria: tuple[Criterion, ...]
    threshold: int


@dataclass(frozen=True)
class Routing:
    """Ownership by deal size (off by default)."""

    enabled: bool = False
    cs_led_below: float | None = None
    joint_at_or_above: float | None = None


@dataclass(frozen=True)
class Tier:
    """A readiness part: above `high` earns `high_points`, from `mid` up earns `mid_points`."""

    high: float
    high_points: int
    mid: float
    mid_points: int


@dataclass(frozen=True)
class Readiness:
    """The readiness-to-expand score (0-100) and its parts, from the playbook's composite."""

    health: Tier = Tier(85, 25, 70, 15)
    adoption: Tier = Tier(0.75, 20, 0.60, 12)
    active_users: Tier = Tier(5, 20, 3, 12)
    tenure_months: Tier = Tier(9, 10, 6, 6)
    support_clear: int = 15  # no open support issue
    support_recent: int = 8  # none open, but one resolved in the last `support_recent_days`
    support_recent_days: int = 30
    usage_growing: int = 10
    usage_flat: int = 5
    flat_band: float = 0.02  # growth a cycle within +-2% counts as flat
    work_above: int = 70  # above: work it this quarter
    watch_from: int = 40  # from here up to work_above: watch monthly; below: fix health first


TRIGGER_KINDS = (
    "usage_ceiling",
    "usage_trend",
    "seat_capacity",
    "feature_unlock",
    "renewal_window",
)


@dataclass(frozen=True)
class Triggers:
    """Triggers from product data; defaults from the playbooks (PROTOCOL.md)."""

    enabled: bool = True
    snooze: timedelta = timedelta(days=30)
    ceiling_share: float = 0.70  # a metric at or above this share of its limit...
    ceiling_cycles: int = 2  # ...for this many consecutive billing cycles
    projection_cycles: int = 3  # growth measured over the last three cycles
    ceiling_hot_within: timedelta = timedelta(days=60)  # Hot when the limit is this close
    ceiling_lead: timedelta = timedelta(days=45)  # act this long before the projected day
    trend_growth: float = 0.08  # growth a cycle, every cycle...
    trend_cycles: int = 3  # ...for this many cycles
    seat_margin: float = 0.15  # active users within 15% of the seats bought (or above)
    unlock_attempts: int = 2  # attempts at one gated feature...
    unlock_window: timedelta = timedelta(days=14)  # ...within this span
    renewal_from: timedelta = timedelta(days=60)  # renewal this far away, at least...
    renewal_to: timedelta = timedelta(days=90)  # ...and at most
    risk_health_below: int = 70
    risk_support: tuple[str, ...] = ("P1", "P2")
    urgency: dict[str, str] = field(
        default_factory=lambda: {
            "usage_ceiling": "warm",
            "usage_trend": "watch",
            "seat_capacity": "hot",
            "feature_unlock": "hot",
            "renewal_window": "warm",
        }
    )
    readiness: Readiness = Readiness()
    default_cycle_months: int = 1  # when an account's billing cycle is not known
    max_events: int = 1000  # per ingest request
    max_body: int = 1_000_000  # bytes per ingest request
    max_value_ratio: float = 100.0  # a value above 100x its limit is rejected


DEFAULT_RUBRIC = Rubric(
    criteria=(
        Criterion(
            "budget",
            "Budget conversation",
            "Budget availability or allocation was mentioned, not just interest",
        ),
        Criterion(
            "buyer",
            "Named buyer",
            "A specific person will own the decision, not just an enthusiast",
        ),
        Criterion("timeline", "Timeline", "The customer has a sense of when, not just openness"),
        Criterion("fit", "Product fit", "Maps to a specific SKU or capability"),
    ),
    threshold=3,
)


CRM_PROVIDERS = ("none", "hubspot", "salesforce")
CRM_STAGE_KEYS = ("handed_off", "acknowledged", "contacted", "won", "lost", "deferred", "not_ready")
# A stage key left out of `crm.stages` falls back along this chain (e.g. deferred -> lost).
CRM_STAGE_FALLBACK = {
    "acknowledged": "handed_off", "contacted": "handed_off", "deferred": "lost", "not_ready": "lost"
}
CRM_DEFAULT_STAGES = {
    "hubspot": (("handed_off", "appointmentscheduled"), ("contacted", "qualifiedtobuy"),
                ("won", "closedwon"), ("lost", "closedlost")),
    "salesforce": (("handed_off", "Prospecting"), ("contacted", "Qualification"),
                   ("won", "Closed Won"), ("lost", "Closed Lost")),
}
WEBHOOK_EVENTS = ("handed_off", "acknowledged", "contacted", "reassigned", "escalated", "outcome")


@dataclass(frozen=True)
class Crm:
    """Where handed-off signals are written (docs/crm.md); secrets stay in the environment."""

    provider: str = "none"  # hubspot | salesforce | none
    base_url: str | None = None  # HubSpot API root; Salesforce: the instance URL
    token_env: str | None = None  # HubSpot: the variable holding the private-app token
    pipeline: str = "default"  # HubSpot deal pipeline id
    stages: tuple[tuple[str, str], ...] = ()  # signalbot stage key -> CRM stage; () = defaults
    api_version: str = "62.0"  # Salesforce REST API version
    client_id_env: str | None = None  # Salesforce client-credentials flow
    client_secret_env: str | None = None
    session_timeout: timedelta = timedelta(hours=2)  # Salesforce: token refreshed before this
    timeout: timedelta = timedelta(seconds=10)  # per HTTP request

    @property
    def enabled(self) -> bool:
        """True when a CRM is configured."""
        return self.provider in ("hubspot", "salesforce")

    @property
    def label(self) -> str:
        """The provider's name as people write it."""
        return {"hubspot": "HubSpot", "salesforce": "Salesforce"}.get(self.provider, "CRM")

    def stage(self, key: str) -> str | None:
        """The CRM stage for a signalbot stage key, following the fallbacks."""
        mapping = dict(self.stages or CRM_DEFAULT_STAGES.get(self.provider, ()))
        while key not in mapping and key in CRM_STAGE_FALLBACK:
            key = CRM_STAGE_FALLBACK[key]
        return mapping.get(key)


@dataclass(frozen=True)
class Webhook:
    """A receiver of signed JSON posts about signal events (docs/crm.md)."""

    url: str
    secret_env: str
    events: tuple[str, ...] = WEBHOOK_EVENTS


@dataclass(frozen=True)
class Config:
    """Everything an admin tunes; defaults reproduce the protocol with no file at all."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    sla: dict[str, SlaWindow] = field(
        default_factory=lambda: {
            "hot": SlaWindow(ack=timedelta(hours=4), contact=timedelta(hours=24)),
            "warm": SlaWindow(ack=timedelta(hours=24), contact=timedelta(hours=72)),
            "watch": SlaWindow(review=timedelta(days=7)),
        }
    )
    reminders: tuple[float, ...] = (0.5, 0.9)
    escalation_repeat: timedelta | None = None  # None: one more ack window of the urgency
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    sweep_interval: timedelta = timedelta(seconds=30)
    managers: dict[str, str] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    digest_channel: str | None = None
    digest_weekday: int = 0  # Monday
    digest_time: time = time(9, 0)
    rubric: Rubric = DEFAULT_RUBRIC
    watch_revisit: timedelta = timedelta(days=30)
    outcome_reminder: timedelta = timedelta(days=30)
    routing: Routing = field(default_factory=Routing)
    triggers: Triggers = field(default_factory=Triggers)
    crm: Crm = field(default_factory=Crm)
    webhooks: tuple[Webhook, ...] = ()
    source: str | None = None  # the file it came from, for messages


_DEFAULTS = Config()


class ConfigError(Exception):
    """A problem in the config file: which file, which dotted key, and what is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = " ".join(problem.split())  # always one line
        super().__init__(f"{file}: {key}: {self.problem}")


# --- durations -----------------------------------------------------------------------------

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPOUND = re.compile(r"\d+[smhd](?:\s*\d+[smhd])*")
_PART = re.compile(r"(\d+)([smhd])")
_DURATION_HELP = "write it like 30s, 15m, 4h, 7d or 1h30m"


def parse_duration(text: str | int) -> timedelta:
    """Parse `30s`, `15m`, `4h`, `7d`, compounds like `1h30m`, or plain seconds (`90`).

    Raises ValueError for anything else, and for durations that are not longer than zero.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    elif isinstance(text, str) and re.fullmatch(r"\s*\d+\s*", text):
        seconds = int(text)
    elif isinstance(text, str) and _COMPOUND.fullmatch(text.strip()):
        seconds = _compound_seconds(text)
    else:
        raise ValueError(f"{text!r} is not a duration; {_DURATION_HELP}")
    if seconds <= 0:
        raise ValueError(f"{text!r} is not longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long") from None


def format_duration(delta: timedelta) -> str:
    """Write a duration the way `parse_duration` reads it, e.g. `1d12h` or `30s`."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in sorted(_UNIT_SECONDS.items(), key=lambda item: -item[1]):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _compound_seconds(text: str) -> int:
    parts = _PART.findall(text)
    units = [unit for _, unit in parts]
    if len(set(units)) != len(units):
        raise ValueError(f"{text!r} repeats a unit; {_DURATION_HELP}")
    return sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)


# --- reading the file ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """`yaml.safe_load`, with two fixes for hand-written config.

    Unquoted `9:00` stays the text "9:00" (YAML 1.1 would read it as 540, base 60), and a key
    written twice in one mapping is an error instead of silently keeping the last one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool | date) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> date | datetime:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:  # 2026-13-01 looks like a date but is not one
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_Loader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "+-0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:str", _SEXAGESIMAL)
    )


def _read_yaml(file: str) -> Any:
    try:
        with open(file, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_Loader)  # a SafeLoader subclass: still safe
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(file, "(file)", "is a directory, not a YAML file") from None
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "(file)", "is not UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, "(file)", f"not valid YAML: {exc}") from None


def _yaml_error(file: str, exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}" if mark else "(file)"
    column = f" (column {mark.column + 1})" if mark else ""
    detail = " ".join(part for part in (exc.context, exc.problem) if part)
    return ConfigError(file, where, f"not valid YAML: {detail}{column}")


# --- typed access with precise errors ------------------------------------------------------

_KIND_NAMES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    date: "a date (YYYY-MM-DD)",
}
_NUMBER = (int, float)


def _fail(file: str, key: str, problem: str) -> NoReturn:
    raise ConfigError(file, key, problem)


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_type(file: str, key: str, value: Any, kinds: type | tuple[type, ...]) -> Any:
    """Return `value` if it is one of `kinds` (a bool is not a number here), else fail."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    wrong_bool = isinstance(value, bool) and bool not in kinds
    wrong_datetime = isinstance(value, datetime) and datetime not in kinds
    if wrong_bool or wrong_datetime or not isinstance(value, kinds):
        names = [_KIND_NAMES.get(kind, kind.__name__) for kind in kinds if kind is not int]
        if int in kinds and float not in kinds:
            names.insert(0, _KIND_NAMES[int])
        _fail(file, key, f"expected {' or '.join(names)}, got {_describe(value)}")
    return value


@dataclass(frozen=True)
class _Node:
    """A mapping from the file and where it sits in it, so every error can name its key."""

    file: str
    path: str  # dotted path of this mapping; "" at the top level
    data: Mapping[Any, Any]

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> NoReturn:
        _fail(self.file, self.key(name), problem)

    def get(self, name: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
        """The value under `name` checked against `kinds`; `default` if absent or empty."""
        value = self.data.get(name)
        if value is None:
            return default
        return _check_type(self.file, self.key(name), value, kinds)

    def child(self, name: str, allowed: tuple[str, ...]) -> _Node | None:
        """The mapping under `name`, with its keys checked against `allowed`; None if absent."""
        value = self.data.get(name)
        if value is None:
            return None
        return _node(self.file, self.key(name), value, allowed)

    def duration(self, name: str, default: timedelta | None) -> timedelta | None:
        value = self.data.get(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(name, str(exc))


def _node(file: str, path: str, value: Any, allowed: tuple[str, ...]) -> _Node:
    """Wrap a mapping, rejecting keys outside `allowed` (typos such as `sla.hott`)."""
    _check_type(file, path or "(top level)", value, dict)
    for name in value:
        if name not in allowed:
            _fail(file, f"{path}.{name}" if path else str(name), _unknown_key(str(name), allowed))
    return _Node(file, path, value)


def _unknown_key(name: str, allowed: tuple[str, ...]) -> str:
    guess = get_close_matches(name, allowed, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown key; {hint}known keys here: {', '.join(allowed)}"


def _items(node: _Node, name: str, kinds: type | tuple[type, ...]) -> list[tuple[str, Any]] | None:
    """The list under `name` as (dotted key, checked item) pairs; None if absent."""
    values = node.get(name, list)
    if values is None:
        return None
    keyed = [(f"{node.key(name)}[{i}]", item) for i, item in enumerate(values)]
    return [(key, _check_type(node.file, key, item, kinds)) for key, item in keyed]


# --- sections ------------------------------------------------------------------------------

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_CRITERION_KEY = re.compile(r"[a-z0-9_]+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_SLA_CLOCKS = {"hot": ("ack", "contact"), "warm": ("ack", "contact"), "watch": ("review",)}


def _parse_timezone(top: _Node) -> dict[str, Any]:
    name = top.get("timezone", str)
    if name is None:
        return {}
    try:
        return {"timezone": ZoneInfo(name)}
    except (ZoneInfoNotFoundError, ValueError, OSError):
        top.fail("timezone", f"unknown time zone {name!r}; use an IANA name like Europe/Berlin")


def _parse_sla(top: _Node) -> dict[str, Any]:
    node = top.child("sla", (*_SLA_CLOCKS, "reminders"))
    if node is None:
        return {}
    sla = dict(_DEFAULTS.sla)
    for urgency, clocks in _SLA_CLOCKS.items():
        sub = node.child(urgency, clocks)
        if sub is not None:
            window = sla[urgency]
            changes = {clock: sub.duration(clock, getattr(window, clock)) for clock in clocks}
            sla[urgency] = replace(window, **changes)
            _check_ack_within_contact(sub, sla[urgency])
    result: dict[str, Any] = {"sla": sla}
    reminders = _parse_reminders(node)
    if reminders is not None:
        result["reminders"] = reminders
    return result


def _check_ack_within_contact(node: _Node, window: SlaWindow) -> None:
    if window.ack and window.contact and window.contact < window.ack:
        contact, ack = format_duration(window.contact), format_duration(window.ack)
        node.fail("contact", f"{contact} is shorter than the ack window ({ack})")


def _parse_reminders(node: _Node) -> tuple[float, ...] | None:
    items = _items(node, "reminders", _NUMBER)
    if items is None:
        return None
    previous = 0.0
    for key, fraction in items:
        if not 0 < fraction < 1:
            _fail(node.file, key, f"{fraction} is not a fraction between 0 and 1 (exclusive)")
        if fraction <= previous:
            _fail(node.file, key, "reminder fractions must be in ascending order")
        previous = fraction
    return tuple(float(fraction) for _, fraction in items)


def _parse_escalation(top: _Node) -> dict[str, Any]:
    node = top.child("escalation", ("repeat_after",))
    if node is None:
        return {}
    return {"escalation_repeat": node.duration("repeat_after", _DEFAULTS.escalation_repeat)}


def _parse_business_hours(top: _Node) -> dict[str, Any]:
    node = top.child("business_hours", ("enabled", "days", "start", "end", "holidays"))
    if node is None:
        return {}
    default = _DEFAULTS.business_hours
    start = _clock_setting(node, "start", default.start)
    end = _clock_setting(node, "end", default.end)
    if end <= start:
        node.fail("end", f"the working day ends ({end:%H:%M}) before it starts ({start:%H:%M})")
    hours = BusinessHours(
        enabled=node.get("enabled", bool, default.enabled),
        days=_weekday_list(node, default.days),
        start=start,
        end=end,
        holidays=_holidays(node, default.holidays),
    )
    return {"business_hours": hours}


def _parse_clock(text: str) -> time:
    """`HH:MM` (24-hour) as a time; ValueError otherwise."""
    match = _CLOCK.fullmatch(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{text!r} is not a time of day; write it as "HH:MM", e.g. "09:00"')
    return time(int(match[1]), int(match[2]))


def _clock_setting(node: _Node, name: str, default: time) -> time:
    value = node.get(name, (str, int))
    if value is None:
        return default
    if isinstance(value, int):
        node.fail(name, f'got the number {value}; write the time in quotes, e.g. "09:00"')
    try:
        return _parse_clock(value)
    except ValueError as exc:
        node.fail(name, str(exc))


def _parse_weekday(text: str) -> int:
    """`mon`..`sun` (or the full English name) as 0..6; ValueError otherwise."""
    name = text.strip().lower()
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    if name in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(name)
    raise ValueError(f"{text!r} is not a weekday; use one of {', '.join(_WEEKDAYS)}")


def _weekday_list(node: _Node, default: tuple[int, ...]) -> tuple[int, ...]:
    items = _items(node, "days", str)
    if items is None:
        return default
    if not items:
        node.fail("days", "needs at least one working day")
    days: list[int] = []
    for key, text in items:
        try:
            day = _parse_weekday(text)
        except ValueError as exc:
            _fail(node.file, key, str(exc))
        if day in days:
            _fail(node.file, key, f"{text!r} is listed twice")
        days.append(day)
    return tuple(sorted(days))


def _holidays(node: _Node, default: frozenset[date]) -> frozenset[date]:
    items = _items(node, "holidays", (date, str))
    if items is None:
        return default
    holidays = set()
    for key, value in items:
        try:
            holidays.add(value if isinstance(value, date) else date.fromisoformat(value))
        except ValueError:
            _fail(node.file, key, f"{value!r} is not a date; write it as YYYY-MM-DD")
    return frozenset(holidays)


def _parse_scheduler(top: _Node) -> dict[str, Any]:
    node = top.child("scheduler", ("sweep_interval",))
    if node is None:
        return {}
    return {"sweep_interval": node.duration("sweep_interval", _DEFAULTS.sweep_interval)}


def _check_user_id(file: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        _fail(file, key, f"{_describe(value)} is not a Slack user id (like U0123ABCD)")
    return value


def _parse_roster(top: _Node) -> dict[str, Any]:
    node = top.child("roster", ("managers", "admins"))
    if node is None:
        return {}
    result: dict[str, Any] = {}
    raw_managers = node.get("managers", dict)
    if raw_managers is not None:
        result["managers"] = _managers(node, raw_managers)
    admins = _items(node, "admins", str)
    if admins is not None:
        result["admins"] = tuple(_check_user_id(node.file, key, admin) for key, admin in admins)
    return result


def _managers(node: _Node, raw: Mapping[Any, Any]) -> dict[str, str]:
    managers: dict[str, str] = {}
    for person, manager in raw.items():
        key = node.key(f"managers.{person}")
        _check_user_id(node.file, key, person)
        _check_user_id(node.file, key, manager)
        if person == manager:
            _fail(node.file, key, f"{person} cannot be their own manager")
        managers[person] = manager
    cycle = _find_cycle(managers)
    if cycle:
        loop = " -> ".join(cycle)
        _fail(node.file, node.key(f"managers.{cycle[0]}"), f"managers form a loop: {loop}")
    return managers


def _find_cycle(managers: Mapping[str, str]) -> list[str] | None:
    """A manager chain that comes back to itself (A -> B -> A), or None."""
    for start in managers:
        chain = [start]
        current = managers[start]
        while current in managers:
            if current in chain:
                return [*chain[chain.index(current) :], current]
            chain.append(current)
            current = managers[current]
    return None


def _parse_digest(top: _Node) -> dict[str, Any]:
    node = top.child("digest", ("channel", "schedule"))
    if node is None:
        return {}
    result: dict[str, Any] = {}
    channel = node.get("channel", str)
    if channel is not None:
        if not _CHANNEL_ID.fullmatch(channel):
            node.fail(
                "channel",
                f"{channel!r} is not a channel id like C0123ABCD (see the channel's details)",
            )
        result["digest_channel"] = channel
    schedule = node.get("schedule", str)
    if schedule is not None:
        try:
            result["digest_weekday"], result["digest_time"] = parse_schedule(schedule)
        except ValueError as exc:
            node.fail("schedule", str(exc))
    return result


def parse_schedule(text: str) -> tuple[int, time]:
    """Parse a weekly schedule like `mon 09:00` into (weekday 0=Mon, time of day)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a schedule; write a weekday and a time, e.g. mon 09:00")
    return _parse_weekday(parts[0]), _parse_clock(parts[1])


def _parse_qualification(top: _Node) -> dict[str, Any]:
    node = top.child("qualification", ("threshold", "criteria"))
    if node is None:
        return {}
    criteria = _criteria(node) or _DEFAULTS.rubric.criteria
    threshold = node.get("threshold", int)
    if threshold is None:
        threshold = _DEFAULTS.rubric.threshold
        where = f"the default threshold {threshold}"
    else:
        where = f"threshold {threshold}"
    if threshold < 1:
        node.fail("threshold", "must be at least 1")
    if threshold > len(criteria):
        node.fail("threshold", f"{where} is more than the {len(criteria)} criteria")
    return {"rubric": Rubric(criteria=criteria, threshold=threshold)}


def _criteria(node: _Node) -> tuple[Criterion, ...] | None:
    items = _items(node, "criteria", dict)
    if items is None:
        return None
    if not items:
        node.fail("criteria", "needs at least one criterion")
    criteria: list[Criterion] = []
    for key, raw in items:
        criterion = _criterion(_node(node.file, key, raw, ("key", "label", "hint")))
        if any(seen.key == criterion.key for seen in criteria):
            _fail(node.file, f"{key}.key", f"{criterion.key!r} is used by another criterion")
        criteria.append(criterion)
    return tuple(criteria)


def _criterion(item: _Node) -> Criterion:
    key = item.get("key", str)
    label = item.get("label", str)
    if key is None:
        item.fail("key", "is required")
    if not _CRITERION_KEY.fullmatch(key):
        item.fail("key", f"{key!r} may only use a-z, 0-9 and _")
    if not label or not label.strip():
        item.fail("label", "is required")
    return Criterion(key=key, label=label.strip(), hint=item.get("hint", str, "").strip())


def _parse_watch(top: _Node) -> dict[str, Any]:
    node = top.child("watch", ("revisit",))
    if node is None:
        return {}
    return {"watch_revisit": node.duration("revisit", _DEFAULTS.watch_revisit)}


def _parse_outcome(top: _Node) -> dict[str, Any]:
    node = top.child("outcome", ("reminder_after",))
    if node is None:
        return {}
    return {"outcome_reminder": node.duration("reminder_after", _DEFAULTS.outcome_reminder)}


def _parse_routing(top: _Node) -> dict[str, Any]:
    node = top.child("routing", ("enabled", "cs_led_below", "joint_at_or_above"))
    if node is None:
        return {}
    default = _DEFAULTS.routing
    routing = Routing(
        enabled=node.get("enabled", bool, default.enabled),
        cs_led_below=_amount(node, "cs_led_below", default.cs_led_below),
        joint_at_or_above=_amount(node, "joint_at_or_above", default.joint_at_or_above),
    )
    low, high = routing.cs_led_below, routing.joint_at_or_above
    if low is not None and high is not None and low > high:
        node.fail("cs_led_below", f"{low:g} is above joint_at_or_above ({high:g})")
    if routing.enabled and low is None and high is None:
        node.fail("enabled", "routing is on but neither cs_led_below nor joint_at_or_above is set")
    return {"routing": routing}


def _amount(node: _Node, name: str, default: float | None) -> float | None:
    value = node.get(name, _NUMBER)
    if value is None:
        return default
    if value < 0:
        node.fail(name, "must not be negative")
    return float(value)


_TRIGGER_FIELDS: dict[str, dict[str, tuple[str, str]]] = {  # section -> key -> (field, kind)
    "": {"enabled": ("enabled", "bool"), "snooze": ("snooze", "duration"),
         "default_cycle_months": ("default_cycle_months", "count")},
    "usage_ceiling": {"share": ("ceiling_share", "fraction"), "cycles": ("ceiling_cycles", "count"),
                      "projection_cycles": ("projection_cycles", "count"),
                      "hot_within": ("ceiling_hot_within", "duration"),
                      "lead": ("ceiling_lead", "duration")},
    "usage_trend": {"growth": ("trend_growth", "fraction"), "cycles": ("trend_cycles", "count")},
    "seat_capacity": {"margin": ("seat_margin", "fraction")},
    "feature_unlock": {"attempts": ("unlock_attempts", "count"),
                       "window": ("unlock_window", "duration")},
    "renewal_window": {"from": ("renewal_from", "duration"), "to": ("renewal_to", "duration")},
    "at_risk": {"health_below": ("risk_health_below", "number")},
    "ingest": {"max_events": ("max_events", "count"), "max_body": ("max_body", "count"),
               "max_value_ratio": ("max_value_ratio", "number")},
}
_READINESS_TIERS = ("health", "adoption", "active_users", "tenure_months")
_READINESS_FIELDS = {
    "support": {"clear": "support_clear", "recent": "support_recent",
                "recent_days": "support_recent_days"},
    "usage": {"growing": "usage_growing", "flat": "usage_flat", "flat_band": "flat_band"},
    "bands": {"work_above": "work_above", "watch_from": "watch_from"},
}
_SUPPORT_PRIORITY = re.compile(r"P[0-9]")


def _parse_triggers(top: _Node) -> dict[str, Any]:
    sections = tuple(k for k in _TRIGGER_FIELDS if k) + ("readiness",)
    node = top.child("triggers", (*_TRIGGER_FIELDS[""], *sections))
    if node is None:
        return {}
    default = _DEFAULTS.triggers
    values: dict[str, Any] = {}
    urgency = dict(default.urgency)
    for name, keys in _TRIGGER_FIELDS.items():
        extra = ("urgency",) if name in urgency else ("support",) if name == "at_risk" else ()
        sub = node.child(name, (*keys, *extra)) if name else node
        if sub is None:
            continue
        for key, (attr, kind) in keys.items():
            value = _trigger_value(sub, key, kind, getattr(default, attr))
            values[attr] = value
        if "urgency" in extra:
            urgency[name] = _urgency_setting(sub, urgency[name])
        if name == "at_risk":
            values["risk_support"] = _support_levels(sub, default.risk_support)
    values["urgency"] = urgency
    values["readiness"] = _parse_readiness(node, default.readiness)
    triggers = replace(default, **values)
    if triggers.renewal_from > triggers.renewal_to:
        node.fail("renewal_window.from", "is later than renewal_window.to")
    if triggers.projection_cycles < 2:
        node.fail("usage_ceiling.projection_cycles", "needs at least 2 cycles to measure growth")
    return {"triggers": triggers}


def _trigger_value(node: _Node, key: str, kind: str, default: Any) -> Any:
    if kind == "duration":
        return node.duration(key, default)
    if kind == "bool":
        return node.get(key, bool, default)
    value = node.get(key, int if kind == "count" else _NUMBER)
    if value is None:
        return default
    if kind == "count" and value < 1:
        node.fail(key, "must be at least 1")
    if kind == "fraction" and not 0 < value <= 1:
        node.fail(key, f"{value} is not a fraction between 0 and 1 (e.g. 0.7 for 70%)")
    if value < 0:
        node.fail(key, "must not be negative")
    return value


def _urgency_setting(node: _Node, default: str) -> str:
    value = node.get("urgency", str, default)
    if value not in URGENCIES:
        node.fail("urgency", f"{value!r} is not one of {', '.join(URGENCIES)}")
    return value


def _support_levels(node: _Node, default: tuple[str, ...]) -> tuple[str, ...]:
    items = _items(node, "support", str)
    if items is None:
        return default
    for key, level in items:
        if not _SUPPORT_PRIORITY.fullmatch(level):
            _fail(node.file, key, f"{level!r} is not a support priority like P1")
    return tuple(level for _, level in items)


def _parse_readiness(node: _Node, default: Readiness) -> Readiness:
    sub = node.child("readiness", (*_READINESS_TIERS, *_READINESS_FIELDS))
    if sub is None:
        return default
    values: dict[str, Any] = {}
    for name in _READINESS_TIERS:
        tier = sub.child(name, ("high", "high_points", "mid", "mid_points"))
        if tier is not None:
            values[name] = _tier(tier, getattr(default, name))
    for name, keys in _READINESS_FIELDS.items():
        part = sub.child(name, tuple(keys))
        if part is None:
            continue
        for key, attr in keys.items():
            kinds = _NUMBER if attr == "flat_band" else int
            value = part.get(key, kinds, getattr(default, attr))
            if value < 0:
                part.fail(key, "must not be negative")
            values[attr] = value
    readiness = replace(default, **values)
    if readiness.watch_from > readiness.work_above:
        sub.fail("bands.watch_from", f"{readiness.watch_from} is above bands.work_above")
    return readiness


def _tier(node: _Node, default: Tier) -> Tier:
    high = node.get("high", _NUMBER, default.high)
    mid = node.get("mid", _NUMBER, default.mid)
    if mid > high:
        node.fail("mid", f"{mid} is above high ({high})")
    points = {k: node.get(k, int, getattr(default, k)) for k in ("high_points", "mid_points")}
    for key, value in points.items():
        if value < 0:
            node.fail(key, "must not be negative")
    return Tier(high=high, mid=mid, **points)


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CRM_KEYS = ("provider", "base_url", "instance_url", "token_env", "pipeline", "stages",
             "api_version", "client_id_env", "client_secret_env", "session_timeout", "timeout")


def _parse_crm(top: _Node) -> dict[str, Any]:
    node = top.child("crm", _CRM_KEYS)
    if node is None:
        return {}
    provider = node.get("provider", str, "none")
    if provider not in CRM_PROVIDERS:
        node.fail("provider", f"{provider!r} is not one of {', '.join(CRM_PROVIDERS)}")
    sf = provider == "salesforce"
    if node.get("base_url", str) and node.get("instance_url", str):
        node.fail("instance_url", "give base_url or instance_url, not both")
    url_key = "instance_url" if node.get("instance_url", str) or sf else "base_url"
    base_url = _http_url(node, url_key, None if sf else "https://api.hubapi.com")
    if sf and base_url is None:
        node.fail("instance_url", "is required for Salesforce (e.g. https://acme.my.salesforce.com)")
    version = str(node.get("api_version", (str, float), "62.0"))
    if not re.fullmatch(r"\d{2,3}\.\d", version):
        node.fail("api_version", f"{version!r} is not an API version like 62.0")
    crm = Crm(
        provider=provider, base_url=base_url, api_version=version,
        token_env=_env_name(node, "token_env", None if sf else "HUBSPOT_TOKEN"),
        pipeline=str(node.get("pipeline", (str, int), "default")),
        stages=_crm_stages(node),
        client_id_env=_env_name(node, "client_id_env", "SALESFORCE_CLIENT_ID" if sf else None),
        client_secret_env=_env_name(
            node, "client_secret_env", "SALESFORCE_CLIENT_SECRET" if sf else None),
        session_timeout=node.duration("session_timeout", timedelta(hours=2)),
        timeout=node.duration("timeout", timedelta(seconds=10)),
    )
    return {"crm": crm}


def _http_url(node: _Node, name: str, default: str | None) -> str | None:
    url = node.get(name, str, default)
    if url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        node.fail(name, f"{url!r} is not an http(s) URL")
    return url.rstrip("/") if url else url


def _env_name(node: _Node, name: str, default: str | None) -> str | None:
    value = node.get(name, str, default)
    if value is not None and not _ENV_NAME.fullmatch(value):
        node.fail(name, f"{value!r} is not an environment variable name (the secret itself "
                        "stays in the environment, never in this file)")
    return value


def _crm_stages(node: _Node) -> tuple[tuple[str, str], ...]:
    sub = node.child("stages", CRM_STAGE_KEYS)
    if sub is None:
        return ()
    stages = tuple((key, str(sub.get(key, (str, int)))) for key in CRM_STAGE_KEYS
                   if sub.get(key, (str, int)) is not None)
    for required in ("handed_off", "won", "lost"):
        if required not in dict(stages):
            sub.fail(required, "is required when stages are given")
    return stages


def _parse_webhooks(top: _Node) -> dict[str, Any]:
    items = _items(top, "webhooks", dict)
    if items is None:
        return {}
    hooks = []
    for key, raw in items:
        item = _node(top.file, key, raw, ("url", "secret_env", "events"))
        if item.get("url", str) is None:
            item.fail("url", "is required")
        if item.get("secret_env", str) is None:
            item.fail("secret_env", "is required: the variable holding the signing secret")
        events = _items(item, "events", str)
        for event_key, event in events or ():
            if event not in WEBHOOK_EVENTS:
                _fail(top.file, event_key, f"{event!r} is not one of {', '.join(WEBHOOK_EVENTS)}")
        hooks.append(Webhook(
            url=_http_url(item, "url", None), secret_env=_env_name(item, "secret_env", None),
            events=tuple(e for _, e in events) if events else WEBHOOK_EVENTS))
    return {"webhooks": tuple(hooks)}


_SECTIONS = {
    "timezone": _parse_timezone,
    "sla": _parse_sla,
    "escalation": _parse_escalation,
    "business_hours": _parse_business_hours,
    "scheduler": _parse_scheduler,
    "roster": _parse_roster,
    "digest": _parse_digest,
    "qualification": _parse_qualification,
    "watch": _parse_watch,
    "outcome": _parse_outcome,
    "routing": _parse_routing,
    "triggers": _parse_triggers,
    "crm": _parse_crm,
    "webhooks": _parse_webhooks,
}


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load the admin's YAML file; `None` gives the defaults.

    Keys left out keep their defaults. Anything wrong raises ConfigError naming the file, the
    dotted key and the problem.
    """
    if path is None:
        return Config()
    file = os.fsdecode(path)
    data = _read_yaml(file)
    top = _node(file, "", {} if data is None else data, tuple(_SECTIONS))
    values: dict[str, Any] = {"source": file}
    for parse in _SECTIONS.values():
        values.update(parse(top))
    return Config(**values)
