"""Alert state per (rule, app): a changelogged RocksDB table, partitioned like the live windows it is read from.

An entry lives in the partition of its app (the partition of the app's events and live windows), so it moves
with the app when partitions move, and Faust restores it from the changelog on the new owner, after a restart or
a kill -9 alike. Its value:

    {"partition": p, "firing": bool, "fired_at": RFC 3339 | None,
     "pending": [notification, ...], "last": {"id", "state", "delivered_at"} | None}

A notification is `{"id", "state", "body", "created_at"}`: its body is stored as the exact JSON text that is
signed and sent, so a retry, by this worker or by the next owner, sends the same bytes and the same id.

Writes happen in a timer or a delivery task, outside any stream event, so they name their partition and send
their changelog record themselves (kafka/table_state.py), awaiting the broker's ack. Only the partitions this
worker owns right now (`owned_partitions`) are read or written: never during a rebalance or a recovery, when
another worker may be about to own them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import faust

from ota_stream.kafka.consumer import assigned_partitions
from ota_stream.kafka.table_state import at_partition, send_change
from ota_stream.tables.store import store_options

TABLE_NAME = "alert-state"
Key = tuple[str, str]  # (rule_id, app_key)
State = dict[str, Any]


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """Partitions of the events topic whose alert state this worker may read and write now."""
    if app.rebalancing or app.in_recovery or not app.flow_control.is_active():
        return set()
    return set(assigned_partitions(app, topic))


class AlertStates:
    def __init__(
        self,
        app: faust.App,
        partitions: int,
        owned: Callable[[], set[int]],
        topic_configs: Mapping[str, str] | None = None,
        name: str = TABLE_NAME,
        description: str = (
            "Alert state per rule and app: firing or not, notifications waiting for delivery (docs/alerts.md)."
        ),
        store: Mapping[str, Any] | None = None,
    ) -> None:
        """`topic_configs`: the changelog's (min.insync.replicas, as every topic the worker creates); `name` and
        `description`: the table's (guard decisions keep their state in a table of the same kind); `store`: its
        RocksDB options (tables/store.py), bounded by default."""
        self.owned = owned
        self.partitions = partitions
        self.table = app.Table(
            name,
            default=None,
            partitions=partitions,  # co-partitioned with the events topic and the live windows
            options=dict(store or store_options()),
            extra_topic_configs=topic_configs,
            help=description,
        )

    def get(self, key: Key, partition: int) -> State | None:
        """The entry, or None when it has none or its partition is not this worker's now."""
        if partition not in self.owned():
            return None
        with at_partition(partition):
            return cast(State | None, self.table.data.get(key))

    async def update(self, key: Key, partition: int, change: Callable[[State | None], State | None]) -> bool:
        """Apply `change` to the entry and make it durable: RocksDB now, then the changelog, acked by the broker.

        The read, the change and the local write happen without a pause, so concurrent writers (the evaluation
        and the deliveries) never lose each other's changes. False when the partition is not owned now.
        """
        if partition not in self.owned():
            return False
        with at_partition(partition):
            current = self.table.data.get(key)
            new = change(current)
            if new == current:
                return True
            if new is None:
                del self.table.data[key]
            else:
                self.table.data[key] = new
        await (await send_change(self.table, key, new, partition))
        return True

    def owned_items(self) -> list[tuple[Key, State]]:
        """Entries of the partitions this worker owns now (a list: the caller may pause between them)."""
        owned = self.owned()
        if not owned:
            return []
        return [((k[0], k[1]), v) for k, v in self.table.data.items() if v["partition"] in owned]
