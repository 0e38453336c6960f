"""`make demo`: one protocol cycle, run by the real bot against the local Slack stand-in.

No workspace and no tokens: the stand-in plays Slack, a script plays the people (signed
requests, as Slack would send them), and the bot runs as it does in production — Bolt over
HTTP, the outbox, the SLA sweep on its interval — with SLAs of a few seconds.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from blocks import card
from blocks.charts import CHART, chart_lines, chart_of, table_lines, table_of
from bot.app import create_app
from bot.config import load_config
from bot.delivery import make_client
from bot.services import Services
from bot.settings import Settings
from bot.web import serve_in_thread, wsgi_app
from bot.worker import Worker
from service.digest import post_digest as post_digest_for_week
from standin import SlackStandin
from standin import requests as slack
from standin.forms import state_values
from storage.db import upgrade
from storage.models import Signal

SECRET = "demo-signing-secret"
PEOPLE = {
    "U0CSM0001": "Casey (CSM)",
    "U0AE00001": "Alex (AE)",
    "U0AE00002": "Avery (AE)",
    "U0MGR0001": "Morgan (sales manager)",
    "U0REVOPS1": "Robin (RevOps)",
}
CSM, ALEX, AVERY, MANAGER = "U0CSM0001", "U0AE00001", "U0AE00002", "U0MGR0001"
CONFIG = """
timezone: America/New_York
sla:
  hot:   {ack: 3s, contact: 30s}
  warm:  {ack: 4s, contact: 30s}
  watch: {review: 7d}
  reminders: []
scheduler: {sweep_interval: 1s}
roster:
  managers: {U0AE00001: U0MGR0001, U0AE00002: U0MGR0001}
  admins: [U0REVOPS1]
digest: {channel: C0DIGEST01, schedule: "sun 23:59"}  # the demo posts it itself
"""
HOT = {
    "account": "Globex Corp",
    "signal_type": "product:seat_utilisation",
    "detail": "Seat utilisation at 89%",
    "buyer_name": "Jamie Reyes",
    "buyer_title": "VP Operations",
    "timeline": "Q3, before the July budget freeze",
    "note": "Champion said the ops team is 6 people and growing; they hit the seat cap weekly.",
    "urgency": "hot",
    "ae": ALEX,
    "qualification": ["budget", "buyer", "timeline", "fit"],
    "est_arr": "48000",
}
WARM = {
    "account": "Initech",
    "signal_type": "behavioral:competitor_mentioned",
    "detail": "Evaluating a competitor's analytics add-on",
    "buyer_name": "Pat Lee",
    "buyer_title": "Director of Finance",
    "timeline": "Next quarter",
    "note": "Mentioned <Competitor> & asked whether our analytics tier does the same.",
    "urgency": "warm",
    "ae": AVERY,
    "qualification": ["budget", "buyer", "fit"],
}


class Demo:
    """The stand-in, the bot (HTTP + worker) and a scripted Slack client."""

    def __init__(self, workdir: Path):
        self.standin = SlackStandin().start()
        for user, name in PEOPLE.items():
            self.standin.add_user(user, name=name)
        config_file = workdir / "signalbot.yml"
        config_file.write_text(CONFIG)
        url = f"sqlite:///{workdir / 'demo.db'}"
        upgrade(url)
        settings = Settings(
            slack_bot_token="xoxb-demo",
            slack_signing_secret=SECRET,
            database_url=url,
            slack_api_url=self.standin.base_url,
        )
        self.services = Services.build(settings, load_config(config_file))
        client = make_client("xoxb-demo", self.standin.base_url)
        self.server = serve_in_thread(wsgi_app(self.services, create_app(self.services, client)))
        self.worker = Worker(self.services, client)
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.server.shutdown()
        self.standin.stop()

    def post(self, built: tuple[str, dict[str, str]]) -> httpx.Response:
        body, headers = built
        port = self.server.server_port
        return httpx.post(
            f"http://127.0.0.1:{port}/slack/events",
            content=body.encode(),
            headers=headers,
            timeout=10,
        )

    def log_signal(self, values: dict[str, Any]) -> int:
        """The CSM types `/signal <account>` and submits the form; returns the signal id."""
        before = len(self.standin.views_opened())
        self.post(slack.slash_command(SECRET, user_id=CSM, text=values["account"]))
        view = wait(lambda: self.standin.views_opened()[before:])[-1]
        self.post(
            slack.view_submission(
                SECRET, user_id=CSM, view=view, state_values=state_values(view, values)
            )
        )
        with self.services.unit_of_work() as session:
            return session.scalar(select(func.max(Signal.id)))

    def record_outcome(self, signal_id: int, user: str, values: dict[str, Any]) -> None:
        """Press Record outcome, then fill in and submit the modal it opens."""
        before = len(self.standin.views_opened())
        self.press(card.RECORD_OUTCOME, signal_id, user)
        view = wait(lambda: self.standin.views_opened()[before:])[-1]
        self.post(
            slack.view_submission(
                SECRET, user_id=user, view=view, state_values=state_values(view, values)
            )
        )

    def press(self, action_id: str, signal_id: int, user: str) -> None:
        self.post(
            slack.block_actions(
                SECRET,
                user_id=user,
                action_id=action_id,
                value=str(signal_id),
                channel_id=self.standin.dm_channel(user),
            )
        )


def wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll until `check` returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo timed out waiting for the bot")
        time.sleep(0.05)
    return result


def readable(message: dict[str, Any]) -> str:
    """A Slack message as plain lines: sections, fields, context, [buttons]."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        if block["type"] == "section":
            if "text" in block:
                lines.append(block["text"]["text"])
            lines += [f["text"].replace("\n", ": ", 1) for f in block.get("fields", [])]
        elif block["type"] == "context":
            lines += [e.get("text", "") for e in block["elements"]]
        elif block["type"] == "actions":
            lines.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        elif block["type"] == "header":
            lines.append(block["text"]["text"].upper())
        elif block["type"] == CHART and block["chart"]["type"] != "pie":
            lines += ["[chart] " + line for line in chart_lines(chart_of(block))]
        elif block["type"] == "table":
            lines += ["[table] " + line for line in table_lines(table_of(block))]
    return _plain("\n".join(lines) or message.get("text", ""))


