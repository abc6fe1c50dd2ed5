"""The fast path (wire.py) against the pydantic model: it may refuse what the model accepts (the model then
decides), but never accepts what the model refuses, and both give the same line for the same event."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ota_stream import wire
from ota_stream.models import InvalidEvent, TimeWindow, parse_event
from tests.support.bad_input import CASES

NOW = datetime.now(UTC)
WINDOW = TimeWindow(365).bounds(NOW)
BASE: dict[str, Any] = {
    "event_id": "e-1", "tenant_id": "acme", "org_id": "mobile", "app_id": "shop", "device_id": "d-1",
    "event_type": "update_installed", "timestamp": (NOW - timedelta(minutes=3)).isoformat(),
    "session_id": "s", "device_info": {"os": "iOS", "os_version": "17", "model": "X", "manufacturer": "Apple"},
    "release_info": {"current_version": "1.0", "target_version": "1.1", "channel": "prod", "rollout_percentage": 5},
    "network_info": {"connection_type": "wifi", "bandwidth_mbps": 3.5},
    "performance_metrics": {"download_speed_mbps": 1.5, "package_size_bytes": 10, "battery_level": 50,
                            "launch_duration_seconds": 1.25},
    "error_info": {"error_code": "E", "error_message": "m", "failure_stage": "install"},
    "progress": 10, "metadata": {"k": "v"},
}  # fmt: skip


Outcome = wire.Accepted | InvalidEvent | None


def both(body: bytes) -> tuple[Outcome, Outcome]:
    """What the fast path does with `body` (None: it leaves it to the model), and what the model does (None: not
    JSON at all)."""
    fast_event = wire.decode_one(body)
    fast: Outcome = None
    if fast_event is not None:
        try:
            fast = wire.accept(fast_event, WINDOW)
        except InvalidEvent as exc:
            fast = exc
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return fast, None
    try:
        return fast, wire.accept_model(parse_event(data, WINDOW))
    except InvalidEvent as exc:
        return fast, exc


def agree(body: bytes) -> None:
    fast, slow = both(body)
    if fast is None:
        return  # the model decides, as it always did
    if isinstance(fast, InvalidEvent):  # the one check the fast path makes itself: the timestamp
        assert isinstance(slow, InvalidEvent) and slow.errors == fast.errors, (body, slow)
        return
    assert isinstance(slow, wire.Accepted), (body, slow)
    assert orjson.loads(fast.line) == orjson.loads(slow.line) or _same_but_generated_id(fast, slow)


def _same_but_generated_id(fast: wire.Accepted, slow: wire.Accepted) -> bool:
    a, b = orjson.loads(fast.line), orjson.loads(slow.line)
    return a.pop("event_id") != b.pop("event_id") and a == b


def test_a_full_event_takes_the_fast_path_and_gives_the_models_line() -> None:
    fast, slow = both(orjson.dumps(BASE))
    assert isinstance(fast, wire.Accepted) and fast == slow
    assert orjson.loads(fast.line)["metadata"] == [["k", "v"]]


def test_launches_and_crashes_take_the_fast_path() -> None:
    for event_type in ("app_launched", "app_crashed"):
        fast, slow = both(orjson.dumps({**BASE, "event_type": event_type}))
        assert isinstance(fast, wire.Accepted) and fast == slow
        assert orjson.loads(fast.line)["performance_metrics"]["launch_duration_seconds"] == 1.25


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[1] == "/events" and c[4] in (400, 422)], ids=lambda c: c[0]
)
def test_every_bad_body_is_refused_by_both(case: tuple[str, str, dict[str, str], bytes, int, Any]) -> None:
    fast, slow = both(case[3])
    assert not isinstance(fast, wire.Accepted) and not isinstance(slow, wire.Accepted)
    agree(case[3])


def test_the_flat_form_goes_to_the_model() -> None:
    flat = {**{k: v for k, v in BASE.items() if k != "release_info"}, "target_version": "2.0"}
    fast, slow = both(orjson.dumps(flat))
    assert fast is None and isinstance(slow, wire.Accepted)


MUTATIONS: st.SearchStrategy[Any] = st.sampled_from(
    [None, "", "x" * 65, "x" * 129, "x" * 4097, "a\n", "a b", "é", -1, 0, 100, 101, 1.5, 10**20, 2**63, True,
     [], {}, {"x": 1}, "2026-13-01T00:00:00Z", "2001-01-01T00:00:00Z", "\u0000"]
)  # fmt: skip
PATHS = [
    (key,) for key in BASE
] + [(group, leaf) for group in ("device_info", "release_info", "network_info", "performance_metrics",
                                  "error_info") for leaf in BASE[group]] + [("metadata", "k"), ("unknown",),
                                                                             ("device_info", "extra")]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), MUTATIONS), min_size=1, max_size=3), st.booleans())
# A group set to null by one change, then a leaf written into it by the next.
@example([(("device_info",), None), (("device_info", "os"), None)], False)
def test_the_fast_path_never_accepts_what_the_model_refuses(
    changes: list[tuple[tuple[str, ...], Any]], drop: bool
) -> None:
    event = orjson.loads(orjson.dumps(BASE))
    for path, value in changes:
        target = event
        for part in path[:-1]:
            child = target.get(part)
            if child is None:  # missing, or set to null by an earlier change: a group to write into
                child = target[part] = {}
            target = child if isinstance(child, dict) else {}  # a scalar stays as it is
        if drop and value is None:
            target.pop(path[-1], None)
        else:  # a copy: a sampled {} or [] is one object, which the next change could grow into a cycle
            target[path[-1]] = copy.deepcopy(value)
    agree(json.dumps(event).encode())  # json: orjson cannot write integers over 64 bits


def test_random_valid_events_agree() -> None:
    rng = random.Random(4)
    for i in range(300):
        event = {
            key: value for key, value in BASE.items() if rng.random() < 0.7 or key in wire.REQUIRED_FIELDS
        }
        event["timestamp"] = (NOW - timedelta(seconds=rng.uniform(0, 86400 * 30))).isoformat()
        if rng.random() < 0.5:
            event.pop("event_id", None)
        agree(orjson.dumps(event))
        assert wire.decode_one(orjson.dumps(event)) is not None, (i, event)


def test_a_constraint_without_an_equivalent_fails_loudly() -> None:
    from annotated_types import MultipleOf

    with pytest.raises(TypeError, match="no msgspec equivalent"):
        wire._constraints([MultipleOf(2)])


@pytest.mark.parametrize("edge", [0, 1])
@pytest.mark.parametrize("step_us", [-1500, -1000, -1, 0, 1, 999, 1000, 1500])
def test_timestamps_at_the_window_edges_agree(edge: int, step_us: int) -> None:
    """The fast path compares canonical texts; the model compares datetimes: the same answer at every edge."""
    moment = WINDOW[edge] + timedelta(microseconds=step_us)
    for text in (
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",  # canonical
        moment.isoformat(),  # microseconds and +00:00
        moment.astimezone(timezone(timedelta(hours=-5))).isoformat(),
    ):
        agree(orjson.dumps({**BASE, "timestamp": text}))
