"""The `signalbot` command. Each `*_cli` module adds its subcommands with `register(subparsers)`;
`CLI_MODULES` lists them, and each subcommand names its function with `set_defaults(handler=…)`.
"""

from __future__ import annotations

import argparse
import sys

from bot import (
    accounts_cli,
    admin_cli,
    crm_cli,
    outbox_cli,
    quarterly_cli,
    reports_cli,
    serve_cli,
)
from bot.app import TokenRejected
from bot.config import ConfigError, load_config
from bot.logs import setup as setup_logging
from bot.serve_cli import SchemaOutOfDate
from bot.services import Services
from bot.settings import Settings, SettingsError

CLI_MODULES = (serve_cli, outbox_cli, crm_cli, accounts_cli, reports_cli, admin_cli, quarterly_cli)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"signalbot: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.verbose, fmt=settings.runtime.log_format)
    try:
        config = load_config(args.config or settings.config_path)
        services = Services.build(settings, config)
        return args.handler(args, services)
    except (SettingsError, ConfigError, SchemaOutOfDate, TokenRejected) as exc:
        print(f"signalbot: {exc}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    """Every subcommand of every module in `CLI_MODULES`."""
    top = argparse.ArgumentParser(prog="signalbot", description="Expansion hand-offs in Slack.")
    top.add_argument("--config", help="YAML config file (default: $SIGNALBOT_CONFIG)")
    top.add_argument("-v", "--verbose", action="store_true")
    sub = top.add_subparsers(dest="command", required=True)
    for module in CLI_MODULES:
        module.register(sub)
    return top


if __name__ == "__main__":
    sys.exit(main())
