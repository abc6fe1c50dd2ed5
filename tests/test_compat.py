"""The real clients' routes (docs/clients.md) on a real worker with keys (AUTH_REQUIRED=true) and a real broker: each
client's payloads (tests/support/clients.py, written from the clients' sources) go in through both key styles,
the `Authorization` header and the `/c/{ingest_key}/…` path; then every stored event is read back and compared
with the event (docs/events.md) it means (written by hand), and the analytics are compared with plain Python over those
events (tests/support/expected.py) and with the facts docs/clients.md names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.conftest import WorkerFactory
from tests.support import clients, expected, expected_stability
from tests.support.expected import Window, assert_same, parse
from tests.support.keys import ADMIN, make_key
from tests.support.processes import Kafka, Worker, remove, unique_name
from tests.support.scenario import Event, rfc3339
from tests.support.worker_api import wait_processed

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@dataclass
class Setup:
    worker: Worker
    read: str
    org_key: str  # acme, narrowed to org mobile: Airborne (sends org and app) and Capgo (sends app)
    codepush_key: str  # acme/mobile/codepush: CodePush has no org or app
    hot_key: str  # acme/mobile/hot
    other_key: str  # tenant "other"
    processed: int = 0
    duplicates: int = 0
    used: list[str] = field(default_factory=list)

    def post(self, path: str, key: str, body: Any, style: str) -> requests.Response:
        """POST a client's body with the key in the header or in the path."""
        self.used.append(key)
        if style == "path":
            return requests.post(f"{self.worker.url}/c/{key}{path}", json=body, timeout=30)
        headers = {"Authorization": f"Bearer {key}"}
        return requests.post(f"{self.worker.url}{path}", json=body, headers=headers, timeout=30)

    def sent(self, events: int, duplicates: int = 0) -> None:
        """Wait until the worker has written what was sent so far."""
        self.processed += events
        self.duplicates += duplicates
        wait_processed(self.worker, self.processed, self.duplicates)

    def get(self, route: str, **params: Any) -> Any:
        response = requests.get(
            f"{self.worker.url}{route}",
            params={"days": "1", **params},
            headers={"X-API-Key": self.read},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture(scope="module")
def setup(kafka: Kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("compat")
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN, "LOG_LEVEL": "DEBUG"}
    worker = Worker(directory, kafka, unique_name("ota-events"), unique_name("ota-group"), env=env)
    worker.start()
    try:
        yield Setup(
            worker,
            make_key(worker, "acme", "read")["key"],
            make_key(worker, "acme", "ingest", org_id="mobile")["key"],
            make_key(worker, "acme", "ingest", org_id="mobile", app_id="codepush")["key"],
            make_key(worker, "acme", "ingest", org_id="mobile", app_id="hot")["key"],
            make_key(worker, "other", "ingest", org_id="mobile")["key"],
        )
    finally:
        worker.stop()
        remove(directory)


def ev(app: str, device: str, event_type: str, at: datetime | None, **groups: Any) -> Event:
    """An event (docs/events.md) as the hand mapping says; `at` None means the time of receipt (read back and
    checked)."""
    event: Event = {"tenant_id": "acme", "org_id": "mobile", "app_id": app, "device_id": device,
                    "event_type": event_type, **groups}  # fmt: skip
    if at is not None:
        event["timestamp"] = rfc3339(at)
    return event


def stored(setup: Setup, app: str, device: str) -> list[dict[str, Any]]:
    """The device's events as stored, oldest first (drill-down, docs/api.md#get-analyticsdevicesdevice_idevents)."""
    return list(reversed(setup.get(f"/analytics/devices/{device}/events", app_id=app)))


def check_stored(setup: Setup, want: list[Event], received: tuple[datetime, datetime]) -> list[Event]:
    """Each device's stored events against the hand-mapped ones (in order; metadata at least as listed);
    receipt times must lie within `received`. Returns `want` with those times filled in."""
    by_device: dict[str, list[Event]] = {}
    for event in want:
        by_device.setdefault(event["device_id"], []).append(event)
    complete: list[Event] = []
    for device, events in by_device.items():
        got = stored(setup, events[0]["app_id"], device)
        assert len(got) == len(events), (device, got)
        for have, original in zip(got, events, strict=True):
            expect = dict(original)
            metadata = expect.pop("metadata", {})
            if "timestamp" not in expect:
                at = parse(have["timestamp"])
                assert received[0] - timedelta(milliseconds=1) <= at <= received[1], (have, received)
                expect["timestamp"] = have["timestamp"]
            for name, value in expect.items():
                assert have.get(name) == value, (device, name, have)
            assert metadata.items() <= have.get("metadata", {}).items(), (device, have.get("metadata"))
            complete.append(expect)
    return complete


def compare_analytics(setup: Setup, events: list[Event], app: str) -> None:
    """Every analytics figure (docs/api.md#analytics) of the app against plain Python over the hand-mapped events."""
    now = datetime.now(UTC)
    window = Window("acme", now - timedelta(days=1), now, app_id=app)
    assert_same(setup.get("/analytics/adoption", app_id=app), expected.adoption(events, window))
    assert_same(setup.get("/analytics/versions", app_id=app), expected.versions(events, window))
    assert_same(setup.get("/analytics/active-devices", app_id=app), expected.active_devices(events, window))
    assert_same(setup.get("/analytics/performance", app_id=app), expected.performance(events, window))
    for group_by in ("error_code", "failure_stage", "target_version"):
        got = setup.get("/analytics/failures", app_id=app, group_by=group_by)
        assert_same(got, expected.failures(events, window, group_by))
    assert_same(setup.get("/analytics/stability", app_id=app), expected_stability.stability(events, window))


def test_airborne(setup: Setup) -> None:
    key, at = setup.org_key, T0 + timedelta(minutes=3)
    ios_at = T0 + timedelta(minutes=5, milliseconds=321)
    sends = [
        (clients.airborne("APPLY_SUCCESS", "a1", target_js_version="1.0.4", extra_flag=True), "header"),
        (clients.airborne("APPLY_SUCCESS", "a2", target_js_version="1.0.4", tenant_id="acme",
                          timestamp=rfc3339(at)), "path"),
        (clients.airborne_ios("APPLY_SUCCESS", "a3", ios_at, targetJsVersion="1.0.4", eventId="ios-1"), "path"),
        (clients.airborne_ios("APPLY_SUCCESS", "a3", ios_at, targetJsVersion="1.0.4", eventId="ios-1"), "header"),
        (clients.airborne_android("APPLY_FAILURE", "a4", error_code="INSUFFICIENT_STORAGE"), "header"),
        (clients.airborne("DOWNLOAD_COMPLETED", "a5", target_js_version="1.0.4", download_time_ms=30000,
                          download_size_bytes=5_242_880), "path"),
        (clients.airborne("UPDATE_NOT_AVAILABLE", "a6"), "header"),
        (clients.airborne("DOWNLOAD_FAILED", "a7", error_code="NETWORK_ERROR", error_message="timeout",
                          target_js_version="1.0.4"), "path"),
    ]  # fmt: skip
    start = datetime.now(UTC)
    for body, style in sends:
        response = setup.post("/analytics/events", key, body, style)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] == "success" and answer["message"] == "OTA event queued for processing"
        assert set(answer) == {"status", "message", "event_id", "timestamp"}
    setup.sent(len(sends) - 1, duplicates=1)  # the iOS event sent twice with its id counts once
    received = (start, datetime.now(UTC))
    ios, android = {"os": "iOS", "os_version": "17.4"}, {"os": "Android"}
    server = {"os": "iOS", "os_version": "16.1"}
    rel = {"current_version": "1.0.3", "target_version": "1.0.4", "rollout_percentage": 30.0}
    want = [
        ev("air", "a1", "update_installed", None, device_info=server, release_info=rel, session_id="s-a1",
           network_info={"connection_type": "wifi"},
           metadata={"source_type": "APPLY_SUCCESS", "release_id": "release_6677", "app_version": "7.5",
                     "extra_flag": "true"}),
        ev("air", "a2", "update_installed", at, device_info=server, release_info=rel),
        ev("air", "a3", "update_installed", ios_at, device_info=ios, event_id="ios-1",
           release_info={"current_version": "1.0.3", "target_version": "1.0.4"}),
        ev("air", "a4", "update_failed", None, device_info=android, release_info={"current_version": "1.0.3"},
           error_info={"error_code": "INSUFFICIENT_STORAGE", "failure_stage": "install"},
           metadata={"source_type": "APPLY_FAILURE"}),
        ev("air", "a5", "update_downloaded", None, device_info=server, release_info=rel,
           performance_metrics={"download_duration_seconds": 30.0, "package_size_bytes": 5_242_880}),
        ev("air", "a6", "update_checked", None, device_info=server,
           release_info={"current_version": "1.0.3", "rollout_percentage": 30.0},
           metadata={"source_type": "UPDATE_NOT_AVAILABLE", "result": "not_available"}),
        ev("air", "a7", "update_failed", None, device_info=server, release_info=rel,
           error_info={"error_code": "NETWORK_ERROR", "error_message": "timeout", "failure_stage": "download"}),
    ]  # fmt: skip
    android_stored = stored(setup, "air", "a4")[0]
    assert set(android_stored) == {"event_id", "tenant_id", "org_id", "app_id", "device_id", "event_type",
                                   "timestamp", "device_info", "release_info", "error_info", "metadata"}  # fmt: skip
    assert android_stored["metadata"] == {"source_type": "APPLY_FAILURE"}  # "" everywhere else: absent
    events = check_stored(setup, want, received)
    compare_analytics(setup, events, "air")
    # The facts docs/clients.md names, directly.
    adoption = setup.get("/analytics/adoption", app_id="air")
    assert (
        adoption["successful_updates"],
        adoption["failed_updates"],
        adoption["unique_devices_updated"],
    ) == (3, 2, 3)
    versions = {
        v["version"]: v["device_count"] for v in setup.get("/analytics/versions", app_id="air")["versions"]
    }
    assert versions == {"1.0.4": 3, "1.0.3": 4}
    codes = setup.get("/analytics/failures", app_id="air", group_by="error_code")["breakdown"]
    assert {"key": "INSUFFICIENT_STORAGE", "count": 1, "affected_devices": 1, "percentage": 50.0} in codes
    stages = setup.get("/analytics/failures", app_id="air", group_by="failure_stage")["breakdown"]
    assert {row["key"]: row["count"] for row in stages} == {"install": 1, "download": 1}
    download = setup.get("/analytics/performance", app_id="air")["download_duration_seconds"]
    assert download == {"avg": 30.0, "p50": 30.0, "p95": 30.0, "samples": 1}


