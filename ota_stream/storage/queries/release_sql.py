"""The SQL behind /analytics/releases and the health gate: constant text, every value a server-side parameter.

The window's rows are whole hours from `release_devices_hourly` and the partial hours at its edges from the raw
table (`rows()`), reading only the columns a step needs. Per (version, device) they give the device's figures for
the release; distinct devices are then counted per release. `FAST` answers the release list and the gate in one
statement whose UNION ALL branches run in parallel; `GROUPED` adds the per-group rows of `group_by`.
"""

from __future__ import annotations

from dataclasses import dataclass

UPDATE_TYPES = (
    "update_started",
    "update_downloading",
    "update_downloaded",
    "update_installing",
    "update_installed",
    "update_failed",
    "update_cancelled",
)
UPDATES = "(" + ", ".join(f"'{t}'" for t in UPDATE_TYPES) + ")"  # constants, never input
NEVER = "toDateTime64('2299-12-31 23:59:59.999', 3, 'UTC')"

# name -> (expression over a row of the view, the same over the raw events of one (version, device)),
# as in 006_release_devices.sql
COLUMNS = {
    "first_ts": ("first_update.1", "min(timestamp)"),
    "first_update": (
        "first_update",
        "min((timestamp, ifNull(release_channel, ''), ifNull(device_os, ''), "
        "ifNull(toString(rollout_percentage), '')))",
    ),
    "first_install": ("first_install", f"min(if(event_type = 'update_installed', timestamp, {NEVER}))"),
    "failed": ("failed", "max(event_type = 'update_failed')"),
    "install_durations": (
        "install_durations",
        "groupArrayIf(install_duration_seconds, event_type = 'update_installed')",
    ),
}
_RAW_EVENTS = f"target_version IS NOT NULL AND event_type IN {UPDATES}"


@dataclass(frozen=True)
class Where:
    """The window's conditions: on the view (whole hours), on the raw table (the partial hours), and on exact
    timestamps (device_transitions); `version` is `version = {version:String}` for the gate, else `1`."""

    view: str
    raw: str
    exact: str
    version: str = "1"


def rows(where: Where, columns: list[str]) -> str:
    """(version, device, *columns) of the window's update events of a known version, one row per (hour, version,
    device) from the view and per (version, device) from the raw edges."""
    view = ", ".join(f"{COLUMNS[c][0]} AS {c}" for c in columns)
    raw = ", ".join(f"{COLUMNS[c][1]} AS {c}" for c in columns)
    return f"""
        SELECT version, device, {view} FROM release_devices_hourly WHERE {where.view} AND {where.version}
        UNION ALL
        SELECT assumeNotNull(target_version) AS version, cityHash64(device_id) AS device, {raw}
        FROM ota_events_raw WHERE {where.raw} AND {_RAW_EVENTS}
        GROUP BY version, device HAVING {where.version}"""


def version_devices(where: Where) -> str:
    """Devices with an update event of {version} in the window: whose rollbacks the gate reads."""
    return f"""(
        SELECT device FROM release_devices_hourly WHERE {where.view} AND version = {{version:String}}
        UNION ALL
        SELECT cityHash64(device_id) FROM ota_events_raw
        WHERE {where.raw} AND target_version = {{version:String}} AND event_type IN {UPDATES})"""


def rolled_back(where: Where, devices: str = "") -> str:
    """(version hash `vh`, device) pairs whose install in the window a rollback directly follows, among the
    device's installs (any version, known or not) and rollbacks in the window, ordered by time, installs (0)
    before rollbacks (1), then version. Only devices with a rollback in the window are read, in device order;
    `devices` narrows them further (the gate)."""
    with_rollbacks = f"SELECT device FROM device_transitions WHERE {where.exact} AND kind = 1 {devices}"
    return f"""(
    SELECT vh, device
    FROM (
        SELECT device, arraySort(groupArray((timestamp, kind, version))) AS sequence
        FROM device_transitions
        WHERE {where.exact} AND device IN ({with_rollbacks})
        GROUP BY device
    )
    ARRAY JOIN arrayMap(x -> x.3, arrayFilter(
        (x, i) -> x.2 = 0 AND i < length(sequence) AND sequence[i + 1].2 = 1, sequence, arrayEnumerate(sequence)
    )) AS version
    WHERE version != '' AND {where.version}
    GROUP BY cityHash64(version) AS vh, device)"""


