"""The clients' wire formats mapped onto the event model (docs/clients.md), fast: each mapper's output goes through
ingest's own validation (`Ingest.accept`) to the line Kafka would get; the routes answer as the clients' servers
do, and no body, however bad, gets a 500. Fixtures are in tests/support/clients.py, with their sources."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota_stream.compat import airborne, capgo, codepush, hot_updater
from ota_stream.compat.base import Draft
from ota_stream.models import InvalidEvent, TimeWindow, format_timestamp
from ota_stream.web import compat
from ota_stream.web.errors import error_middleware
from ota_stream.web.ingest import Ingest
from tests.support import clients
from tests.support.clients import Payload

NOW = datetime.now(UTC).replace(microsecond=0)
AT = NOW - timedelta(minutes=7, milliseconds=-250)


class Recorder:
    """Stands in for the Kafka publisher: what would have been published, in order."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    async def publish(self, messages: list[tuple[bytes, bytes]]) -> None:
        self.lines.extend(orjson.loads(line) for _, line in messages)


def ingest(recorder: Recorder | None = None) -> Ingest:
    return Ingest(recorder or Recorder(), TimeWindow(365), None)  # type: ignore[arg-type]


def line(draft: Draft, **scope: str) -> dict[str, Any]:
    """The line Kafka would get for a mapped event, scope (tenant/org/app) supplied as a key would."""
    event = {"tenant_id": "acme", "org_id": "mobile", "app_id": "app", **scope, **draft.build()}
    try:
        return dict(orjson.loads(ingest().accept(event, TimeWindow(365).bounds(), None).line))
    except InvalidEvent as exc:  # named by the client's field, as the routes name it
        raise InvalidEvent([draft.client_field(error) for error in exc.errors]) from None


def refused(draft_or_call: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidEvent) as caught:
        draft = draft_or_call() if callable(draft_or_call) else draft_or_call
        line(draft)
    return [e.as_dict() for e in caught.value.errors]


# ---- Airborne ----

# Written from docs/clients.md: type, failure stage, metadata.result
AIRBORNE_TYPES = {
    "UPDATE_CHECK": ("update_checked", None, None),
    "UPDATE_AVAILABLE": ("update_checked", None, "available"),
    "UPDATE_NOT_AVAILABLE": ("update_checked", None, "not_available"),
    "DOWNLOAD_STARTED": ("update_started", None, None),
    "DOWNLOAD_PROGRESS": ("update_downloading", None, None),
    "DOWNLOAD_COMPLETED": ("update_downloaded", None, None),
    "DOWNLOAD_FAILED": ("update_failed", "download", None),
    "APPLY_STARTED": ("update_installing", None, None),
    "APPLY_SUCCESS": ("update_installed", None, None),
    "APPLY_FAILURE": ("update_failed", "install", None),
    "ROLLBACK_INITIATED": ("rollback_started", None, None),
    "ROLLBACK_COMPLETED": ("rollback_completed", None, None),
    "ROLLBACK_FAILED": ("update_failed", "rollback", None),
}


@pytest.mark.parametrize("source", AIRBORNE_TYPES)
def test_every_airborne_event_type(source: str) -> None:
    event_type, stage, result = AIRBORNE_TYPES[source]
    got = line(airborne.to_event(clients.airborne(source, "d1", target_js_version="1.0.4"), NOW))
    assert got["event_type"] == event_type
    assert got.get("error_info", {}).get("failure_stage") == stage
    metadata = dict(got["metadata"])
    assert metadata["source_type"] == source and metadata.get("result") == result