def test_capgo(setup: Setup) -> None:
    key = setup.org_key
    app = "com.acme.capgo"
    get = clients.capgo("get", "c1", "1.0.0", T0 + timedelta(minutes=10))
    response = setup.post("/capgo/stats", key, [get], "path")
    assert response.status_code == 200 and response.json() == {"status": "ok"}, response.text
    setup.sent(1)
    [before] = setup.get("/analytics/versions", app_id=app)["versions"]
    assert (before["version"], before["device_count"]) == ("1.0.0", 1)

    set_ = clients.capgo("set", "c1", "1.1.0", T0 + timedelta(minutes=20), old="1.0.0")
    downloaded = clients.capgo("download_complete", "c2", "1.1.0", T0 + timedelta(minutes=11))
    failed = clients.capgo("set_fail", "c2", "1.1.0", T0 + timedelta(minutes=12))
    twice = clients.capgo("set", "c3", "1.1.0", T0 + timedelta(minutes=13, milliseconds=7))
    launched = clients.capgo("app_moved_to_foreground", "c4", "1.0.0", T0 + timedelta(minutes=14))
    launch = {"launch_started_at": str(clients.epoch_ms(T0 + timedelta(minutes=15)))}
    start = clients.capgo("app_launch_start", "c5", "1.1.0", T0 + timedelta(minutes=15), metadata=launch)
    ready = clients.capgo("app_launch_ready", "c5", "1.1.0", T0 + timedelta(minutes=15, seconds=2),
                          metadata={**launch, "duration_ms": "2250"})  # fmt: skip
    crash = clients.capgo("app_crash_native", "c5", "1.1.0", T0 + timedelta(minutes=16),
                          metadata={"exit_description": "signal 11 (SIGSEGV)"})  # fmt: skip
    posts = [([set_, downloaded], "path"), (failed, "header"), (twice, "header"), (twice, "path"),
             ([launched, {"action": "set"}], "header"), ([start, ready, crash], "path")]  # fmt: skip
    answers = [setup.post("/capgo/stats", key, body, style) for body, style in posts]
    assert all(a.status_code == 200 and a.json()["status"] == "ok" for a in answers), [
        a.text for a in answers
    ]
    assert [r["index"] for r in answers[-2].json()["rejected"]] == [1]  # the rest of its array is accepted
    setup.sent(8, duplicates=1)  # the resent `set` of c3 counts once
    android = {"os": "android", "os_version": "14"}
    channel = {"channel": "production"}
    want = [
        ev(app, "c1", "update_checked", T0 + timedelta(minutes=10), device_info=android,
           release_info={**channel, "current_version": "1.0.0"}, metadata={"source_type": "get"}),
        ev(app, "c1", "update_installed", T0 + timedelta(minutes=20), device_info=android,
           release_info={**channel, "target_version": "1.1.0", "current_version": "1.0.0"},
           metadata={"source_type": "set", "plugin_version": "7.4.1", "version_build": "2.3.0"}),
        ev(app, "c2", "update_downloaded", T0 + timedelta(minutes=11), device_info=android,
           release_info={**channel, "target_version": "1.1.0"}),
        ev(app, "c2", "update_failed", T0 + timedelta(minutes=12), device_info=android,
           release_info={**channel, "target_version": "1.1.0"},
           error_info={"error_code": "set_fail", "failure_stage": "install"}),
        ev(app, "c3", "update_installed", T0 + timedelta(minutes=13, milliseconds=7), device_info=android,
           release_info={**channel, "target_version": "1.1.0"}),
        ev(app, "c4", "app_launched", T0 + timedelta(minutes=14), device_info=android,
           release_info={**channel, "current_version": "1.0.0"}, metadata={"source_type": "app_moved_to_foreground"}),
        ev(app, "c5", "app_launched", T0 + timedelta(minutes=15), device_info=android,
           release_info={**channel, "current_version": "1.1.0"}, session_id=f"launch-{launch['launch_started_at']}",
           metadata={"source_type": "app_launch_start", **launch}),
        ev(app, "c5", "app_launched", T0 + timedelta(minutes=15, seconds=2), device_info=android,
           release_info={**channel, "current_version": "1.1.0"}, session_id=f"launch-{launch['launch_started_at']}",
           performance_metrics={"launch_duration_seconds": 2.25}, metadata={"source_type": "app_launch_ready"}),
        ev(app, "c5", "app_crashed", T0 + timedelta(minutes=16), device_info=android,
           release_info={**channel, "current_version": "1.1.0"},
           error_info={"error_code": "app_crash_native", "error_message": "signal 11 (SIGSEGV)"}),
    ]  # fmt: skip
    events = check_stored(setup, want, (T0, datetime.now(UTC)))
    compare_analytics(setup, events, app)
    versions = {
        v["version"]: v["device_count"] for v in setup.get("/analytics/versions", app_id=app)["versions"]
    }
    assert versions == {"1.1.0": 3, "1.0.0": 1}  # c1's set moved it from 1.0.0; c2 runs no known version
    adoption = setup.get("/analytics/adoption", app_id=app)
    assert (adoption["successful_updates"], adoption["failed_updates"]) == (2, 1)
    assert setup.get("/analytics/active-devices", app_id=app)["total_active_devices"] == 5
    # c5's launch is one session with its duration; the crash Capgo sends at the next launch is one of its own.
    [running] = setup.get("/analytics/stability", app_id=app, version="1.1.0")["versions"]
    assert (running["sessions"], running["crashed_sessions"], running["devices"], running["crashed_devices"]) == (
        2, 1, 1, 1)  # fmt: skip
    assert running["launch_duration_seconds"] == {"avg": 2.25, "p50": 2.25, "p95": 2.25, "samples": 1}


