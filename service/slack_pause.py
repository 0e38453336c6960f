"""Slack refused the bot's own token or workspace: pause Slack delivery, check back, resume.

These errors say nothing about the person a message was for (Slack's method docs:
`account_inactive` is "Authentication token is for a deleted user or workspace when using a
bot token"; `invalid_auth`, `not_authed`, `token_revoked`, `token_expired`, `missing_scope`,
`team_access_not_granted` are about the token). So nobody is marked deactivated or routed
around; rows stay pending, and every process (web for /readyz, workers for delivery) reads
the one `slack_pause` row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.runtime import Runtime
from storage.db import insert_for
from storage.models import SlackPause
from storage.outbox import Outgoing

TOKEN_ERRORS = frozenset({
    "account_inactive", "invalid_auth", "not_authed", "token_revoked", "token_expired",
    "missing_scope", "team_access_not_granted",
})
FIRST_CHECK, LONGEST_CHECK = timedelta(seconds=15), timedelta(minutes=5)
PAUSE_ID = 1


def current(session: Session) -> SlackPause | None:
    """The pause in force, or None."""
    return session.get(SlackPause, PAUSE_ID)


# Built once: the worker asks before every claim (a few times a second).
_PAUSED = select(SlackPause.id).where(SlackPause.id == PAUSE_ID)


def is_paused(session: Session) -> bool:
    """True while a pause is in force (one primary-key read, no object loaded)."""
    return session.scalar(_PAUSED) is not None


def slack_paused(services: Runtime) -> str | None:
    """Why Slack delivery is paused (for /readyz), or None when it is not."""
    with services.unit_of_work() as session:
        pause = current(session)
        return describe(pause.error, pause.detail) if pause else None


def describe(error: str, needed: str | None) -> str:
    """What the admin should do about `error` (with the scope, for `missing_scope`)."""
    if error == "missing_scope":
        scope = needed or "the scope Slack names"
        return (f"Slack answered `missing_scope`: the token lacks {scope}. Add `- {scope}` under "
                "oauth_config.scopes.bot in manifest.yml, update the app's manifest and "
                "reinstall it to the workspace.")
    if error in ("account_inactive", "team_access_not_granted"):
        return (f"Slack answered `{error}`: the bot's token belongs to a deleted or "
                "deactivated user or workspace, or the app was removed. Reinstall the app.")
    return (f"Slack refused the bot's token (`{error}`). Put a valid SLACK_BOT_TOKEN from "
            "the app's 'OAuth & Permissions' page in place.")


def pause(session: Session, error: str, needed: str | None, now: datetime) -> bool:
    """Start a pause (True), or leave the one in force as it is (False)."""
    statement = insert_for(session, SlackPause.__table__).on_conflict_do_nothing(
        index_elements=["id"])
    result = session.execute(statement, [{
        "id": PAUSE_ID, "error": error, "detail": needed, "since": now,
        "next_check_at": now + FIRST_CHECK, "checks": 0}])
    return bool(result.rowcount)  # several processes may see the error at once: one starts it


def check_failed(session: Session, now: datetime) -> None:
    """auth.test still fails: check again later, backing off to every five minutes."""
    pause_row = current(session)
    if pause_row is not None:
        pause_row.checks += 1
        wait = min(LONGEST_CHECK, FIRST_CHECK * 2 ** min(pause_row.checks, 6))
        pause_row.next_check_at = now + wait


def resume(session: Session, admins: tuple[str, ...], now: datetime) -> list[Outgoing]:
    """End the pause; one DM per admin saying what happened and for how long."""
    pause_row = current(session)
    if pause_row is None:
        return []
    if not session.execute(delete(SlackPause).where(SlackPause.id == PAUSE_ID)).rowcount:
        return []  # another process resumed it
    minutes = max(1, round((now - pause_row.since).total_seconds() / 60))
    text = (f":information_source: Slack delivery was paused for about {minutes} min "
            f"(from {pause_row.since:%Y-%m-%d %H:%M} UTC) and has resumed; nothing was lost. "
            f"{describe(pause_row.error, pause_row.detail)}")
    stamp = pause_row.since.strftime("%Y%m%d%H%M%S")
    return [Outgoing(key=f"slack-pause:{stamp}:{admin}", kind="slack.post", target=admin,
                     payload={"text": text}) for admin in admins]


def due_check(session: Session, now: datetime) -> bool:
    """True when a pause is in force and its next auth.test check is due."""
    return session.scalar(select(SlackPause.id).where(SlackPause.next_check_at <= now)) is not None