def test_airborne_server_body_field_by_field() -> None:
    body = clients.airborne(
        "DOWNLOAD_COMPLETED", "d1", tenant_id="acme", target_js_version="1.0.4", download_time_ms=30000,
        apply_time_ms=1500, download_size_bytes=5_242_880, error_code="", stack_trace="at x\n" * 400,
        payload={"attempt": 2, "cdn": "edge-3"}, rollout_percentage="30", brand_new_field=[1, 2],
    )  # fmt: skip
    got = line(airborne.to_event(body, NOW))
    assert got["timestamp"] == format_timestamp(NOW)  # no timestamp: the time of receipt
    assert (got["tenant_id"], got["org_id"], got["app_id"], got["device_id"]) == (
        "acme",
        "mobile",
        "air",
        "d1",
    )
    assert got["session_id"] == "s-d1"
    assert got["release_info"] == {
        "current_version": "1.0.3",
        "target_version": "1.0.4",
        "rollout_percentage": 30.0,
    }
    assert got["device_info"] == {"os": "iOS", "os_version": "16.1"}
    assert got["network_info"] == {"connection_type": "wifi"}
    assert got["performance_metrics"] == {
        "download_duration_seconds": 30.0, "install_duration_seconds": 1.5, "package_size_bytes": 5_242_880,
    }  # fmt: skip
    assert "error_info" not in got  # "" is absent
    metadata = dict(got["metadata"])
    assert metadata["release_id"] == "release_6677" and metadata["app_version"] == "7.5"
    assert orjson.loads(metadata["payload"]) == {"attempt": 2, "cdn": "edge-3"}
    assert metadata["brand_new_field"] == "[1,2]"
    assert len(metadata["stack_trace"]) == 1024  # cut to the metadata limit


def test_airborne_android_empty_strings_are_absent() -> None:
    body = clients.airborne_android("APPLY_FAILURE", "a1", error_code="INSUFFICIENT_STORAGE")
    got = line(airborne.to_event(body, NOW))
    assert got["event_type"] == "update_failed"
    assert got["error_info"] == {"error_code": "INSUFFICIENT_STORAGE", "failure_stage": "install"}
    assert got["device_info"] == {"os": "Android"}
    assert got["release_info"] == {"current_version": "1.0.3"}
    assert "session_id" not in got and "performance_metrics" not in got and "network_info" not in got
    assert dict(got["metadata"]) == {"source_type": "APPLY_FAILURE"}


def test_airborne_ios_camel_case_and_epoch_milliseconds() -> None:
    body = clients.airborne_ios(
        "APPLY_SUCCESS", "i1", AT, targetJsVersion="1.0.4", applyTimeMs=800, eventId="e-1"
    )
    got = line(airborne.to_event(body, NOW))
    assert got["timestamp"] == format_timestamp(AT) and got["timestamp"].endswith(".250Z")
    assert got["event_id"] == "e-1"
    assert got["release_info"] == {"current_version": "1.0.3", "target_version": "1.0.4"}
    assert got["device_info"] == {"os": "iOS", "os_version": "17.4"}
    assert got["performance_metrics"] == {"install_duration_seconds": 0.8}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"org_id": "o", "app_id": "a", "event_type": "APPLY_SUCCESS"}, "device_id"),
        ({"org_id": "o", "app_id": "a", "device_id": "", "event_type": "APPLY_SUCCESS"}, "device_id"),
        ({"org_id": "o", "app_id": "a", "device_id": "d", "event_type": "INSTALLED"}, "event_type"),
        ({"orgId": "o", "appId": "a", "deviceId": "d", "eventType": 7}, "eventType"),
        (clients.airborne("APPLY_SUCCESS", "d", target_js_version="v" * 200), "target_js_version"),
        (clients.airborne("DOWNLOAD_COMPLETED", "d", download_time_ms="soon"), "download_time_ms"),
        (clients.airborne("DOWNLOAD_COMPLETED", "d", download_time_ms=-5), "download_time_ms"),
        (clients.airborne("APPLY_SUCCESS", "d", rollout_percentage=250), "rollout_percentage"),
        (clients.airborne("APPLY_SUCCESS", "d", org_id="has space"), "org_id"),
        (clients.airborne("APPLY_SUCCESS", "d", timestamp="yesterday"), "timestamp"),
        (clients.airborne("APPLY_SUCCESS", "d", timestamp=1e30), "timestamp"),
        ({**clients.airborne("APPLY_SUCCESS", "d"), "deviceId": "other"}, "deviceId"),
        ([1, 2], "$"),
    ],
)
def test_airborne_errors_name_the_clients_field(body: Any, field: str) -> None:
    errors = refused(lambda: airborne.to_event(body, NOW))
    assert field in [e["field"] for e in errors], errors


