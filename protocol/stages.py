"""The stages a signal moves through and which moves are allowed from where."""

from __future__ import annotations

SIGNAL = "signal"
QUALIFYING = "qualifying"
HANDED_OFF = "handed_off"
ACKNOWLEDGED = "acknowledged"
CONTACTED = "contacted"
OUTCOMES = ("won", "lost", "deferred", "not_ready")
STAGES = (SIGNAL, QUALIFYING, HANDED_OFF, ACKNOWLEDGED, CONTACTED, *OUTCOMES)
OPEN_STAGES = (SIGNAL, QUALIFYING, HANDED_OFF, ACKNOWLEDGED, CONTACTED)
WITH_AE = (HANDED_OFF, ACKNOWLEDGED, CONTACTED)

STAGE_LABELS = {
    SIGNAL: "Logged",
    QUALIFYING: "Watch item (qualifying)",
    HANDED_OFF: "Handed off, awaiting acknowledgement",
    ACKNOWLEDGED: "Acknowledged",
    CONTACTED: "Customer contacted",
    "won": "Won",
    "lost": "Lost",
    "deferred": "Deferred",
    "not_ready": "Customer not ready",
}
OUTCOME_LABELS = {
    "won": "Won",
    "lost": "Lost",
    "deferred": "Deferred",
    "not_ready": "Customer not ready",
}

# action -> stages it may be taken from
ALLOWED_FROM = {
    "hand_off": (SIGNAL, QUALIFYING),
    "acknowledge": (HANDED_OFF,),
    "contact": (HANDED_OFF, ACKNOWLEDGED),
    "reassign": (HANDED_OFF, ACKNOWLEDGED, CONTACTED),
    "outcome": (HANDED_OFF, ACKNOWLEDGED, CONTACTED),
    "requalify": (SIGNAL, QUALIFYING),
}


class StageError(Exception):
    """A move that does not apply to the signal as it stands now (e.g. a stale button)."""


def check_move(action: str, stage: str) -> None:
    """Raise StageError with a polite reason when `action` cannot be taken at `stage`."""
    if stage in ALLOWED_FROM[action]:
        return
    label = STAGE_LABELS.get(stage, stage)
    if stage in OUTCOMES:
        raise StageError(f"This signal is already closed ({label}).")
    if action == "acknowledge" and stage in (ACKNOWLEDGED, CONTACTED):
        raise StageError(f"This signal was already acknowledged (now: {label}).")
    if action == "contact" and stage == CONTACTED:
        raise StageError("Customer contact was already logged for this signal.")
    if stage in (SIGNAL, QUALIFYING):
        raise StageError("This signal has not been handed off yet: it is still with the CSM.")
    raise StageError(f"That no longer applies: this signal is now {label}.")


def allowed_actions(stage: str) -> tuple[str, ...]:
    """The moves that may be taken at `stage` (what a card offers, what `check_move` lets by)."""
    return tuple(action for action, allowed in ALLOWED_FROM.items() if stage in allowed)


def is_open(stage: str) -> bool:
    """True until an outcome is recorded."""
    return stage in OPEN_STAGES