def test_codepush(setup: Setup) -> None:
    key, app = setup.codepush_key, "codepush"
    sends = [
        ("/reportStatus/deploy", clients.codepush_deploy("p1", "v5", "DeploymentSucceeded", "v4", False), "header"),
        ("/v0.1/public/codepush/report_status/deploy",
         clients.codepush_deploy("p2", "v5", "DeploymentFailed", "v4", True), "path"),
        ("/v0.1/public/codepush/report_status/download", clients.codepush_download("p3", "v5", True), "header"),
        ("/reportStatus/download", clients.codepush_download("p4", "v5", False), "path"),
        ("/reportStatus/deploy", clients.codepush_deploy("p3", None, None, "3.0.0", False), "path"),
    ]  # fmt: skip
    start = datetime.now(UTC)
    for path, body, style in sends:
        response = setup.post(path, key, body, style)
        assert (response.status_code, response.text) == (200, "OK"), response.text
    setup.sent(len(sends))
    received = (start, datetime.now(UTC))
    want = [
        ev(app, "p1", "update_installed", None, release_info={"target_version": "v5", "current_version": "v4"},
           metadata={"source_type": "DeploymentSucceeded", "app_version": "3.1.0",
                     "deployment_key": "dk-production-abc"}),
        ev(app, "p2", "update_failed", None, release_info={"target_version": "v5", "current_version": "v4"},
           error_info={"error_code": "DeploymentFailed", "failure_stage": "install"},
           metadata={"deployment_key": "dk-production-abc"}),
        ev(app, "p3", "update_downloaded", None, release_info={"target_version": "v5"}),
        ev(app, "p3", "app_launched", None, release_info={"current_version": "3.1.0"},
           metadata={"source_type": "binary_update", "previous_label_or_app_version": "3.0.0"}),
        ev(app, "p4", "update_downloaded", None, release_info={"target_version": "v5"}),
    ]  # fmt: skip
    events = check_stored(setup, want, received)
    compare_analytics(setup, events, app)
    failures = setup.get("/analytics/failures", app_id=app)
    assert (failures["total_failures"], failures["failure_rate"]) == (1, 50.0)
    assert failures["breakdown"][0]["key"] == "DeploymentFailed"