# ---- Capgo ----


def capgo_line(action: str, version: str = "1.2.0", old: str = "", **fields: Any) -> dict[str, Any]:
    [draft] = capgo.to_events(clients.capgo(action, "c1", version, AT, old, **fields), NOW)
    assert isinstance(draft, Draft), draft
    return line(draft, org_id="mobile")


@pytest.mark.parametrize(
    ("action", "event_type", "release", "error"),
    [
        ("set", "update_installed", {"target_version": "1.2.0", "current_version": "1.1.0"}, None),
        ("reset", "rollback_completed", {"current_version": "1.2.0"}, None),
        ("download_complete", "update_downloaded", {"target_version": "1.2.0"}, None),
        ("download_40", "update_downloading", {"target_version": "1.2.0"}, None),
        ("set_fail", "update_failed", {"target_version": "1.2.0"},
         {"error_code": "set_fail", "failure_stage": "install"}),
        ("download_fail", "update_failed", {"target_version": "1.2.0"},
         {"error_code": "download_fail", "failure_stage": "download"}),
        ("checksum_fail", "update_failed", {"target_version": "1.2.0"},
         {"error_code": "checksum_fail", "failure_stage": "verify"}),
        ("some_new_fail", "update_failed", {"target_version": "1.2.0"}, {"error_code": "some_new_fail"}),
        ("get", "update_checked", {"current_version": "1.2.0"}, None),
        ("app_moved_to_foreground", "app_launched", {"current_version": "1.2.0"}, None),
        ("app_launch_ready", "app_launched", {"current_version": "1.2.0"}, None),
        ("app_crash", "app_crashed", {"current_version": "1.2.0"}, {"error_code": "app_crash"}),
        ("app_crash_native", "app_crashed", {"current_version": "1.2.0"}, {"error_code": "app_crash_native"}),
        ("app_anr", "app_crashed", {"current_version": "1.2.0"}, {"error_code": "app_anr"}),
        ("app_initialization_failure", "app_crashed", {"current_version": "1.2.0"},
         {"error_code": "app_initialization_failure"}),
        ("delete", "app_launched", None, None),
        ("app_moved_to_background", "app_launched", None, None),
        ("app_killed_low_memory", "app_launched", None, None),  # the system reclaimed it: not a crash
        ("webview_javascript_error", "app_launched", None, None),
    ],
)  # fmt: skip
def test_capgo_actions(action: str, event_type: str, release: Any, error: Any) -> None:
    got = capgo_line(action, old="1.1.0")
    assert got["event_type"] == event_type
    assert got.get("release_info", {}).get("channel") == "production"
    assert {k: v for k, v in got.get("release_info", {}).items() if k != "channel"} == (release or {})
    assert got.get("error_info") == error
    metadata = dict(got["metadata"])
    assert metadata["source_type"] == action
    if release is None:  # the version named is not one the device runs: kept, not used
        assert metadata["version_name"] == "1.2.0"
    if action != "set":
        assert metadata["old_version_name"] == "1.1.0"
    if action == "download_40":
        assert got["progress"] == 40.0


def test_capgo_launches_are_sessions_with_their_duration_and_exits_are_crashes() -> None:
    """Capgo's core sends `launch_started_at` with both events of a launch, and the ready one's duration."""
    launch = {"launch_started_at": "1767225600123", "source": "plugin_load"}
    start = capgo_line("app_launch_start", metadata=launch)
    ready = capgo_line("app_launch_ready", metadata={**launch, "duration_ms": "1834"})
    assert start["session_id"] == ready["session_id"] == "launch-1767225600123"
    assert "performance_metrics" not in start
    assert ready["performance_metrics"] == {"launch_duration_seconds": 1.834}
    assert "session_id" not in capgo_line("app_moved_to_foreground")  # a session of its own
    exit_info = {"exit_reason": "crash_native", "exit_description": "signal 11 (SIGSEGV)", "pid": "4242"}
    crash = capgo_line("app_crash_native", metadata=exit_info)
    assert crash["error_info"] == {"error_code": "app_crash_native", "error_message": "signal 11 (SIGSEGV)"}
    assert "session_id" not in crash and dict(crash["metadata"])["pid"] == "4242"
    [draft] = capgo.to_events(
        clients.capgo("app_launch_ready", "c1", "1.2.0", AT, metadata={"duration_ms": "-5"}), NOW
    )
    assert refused(draft) == [
        {"field": "metadata.duration_ms", "message": "Input should be greater than or equal to 0"}
    ]


