"""The client's CPU per Slack call: slack_sdk's WebClient beside the worker's (issue 16).

slack_sdk's WebClient (what Bolt and the floor use) opens a connection for every call; the
worker's `KeepAliveClient` (bot/slack_http.py) reuses its connections. Both post the same
card-sized chat.postMessage to the stand-in, which runs in a process of its own so that
only the client's CPU is counted; over plain HTTP (as the other benchmarks run) and over
TLS, as Slack answers (a self-signed certificate made for the run with `openssl`).
"""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bench.common import Options, Report, Skip, ms
from bot.slack_http import KeepAliveClient
from standin import SlackStandin

NAME = "slackclient"
HEADERS = ["transport", "client", "calls", "CPU ms / call", "wall ms / call",
           "CPU ratio to slack_sdk's"]
USER = "U0BENCHAE"
# a card's size: a few sections of mrkdwn, as the cards the worker posts
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Signal* " + "x" * 180}}] * 6


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _serve(cert: str | None, key: str | None, urls: Any) -> None:
    """The stand-in, in a child process (over TLS when given a certificate)."""
    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    with SlackStandin(tls=context) as standin:
        standin.add_user(USER)
        urls.put(standin.base_url)
        time.sleep(3600)


def _certificate(folder: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        raise Skip("no openssl to make the TLS certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def _per_call(client: WebClient, calls: int) -> tuple[float, float]:
    """CPU and wall seconds per chat.postMessage (after 20 not counted)."""
    for _ in range(20):
        client.chat_postMessage(channel=USER, text="warm", blocks=BLOCKS)
    cpu, wall = _cpu(), time.monotonic()
    for _ in range(calls):
        client.chat_postMessage(channel=USER, text="card", blocks=BLOCKS)
    return (_cpu() - cpu) / calls, (time.monotonic() - wall) / calls


def _transport(name: str, cert: tuple[str, str] | None, calls: int, rounds: int,
               report: Report) -> float:
    urls: Any = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(*(cert or (None, None)), urls), daemon=True)
    server.start()
    try:
        base = urls.get(timeout=30)
        context = ssl.create_default_context(cafile=cert[0]) if cert else None
        clients = {"slack_sdk WebClient (a connection a call)": WebClient,
                   "signalbot KeepAliveClient": KeepAliveClient}
        figures: dict[str, list[tuple[float, float]]] = {label: [] for label in clients}
        for _ in range(rounds):  # alternately, so that a busy moment hits both
            for label, kind in clients.items():
                client = kind(token="xoxb-bench", base_url=base, ssl=context, retry_handlers=[])
                figures[label].append(_per_call(client, calls))
        best = {label: min(runs) for label, runs in figures.items()}
        floor = best["slack_sdk WebClient (a connection a call)"][0]
        for label, (cpu, wall) in best.items():
            report.rows.append([name, label, calls, ms(cpu), ms(wall), f"{cpu / floor:.2f}×"])
        return best["signalbot KeepAliveClient"][0] / floor
    finally:
        server.kill()
        server.join(timeout=5)


def run(opts: Options) -> Report:
    report = Report(NAME, "The Slack client's CPU per call (slackclient)",
                    "the worker's client spends no more CPU per call than slack_sdk's own",
                    opts.command, HEADERS)
    report.notes.append(
        "One client posts a card-sized `chat.postMessage` (six mrkdwn sections) again and "
        "again to the stand-in, which runs in its own process; *CPU ms / call* is the "
        "client process's CPU time (user + system, so the kernel's share of a connection "
        "is in it) over the calls, the best of the alternating rounds. *slack_sdk "
        "WebClient* is what Bolt's listeners and the floor use: urllib, a new connection "
        "(and over TLS a new handshake) for every call. *signalbot KeepAliveClient* is the "
        "worker's (bot/slack_http.py): the same request and answer, over a kept connection. "
        "Slack is HTTPS, so the TLS rows are the ones production pays.")
    calls, rounds = opts.pick(400, 100, 10), opts.pick(3, 2, 1)
    ratios = {"HTTP": _transport("HTTP", None, calls, rounds, report)}
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        try:
            cert = _certificate(Path(tmp))
            ratios["TLS"] = _transport("TLS", cert, calls, rounds, report)
        except Skip as exc:
            report.skipped.append(f"TLS: {exc}")
    report.ok = all(ratio <= 1.0 for ratio in ratios.values())
    report.verdict = ("the kept-alive client's CPU per call against slack_sdk's: "
                      + ", ".join(f"{name} {ratio:.2f}×" for name, ratio in ratios.items())
                      + (" (met)" if report.ok else " (MISSED)"))
    return report
