"""`load_config`: the whole file, section by section, into one `Config`."""

from __future__ import annotations

import os
from typing import Any

from bot.config.sections_credit import _parse_credit
from bot.config.sections_crm import _parse_crm, _parse_webhooks
from bot.config.sections_policies import _parse_policies
from bot.config.sections_team import (
    _parse_digest,
    _parse_qualification,
    _parse_roster,
    _parse_routing,
    _parse_teams,
    _parse_visibility,
)
from bot.config.sections_time import (
    _parse_business_hours,
    _parse_escalation,
    _parse_extension,
    _parse_outcome,
    _parse_scheduler,
    _parse_sla,
    _parse_timezone,
    _parse_watch,
)
from bot.config.sections_triggers import _parse_triggers
from bot.config.yaml_source import _node, _read_yaml
from protocol.config import Config

_SECTIONS = {
    "timezone": _parse_timezone,
    "sla": _parse_sla,
    "escalation": _parse_escalation,
    "business_hours": _parse_business_hours,
    "scheduler": _parse_scheduler,
    "roster": _parse_roster,
    "teams": _parse_teams,
    "digest": _parse_digest,
    "qualification": _parse_qualification,
    "watch": _parse_watch,
    "outcome": _parse_outcome,
    "extension": _parse_extension,
    "routing": _parse_routing,
    "triggers": _parse_triggers,
    "crm": _parse_crm,
    "webhooks": _parse_webhooks,
    "visibility": _parse_visibility,
    "credit": _parse_credit,
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
    values.update(_parse_policies(top, values))  # after the rest: policies inherit from it
    return Config(**values)
