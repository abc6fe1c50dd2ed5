"""The SQL behind /analytics/stability and the crash-free rates of a release: constant text, every value a
server-side parameter.

The window's sessions come from whole hours of `session_hourly` and the partial hours at its edges from the raw
table (`rows()`), reading only the columns a statement needs. Their parts are merged per (device, session)
(`sessions()`; a session's hash covers its org and app), which gives each session's version hash, whether it
crashed, its launch durations and its crashes. The merge reads the fixed-width keys of schema/014_session_keys.sql,
never the `first` strings: per row `earliest`, (epoch ms << 64) | cityHash64(version) of its earliest versioned
event, and `mirror`, the same with the milliseconds inverted, under max(). A session's version is its smallest
`earliest`'s, unless the largest `mirror` names another version at the same millisecond: then two of its rows (two
inserts of one hour not merged yet) start at the same millisecond under two versions, and only the event_ids in
`first` order them. Such a session is a tie: every statement counts its ties that {tie_keys} does not resolve, in
its last column, and when there are some, stability.exact finds their versions from `first` (`TIES`) and runs it
again with them ({tie_keys}, {tie_versions}).

Statements group by the version hash; `NAMES` maps the hashes back to the versions.
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
# The keys of one `first` string, as the DEFAULT expressions of 014_session_keys.sql compute them.
NO_VERSION = "toUInt128('340282366920938463463374607431768211455')"
_MS = "toUInt64OrZero(substring(first, 1, 13))"
EARLIEST_OF_FIRST = (
    f"if(startsWith(first, '~'), {NO_VERSION}, "
    f"bitOr(bitShiftLeft(toUInt128({_MS}), 64), toUInt128(cityHash64({VERSION_OF_FIRST}))))"
)
MIRROR_OF_FIRST = (
    "if(startsWith(first, '~'), toUInt128(0), "
    f"bitOr(bitShiftLeft(toUInt128(bitNot({_MS})), 64), toUInt128(cityHash64({VERSION_OF_FIRST}))))"
)
# A (device, session) as one number; toUInt64 of a key keeps its low 64 bits, the version hash.
_SESSION_KEY = "bitOr(bitShiftLeft(toUInt128(device), 64), toUInt128(session))"
# A merged session's (e, m), its smallest earliest and largest mirror: two versions at its first millisecond.
_TIE = "toUInt64(m) != toUInt64(e)"

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
NO_TIES: dict[str, list[int]] = {"tie_keys": [], "tie_versions": []}


def rows(view_where: str, raw_where: str, columns: list[str], version: bool = False) -> str:
    """(device, session, earliest, mirror, *columns): one row per (hour, session) from the view and per session
    from the raw edges (`columns` may name `first`). With `version`, the view's rows only of the sessions that may
    be of {version:String}: those with a row whose earliest versioned event names it (a session's earliest is the
    earliest of one of its rows), and those at the edges. (Over a day or so, finding those costs more than it
    saves: `sessions(..., narrow=False)`.)"""
    selected = ", ".join(["device", "session", "earliest", "mirror", *columns])
    raw = ", ".join(f"{COLUMNS[c][0]} AS {c}" for c in ["first", *(c for c in columns if c != "first")])
    raw_sessions = f"""
        SELECT device, session, {EARLIEST_OF_FIRST} AS earliest, {MIRROR_OF_FIRST} AS mirror
            {"".join(", " + c for c in columns)}
        FROM (
            SELECT cityHash64(device_id) AS device, {_SESSION} AS session, {raw}
            FROM ota_events_raw WHERE {raw_where} AND {_SESSION_EVENTS}
            GROUP BY device, session
        )"""
    candidates = ""
    if version:
        named = "toUInt64(earliest) = cityHash64({version:String})"
        candidates = f"""
            AND ((device, session) IN (SELECT device, session FROM session_hourly WHERE {view_where} AND {named})
                OR (device, session) IN (SELECT device, session FROM ({raw_sessions})))"""
    return f"""
        SELECT {selected} FROM session_hourly WHERE {view_where} {candidates}
        UNION ALL
        {raw_sessions}"""


def sessions(view_where: str, raw_where: str, columns: list[str], version: bool, narrow: bool = True) -> str:
    """(device, vh, ms, unresolved, *columns) per session of the window that has a version: its version's hash,
    its start in epoch milliseconds, and whether it is a tie that {tie_keys} does not resolve (its vh is then 0,
    and every figure of the statement is void: stability.exact runs it again). With `version`, only the sessions of
    {version:String} and the unresolved ties, whose rows are narrowed to the candidates first unless `narrow` is
    off."""
    merged = "".join(f", {COLUMNS[c][1]} AS {c}" for c in columns)
    listed = "".join(f", {c}" for c in columns)
    only = "WHERE vh = cityHash64({version:String}) OR unresolved" if version else ""
    return f"""
    SELECT device, vh, toUInt64(bitShiftRight(e, 64)) AS ms, unresolved {listed}
    FROM (
        SELECT device, e {listed}, {_TIE} AS tie, {_SESSION_KEY} AS key,
            tie AND NOT has({{tie_keys:Array(UInt128)}}, key) AS unresolved,
            if(tie, transform(key, {{tie_keys:Array(UInt128)}}, {{tie_versions:Array(UInt64)}}, toUInt64(0)),
               toUInt64(e)) AS vh
        FROM (
            SELECT device, session, min(earliest) AS e, max(mirror) AS m {merged}
            FROM ({rows(view_where, raw_where, columns, version and narrow)})
            GROUP BY device, session
            HAVING e != {NO_VERSION}
        )
    )
    {only}"""


# The ties among the window's sessions, each with its version's hash: that of its `first`, exact.
TIES = f"""
SELECT {_SESSION_KEY}, cityHash64({VERSION_OF_FIRST})
FROM (
    SELECT device, session, min(first) AS first, min(earliest) AS e, max(mirror) AS m
    FROM ({{rows}})
    GROUP BY device, session
)
WHERE e != {NO_VERSION} AND {_TIE}
"""

# (vh, version) of the version hashes {hashes}: each is the earliest of one of the window's rows (view or edge), so
# the view's `first` strings are read only on the rows with one of those keys.
NAMES = f"""
SELECT vh, any(version)
FROM (
    SELECT toUInt64(earliest) AS vh, {VERSION_OF_FIRST} AS version
    FROM session_hourly WHERE {{view_where}} AND toUInt64(earliest) IN {{{{hashes:Array(UInt64)}}}}
    UNION ALL
    SELECT cityHash64(assumeNotNull(current_version)), assumeNotNull(current_version)
    FROM ota_events_raw
    WHERE {{raw_where}} AND {_SESSION_EVENTS} AND current_version IS NOT NULL
        AND cityHash64(assumeNotNull(current_version)) IN {{{{hashes:Array(UInt64)}}}}
)
GROUP BY vh
"""


# Per version: its figures, and the top 5 of its crashes. The inner GROUP BY counts every session once and keeps
# only the crashed ones' (device, distinct crashes); the outer one unfolds those few into one row per (version,
# crash): sessions with it, devices among them. A version without a crash keeps one row, whose code is '' (no
# crash has one: a code is 1-128 characters, a missing one reads 'unknown').
PER_VERSION_FIGURES = """
SELECT vh, count() AS n_sessions, countIf(crashed = 1) AS n_crashed, uniqExact(device) AS n_devices,
    uniqExactIf(device, crashed = 1) AS n_crashed_devices,
    quantilesExactArray(0.5, 0.95)(launch_durations) AS quantiles,
    sum(arraySum(launch_durations)) AS duration_sum, sum(length(launch_durations)) AS samples,
    groupArrayIf((device, crashes), crashed = 1) AS crashed_list, countIf(unresolved) AS n_unresolved