def test_hot_updater(setup: Setup) -> None:
    key, app = setup.hot_key, "hot"
    at = [T0 + timedelta(minutes=m) for m in range(4)]
    update = clients.hot_updater("updateProcessCompleted", "h1", at[0], status="UPDATE", id="b2", bundleId="b1",
                                 eventId="hu-1", shouldForceUpdate=False, message=None)  # fmt: skip
    sends = [
        (update, "header"),
        (update, "path"),
        (clients.hot_updater("error", "h2", at[1], code="INSUFFICIENT_DISK_SPACE", message="no room", id="b2"),
         "path"),
        (clients.hot_updater("notifyAppReady", "h3", at[2], status="STABLE", bundleId="b1"), "header"),
        (clients.hot_updater("notifyAppReady", "h4", at[3], status="RECOVERED", bundleId="b1",
                             crashedBundleId="b2", eventId="hu-4"), "path"),
    ]  # fmt: skip
    for body, style in sends:
        response = setup.post("/hot-updater/events", key, body, style)
        assert (response.status_code, response.content) == (204, b""), response.text
    setup.sent(len(sends), duplicates=1)  # the recovery is a rollback and a crash; the update came twice
    context = {"device_info": {"os": "ios"}}
    rel = {"channel": "production"}
    want = [
        ev(app, "h1", "update_installed", at[0], **context, event_id="hu-1",
           release_info={**rel, "target_version": "b2", "current_version": "b1"},
           metadata={"source_type": "updateProcessCompleted:UPDATE", "appVersion": "1.2.0",
                     "shouldForceUpdate": "false"}),
        ev(app, "h2", "update_failed", at[1], **context, release_info={**rel, "target_version": "b2"},
           error_info={"error_code": "INSUFFICIENT_DISK_SPACE", "error_message": "no room",
                       "failure_stage": "download"}),
        ev(app, "h3", "app_launched", at[2], **context, release_info={**rel, "current_version": "b1"}),
        # The same millisecond: oldest first is by event_id, and "hu-4" sorts after the crash's derived UUID.
        ev(app, "h4", "app_crashed", at[3], **context, release_info={**rel, "current_version": "b2"},
           error_info={"error_code": "ABNORMAL_EXIT",
                       "error_message": "the bundle crashed before notifyAppReady; hot-updater recovered"},
           metadata={"source_type": "notifyAppReady:RECOVERED", "crashedBundleId": "b2"}),
        ev(app, "h4", "rollback_completed", at[3], **context, release_info={**rel, "current_version": "b1"},
           event_id="hu-4", rollback_reason="crash", metadata={"crashedBundleId": "b2"}),
    ]  # fmt: skip
    events = check_stored(setup, want, (T0, datetime.now(UTC)))
    compare_analytics(setup, events, app)
    adoption = setup.get("/analytics/adoption", app_id=app)
    assert (adoption["successful_updates"], adoption["failed_updates"], adoption["rollbacks"]) == (1, 1, 1)
    crashed = setup.get("/analytics/stability", app_id=app, version="b2")["versions"]
    assert [(v["sessions"], v["crashed_sessions"]) for v in crashed] == [(1, 1)]


