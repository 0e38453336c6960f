"""The fast tier: the rules in `protocol/`, called directly, with no database and no Slack.

Nothing here may import `storage`, `service`, `blocks`, `handlers` or `bot`
(test_no_wiring.py checks); run it alone with `pytest tests/protocol`.
"""
