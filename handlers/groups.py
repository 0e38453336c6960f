"""`subteam_members_changed`: someone joined or left a Slack user group the config names.

The event carries only the change (Events API reference: `subteam_id`, `added_users`,
`removed_users`, `date_update`); it is applied to the group's last known members at once
and the scheduled read (`bot.groups`) keeps them in step with Slack. A redelivered event
changes nothing twice (adding a member who is in already is no change).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from service.groups import members_changed
from service.runtime import Runtime


def register(app: App) -> None:
    """Listen for `subteam_members_changed`."""
    app.event("subteam_members_changed")(group_members_changed)


def group_members_changed(event: dict[str, Any], services: Runtime) -> None:
    """Apply the event's delta to the group's members, in one unit of work (before the ack)."""
    group_id = str(event.get("subteam_id") or "")
    added = [u for u in event.get("added_users") or [] if isinstance(u, str)]
    removed = [u for u in event.get("removed_users") or [] if isinstance(u, str)]
    with services.unit_of_work() as session:
        changed = members_changed(session, services.config, group_id, added, removed,
                                  services.now())
    if changed:
        services.groups_changed()
