"""`signalbot run --http --workers 2` as an operator starts it: gunicorn, the worker, probes,
metrics, JSON logs, the request deadline, and SIGTERM in the middle of a burst.

These start real processes (a supervisor, a gunicorn arbiter, two web workers, one worker),
so they are few and each is bounded in time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bench.procs import SECRET, modal, post, signal_values, submission
from standin import requests as slack_requests
from storage.db import make_engine
from storage.models import OutboxMessage, Signal
from tests.conftest import AE, AE2, CSM, MGR
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "xoxb-production-test-token"
TYPED = "Canary-typed-note-7f3a"  # what a CSM types: must never reach a log line
CONFIG = f"roster:\n  managers: {{{AE}: {MGR}}}\n  admins: [U0REVOPS1]\n"


@dataclass
class Bot:
    proc: subprocess.Popen
    log: Path
    url: str = ""

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def start(folder: Path, standin, database_url: str, name: str, **env_extra: str) -> Bot:
    (folder / "signalbot.yml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "SIGNALBOT_", "PROMETHEUS_"))}
    env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.base_url,
               DATABASE_URL=database_url, SIGNALBOT_CONFIG=str(folder / "signalbot.yml"),
               SIGNALBOT_LOG_FORMAT="json", SIGNALBOT_METRICS="1", PYTHONPATH=str(ROOT),
               **env_extra)
    log = folder / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--http", "--workers", "2", "--threads", "4",
             "--host", "127.0.0.1", "--port", "0", "--migrate"],
            env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    bot = Bot(proc, log)
    try:
        port = wait_for(lambda: _listening(bot), timeout=60)
        bot.url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(bot.url, "/readyz") == 200, timeout=60)
    except BaseException:
        bot.stop()
        print(log.read_text()[-4000:])
        raise
    return bot


def _listening(bot: Bot) -> int | None:
    assert bot.proc.poll() is None, bot.log.read_text()[-3000:]
    for line in bot.lines():
        message = json.loads(line)["message"]
        if message.startswith("Listening at: http://127.0.0.1:"):
            return int(message.rsplit(":", 1)[1].split()[0])
    return None


def _status(url: str, path: str) -> int:
    try:
        return httpx.get(url + path, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    from standin import SlackStandin

    folder = tmp_path_factory.mktemp("production")
    with SlackStandin() as standin:
        for user in (CSM, AE, MGR, "U0REVOPS1"):
            standin.add_user(user, name=user)
        running = start(folder, standin, f"sqlite:///{folder / 'bot.db'}", "bot",
                        SIGNALBOT_REQUEST_TIMEOUT="2")
        running.standin = standin
        running.database_url = f"sqlite:///{folder / 'bot.db'}"
        try:
            yield running
        finally:
            assert running.stop() == 0


def test_probes_metrics_and_json_logs_of_a_real_run(bot):
    assert httpx.get(f"{bot.url}/livez").json() == {"ok": True}
    ready = httpx.get(f"{bot.url}/readyz").json()
    assert ready == {"ok": True, "database": "ok", "schema": "ok", "worker": "ok",
                     "slack_token": "ok"}
    before = scrape(bot.url)
    view = modal(bot.url, bot.standin, CSM)  # one /signal
    for index in range(6):
        values = signal_values("Globex Corp", AE, note=f"{TYPED} {index}")
        assert post(bot.url, submission(view, f"VPROD{index:04d}", CSM, values)).status_code == 200
    invalid = signal_values("Globex Corp", AE, buyer_name="", note=TYPED)
    assert "errors" in post(bot.url, submission(view, "VPRODBAD1", CSM, invalid)).text
    for _ in range(3):  # a forger without the signing secret
        body, headers = slack_requests.slash_command("not-the-secret", user_id=CSM, text=TYPED)
        assert httpx.post(f"{bot.url}/slack/events", content=body.encode(),
                          headers=headers).status_code == 401
    wait_for(lambda: len(bot.standin.dm_messages(AE)) >= 6, timeout=30)  # the worker delivered

    after = scrape(bot.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("signalbot_slack_requests_total", kind="slash_command", outcome="acked") == 1
    assert delta("signalbot_slack_requests_total", kind="view_submission", outcome="acked") == 7
    assert delta("signalbot_slack_requests_total", kind="slash_command",
                 outcome="refused_signature") == 3
    assert delta("signalbot_ack_seconds_count", kind="view_submission") == 7
    assert delta("signalbot_ack_seconds_count", kind="slash_command") == 4
    # the worker is another process: its numbers are in the same scrape
    assert delta("signalbot_deliveries_total", kind="slack.post", result="sent") >= 6
    assert value(after, "signalbot_sweep_seconds_count") >= 1
    assert ("signalbot_outbox_oldest_due_age_seconds", ()) in after
    # each process timed its collections after freezing its startup heap (bot.heap)
    assert delta("signalbot_gc_pause_seconds_count", generation="0") >= 1

    records = bot.records()  # every line parses as JSON
    assert {"time", "level", "logger", "message"} <= set(records[0])
    text = bot.log.read_text()
    for secret in (TOKEN, SECRET, TYPED, "Jamie Reyes"):
        assert secret not in text


def _slow_client(url: str, seconds: float) -> float:
    """Send a request a byte at a time; how long until the server closed the connection."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=seconds + 5) as sock:
        for byte in b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            try:
                sock.sendall(bytes([byte]))
                time.sleep(0.25)
                sock.settimeout(0.01)
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                pass
            except OSError:
                break
            finally:
                sock.settimeout(seconds + 5)
            if time.monotonic() - started > seconds:
                break
    return time.monotonic() - started


