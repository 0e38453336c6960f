"""The fast tier stays fast: importing every rule loads none of the wiring, nor a database."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("calendar", "catalogue", "config", "escalation", "policy", "product_data",
           "qualification", "readiness", "record", "routing", "sla", "stages", "triggers",
           "usage")


def test_importing_the_rules_loads_no_wiring_no_sqlalchemy_no_slack_no_yaml():
    imports = "; ".join(f"import protocol.{name}" for name in MODULES)
    check = (f"{imports}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & "
             "{'bot', 'handlers', 'service', 'storage', 'blocks', 'sqlalchemy', 'slack_sdk', "
             "'slack_bolt', 'yaml', 'httpx'}))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
