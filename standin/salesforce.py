"""A local stand-in of the Salesforce REST API (the parts signalbot uses), strict about shapes.

OAuth 2.0 client-credentials token endpoint; opportunities upserted only by an External ID
field (PATCH .../sobjects/Opportunity/<field>/<value>, never the field or Id in the body);
describe; SOQL for users by e-mail and accounts by name. Unknown fields, restricted
picklist values, missing required fields and bad references answer Salesforce's error
bodies. `expire_tokens()` makes every issued token answer 401 INVALID_SESSION_ID.

Reading back: the SOQL query for opportunities with the external id set and LastModifiedDate
at or after a dateTime literal, ordered by LastModifiedDate, answered in batches of
`batch_size` with `done: false` and a `nextRecordsUrl` (the Query More Results resource,
GET .../query/<locator>) as the REST API reference describes; `Owner.Email` comes back as a
nested User record. `edit_opportunity` changes one as a person in Salesforce would.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from typing import Any

from standin.rest import Answer, Refusal, Request, RestStandin

EXTERNAL = "Signalbot_Signal_Id__c"
CUSTOM = {EXTERNAL: ("string", 64), "Signalbot_Signal_Type__c": ("string", 255),
          "Signalbot_Buyer__c": ("string", 255), "Signalbot_Timeline__c": ("string", 255),
          "Signalbot_Context__c": ("textarea", 32768), "Signalbot_Urgency__c": ("string", 255),
          "Signalbot_Qualification__c": ("string", 255), "Signalbot_Slack_Link__c": ("url", 255),
          "Signalbot_Status__c": ("string", 255),
          "Signalbot_Outcome_Reason__c": ("string", 255)}
STANDARD = {"Id": ("id", 18), "Name": ("string", 120), "StageName": ("picklist", 255),
            "CloseDate": ("date", 0), "Amount": ("currency", 0), "OwnerId": ("reference", 18),
            "AccountId": ("reference", 18), "Description": ("textarea", 32000)}
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
          "Negotiation/Review", "Closed Won", "Closed Lost")
API = r"/services/data/v(\d+\.\d)"
_USER_Q = re.compile(r"SELECT Id FROM User WHERE Email = '((?:[^'\\]|\\.)*)' AND IsActive = true"
                     r" LIMIT (\d+)")
_CHANGES_Q = re.compile(
    r"SELECT (?P<fields>[\w.]+(?:, [\w.]+)*) FROM Opportunity WHERE (?P<key>\w+) != null"
    r"(?: AND LastModifiedDate >= (?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ))?"
    r" ORDER BY LastModifiedDate ASC, Id ASC(?: LIMIT (?P<limit>\d+))?")
_ACCOUNT_Q = re.compile(r"SELECT Id FROM Account WHERE Name = '((?:[^'\\]|\\.)*)' LIMIT (\d+)")


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> Refusal:
    """A Salesforce REST error answer: a list of {message, errorCode, fields}."""
    return Refusal(status, [{"message": message, "errorCode": code, "fields": fields or []}])


class SalesforceStandin(RestStandin):
    """One org: the token endpoint, opportunities, users, accounts, describe."""

    def __init__(self, client_id: str = "3MVG-test-client", client_secret: str = "s3cret",
                 versions: tuple[str, ...] = ("61.0", "62.0"), custom: tuple[str, ...] = ()):
        super().__init__()
        self.client_id, self.client_secret, self.versions = client_id, client_secret, versions
        self._ids = itertools.count(1)
        self.tokens: list[str] = []  # issued, still valid
        self.issued = 0
        self.fields = {**STANDARD, **{n: CUSTOM[n] for n in (custom or CUSTOM)}}
        self.opportunities: dict[str, dict[str, Any]] = {}
        self.users: dict[str, str] = {}  # id -> e-mail
        self.accounts: dict[str, str] = {}  # id -> name
        self.batch_size = 2000  # records per query answer (Salesforce: up to 2,000)
        self._cursors: dict[str, list[dict[str, Any]]] = {}  # query locator -> records left
        sobject = rf"{API}/sobjects"
        for method, path, name, handler in [
            ("POST", "/services/oauth2/token", "token", self._token),
            ("GET", "/services/data/?", "versions", self._versions),
            ("GET", rf"{sobject}/Opportunity/describe", "describe", self._describe),
            ("PATCH", rf"{sobject}/Opportunity/(\w+)/([^/]+)", "upsert", self._upsert),
            ("GET", rf"{sobject}/Opportunity/(\w+)/([^/]+)", "opportunity", self._by_external),
            ("GET", rf"{sobject}/Account/(\w+)", "account", self._account),
            ("GET", rf"{API}/query", "query", self._query),
            ("GET", rf"{API}/query/([\w-]+)", "query.more", self._query_more),
        ]:
            self.add_route(method, path, name, handler)

    # -- test helpers --------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):015d}"

    def add_user(self, email: str) -> str:
        """An active user; returns the 18-character id."""
        user_id = self._id("005")
        self.users[user_id] = email
        return user_id

    def add_account(self, name: str) -> str:
        """An account; returns its id."""
        account_id = self._id("001")
        self.accounts[account_id] = name
        return account_id

    def opportunity_for(self, signal_id: int | str) -> dict[str, Any] | None:
        """The opportunity whose external id is `signal_id`."""
        found = [o for o in self.opportunities.values() if o[EXTERNAL] == str(signal_id)]
        assert len(found) <= 1, f"{len(found)} opportunities for signal {signal_id}"
        return found[0] if found else None

    def edit_opportunity(self, signal_id: int | str, at: datetime | None = None,
                         **fields: Any) -> dict[str, Any]:
        """Change an opportunity as someone in Salesforce would, at `at`."""
        found = self.opportunity_for(signal_id)
        assert found is not None, f"no opportunity for signal {signal_id}"
        with self.lock:
            self._check(fields)
            found.update(fields)
            found["LastModifiedDate"] = _sf_stamp(at or datetime.now(UTC))
        return found

    def expire_tokens(self) -> None:
        """Every issued token is now expired (as after the org's session timeout)."""
        with self.lock:
            self.tokens.clear()

    # -- plumbing ------------------------------------------------------------------------

    def authorize(self, request: Request) -> Answer | None:
        """API calls need a token issued by the token endpoint and not expired."""
        if request.route in ("token",) or request.bearer in self.tokens:
            return None
        return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid").answer

    def not_found(self, request: Request) -> Any:
        """Salesforce's 404 body."""
        return [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]

    def bad_request(self, message: str) -> Any:
        """Salesforce's 400 body for malformed JSON."""
        return [{"errorCode": "JSON_PARSER_ERROR", "message": message}]

    def _version(self, match: Any) -> None:
        if match[1] not in self.versions:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- routes --------------------------------------------------------------------------

    def _token(self, request: Request, _: Any) -> Any:
        if not request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            raise Refusal(400, {"error": "invalid_request", "error_description": "form body"})
        form = request.form
        if form.get("grant_type") != "client_credentials":
            raise Refusal(400, {"error": "unsupported_grant_type",
                                "error_description": "grant type not supported"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                  self.client_secret):
            raise Refusal(400, {"error": "invalid_client",
                                "error_description": "invalid client credentials"})
        with self.lock:
            self.issued += 1
            token = f"00DSTANDIN!tok{self.issued}"
            self.tokens.append(token)
        return {"access_token": token, "signature": "c2lnbmF0dXJl", "scope": "api",
                "instance_url": self.base_url, "id": f"{self.base_url}/id/00D/005",
                "token_type": "Bearer", "issued_at": "1700000000000"}

    def _versions(self, _: Request, __: Any) -> list[dict[str, str]]:
        return [{"label": "Release", "url": f"/services/data/v{v}", "version": v}
                for v in self.versions]

    def _describe(self, _: Request, match: Any) -> dict[str, Any]:
        self._version(match)
        fields = []
        for name, (kind, length) in self.fields.items():
            field = {"name": name, "type": kind, "length": length, "custom": name.endswith("__c"),
                     "externalId": name == EXTERNAL, "unique": name == EXTERNAL}
            if name == "StageName":
                field["picklistValues"] = [{"value": s, "label": s, "active": True}
                                           for s in STAGES]
            fields.append(field)
        return {"name": "Opportunity", "fields": fields}

    def _upsert(self, request: Request, match: Any) -> Answer:
        self._version(match)
        key, value = match[2], match[3]
        if key != EXTERNAL or key not in self.fields:
            raise sf_error(404, "NOT_FOUND", "Provided external ID field does not exist or is "
                                             f"not accessible: {key}")
        body = request.json
        if not isinstance(body, dict) or "Id" in body or key in body:
            raise sf_error(400, "INVALID_FIELD", "Id and the external ID field go in the URL")
        self._check(body)
        with self.lock:
            found = next((o for o in self.opportunities.values() if o[key] == value), None)
            if found is None:
                missing = [f for f in ("Name", "StageName", "CloseDate") if not body.get(f)]
                if missing:
                    raise sf_error(400, "REQUIRED_FIELD_MISSING",
                                   f"Required fields are missing: {missing}", missing)
                found = {"Id": self._id("006"), key: value}
                self.opportunities[found["Id"]] = found
                status = 201
            else:
                status = 200
            found.update(body)
            found["LastModifiedDate"] = _sf_stamp(datetime.now(UTC))
        return Answer(status, {"id": found["Id"], "success": True, "errors": [],
                               "created": status == 201})

    def _check(self, body: dict[str, Any]) -> None:
        for name, value in body.items():
            if name not in self.fields:
                raise sf_error(400, "INVALID_FIELD",
                               f"No such column '{name}' on sobject of type Opportunity")
            kind, length = self.fields[name]
            if kind in ("string", "textarea", "url") and len(str(value)) > length:
                raise sf_error(400, "STRING_TOO_LONG", f"{name}: data value too large", [name])
        if "StageName" in body and body["StageName"] not in STAGES:
            raise sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           f"Stage: bad value for restricted picklist field: {body['StageName']}",
                           ["StageName"])
        if "CloseDate" in body:
            date.fromisoformat(body["CloseDate"])
        if "Amount" in body and not isinstance(body["Amount"], int | float):
            raise sf_error(400, "JSON_PARSER_ERROR", "Amount is a number")
        for name, known in (("OwnerId", self.users), ("AccountId", self.accounts)):
            if name in body and body[name] not in known:
                raise sf_error(400, "INVALID_CROSS_REFERENCE_KEY",
                               f"invalid cross reference id: {body[name]}", [name])

    def _by_external(self, _: Request, match: Any) -> dict[str, Any]:
        self._version(match)
        found = next((o for o in self.opportunities.values() if o.get(match[2]) == match[3]),
                     None)
        if found is None:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        return {"attributes": {"type": "Opportunity"}, **found}

    def _account(self, _: Request, match: Any) -> dict[str, Any]:
        self._version(match)
        if match[2] not in self.accounts:
            raise sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        return {"attributes": {"type": "Account"}, "Id": match[2]}

    def _query(self, request: Request, match: Any) -> dict[str, Any]:
        self._version(match)
        soql = request.query.get("q", "")
        if found := _USER_Q.fullmatch(soql):
            email, kind = _unquote(found[1]).lower(), "User"
            ids = [i for i, e in self.users.items() if e.lower() == email]
        elif found := _CHANGES_Q.fullmatch(soql):
            return self._changes(found, match[1])
        elif found := _ACCOUNT_Q.fullmatch(soql):
            name, kind = _unquote(found[1]), "Account"
            ids = [i for i, n in self.accounts.items() if n == name]
        else:
            raise sf_error(400, "MALFORMED_QUERY", f"the stand-in does not know: {soql}")
        ids = ids[: int(found[2])]
        return {"totalSize": len(ids), "done": True, "records": [
            {"attributes": {"type": kind, "url": f"/services/data/v{match[1]}/sobjects/{kind}/"
                                                 f"{i}"}, "Id": i} for i in ids]}

    def _changes(self, found: re.Match[str], version: str) -> dict[str, Any]:
        fields = found["fields"].split(", ")
        for name in fields:
            if name != "Owner.Email" and name not in {*self.fields, "LastModifiedDate"}:
                raise sf_error(400, "INVALID_FIELD", f"No such column '{name}' on entity "
                                                     "'Opportunity'")
        if found["key"] not in self.fields:
            raise sf_error(400, "INVALID_FIELD", f"No such column '{found['key']}'")
        since = _sf_stamp(datetime.fromisoformat(found["since"].replace("Z", "+00:00"))) \
            if found["since"] else None
        with self.lock:
            rows = [o for o in self.opportunities.values() if o.get(found["key"])
                    and (since is None or o["LastModifiedDate"] >= since)]
            rows.sort(key=lambda o: (o["LastModifiedDate"], o["Id"]))
            if found["limit"]:
                rows = rows[: int(found["limit"])]
            records = [self._record(o, fields, version) for o in rows]
        return self._batch(records, len(records), version)

    def _record(self, row: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v{version}/sobjects/Opportunity/{row['Id']}"}}
        for name in fields:
            if name == "Owner.Email":
                owner = row.get("OwnerId")
                out["Owner"] = None if owner is None else {"attributes": {
                    "type": "User", "url": f"/services/data/v{version}/sobjects/User/{owner}"},
                    "Email": self.users.get(owner)}
            else:
                out[name] = row.get(name)
        return out

    def _batch(self, records: list[dict[str, Any]], total: int, version: str) -> dict[str, Any]:
        page, rest = records[: self.batch_size], records[self.batch_size:]
        answer: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01g{self._id('')}-{total - len(rest)}"
            self._cursors[locator] = rest
            answer["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}"
        return answer

    def _query_more(self, _: Request, match: Any) -> dict[str, Any]:
        self._version(match)
        with self.lock:
            rest = self._cursors.pop(match[2], None)
            if rest is None:
                raise sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            total = int(match[2].rsplit("-", 1)[1]) + len(rest)
            return self._batch(rest, total, match[1])


def _sf_stamp(when: datetime) -> str:
    """Salesforce's dateTime format in REST answers: 2026-11-23T14:00:00.000+0000."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}+0000"


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