FROM ({sessions})
GROUP BY vh
"""
PER_VERSION = """
SELECT vh, any(n_sessions), any(n_crashed), any(n_devices), any(n_crashed_devices), any(quantiles),
    any(duration_sum), any(samples), kind.1 AS code, kind.2 AS message, count() AS kind_sessions,
    uniqExact(crash.1) AS kind_devices, any(n_unresolved)
FROM ({figures})
LEFT ARRAY JOIN crashed_list AS crash
LEFT ARRAY JOIN crash.2 AS kind
GROUP BY vh, code, message
ORDER BY vh, kind_sessions DESC, code, message
LIMIT 5 BY vh
"""

# One version's start of its first session (a release's first_seen when it has no update event;
# storage/queries/compare.py).
FIRST_SESSION = """
SELECT min(ms), count(), countIf(unresolved)
FROM ({sessions})
"""

# The same for every version at once, without merging every session: per version hash, its earliest row and that
# row's session. When the row is its session's earliest and the session has no tie (SESSION_KEYS says), the
# session is of that version and starts then, and no session of the version starts before it. Otherwise the
# version's first session is looked for with FIRST_SESSION (stability.first_sessions).
FIRST_ROWS = f"""
SELECT vh, min(earliest) AS start, argMin(tuple(device, session), earliest) AS at
FROM (SELECT device, session, earliest, toUInt64(earliest) AS vh FROM ({{rows}}))
WHERE earliest != {NO_VERSION}
GROUP BY vh
"""
SESSION_KEYS = """
SELECT device, session, min(earliest), toUInt64(max(mirror))
FROM ({rows})
WHERE has({{pairs:Array(Tuple(UInt64, UInt64))}}, (device, session))
GROUP BY device, session
"""

# One version's four counts and its launch durations' p50: a side of /compare.
SIDE = """
SELECT count(), countIf(crashed = 1), uniqExact(device), uniqExactIf(device, crashed = 1),
    quantilesExactArray(0.5)(launch_durations), sum(length(launch_durations)), countIf(unresolved)
FROM ({sessions})
"""

# Per version hash, the four counts behind the crash-free rates (a release row, the health gate).
COUNTS = """
SELECT vh, count(), countIf(crashed = 1), uniqExact(device), uniqExactIf(device, crashed = 1), countIf(unresolved)
FROM ({sessions})
GROUP BY vh
"""
