"""Latency of the analytics queries and bytes on disk, on synthetic OTA events in embedded ClickHouse (chDB).

    /tmp/warmvenv/bin/python bench/analytics_bench.py --events 10000000

Devices of 20 apps (3 tenants) go through update lifecycles as each app rolls out new versions over the last
30 days. Events are generated as numpy/pyarrow columns and loaded with `insert_arrow`, which fills the
materialized views. Each endpoint is then timed for the largest app over now-30d..now, with and without views.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
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
from ota_stream.storage.queries.scope import Scope

HERE = Path(__file__).resolve().parent
DAY_MS = 86_400_000
INSERT_SETTINGS = {"async_insert": 0, "insert_deduplicate": 0}
APPS = [("acme", "consumer", a) for a in ("shop", "wallet", "news", "maps", "fit")]
APPS += [("acme", "enterprise", a) for a in ("mail", "notes", "crm", "hr")]
APPS += [("globex", "media", a) for a in ("music", "video", "games", "photos")]
APPS += [("globex", "travel", a) for a in ("ride", "tickets", "hotel")]
APPS += [("initech", "retail", a) for a in ("food", "bank", "health", "learn")]
EVENT_TYPES = ["update_started", "update_downloading", "update_downloaded", "update_installing", "update_installed",
               "update_failed", "update_cancelled", "rollback_started", "rollback_completed"]  # fmt: skip
STARTED, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED, CANCELLED, RB_STARTED, RB_DONE = range(9)
# What follows the download-progress events of a lifecycle, per outcome (-1 pads); and the outcome's odds.
TAILS = np.array([[DOWNLOADED, INSTALLING, INSTALLED, -1, -1], [DOWNLOADED, INSTALLING, INSTALLED, RB_STARTED, RB_DONE],
                  [FAILED, -1, -1, -1, -1], [DOWNLOADED, FAILED, -1, -1, -1], [DOWNLOADED, INSTALLING, FAILED, -1, -1],
                  [CANCELLED, -1, -1, -1, -1]])  # fmt: skip
OUTCOMES = np.array([0.93, 0.012, 0.018, 0.008, 0.014, 0.018])
STAGES = ["download", "verify", "install"]  # of the failing outcomes 2, 3, 4
ERROR_CODES = ["E_NETWORK", "E_TIMEOUT", "E_CONNECTION_RESET", "E_CHECKSUM", "E_SIGNATURE", "E_DISK_FULL",
               "E_INSTALL_CONFLICT"]  # fmt: skip
STAGE_ERRORS = np.array([[0, 0, 1, 2], [3, 3, 3, 4], [5, 5, 6, 1]])  # codes per stage, repeated by frequency
MODELS = [("iOS", "Apple", m) for m in ("iPhone 12", "iPhone 13", "iPhone 14", "iPhone 15", "iPhone 15 Pro")]
MODELS += [("Android", b, m) for b, m in [("Samsung", "Galaxy S23"), ("Samsung", "Galaxy A54"), ("Google", "Pixel 8"),
           ("Xiaomi", "Redmi Note 12"), ("OnePlus", "OnePlus 11"), ("Motorola", "moto g84")]]  # fmt: skip
OS_VERSIONS = {"iOS": ["16.7.8", "17.5.1", "17.6.1", "18.1"], "Android": ["12", "13", "14", "15"]}
RENAMED = {"device_os": ("device_info", "os"), "device_os_version": ("device_info", "os_version"),
           "device_model": ("device_info", "model"), "device_manufacturer": ("device_info", "manufacturer"),
           "release_channel": ("release_info", "channel")}  # fmt: skip
Arrays = dict[str, np.ndarray]
RELEASES = 7  # versions each app rolls out over the 30 days


def uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """n random version-4 UUID strings, built as one byte buffer."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6], raw[:, 8] = (raw[:, 6] & 0x0F) | 0x40, (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, [i for i in range(36) if i not in (8, 13, 18, 23)]] = np.frombuffer(
        b"0123456789abcdef", np.uint8
    )[nibbles]
    offsets = np.arange(n + 1, dtype=np.int32) * 36
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


