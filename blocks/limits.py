"""Slack's length and count limits, in one place; every builder cuts to these.

From Slack's Block Kit reference (blocks, composition objects, surfaces) and the
`chat.postMessage` / `views.*` method docs. Where the bot chooses a tighter figure than
Slack's, the comment says so.
"""

from __future__ import annotations

# Surfaces
MESSAGE_BLOCKS = 50  # blocks in one message (also an ephemeral answer)
VIEW_BLOCKS = 100  # blocks in a modal or a Home tab
MESSAGE_TEXT = 3900  # a message's top-level text; Slack truncates past 40,000 and advises 4,000
MODAL_TITLE = 24  # a modal's title, submit and close texts
PRIVATE_METADATA = 3000

# Blocks
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000  # each text element of a context block (a text object's limit)
ACTIONS_ELEMENTS = 25

# The data visualization block (https://docs.slack.dev/reference/block-kit/blocks/data-visualization-block;
# where each figure comes from: standin/blockkit.py, which checks them as Slack does)
CHART_TITLE = 50
CHART_SERIES = 6
CHART_LABEL = 20  # a series name, a category label
CHART_POINTS = 20  # points per series (categories)
CHART_AXIS_TITLE = 50

# The table block (https://docs.slack.dev/reference/block-kit/blocks/table-block)
TABLE_ROWS = 100  # the header row included
TABLE_CELLS = 20  # cells a row
TABLE_CHARS = 10_000  # all cells of a message (the data table block's page; stricter here)

# Elements and composition objects
OPTION_TEXT = 75  # an option's text, and its description
OPTION_VALUE = 150
CHECKBOX_OPTIONS = 10
PLACEHOLDER = 150
EXTERNAL_OPTIONS = 100  # options in one block_suggestion answer

# The bot's own, tighter choices
FIELD_ERROR = 150  # an error shown under a modal field: one short sentence
ROSTER_LINES = 80  # lines of `/signal admin show` before the answer would pass MESSAGE_TEXT
TYPED_QUERY = 200  # characters of a type-ahead query looked up
