"""The SQL behind /analytics/stability and the crash-free rates of a release: constant text, every value a
server-side parameter.

The window's sessions come from whole hours of `session_hourly` and the partial hours at its edges from the raw
table (`rows()`), reading only the columns a statement needs. Their parts are merged per (device, session)
(`sessions()`; a session's hash covers its org and app), which gives each session's version (that of its earliest
versioned event, decoded from the `first` string of schema/011_sessions.sql), whether it crashed, its launch
durations and its crashes. `PER_VERSION` counts them per version in one pass, and then the crashes of the crashed
sessions alone.
"""

from __future__ import annotations

_SESSION_EVENTS = "event_type IN ('app_launched', 'app_crashed')"
_SESSION = "cityHash64(org_id, app_id, ifNull(session_id, ''), if(session_id IS NULL, event_id, ''))"
# (timestamp, event_id) as a string that sorts the same way, then the version; '~' (above every digit) without one.
_FIRST = (
    "if(current_version IS NULL, '~', concat(leftPad(toString(toUnixTimestamp64Milli(timestamp)), 13, '0'), "
    "replaceAll(event_id, '\\0', '\\0\\1'), '\\0\\0', current_version))"
)
_CRASH = "CAST((ifNull(error_code, 'unknown'), ifNull(error_message, 'unknown')) AS Tuple(String, String))"
VERSION_OF_FIRST = "if(startsWith(first, '~'), '', substring(first, position(first, '\\0\\0') + 2))"

# name -> (the same over the raw events of one session, the merge of a session's rows), as in 011_sessions.sql
COLUMNS = {
    "first": (f"min({_FIRST})", "min(first)"),
    "crashed": ("max(event_type = 'app_crashed')", "max(crashed)"),
    "crashes": (
        f"groupUniqArrayIf({_CRASH}, event_type = 'app_crashed')",
        "arrayDistinct(groupArrayArray(crashes))",
    ),
    "launch_durations": (
        "groupArrayIf(launch_duration_seconds, event_type = 'app_launched')",
        "groupArrayArray(launch_durations)",
    ),
}


def rows(view_where: str, raw_where: str, columns: list[str], version: bool = False) -> str:
    """(device, session, first, *columns): one row per (hour, session) from the view and per session from the raw
    edges. With `version`, the view's rows only of the sessions that may be of {version:String}: those with a row
    whose earliest versioned event names it (the session's earliest is the earliest of one of its rows), and those
    at the edges. (Over a day or so, finding those costs more than it saves: `sessions(..., narrow=False)`.)"""
    names = ["first", *columns]
    raw = ", ".join(f"{COLUMNS[c][0]} AS {c}" for c in names)
    raw_sessions = f"""
        SELECT cityHash64(device_id) AS device, {_SESSION} AS session, {raw}
        FROM ota_events_raw WHERE {raw_where} AND {_SESSION_EVENTS}
        GROUP BY device, session"""
    candidates = ""
    if version:
        named = "endsWith(first, concat('\\0\\0', {version:String}))"
        candidates = f"""
            AND ((device, session) IN (SELECT device, session FROM session_hourly WHERE {view_where} AND {named})
                OR (device, session) IN (SELECT device, session FROM ({raw_sessions})))"""
    return f"""
        SELECT device, session, {", ".join(names)} FROM session_hourly WHERE {view_where} {candidates}
        UNION ALL
        {raw_sessions}"""


def sessions(view_where: str, raw_where: str, columns: list[str], version: bool, narrow: bool = True) -> str:
    """(device, version, first, *columns) per session of the window that has a version; with `version`, only the
    sessions of {version:String}, whose rows are narrowed to the candidates first unless `narrow` is off."""
    merged = ", ".join(f"{COLUMNS[c][1]} AS {c}" for c in ["first", *columns])
    only = "AND version = {version:String}" if version else ""
    return f"""
    SELECT device, {VERSION_OF_FIRST} AS version, {", ".join(["first", *columns])}
    FROM (
        SELECT device, {merged}
        FROM ({rows(view_where, raw_where, columns, version and narrow)})
        GROUP BY device, session
    )
    WHERE version != '' {only}"""


# Per version: its figures, and the top 5 of its crashes. The inner GROUP BY counts every session once and keeps
# only the crashed ones' (device, distinct crashes); the outer one unfolds those few into one row per (version,
# crash): sessions with it, devices among them. A version without a crash keeps one row, whose code is '' (no
# crash has one: a code is 1-128 characters, a missing one reads 'unknown').
PER_VERSION = """
SELECT version, any(n_sessions), any(n_crashed), any(n_devices), any(n_crashed_devices), any(quantiles),
    any(duration_sum), any(samples), kind.1 AS code, kind.2 AS message, count() AS kind_sessions,
    uniqExact(crash.1) AS kind_devices
FROM (
    SELECT version, count() AS n_sessions, countIf(crashed = 1) AS n_crashed, uniqExact(device) AS n_devices,
        uniqExactIf(device, crashed = 1) AS n_crashed_devices,
        quantilesExactArray(0.5, 0.95)(launch_durations) AS quantiles,
        sum(arraySum(launch_durations)) AS duration_sum, sum(length(launch_durations)) AS samples,
        groupArrayIf((device, crashes), crashed = 1) AS crashed_list
    FROM ({sessions})
    GROUP BY version
)
LEFT ARRAY JOIN crashed_list AS crash
LEFT ARRAY JOIN crash.2 AS kind
GROUP BY version, code, message
ORDER BY version, kind_sessions DESC, code, message
LIMIT 5 BY version
"""

# Per version, its first session's `first` string: the start of its earliest session (a release's first_seen when it
# has no update event; storage/queries/compare.py).
FIRST_SESSIONS = """
SELECT version, min(first)
FROM ({sessions})
GROUP BY version
"""

# The same for every version at once, without merging every session: per version, its earliest row and that row's
# session. When the row is its session's earliest (SESSION_FIRSTS says), the session is of that version and starts
# then, and no session of the version starts before it. Otherwise the version's first session is looked for with
# FIRST_SESSIONS (stability.first_sessions).
FIRST_ROWS = f"""
SELECT version, min(first), argMin(tuple(device, session), first)
FROM (SELECT device, session, first, {VERSION_OF_FIRST} AS version FROM ({{rows}}))
WHERE version != ''
GROUP BY version
"""
SESSION_FIRSTS = """
SELECT device, session, min(first)
FROM ({rows})
WHERE has({{pairs:Array(Tuple(UInt64, UInt64))}}, (device, session))
GROUP BY device, session
"""

# One version's four counts and its launch durations' p50: a side of /compare.
SIDE = """
SELECT count(), countIf(crashed = 1), uniqExact(device), uniqExactIf(device, crashed = 1),
    quantilesExactArray(0.5)(launch_durations), sum(length(launch_durations))
FROM ({sessions})
"""

# Per version, the four counts behind the crash-free rates (a release row, the health gate).
COUNTS = """
SELECT version, count(), countIf(crashed = 1), uniqExact(device), uniqExactIf(device, crashed = 1)
FROM ({sessions})
GROUP BY version
"""
