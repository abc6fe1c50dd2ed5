"""Every analytics number of a loaded database checked three ways: from the views, from the raw table alone, and
in plain Python over the events (tests/support/expected.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import active_devices, adoption, failures, performance, versions
from ota_stream.storage.queries.scope import QueryScope
from tests.support import expected
from tests.support.expected import Window, assert_same
from tests.support.scenario import Event

Query = Callable[..., Coroutine[Any, Any, Any]]

ENDPOINTS: list[tuple[str, Query, Callable[..., Any], dict[str, Any]]] = [
    ("adoption", adoption.adoption, expected.adoption, {}),
    ("adoption v1.2.0", adoption.adoption, expected.adoption, {"target_version": "1.2.0"}),
    ("versions", versions.versions, expected.versions, {}),
    *[
        (f"versions by {s}", versions.versions, expected.versions, {"segment": s})
        for s in ("device_os", "device_model", "device_manufacturer", "device_os_version")
    ],
    ("active-devices", active_devices.active_devices, expected.active_devices, {}),
    *[
        (f"failures by {g}", failures.failures, expected.failures, {"group_by": g})
        for g in ("error_code", "failure_stage", "target_version", "device_os", "device_model")
    ],
    ("performance", performance.performance, expected.performance, {}),
]


def check(ch: ClickHouse, events: list[Event], scope: QueryScope) -> None:
    window = Window(scope.tenant_id, scope.start, scope.end, scope.org_id, scope.app_id)
    for name, query, compute, kwargs in ENDPOINTS:
        from_views: Any = asyncio.run(query(ch, scope, use_views=True, **kwargs))
        from_raw: Any = asyncio.run(query(ch, scope, use_views=False, **kwargs))
        want = compute(events, window, *kwargs.values())
        assert_same(from_raw, want, f"{name} (raw)")
        assert_same(from_views, want, f"{name} (views)")
