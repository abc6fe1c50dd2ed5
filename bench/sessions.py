"""Launches and crashes for analytics_bench.py: the sessions behind `/analytics/stability`.

Each device uses its app on some days of the window and launches it about three times on each of them (the share
of the events that launches take decides how many days: the other figures keep their devices and lifecycles). A
launch runs the version the device's lifecycles left it on at that moment (installed: the new one; failed,
cancelled or rolled back: the one before), carries a launch duration (90 %), and crashes with the odds of its
version, drawn from 1 to 5 %. A crash comes minutes later in the same session, a JS fatal error, a native crash,
or an abnormal exit found at the next launch, with one of a few messages per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

DAY_MS, WINDOW_DAYS, LAUNCHES_PER_DAY = 86_400_000, 30, 3
CRASH_ODDS = (0.01, 0.05)
CRASHES = [
    ("JS_FATAL", m)
    for m in (
        "TypeError: undefined is not an object (evaluating 'cart.items')",
        "RangeError: Maximum call stack size exceeded",
        "Invariant Violation: no component named View",
    )
]
CRASHES += [
    ("NATIVE_CRASH", m)
    for m in (
        "SIGSEGV in libhermes.so",
        "java.lang.OutOfMemoryError",
        "EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)",
    )
]
CRASHES += [("ABNORMAL_EXIT", m) for m in ("killed by the watchdog at launch", "no clean exit recorded")]  # fmt: skip
CRASH_WEIGHTS = np.array([30, 12, 4, 18, 8, 6, 14, 8]) / 100
Arrays = dict[str, np.ndarray]


@dataclass
class Sessions:
    """One launch per entry, ordered by device; `crashed` marks the launches whose session crashes."""

    device: np.ndarray
    at: np.ndarray  # epoch ms of the launch
    version: np.ndarray  # version id, as in analytics_bench.World.versions
    crashed: np.ndarray
    crash_at: np.ndarray  # epoch ms of its crash, when it crashes
    crash: np.ndarray  # index in CRASHES
    duration: np.ndarray  # launch duration, seconds; NaN: not reported

    def __len__(self) -> int:
        return len(self.device)

    @property
    def events(self) -> int:
        return len(self) + int(self.crashed.sum())


def version_after(lc: Arrays) -> np.ndarray:
    """The version a lifecycle leaves running: its target when installed (outcome 0), else the one before."""
    return np.where(lc["outcome"] == 0, lc["target"], lc["current"])


def build(rng: np.random.Generator, lc: Arrays, device_app: np.ndarray, launches: int, now_ms: int,
          versions_per_app: int) -> Sessions:  # fmt: skip
    """About `launches` launches of the devices (`device_app`: each device's app) over the last 30 days."""
    n_devices = len(device_app)
    per_device = rng.poisson(launches / n_devices, n_devices)
    device = np.repeat(np.arange(n_devices), per_device)
    nth = np.arange(len(device)) - np.repeat(np.cumsum(per_device) - per_device, per_device)
    days = rng.integers(0, WINDOW_DAYS, (n_devices, int(per_device.max()) // LAUNCHES_PER_DAY + 1))
    day = days[device, nth // LAUNCHES_PER_DAY]  # about three launches on each day of use
    at = now_ms - WINDOW_DAYS * DAY_MS + day * DAY_MS + rng.integers(0, DAY_MS, len(device))
    at = np.minimum(at, now_ms - 60_000)
    order = np.lexsort((at, device))
    device, at = device[order], at[order]
    # The last lifecycle of the device that started before the launch: what it runs then.
    keys = lc["device"].astype(np.int64) << 42 | lc["start"]
    last = np.searchsorted(keys, device.astype(np.int64) << 42 | at, side="right") - 1
    known = (last >= 0) & (lc["device"][np.maximum(last, 0)] == device)
    before = device_app[device] * versions_per_app  # the version each app ran before the window
    version = np.where(known, version_after(lc)[np.maximum(last, 0)], before)
    odds = rng.uniform(*CRASH_ODDS, int(version.max()) + 1)
    n = len(device)
    return Sessions(
        device, at, version, rng.random(n) < odds[version],
        np.minimum(at + rng.exponential(600_000, n).astype(np.int64), now_ms - 1000),
        rng.choice(len(CRASHES), n, p=CRASH_WEIGHTS),
        np.where(rng.random(n) < 0.9, np.round(rng.lognormal(0.3, 0.5, n), 3), np.nan),
    )  # fmt: skip


Columns = Callable[[np.ndarray, np.ndarray], dict[str, pa.Array]]


def chunks(s: Sessions, rows: int, common: Columns, versions: list[str], uuids: Callable[[int], pa.Array],
           offset: int) -> Iterator[pa.Table]:  # fmt: skip
    """Tables of about `rows` launches and their crashes. `common(device, at_ms)` gives the columns that depend on
    the device and the time (ids, device info, timestamp, partition); `offset` is the first Kafka offset."""
    for lo in range(0, len(s), rows):
        hi = min(lo + rows, len(s))
        launch = np.arange(lo, hi)
        crashed = launch[s.crashed[lo:hi]]
        i = np.concatenate([launch, crashed])
        is_crash = np.arange(len(i)) >= len(launch)
        at = np.where(is_crash, s.crash_at[i], s.at[i])
        session = uuids(hi - lo)
        code, message = [c for c, _ in CRASHES], [m for _, m in CRASHES]
        duration = s.duration[i]
        cols = {
            **common(s.device[i], at),
            "event_id": uuids(len(i)),
            "session_id": session.take(pa.array(i - lo)),
            "event_type": pa.array(np.where(is_crash, "app_crashed", "app_launched")),
            "current_version": pa.array([versions[v] for v in s.version[i]], pa.string()),
            "launch_duration_seconds": pa.array(duration, pa.float64(), mask=is_crash | np.isnan(duration)),
            "error_code": pa.array(np.array(code)[s.crash[i]], pa.string(), mask=~is_crash),
            "error_message": pa.array(np.array(message)[s.crash[i]], pa.string(), mask=~is_crash),
            "kafka_offset": pa.array(np.arange(offset, offset + len(i), dtype=np.uint64)),
        }
        offset += len(i)
        yield pa.table(cols)
