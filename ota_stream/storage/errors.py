"""How a ClickHouse failure is told apart: the server is away, the schema is wrong, or these rows are refused.

- Unavailable (network, timeouts, overload, unknown codes): retried with backoff until it succeeds; the worker
  reports it on /health meanwhile, and queries answer 503.
- Schema (a missing table or column, no permission): also retried, because an operator fixes it (for example by
  running the migrations) and no event should be lost to a deployment mistake; it is logged as an error and shown on
  /health, never silent.
- Rows refused (a value the server will not take, a violated constraint): retrying cannot help. The writer
  splits the batch to find the refused rows and dead-letters only those, with ClickHouse's reason.
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.exceptions import DatabaseError, Error, OperationalError

from ota_stream.errors import Unavailable

# ClickHouse error codes (src/Common/ErrorCodes.cpp) that a given set of rows causes, whatever the server's state.
ROWS_REFUSED_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        407,  # DECIMAL_OVERFLOW
        469,  # VIOLATED_CONSTRAINT
    }
)
SCHEMA_CODES = frozenset(
    {
        8,  # THERE_IS_NO_COLUMN
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        47,  # UNKNOWN_IDENTIFIER
        60,  # UNKNOWN_TABLE
        81,  # UNKNOWN_DATABASE
        164,  # READONLY
        497,  # ACCESS_DENIED
    }
)
# Codes of a server that is overloaded or away for a moment: a query may succeed if retried later.
UNAVAILABLE_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        425,  # SYSTEM_ERROR
        999,  # KEEPER_EXCEPTION
    }
)
_CODE = re.compile(r"\bCode: (\d+)\b")


class StorageUnavailable(Unavailable):
    """ClickHouse cannot answer now; the caller should retry later (HTTP 503 with Retry-After). The message holds
    the driver's error, for the log only."""

    answer = "ClickHouse is unavailable; retry later"
    logged = True


def error_code(exc: BaseException) -> int | None:
    """ClickHouse's error code of a clickhouse-connect error: the driver's `code` (from the server's
    X-ClickHouse-Exception-Code header, or read by the driver from chDB's message), even when the message itself is
    hidden (`show_clickhouse_errors=False`). Only a database error the driver made without a code falls back to a
    `Code: N` in its text."""
    if not isinstance(exc, Error):
        return None
    if exc.code is not None:
        return exc.code
    if not isinstance(exc, DatabaseError):
        return None
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def is_unavailable(exc: BaseException) -> bool:
    """The server cannot be reached, or cannot answer now: retry later (HTTP 503), not a bug (HTTP 500)."""
    if isinstance(exc, StorageUnavailable | OperationalError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DatabaseError):
        return error_code(exc) in UNAVAILABLE_CODES
    return isinstance(exc, OSError)


def refuses_rows(exc: BaseException) -> bool:
    return error_code(exc) in ROWS_REFUSED_CODES


def is_schema_error(exc: BaseException) -> bool:
    return error_code(exc) in SCHEMA_CODES
