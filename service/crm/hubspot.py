"""HubSpot: deals upserted by the unique property `signalbot_signal_id` (private-app token).

Endpoints (CRM v3/v4): POST /crm/v3/objects/deals/batch/upsert with `idProperty`, GET
/crm/v3/owners/?email=, GET /crm/v3/objects/companies/{id}, POST .../companies/search, PUT
/crm/v4/objects/deals/{id}/associations/default/companies/{id}, GET /crm/v3/properties/deals,
GET /crm/v3/pipelines/deals/{pipeline}, GET /account-info/v3/details (portal id for links).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from blocks.text import HOST
from protocol.config import Crm
from service.crm import http
from service.crm.base import Inspection, Written
from service.crm.http import Permanent
from service.crm.mapping import EXTERNAL_ID, FIELDS, DealFields, Field, clip

GROUP = "dealinformation"  # HubSpot's default deal property group
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
