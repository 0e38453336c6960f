"""`signalbot admin show [--json]`: the roster in force (the config's, with the changes admins
made in Slack), the admins, the AEs holding open hand-offs with no manager, and who is away
(under way or ahead) with their cover — what
`/signal admin show` answers in Slack, for a terminal or a script."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from bot.progress import print_json, print_table
from bot.services import Services
from protocol.groups import admin_sources
from protocol.policy import describe
from service.away import upcoming
from service.groups import group_status, memberships, recent_changes
from service.roster import known_people, roster_gaps
from storage.queries import managers


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signalbot admin show`."""
    parser = subparsers.add_parser("admin", help="the roster, admins and roster gaps")
    sub = parser.add_subparsers(dest="admin_action", required=True)
    show = sub.add_parser("show", help="who reports to whom, the admins, the roster gaps")
    show.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    show.set_defaults(handler=show_command)


def roster_report(services: Services) -> dict[str, Any]:
    """The roster as plain data: the stable shape `--json` prints (see the README)."""
    config = services.config
    with services.unit_of_work() as session:
        roster = managers(session, config.managers)
        people = known_people(session)
        gaps = roster_gaps(session, config)
        changed = {slack_id for slack_id, p in people.items() if p.manager_set_by}
        now = services.now()
        away = [{"person": p.person_id, "starts": p.starts.isoformat(),
                 "ends": p.ends.isoformat(), "cover": p.cover_id, "note": p.note,
                 "set_by": p.set_by, "set_at": p.set_at.isoformat(), "now": p.starts <= now}
                for p in upcoming(session, now, limit=500)]
        sources = admin_sources(config, memberships(session))
        groups = group_status(session, config)
        changes = recent_changes(session, limit=20)

    def name(slack_id: str | None) -> str | None:
        person = people.get(slack_id or "")
        return person.name if person is not None else None

    return {
        "roster": [{"person": p, "name": name(p), "manager": m, "manager_name": name(m),
                    "set_in": "slack" if p in changed else "config"}
                   for p, m in sorted(roster.items())],
        "admins": [{"person": a, "name": name(a), "source": ", ".join(src)}
                   for a, src in sources.items()],
        "groups": [{**g, "read_at": _iso(g["read_at"])} for g in groups],
        "group_changes": [{**c, "at": _iso(c["at"])} for c in changes],
        "gaps": [{"person": g, "name": name(g)} for g in gaps],
        "teams": [{"name": t.name, "members": list(t.members), "group": t.group}
                  for t in config.teams],
        "away": [a | {"name": name(a["person"]), "cover_name": name(a["cover"])} for a in away],
        "policies": [describe(p) for p in config.policies],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def show_command(args: argparse.Namespace, services: Services) -> int:
    """Print the roster report: JSON with --json, else a table (rich in a terminal)."""
    report = roster_report(services)
    if args.json:
        print_json(report)
        return 0
    columns = ["person", "name", "manager", "manager name", "set in"]
    print_table("Roster (person → manager)", columns,
                [(r["person"], r["name"], r["manager"], r["manager_name"], r["set_in"])
                 for r in report["roster"]])
    print_table("Admins", ["person", "name", "source"],
                [(a["person"], a["name"], a["source"]) for a in report["admins"]])
    for group in report["groups"]:
        print_table(f"User group {group['group']}", ["members", "read at", "last error"],
                    [(group["members"], group["read_at"] or "not read yet", group["error"] or "")])
    if report["group_changes"]:
        print_table("Group changes (newest first)", ["at", "group", "via", "added", "removed"],
                    [(c["at"], c.get("group"), c.get("via"), " ".join(c.get("added", [])),
                      " ".join(c.get("removed", []))) for c in report["group_changes"]])
    if report["teams"]:
        print_table("Teams (in the config's order)", ["team", "members", "user group"],
                    [(t["name"], ", ".join(t["members"]) or "-", t["group"] or "-")
                     for t in report["teams"]])
    if report["away"]:
        print_table("Away: under way or ahead (the cover acts for them)",
                    ["person", "name", "starts", "ends", "cover", "set by", "now"],
                    [(a["person"], a["name"], a["starts"], a["ends"], a["cover"], a["set_by"],
                      "yes" if a["now"] else "") for a in report["away"]])
    print_table("SLA policies (first match wins; the default is last)",
                ["policy", "matches", "windows", "business hours", "reminders, escalation"],
                [(p["name"], p["match"], p["windows"], p["hours"], p["steps"])
                 for p in report["policies"]])
    if report["gaps"]:
        print_table("Roster gaps: open hand-offs, no manager (their misses go to the admins)",
                    ["person", "name"], [(g["person"], g["name"]) for g in report["gaps"]])
    return 0