def take(values: list[str] | pa.Array, idx: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    indices = pa.array(idx, mask=None if present is None else ~present)
    return pc.take(values if isinstance(values, pa.Array) else pa.array(values, pa.string()), indices)


def nums(values: np.ndarray, present: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, type=kind, mask=~present)


@dataclass
class World:
    """Apps, devices and update lifecycles: small arrays from which the events are expanded chunk by chunk."""

    now_ms: int
    versions: list[str]  # version id = app * (releases + 1) + k; k = 0 is the version before the window
    device_ids: pa.Array
    device: Arrays  # app, model, os_version, channel per device
    lc: Arrays  # one entry per lifecycle, ordered by device and time
    lengths: np.ndarray  # events per lifecycle

    def chunks(self, rng: np.random.Generator, rows: int) -> Iterator[pa.Table]:
        ends = np.cumsum(self.lengths)
        bounds = np.unique(np.searchsorted(ends, np.arange(rows, ends[-1], rows)))
        lo, offset = 0, 0
        for hi in [*bounds.tolist(), len(self.lengths)]:
            table = expand(self, rng, lo, hi, offset)
            yield table
            lo, offset = hi, offset + table.num_rows


def devices(rng: np.random.Generator, n: int) -> Arrays:
    weights = 1 / np.arange(1, len(APPS) + 1) ** 0.8  # app sizes fall off like Zipf
    model = rng.choice(len(MODELS), n, p=np.full(len(MODELS), 1 / len(MODELS)))
    ios = np.array([os == "iOS" for os, _, _ in MODELS])[model]
    os_version = np.where(ios, rng.integers(0, 4, n), 4 + rng.integers(0, 4, n))
    return {
        "app": rng.choice(len(APPS), n, p=weights / weights.sum()),
        "model": model,
        "os_version": os_version,
        "channel": (rng.random(n) < 0.05).astype(np.int64),
    }


def lifecycles(rng: np.random.Generator, app: np.ndarray, now_ms: int, releases: int) -> Arrays:
    """Per device and release: whether and when it updates, to which outcome, from which version."""
    n_apps, n = len(APPS), len(app)
    released = (
        now_ms
        - 30 * DAY_MS
        + (np.arange(releases) + rng.uniform(0.1, 0.9, (n_apps, releases))) * (30 * DAY_MS / releases)
    )
    start = released[app] + rng.exponential(1.5 * DAY_MS, (n, releases))
    keep = (rng.random((n, releases)) < 0.93) & (start < now_ms - 6 * 3_600_000)
    later = np.minimum.accumulate(np.where(keep, start, np.inf)[:, ::-1], axis=1)[:, ::-1]
    keep &= start + 3_600_000 < np.concatenate(
        [later[:, 1:], np.full((n, 1), np.inf)], axis=1
    )  # else it jumps
    bad = rng.random((n_apps, releases)) < 0.15  # a release that fails more often to install
    outcome = rng.choice(len(OUTCOMES), (n, releases), p=OUTCOMES)
    outcome = np.where(bad[app] & (rng.random((n, releases)) < 0.04), 4, outcome)
    installed_to = np.where(keep & (outcome == 0), np.arange(1, releases + 1), 0)
    current = np.concatenate(
        [np.zeros((n, 1), np.int64), np.maximum.accumulate(installed_to, axis=1)[:, :-1]], 1
    )
    dev, rel = np.nonzero(keep)
    base = app[dev] * (releases + 1)
    return {
        "device": dev,
        "app": app[dev],
        "start": start[dev, rel].astype(np.int64),
        "outcome": outcome[dev, rel],
        "current": base + current[dev, rel],
        "target": base + rel + 1,
        "age": (start[dev, rel] - released[app[dev], rel]) / DAY_MS,
    }


def measurements(rng: np.random.Generator, lc: Arrays) -> None:
    """Per lifecycle: network, download size and speed, durations, errors."""
    n = len(lc["device"])
    lc["wifi"] = rng.random(n) < 0.7
    lc["speed"] = np.round(rng.lognormal(np.where(lc["wifi"], 3.4, 2.5), 0.7), 2)
    lc["size"] = rng.lognormal(15.8, 0.5, int(lc["target"].max()) + 1)[lc["target"]].astype(
        np.int64
    )  # per release
    lc["dl"] = np.round(lc["size"] * 8 / (lc["speed"] * 1e6), 3)
    lc["inst"] = np.round(rng.lognormal(1.1, 0.6, n), 3)
    lc["battery"], lc["storage"] = rng.integers(8, 101, n), np.round(rng.lognormal(9.5, 1.0, n), 1)
    lc["rb_delay"], lc["rb_dur"] = rng.uniform(300, 14_400, n), np.round(rng.uniform(1, 20, n), 3)
    stage = np.clip(lc["outcome"] - 2, 0, 2)
    lc["error"] = STAGE_ERRORS[stage, rng.integers(0, STAGE_ERRORS.shape[1], n)]
    lc["stage"] = np.where(rng.random(n) < 0.05, -1, stage)  # some clients do not report the stage
    lc["reason"] = rng.integers(0, 3, n)  # of a cancellation or a rollback


def build_world(seed: int, n_events: int, n_devices: int, releases: int) -> World:
    """Lifecycles for every device; download-progress events fill the rest so that there are n_events."""
    rng, now_ms = np.random.default_rng(seed), int(time.time() * 1000)
    device = devices(rng, n_devices)
    lc = lifecycles(rng, device["app"], now_ms, releases)
    measurements(rng, lc)
    tail = (TAILS >= 0).sum(axis=1)[lc["outcome"]]
    spare = n_events - int((2 + tail).sum())  # update_started, at least one progress event, the tail
    if spare < 0:
        raise SystemExit(f"{n_events} events are too few for {n_devices} devices; lower --devices")
    lc["progress_n"] = 1 + np.bincount(rng.integers(0, len(tail), spare), minlength=len(tail))
    majors, minors = rng.integers(1, 5, len(APPS)), rng.integers(0, 30, len(APPS))
    names = [
        f"{major}.{minor + k}.0"
        for major, minor in zip(majors, minors, strict=True)
        for k in range(releases + 1)
    ]
    return World(now_ms, names, uuids(rng, n_devices), device, lc, 1 + lc["progress_n"] + tail)


def seconds_after_start(kind: np.ndarray, pos: np.ndarray, e: Arrays) -> np.ndarray:
    dl, p = e["dl"], e["progress_n"]
    stopped, done = dl * (p + 0.5) / (p + 1), dl + 2 + e["inst"]
    failed = np.choose(np.clip(e["outcome"] - 2, 0, 2), [stopped, dl + 1, dl + 2 + e["inst"] / 2])
    at = [
        np.zeros_like(dl),
        dl * pos / (p + 1),
        dl,
        dl + 2,
        done,
        failed,
        stopped,
        done + e["rb_delay"],
        done + e["rb_delay"] + e["rb_dur"],
    ]
    return np.choose(kind, at)


def metadata(present: np.ndarray, app: np.ndarray) -> pa.Array:
    """{"sdk_version", "js_engine"} on the events where present, else an empty map."""
    sdks = ["expo-updates@0.25.27", "expo-updates@0.26.6", "react-native-code-push@8.3.1"]
    offsets = np.concatenate([[0], np.cumsum(np.where(present, 2, 0))]).astype(np.int32)
    count = int(present.sum())
    values = np.stack([app[present] % len(sdks), np.full(count, len(sdks))], axis=1).ravel()
    keys = pa.array(np.tile(["sdk_version", "js_engine"], count), pa.string())
    return pa.MapArray.from_arrays(pa.array(offsets), keys, take([*sdks, "hermes"], values))


def expand(w: World, rng: np.random.Generator, lo: int, hi: int, offset: int) -> pa.Table:
    """The events of lifecycles lo..hi as a table in the column order of ota_events_raw."""
    lens = w.lengths[lo:hi]
    i = np.repeat(np.arange(hi - lo), lens)
    e = {key: values[lo:hi][i] for key, values in w.lc.items()}
    n, dev = len(i), e["device"]
    pos = np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)
    kind = np.where(pos == 0, STARTED, np.where(pos <= e["progress_n"], DOWNLOADING, -1))
    kind = np.where(kind < 0, TAILS[e["outcome"], np.clip(pos - e["progress_n"] - 1, 0, 4)], kind)
    is_ = {k: kind == k for k in range(len(EVENT_TYPES))}
    model, failed = w.device["model"][dev], is_[FAILED]
    rollout = np.select([e["age"] < 1, e["age"] < 3], [10.0, 50.0], 100.0)
    network = is_[STARTED] | is_[DOWNLOADED]
    cols = {
        "event_id": uuids(rng, n),
        "tenant_id": take([a[0] for a in APPS], e["app"]),
        "org_id": take([a[1] for a in APPS], e["app"]),
        "app_id": take([a[2] for a in APPS], e["app"]),
        "device_id": take(w.device_ids, dev),
        "session_id": take(uuids(rng, hi - lo), i),
        "event_type": take(EVENT_TYPES, kind),
        "timestamp": pa.array(
            e["start"] + (seconds_after_start(kind, pos, e) * 1000).astype(np.int64),
            pa.timestamp("ms", tz="UTC"),
        ),
        "device_os": take([m[0] for m in MODELS], model),
        "device_os_version": take(
            [v for os in ("iOS", "Android") for v in OS_VERSIONS[os]], w.device["os_version"][dev]
        ),
        "device_model": take([m[2] for m in MODELS], model),
        "device_manufacturer": take([m[1] for m in MODELS], model),
        "current_version": take(w.versions, e["current"]),
        "target_version": take(w.versions, e["target"]),
        "release_notes": take(
            [f"{v}: bug fixes and performance improvements" for v in w.versions], e["target"], is_[STARTED]
        ),
        "release_channel": take(["production", "beta"], w.device["channel"][dev]),
        "rollout_percentage": nums(rollout, is_[STARTED], pa.float32()),
        "connection_type": take(["cellular", "wifi"], e["wifi"].astype(np.int64), network),
        "bandwidth_mbps": nums(np.round(e["speed"] * 1.3, 2), network, pa.float64()),
        "download_speed_mbps": nums(e["speed"], is_[DOWNLOADED], pa.float64()),
        "download_duration_seconds": nums(e["dl"], is_[DOWNLOADED], pa.float64()),
        "install_duration_seconds": nums(e["inst"], is_[INSTALLED], pa.float64()),
        "package_size_bytes": nums(e["size"], is_[DOWNLOADED], pa.uint64()),
        "battery_level": nums(e["battery"], is_[DOWNLOADED] | is_[INSTALLED], pa.float32()),
        "storage_available_mb": nums(e["storage"], is_[DOWNLOADED], pa.float64()),
        "error_code": take(ERROR_CODES, e["error"], failed),
        "error_message": take([f"{code}: update aborted" for code in ERROR_CODES], e["error"], failed),
        "failure_stage": take(STAGES, np.maximum(e["stage"], 0), failed & (e["stage"] >= 0)),
        "progress": nums(np.round(100 * pos / (e["progress_n"] + 1)), is_[DOWNLOADING], pa.float32()),
        "cancellation_reason": take(
            ["user_cancelled", "low_battery", "no_wifi"], e["reason"], is_[CANCELLED]
        ),
        "rollback_reason": take(
            ["crash_on_launch", "health_check_failed", "manual"], e["reason"], is_[RB_STARTED] | is_[RB_DONE]
        ),
        "rollback_duration_seconds": nums(e["rb_dur"], is_[RB_DONE], pa.float64()),
        "metadata": metadata(is_[STARTED], e["app"]),
        "kafka_partition": pa.array((e["app"] % 12).astype(np.uint32)),
        "kafka_offset": pa.array(np.arange(offset, offset + n, dtype=np.uint64)),
    }
    return pa.table([cols[c] for c in COLUMNS], names=list(COLUMNS))


