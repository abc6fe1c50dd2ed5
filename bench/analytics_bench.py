"""Latency of the analytics queries and bytes on disk, on synthetic OTA events in embedded ClickHouse (chDB).

    .venv/bin/python bench/analytics_bench.py --events 10000000

Devices of 20 apps (3 tenants) go through update lifecycles as each app rolls out new versions over the last
30 days, and launch the app (sessions, some of which crash: bench/sessions.py) on the days they use it. Events are
generated as numpy/pyarrow columns and loaded with `insert_arrow`, which fills the materialized views. Each
endpoint is then timed for the largest app over now-30d..now, with and without views.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ota_stream.models import FLAT_FIELDS, format_timestamp, parse_event
from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.events_table import COLUMNS, TABLE
from ota_stream.storage.migrations import migrate
from ota_stream.storage.queries import active_devices, adoption, failures, performance, versions
from ota_stream.storage.queries.scope import QueryScope

try:
    from bench import sessions as launches
    from bench.analytics_report import PARTS, REPORT, machine, per_event, storage_facts, write_results
    from bench.release_endpoints import BELOW_RELEASES, release_endpoints
except ImportError:  # run as a script: bench/ is on sys.path, the repository root is not
    import sessions as launches  # type: ignore[no-redef]
    from analytics_report import PARTS, REPORT, machine, per_event, storage_facts, write_results  # type: ignore[no-redef]
    from release_endpoints import BELOW_RELEASES, release_endpoints  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
DAY_MS, HOUR_MS = 86_400_000, 3_600_000
RELEASES = 7  # versions each app rolls out over the 30 days
CHUNK_ROWS, JSON_SAMPLE, WARMUP, SEED = 1_000_000, 10_000, 3, 42
LAUNCH_SHARE = 0.3  # of the events: launches and their crashes; the update lifecycles make the rest
INSERT_SETTINGS = {"async_insert": 0, "insert_deduplicate": 0}
APPS = [("acme", "consumer", a) for a in ("shop", "wallet", "news", "maps", "fit")]
APPS += [("acme", "enterprise", a) for a in ("mail", "notes", "crm", "hr")]
APPS += [("globex", "media", a) for a in ("music", "video", "games", "photos")]
APPS += [("globex", "travel", a) for a in ("ride", "tickets", "hotel")]
APPS += [("initech", "retail", a) for a in ("food", "bank", "health", "learn")]
EVENT_TYPES = ["update_started", "update_downloading", "update_downloaded", "update_installing", "update_installed",
               "update_failed", "update_cancelled", "rollback_started", "rollback_completed"]  # fmt: skip
STARTED, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED, CANCELLED, RB_STARTED, RB_DONE = range(9)
# Per outcome: the events after the download-progress ones (-1 pads), and the outcome's odds.
TAILS = np.array([[DOWNLOADED, INSTALLING, INSTALLED, -1, -1], [DOWNLOADED, INSTALLING, INSTALLED, RB_STARTED, RB_DONE],
                  [FAILED, -1, -1, -1, -1], [DOWNLOADED, FAILED, -1, -1, -1], [DOWNLOADED, INSTALLING, FAILED, -1, -1],
                  [CANCELLED, -1, -1, -1, -1]])  # fmt: skip
OUTCOMES = np.array([0.93, 0.012, 0.018, 0.008, 0.014, 0.018])
STAGES = ["download", "verify", "install"]  # of the failing outcomes 2, 3, 4
ERRORS = ["E_NETWORK", "E_TIMEOUT", "E_CONN_RESET", "E_CHECKSUM", "E_SIGNATURE", "E_DISK_FULL", "E_CONFLICT"]
STAGE_ERRORS = np.array([[0, 0, 1, 2], [3, 3, 3, 4], [5, 5, 6, 1]])  # error codes per stage, by frequency
MODELS = [("iOS", "Apple", m) for m in ("iPhone 12", "iPhone 13", "iPhone 14", "iPhone 15", "iPhone 15 Pro")]
MODELS += [("Android", b, m) for b, m in [("Samsung", "Galaxy S23"), ("Samsung", "Galaxy A54"), ("Google", "Pixel 8"),
           ("Xiaomi", "Redmi Note 12"), ("OnePlus", "OnePlus 11"), ("Motorola", "moto g84")]]  # fmt: skip
OS_VERSIONS = ["16.7.8", "17.5.1", "17.6.1", "18.1", "12", "13", "14", "15"]  # 4 of iOS, then 4 of Android
CANCEL_REASONS, ROLLBACK_REASONS = ["user_cancelled", "low_battery", "no_wifi"], ["crash", "manual", "health"]
RENAMED = {"device_os": ("device_info", "os"), "device_os_version": ("device_info", "os_version"),
           "device_model": ("device_info", "model"), "device_manufacturer": ("device_info", "manufacturer"),
           "release_channel": ("release_info", "channel")}  # fmt: skip
Arrays = dict[str, np.ndarray]


def uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random version-4 UUID strings, built as one byte buffer."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6], raw[:, 8] = (raw[:, 6] & 0x0F) | 0x40, (raw[:, 8] & 0x3F) | 0x80
    hex_digits = np.frombuffer(b"0123456789abcdef", np.uint8)[np.stack([raw >> 4, raw & 0x0F], axis=2)]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, [i for i in range(36) if i not in (8, 13, 18, 23)]] = hex_digits.reshape(n, 32)
    offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int32) * 36)
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(text.tobytes())])


def take(values: list[str] | pa.Array, idx: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    indices = pa.array(idx, mask=None if present is None else ~present)
    return pc.take(values if isinstance(values, pa.Array) else pa.array(values, pa.string()), indices)


def nums(values: np.ndarray, present: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, type=kind, mask=~present)


@dataclass
class World:
    """Devices and their update lifecycles: small arrays from which the events are expanded chunk by chunk."""

    versions: list[str]  # id = app * (RELEASES + 1) + k; k = 0 is the version before the window
    device_ids: pa.Array
    device: Arrays  # app, model, os_version, channel per device
    lc: Arrays  # one entry per lifecycle, ordered by device and time
    lengths: np.ndarray  # events per lifecycle
    sessions: launches.Sessions

    def chunks(self, rng: np.random.Generator) -> Iterator[pa.Table]:
        """The lifecycles' events, then the launches and their crashes."""
        ends = np.cumsum(self.lengths)
        bounds = [*np.unique(np.searchsorted(ends, np.arange(CHUNK_ROWS, ends[-1], CHUNK_ROWS))), len(ends)]
        for lo, hi in zip([0, *bounds[:-1]], bounds, strict=True):
            yield expand(self, rng, lo, hi, int(ends[lo - 1]) if lo else 0)

        def common(dev: np.ndarray, millis: np.ndarray) -> dict[str, pa.Array]:
            return device_columns(self, dev, millis)

        yield from launches.chunks(
            self.sessions, CHUNK_ROWS, common, self.versions, lambda n: uuids(rng, n), int(ends[-1])
        )


