"""A small JSON REST stand-in base: routes, recorded calls, auth hooks and injected faults.

The HubSpot and Salesforce stand-ins (and test webhook receivers) build on it: a stdlib HTTP
server on 127.0.0.1 that answers registered routes, records every call (method, path,
query, headers, body), and can answer the next calls with a fault (an HTTP status with its
headers and body, a delay longer than the client's timeout, a dropped connection).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request as received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    route: str = ""
    status: int | None = None  # what was answered (None: dropped, or not answered yet)
    done: bool = False  # handled (answered or dropped)

    @property
    def json(self) -> Any:
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        """The body decoded as a form."""
        return dict(parse_qsl(self.body.decode()))

    @property
    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer ...` header."""
        value = self.headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None


@dataclass
class Answer:
    """What to send back."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class Refusal(Exception):
    """Raised by a route handler to answer an error."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.answer = Answer(status, body)


@dataclass
class Fault:
    """One queued fault (see RestStandin.fail_next)."""

    route: str | None
    times: int
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    keep: bool = False
    drop: bool = False
    skip: int = 0  # calls to let through first


Handler = Callable[[Request, re.Match[str]], Answer | Any]


class RestStandin:
    """Start with `with Stand-in() as s:`; `s.base_url` is where clients point."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> RestStandin:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = standin.handle(self.command, self.path, headers, body)
                try:
                    _write(self, answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (its timeout)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *_: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port> (no trailing slash)."""
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- set-up --------------------------------------------------------------------------

    def add_route(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        """Answer `method` on paths matching `pattern` (a full-match regex) with `handler`."""
        self._routes.append((method, re.compile(pattern), name, handler))

    def fail_next(self, route: str | None = None, times: int = 1, *, status: int | None = None,
                  body: Any = None, headers: dict[str, str] | None = None,
                  retry_after: int | None = None, delay: float | None = None,
                  keep: bool = False, drop: bool = False, after: int = 0) -> RestStandin:
        """Answer the next `times` calls to `route` (None: any) with a fault, FIFO.

        `delay` sleeps first (longer than the client's timeout: the client gives up, but the
        request is still applied, as a slow server does); `status` answers that status
        (with `body`, `headers`, `Retry-After`); `keep` applies the request first; `drop`
        closes the connection without an answer; `after` lets that many calls through first
        (e.g. the second page of a search fails).
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        with self.lock:
            self._faults.append(Fault(route, times, status, body, extra, delay, keep, drop,
                                      after))
        return self

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every request received so far was handled (e.g. a delayed one)."""
        deadline = time.monotonic() + timeout
        while not all(r.done for r in list(self.requests)):
            if time.monotonic() > deadline:
                raise AssertionError("requests still in flight")
            time.sleep(0.01)

    def calls_to(self, route: str) -> list[Request]:
        """Recorded requests to one route, in order."""
        with self.lock:
            return [r for r in self.requests if r.route == route]

    # -- serving -------------------------------------------------------------------------

    def handle(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request (called on the server's threads)."""
        parts = urlsplit(raw)
        request = Request(method, parts.path, dict(parse_qsl(parts.query)), headers, body)
        with self.lock:
            self.requests.append(request)
        for verb, pattern, name, handler in self._routes:
            match = pattern.fullmatch(parts.path)
            if match and verb == method:
                request.route = name
                answer = self._answer(request, match, handler)
                break
        else:
            answer = Answer(404, self.not_found(request))
        request.status = None if answer.drop else answer.status
        request.done = True
        return answer

    def _answer(self, request: Request, match: re.Match[str], handler: Handler) -> Answer:
        fault = self._take_fault(request.route)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and (fault.status or fault.drop) and not fault.keep:
            return Answer(fault.status or 0, fault.body, fault.headers, fault.drop)
        try:
            refusal = self.authorize(request)
            if refusal is not None:
                return refusal
            result = handler(request, match)
            answer = result if isinstance(result, Answer) else Answer(200, result)
        except Refusal as exc:
            answer = exc.answer
        except (ValueError, KeyError, TypeError) as exc:
            answer = Answer(400, self.bad_request(f"{type(exc).__name__}: {exc}"))
        if fault and (fault.status or fault.drop):
            return Answer(fault.status or 0, fault.body, fault.headers, fault.drop)
        return answer

    def _take_fault(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.route in (None, route):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- per-API hooks -------------------------------------------------------------------

    def authorize(self, request: Request) -> Answer | None:
        """An error answer when the request's credentials are not good; None to go on."""
        return None

    def not_found(self, request: Request) -> Any:
        """The body of a 404 for an unknown path."""
        return {"message": f"no route for {request.method} {request.path}"}

    def bad_request(self, message: str) -> Any:
        """The body of a 400 for a malformed request."""
        return {"message": message}


def _write(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    if answer.drop:
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return
    if answer.body is None:
        data, ctype = b"", "application/json"
    elif isinstance(answer.body, bytes | str):
        data = answer.body.encode() if isinstance(answer.body, str) else answer.body
        ctype = "text/plain; charset=utf-8"
    else:
        data, ctype = json.dumps(answer.body).encode(), "application/json;charset=utf-8"
    handler.send_response(answer.status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
