"""One source of DDL, two renderings: the migrations in `schema/` for one node, or for a ClickHouse cluster.

Without CLICKHOUSE_CLUSTER every statement runs as written (chDB, or one server). With it, each statement is
rewritten here, so that no migration exists twice:

- `CREATE TABLE t (...) ENGINE = XMergeTree ...` becomes two tables. `t_local` holds the rows: created `ON CLUSTER`
  with `ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/t_local', '{replica}')`, so that each shard's
  replicas share one replication log. `t` is a `Distributed` table over the `t_local` of every shard: queries and
  the sink keep the names they use on one node and read (or write) every shard through it.
- Rows are sharded by a hash of the app key, `cityHash64(tenant_id, org_id, app_id)`: every row of one app, in the
  raw table and in every view's target, lives on one shard. A table without the app key names its key in
  `SHARDING` (a new one stops rendering until it does, rather than being sharded by chance).
- `CREATE MATERIALIZED VIEW v TO target AS SELECT ... FROM source` is created on every node, reading
  `source_local` and writing `target_local`. A view fires on the block inserted into the table it reads, and on a
  cluster that is the block a shard receives from the Distributed table: each shard aggregates its own apps, and
  since an app never spans shards, a view's states for one app are all on one shard, as on one node.
- `BACKFILL v` inserts into the Distributed target from the Distributed source with
  `parallel_distributed_insert_select = 2`: each shard runs `INSERT INTO target_local SELECT ... FROM
  source_local`, its own rows into its own view, nothing crossing shards.
- `ALTER TABLE t ...` runs on `t_local ON CLUSTER`; a change to the set of columns also runs on `t`, without codecs
  (a Distributed table stores nothing), so that it shows the new column.
- `non_replicated_deduplication_window` becomes `replicated_deduplication_window`: insert deduplication by token,
  which the sink relies on for its retries, is kept for the replicated tables too.

`tests/test_cluster_ddl.py` compares the cluster rendering of every file in `schema/` with `tests/golden/` and has
ClickHouse's own parser read every statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ota_stream.errors import OtaStreamError

LOCAL = "_local"
APP_KEY = "cityHash64(tenant_id, org_id, app_id)"
# Tables without the app key. None: never inserted into through its Distributed table; its rows are written on each
# shard by a view over that shard's local raw rows, so they sit beside the rows they index.
SHARDING: dict[str, str | None] = {
    "event_keys": None,
    "dead_letters": "cityHash64(topic, kafka_partition)",  # a position's records on one shard, for Replacing
}
# A backfill never drops a block as a duplicate (INSERT SELECT blocks may be alike).
BACKFILL_SETTINGS: dict[str, Any] = {"insert_deduplicate": 0}
CLUSTER_BACKFILL_SETTINGS: dict[str, Any] = {
    **BACKFILL_SETTINGS,
    "parallel_distributed_insert_select": 2,  # each shard: its local source into its local target
    "distributed_foreground_insert": 1,
}

_TABLE = re.compile(r"^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*(\(.*)$", re.IGNORECASE | re.DOTALL)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w*)MergeTree\b(?:\(([^()]*)\))?", re.IGNORECASE)
_VIEW = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+TO\s+(\w+)\s+AS\s+(SELECT\b.*)$",
    re.IGNORECASE | re.DOTALL,
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(\w+)\s+(.*)$", re.IGNORECASE | re.DOTALL)
_BACKFILL = re.compile(r"^BACKFILL\s+(\w+)$", re.IGNORECASE)
_COLUMNS_CHANGE = re.compile(
    r"^(ADD|DROP|RENAME|MODIFY)\s+COLUMN\b(?!\s+(?:IF\s+EXISTS\s+)?\w+\s+CODEC\b)", re.I
)
_CODEC = re.compile(r"\s+CODEC\((?:[^()]|\([^()]*\))*\)", re.IGNORECASE)
_FROM = re.compile(r"\b(FROM|JOIN)\s+(\w+)\b", re.IGNORECASE)


class RenderError(OtaStreamError, ValueError):
    """A statement this renderer cannot turn into its cluster form: the migration must say how."""


@dataclass(frozen=True)
class Step:
    """One statement to run. In a backfill, `{since_cutoff}` selects the rows before the cutoff, elsewhere after."""

    sql: str
    settings: dict[str, Any] | None = None
    backfill: bool = False


@dataclass(frozen=True)
class Renderer:
    """Renders a migration's statements; `cluster` empty means one node. `tables` are the names the migrations
    create (all of them, so that a later migration's views read an earlier one's local tables)."""

    cluster: str = ""
    tables: frozenset[str] = field(default_factory=frozenset)

    def render(self, statements: Iterable[str]) -> list[Step]:
        statements = list(statements)
        views = {m.group(1): (m.group(2), m.group(3)) for m in map(_VIEW.match, statements) if m}
        steps: list[Step] = []
        for statement in statements:
            backfill = _BACKFILL.match(statement)
            if backfill is not None:
                steps.append(self._backfill(backfill.group(1), views))
            elif not self.cluster:
                steps.append(Step(statement))
            else:
                steps.extend(Step(sql) for sql in self._clustered(statement))
        return steps

    def drop(self, kind: str, name: str) -> str:
        """The statement that undoes a CREATE of a failed migration."""
        return f"DROP {'TABLE' if kind == 'TABLE' else 'VIEW'} IF EXISTS {name}{self._on_cluster}"

    def migrations_table(self, name: str) -> str:
        """The table of applied migrations. On a cluster, one replicated table shared by every node (its path has
        no {shard}), so that any node a worker reaches knows what has been applied."""
        columns = (
            "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
        )
        if not self.cluster:
            return f"CREATE TABLE IF NOT EXISTS {name} {columns} ENGINE = MergeTree ORDER BY version"
        engine = f"ReplicatedMergeTree('/clickhouse/tables/{{database}}/{name}', '{{replica}}')"
        return f"CREATE TABLE IF NOT EXISTS {name}{self._on_cluster} {columns} ENGINE = {engine} ORDER BY version"

    @property
    def _on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def _backfill(self, name: str, views: dict[str, tuple[str, str]]) -> Step:
        if name not in views:
            raise RenderError(f"BACKFILL {name}: no CREATE MATERIALIZED VIEW {name} in this migration")
        target, select = views[name]
        settings = CLUSTER_BACKFILL_SETTINGS if self.cluster else BACKFILL_SETTINGS
        return Step(f"INSERT INTO {target} {select}", dict(settings), backfill=True)

    def _clustered(self, statement: str) -> list[str]:
        for pattern, render in (
            (_TABLE, self._table),
            (_VIEW, self._view),
            (_ALTER, self._alter),
        ):
            match = pattern.match(statement)
            if match is not None:
                return render(match)
        raise RenderError(f"no cluster form for: {statement[:120]}")

    def _table(self, match: re.Match[str]) -> list[str]:
        name, body = match.group(1), match.group(2)
        engine = _ENGINE.search(body)
        if engine is None:
            raise RenderError(f"{name}: only *MergeTree tables have a cluster form")
        local = name + LOCAL
        arguments = [f"'/clickhouse/tables/{{shard}}/{{database}}/{local}'", "'{replica}'"]
        if engine.group(2):
            arguments.append(engine.group(2))
        replicated = f"ENGINE = Replicated{engine.group(1)}MergeTree({', '.join(arguments)})"
        body = body[: engine.start()] + replicated + body[engine.end() :]
        body = body.replace("non_replicated_deduplication_window", "replicated_deduplication_window")
        key = self._sharding_key(name, match.group(2))
        distributed = f"Distributed({self.cluster}, currentDatabase(), {local}{', ' + key if key else ''})"
        return [
            f"CREATE TABLE IF NOT EXISTS {local}{self._on_cluster}\n{body}",
            f"CREATE TABLE IF NOT EXISTS {name}{self._on_cluster} AS {local}\nENGINE = {distributed}",
        ]

    def _sharding_key(self, name: str, body: str) -> str | None:
        if name in SHARDING:
            return SHARDING[name]
        columns = set(re.findall(r"^\s*(\w+)\s", body.split("ENGINE")[0], re.MULTILINE))
        if {"tenant_id", "org_id", "app_id"} <= columns:
            return APP_KEY
        raise RenderError(f"{name}: no app key; name its sharding key in ota_stream/storage/ddl.py SHARDING")

    def _view(self, match: re.Match[str]) -> list[str]:
        name, target, select = match.groups()
        local_select = _FROM.sub(
            lambda m: f"{m.group(1)} {m.group(2)}{LOCAL}" if m.group(2) in self.tables else m.group(0), select
        )
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name}{self._on_cluster} TO {target}{LOCAL} AS {local_select}"
        ]

    def _alter(self, match: re.Match[str]) -> list[str]:
        name, change = match.groups()
        rendered = [f"ALTER TABLE {name}{LOCAL}{self._on_cluster} {change}"]
        if _COLUMNS_CHANGE.match(change):
            rendered.append(f"ALTER TABLE {name}{self._on_cluster} {_CODEC.sub('', change)}")
        return rendered


def created_tables(statements: Iterable[str]) -> frozenset[str]:
    """The tables that these statements create."""
    return frozenset(m.group(1) for m in map(_TABLE.match, statements) if m)