def test_slow_loris_holds_each_thread_for_the_request_timeout_at_most(bot):
    # 12 clients trickling bytes: more than the 2 workers x 4 threads.
    with ThreadPoolExecutor(12) as pool:
        slow = [pool.submit(_slow_client, bot.url, 15) for _ in range(12)]
        time.sleep(1)
        asked = time.monotonic()
        assert httpx.get(f"{bot.url}/livez", timeout=10).status_code == 200
        waited = time.monotonic() - asked
        held = [future.result() for future in slow]
    assert max(held) < 8, held  # closed at the 2 s deadline (plus scheduling), not at 15 s
    assert waited < 8


def test_a_body_that_never_arrives_is_answered_408(bot):
    host, port = bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: "
                     + str(int(time.time())).encode()
                     + b"\r\nContent-Length: 1000\r\n\r\ntoken=1")
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 8
    assert _status(bot.url, "/livez") == 200


def test_sigterm_mid_burst_loses_nothing_and_sends_nothing_twice(tmp_path, standin):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    for user in ("U0REVOPS1",):
        standin.add_user(user, name=user)
    bot = start(tmp_path, standin, url, "first", SIGNALBOT_SHUTDOWN_GRACE="5")
    view = modal(bot.url, standin, CSM)
    acked: list[str] = []

    def send(index: int) -> None:
        view_id = f"VBURST{index:04d}"
        try:
            values = signal_values("Globex Corp", (AE, AE2)[index % 2])
            answer = post(bot.url, submission(view, view_id, CSM, values), timeout=15)
        except httpx.HTTPError:
            return
        if answer.status_code == 200 and "errors" not in answer.text:
            acked.append(f"view:{view_id}")

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(send, index) for index in range(30)]
        wait_for(lambda: len(acked) >= 10, timeout=30)
        bot.proc.send_signal(signal.SIGTERM)
        for future in futures:
            future.result()
    assert bot.proc.wait(timeout=30) == 0
    assert len(acked) >= 10

    engine = make_engine(url)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(Signal.submission_key)))
        claimed = conn.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "sending"))
    print(f"acked {len(acked)} of 30 before SIGTERM; {len(stored)} stored")
    assert set(acked) <= stored  # every acked submission was committed before its ack
    assert claimed is None  # the worker released what it had claimed

    second = start(tmp_path, standin, url, "second")

    def ae_cards() -> set[str]:  # signal ids with a card in an AE's DM (Slack paces 1/s each)
        posts = standin.dm_messages(AE) + standin.dm_messages(AE2)
        keys = [(m.get("metadata") or {}).get("event_payload", {}).get("key", "") for m in posts]
        return {key.split(":")[1] for key in keys if key.startswith("card:")}

    try:
        wait_for(lambda: len(ae_cards()) >= len(stored), timeout=60)
        time.sleep(1)
    finally:
        assert second.stop() == 0
    assert len(ae_cards()) == len(stored)  # every stored signal reached its AE ...
    assert standin.duplicates() == []  # ... once
    with engine.connect() as conn:
        stuck = conn.scalar(select(OutboxMessage.id).where(
            OutboxMessage.status.in_(("held", "sending"))))
    engine.dispose()
    assert stuck is None  # what is not sent yet is pending for the next start, not claimed


def _started(bot: Bot, name: str) -> list[int]:
    prefix = f"started {name} (pid "
    return [int(r["message"][len(prefix):-1]) for r in bot.records()
            if r["message"].startswith(prefix)]


def test_a_worker_that_dies_is_restarted(bot):
    (first,) = _started(bot, "worker")
    os.kill(first, signal.SIGKILL)
    restarted = wait_for(lambda: _started(bot, "worker")[1:], timeout=30)
    assert restarted[0] != first
    view = modal(bot.url, bot.standin, CSM)
    values = signal_values("Globex Corp", AE, note="after the restart")
    before = len(bot.standin.dm_messages(AE))
    assert post(bot.url, submission(view, "VRESTART1", CSM, values)).status_code == 200
    wait_for(lambda: len(bot.standin.dm_messages(AE)) > before, timeout=30)  # the new one sends
