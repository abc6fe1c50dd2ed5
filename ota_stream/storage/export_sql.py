"""What an export asks ClickHouse: its two statements (count, then rows) and, per format, the columns and
settings of the rows (storage/export.py streams them). Constant text, every value a server-side parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from ota_stream.storage.queries.event_rows import COLUMNS, RFC3339

COUNT = """
SELECT count() FROM ota_events_raw
WHERE {where} AND ingested_at <= {{cutoff:DateTime64(3, 'UTC')}} {type_filter}
"""
ROWS = """
SELECT {columns}
FROM (
    SELECT * FROM ota_events_raw
    WHERE {where} AND ingested_at <= {{cutoff:DateTime64(3, 'UTC')}} {type_filter}
    ORDER BY org_id, app_id, timestamp, event_type
) AS e
LIMIT {{rows:UInt64}}
SETTINGS {settings}
"""
TYPE_FILTER = "AND event_type = {event_type:String}"
# Bounded memory while streaming, measured on 1M rows (tests/test_export_memory.py): small blocks on one thread
# (chDB holds several output blocks ahead of the reader), no buffering ahead of the in-order merge of parts, and
# no query condition cache (it kept about 100 MiB after a filtered scan of 1M rows).
STREAMING = (
    "max_block_size = 1024, max_threads = 1, read_in_order_use_buffering = 0, use_query_condition_cache = 0"
)

# Columns that hold text as clients sent it; the others are numbers, the timestamp and the metadata's JSON object.
TEXT = frozenset({
    "event_id", "tenant_id", "org_id", "app_id", "device_id", "event_type", "session_id", "os", "os_version",
    "model", "manufacturer", "current_version", "target_version", "release_notes", "channel", "connection_type",
    "error_code", "error_message", "failure_stage", "cancellation_reason", "rollback_reason",
})  # fmt: skip
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) can send the sheet's data
# away), and any app user can put one in an event. In CSV such a text gets an apostrophe in front, which spreadsheets
# show as text; NDJSON and Parquet keep the value as sent.
FORMULA_START = r"^[-=+@\t\r]"  # a regular expression in a ClickHouse string: \t and \r are the characters


def inert_text(column: str) -> str:
    """A CSV column's expression: the text, with an apostrophe in front when it would start a formula."""
    value = f"e.{column}"
    return f"if(match({value}, '{FORMULA_START}'), concat('''', {value}), {value})"


@dataclass(frozen=True)
class Layout:
    """How one format asks ClickHouse for the rows."""

    clickhouse_format: str
    overrides: dict[str, str]
    settings: str


LAYOUTS = {
    # Flat events (docs/events.md), one per line; absent fields are null; 64-bit integers as JSON numbers.
    "ndjson": Layout(
        "JSONEachRow", {"timestamp": RFC3339}, f"{STREAMING}, output_format_json_quote_64bit_integers = 0"
    ),
    # Strings always quoted, a missing value an empty unquoted field, metadata as a JSON object, and no text that a
    # spreadsheet would run as a formula.
    "csv": Layout(
        "CSV",
        {
            **{name: inert_text(column) for name, column in COLUMNS if name in TEXT},
            "timestamp": RFC3339,
            "metadata": "toJSONString(e.metadata)",
        },
        f"{STREAMING}, format_csv_null_representation = ''",
    ),
    # Native types: timestamp[ms, UTC], map<string, string>; Parquet is written from these Arrow batches.
    "parquet": Layout("ArrowStream", {}, f"{STREAMING}, output_format_arrow_compression_method = 'none'"),
}
