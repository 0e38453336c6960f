"""`signalbot run`: start the web server, the one worker (and the Socket Mode connection) as
child processes, restart the worker if it dies, and stop them all cleanly on SIGTERM.

The layout, for HTTP mode: this process → `signalbot web` (gunicorn: an arbiter and N web
workers, which never sweep) and `signalbot worker` (the sweep and the outbox delivery).
Socket Mode adds `signalbot socket`, the one process holding the Socket Mode connection; the
web server then serves only /healthz, /livez, /readyz, /metrics and the ingest API.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal as os_signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0
STEADY = 30.0  # a child that ran this long before dying is restarted at once


@dataclass
class Child:
    """One supervised process; `essential` ones stop everything when they die."""

    name: str
    argv: list[str]
    essential: bool = False
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    pids: list[int] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(self.argv, env=env, preexec_fn=_die_with_parent)
        self.started = time.monotonic()
        self.restart_at = None
        self.pids.append(self.proc.pid)
        log.info("started %s (pid %s)", self.name, self.proc.pid)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if `signalbot run` itself is killed (even with -9), so no
    orphan keeps the port or the outbox. Elsewhere the service manager's cgroup does it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, os_signal.SIGTERM)  # PR_SET_PDEATHSIG


def metrics_dir(environ: dict[str, str]) -> tuple[str, bool]:
    """The prometheus_client multiprocess folder, emptied; (path, whether we made it)."""
    given = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        return tempfile.mkdtemp(prefix="signalbot-metrics-"), True
    Path(given).mkdir(parents=True, exist_ok=True)
    for stale in Path(given).glob("*.db"):
        stale.unlink()
    return given, False


def supervise(children: list[Child], grace: float) -> int:
    """Run `children` until SIGTERM/SIGINT or an essential one dies; 0 on a clean stop."""
    env = dict(os.environ)
    folder, made = metrics_dir(env)
    env["PROMETHEUS_MULTIPROC_DIR"] = folder
    stop = threading.Event()
    for sig in (os_signal.SIGTERM, os_signal.SIGINT):
        os_signal.signal(sig, lambda *_: stop.set())
    for child in children:
        child.start(env)
    failed = None
    try:
        while not stop.wait(0.25):
            failed = _check(children, env, folder)
            if failed:
                break
        code = _stop_all(children, grace)
        return 1 if failed else code
    finally:
        if made:
            shutil.rmtree(folder, ignore_errors=True)


def _check(children: list[Child], env: dict[str, str], folder: str) -> Child | None:
    """Restart dead children when their time comes; the essential one that died, if any."""
    now = time.monotonic()
    for child in children:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.start(env)
            continue
        code = child.proc.poll() if child.proc else None
        if code is None:
            continue
        _forget(folder, child.proc.pid)
        if child.essential:
            log.error("%s exited with %s; stopping signalbot", child.name, code)
            return child
        child.failures = 0 if now - child.started >= STEADY else child.failures + 1
        delay = min(MAX_BACKOFF, 2.0 ** child.failures - 1)
        log.error("%s exited with %s; restarting it in %.0fs", child.name, code, delay)
        child.restart_at = now + delay
    return None


def _forget(folder: str, pid: int) -> None:
    try:
        from prometheus_client import multiprocess

        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", folder)
        multiprocess.mark_process_dead(pid, folder)
    except Exception:  # noqa: BLE001 - metrics housekeeping must not stop the supervisor
        log.debug("could not mark pid %s dead for metrics", pid)


def _stop_all(children: list[Child], grace: float) -> int:
    """SIGTERM every child, wait `grace` (plus a margin), kill what is left; 0 if all clean."""
    running = [c for c in children if c.proc and c.proc.poll() is None and c.restart_at is None]
    for child in running:
        child.proc.send_signal(os_signal.SIGTERM)
    deadline = time.monotonic() + grace + 5
    clean = True
    for child in running:
        try:
            code = child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0fs; killed", child.name, grace + 5)
            child.proc.kill()
            child.proc.wait()
            clean = False
            continue
        if code not in (0, -os_signal.SIGTERM):
            log.error("%s exited with %s while stopping", child.name, code)
            clean = False
    log.info("signalbot stopped%s", "" if clean else " (not cleanly)")
    return 0 if clean else 1
