"""Salesforce: opportunities upserted by the external id `Signalbot_Signal_Id__c`.

OAuth 2.0 client-credentials flow (POST /services/oauth2/token on the instance's My Domain);
the response carries no lifetime, so the token is renewed `session_timeout` (the org's
session setting, 2 hours by default) after it was issued, less a margin, and once more when
the API answers 401 INVALID_SESSION_ID. Endpoints: PATCH /services/data/vXX.X/sobjects/
Opportunity/Signalbot_Signal_Id__c/<id> (upsert), GET .../query?q=SOQL (users by e-mail,
accounts by name), GET .../sobjects/Account/<id>, GET .../sobjects/Opportunity/describe.
Reading back: SOQL on Opportunity with the external id set and LastModifiedDate at or after
the high-water mark, oldest first; further pages through the answer's `nextRecordsUrl`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from protocol.config import CRM_STAGE_KEYS, Crm
from service.crm import http
from service.crm.base import DealChange, Inspection, Page, Written, parse_amount
from service.crm.http import Permanent, Transient
from service.crm.mapping import CUSTOM, EXTERNAL_ID, FIELDS, DealFields, Field, clip

_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_LENGTHS = {"id": 64, "text": 255, "url": 255, "longtext": 32768}
_SETUP_TYPES = {"id": "Text(64), External ID, Unique (case-insensitive)", "text": "Text(255)",
                "url": "URL(255)", "longtext": "Long Text Area(32768)"}


def soql_string(value: str) -> str:
    """A quoted SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Salesforce:
    """A Salesforce client for one org; one per process (see connections.Connections)."""

    label = "Salesforce"
    needs_close_date = True  # CloseDate is required on every opportunity

    def __init__(self, crm: Crm, clock: Callable[[], datetime], pool: http.Pool):
        self.crm = crm
        self.clock = clock
        self.pool = pool
        self.base = (crm.base_url or "").rstrip("/")
        self.api = f"/services/data/v{crm.api_version}"
        self.client = pool.client("salesforce", self.base, crm.timeout)
        self._token: str | None = None
        self._renew_at = datetime.min
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}

    # -- the access token ----------------------------------------------------------------

    def token(self, renew: bool = False) -> str:
        """A current access token, fetched when missing, about to expire, or rejected."""
        with self._lock:
            now = self.clock().replace(tzinfo=None)
            if renew or self._token is None or now >= self._renew_at:
                self._token = self._fetch_token()
                margin = min(timedelta(minutes=5), self.crm.session_timeout / 10)
                self._renew_at = now + self.crm.session_timeout - margin
            return self._token

    def _fetch_token(self) -> str:
        names = f"${self.crm.client_id_env} / ${self.crm.client_secret_env}"
        client_id = http.secret(self.crm.client_id_env)
        client_secret = http.secret(self.crm.client_secret_env)
        if not client_id or not client_secret:
            raise Permanent(f"Salesforce client credentials missing: set {names}")
        form = {"grant_type": "client_credentials", "client_id": client_id,
                "client_secret": client_secret}
        try:
            answer = self.pool.send(self.client, "Salesforce", "POST", "/services/oauth2/token",
                               data=form).json()
        except Permanent as exc:
            raise Permanent(f"Salesforce refused the client credentials in {names} ({exc}); "
                            "fix them, then run signalbot crm retry",
                            status=exc.status, code=exc.code) from None
        return str(answer["access_token"])

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token(renew=attempt == 2)}"}
            try:
                return self.pool.send(self.client, "Salesforce", method, path, headers=headers,
                                 **kwargs)
            except Permanent as exc:
                if exc.status == 401 and attempt == 1:
                    continue  # expired early (session policy, revoked): one fresh token
                if exc.status == 403 and exc.code == "REQUEST_LIMIT_EXCEEDED":
                    raise Transient(str(exc), retry_after=http.MAX_WAIT) from None
                raise
        raise AssertionError("unreachable")

    def query(self, soql: str) -> list[dict[str, Any]]:
        """The records a SOQL query returns (first page)."""
        return self._call("GET", f"{self.api}/query", params={"q": soql}).json()["records"]

    # -- lookups -------------------------------------------------------------------------

    def owner_id(self, email: str) -> str | None:
        """The one active Salesforce user with this e-mail (cached), or None."""
        key = email.strip().lower()
        if key not in self._owners:
            users = self.query(f"SELECT Id FROM User WHERE Email = {soql_string(key)} "
                               "AND IsActive = true LIMIT 2")
            if len(users) == 1:
                self._owners[key] = users[0]["Id"]
        return self._owners.get(key)

    def company_id(self, crm_id: str | None, name: str) -> str | None:
        """The account by its Salesforce id, else the one account with exactly this name."""
        if crm_id and _RECORD_ID.fullmatch(crm_id):
            try:
                return self._call("GET", f"{self.api}/sobjects/Account/{crm_id}",
                                  params={"fields": "Id"}).json()["Id"]
            except Permanent as exc:
                if exc.status not in (400, 404):
                    raise
        found = self.query(f"SELECT Id FROM Account WHERE Name = {soql_string(name)} LIMIT 2")
        return found[0]["Id"] if len(found) == 1 else None

    # -- reading back ----------------------------------------------------------------------

    def changes_soql(self, since: datetime | None, limit: int | None = None) -> str:
        """Opportunities carrying a signal id, modified at or after `since`, oldest first."""
        where = f"{EXTERNAL_ID.salesforce} != null"
        if since is not None:
            where += f" AND LastModifiedDate >= {soql_datetime(since)}"
        soql = (f"SELECT Id, {EXTERNAL_ID.salesforce}, StageName, Amount, OwnerId, Owner.Email, "
                f"LastModifiedDate FROM Opportunity WHERE {where} "
                "ORDER BY LastModifiedDate ASC, Id ASC")
        return soql + (f" LIMIT {limit}" if limit else "")

    def changes(self, since: datetime | None, cursor: str | None) -> Page:
        """One batch of the query (the first, or the one `cursor`, a nextRecordsUrl, names)."""
        if cursor:
            if not cursor.startswith(f"{self.api}/query/"):
                raise Permanent(f"Salesforce: unexpected nextRecordsUrl {cursor[:80]!r}")
            found = self._call("GET", cursor).json()
        else:
            found = self._call("GET", f"{self.api}/query",
                               params={"q": self.changes_soql(since)}).json()
        out = []
        for row in found.get("records", []):
            owner = row.get("Owner") or {}
            out.append(DealChange(
                signal_key=str(row[EXTERNAL_ID.salesforce]), record_id=str(row["Id"]),
                stage=row.get("StageName"), amount=parse_amount(row.get("Amount")),
                owner=row.get("OwnerId"),
                owner_email=str(owner["Email"]).lower() if owner.get("Email") else None,
                modified_at=sf_datetime(row["LastModifiedDate"])))
        more = None if found.get("done", True) else found.get("nextRecordsUrl")
        return Page(out, more)

    # -- the write -----------------------------------------------------------------------

    def body(self, deal: DealFields, owner: str | None, company: str | None) -> dict[str, Any]:
        """The opportunity's fields (the external id goes in the URL, never in the body)."""
        body: dict[str, Any] = {"Name": clip(deal.name, 120), "StageName": deal.stage}
        if deal.close_date:
            body["CloseDate"] = deal.close_date.isoformat()
        if deal.amount is not None:
            body["Amount"] = float(deal.amount)
        if owner:
            body["OwnerId"] = owner
        if company:
            body["AccountId"] = company
        for key, value in deal.values.items():
            item = CUSTOM[key]
            body[item.salesforce] = clip(value, _LENGTHS[item.kind])
        return body

    def upsert(self, deal: DealFields, owner: str | None, company: str | None,
               associate: bool) -> Written:
        """PATCH by external id: 201 created, 200 updated (204 on old API versions)."""
        path = (f"{self.api}/sobjects/Opportunity/{EXTERNAL_ID.salesforce}/"
                f"{quote(deal.external_id, safe='')}")
        answer = self._call("PATCH", path, json=self.body(deal, owner, company))
        if answer.status_code == 300:
            raise Permanent(f"Salesforce: several opportunities carry {EXTERNAL_ID.salesforce}"
                            f" = {deal.external_id}; make the field unique")
        if answer.status_code == 204 or not answer.content:
            record_id = self._call("GET", path, params={"fields": "Id"}).json()["Id"]
            created = False
        else:
            record_id, created = answer.json()["id"], answer.status_code == 201
        url = f"{self.base}/lightning/r/Opportunity/{record_id}/view"
        return Written(str(record_id), url, created)

    # -- signalbot crm check -------------------------------------------------------------

    def inspect(self, emails: dict[str, str]) -> Inspection:
        """Token, API version, stages, custom fields and owners, as `crm check` prints them."""
        report = Inspection(f"Salesforce ({self.base}, API v{self.crm.api_version})")
        try:
            self.token(renew=True)
        except (Permanent, Transient) as exc:
            report.add(False, f"token: {exc}")
            return report
        report.add(True, "token: issued by the client-credentials flow")
        versions = {v.get("version") for v in self._call("GET", "/services/data/").json()}
        report.add(self.crm.api_version in versions, f"API version {self.crm.api_version}: "
                   + ("available" if self.crm.api_version in versions else "not offered"))
        report.add(True, "pipeline: not used (Salesforce stages come from StageName)")
        fields = self._call("GET", f"{self.api}/sobjects/Opportunity/describe").json()["fields"]
        by_name = {f["name"]: f for f in fields}
        picklist = {v["value"] for v in by_name.get("StageName", {}).get("picklistValues", [])
                    if v.get("active", True)}
        for key in CRM_STAGE_KEYS:
            stage = self.crm.stage(key)
            report.add(stage in picklist, f"stage {key} -> {stage}: "
                       + ("an active StageName value" if stage in picklist else "not in StageName"))
        for item in FIELDS:
            found = by_name.get(item.salesforce)
            if found is None:
                report.missing.append(item)
                report.add(False, f"field {item.salesforce}: missing")
            elif item is EXTERNAL_ID and not (found.get("externalId") and found.get("unique")):
                report.add(False, f"field {item.salesforce}: must be an External ID and Unique")
            else:
                report.add(True, f"field {item.salesforce}: present")
        self._check_reading(report)
        for user, email in sorted(emails.items()):
            owner = self.owner_id(email)
            report.add(owner is not None, f"owner <@{user}> {email}: "
                       + (f"Salesforce user {owner}" if owner else "no active user with it"))
        if report.missing:
            report.definitions = definitions(report.missing)
        return report

    def _check_reading(self, report: Inspection) -> None:
        if any(item.salesforce == EXTERNAL_ID.salesforce for item in report.missing):
            report.add(False, "reading opportunities back (SOQL): needs the external id field")
            return
        try:
            self.query(self.changes_soql(None, limit=1))
        except Permanent as exc:
            report.add(False, f"reading opportunities back (SOQL): refused ({exc}); the "
                              "integration user needs Read on Opportunity and its fields")
            return
        report.add(True, "reading opportunities back (SOQL on LastModifiedDate): allowed")


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal in UTC (unquoted), e.g. 2026-11-23T14:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sf_datetime(value: str) -> datetime:
    """A Salesforce dateTime as the REST API returns it ("2026-11-23T14:00:00.000+0000")."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def definitions(fields: list[Field]) -> str:
    """Setup instructions for the missing custom fields, one line each."""
    lines = ["Create them in Setup > Object Manager > Opportunity > Fields & Relationships > New"
             " (type the Field Name without __c):"]
    lines += [f"  {f.salesforce}: label \"{f.label}\", {_SETUP_TYPES[f.kind]} — {f.help}"
              for f in fields]
    return "\n".join(lines)
