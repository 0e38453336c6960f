"""A local stand-in of the HubSpot CRM API (the parts signalbot uses), strict about shapes.

Checks the bearer token, the paths, and the JSON bodies: a deal write must be a batch upsert
keyed by a unique property (`idProperty`), every property must exist, stages must belong to
the pipeline, owners and companies must exist. Stores deals so a test can assert exactly one
per signal. Answers with HubSpot's error bodies and `X-HubSpot-RateLimit-*` headers.

The deal search (POST /crm/v3/objects/deals/search) follows HubSpot's CRM search reference:
filterGroups (ORed, at most 5) of filters (ANDed, at most 6) on existing properties with the
documented operators, at most one sort, `limit` up to 200, paging by the `after` offset (no
further than 10,000 results), only the requested properties (plus the defaults) returned.
`edit_deal` changes a deal as a person in HubSpot would, moving `hs_lastmodifieddate`.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from standin.rest import Answer, Refusal, Request, RestStandin

CUSTOM = ("signalbot_signal_id", "signalbot_signal_type", "signalbot_buyer", "signalbot_timeline",
          "signalbot_context", "signalbot_urgency", "signalbot_qualification",
          "signalbot_slack_link", "signalbot_status", "signalbot_outcome_reason")
STANDARD = {"dealname": "string", "amount": "number", "closedate": "datetime",
            "dealstage": "enumeration", "pipeline": "enumeration",
            "hubspot_owner_id": "enumeration", "description": "string",
            "createdate": "datetime", "hs_object_id": "number",
            "hs_lastmodifieddate": "datetime"}
STAGES = {"appointmentscheduled": "Appointment scheduled", "qualifiedtobuy": "Qualified to buy",
          "presentationscheduled": "Presentation scheduled",
          "decisionmakerboughtin": "Decision maker bought-in", "contractsent": "Contract sent",
          "closedwon": "Closed won", "closedlost": "Closed lost"}
RATE_HEADERS = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
V3 = "/crm/v3"
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN",
             "NOT_IN", "BETWEEN")
SEARCH_DEFAULTS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
SEARCH_MAX = 10_000  # HubSpot's search pages no further than this


def error(status: int, message: str, category: str) -> Refusal:
    """A HubSpot error answer."""
    return Refusal(status, {"status": "error", "message": message,
                            "correlationId": "00000000-0000-0000-0000-000000000000",
                            "category": category})


def rate_limited(retry_after: int | None = 10) -> dict[str, Any]:
    """Arguments for fail_next that answer like HubSpot's secondly limit."""
    headers = {**RATE_HEADERS, "X-HubSpot-RateLimit-Remaining": "0"}
    return {"status": 429, "retry_after": retry_after, "headers": headers,
            "body": {"status": "error", "message": "You have reached your secondly limit.",
                     "errorType": "RATE_LIMIT", "policyName": "SECONDLY",
                     "correlationId": "00000000-0000-0000-0000-000000000000"}}


