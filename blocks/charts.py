"""Charts and tables in Block Kit: the data visualization block and the table block.

Builders keep inside Slack's limits by construction (cut, never refused); the limits are in
`blocks/limits.py` (`standin/blockkit.py`, which checks them the way Slack does, says where
each number comes from). Every chart has a
`chart_text` and every table a `table_text`: the same figures as words, for the message's
`text` fallback, notifications, screen readers and workspaces that refuse the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blocks import limits
from blocks.kit import Block
from blocks.text import truncate

CHART = "data_visualization"
SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Series:
    """One named line or group of bars: a value per category."""

    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    """A line or bar chart, as plain data: categories along x, series of values up y."""

    kind: str  # "line" | "bar"
    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    unit: str = ""  # appended to values in text ("%")


def chart_block(chart: Chart) -> Block:
    """The data visualization block of a chart, cut to Slack's limits (last points kept)."""
    categories = [truncate(c, limits.CHART_LABEL) for c in chart.categories][-limits.CHART_POINTS:]
    keep = len(categories)
    axis = {"categories": categories}
    if chart.x_label:
        axis["x_label"] = truncate(chart.x_label, limits.CHART_AXIS_TITLE)
    if chart.y_label:
        axis["y_label"] = truncate(chart.y_label, limits.CHART_AXIS_TITLE)
    series = [{"name": truncate(s.name, limits.CHART_LABEL),
               "data": [{"label": label, "value": value}
                        for label, value in zip(categories, s.values[-keep:], strict=True)]}
              for s in chart.series[:limits.CHART_SERIES]]
    return {"type": CHART, "title": truncate(chart.title, limits.CHART_TITLE),
            "chart": {"type": chart.kind, "series": series, "axis_config": axis}}


def has_charts(blocks: list[Block] | None) -> bool:
    """Whether any of `blocks` is a chart (what an older workspace may refuse)."""
    return any(block.get("type") == CHART for block in blocks or [])


def without_charts(blocks: list[Block]) -> list[Block]:
    """The blocks for a workspace that refuses the chart block: everything else stays (each
    chart is followed by its figures in words)."""
    return [block for block in blocks if block.get("type") != CHART]


def chart_of(block: Block) -> Chart:
    """A line, area or bar chart block read back as a Chart (to draw a posted one in text)."""
    chart = block["chart"]
    return Chart(kind=chart["type"], title=block["title"],
                 categories=tuple(chart["axis_config"]["categories"]),
                 series=tuple(Series(s["name"], tuple(p["value"] for p in s["data"]))
                              for s in chart["series"]),
                 x_label=chart["axis_config"].get("x_label", ""),
                 y_label=chart["axis_config"].get("y_label", ""),
                 unit="%" if block["title"].endswith("(%)") else "")  # our titles say "(%)"


def table_of(block: Block) -> Table:
    """A table block of raw_text cells read back as a Table."""
    rows = [tuple(cell.get("text", "…") for cell in row) for row in block["rows"]]
    return Table(rows[0], tuple(rows[1:]), len(rows) - 1)


def chart_text(chart: Chart) -> str:
    """The chart's figures in words: 'Title: Ack: 16 Nov 80%, 23 Nov 75%; Contact: …'."""
    parts = [", ".join(f"{label} {_figure(value)}{chart.unit}"
                       for label, value in zip(chart.categories, s.values, strict=True))
             for s in chart.series]
    named = [f"{s.name}: {part}" for s, part in zip(chart.series, parts, strict=True)]
    return f"{chart.title}: " + ("; ".join(named) if len(named) > 1 else parts[0])


def chart_lines(chart: Chart, width: int = 24) -> list[str]:
    """The chart drawn in a terminal: a sparkline per series (line) or bars (bar)."""
    lines = [chart.title]
    if chart.kind == "line":
        top = max((v for s in chart.series for v in s.values), default=0) or 1
        pad = max(len(s.name) for s in chart.series)
        for s in chart.series:
            spark = "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))]
                            for v in s.values)
            lines.append(f"  {s.name:<{pad}}  {spark}  {_figure(s.values[0])}{chart.unit} → "
                         f"{_figure(s.values[-1])}{chart.unit}")
        lines.append(f"  {'':<{pad}}  {chart.categories[0]} … {chart.categories[-1]}")
        return lines
    top = max((v for s in chart.series for v in s.values), default=0) or 1
    pad = max(len(c) for c in chart.categories)
    for s in chart.series:
        for label, value in zip(chart.categories, s.values, strict=True):
            bar = "█" * max(1 if value else 0, round(value / top * width))
            lines.append(f"  {label:<{pad}}  {bar} {_figure(value)}{chart.unit}")
    return lines


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Table:
    """A table as plain data: a header and rows of strings (cells already cut to fit)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int  # rows in the whole list (rows may hold fewer)


def fit_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A table within Slack's limits: at most 99 rows under the header, 20 columns, and
    10,000 characters in all; the rows left out are counted in `total` for a summary."""
    header = tuple(header)[:limits.TABLE_CELLS]
    used = sum(len(c) for c in header)
    kept: list[tuple[str, ...]] = []
    for row in rows[:limits.TABLE_ROWS - 1]:
        cells = tuple(c or "—" for c in row)[:limits.TABLE_CELLS]
        size = sum(len(c) for c in cells)
        if used + size > limits.TABLE_CHARS:
            break
        kept.append(cells)
        used += size
    return Table(header, tuple(kept), len(rows))


def table_block(table: Table, numeric_from: int = 1) -> Block:
    """The table block: raw_text cells, columns from `numeric_from` on aligned right."""
    rows = [[{"type": "raw_text", "text": cell} for cell in row]
            for row in (table.header, *table.rows)]
    settings = [{"align": "left", "is_wrapped": True}] + \
        [{"align": "right"} for _ in table.header[1:]]
    settings[1:numeric_from] = [{"align": "left"}] * (numeric_from - 1)
    return {"type": "table", "rows": rows, "column_settings": settings[:len(table.header)]}


def table_text(table: Table) -> list[str]:
    """One line per row: 'Alex Kim — Hand-offs 4 · Ack 3/4 (75%) · …'."""
    return [f"{row[0]} — " + " · ".join(f"{name} {cell}" for name, cell in
                                        zip(table.header[1:], row[1:], strict=True))
            for row in table.rows]


def table_lines(table: Table) -> list[str]:
    """The table aligned in columns, for a terminal."""
    widths = [max(len(r[i]) for r in (table.header, *table.rows)) for i in range(len(table.header))]
    return ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
            for row in (table.header, *table.rows)]