# The hour (index since 1970) of each device's first install, counted per hour: the adoption curve.
CURVE = f"sumMapIf([intDiv(toUnixTimestamp64Milli(fi), 3600000)], [toUInt64(1)], fi < {NEVER})"
_NO_CURVE = "(CAST([], 'Array(Int64)'), CAST([], 'Array(UInt64)'))"

# Branches with the same columns: (part, version hash, name, n1..n4, first seen ms, quantiles, samples, curve).
# Pairs are grouped by (hash of the version, device): two fixed-width keys hash faster than a LowCardinality string
# and a device; the `rows` branch maps the hash back to the name.
FAST = f"""
SELECT 'pairs' AS part, vh, '' AS name, count() AS n1, countIf(fi < {NEVER}) AS n2, countIf(fa = 1) AS n3,
    countIf(fa = 1 AND fi = {NEVER}) AS n4, toInt64(0) AS first_ms, CAST([], 'Array(Float64)') AS quantiles,
    toUInt64(0) AS samples, {CURVE} AS curve
FROM (
    SELECT cityHash64(version) AS vh, device, min(first_install) AS fi, max(failed) AS fa
    FROM ({{pairs}})
    GROUP BY vh, device
)
GROUP BY vh
UNION ALL
SELECT 'rolled_back', vh, '', count(), 0, 0, 0, 0, [], 0, {_NO_CURVE}
FROM {{rolled_back}}
GROUP BY vh
UNION ALL
SELECT 'rows', cityHash64(version), CAST(version, 'String'), 0, 0, 0, 0, toUnixTimestamp64Milli(min(first_ts)),
    quantilesExactArray(0.5, 0.95)(install_durations), sum(length(install_durations)), {_NO_CURVE}
FROM ({{durations}})
GROUP BY version
{{total}}
{{sessions}}
"""
# Per release, the time of its earliest update event in the window: its first_seen (storage/queries/compare.py).
FIRST_SEEN = """
SELECT version, toUnixTimestamp64Milli(min(first_ts))
FROM ({rows})
GROUP BY version
"""

TOTAL = f"""UNION ALL
SELECT 'total', 0, '', uniqExactMerge(devices), 0, 0, 0, 0, [], 0, {_NO_CURVE}
FROM {{active_states}}"""
# The release list's crash-free rates in the same statement: per version hash its sessions, crashed sessions,
# devices and crashed devices (stability_sql.COUNTS), so that one statement answers the list; in the column of
# first_seen, its unresolved ties (stability.exact).
SESSIONS = f"""UNION ALL
SELECT 'sessions', vh, '', count(), countIf(crashed = 1), uniqExact(device), uniqExactIf(device, crashed = 1),
    countIf(unresolved), [], 0, {_NO_CURVE}
FROM ({{sessions}})
GROUP BY vh"""

# With group_by: per (version, device) the group key of its first update event, then the figures per release
# and per (release, group) in one GROUPING SETS pass. Slower than FAST (it carries the key and the durations of
# every device), and not on a dashboard's hot path.
GROUPED = f"""
SELECT version, {{key}} AS key,
    toUnixTimestamp64Milli(min(first.1)) AS n_first_seen, count() AS n_attempted,
    countIf(fi < {NEVER}) AS n_installed, countIf(fa = 1) AS n_failed,
    countIf(fa = 1 AND fi = {NEVER}) AS n_failed_only,
    countIf((cityHash64(version), device) IN {{rolled_back}}) AS n_rolled,
    quantilesExactArray(0.5, 0.95)(durations) AS n_quantiles, sum(length(durations)) AS n_samples,
    {CURVE} AS n_curve,
    ({{total_active}}) AS n_total
FROM (
    SELECT version, device, min(first_update) AS first, min(first_install) AS fi, max(failed) AS fa,
        groupArrayArray(install_durations) AS durations
    FROM ({{rows}})
    GROUP BY version, device
)
GROUP BY GROUPING SETS ((version), (version, key))
SETTINGS group_by_use_nulls = 1
"""