def test_hot_updaters_own_events(setup: Setup) -> None:
    """hot-updater's own analytics events (its sources' examples, tests/support/clients.py), posted as its resolver
    posts them: 204 without a body, each stored as the events it means, without the app user's identity; what its
    server refuses is a 400 naming the field, and nothing of it is stored."""
    production = {"channel": "production"}
    means = {
        "UPDATE_APPLIED": [
            ("update_installed", {"current_version": "bundle-a", "target_version": "bundle-b", **production}),
            ("app_launched", {"current_version": "bundle-b", **production}),
        ],
        "RECOVERED": [
            ("update_installed", {"current_version": "bundle-a", "target_version": "bundle-b", **production}),
            ("app_crashed", {"current_version": "bundle-b", **production}),
            ("rollback_completed", {"current_version": "bundle-a", **production}),
            ("app_launched", {"current_version": "bundle-a", **production}),
        ],
        "RELEASE_ADOPTED": [("update_checked", {"current_version": "bundle-id", **production})],
        "UNCHANGED": [("app_launched", {"current_version": "bundle-id", **production})],
    }
    unchanged = clients.HOT_UPDATER_EVENTS["UNCHANGED (server spec)"]
    refusals = [({**unchanged, "platform": "web"}, ["platform"]), ({**unchanged, "deviceId": "d"}, ["deviceId"]),
                ({**unchanged, "type": "LAUNCHED"}, ["type"])]  # fmt: skip
    for body, fields in refusals:
        response = setup.post("/hot-updater/events", setup.hot_key, body, "path")
        assert response.status_code == 400, response.text
        assert [d["field"] for d in response.json()["error"]["details"]] == fields
    for i, name in enumerate(means):
        body = {**clients.HOT_UPDATER_EVENTS[name], "installId": f"own-{i}"}
        response = setup.post("/hot-updater/events", setup.hot_key, body, ("path", "header")[i % 2])
        assert (response.status_code, response.content) == (204, b""), response.text
    setup.sent(sum(len(events) for events in means.values()))
    for i, (name, events) in enumerate(means.items()):
        got = stored(setup, "hot", f"own-{i}")
        assert sorted((e["event_type"], e["release_info"]) for e in got) == sorted(events), (name, got)
        for event in got:
            assert event["device_info"] == {"os": "ios"}
            assert not {"userId", "username"} & set(event.get("metadata", {})), event
    assert stored(setup, "hot", unchanged["installId"]) == []  # the refused ones


