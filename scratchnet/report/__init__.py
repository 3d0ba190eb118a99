"""The reports: tables as text (``tables``), the interpretation in words (``interpret``),
the figures (``figures``), the HTML page (``html``) and the files written together
(``writers``). What other parts use is exported here."""
from ..harness.result import COLUMNS, SPEC_COLUMNS, TIMED, ordered
from ..metrics import PARITY_LIMIT
from .interpret import contention_warnings, interpretation
from .tables import (BREAKDOWN_NOTE, breakdown_text, console_table, disturbed_rows, format_number,
                     instructions_table, roofline_table, table_rows)
from .writers import (BREAKDOWN_FILE, CURVES_FILE, FILES, HISTORY_FILES, HTML_FILE, markdown_table,
                      read_csv, read_json, write_csv, write_json, write_png, write_reports, write_table_csv)

__all__ = [
    "BREAKDOWN_FILE", "BREAKDOWN_NOTE", "COLUMNS", "CURVES_FILE", "FILES", "HISTORY_FILES",
    "HTML_FILE", "PARITY_LIMIT", "SPEC_COLUMNS", "TIMED", "breakdown_text", "console_table",
    "contention_warnings", "disturbed_rows", "format_number", "instructions_table",
    "interpretation", "markdown_table", "ordered", "read_csv", "read_json", "roofline_table",
    "table_rows", "write_csv", "write_json", "write_png", "write_reports", "write_table_csv"
]