def as_posted(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ota_events_raw as the nested JSON a client POSTs (None and the Kafka lineage left out)."""
    event: dict[str, Any] = {}
    for column, value in row.items():
        if value is None or value == [] or column.startswith("kafka_"):
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, datetime | list):
            value = format_timestamp(value) if isinstance(value, datetime) else dict(value)
        group, name = RENAMED.get(column) or (FLAT_FIELDS.get(column), column)
        (event.setdefault(group, {}) if group else event)[name] = value
    return event


def json_bytes_per_event(table: pa.Table, rng: np.random.Generator, sample: int) -> float:
    rows = table.take(rng.choice(table.num_rows, min(sample, table.num_rows), replace=False)).to_pylist()
    events = [as_posted(row) for row in rows]
    for event in events:
        parse_event(event)  # each is a valid event for the ingest API
    return float(np.mean([len(orjson.dumps(event)) for event in events]))


def load(ch: ClickHouse, world: World, rng: np.random.Generator, rows: int) -> tuple[float, float]:
    """Insert every chunk; returns (seconds in total, seconds inside insert_arrow)."""
    started, inserting, done = time.perf_counter(), 0.0, 0
    for table in world.chunks(rng, rows):
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


def storage(ch: ClickHouse) -> list[tuple[str, int, int, int]]:
    """(table, rows, active parts, bytes on disk) for the raw table and the views' tables."""
    sql = """SELECT table, sum(rows), count(), sum(bytes_on_disk) FROM system.parts
             WHERE database = currentDatabase() AND active AND table != 'schema_migrations'
             GROUP BY table ORDER BY table != {raw:String}, table"""
    return [(str(t), int(r), int(p), int(b)) for t, r, p, b in ch.query_rows(sql, {"raw": TABLE})]


def column_bytes(ch: ClickHouse, top: int = 6) -> list[tuple[str, int]]:
    sql = """SELECT name, data_compressed_bytes FROM system.columns WHERE database = currentDatabase()
             AND table = {raw:String} ORDER BY data_compressed_bytes DESC LIMIT {top:UInt32}"""
    return [(str(n), int(b)) for n, b in ch.query_rows(sql, {"raw": TABLE, "top": top})]


Endpoint = Callable[[ClickHouse, Scope, bool], Awaitable[dict[str, Any]]]
ENDPOINTS: dict[str, Endpoint] = {
    "adoption": lambda ch, s, v: adoption.adoption(ch, s, use_views=v),
    "versions": lambda ch, s, v: versions.versions(ch, s, use_views=v),
    "versions?segment=device_os": lambda ch, s, v: versions.versions(ch, s, "device_os", use_views=v),
    "active-devices": lambda ch, s, v: active_devices.active_devices(ch, s, use_views=v),
    "failures": lambda ch, s, v: failures.failures(ch, s, use_views=v),
    "failures?group_by=failure_stage": lambda ch, s, v: failures.failures(
        ch, s, "failure_stage", use_views=v
    ),
    "performance": lambda ch, s, v: performance.performance(ch, s, use_views=v),
}


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    result: Any


async def timed(ch: ClickHouse, scope: Scope, call: Endpoint, views: bool, warmup: int, runs: int) -> Timing:
    result = None
    for _ in range(warmup):
        result = await call(ch, scope, views)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await call(ch, scope, views)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    return Timing(float(p50), float(p95), result)


async def bench(ch: ClickHouse, scope: Scope, args: argparse.Namespace) -> dict[str, tuple[Timing, Timing]]:
    timings: dict[str, tuple[Timing, Timing]] = {}
    for name, call in ENDPOINTS.items():
        views = await timed(ch, scope, call, True, args.warmup, args.runs)
        raw = await timed(ch, scope, call, False, 1, args.raw_runs)
        timings[name] = (views, raw)
        print(
            f"  {name}: p50/p95 views {views.p50_ms:.1f}/{views.p95_ms:.1f} ms, "
            f"raw {raw.p50_ms:.1f}/{raw.p95_ms:.1f} ms",
            file=sys.stderr,
        )
    return timings


def machine(ch: ClickHouse) -> str:
    import chdb  # type: ignore[import-untyped,unused-ignore]

    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text(), Path("/proc/meminfo").read_text()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?"
    )
    mem_kb = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal")))
    version = ch.query_rows("SELECT version()")[0][0]
    return (
        f"- CPU: {cpu}, nproc {os.cpu_count()}; memory {mem_kb / 1024**2:.1f} GiB; {platform.platform()}\n"
        f"- Python {platform.python_version()}; chDB {chdb.__version__} (ClickHouse {version})"
    )


