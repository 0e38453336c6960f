"""Logging a signal never changes who owns the account: the registry does (import, CRM, admin).
Anyone may log on any account; the owner CSM is told and the history says so."""

from __future__ import annotations

import io

from sqlalchemy import select

from service.accounts import import_csv
from storage.models import Account, SignalEvent
from tests.conftest import AE, AE2, CSM

STRANGER = "U0STRANGE1"


def registry(services, text: str) -> None:
    with services.unit_of_work() as session:
        import_csv(session, io.StringIO(text), services.now())


def account(services, name: str) -> Account:
    with services.unit_of_work() as session:
        found = session.scalar(select(Account).where(Account.name == name))
        session.expunge(found)
        return found


def prefilled_ae(slack, user: str, text: str) -> str | None:
    view = slack.open_signal_modal(user, text)
    [block] = [b for b in view["blocks"] if b.get("block_id") == "ae"]
    return block["element"].get("initial_user")


def test_a_stranger_logging_a_signal_does_not_take_over_the_account(slack):
    slack.standin.add_user(STRANGER, name="Sam Stranger")
    registry(slack.services, "crm_id,name,csm,ae\ncrm-1,Globex Corp,U0CSM0001,U0AE00001\n")
    response = slack.log_signal(STRANGER, ae=AE2)
    assert response.status_code == 200 and "errors" not in response.text
    globex = account(slack.services, "Globex Corp")
    assert (globex.csm_id, globex.ae_id) == (CSM, AE)  # the registry's owners stay
    slack.deliver()
    [told] = [m for m in slack.standin.dm_messages(CSM) if STRANGER in m.get("text", "")]
    assert "Globex Corp" in told["text"] and "owners are unchanged" in told["text"]
    with slack.services.unit_of_work() as session:
        logged = session.scalar(select(SignalEvent).where(SignalEvent.kind == "logged"))
        assert logged.detail["account_csm"] == CSM
    assert prefilled_ae(slack, CSM, "Globex Corp") == AE  # not the stranger's pick


def test_the_last_ae_fills_the_form_without_owning_the_account(slack):
    slack.log_signal(CSM, account="Initech", ae=AE2)
    initech = account(slack.services, "Initech")
    assert (initech.csm_id, initech.ae_id) == (None, None)
    assert prefilled_ae(slack, CSM, "Initech") == AE2