def devices(rng: np.random.Generator, n: int) -> Arrays:
    weights = 1 / np.arange(1, len(APPS) + 1) ** 0.8  # app sizes fall off like Zipf's law
    model = rng.integers(0, len(MODELS), n)
    android = np.array([os == "Android" for os, _, _ in MODELS])[model]
    app = rng.choice(len(APPS), n, p=weights / weights.sum())
    return {"app": app, "model": model, "os_version": 4 * android + rng.integers(0, 4, n),
            "channel": (rng.random(n) < 0.05).astype(np.int64)}  # fmt: skip


def lifecycles(rng: np.random.Generator, app: np.ndarray, now_ms: int) -> Arrays:
    """Per device and release: whether and when it updates, to which outcome, from which version."""
    n, shape = len(app), (len(app), RELEASES)
    slot = (np.arange(RELEASES) + rng.uniform(0.1, 0.9, (len(APPS), RELEASES))) * (30 * DAY_MS / RELEASES)
    released = now_ms - 30 * DAY_MS + slot
    start = released[app] + rng.exponential(1.5 * DAY_MS, shape)
    keep = (rng.random(shape) < 0.93) & (start < now_ms - 6 * HOUR_MS)
    later = np.minimum.accumulate(np.where(keep, start, np.inf)[:, ::-1], axis=1)[:, ::-1]
    keep &= start + HOUR_MS < np.column_stack([later[:, 1:], np.full(n, np.inf)])  # else it jumps to the next
    outcome = rng.choice(len(OUTCOMES), shape, p=OUTCOMES)
    bad = rng.random((len(APPS), RELEASES)) < 0.15  # a release that fails more often to install
    outcome = np.where(bad[app] & (rng.random(shape) < 0.04), 4, outcome)
    installed_to = np.where(keep & (outcome == 0), np.arange(1, RELEASES + 1), 0)
    current = np.column_stack([np.zeros(n, np.int64), np.maximum.accumulate(installed_to, axis=1)[:, :-1]])
    dev, rel = np.nonzero(keep)
    base = app[dev] * (RELEASES + 1)
    return {"device": dev, "app": app[dev], "start": start[dev, rel].astype(np.int64), "outcome": outcome[dev, rel],
            "current": base + current[dev, rel], "target": base + rel + 1,
            "age": (start[dev, rel] - released[app[dev], rel]) / DAY_MS}  # fmt: skip