def test_capgo_fields_metadata_and_time() -> None:
    got = capgo_line(
        "set", old="builtin", metadata={"reason": "manual", "source_type": "not ours"}, key_id="k9"
    )
    assert got["timestamp"] == format_timestamp(AT)
    assert (got["app_id"], got["org_id"], got["device_id"]) == ("com.acme.capgo", "mobile", "c1")
    assert got["device_info"] == {"os": "android", "os_version": "14"}
    metadata = dict(got["metadata"])
    assert metadata["source_type"] == "set"  # ours is not overwritten by the client's metadata
    assert metadata["reason"] == "manual" and metadata["key_id"] == "k9"
    assert metadata["version_build"] == "2.3.0" and metadata["is_emulator"] == "false"
    assert metadata["plugin_version"] == "7.4.1" and metadata["install_source"] == "com.android.vending"
    assert "custom_id" not in metadata  # "" is absent


def test_capgo_ids_are_stable_for_a_resent_report_only() -> None:
    first, again = capgo_line("set"), capgo_line("set")
    later = capgo_line("set", timestamp=clients.epoch_ms(AT) + 1)
    assert first["event_id"] == again["event_id"] != later["event_id"]
    untimed = [capgo.to_events({**clients.capgo("set", "c1", "1.2.0", AT), "timestamp": None}, NOW)[0]]
    ids = {line(d, org_id="mobile")["event_id"] for d in untimed * 2 if isinstance(d, Draft)}
    assert len(ids) == 2  # no client time: nothing tells a retry from a new report


def test_capgo_array_maps_item_by_item() -> None:
    items = [clients.capgo("set", "c1", "1.2.0", AT), {"action": "set"}, "nope"]
    drafts = capgo.to_events(items, NOW)
    assert isinstance(drafts[0], Draft)
    assert isinstance(drafts[1], InvalidEvent) and {e.field for e in drafts[1].errors} == {
        "device_id",
        "app_id",
    }
    assert isinstance(drafts[2], InvalidEvent) and drafts[2].errors[0].field == "$"


# ---- CodePush ----


@pytest.mark.parametrize("snake", [False, True], ids=["camelCase", "snake_case"])
def test_codepush_reports(snake: bool) -> None:
    ok = line(codepush.deploy(clients.codepush_deploy("p1", "v7", "DeploymentSucceeded", "v6", snake), NOW))
    assert ok["event_type"] == "update_installed" and ok["device_id"] == "p1"
    assert ok["release_info"] == {"target_version": "v7", "current_version": "v6"}
    assert ok["timestamp"] == format_timestamp(NOW)
    metadata = dict(ok["metadata"])
    assert metadata["source_type"] == "DeploymentSucceeded" and metadata["app_version"] == "3.1.0"
    assert {"deployment_key", "previous_deployment_key"} <= set(metadata)
    failed = line(codepush.deploy(clients.codepush_deploy("p1", "v8", "DeploymentFailed", "v7", snake), NOW))
    assert failed["event_type"] == "update_failed"
    assert failed["error_info"] == {"error_code": "DeploymentFailed", "failure_stage": "install"}
    binary = line(codepush.deploy(clients.codepush_deploy("p1", None, None, "3.0.0", snake), NOW))
    assert binary["event_type"] == "app_launched" and binary["release_info"] == {"current_version": "3.1.0"}
    assert dict(binary["metadata"])["previous_label_or_app_version"] == "3.0.0"
    downloaded = line(codepush.download(clients.codepush_download("p1", "v8", snake), NOW))
    assert downloaded["event_type"] == "update_downloaded"
    assert downloaded["release_info"] == {"target_version": "v8"}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: codepush.deploy({"appVersion": "1", "clientUniqueId": "p"}, NOW), "deploymentKey"),
        (lambda: codepush.deploy({"deploymentKey": "k", "clientUniqueId": "p"}, NOW), "appVersion"),
        (lambda: codepush.deploy({**clients.codepush_deploy("p", "v1", "Done", "", False)}, NOW), "status"),
        (lambda: codepush.deploy({**clients.codepush_deploy("p", "v1", None, "", True)}, NOW), "status"),
        (lambda: codepush.deploy({"appVersion": "1", "deploymentKey": "k"}, NOW), "clientUniqueId"),
        (lambda: codepush.download({"deploymentKey": "k", "clientUniqueId": "p"}, NOW), "label"),
        (lambda: codepush.download({"label": 5, "deploymentKey": "k", "clientUniqueId": "p"}, NOW), "label"),
        (lambda: codepush.download("label", NOW), "$"),
    ],
)
def test_codepush_errors_name_the_clients_field(call: Any, field: str) -> None:
    assert field in [e["field"] for e in refused(call)]