def test_keys_and_bad_shapes(setup: Setup) -> None:
    url = setup.worker.url
    body = clients.airborne("APPLY_SUCCESS", "k1", target_js_version="1.0.4", tenant_id="acme")
    cases = [
        (requests.post(f"{url}/analytics/events", json=body, timeout=30), 401),
        (requests.post(f"{url}/c/ota_{'0' * 16}_{'A' * 43}/analytics/events", json=body, timeout=30), 401),
        (requests.post(f"{url}/c/{setup.org_key}/analytics/events", json=body, timeout=30,
                       headers={"Authorization": f"Bearer {setup.org_key}"}), 401),  # two keys
        (setup.post("/analytics/events", setup.other_key, body, "path"), 403),  # another tenant's key
        (setup.post("/hot-updater/events", setup.hot_key, clients.hot_updater("checkUpdate", "k1", T0, appId="x"),
                    "path"), 403),  # the key is narrowed to app hot
        (setup.post("/reportStatus/download", setup.org_key, clients.codepush_download("k1", "v1", False), "path"),
         422),  # CodePush names no app, and this key is not narrowed to one
    ]  # fmt: skip
    bad = [b"{", b"[]", b"7", b'{"event_type": "APPLY_SUCCESS"}', b'[{"action": 1}]', b'{"label": []}']
    for path in ("/analytics/events", "/capgo/stats", "/reportStatus/deploy", "/hot-updater/events"):
        for data in bad:
            response = requests.post(f"{url}/c/{setup.org_key}{path}", data=data, timeout=30,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
            cases.append((response, 422 if data not in (b"{",) else 400))
        cases.append((requests.post(f"{url}/c/{setup.org_key}{path}", data=b"{}", timeout=30), 415))
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert set(response.json()["error"]) == {"code", "message", "details"}
    missing = {d["field"] for d in cases[5][0].json()["error"]["details"]}
    assert missing == {"app_id"}


def test_no_log_line_holds_a_key_from_a_path(setup: Setup) -> None:
    """After the tests above (pytest runs a module in order): every key they used, in paths too, is absent from
    the worker's log."""
    assert setup.used, "the tests above sent with keys"
    log = setup.worker.log_path.read_text(errors="replace") if setup.worker.log_path else ""
    assert "/c/ota_***/" in log  # the paths were logged (LOG_LEVEL=DEBUG), redacted
    for key in set(setup.used):
        assert key not in log and key.split("_", 2)[2] not in log  # nor its secret alone


def test_a_worker_without_ingest_processes_serves_them_too(make_worker: WorkerFactory) -> None:
    """With INGEST_PROCESSES=0 the Faust worker serves the routes itself (app.py), keys off: the URL's query
    supplies what the key would."""
    worker = make_worker(INGEST_PROCESSES="0")
    worker.start()
    body = clients.airborne("APPLY_SUCCESS", "solo", target_js_version="2.0.0")
    response = requests.post(f"{worker.url}/analytics/events?tenant_id=solo", json=body, timeout=30)
    assert response.status_code == 200 and response.json()["status"] == "success", response.text
    update = clients.hot_updater(
        "updateProcessCompleted", "solo-h", T0, status="UPDATE", id="b9", bundleId="b8"
    )
    scope = "tenant_id=solo&org_id=mobile&app_id=air"
    assert (
        requests.post(f"{worker.url}/hot-updater/events?{scope}", json=update, timeout=30).status_code == 204
    )
    wait_processed(worker, 2)
    adoption = requests.get(
        f"{worker.url}/analytics/adoption", params={"tenant_id": "solo", "days": "1"}, timeout=30
    )
    assert adoption.json()["data"]["successful_updates"] == 2
