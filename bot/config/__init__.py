"""The admin's YAML file: SLAs, roster, digest, qualification rubric, routing.

The settings themselves are plain data in `protocol.config` (`Config`, the CRM, webhooks) and
`protocol.policy` (the rules' types); this package only reads the file (`times`, `yaml_source`),
one parser per section (`sections_*`) and `load_config` (`load`). It re-exports those types for
the wiring in `bot/`; the layers below import them from `protocol` directly.
"""

from bot.config.load import load_config
from bot.config.times import format_duration, parse_duration, parse_schedule
from bot.config.yaml_source import ConfigError
from protocol.catalogue import URGENCIES
from protocol.config import (
    CRM_DEFAULT_STAGES,
    CRM_PROVIDERS,
    CRM_STAGE_FALLBACK,
    CRM_STAGE_KEYS,
    SYNCED_EVENTS,
    Config,
    Crm,
    Webhook,
)
from protocol.policy import (
    DEFAULT_RUBRIC,
    TRIGGER_KINDS,
    Criterion,
    Readiness,
    Routing,
    Rubric,
    SlaWindow,
    Team,
    Tier,
    Triggers,
)

__all__ = [
    "CRM_DEFAULT_STAGES",
    "CRM_PROVIDERS",
    "CRM_STAGE_FALLBACK",
    "CRM_STAGE_KEYS",
    "DEFAULT_RUBRIC",
    "TRIGGER_KINDS",
    "URGENCIES",
    "SYNCED_EVENTS",
    "Config",
    "ConfigError",
    "Criterion",
    "Crm",
    "Readiness",
    "Routing",
    "Rubric",
    "SlaWindow",
    "Team",
    "Tier",
    "Triggers",
    "Webhook",
    "format_duration",
    "load_config",
    "parse_duration",
    "parse_schedule",
]
