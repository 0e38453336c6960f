"""The digest's charts and table: within Slack's limits for a quiet week, a busy week and a first
week; the same figures in words; refused as Slack would refuse them; and the fallback for a
workspace that refuses the chart block, sent once through the outbox."""

from __future__ import annotations

import copy
import re

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from blocks.charts import CHART, Chart, Series, chart_block, chart_lines
from blocks.digest import digest_blocks, digest_text
from service.digest import compute_digest, post_digest
from standin.blockkit import chart_errors, table_errors
from standin.server import SlackError, check_message
from storage.models import OutboxMessage
from tests.support import validate_message_blocks as validate
from tests.test_digest import (
    NOW,
    WEEK_END,
    WEEK_START,
    bulk_week,
    history,  # noqa: F401 - a fixture
)

# -- the validator: a malformed chart fails here as it would in Slack --------------------------


def good_chart() -> dict:
    return chart_block(Chart("line", "SLA attainment (%)", ("16 Nov", "23 Nov"),
                             (Series("Acknowledged", (80, 75)), Series("Contacted", (60, 70))),
                             x_label="Week starting", y_label="% within SLA"))


def broken(change) -> dict:
    block = copy.deepcopy(good_chart())
    change(block)
    return block


@pytest.mark.parametrize(("change", "pointer"), [
    (lambda b: b.update(title="x" * 51), "/title"),
    (lambda b: b.pop("title"), "/title"),
    (lambda b: b.pop("chart"), "/chart"),
    (lambda b: b["chart"].update(type="scatter"), "/chart/type"),
    (lambda b: b["chart"].pop("axis_config"), "/chart/axis_config"),
    (lambda b: b["chart"].update(series=b["chart"]["series"] * 4), "/chart/series"),  # 8 > 6
    (lambda b: b["chart"].update(series=[]), "/chart/series"),
    (lambda b: b["chart"]["series"][0].update(name="n" * 21), "/chart/series/0/name"),
    (lambda b: b["chart"]["series"][1].update(name="Acknowledged"), "/chart/series"),
    (lambda b: b["chart"]["series"][0]["data"][0].update(label="30 Nov"),
     "/chart/series/0/data/0/label"),
    (lambda b: b["chart"]["series"][0]["data"][0].update(value="80%"),
     "/chart/series/0/data/0/value"),
    (lambda b: b["chart"]["series"][0]["data"][0].update(value=True),
     "/chart/series/0/data/0/value"),
    (lambda b: b["chart"]["axis_config"].update(categories=[f"w{i}" for i in range(21)]),
     "/chart/axis_config/categories"),
    (lambda b: b["chart"]["axis_config"].update(y_label="y" * 51), "/chart/axis_config/y_label"),
    (lambda b: b["chart"]["axis_config"]["categories"].__setitem__(0, "c" * 21),
     "/chart/axis_config/categories/0"),
    (lambda b: b.update(subtitle="extra"), "/subtitle"),
])
def test_a_malformed_chart_is_refused_naming_the_field(change, pointer):
    assert chart_errors(good_chart(), "/blocks/0") == []
    errors = chart_errors(broken(change), "/blocks/0")
    assert any(f"[json-pointer:/blocks/0{pointer}]" in e for e in errors), errors


def test_pie_segments():
    pie = {"type": CHART, "title": "Outcomes",
           "chart": {"type": "pie", "segments": [{"label": "Won", "value": 3},
                                                 {"label": "Lost", "value": 1}]}}
    assert chart_errors(pie, "/b") == []
    pie["chart"]["segments"][1]["value"] = 0  # Slack: "must be greater than 0"
    assert chart_errors(pie, "/b") == ["value must be a number greater than 0 "
                                       "[json-pointer:/b/chart/segments/1/value]"]
    pie["chart"]["segments"] = [{"label": f"s{i}", "value": 1} for i in range(7)]
    assert chart_errors(pie, "/b") == [
        "no more than 6 items allowed [json-pointer:/b/chart/segments]"]


