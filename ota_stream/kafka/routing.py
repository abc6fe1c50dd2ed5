"""Answering a request for a table key on the worker that owns it: Faust's router, behind a plain aiohttp handler.

Faust's `table_route` decorates methods of its own `View`s; the service's routes are plain aiohttp handlers
(web/routes.py), so they call the router it uses. Faust's "no owner known yet" is the project's `NotReady`, which
the API answers 503 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import faust
from aiohttp import web
from faust.exceptions import NotReady as FaustNotReady
from faust.exceptions import SameNode
from faust.types.tables import CollectionT
from faust.web import Request as FaustRequest
from faust.web import Web
from faust.web.exceptions import ServiceUnavailable

from ota_stream.errors import NotReady

STARTING = "the worker is starting or rebalancing; retry"


async def on_owner(
    app: faust.App,
    table: CollectionT,
    key: str | bytes,
    request: web.Request,
    answer: Callable[[], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """`answer()` when this worker owns `key`, else the owner's answer to the same request.

    Faust hashes `key` as the table's changelog would serialize it: a str through the table's key serializer
    (JSON by default, so with its quotes), bytes as they are. Pass bytes to find the partition Kafka's default
    partitioner gives those bytes (kafka/envelope.py's `partition_for`)."""
    try:
        await _known(app, table)
        routed = await app.router.route_req(table.name, key, cast(Web, app.web), cast(FaustRequest, request))
    except SameNode:
        return await answer()
    except (FaustNotReady, ServiceUnavailable):
        raise NotReady(STARTING) from None
    return cast(web.StreamResponse, routed)


async def _known(app: faust.App, table: CollectionT) -> None:
    """Have the producer know the partitions of the table's changelog, by which Faust finds the owner: a changelog
    made after the producer read the cluster's topics is unknown to it until its next refresh (minutes), and
    Faust's router then failed with a TypeError, a 500 (a guard's decisions asked for just after start)."""
    producer = cast(Any, app.producer)._ensure_producer()
    await producer.partitions_for(table.changelog_topic.get_topic_name())