class HubSpotStandin(RestStandin):
    """HubSpot for one portal: deals, owners, companies, properties, one pipeline."""

    def __init__(self, token: str = "pat-na1-test", portal_id: int = 4242,
                 custom: tuple[str, ...] = CUSTOM):
        super().__init__()
        self.token, self.portal_id = token, portal_id
        self.ui_domain = "app.hubspot.com"  # what account-info answers (tests may set anything)
        self._ids = itertools.count(1001)
        self.properties = {n: _prop(n, k) for n, k in STANDARD.items()}
        self.properties.update({n: _prop(n, "string", unique=n == CUSTOM[0]) for n in custom})
        self.pipeline = {"id": "default", "label": "Sales Pipeline", "archived": False,
                         "stages": [{"id": s, "label": label, "archived": False}
                                    for s, label in STAGES.items()]}
        self.deals: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        self.associations: set[tuple[str, str]] = set()
        self._sent: deque[float] = deque()  # when the requests of the rate window came
        self.rate_refused = 0  # requests answered 429 for the burst limit
        self.rate_max: int | None = None  # no burst limit unless a test sets one (limit_rate)
        self.rate_interval = 10.0
        for method, path, name, handler in [
            ("POST", f"{V3}/objects/deals/batch/upsert", "upsert", self._upsert),
            ("GET", f"{V3}/owners/?", "owners", self._owners),
            ("GET", rf"{V3}/owners/(\d+)", "owner", self._owner),
            ("POST", f"{V3}/objects/deals/search", "deals.search", self._deal_search),
            ("GET", rf"{V3}/objects/companies/(\d+)", "company", self._company),
            ("POST", f"{V3}/objects/companies/search", "companies.search", self._search),
            ("PUT", r"/crm/v4/objects/(?:deals|deal|0-3)/(\d+)/associations/default/"
                    r"(?:companies|company|0-2)/(\d+)", "associate", self._associate),
            ("GET", f"{V3}/properties/deals", "properties", self._properties),
            ("POST", f"{V3}/properties/deals", "properties.create", self._create_property),
            ("GET", rf"{V3}/pipelines/deals/([\w-]+)", "pipeline", self._pipeline),
            ("GET", "/account-info/v3/details", "account", self._account),
        ]:
            self.add_route(method, path, name, handler)

    # -- test helpers --------------------------------------------------------------------

    def add_owner(self, email: str, first: str = "", last: str = "") -> str:
        """A HubSpot user who can own deals; returns the owner id."""
        owner_id = str(next(self._ids))
        self.owners[owner_id] = {"id": owner_id, "email": email, "firstName": first,
                                 "lastName": last, "userId": int(owner_id) + 9000,
                                 "type": "PERSON", "archived": False}
        return owner_id

    def add_company(self, name: str) -> str:
        """A company record; returns its id."""
        company_id = str(next(self._ids))
        self.companies[company_id] = {"id": company_id, "properties": {"name": name}}
        return company_id

    def deal_for(self, signal_id: int | str) -> dict[str, Any] | None:
        """The deal whose unique signal id is `signal_id`."""
        found = [d for d in self.deals.values()
                 if d["properties"].get(CUSTOM[0]) == str(signal_id)]
        assert len(found) <= 1, f"{len(found)} deals for signal {signal_id}"
        return found[0] if found else None

    def edit_deal(self, signal_id: int | str, at: datetime | None = None,
                  **props: str) -> dict[str, Any]:
        """Change a deal as someone in HubSpot would (stage, amount, owner …) at `at`."""
        deal = self.deal_for(signal_id)
        assert deal is not None, f"no deal for signal {signal_id}"
        with self.lock:
            self._check_properties(props)
            deal["properties"].update(props)
            self._touch(deal, at)
        return deal

    def _touch(self, deal: dict[str, Any], at: datetime | None = None) -> None:
        stamp = _stamp(at or datetime.now(UTC))
        deal["properties"]["hs_lastmodifieddate"] = stamp
        deal["updatedAt"] = stamp

    # -- plumbing ------------------------------------------------------------------------

    def authorize(self, request: Request) -> Answer | None:
        """Private-app tokens come as `Authorization: Bearer <token>`."""
        if request.bearer != self.token:
            return error(401, "Authentication credentials not found. This API supports OAuth "
                              "2.0 authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                         "INVALID_AUTHENTICATION").answer
        return None

    def limit_rate(self, per_interval: int, interval: float = 10.0) -> None:
        """Enforce HubSpot's burst limit: `per_interval` requests in any `interval` seconds
        (a private app's 100-190 a 10 s); the next one is refused with HubSpot's 429."""
        with self.lock:
            self.rate_max, self.rate_interval = per_interval, interval

    def handle(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> Answer:
        """Every answer carries the rate-limit headers; over the burst limit, a 429."""
        now = time.monotonic()
        with self.lock:
            window, limit, interval = self._sent, self.rate_max, self.rate_interval
            while window and window[0] <= now - interval:
                window.popleft()
            over = limit is not None and len(window) >= limit
            if not over:
                window.append(now)
            left = max(0, (limit or 190) - len(window))
        rates = {**RATE_HEADERS, "X-HubSpot-RateLimit-Max": str(limit or 190),
                 "X-HubSpot-RateLimit-Remaining": str(0 if over else left),
                 "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(interval * 1000))}
        if over:
            refused = rate_limited(retry_after=None)
            with self.lock:
                self.rate_refused += 1
            return Answer(429, refused["body"], rates)
        answer = super().handle(method, raw, headers, body)
        answer.headers = {**rates, **answer.headers}
        return answer

    def not_found(self, request: Request) -> Any:
        """HubSpot's 404 body."""
        return {"status": "error", "message": "Resource not found", "category": "NOT_FOUND"}

    def bad_request(self, message: str) -> Any:
        """HubSpot's 400 body."""
        return {"status": "error", "message": message, "category": "VALIDATION_ERROR"}

    # -- routes --------------------------------------------------------------------------

    def _upsert(self, request: Request, _: Any) -> dict[str, Any]:
        inputs = request.json["inputs"]
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            raise error(400, "inputs must hold 1 to 100 items", "VALIDATION_ERROR")
        results = []
        with self.lock:
            for item in inputs:
                results.append(self._upsert_one(item))
        now = _now()
        return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}

    def _upsert_one(self, item: dict[str, Any]) -> dict[str, Any]:
        key, value, props = item["idProperty"], item["id"], item["properties"]
        prop = self.properties.get(key)
        if prop is None or not prop["hasUniqueValue"]:
            raise error(400, f"idProperty {key} is not a unique property of deals",
                        "VALIDATION_ERROR")
        if not isinstance(value, str) or not value or props.get(key, value) != value:
            raise error(400, "id must be the unique property's value", "VALIDATION_ERROR")
        self._check_properties(props)
        deal = next((d for d in self.deals.values() if d["properties"].get(key) == value), None)
        now = _now()
        if deal is None:
            deal_id = str(next(self._ids))
            deal = {"id": deal_id, "properties": {"hs_object_id": deal_id, "createdate": now},
                    "createdAt": now, "archived": False}
            self.deals[deal_id] = deal
            new = True
        else:
            new = False
        deal["properties"].update({**props, key: value})
        self._touch(deal)
        return {**deal, "new": new}

    def _check_properties(self, props: dict[str, Any]) -> None:
        for name, value in props.items():
            if name not in self.properties:
                raise error(400, f'Property values were not valid: [{{"isValid":false,'
                                 f'"message":"Property \\"{name}\\" does not exist",'
                                 f'"error":"PROPERTY_DOESNT_EXIST","name":"{name}"}}]',
                            "VALIDATION_ERROR")
            if not isinstance(value, str):
                raise error(400, f"{name}: values are strings", "VALIDATION_ERROR")
        if props.get("pipeline", "default") != self.pipeline["id"]:
            raise error(400, f"pipeline {props['pipeline']} does not exist", "VALIDATION_ERROR")
        if "dealstage" in props and props["dealstage"] not in STAGES:
            raise error(400, f"{props['dealstage']} is not a stage of the pipeline",
                        "VALIDATION_ERROR")
        if "hubspot_owner_id" in props and props["hubspot_owner_id"] not in self.owners:
            raise error(400, f"owner {props['hubspot_owner_id']} does not exist",
                        "VALIDATION_ERROR")
        try:
            Decimal(props.get("amount", "0"))
            if "closedate" in props:
                datetime.fromisoformat(props["closedate"].replace("Z", "+00:00"))
        except (InvalidOperation, ValueError) as exc:
            raise error(400, f"bad amount or closedate: {exc}", "VALIDATION_ERROR") from None

    def _owners(self, request: Request, _: Any) -> dict[str, Any]:
        email = request.query.get("email", "").lower()
        return {"results": [o for o in self.owners.values()
                            if not email or o["email"].lower() == email]}

    def _owner(self, _: Request, match: Any) -> dict[str, Any]:
        owner = self.owners.get(match[1])
        if owner is None:
            raise error(404, f"owner {match[1]} not found", "OBJECT_NOT_FOUND")
        return owner

    def _deal_search(self, request: Request, _: Any) -> dict[str, Any]:
        body = request.json
        if not isinstance(body, dict):
            raise error(400, "the body is a JSON object", "VALIDATION_ERROR")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            raise error(400, "limit must be between 1 and 200", "VALIDATION_ERROR")
        after = str(body.get("after") or "0")
        if not after.isdigit():
            raise error(400, f"after {after!r} is not a paging cursor", "VALIDATION_ERROR")
        start = int(after)
        if start + limit > SEARCH_MAX:
            raise error(400, "The search can page through at most 10,000 results",
                        "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        tests = [self._filter_group(group) for group in groups]
        requested = body.get("properties") or ["dealname", "amount", "closedate", "pipeline",
                                               "dealstage"]
        for name in requested:
            if name not in self.properties:
                raise error(400, f"Property {name} does not exist", "VALIDATION_ERROR")
        with self.lock:
            found = [d for d in self.deals.values()
                     if not tests or any(all(t(d["properties"]) for t in g) for g in tests)]
            found = self._sort(found, body.get("sorts") or [])
            page = found[start: start + limit]
            results = [{"id": d["id"], "properties": {
                n: d["properties"].get(n) for n in (*SEARCH_DEFAULTS, *requested)},
                "createdAt": d["createdAt"], "updatedAt": d["updatedAt"], "archived": False}
                for d in page]
        answer: dict[str, Any] = {"total": len(found), "results": results}
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": str(start + limit), "link": "?after="
                                         + str(start + limit)}}
        return answer

    def _filter_group(self, group: dict[str, Any]) -> list[Any]:
        filters = group.get("filters") or []
        if not 1 <= len(filters) <= 6:
            raise error(400, "a filter group holds 1 to 6 filters", "VALIDATION_ERROR")
        return [self._filter(f) for f in filters]

    def _filter(self, item: dict[str, Any]) -> Any:
        name, operator = item.get("propertyName"), item.get("operator", "EQ")
        if name not in self.properties:
            raise error(400, f"There was a problem with the request: property {name} does "
                             "not exist", "VALIDATION_ERROR")
        if operator not in OPERATORS:
            raise error(400, f"operator {operator} is not supported", "VALIDATION_ERROR")
        if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            has = operator == "HAS_PROPERTY"
            return lambda props: (props.get(name) not in (None, "")) == has
        if "value" not in item:
            raise error(400, f"{operator} needs a value", "VALIDATION_ERROR")
        datetime_kind = self.properties[name]["type"] == "datetime"
        value = _comparable(item["value"], datetime_kind)
        compare = {"EQ": lambda a: a == value, "NEQ": lambda a: a != value,
                   "LT": lambda a: a < value, "LTE": lambda a: a <= value,
                   "GT": lambda a: a > value, "GTE": lambda a: a >= value}.get(operator)
        if compare is None:
            raise error(400, f"the stand-in does not evaluate {operator}", "VALIDATION_ERROR")

        def test(props: dict[str, Any]) -> bool:
            if props.get(name) in (None, ""):
                return operator == "NEQ"
            return compare(_comparable(props[name], datetime_kind))
        return test

    def _sort(self, deals: list[dict[str, Any]], sorts: list[Any]) -> list[dict[str, Any]]:
        if len(sorts) > 1:
            raise error(400, "at most one sort", "VALIDATION_ERROR")
        ordered = sorted(deals, key=lambda d: int(d["id"]))
        for sort in sorts:
            name = sort["propertyName"] if isinstance(sort, dict) else str(sort).lstrip("-")
            descending = (sort.get("direction") == "DESCENDING" if isinstance(sort, dict)
                          else str(sort).startswith("-"))
            if name not in self.properties:
                raise error(400, f"Property {name} does not exist", "VALIDATION_ERROR")
            kind = self.properties[name]["type"] == "datetime"
            ordered.sort(key=lambda d: _comparable(d["properties"].get(name) or "0", kind),
                         reverse=descending)
        return ordered

    def _company(self, _: Request, match: Any) -> dict[str, Any]:
        company = self.companies.get(match[1])
        if company is None:
            raise error(404, "resource not found", "OBJECT_NOT_FOUND")
        return company

    def _search(self, request: Request, _: Any) -> dict[str, Any]:
        [group] = request.json["filterGroups"]
        [condition] = group["filters"]
        if (condition["propertyName"], condition["operator"]) != ("name", "EQ"):
            raise error(400, "the stand-in searches companies by name EQ only", "VALIDATION_ERROR")
        value = condition["value"].lower()
        found = [c for c in self.companies.values() if c["properties"]["name"].lower() == value]
        return {"total": len(found), "results": found[: request.json.get("limit", 10)]}

    def _associate(self, _: Request, match: Any) -> dict[str, Any]:
        deal_id, company_id = match[1], match[2]
        if deal_id not in self.deals or company_id not in self.companies:
            raise error(404, "one of the records does not exist", "OBJECT_NOT_FOUND")
        self.associations.add((deal_id, company_id))
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}
        return {"status": "COMPLETE", "startedAt": _now(), "completedAt": _now(), "results": [
            {"from": {"id": deal_id}, "to": {"id": company_id}, "associationSpec": spec}]}

    def _properties(self, _: Request, __: Any) -> dict[str, Any]:
        return {"results": list(self.properties.values())}

    def _create_property(self, request: Request, _: Any) -> Answer:
        body = request.json
        for name in ("name", "label", "type", "fieldType", "groupName"):
            if not body.get(name):
                raise error(400, f"{name} is required", "VALIDATION_ERROR")
        if body["name"] in self.properties:
            raise error(409, f"property {body['name']} already exists", "OBJECT_ALREADY_EXISTS")
        self.properties[body["name"]] = {**_prop(body["name"], body["type"]), **body}
        return Answer(201, self.properties[body["name"]])

    def _pipeline(self, _: Request, match: Any) -> dict[str, Any]:
        if match[1] != self.pipeline["id"]:
            raise error(404, f"pipeline {match[1]} not found", "OBJECT_NOT_FOUND")
        return self.pipeline

    def _account(self, _: Request, __: Any) -> dict[str, Any]:
        return {"portalId": self.portal_id, "accountType": "STANDARD", "timeZone": "US/Eastern",
                "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18000000, "uiDomain": self.ui_domain,
                "dataHostingLocation": "na1"}


def _prop(name: str, kind: str, unique: bool = False) -> dict[str, Any]:
    return {"name": name, "label": name, "type": kind, "fieldType": "text",
            "groupName": "dealinformation", "hasUniqueValue": unique, "hidden": False}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _stamp(when: datetime) -> str:
    """HubSpot's datetime property format: ISO 8601 with milliseconds, in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}Z"


def _comparable(value: Any, datetime_kind: bool) -> Any:
    """A filter or property value as compared: datetimes (epoch ms or ISO) as epoch ms."""
    text = str(value)
    if not datetime_kind:
        try:
            return float(text)
        except ValueError:
            return text
    if text.lstrip("-").isdigit():
        return int(text)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((when - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))