@dataclass
class Facts:
    command: str
    machine: str
    data: str
    load: tuple[float, float] | None  # seconds in total and inside insert_arrow; None when reused
    settle_s: float
    timings: dict[str, tuple[Timing, Timing]]
    tables: list[tuple[str, int, int, int]]
    columns: list[tuple[str, int]]
    json_bytes: float


def data_summary(world: World, ch: ClickHouse, scope: Scope) -> str:
    lc, n = world.lc, len(world.lengths)
    share = {
        name: np.isin(lc["outcome"], codes).sum() / n
        for name, codes in [
            ("installed", [0, 1]),
            ("failed", [2, 3, 4]),
            ("cancelled", [5]),
            ("rolled back", [1]),
        ]
    }
    dims, params = scope.dims()
    window = "timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp <= {end:DateTime64(3, 'UTC')}"
    params |= {
        "start": scope.start.strftime("%Y-%m-%d %H:%M:%S"),
        "end": scope.end.strftime("%Y-%m-%d %H:%M:%S"),
    }
    in_app = ch.query_rows(f"SELECT count() FROM {TABLE} WHERE {dims} AND {window}", params)[0][0]
    total = ch.query_rows(f"SELECT count(), uniqExact(device_id) FROM {TABLE}")[0]
    return (
        f"- {total[0]:,} events in `{TABLE}`, {total[1]:,} devices, {len(APPS)} apps of 3 tenants; "
        f"{n:,} update lifecycles ({int(world.lengths.sum()) / n:.1f} events each), outcomes: "
        + ", ".join(f"{k} {v:.1%}" for k, v in share.items())
        + "\n"
        f"- measured app: `{scope.tenant_id}/{scope.org_id}/{scope.app_id}` (the largest), "
        f"{in_app:,} events in the window ({in_app / total[0]:.1%} of all)"
    )


