"""The admin's YAML file: SLAs, roster, digest, qualification rubric, routing.

The package splits into the settings (`model`, `integrations`), reading the file (`times`,
`yaml_source`), one parser per section (`sections_*`) and `load_config` (`load`).
"""

from bot.config.integrations import (
    CRM_DEFAULT_STAGES,
    CRM_PROVIDERS,
    CRM_STAGE_FALLBACK,
    CRM_STAGE_KEYS,
    TRIGGER_KINDS,
    WEBHOOK_EVENTS,
    Crm,
    Readiness,
    Tier,
    Triggers,
    Webhook,
)
from bot.config.load import load_config
from bot.config.model import (
    DEFAULT_RUBRIC,
    URGENCIES,
    Config,
    Criterion,
    Routing,
    Rubric,
    SlaWindow,
)
from bot.config.times import format_duration, parse_duration, parse_schedule
from bot.config.yaml_source import ConfigError

__all__ = [
    "CRM_DEFAULT_STAGES",
    "CRM_PROVIDERS",
    "CRM_STAGE_FALLBACK",
    "CRM_STAGE_KEYS",
    "DEFAULT_RUBRIC",
    "TRIGGER_KINDS",
    "URGENCIES",
    "WEBHOOK_EVENTS",
    "Config",
    "ConfigError",
    "Criterion",
    "Crm",
    "Readiness",
    "Routing",
    "Rubric",
    "SlaWindow",
    "Tier",
    "Triggers",
    "Webhook",
    "format_duration",
    "load_config",
    "parse_duration",
    "parse_schedule",
]
