"""subteam_members_changed, called directly: the delta applies to a configured group only."""

from __future__ import annotations

import dataclasses

from handlers.groups import group_members_changed
from tests.people import ADMIN, AE2

GROUP = "S0ADMINS1"


def test_group_members_changed_directly(sqlite_services):
    services = sqlite_services
    services.config = dataclasses.replace(services.config, admins_group=GROUP)
    event = {"type": "subteam_members_changed", "subteam_id": GROUP, "added_users": [AE2],
             "removed_users": [], "added_users_count": "1", "removed_users_count": "0"}
    group_members_changed(event, services)
    assert services.config.admins == (ADMIN, AE2)
    group_members_changed({**event, "subteam_id": "S0OTHER01"}, services)  # not ours
    group_members_changed({**event, "added_users": [], "removed_users": [AE2]}, services)
    assert services.config.admins == (ADMIN,)
