"""Window state: position-gated updates (no double count on replay) and exact-then-sketch device counts."""

from __future__ import annotations

from ota_stream.tables import devices, windows


def item(
    offset: int,
    event_type: str,
    device: str,
    target_version: str | None = None,
    error_code: str | None = None,
    line: int = 0,
) -> windows.LiveRow:
    return windows.LiveRow(offset, line, event_type, target_version, error_code, device)


def test_window_counts_and_replay_is_skipped() -> None:
    batch = [
        item(10, "update_installed", "d1", target_version="2.0"),
        item(11, "update_failed", "d2", error_code="E_DISK"),
        item(12, "update_failed", "d2"),
        item(13, "update_started", "d3"),
    ]
    window = windows.apply(windows.empty(2), batch)
    assert window is not None
    assert window["counts"] == {"update_installed": 1, "update_failed": 2, "update_started": 1}
    assert window["installs_by_version"] == {"2.0": 1}
    assert window["failures_by_error"] == {"E_DISK": 1, "unknown": 1}
    assert devices.count(window["devices"]) == 3 and windows.applied(window) == (13, 0)
    # A redelivery of the same offsets changes nothing; a partial overlap adds only the new ones.
    assert windows.apply(window, batch) is None
    again = windows.apply(window, [*batch[2:], item(14, "update_installed", "d4", target_version="2.0")])
    assert again is not None
    assert again["counts"]["update_installed"] == 2 and again["installs_by_version"] == {"2.0": 2}
    assert devices.count(again["devices"]) == 4


def test_devices_are_exact_below_1000_then_sketched() -> None:
    state = devices.empty()
    for start in range(0, 999, 111):
        state = devices.add(state, (f"device-{i}" for i in range(start, min(start + 111, 999))))
    state = devices.add(state, ["device-1", "device-2"])  # repeats do not count
    assert "ids" in state and devices.count(state) == 999
    state = devices.add(state, ["device-999"])
    assert "hll" in state
    for start in range(1000, 20_000, 1000):
        state = devices.add(state, (f"device-{i}" for i in range(start, start + 1000)))
    assert abs(devices.count(state) - 20_000) / 20_000 < 0.05
    assert devices.count(devices.add(state, ["device-5"])) == devices.count(state)


def test_window_start_is_a_tumbling_bucket() -> None:
    assert windows.window_start(119.9, 60) == 60
    assert windows.window_start(120.0, 60) == 120


def test_positions_inside_one_envelope_gate_replays() -> None:
    batch = [item(7, "update_installed", f"d{line}", "3.0", line=line) for line in range(4)]
    window = windows.apply(windows.empty(0), batch[:2])
    assert window is not None and windows.applied(window) == (7, 1)
    again = windows.apply(window, batch)  # the whole message again: only lines 2 and 3 are new
    assert again is not None and again["counts"] == {"update_installed": 4}
    assert windows.apply(again, batch) is None


def test_a_window_written_before_envelopes_still_gates_by_offset() -> None:
    old = {**windows.empty(1), "offset": 20}
    del old["position"]
    assert windows.apply(old, [item(20, "update_started", "d1")]) is None
    assert windows.apply(old, [item(21, "update_started", "d1")]) is not None
