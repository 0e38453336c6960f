"""Read the Slack user groups the config names (`usergroups.users.list`), on their schedule.

The worker calls `refresh_groups` with each sweep; only groups due (`roster.group_refresh`)
are read. Slack is asked outside any transaction; what it said is stored in one unit of work
per group (`service.groups`).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from protocol.groups import configured_groups
from service.groups import groups_due, read_failed, read_succeeded
from storage.outbox import enqueue

log = logging.getLogger(__name__)


def refresh_groups(services: Services, client: WebClient) -> int:
    """Read every configured group that is due; returns how many changed."""
    if not configured_groups(services.file_config):
        return 0  # no group named: nothing to ask Slack, no statement
    now = services.now()
    with services.unit_of_work() as session:
        due = groups_due(session, services.config, now)
    changed = 0
    for group_id in due:
        users, error = _read(client, group_id)
        config = services.config  # the admins as last known, for a failure notice
        with services.unit_of_work() as session:
            if error is None:
                changed += read_succeeded(session, config, group_id, users, now)
            else:
                enqueue(session, read_failed(session, config, group_id, error, now), now)
        services.groups_changed()
    if due:
        services.wake()
    return changed


def _read(client: WebClient, group_id: str) -> tuple[list[str], str | None]:
    """The group's members, or the error that kept Slack from listing them."""
    try:
        answer = client.usergroups_users_list(usergroup=group_id)
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = data.get("error") or f"HTTP {exc.response.status_code}"
        if data.get("needed"):
            error += f" (needs {data['needed']})"
        log.warning("user group %s could not be read: %s", group_id, error)
        return [], error
    except Exception as exc:  # noqa: BLE001 - Slack unreachable: keep what we know
        log.warning("user group %s could not be read: %s", group_id, type(exc).__name__)
        return [], type(exc).__name__
    return [u for u in answer.get("users") or [] if isinstance(u, str)], None