def test_tables_within_slack_limits_and_one_a_message():
    row = [{"type": "raw_text", "text": "x"}] * 3
    table = {"type": "table", "rows": [row] * 100}
    assert table_errors(table, "/blocks/0") == []
    assert table_errors({"type": "table", "rows": [row] * 101}, "/b") == [
        "no more than 100 items allowed [json-pointer:/b/rows]"]
    assert table_errors({"type": "table", "rows": [[row[0]] * 21]}, "/b") == [
        "no more than 20 items allowed [json-pointer:/b/rows/0]"]
    assert "same number of cells" in table_errors({"type": "table", "rows": [row, row[:2]]},
                                                  "/b")[0]
    small = {"type": "table", "rows": [row]}
    with pytest.raises(SlackError) as refused:
        check_message({"text": "t", "blocks": [small, copy.deepcopy(small)]})
    assert refused.value.error == "only_one_table_allowed"
    with pytest.raises(SlackError) as refused:
        check_message({"text": "t", "blocks": [broken(lambda b: b.update(title="x" * 51))]})
    assert refused.value.error == "invalid_blocks"


# -- the digest: quiet, busy and first weeks ----------------------------------------------------


def figures_in_words(text: str, title: str) -> dict[str, list[tuple[str, float]]]:
    """Parse 'Title: Name: 16 Nov 80%, 23 Nov 75%; Name2: …' (or one unnamed series) back
    into numbers, independently of how the digest writes it."""
    line = next(line for line in text.splitlines() if line.startswith(title + ":"))
    body = line[len(title) + 1:].strip()
    series = {}
    for part in body.split("; "):
        name, _, points = part.rpartition(": ") if ": " in part else ("", "", part)
        series[name] = [(m.group(1), float(m.group(2).replace(",", "")))
                        for m in re.finditer(r"([^,]+?) ([\d,]+(?:\.\d+)?)%?(?:, |$)", points)]
    return series


def check_charts_match_words(text: str, blocks: list[dict]) -> int:
    """Every chart's numbers equal the ones written next to it and in the `text` fallback."""
    charts = [b for b in blocks if b["type"] == CHART]
    for chart in charts:
        i = blocks.index(chart)
        words = blocks[i + 1]["elements"][0]["text"]  # the context block right after it
        for where in (words, text):
            parsed = figures_in_words(where, chart["title"])
            drawn = {s["name"]: [(p["label"], float(p["value"])) for p in s["data"]]
                     for s in chart["chart"]["series"]}
            if list(parsed) == [""]:  # one series: written without its name
                parsed = {next(iter(drawn)): parsed[""]}
            assert parsed == drawn, (where, drawn)
    return len(charts)


def digest_of(services):
    with services.unit_of_work() as session:
        return compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)


# busy: 300 signals over 41 AEs (bulk_week leaves every fifth signal unqualified, so 41
# rather than 40 keeps every AE with hand-offs: 41 table rows)
@pytest.mark.parametrize(("signals", "aes"), [(3, 2), (300, 41)], ids=["quiet", "busy"])
def test_a_first_week_quiet_or_busy_fits_slack_and_says_it_in_words(services, signals, aes):
    bulk_week(services, n=signals, aes=aes, csms=12)  # nothing before this week
    d = digest_of(services)
    text, blocks = digest_blocks(d)
    validate(blocks)
    assert check_charts_match_words(text, blocks) == 2
    funnel = next(b for b in blocks if b["type"] == CHART and b["chart"]["type"] == "bar")
    assert [p["value"] for p in funnel["chart"]["series"][0]["data"]][0] == signals
    trend = next(b for b in blocks if b["type"] == CHART and b["chart"]["type"] == "line")
    assert trend["chart"]["axis_config"]["categories"] == ["16 Nov"]  # no history: one week
    [table] = [b for b in blocks if b["type"] == "table"]
    assert len(table["rows"]) == 1 + len(d.week.per_ae) == 1 + min(aes, signals)
    assert all(len(row) == 5 for row in table["rows"])
    assert len(text) <= 4000
    shown = digest_text(d)
    assert "SLA attainment, last 8 weeks (%)" in shown and "█" in shown


