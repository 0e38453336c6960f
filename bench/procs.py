"""Real `signalbot` processes for the benchmarks, and the signed Slack traffic they are sent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, free_port
from standin import SlackStandin
from standin import requests as slack_requests
from tests.support import VALID_SIGNAL, state_values

SECRET = "bench-signing-secret"


def bot_env(folder: Path, database_url: str, standin: SlackStandin, config: str) -> dict:
    """The environment of a bot process: tokens, the stand-in, the database, the config."""
    config_file = folder / "signalbot.yml"
    config_file.write_text(config)
    # the bench's own settings stay out, but the worker's niceness may be compared on purpose
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNALBOT_"))
           or k == "SIGNALBOT_WORKER_NICE"}
    env.update(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=standin.base_url, DATABASE_URL=database_url,
               SIGNALBOT_CONFIG=str(config_file), PYTHONPATH=str(ROOT))
    return env


@dataclass
class Proc:
    """A `python -m bot.cli ...` child; its output goes to a log file."""

    proc: subprocess.Popen
    log: Path
    url: str | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def cli(folder: Path, env: dict, *args: str, name: str = "bot") -> Proc:
    """Start `python -m bot.cli *args` in `folder`."""
    log = folder / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=folder,
                                stdout=out, stderr=subprocess.STDOUT)
    return Proc(proc, log)


def upgrade(folder: Path, env: dict) -> None:
    """`signalbot db upgrade`, once, before replicas start (they would race to migrate)."""
    result = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env,
                            cwd=folder, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"db upgrade failed: {result.stderr[-2000:]}")


def web(folder: Path, env: dict, *extra: str, name: str = "web", wait: bool = True) -> Proc:
    """`signalbot run --http` on a free port (once /healthz answers 200, if `wait`)."""
    port = free_port()
    bot = cli(folder, env, "run", "--http", "--host", "127.0.0.1", "--port", str(port), *extra,
              name=name)
    bot.url = f"http://127.0.0.1:{port}"
    return healthy(bot) if wait else bot


def healthy(bot: Proc, timeout: float = 60) -> Proc:
    """Wait until the web process answers /healthz with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.proc.poll() is not None:
            raise RuntimeError(f"{bot.log.stem} exited ({bot.proc.returncode}):\n{bot.tail()}")
        try:
            if httpx.get(f"{bot.url}/healthz", timeout=1).status_code == 200:
                return bot
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    bot.stop()
    raise RuntimeError(f"{bot.log.stem} did not become healthy:\n{bot.tail()}")


@contextmanager
def running(*procs: Proc) -> Iterator[None]:
    """Stop the processes however the block ends."""
    try:
        yield
    finally:
        for proc in procs:
            proc.stop()


# -- Slack traffic ---------------------------------------------------------------------------


def command(user: str, text: str = "", response_url: str | None = None
            ) -> tuple[str, dict[str, str]]:
    """A signed `/signal` command (with a new trigger_id: it lives 3 s)."""
    return slack_requests.slash_command(SECRET, user_id=user, text=text,
                                        response_url=response_url)


def signal_values(account: str, ae: str, **changes: Any) -> dict[str, Any]:
    """What a CSM types into the modal: a valid, qualified Hot signal unless `changes` say so."""
    return {**VALID_SIGNAL, "account": account, "ae": ae, **changes}


def submission(view: dict[str, Any], view_id: str, user: str,
               values: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A signed view_submission of the signal modal `view`, under a new view id."""
    return slack_requests.view_submission(SECRET, user_id=user, view=view, view_id=view_id,
                                          state_values=state_values(view, values))


def post(url: str, built: tuple[str, dict[str, str]], timeout: float = 10) -> httpx.Response:
    body, headers = built
    return httpx.post(f"{url}/slack/events", content=body.encode(), headers=headers,
                      timeout=timeout)


def modal(url: str, standin: SlackStandin, user: str, timeout: float = 10) -> dict[str, Any]:
    """The signal modal as the bot really opens it: `/signal`, then the stand-in's views.open."""
    before = len(standin.views_opened())
    response = post(url, command(user))
    if response.status_code != 200:
        raise RuntimeError(f"/signal answered {response.status_code}: {response.text[:200]}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        opened = standin.views_opened()[before:]
        if opened:
            return opened[-1]
        time.sleep(0.02)
    raise RuntimeError("the bot did not open the signal modal")