# ---- hot-updater ----


@pytest.mark.parametrize(
    ("fields", "event_type", "release", "extra"),
    [
        ({"event": "updateProcessCompleted", "status": "UPDATE", "id": "b2", "bundleId": "b1"},
         "update_installed", {"target_version": "b2", "current_version": "b1"}, {}),
        ({"event": "updateProcessCompleted", "status": "ROLLBACK", "id": "b0", "bundleId": "b1"},
         "rollback_completed", {"current_version": "b0"}, {}),
        ({"event": "updateProcessCompleted", "status": "UP_TO_DATE", "id": "b1", "bundleId": "b1"},
         "update_checked", {"current_version": "b1"}, {}),
        ({"event": "notifyAppReady", "status": "STABLE", "bundleId": "b1"},
         "app_launched", {"current_version": "b1"}, {}),
        ({"event": "notifyAppReady", "status": "RECOVERED", "crashedBundleId": "b2", "bundleId": "b1"},
         "rollback_completed", {"current_version": "b1"}, {"rollback_reason": "crash"}),
        ({"event": "notifyAppReady", "status": "RECOVERED", "bundleId": "b1"},
         "rollback_completed", {"current_version": "b1"}, {"rollback_reason": "crash"}),
        ({"event": "checkUpdate", "bundleId": "b1", "minBundleId": "b0", "fingerprintHash": None},
         "update_checked", {"current_version": "b1"}, {}),
        ({"event": "progress", "progress": 0.42, "id": "b2"},
         "update_downloading", {"target_version": "b2"}, {"progress": 42.0}),
        ({"event": "error", "code": "INSUFFICIENT_DISK_SPACE", "message": "no room", "id": "b2"},
         "update_failed", {"target_version": "b2"},
         {"error_info": {"error_code": "INSUFFICIENT_DISK_SPACE", "error_message": "no room",
                         "failure_stage": "download"}}),
    ],
)  # fmt: skip
def test_hot_updater_events(fields: Payload, event_type: str, release: Payload, extra: Payload) -> None:
    got = line(hot_updater.to_event(clients.hot_updater(fields.pop("event"), "h1", AT, **fields), NOW))
    assert got["event_type"] == event_type and got["device_id"] == "h1"
    assert got["timestamp"] == format_timestamp(AT)
    assert {k: v for k, v in got["release_info"].items() if k != "channel"} == release
    assert got["release_info"]["channel"] == "production" and got["device_info"] == {"os": "ios"}
    for name, value in extra.items():
        assert got[name] == value
    metadata = dict(got["metadata"])
    assert metadata["appVersion"] == "1.2.0" and metadata["cohort"] == "42"
    if "crashedBundleId" in fields:
        assert metadata["crashedBundleId"] == "b2"


def hot_lines(fields: Payload) -> list[dict[str, Any]]:
    fields = dict(fields)
    return [
        line(d)
        for d in hot_updater.to_events(clients.hot_updater(fields.pop("event"), "h1", AT, **fields), NOW)
    ]


