"""Which SLA policy a hand-off runs under, and the policy a running clock keeps.

The policies are the config's (`Config.policies`: the admin's `sla.policies` in order, the
built-in default last); the first whose `match` holds wins (`protocol.sla.choose_policy`). A
clock stores the policy it started under (`Deadline.policy`), so a config change or a restart
never moves a running clock: only clocks started afterwards follow the new policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.config import Config
from protocol.policy import HandOff, SlaPolicy
from protocol.sla import choose_policy
from service.calendars import resolved
from storage.models import Signal


def team_of(config: Config, user_id: str | None) -> str | None:
    """The name of the team `user_id` is a member of (`teams:`), or None."""
    return config.team_of_member.get(user_id or "")


def hand_off_of(config: Config, signal: Signal, ae_id: str | None) -> HandOff:
    """What the policies match on: urgency, the AE's team, estimated ARR, plan and segment."""
    account = signal.account
    return HandOff(
        urgency=signal.urgency,
        team=team_of(config, ae_id),
        arr=None if signal.est_arr is None else float(signal.est_arr),
        plan=account.plan if account is not None else None,
        segment=account.segment if account is not None else None,
    )


def policy_for(config: Config, hand_off: HandOff) -> SlaPolicy:
    """The first of the config's policies that takes `hand_off`."""
    return choose_policy(config.policies, hand_off)


def matched_detail(policy: SlaPolicy, hand_off: HandOff) -> dict[str, Any]:
    """The `sla_policy` event's detail: the policy and what it was matched on."""
    return {
        "policy": policy.name,
        "team": hand_off.team,
        "urgency": hand_off.urgency,
        "arr": hand_off.arr,
        "plan": hand_off.plan,
        "segment": hand_off.segment,
    }


def clock_policy(config: Config, snapshot: Mapping[str, Any] | None) -> SlaPolicy:
    """The policy a clock started under (`Deadline.policy`, its snapshot), else the config's
    default: clocks started before policies existed have no snapshot."""
    if snapshot is None:
        return config.sla_policy
    policy = SlaPolicy.from_snapshot(snapshot)
    return policy.with_hours(resolved(config, policy.business_hours))