def _plain(text: str) -> str:
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<@([UW][A-Z0-9]+)>", lambda m: "@" + PEOPLE.get(m[1], m[1]), text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def play(demo: Demo) -> None:
    """The cycle: two signals, one acknowledged, one escalated, outcomes, the digest."""
    say("Casey (CSM) comes off two calls and logs what she heard with /signal.")
    hot = demo.log_signal(HOT)
    warm = demo.log_signal(WARM)
    wait(lambda: demo.standin.dm_messages(ALEX) and demo.standin.dm_messages(AVERY))
    say("Alex (AE) acknowledges the Hot Globex hand-off within its SLA.")
    demo.press(card.ACKNOWLEDGE, hot, ALEX)
    say("Avery (AE) does nothing about the Warm Initech one; its 4-second SLA runs out...")
    wait(lambda: demo.standin.dm_messages(MANAGER))
    say("Alex talks to the customer and records the outcome: won, 48,000 ARR.")
    demo.press(card.LOG_CONTACT, hot, ALEX)
    demo.record_outcome(
        hot,
        ALEX,
        {
            "outcome": "won",
            "won_arr": "48000",
            "reason": "Ops team adds 6 seats plus the analytics tier",
        },
    )
    say("Morgan (manager) nudges Avery, who then closes hers as deferred to next quarter.")
    demo.press(card.NUDGE, warm, MANAGER)
    revisit = (demo.services.now().date() + timedelta(days=90)).isoformat()
    demo.record_outcome(
        warm,
        AVERY,
        {"outcome": "deferred", "revisit_on": revisit, "reason": "Budget frozen until Q2"},
    )
    wait(lambda: len([m for m in demo.standin.dm_messages(CSM) if "Outcome" in m["text"]]) == 2)
    say("The weekly digest is posted to the team channel (this week's, so the demo shows up).")
    post_digest(demo)
    wait(lambda: demo.standin.messages("C0DIGEST01"))
    time.sleep(1.5)  # let the last card updates land
    transcript(demo)


def post_digest(demo: Demo) -> None:
    """Queue the digest of the week the demo ran in (as `signalbot digest --week` does)."""
    today = demo.services.now().astimezone(demo.services.config.timezone).date()
    post_digest_for_week(demo.services, week_of=today)


def say(line: str) -> None:
    """A stage direction in the transcript."""
    print(f"\n>>> {line}", flush=True)


def transcript(demo: Demo) -> None:
    """What each person saw in Slack: their DMs (cards as last updated), then the channel."""
    for user, name in PEOPLE.items():
        messages = demo.standin.dm_messages(user)
        if not messages:
            continue
        print(f"\n{'=' * 72}\n{name}: {len(messages)} direct message(s)\n{'=' * 72}")
        for message in messages:
            edited = " (updated in place)" if message.get("updated") else ""
            print(f"--- message{edited}\n{readable(message)}\n")
    for message in demo.standin.messages("C0DIGEST01"):
        print(f"\n{'=' * 72}\n#expansion-digest (C0DIGEST01)\n{'=' * 72}\n{readable(message)}")
    problems = demo.standin.rejections
    print(
        f"\nSlack calls: {len(demo.standin.calls)}; refused by Block Kit validation: "
        f"{len(problems)}; duplicate messages: {len(demo.standin.duplicates())}"
    )
    if problems or demo.standin.duplicates():
        raise SystemExit("the demo found a problem (see above)")


def main(argv: list[str] | None = None) -> int:
    """Run the demo and print the transcript."""
    parser = argparse.ArgumentParser(prog="signalbot-demo", description=__doc__)
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        demo = Demo(Path(tmp))
        try:
            play(demo)
        finally:
            demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