def test_a_week_with_history_draws_eight_weeks(history):  # noqa: F811
    _, d = history
    assert len(d.sla_weeks) == 8 and d.sla_weeks[-1].first_day == WEEK_START.date()
    text, blocks = digest_blocks(d)
    validate(blocks)
    assert check_charts_match_words(text, blocks) == 2
    trend = next(b for b in blocks if b["type"] == CHART and b["chart"]["type"] == "line")
    # weeks with decided ack and contact clocks only; this week: 3 of 6 and 3 of 4
    assert trend["chart"]["axis_config"]["categories"][-1] == "16 Nov"
    assert [s["data"][-1]["value"] for s in trend["chart"]["series"]] == [50, 75]
    assert "Acknowledged" in "\n".join(chart_lines(_line_of(trend)))


def _line_of(block: dict) -> Chart:
    series = tuple(Series(s["name"], tuple(p["value"] for p in s["data"]))
                   for s in block["chart"]["series"])
    return Chart("line", block["title"], tuple(block["chart"]["axis_config"]["categories"]),
                 series)


def test_an_empty_week_has_no_chart_and_still_fits(services):
    text, blocks = digest_blocks(digest_of(services))
    validate(blocks)
    assert not [b for b in blocks if b["type"] in (CHART, "table")]
    assert "0 signals logged" in text


# -- through the stand-in ------------------------------------------------------------------------


def _a_week_in_slack(slack) -> None:
    with freeze_time("2026-11-17 15:00:00"):
        assert slack.log_signal().status_code == 200
        assert slack.log_signal(account="Initech").status_code == 200


def test_the_charted_digest_is_accepted_by_slack(slack):
    _a_week_in_slack(slack)
    with freeze_time("2026-11-23 14:00:00"):
        assert post_digest(slack.services) == "digest:2026-11-16"
        slack.deliver()
    message, quality = slack.standin.messages("C0DIGEST01")  # in that order
    assert [b["chart"]["type"] for b in message["blocks"] if b["type"] == CHART] == ["line", "bar"]
    assert "Signal quality by CSM* (1 CSM): in the next message" in str(message["blocks"])
    assert quality["text"].startswith("Signal quality by CSM: 16–22 Nov 2026")
    [table] = [b for b in quality["blocks"] if b["type"] == "table"]
    assert [c["text"] for c in table["rows"][1]][1:] == ["2", "0", "0%", "0"]
    assert not slack.standin.rejections


def test_a_workspace_refusing_charts_gets_the_digest_once_without_them(slack):
    _a_week_in_slack(slack)
    slack.standin.refuse_block_types(CHART)
    with freeze_time("2026-11-23 14:00:00"):
        post_digest(slack.services)
        tally = slack.deliver()
        again = slack.deliver()
    assert (tally.held, again.sent, again.held) == (0, 0, 0)  # (the cards' DMs went out too)
    [refused] = slack.standin.rejections
    assert refused.error == "invalid_blocks" and CHART in str(refused.errors)
    message, _quality = slack.standin.messages("C0DIGEST01")
    types = [b["type"] for b in message["blocks"]]
    assert CHART not in types and "table" in types
    words = str(message["blocks"])
    assert "This week's signals, as far as they got: Logged 2, Qualified 2" in words
    assert message["text"].startswith("Weekly expansion digest, 16–22 Nov 2026")
    assert slack.standin.duplicates() == []
    with slack.services.unit_of_work() as session:
        [row] = session.scalars(select(OutboxMessage).where(
            OutboxMessage.key == "digest:2026-11-16")).all()
        assert (row.status, row.attempts) == ("sent", 1)


def test_a_malformed_chart_is_refused_by_the_stand_in_and_held(slack):
    bad = broken(lambda b: b.update(title="SLA attainment per week over the last twelve weeks (%)"))
    with slack.services.unit_of_work() as session:
        session.add(OutboxMessage(key="bad-chart", kind="slack.post", target="C0DIGEST01",
                                  payload={"text": "t", "blocks": [bad]}, status="pending",
                                  due_at=NOW, next_try_at=NOW, created_at=NOW))
    with freeze_time(NOW):
        tally = slack.deliver()
    assert tally.held == 1 and slack.standin.messages("C0DIGEST01") == []
    [refused] = [r for r in slack.standin.rejections if r.method == "chat.postMessage"]
    assert refused.error == "invalid_blocks"
    assert refused.errors == ["must be less than 51 characters [json-pointer:/blocks/0/title]"]
