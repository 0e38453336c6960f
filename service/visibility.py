"""Who may see what beyond their own signals (the `visibility` config section).

- The roster and the admins (`/signal admin show`): the admins only.
- The digest preview (`/signal digest`): `team` (anyone in the workspace: the digest is posted
  to a team channel anyway, the default), `managers` (anyone who manages someone on the roster,
  and the admins) or `admins`.
- The account registry in the type-ahead and pre-filled forms: `team` (anyone who may log a
  signal, which anyone may, the default) or `owners` (the accounts whose CSM or AE they are;
  the admins see all).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from protocol.config import Config
from storage.models import Account
from storage.queries import managers


def may_see_roster(config: Config, actor: str) -> bool:
    """The roster names who manages whom and who the admins are: admins only."""
    return actor in config.admins


def may_see_digest(session: Session, config: Config, actor: str) -> bool:
    """Whether `actor` may preview the team digest (per-AE SLA, escalations, ARR)."""
    if config.digest_visibility == "team" or actor in config.admins:
        return True
    if config.digest_visibility == "managers":
        return actor in set(managers(session, config.managers).values())
    return False


def account_owner_filter(config: Config, actor: str) -> str | None:
    """The owner the registry is narrowed to for `actor` (None: they may see every account)."""
    if config.account_visibility == "owners" and actor not in config.admins:
        return actor
    return None


def may_see_account(config: Config, account: Account, actor: str) -> bool:
    """Whether `actor` may see this registry account (its name, CRM id and AE)."""
    owner = account_owner_filter(config, actor)
    return owner is None or owner in (account.csm_id, account.ae_id)