def test_a_hot_updater_recovery_is_a_rollback_and_the_crash_that_caused_it() -> None:
    recovered = {"event": "notifyAppReady", "status": "RECOVERED", "crashedBundleId": "b2", "bundleId": "b1",
                 "sessionId": "s-now", "eventId": "hu-7"}  # fmt: skip
    rollback, crash = hot_lines(recovered)
    assert (rollback["event_type"], rollback["event_id"], rollback["session_id"]) == (
        "rollback_completed",
        "hu-7",
        "s-now",
    )
    assert crash["event_type"] == "app_crashed" and crash["release_info"] == {
        "current_version": "b2",
        "channel": "production",
    }
    assert crash["error_info"] == {
        "error_code": "ABNORMAL_EXIT",
        "error_message": "the bundle crashed before notifyAppReady; hot-updater recovered",
    }
    assert "session_id" not in crash  # the launch that crashed is not the one that reports it
    assert (crash["device_id"], crash["timestamp"], crash["device_info"]) == (
        "h1",
        format_timestamp(AT),
        {"os": "ios"},
    )
    assert dict(crash["metadata"])["source_type"] == "notifyAppReady:RECOVERED"
    again = hot_lines(recovered)[1]
    assert crash["event_id"] == again["event_id"] != "hu-7"  # a resent report: the same crash, counted once
    without_id = {k: v for k, v in recovered.items() if k != "eventId"}
    assert hot_lines(without_id)[1]["event_id"] != hot_lines(without_id)[1]["event_id"]
    snake = {**without_id, "crashed_bundle_id": "b2"}
    del snake["crashedBundleId"]
    assert [e["release_info"]["current_version"] for e in hot_lines(snake)] == ["b1", "b2"]
    for quiet in ({**recovered, "crashedBundleId": None}, {**recovered, "status": "STABLE"}):
        assert len(hot_lines(quiet)) == 1
    too_long = clients.hot_updater("notifyAppReady", "h1", AT, status="RECOVERED", bundleId="b1",
                                   crashedBundleId="x" * 129)  # fmt: skip
    with pytest.raises(InvalidEvent) as caught:
        [line(d) for d in hot_updater.to_events(too_long, NOW)]
    assert [e.field for e in caught.value.errors] == ["crashedBundleId"]


def test_hot_updater_errors() -> None:
    assert refused(lambda: hot_updater.to_event({"event": "progress"}, NOW))[0]["field"] == "deviceId"
    assert (
        refused(lambda: hot_updater.to_event({"event": "boom", "deviceId": "d"}, NOW))[0]["field"] == "event"
    )
    bad = {"event": "updateProcessCompleted", "deviceId": "d", "status": "DONE"}
    assert refused(lambda: hot_updater.to_event(bad, NOW))[0]["field"] == "status"
    late = clients.hot_updater("checkUpdate", "d", NOW + timedelta(days=3), bundleId="b")
    assert refused(lambda: hot_updater.to_event(late, NOW))[0]["field"] == "timestamp"


def test_metadata_keeps_at_most_its_limit_and_names_what_did_not_fit() -> None:
    extra = {f"field_{i:02d}": i for i in range(40)}
    got = line(airborne.to_event(clients.airborne("UPDATE_CHECK", "d", **extra), NOW))
    metadata = dict(got["metadata"])
    assert len(metadata) == 32
    kept = [k for k in metadata if k.startswith("field_")]
    dropped = metadata["metadata_dropped"].split(",")
    assert sorted(kept + dropped) == sorted(extra)


# ---- the routes: answers and bad shapes ----


def run_routes(requests: list[tuple[str, Any]]) -> list[tuple[int, str, bytes]]:
    """POST each (path, JSON body) to the compat routes on a real aiohttp server with a recording publisher."""

    async def go() -> list[tuple[int, str, bytes]]:
        app = web.Application(middlewares=[error_middleware])
        app.router.add_routes(compat.routes(ingest(Recorder())))
        async with TestClient(TestServer(app)) as client:
            answers = []
            for path, body in requests:
                data = body if isinstance(body, bytes) else orjson.dumps(body)
                response = await client.post(path, data=data, headers={"Content-Type": "application/json"})
                answers.append((response.status, response.content_type, await response.read()))
            return answers

    return asyncio.run(go())


