"""The people and the roster every test shares: Slack ids, and the config that names them."""

from __future__ import annotations

from protocol.config import Config

CSM, AE, AE2, MGR, VP, ADMIN = (
    "U0CSM0001",
    "U0AE00001",
    "U0AE00002",
    "U0MGR0001",
    "U0VP00001",
    "U0REVOPS1",
)
SECRET = "test-signing-secret"  # the Slack signing secret of the test app


def roster_config(**overrides) -> Config:
    """The default protocol with a small roster and admins."""
    values = {
        "managers": {AE: MGR, AE2: MGR, MGR: VP},
        "admins": (ADMIN,),
        "digest_channel": "C0DIGEST01",
    }
    values.update(overrides)
    return Config(**values)
