"""The report of analytics_bench.py: the machine, bytes on disk per table, the Markdown of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from ota_stream.storage.client import ClickHouse


def machine(ch: ClickHouse) -> dict[str, str]:
    import chdb  # type: ignore[import-untyped,unused-ignore]

    text = Path("/proc/cpuinfo").read_text() + Path("/proc/meminfo").read_text()
    lines = [line.split(":", 1) for line in text.splitlines()]
    info = {pair[0].strip(): pair[1].strip() for pair in lines if len(pair) == 2}
    return {"cpu": info.get("model name", "?"), "nproc": str(os.cpu_count()), "os": platform.platform(),
            "memory": f"{int(info['MemTotal'].split()[0]) / 1024**2:.1f} GiB", "python": platform.python_version(),
            "chdb": f"{chdb.__version__} (ClickHouse {ch.query_rows('SELECT version()')[0][0]})"}  # fmt: skip


PARTS = """SELECT table, sum(rows), count(), sum(bytes_on_disk) FROM system.parts
WHERE database = currentDatabase() AND active AND table != 'schema_migrations'
GROUP BY table ORDER BY table != 'ota_events_raw', table"""
PROJECTIONS = """SELECT sum(bytes_on_disk) FROM system.projection_parts
WHERE database = currentDatabase() AND active"""
TOP_COLUMNS = """SELECT name, data_compressed_bytes FROM system.columns
WHERE database = currentDatabase() AND table = 'ota_events_raw' ORDER BY data_compressed_bytes DESC LIMIT 5"""


def storage_facts(ch: ClickHouse, json_bytes: float) -> dict[str, str]:
    parts = ch.query_rows(PARTS)
    rows, raw = parts[0][1], parts[0][3]
    everything = sum(p[3] for p in parts)
    ratio_raw, ratio_all = json_bytes * rows / raw, json_bytes * rows / everything
    verdicts = [f"{name} {r:.1f}:1, " + ("met" if r >= 10 else f"**missed**, {10 / r:.1f}x short")
                for name, r in [("raw table alone", ratio_raw), ("with the views' tables", ratio_all)]]  # fmt: skip
    return {"json": f"{json_bytes:.1f}", "raw_b": f"{raw / rows:.1f}", "all_b": f"{everything / rows:.1f}",
            "projection_b": f"{ch.query_rows(PROJECTIONS)[0][0] / rows:.1f}",
            "parts": "\n".join(f"| {t} | {r:,} | {p} | {b:,} | {b / rows:.2f} |" for t, r, p, b in parts),
            "columns": ", ".join(f"{name} {b / rows:.1f}" for name, b in ch.query_rows(TOP_COLUMNS)),
            "ratio_verdict": "; ".join(verdicts)}  # fmt: skip


def per_event(ch: ClickHouse) -> tuple[float, float]:
    """Bytes on disk per event: of the raw table, and of it with the views' tables."""
    parts = ch.query_rows(PARTS)
    return parts[0][3] / parts[0][1], sum(p[3] for p in parts) / parts[0][1]


REPORT = """# Analytics benchmark on embedded ClickHouse (chDB)

Run {date} with `{command}`

- Machine: {cpu}, nproc {nproc}, {memory}; {os}; Python {python}; chDB {chdb}
- The machine is shared and has 2 cores: the latencies are noisy, read them as orders of magnitude.

## Data and load

- {rows} events in `ota_events_raw` from {devices} devices of 20 apps (3 tenants) over the last 30 days:
  {lifecycles} update lifecycles of {per_lifecycle} events each; outcomes: {mix};
  {launches} (bench/sessions.py)
- Load: {load}

## Latency, ms

App `{app}`, window now-30d..now: {app_rows}. With views: {warmup} warm-up + {runs} timed runs;
raw table only (`use_views=False`): {warmup} + {raw_runs}. "same" compares the two results. "CPU" is the CPU time
of the benchmark's process (chDB's threads included) per request, which moves far less than the wall time when
other work shares the machine.

| endpoint | views p50 | views p95 | views CPU p50 | raw p50 | raw p95 | same |
|---|---:|---:|---:|---:|---:|---|
{latency}

## Storage, active parts

| table | rows | parts | bytes on disk | bytes per event |
|---|---:|---:|---:|---:|
{parts}

- Raw JSON, nested and compact as POSTed ({json_sample:,} sampled events, each valid for `parse_event`):
  {json} bytes per event.
- On disk: {raw_b} bytes per event in `ota_events_raw` (projections: {projection_b}),
  {all_b} with the views' tables. Largest columns, compressed bytes per event: {columns}.

## Targets

- p95 under 100 ms per endpoint (with views): {latency_verdict}
- At or below `releases`' p95 (with views, this run): {below_verdict}
- Compression at least 10:1: {ratio_verdict}
"""


def write_results(path: Path, text: str) -> None:
    """Write the report, keeping the hand-written `## Notes` section of the previous file."""
    old = path.read_text() if path.exists() else ""
    path.write_text(text + (old[old.index("\n## Notes") :] if "\n## Notes" in old else ""))