def measurements(rng: np.random.Generator, lc: Arrays) -> None:
    """Per lifecycle: network, download size and speed, durations, battery, errors."""
    n = len(lc["device"])
    lc["wifi"] = (rng.random(n) < 0.7).astype(np.int64)
    lc["speed"] = np.round(rng.lognormal(np.where(lc["wifi"], 3.4, 2.5), 0.7), 2)
    lc["size"] = rng.lognormal(15.8, 0.5, int(lc["target"].max()) + 1).astype(np.int64)[lc["target"]]
    lc["dl"] = np.round(lc["size"] * 8e-6 / lc["speed"], 3)  # seconds
    lc["inst"] = np.round(rng.lognormal(1.1, 0.6, n), 3)
    lc["battery"], lc["storage"] = rng.integers(8, 101, n), np.round(rng.lognormal(9.5, 1.0, n), 1)
    lc["rb_delay"], lc["rb_dur"] = rng.uniform(300, 14_400, n), np.round(rng.uniform(1, 20, n), 3)
    stage = np.clip(lc["outcome"] - 2, 0, 2)
    lc["error"] = STAGE_ERRORS[stage, rng.integers(0, STAGE_ERRORS.shape[1], n)]
    lc["stage"] = np.where(rng.random(n) < 0.05, -1, stage)  # some clients do not report the stage
    lc["reason"] = rng.integers(0, 3, n)  # of a cancellation or a rollback


def build_world(n_events: int, n_devices: int) -> World:
    """Lifecycles for every device, and launches for LAUNCH_SHARE of the events; download-progress events fill the
    rest so that there are n_events."""
    rng, now_ms = np.random.default_rng(SEED), int(time.time() * 1000)
    device = devices(rng, n_devices)
    lc = lifecycles(rng, device["app"], now_ms)
    measurements(rng, lc)
    sessions = launches.build(  # a generator of their own: the lifecycles are those of runs without launches
        np.random.default_rng(SEED + 2),
        lc,
        device["app"],
        int(n_events * LAUNCH_SHARE / 1.03),
        now_ms,
        RELEASES + 1,
    )
    tail = (TAILS >= 0).sum(axis=1)[lc["outcome"]]
    spare = n_events - int((2 + tail).sum()) - sessions.events  # update_started, a progress event, the tail
    if spare < 0:
        raise SystemExit(f"{n_events} events are too few for {n_devices} devices; lower --devices")
    lc["progress_n"] = 1 + np.bincount(rng.integers(0, len(tail), spare), minlength=len(tail))
    first = rng.integers((1, 0), (5, 30), (len(APPS), 2))  # major and minor version before the window
    names = [f"{major}.{minor + k}.0" for major, minor in first for k in range(RELEASES + 1)]
    return World(names, uuids(rng, n_devices), device, lc, 1 + lc["progress_n"] + tail, sessions)


