"""HubSpot: deals upserted by the unique property `signalbot_signal_id` (private-app token).

Endpoints (CRM v3/v4): POST /crm/v3/objects/deals/batch/upsert with `idProperty`, GET
/crm/v3/owners/?email=, GET /crm/v3/objects/companies/{id}, POST .../companies/search, PUT
/crm/v4/objects/deals/{id}/associations/default/companies/{id}, GET /crm/v3/properties/deals,
GET /crm/v3/pipelines/deals/{pipeline}, GET /account-info/v3/details (portal id for links).
Reading back: POST /crm/v3/objects/deals/search (deals with the signal id, modified since the
high-water mark, oldest first, paged by `after`), GET /crm/v3/owners/{id} (the owner's e-mail).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from blocks.text import HOST
from protocol.config import Crm
from service.crm import http
from service.crm.base import DealChange, Inspection, Page, Written, parse_amount
from service.crm.http import Permanent
from service.crm.mapping import EXTERNAL_ID, FIELDS, DealFields, Field, clip

GROUP = "dealinformation"  # HubSpot's default deal property group
PAGE_SIZE = 100  # deals per search page (HubSpot allows up to 200)
POLLED = ("dealstage", "amount", "hubspot_owner_id", "hs_lastmodifieddate", "pipeline")
_TYPES = {"id": ("string", "text"), "text": ("string", "text"),
          "longtext": ("string", "textarea"), "url": ("string", "text")}


class HubSpot:
    """A HubSpot client for one portal; one per process (see connections.Connections)."""

    label = "HubSpot"
    needs_close_date = False

    def __init__(self, crm: Crm, pool: http.Pool):
        self.crm = crm
        self.base = (crm.base_url or "https://api.hubapi.com").rstrip("/")
        self.pool = pool
        self.client = pool.client("hubspot", self.base, crm.timeout)
        self._owners: dict[str, str] = {}
        self._portal: tuple[int, str] | None = None
        self._emails: dict[str, str | None] = {}  # owner id -> e-mail
        self.page_size = PAGE_SIZE

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = http.secret(self.crm.token_env)
        if token is None:
            raise Permanent(f"HubSpot token missing: set ${self.crm.token_env}")
        try:
            return self.pool.send(self.client, "HubSpot", method, path,
                             headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except Permanent as exc:
            if exc.status == 401:
                raise Permanent(f"HubSpot HTTP 401: the private-app token in "
                                f"${self.crm.token_env} was rejected ({exc.code}); fix it, then "
                                "run signalbot crm retry", status=401, code=exc.code) from None
            raise

    def portal(self) -> tuple[int, str]:
        """(portal id, UI domain), asked once per process."""
        if self._portal is None:
            info = self._call("GET", "/account-info/v3/details").json()
            domain = str(info.get("uiDomain") or "")
            self._portal = (int(info["portalId"]), domain if HOST.fullmatch(domain)
                            else "app.hubspot.com")
        return self._portal

    def record_url(self, record_id: str) -> str | None:
        """The deal's page in HubSpot (None if the portal cannot be read)."""
        try:
            portal, domain = self.portal()
        except (http.Transient, Permanent, KeyError, ValueError):
            return None
        return f"https://{domain}/contacts/{portal}/record/0-3/{record_id}"

    # -- lookups -------------------------------------------------------------------------

    def owner_id(self, email: str) -> str | None:
        """The owner id of the HubSpot user with this e-mail (cached), or None."""
        key = email.strip().lower()
        if key not in self._owners:
            found = self._call("GET", "/crm/v3/owners/",
                               params={"email": key, "archived": "false"}).json()
            for owner in found.get("results", []):
                if str(owner.get("email", "")).lower() == key:
                    self._owners[key] = str(owner["id"])
                    break
        return self._owners.get(key)

    def company_id(self, crm_id: str | None, name: str) -> str | None:
        """The company by its HubSpot id, else the one company with exactly this name."""
        if crm_id and crm_id.isdigit():
            try:
                return str(self._call("GET", f"/crm/v3/objects/companies/{crm_id}").json()["id"])
            except Permanent as exc:
                if exc.status != 404:
                    raise
        query = {"filterGroups": [{"filters": [
            {"propertyName": "name", "operator": "EQ", "value": name}]}],
            "properties": ["name"], "limit": 2}
        found = self._call("POST", "/crm/v3/objects/companies/search", json=query).json()
        results = found.get("results", [])
        return str(results[0]["id"]) if len(results) == 1 else None

    # -- the write -----------------------------------------------------------------------

    def properties(self, deal: DealFields, owner: str | None) -> dict[str, str]:
        """The deal's HubSpot properties (all values as strings, as the API takes them)."""
        props = {"dealname": deal.name, "pipeline": self.crm.pipeline,
                 EXTERNAL_ID.hubspot: deal.external_id}
        if deal.stage:
            props["dealstage"] = deal.stage
        if deal.amount is not None:
            props["amount"] = str(deal.amount)
        if deal.close_date:
            props["closedate"] = f"{deal.close_date.isoformat()}T00:00:00Z"
        if owner:
            props["hubspot_owner_id"] = owner
        for key, value in deal.values.items():
            props[f"signalbot_{key}"] = clip(value, 65_000)
        return props

    def upsert(self, deal: DealFields, owner: str | None, company: str | None,
               associate: bool) -> Written:
        """Batch upsert (one input) by the unique signal id, then the company association."""
        body = {"inputs": [{"idProperty": EXTERNAL_ID.hubspot, "id": deal.external_id,
                            "properties": self.properties(deal, owner)}]}
        answer = self._call("POST", "/crm/v3/objects/deals/batch/upsert", json=body).json()
        if answer.get("errors") or not answer.get("results"):
            error = (answer.get("errors") or [{"message": "no result"}])[0]
            raise Permanent(f"HubSpot upsert failed: {error.get('message')}")
        result = answer["results"][0]
        record_id = str(result["id"])
        if company and associate:
            self._call("PUT", f"/crm/v4/objects/deals/{record_id}/associations/default/"
                              f"companies/{company}")
        return Written(record_id, self.record_url(record_id), bool(result.get("new")))

    # -- reading back ----------------------------------------------------------------------

    def search_body(self, since: datetime | None, cursor: str | None,
                    limit: int | None = None) -> dict[str, Any]:
        """The CRM search for deals of our pipeline carrying a signal id, modified since."""
        filters: list[dict[str, Any]] = [
            {"propertyName": EXTERNAL_ID.hubspot, "operator": "HAS_PROPERTY"},
            {"propertyName": "pipeline", "operator": "EQ", "value": self.crm.pipeline}]
        if since is not None:
            filters.append({"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                            "value": str(int(since.timestamp() * 1000))})
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": [EXTERNAL_ID.hubspot, *POLLED], "limit": limit or self.page_size}
        if cursor:
            body["after"] = cursor
        return body

    def changes(self, since: datetime | None, cursor: str | None) -> Page:
        """One page of deals changed since `since` (oldest first)."""
        found = self._call("POST", "/crm/v3/objects/deals/search",
                           json=self.search_body(since, cursor)).json()
        out = []
        for deal in found.get("results", []):
            props = deal.get("properties") or {}
            key = props.get(EXTERNAL_ID.hubspot)
            if not key:
                continue
            owner = props.get("hubspot_owner_id") or None
            out.append(DealChange(
                signal_key=str(key), record_id=str(deal["id"]), stage=props.get("dealstage"),
                amount=parse_amount(props.get("amount")), owner=owner,
                owner_email=self.owner_email(owner) if owner else None,
                modified_at=_when(props.get("hs_lastmodifieddate") or deal["updatedAt"])))
        after = ((found.get("paging") or {}).get("next") or {}).get("after")
        return Page(out, str(after) if after else None)

    def owner_email(self, owner: str) -> str | None:
        """The e-mail of a HubSpot owner (cached); None when the owner is gone."""
        if owner not in self._emails:
            try:
                found = self._call("GET", f"/crm/v3/owners/{owner}").json()
            except Permanent as exc:
                if exc.status != 404:
                    raise
                found = {}
            self._emails[owner] = str(found["email"]).lower() if found.get("email") else None
        return self._emails[owner]

    # -- signalbot crm check -------------------------------------------------------------

    def inspect(self, emails: dict[str, str]) -> Inspection:
        """Token, pipeline, stages, custom properties and owners, as `crm check` prints them."""
        report = Inspection(f"HubSpot ({self.base})")
        try:
            portal, _ = self.portal()
        except (Permanent, http.Transient) as exc:
            report.add(False, f"token: {exc}")
            return report
        report.add(True, f"token: accepted (portal {portal})")
        self._check_pipeline(report)
        self._check_properties(report)
        self._check_reading(report)
        for user, email in sorted(emails.items()):
            owner = self.owner_id(email)
            report.add(owner is not None, f"owner <@{user}> {email}: "
                       + (f"HubSpot owner {owner}" if owner else "no HubSpot user with it"))
        return report

    def _check_pipeline(self, report: Inspection) -> None:
        try:
            pipeline = self._call("GET", f"/crm/v3/pipelines/deals/{self.crm.pipeline}").json()
        except Permanent as exc:
            report.add(False, f"pipeline {self.crm.pipeline!r}: not found ({exc.status})")
            return
        report.add(True, f"pipeline {self.crm.pipeline!r}: {pipeline.get('label')}")
        known = {s["id"]: s.get("label") for s in pipeline.get("stages", [])}
        for key in ("handed_off", "acknowledged", "contacted", "won", "lost", "deferred",
                    "not_ready"):
            stage = self.crm.stage(key)
            report.add(stage in known, f"stage {key} -> {stage}: "
                       + (str(known[stage]) if stage in known else "not in this pipeline"))

    def _check_reading(self, report: Inspection) -> None:
        try:
            self._call("POST", "/crm/v3/objects/deals/search",
                       json=self.search_body(None, None, limit=1))
        except Permanent as exc:
            report.add(False, f"reading deals back (CRM search): refused ({exc}); the token "
                              "needs the crm.objects.deals.read scope")
            return
        report.add(True, "reading deals back (CRM search): allowed")

    def _check_properties(self, report: Inspection) -> None:
        found = self._call("GET", "/crm/v3/properties/deals").json().get("results", [])
        by_name = {p["name"]: p for p in found}
        for item in FIELDS:
            prop = by_name.get(item.hubspot)
            if prop is None:
                report.missing.append(item)
                report.add(False, f"property {item.hubspot}: missing")
            elif item is EXTERNAL_ID and not prop.get("hasUniqueValue"):
                report.add(False, f"property {item.hubspot}: exists but is not unique; "
                                  "create a new unique one (uniqueness cannot be added later)")
            else:
                report.add(True, f"property {item.hubspot}: present")
        if report.missing:
            report.definitions = self.definitions(report.missing)

    def definitions(self, fields: list[Field]) -> str:
        """How to create the missing properties: one API call each, exact JSON bodies."""
        lines = [f"Create them in HubSpot (Settings > Properties > Deal properties) or with "
                 f"POST {self.base}/crm/v3/properties/deals, one body each:"]
        lines += [json.dumps(definition(f)) for f in fields]
        return "\n".join(lines)


def definition(item: Field) -> dict[str, Any]:
    """The exact body for POST /crm/v3/properties/deals."""
    kind, field_type = _TYPES[item.kind]
    body: dict[str, Any] = {"name": item.hubspot, "label": f"Signalbot: {item.label}",
                            "type": kind, "fieldType": field_type, "groupName": GROUP,
                            "description": item.help}
    if item is EXTERNAL_ID:
        body["hasUniqueValue"] = True
    return body


def _when(value: str) -> datetime:
    """A HubSpot datetime: ISO 8601 ("…T14:00:00.000Z") or epoch milliseconds."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
