"""The signal's append-only event log: who did what, when, from which stage to which."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.models import Signal, SignalEvent


def record_event(
    session: Session,
    signal: Signal,
    kind: str,
    actor: str | None,
    now: datetime,
    from_stage: str | None,
    to_stage: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append to the signal's event log; every change bumps its version (cards re-render)."""
    signal.version += 1
    signal.updated_at = now
    session.add(
        SignalEvent(
            signal_id=signal.id,
            at=now,
            actor_id=actor,
            kind=kind,
            from_stage=from_stage,
            to_stage=to_stage,
            detail=detail,
        )
    )


def move(
    session: Session,
    signal: Signal,
    kind: str,
    actor: str | None,
    now: datetime,
    to_stage: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Change the signal's stage and log who did it."""
    previous = signal.stage
    signal.stage = to_stage
    record_event(session, signal, kind, actor, now, previous, to_stage, detail)