def seconds_after_start(kind: np.ndarray, pos: np.ndarray, e: Arrays) -> np.ndarray:
    dl, inst, p = e["dl"], e["inst"], e["progress_n"]
    stopped, done, rollback = dl * (p + 0.5) / (p + 1), dl + 2 + inst, dl + 2 + inst + e["rb_delay"]
    failed = np.choose(np.clip(e["outcome"] - 2, 0, 2), [stopped, dl + 1, dl + 2 + inst / 2])
    at = [0 * dl, dl * pos / (p + 1), dl, dl + 2, done, failed, stopped, rollback, rollback + e["rb_dur"]]
    return np.choose(kind, at)


def device_columns(w: World, dev: np.ndarray, millis: np.ndarray) -> dict[str, pa.Array]:
    """The columns of events that follow from their device and time: ids, device info, time, partition."""
    app, model = w.device["app"][dev], w.device["model"][dev]
    return {
        "tenant_id": take([a[0] for a in APPS], app),
        "org_id": take([a[1] for a in APPS], app),
        "app_id": take([a[2] for a in APPS], app),
        "device_id": take(w.device_ids, dev),
        "timestamp": pa.array(millis, pa.timestamp("ms", tz="UTC")),
        "device_os": take([m[0] for m in MODELS], model),
        "device_os_version": take(OS_VERSIONS, w.device["os_version"][dev]),
        "device_model": take([m[2] for m in MODELS], model),
        "device_manufacturer": take([m[1] for m in MODELS], model),
        "kafka_partition": pa.array((app % 12).astype(np.uint32)),
        "kafka_index": pa.array(np.zeros(len(dev), dtype=np.uint32)),
    }


def expand(w: World, rng: np.random.Generator, lo: int, hi: int, offset: int) -> pa.Table:
    """The events of lifecycles lo..hi, as a table with the columns of ota_events_raw."""
    lens = w.lengths[lo:hi]
    i = np.repeat(np.arange(hi - lo), lens)
    e = {key: values[lo:hi][i] for key, values in w.lc.items()}
    n, dev, p = len(i), e["device"], e["progress_n"]
    pos = np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)
    tail = TAILS[e["outcome"], np.clip(pos - p - 1, 0, 4)]
    kind = np.where(pos == 0, STARTED, np.where(pos <= p, DOWNLOADING, tail))
    is_ = [kind == k for k in range(len(EVENT_TYPES))]
    failed, network = is_[FAILED], is_[STARTED] | is_[DOWNLOADED]
    rollout = np.select([e["age"] < 1, e["age"] < 3], [10, 50], 100)  # staged rollout of the release
    millis = e["start"] + (seconds_after_start(kind, pos, e) * 1000).astype(np.int64)
    cols = {
        **device_columns(w, dev, millis),
        "event_id": uuids(rng, n),
        "session_id": take(uuids(rng, hi - lo), i),  # one per update attempt
        "event_type": take(EVENT_TYPES, kind),
        "current_version": take(w.versions, e["current"]),
        "target_version": take(w.versions, e["target"]),
        "release_notes": take([f"{v}: bug fixes" for v in w.versions], e["target"], is_[STARTED]),
        "release_channel": take(["production", "beta"], w.device["channel"][dev]),
        "rollout_percentage": nums(rollout, is_[STARTED], pa.float32()),
        "connection_type": take(["cellular", "wifi"], e["wifi"], network),
        "bandwidth_mbps": nums(np.round(e["speed"] * 1.3, 2), network, pa.float64()),
        "download_speed_mbps": nums(e["speed"], is_[DOWNLOADED], pa.float64()),
        "download_duration_seconds": nums(e["dl"], is_[DOWNLOADED], pa.float64()),
        "install_duration_seconds": nums(e["inst"], is_[INSTALLED], pa.float64()),
        "package_size_bytes": nums(e["size"], is_[DOWNLOADED], pa.uint64()),
        "battery_level": nums(e["battery"], is_[DOWNLOADED] | is_[INSTALLED], pa.float32()),
        "storage_available_mb": nums(e["storage"], is_[DOWNLOADED], pa.float64()),
        "launch_duration_seconds": pa.nulls(n, pa.float64()),
        "error_code": take(ERRORS, e["error"], failed),
        "error_message": take([f"{code}: update aborted" for code in ERRORS], e["error"], failed),
        "failure_stage": take(STAGES, np.maximum(e["stage"], 0), failed & (e["stage"] >= 0)),
        "progress": nums(np.round(100 * pos / (p + 1)), is_[DOWNLOADING], pa.float32()),
        "cancellation_reason": take(CANCEL_REASONS, e["reason"], is_[CANCELLED]),
        "rollback_reason": take(ROLLBACK_REASONS, e["reason"], is_[RB_STARTED] | is_[RB_DONE]),
        "rollback_duration_seconds": nums(e["rb_dur"], is_[RB_DONE], pa.float64()),
        "metadata": pa.array([[]] * n, pa.map_(pa.string(), pa.string())),
        "kafka_offset": pa.array(np.arange(offset, offset + n, dtype=np.uint64)),
    }
    return pa.table([cols[c] for c in COLUMNS], names=list(COLUMNS))


