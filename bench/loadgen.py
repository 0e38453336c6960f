"""Open-loop load: signed `/signal` commands and modal submissions at a fixed rate.

Run as its own process (`python -m bench.loadgen SPEC OUT`) so its event loop does not share
a GIL with the Slack stand-in. Every submission's body is built before the clock starts and
signed as it leaves (Bolt refuses a request timestamp older than 5 minutes, as Slack's
replay rule says: a long soak would otherwise send stale signatures); a `/signal` command is
built as it leaves, because its trigger_id carries the time it was issued and Slack (and the
stand-in) refuse a trigger older than 3 s. Request i leaves at
start + i / rate whatever happened to the earlier ones (open loop), and its latency is
measured from the moment it left to the last byte of the answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.procs import SECRET, command, signal_values, submission
from standin.requests import sign

MIX = (("command", 0.2), ("valid", 0.6), ("invalid", 0.2))
TIMEOUT = 10.0


def build(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(kind, view id or "", body, headers) for every request of the run, in sending order."""
    rng = random.Random(spec["seed"])
    count = int(spec["rate"] * spec["seconds"])
    out = []
    for i in range(count):
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        user, ae = rng.choice(spec["csms"]), rng.choice(spec["aes"])
        account = f"Bench Account {rng.randrange(300)}"
        view_id = f"V{spec['prefix']}{i:07d}" if kind != "command" else ""
        if kind == "command":
            built = (f"{account} hot", user)  # signed as it leaves (_fire)
        else:
            changes = {"buyer_name": None} if kind == "invalid" else {}
            built = submission(spec["view"], view_id, user, signal_values(account, ae, **changes))
        out.append((kind, view_id, *built))
    return out


def classify(kind: str, response: httpx.Response) -> str:
    """ok, or what went wrong: http_<status>, rejected (a valid form refused), accepted
    (an invalid form let through)."""
    if response.status_code != 200:
        return f"http_{response.status_code}"
    refused = "response_action" in response.text and '"errors"' in response.text
    if kind == "valid" and refused:
        return "rejected"
    if kind == "invalid" and not refused:
        return "accepted"
    return "ok"


async def _fire(client: httpx.AsyncClient, url: str, request: tuple, planned: float,
                results: list[dict[str, Any]], response_url: str | None = None) -> None:
    kind, view_id, body, headers = request
    if kind == "command":  # a fresh trigger_id, as Slack issues it with the command
        body, headers = command(headers, body, response_url=response_url)
    else:  # signed now: the timestamp is checked against the clock
        headers = {**headers, **sign(SECRET, body)}
    loop = asyncio.get_running_loop()
    lag = loop.time() - planned
    start = time.perf_counter()
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
        outcome = classify(kind, response)
    except httpx.HTTPError as exc:
        outcome = f"exc_{type(exc).__name__}"
    results.append({"kind": kind, "view_id": view_id, "outcome": outcome, "lag": lag,
                    "latency": time.perf_counter() - start})


async def run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Send the whole run open-loop; wait for every answer (each bounded by TIMEOUT)."""
    requests = build(spec)
    url = f"{spec['url']}/slack/events"
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=4000, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        tasks = []
        for i, request in enumerate(requests):
            planned = start + i / spec["rate"]
            await asyncio.sleep(max(0.0, planned - loop.time()))
            tasks.append(asyncio.create_task(
                _fire(client, url, request, planned, results, spec.get("response_url"))))
        await asyncio.gather(*tasks)
    return results


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main(sys.argv[1:])
