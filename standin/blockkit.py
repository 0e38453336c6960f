"""Block Kit blocks slack_sdk 3.48 does not model (or models loosely), checked as Slack does.

`chart_errors` checks a data visualization block (`type: data_visualization`) against Slack's
reference page, https://docs.slack.dev/reference/block-kit/blocks/data-visualization-block
(released 16 June 2026, https://docs.slack.dev/changelog/2026/06/16/block-kit-data-visualization-block).
From that page: `title` required, at most 50 characters; `chart` required, one of pie, bar,
area, line; pie `segments` 1-6, each a `label` of at most 20 characters and a `value` > 0;
bar/area/line `series` 1-6 and a required `axis_config`; a series has a `name` (legend).

The stored copy of that page we could read ends inside the "Data Series" table, so the limits
below it (series name length, points per series, category label and axis title lengths) are
taken from the crate that cites that page field by field (slack-messaging 0.7.8,
`blocks/data_visualization/charts/{data_series,axis_config}.rs`): series name at most 20
characters, 1-20 data points of `{label, value}`, axis `categories` at most 20 characters each,
`x_label` / `y_label` at most 50. Where sources disagree we keep the stricter reading (Slack's
"max 6" series, not the 12 another crate claims), and refuse what no source names: unknown
keys, duplicate series names, points whose label is not a category, non-numeric values.

`table_errors` adds to slack_sdk's `TableBlock` (which checks only that rows exist) the limits
of https://docs.slack.dev/reference/block-kit/blocks/table-block: at most 100 rows, at most 20
cells a row, cells `raw_text` or `rich_text`, `column_settings` at most 20. Stricter than that
page: every row has the same number of cells, and a message holds one table (Slack answers
`only_one_table_allowed` otherwise, as widely reported).

Only stdlib here: the stand-in models Slack, independently of what the bot builds.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

TITLE_MAX = 50
CHART_TYPES = ("pie", "bar", "area", "line")
SEGMENTS_MAX = 6
SERIES_MAX = 6
LABEL_MAX = 20  # segment labels, series names, category labels
POINTS_MAX = 20
AXIS_TITLE_MAX = 50
BLOCK_ID_MAX = 255
TABLE_ROWS_MAX = 100
TABLE_CELLS_MAX = 20
TABLE_CELL_TYPES = ("raw_text", "rich_text")
TABLES_PER_MESSAGE = 1

_BLOCK_KEYS = {"type", "title", "chart", "block_id"}
_CHART_KEYS = {"pie": {"type", "segments"}, "bar": {"type", "series", "axis_config"},
               "area": {"type", "series", "axis_config"}, "line": {"type", "series", "axis_config"}}
_AXIS_KEYS = {"categories", "x_label", "y_label"}


def chart_errors(block: Any, path: str) -> list[str]:
    """Errors of one data visualization block, each naming its JSON pointer (empty = valid)."""
    if not isinstance(block, dict):
        return [f"block must be an object [json-pointer:{path}]"]
    errors = _unknown(block, _BLOCK_KEYS, path)
    errors += _text(block, "title", TITLE_MAX, path, required=True)
    errors += _text(block, "block_id", BLOCK_ID_MAX, path, required=False)
    chart = block.get("chart")
    if not isinstance(chart, dict):
        return errors + [f"chart is required and must be an object [json-pointer:{path}/chart]"]
    kind = chart.get("type")
    if kind not in CHART_TYPES:
        return errors + [f"chart type must be one of {', '.join(CHART_TYPES)} "
                         f"[json-pointer:{path}/chart/type]"]
    errors += _unknown(chart, _CHART_KEYS[kind], f"{path}/chart")
    if kind == "pie":
        return errors + _segments(chart.get("segments"), f"{path}/chart/segments")
    categories, axis_errors = _axis(chart.get("axis_config"), f"{path}/chart/axis_config")
    return errors + axis_errors + _series(chart.get("series"), categories,
                                          f"{path}/chart/series")


def _unknown(obj: dict[str, Any], allowed: set[str], path: str) -> list[str]:
    return [f"unknown field {key!r} [json-pointer:{path}/{key}]"
            for key in sorted(set(obj) - allowed)]


def _text(obj: dict[str, Any], key: str, limit: int, path: str, *, required: bool) -> list[str]:
    value = obj.get(key)
    if value is None:
        return [f"{key} is required [json-pointer:{path}/{key}]"] if required else []
    if not isinstance(value, str) or not value.strip():
        return [f"{key} must be a non-empty string [json-pointer:{path}/{key}]"]
    if len(value) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{path}/{key}]"]
    return []


def _count(items: Any, low: int, high: int, path: str) -> list[str]:
    if not isinstance(items, list):
        return [f"must be an array [json-pointer:{path}]"]
    if len(items) < low:
        return [f"must provide at least {low} items [json-pointer:{path}]"]
    if len(items) > high:
        return [f"no more than {high} items allowed [json-pointer:{path}]"]
    return []


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and value == value  # not NaN


def _segments(segments: Any, path: str) -> list[str]:
    errors = _count(segments, 1, SEGMENTS_MAX, path)
    if errors:
        return errors
    for i, segment in enumerate(segments):
        here = f"{path}/{i}"
        if not isinstance(segment, dict):
            errors.append(f"segment must be an object [json-pointer:{here}]")
            continue
        errors += _unknown(segment, {"label", "value"}, here)
        errors += _text(segment, "label", LABEL_MAX, here, required=True)
        value = segment.get("value")
        if not _number(value) or value <= 0:
            errors.append(f"value must be a number greater than 0 [json-pointer:{here}/value]")
    return errors


def _axis(axis: Any, path: str) -> tuple[list[str], list[str]]:
    if not isinstance(axis, dict):
        return [], [f"axis_config is required and must be an object [json-pointer:{path}]"]
    errors = _unknown(axis, _AXIS_KEYS, path)
    errors += _text(axis, "x_label", AXIS_TITLE_MAX, path, required=False)
    errors += _text(axis, "y_label", AXIS_TITLE_MAX, path, required=False)
    categories = axis.get("categories")
    count = _count(categories, 1, POINTS_MAX, f"{path}/categories")
    if count:
        return [], errors + count
    for i, label in enumerate(categories):
        if not isinstance(label, str) or not label.strip():
            errors.append("category must be a non-empty string "
                          f"[json-pointer:{path}/categories/{i}]")
        elif len(label) > LABEL_MAX:
            errors.append(f"must be less than {LABEL_MAX + 1} characters "
                          f"[json-pointer:{path}/categories/{i}]")
    if len(set(map(str, categories))) != len(categories):
        errors.append(f"categories must be unique [json-pointer:{path}/categories]")
    return [str(c) for c in categories], errors


def _series(series: Any, categories: list[str], path: str) -> list[str]:
    errors = _count(series, 1, SERIES_MAX, path)
    if errors:
        return errors
    names: list[Any] = []
    for i, one in enumerate(series):
        here = f"{path}/{i}"
        if not isinstance(one, dict):
            errors.append(f"series must be an object [json-pointer:{here}]")
            continue
        errors += _unknown(one, {"name", "data"}, here)
        errors += _text(one, "name", LABEL_MAX, here, required=True)
        names.append(one.get("name"))
        errors += _points(one.get("data"), categories, f"{here}/data")
    if len(set(map(str, names))) != len(names):
        errors.append(f"series names must be unique [json-pointer:{path}]")
    return errors


def _points(points: Any, categories: list[str], path: str) -> list[str]:
    errors = _count(points, 1, POINTS_MAX, path)
    if errors:
        return errors
    for i, point in enumerate(points):
        here = f"{path}/{i}"
        if not isinstance(point, dict):
            errors.append(f"data point must be an object [json-pointer:{here}]")
            continue
        errors += _unknown(point, {"label", "value"}, here)
        if categories and point.get("label") not in categories:
            errors.append("label must be one of axis_config.categories "
                          f"[json-pointer:{here}/label]")
        if not _number(point.get("value")):
            errors.append(f"value must be a number [json-pointer:{here}/value]")
    return errors


def table_errors(block: dict[str, Any], path: str) -> list[str]:
    """Errors of a table block beyond what slack_sdk's TableBlock checks (empty = valid)."""
    rows = block.get("rows")
    errors = _count(rows, 1, TABLE_ROWS_MAX, f"{path}/rows")
    if errors:
        return errors
    widths = set()
    for i, row in enumerate(rows):
        errors += _count(row, 1, TABLE_CELLS_MAX, f"{path}/rows/{i}")
        if not isinstance(row, list):
            continue
        widths.add(len(row))
        for j, cell in enumerate(row):
            here = f"{path}/rows/{i}/{j}"
            if not isinstance(cell, dict) or cell.get("type") not in TABLE_CELL_TYPES:
                errors.append(f"cell type must be one of {', '.join(TABLE_CELL_TYPES)} "
                              f"[json-pointer:{here}]")
            elif cell["type"] == "raw_text" and (not isinstance(cell.get("text"), str)
                                                 or not cell["text"]):
                errors.append(f"raw_text needs a non-empty text [json-pointer:{here}/text]")
    if len(widths) > 1:
        errors.append(f"every row must have the same number of cells [json-pointer:{path}/rows]")
    settings = block.get("column_settings")
    if settings is not None:
        errors += _count(settings, 0, TABLE_CELLS_MAX, f"{path}/column_settings")
    return errors