def as_posted(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ota_events_raw as the nested JSON a client POSTs (no nulls, no Kafka lineage)."""
    event: dict[str, Any] = {}
    for column, value in row.items():
        if value is None or value == [] or column.startswith("kafka_"):
            continue
        value = int(value) if isinstance(value, float) and value.is_integer() else value
        value = format_timestamp(value) if isinstance(value, datetime) else value
        group, name = RENAMED.get(column) or (FLAT_FIELDS.get(column), column)
        (event.setdefault(group, {}) if group else event)[name] = value
    return event


def json_bytes_per_event(table: pa.Table, rng: np.random.Generator) -> float:
    rows = table.take(rng.choice(table.num_rows, JSON_SAMPLE, replace=False)).to_pylist()
    events = [as_posted(row) for row in rows]
    for event in events:
        parse_event(event)  # each is a valid event for the ingest API
    return float(np.mean([len(orjson.dumps(event)) for event in events]))


def load(ch: ClickHouse, world: World) -> tuple[float, float]:
    """Drop and recreate the database, insert every chunk; returns (seconds, seconds inside insert_arrow)."""
    ch.command_sync(f"DROP DATABASE IF EXISTS `{ch.config.database}`")
    ch.command_sync(f"CREATE DATABASE `{ch.config.database}`")
    migrate(ch, retention_days=365)
    started, inserting, done = time.perf_counter(), 0.0, 0
    for table in world.chunks(np.random.default_rng(SEED + 1)):
        before = time.perf_counter()
        ch.client.insert_arrow(TABLE, table, settings=INSERT_SETTINGS)
        inserting, done = inserting + time.perf_counter() - before, done + table.num_rows
        print(f"  loaded {done:,} events, {done / (time.perf_counter() - started):,.0f}/s", file=sys.stderr)
    return time.perf_counter() - started, inserting


def settle(ch: ClickHouse, limit_s: float = 900) -> float:
    """Wait until no merge has run for three polls in a row; returns the seconds waited."""
    started, quiet = time.perf_counter(), 0
    while quiet < 3 and time.perf_counter() - started < limit_s:
        time.sleep(2)
        busy = ch.query_rows("SELECT count() FROM system.merges WHERE database = currentDatabase()")[0][0]
        quiet = 0 if busy else quiet + 1
    return time.perf_counter() - started


Timing = tuple[float, float, float, Any]  # p50 ms, p95 ms, p50 of CPU ms, the last result
Endpoint = Callable[[ClickHouse, QueryScope, bool], Awaitable[dict[str, Any]]]
ENDPOINTS: dict[str, Endpoint] = {
    "adoption": lambda ch, s, v: adoption.adoption(ch, s, use_views=v),
    "versions": lambda ch, s, v: versions.versions(ch, s, use_views=v),
    "versions?segment=device_os": lambda ch, s, v: versions.versions(ch, s, "device_os", use_views=v),
    "active-devices": lambda ch, s, v: active_devices.active_devices(ch, s, use_views=v),
    "failures": lambda ch, s, v: failures.failures(ch, s, use_views=v),
    "failures?group_by=failure_stage": lambda ch, s, v: failures.failures(ch, s, "failure_stage", v),
    "performance": lambda ch, s, v: performance.performance(ch, s, use_views=v),
}


async def timed(ch: ClickHouse, scope: QueryScope, call: Endpoint, views: bool, runs: int) -> Timing:
    """(p50 ms, p95 ms, p50 of CPU ms, last result) of `runs` calls after the warm-up ones. The CPU time is this
    process's, chDB's threads included: on a shared machine it moves far less with the load than the wall time."""
    times, cpu, result = [], [], None
    for run in range(WARMUP + runs):
        started, used = time.perf_counter(), time.process_time()
        result = await call(ch, scope, views)
        times += [(time.perf_counter() - started) * 1000] if run >= WARMUP else []
        cpu += [(time.process_time() - used) * 1000] if run >= WARMUP else []
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95), float(np.percentile(cpu, 50)), result


async def latency_rows(
    ch: ClickHouse, scope: QueryScope, runs: int, raw_runs: int, endpoints: dict[str, Endpoint]
) -> tuple[str, list[str], dict[str, tuple[float, float]]]:
    """The Markdown rows of the latency table, the endpoints whose p95 with views is 100 ms or more, and each
    endpoint's (p95, CPU p50) with views."""
    rows, slow, with_views_ms = [], [], {}
    for name, call in endpoints.items():
        v50, v95, cpu, with_views = await timed(ch, scope, call, True, runs)
        r50, r95, _, raw_only = await timed(ch, scope, call, False, raw_runs)
        slow += [f"{name} {v95:.0f} ms ({v95 / 100:.1f}x)"] if v95 >= 100 else []
        with_views_ms[name] = (v95, cpu)
        same = "yes" if with_views == raw_only else "**no**"
        rows.append(f"| {name} | {v50:.1f} | {v95:.1f} | {cpu:.0f} | {r50:.1f} | {r95:.1f} | {same} |")
        print(rows[-1], file=sys.stderr)
    return "\n".join(rows), slow, with_views_ms


LAST_30_DAYS = "timestamp >= now() - INTERVAL 30 DAY"


def data_facts(world: World, ch: ClickHouse, scope: QueryScope) -> dict[str, str]:
    outcome, n = world.lc["outcome"], len(world.lengths)
    mix = [("installed", [0, 1]), ("failed", [2, 3, 4]), ("cancelled", [5]), ("rolled back", [1])]
    dims, params = scope.dims()
    total, n_devices = ch.query_rows(f"SELECT count(), uniqExact(device_id) FROM {TABLE}")[0]
    in_app = ch.query_rows(f"SELECT count() FROM {TABLE} WHERE {dims} AND {LAST_30_DAYS}", params)
    launched = world.sessions
    return {"rows": f"{total:,}", "devices": f"{n_devices:,}", "lifecycles": f"{n:,}",
            "launches": f"{len(launched):,} launches ({len(launched) / n_devices:.1f} per device, about "
                        f"{launches.LAUNCHES_PER_DAY} on each day of use), {launched.crashed.mean():.2%} of them "
                        f"crashing",
            "per_lifecycle": f"{world.lengths.mean():.1f}", "app": f"{scope.tenant_id}/{scope.org_id}/{scope.app_id}",
            "mix": ", ".join(f"{name} {np.isin(outcome, codes).mean():.1%}" for name, codes in mix),
            "app_rows": f"{in_app[0][0]:,} events ({in_app[0][0] / total:.1%} of all)"}  # fmt: skip


def prepare(ch: ClickHouse, world: World, args: argparse.Namespace) -> str:
    """Load unless --reuse finds the data, wait for merges, then OPTIMIZE FINAL every table; returns a summary."""
    exists = ch.query_rows(f"EXISTS TABLE {TABLE}")[0][0]
    if args.reuse and exists and ch.query_rows(f"SELECT count() FROM {TABLE}")[0][0] == args.events:
        applied = migrate(ch, retention_days=365)  # measure the current schema
        if not applied:
            return "reused the data of an earlier run (`--reuse`)."
        for table, *_ in ch.query_rows(PARTS):
            ch.command_sync(f"OPTIMIZE TABLE {table} FINAL")  # rewrite the parts under the new schema
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in applied)
        return f"reused the data of an earlier run (`--reuse`); applied {names}, then `OPTIMIZE TABLE ... FINAL`."
    total, inside = load(ch, world)
    settle_s = settle(ch)
    raw_b, all_b = per_event(ch)
    started = time.perf_counter()
    for table, *_ in ch.query_rows(PARTS):
        ch.command_sync(f"OPTIMIZE TABLE {table} FINAL")
    return (f"{total:.1f} s: {args.events / total:,.0f} events/s including generation, "
            f"{args.events / inside:,.0f} events/s inside `insert_arrow` (the views fill during the insert).\n"
            f"- Once background merges had been quiet ({settle_s:.0f} s after the load): {raw_b:.1f} bytes per "
            f"event in the raw table, {all_b:.1f} with the views' tables. Then `OPTIMIZE TABLE ... FINAL` on every "
            f"table took {time.perf_counter() - started:.0f} s: all numbers below are on the merged data.")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Analytics query latency and storage on synthetic events.")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, help="default: events / 50 (200,000 for 10M events)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "out" / "chdb")
    parser.add_argument("--reuse", action="store_true", help="skip loading if there are --events rows")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--raw-runs", type=int, default=10)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    # The percentiles need one run at least; to load alone, --runs 1 --raw-runs 1.
    if args.runs < 1 or args.raw_runs < 1:
        parser.error("--runs and --raw-runs must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    world = build_world(args.events, args.devices or args.events // 50)
    ch = ClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    load_text = prepare(ch, world, args)
    largest = int(np.argmax(np.bincount(world.device["app"])))
    tenant, org, app = APPS[largest]
    now = datetime.now(UTC)
    scope = QueryScope(tenant, now - timedelta(days=30), now, org, app)
    gated = world.versions[largest * (RELEASES + 1) + RELEASES - 2]  # a release about 8 days old
    device = world.device_ids[int(np.flatnonzero(world.device["app"] == largest)[0])].as_py()
    endpoints = {**ENDPOINTS, **release_endpoints(gated, device)}
    latency, slow, ms = asyncio.run(latency_rows(ch, scope, args.runs, args.raw_runs, endpoints))
    releases_p95, releases_cpu = ms["releases"]
    below = [name for name in ms if name.endswith(BELOW_RELEASES)]
    below_verdict = "; ".join(
        f"`{name}` {'met' if ms[name][0] <= releases_p95 else '**missed**'}, {ms[name][0]:.0f} ms against "
        f"{releases_p95:.0f} ms (CPU p50 {ms[name][1]:.0f} against {releases_cpu:.0f} ms)"
        for name in below
    )
    first_chunk = next(world.chunks(np.random.default_rng(SEED + 1)))
    json_bytes = json_bytes_per_event(first_chunk, np.random.default_rng(SEED))
    text = REPORT.format(
        date=f"{now:%Y-%m-%d %H:%M} UTC", command=shlex.join([".venv/bin/python", *sys.argv]), load=load_text,
        warmup=WARMUP, runs=args.runs, raw_runs=args.raw_runs, json_sample=JSON_SAMPLE,
        latency=latency, latency_verdict="**missed** by " + ", ".join(slow) if slow else "met by every endpoint",
        below_verdict=below_verdict,
        **machine(ch), **data_facts(world, ch, scope), **storage_facts(ch, json_bytes),
    )  # fmt: skip
    print(text)
    write_results(args.results, text)


if __name__ == "__main__":
    main()