def verdict(value: float, target: float, below: bool) -> str:
    met = value < target if below else value >= target
    return "met" if met else f"**missed** by {abs(value - target):.1f} ({value / target:.2f}x the target)"


def render(f: Facts, args: argparse.Namespace) -> str:
    raw_rows, raw_bytes = f.tables[0][1], f.tables[0][3]
    view_bytes = sum(b for _, _, _, b in f.tables[1:])
    lines = [
        "# Analytics benchmark on embedded ClickHouse (chDB)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{f.command}`",
        "",
        f.machine,
        "- The machine is shared: latencies are noisy; compare them as orders of magnitude.",
        "",
        "## Data",
        "",
        f.data,
        "",
        "## Load",
        "",
    ]
    if f.load:
        total, inside = f.load
        lines.append(
            f"- {total:.1f} s: {args.events / total:,.0f} events/s including generation; "
            f"{args.events / inside:,.0f} events/s inside `insert_arrow` (views filled on insert)"
        )
    else:
        lines.append("- reused the data of an earlier run (`--reuse`)")
    lines += [
        f"- waited {f.settle_s:.0f} s for background merges before timing",
        "",
        f"## Latency, ms (now-30d..now, one app; views: {args.warmup} warm-up + {args.runs} runs; "
        f"raw only: 1 + {args.raw_runs})",
        "",
        "| endpoint | views p50 | views p95 | raw p50 | raw p95 | p95 < 100 ms (views) | views = raw |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name, (v, r) in f.timings.items():
        lines.append(
            f"| {name} | {v.p50_ms:.1f} | {v.p95_ms:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{verdict(v.p95_ms, 100, True)} | {'yes' if v.result == r.result else '**no**'} |"
        )
    lines += [
        "",
        "## Storage (active parts)",
        "",
        "| table | rows | parts | bytes on disk | bytes per event |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {t} | {rows:,} | {parts} | {b:,} | {b / raw_rows:.2f} |" for t, rows, parts, b in f.tables]
    ratio_raw, ratio_all = (
        f.json_bytes * raw_rows / raw_bytes,
        f.json_bytes * raw_rows / (raw_bytes + view_bytes),
    )
    worst = max(v.p95_ms for v, _ in f.timings.values())
    lines += [
        "",
        f"- raw JSON as POSTed (nested, compact, {args.json_sample:,} sampled events, each validated "
        f"by `parse_event`): {f.json_bytes:.1f} bytes per event",
        f"- on disk: {raw_bytes / raw_rows:.2f} bytes per event in `{TABLE}`, "
        f"{(raw_bytes + view_bytes) / raw_rows:.2f} with the views' tables",
        f"- compression: {ratio_raw:.1f}:1 raw table only, {ratio_all:.1f}:1 including views",
        "- largest columns of the raw table (compressed bytes per event): "
        + ", ".join(f"{n} {b / raw_rows:.2f}" for n, b in f.columns),
        "",
        "## Targets",
        "",
        f"- p95 under 100 ms per endpoint (views): worst p95 {worst:.1f} ms, {verdict(worst, 100, True)}",
        f"- compression at least 10:1: raw table {verdict(ratio_raw, 10, False)}; "
        f"with views {verdict(ratio_all, 10, False)}",
    ]
    return "\n".join(lines) + "\n"


def write_results(path: Path, text: str) -> None:
    """Write the report, keeping a hand-written `## Notes` section of the previous file."""
    old = path.read_text() if path.exists() else ""
    notes = old[old.index("\n## Notes") :] if "\n## Notes" in old else ""
    path.write_text(text + notes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Analytics query latency and storage on synthetic events (chDB)."
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, help="default: events / 50 (200,000 for 10M events)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "out" / "chdb")
    parser.add_argument(
        "--reuse", action="store_true", help="skip loading if the raw table has --events rows"
    )
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per insert")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--raw-runs", type=int, default=10)
    parser.add_argument("--json-sample", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    return parser.parse_args()


def prepare(ch: ClickHouse, world: World, args: argparse.Namespace) -> tuple[float, float] | None:
    """Load the events, unless --reuse and they are there already."""
    exists = ch.query_rows(f"EXISTS TABLE {TABLE}")[0][0]
    if args.reuse and exists and ch.query_rows(f"SELECT count() FROM {TABLE}")[0][0] == args.events:
        return None
    ch.command_sync(f"DROP DATABASE IF EXISTS `{ch.config.database}`")
    ch.command_sync(f"CREATE DATABASE `{ch.config.database}`")
    migrate(ch, retention_days=365)
    return load(ch, world, np.random.default_rng(args.seed + 1), args.chunk)


def main() -> None:
    args = parse_args()
    world = build_world(args.seed, args.events, args.devices or args.events // 50, RELEASES)
    ch = ClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    loaded = prepare(ch, world, args)
    settle_s = settle(ch)
    largest = int(np.argmax(np.bincount(world.device["app"], minlength=len(APPS))))
    now = datetime.now(UTC)
    tenant, org, app = APPS[largest]
    scope = Scope(tenant, now - timedelta(days=30), now, org, app)
    timings = asyncio.run(bench(ch, scope, args))
    sample = next(world.chunks(np.random.default_rng(args.seed + 1), args.chunk))
    json_bytes = json_bytes_per_event(sample, np.random.default_rng(args.seed + 2), args.json_sample)
    facts = Facts(
        shlex.join([sys.executable, *sys.argv]),
        machine(ch),
        data_summary(world, ch, scope),
        loaded,
        settle_s,
        timings,
        storage(ch),
        column_bytes(ch),
        json_bytes,
    )
    text = render(facts, args)
    print(text)
    write_results(args.results, text)


if __name__ == "__main__":
    main()