SCOPE = "?tenant_id=acme&org_id=mobile&app_id=shop"


def test_answers_are_shaped_as_the_clients_servers_answer() -> None:
    answers = run_routes([
        ("/analytics/events?tenant_id=acme", clients.airborne("APPLY_SUCCESS", "d", target_js_version="1.0.4")),
        ("/capgo/stats" + SCOPE, [clients.capgo("set", "c", "1.2.0", AT), clients.capgo("get", "c", "1.2.0", AT)]),
        ("/capgo/stats" + SCOPE, [clients.capgo("set", "c", "1.2.0", AT), {"action": "set"}]),
        ("/v0.1/public/codepush/report_status/deploy" + SCOPE,
         clients.codepush_deploy("p", "v1", "DeploymentSucceeded", "", True)),
        ("/reportStatus/download" + SCOPE, clients.codepush_download("p", "v1", False)),
        ("/hot-updater/events" + SCOPE, clients.hot_updater("checkUpdate", "h", AT, bundleId="b")),
    ])  # fmt: skip
    status, kind, body = answers[0]
    assert (status, kind) == (200, "application/json")
    answer = orjson.loads(body)
    assert set(answer) == {"status", "message", "event_id", "timestamp"} and answer["status"] == "success"
    assert answer["message"] == "OTA event queued for processing" and len(answer["event_id"]) == 36
    assert answers[1][:2] == (200, "application/json") and orjson.loads(answers[1][2]) == {"status": "ok"}
    partly = orjson.loads(answers[2][2])
    assert partly["status"] == "ok" and [r["index"] for r in partly["rejected"]] == [1]
    assert answers[3] == (200, "text/plain", b"OK") and answers[4] == (200, "text/plain", b"OK")
    assert answers[5][0] == 204 and answers[5][2] == b""


def test_a_client_without_org_or_app_is_told_where_to_put_them() -> None:
    [(status, _, body)] = run_routes(
        [("/reportStatus/download", clients.codepush_download("p", "v1", False))]
    )
    assert status == 422
    fields = {d["field"]: d["message"] for d in orjson.loads(body)["error"]["details"]}
    assert set(fields) == {"tenant_id", "org_id", "app_id"}
    assert "/c/{ingest_key}" in fields["org_id"]


BAD_BODIES: list[Any] = [
    b"",
    b"{",
    b"[]",
    b"null",
    b"42",
    b'"x"',
    [],
    [[]],
    {},
    {"event_type": None},
    [None] * 3,
]


@pytest.mark.parametrize("path", ["/analytics/events", "/capgo/stats", "/reportStatus/deploy",
                                  "/v0.1/public/codepush/report_status/download", "/hot-updater/events"])  # fmt: skip
def test_bad_shapes_get_the_error_shape(path: str) -> None:
    for status, kind, body in run_routes([(path + SCOPE, b) for b in BAD_BODIES]):
        assert 400 <= status < 500 and kind == "application/json", (status, body)
        assert set(orjson.loads(body)["error"]) == {"code", "message", "details"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
KNOWN = ["event_type", "eventType", "device_id", "deviceId", "org_id", "app_id", "action", "timestamp", "label",
         "status", "event", "appVersion", "deploymentKey", "clientUniqueId", "version_name", "download_time_ms",
         "metadata", "payload", "progress", "code", "id", "bundleId"]  # fmt: skip
VALUES = st.sampled_from(["APPLY_SUCCESS", "set", "progress", "error", "DeploymentFailed", "UPDATE", "", "x"])
SHAPED = st.dictionaries(st.sampled_from(KNOWN), VALUES | JSON, max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=SHAPED | JSON | st.lists(SHAPED, max_size=3))
def test_no_body_gets_a_server_error(body: Any) -> None:
    paths = ["/analytics/events", "/capgo/stats", "/reportStatus/deploy", "/reportStatus/download",
             "/hot-updater/events"]  # fmt: skip
    for status, _, answer in run_routes([(path + SCOPE, body) for path in paths]):
        assert status in (200, 204, 400, 403, 413, 422), (status, answer)
        if status >= 400:
            assert set(orjson.loads(answer)["error"]) == {"code", "message", "details"}
