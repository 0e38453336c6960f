"""Heartbeats: what the worker reports and every web process reads for /readyz.

Web and worker are different processes (often different hosts), so the state lives in the
database. Two names are used: `WORKER` (the sweep and delivery process is alive) and
`SLACK_TOKEN` (did Slack accept the bot token when last asked). Whatever learns that Slack
refused the token (an `invalid_auth`, `token_revoked` ... answer to any call) records it with
`record(session, SLACK_TOKEN, now, ok=False, detail=error)`; /readyz then fails until a
later `ok=True` (the worker asks `auth.test` every TOKEN_CHECK_EVERY).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import insert_for
from storage.models import Heartbeat

WORKER = "worker"
SLACK_TOKEN = "slack_token"
WORKER_EVERY = timedelta(seconds=10)
TOKEN_CHECK_EVERY = timedelta(minutes=1)
WORKER_STALE = timedelta(seconds=60)  # no heartbeat for this long: the worker is not alive
TOKEN_STALE = timedelta(minutes=5)  # "Slack accepted the token in the last few minutes"


def record(session: Session, name: str, now: datetime, *, ok: bool = True,
           detail: str | None = None) -> None:
    """Write `name`'s latest state (one row per name, replaced)."""
    values = {"name": name, "at": now, "ok": ok, "detail": (detail or None) and detail[:200]}
    statement = insert_for(session, Heartbeat.__table__).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}))


def latest(session: Session) -> dict[str, Heartbeat]:
    """Every heartbeat by name."""
    return {row.name: row for row in session.scalars(select(Heartbeat))}


def readiness(beats: dict[str, Heartbeat], now: datetime) -> dict[str, str]:
    """'ok' or what is wrong, for the worker and for the Slack token."""
    worker, token = beats.get(WORKER), beats.get(SLACK_TOKEN)
    checks = {"worker": "ok", "slack_token": "ok"}
    if worker is None:
        checks["worker"] = "no worker has reported yet"
    elif now - worker.at > WORKER_STALE:
        checks["worker"] = f"last seen {int((now - worker.at).total_seconds())}s ago"
    if token is None:
        checks["slack_token"] = "not checked yet"
    elif not token.ok:
        checks["slack_token"] = f"refused by Slack: {token.detail or 'unknown error'}"
    elif now - token.at > TOKEN_STALE:
        checks["slack_token"] = f"last accepted {int((now - token.at).total_seconds())}s ago"
    return checks
