"""hot-updater's own analytics events (its `next` branch) on /hot-updater/events: the examples of hot-updater's own
sources (tests/support/clients.py) mapped onto the event model and through ingest's validation, and refused where
hot-updater's server refuses them (400, naming the field)."""

from __future__ import annotations

from typing import Any

import pytest

from ota_stream.compat import hot_updater, hot_updater_analytics
from ota_stream.compat.hot_updater_analytics import HotUpdaterRefusal
from ota_stream.models import InvalidEvent, format_timestamp
from tests.support.clients import HOT_UPDATER_EVENTS, Payload
from tests.test_compat_mapping import NOW, line


def lines(body: Payload) -> list[dict[str, Any]]:
    return [line(draft) for draft in hot_updater.to_events(body, NOW)]


def summary(got: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(e["event_type"], e["release_info"]) for e in got]


def test_each_example_maps_onto_the_events_it_means() -> None:
    production = {"channel": "production"}
    assert summary(lines(HOT_UPDATER_EVENTS["UNCHANGED (server spec)"])) == [
        ("app_launched", {"current_version": "bundle-1", **production})
    ]
    assert summary(lines(HOT_UPDATER_EVENTS["UNCHANGED"])) == [
        ("app_launched", {"current_version": "bundle-id", **production})
    ]
    assert summary(lines(HOT_UPDATER_EVENTS["UPDATE_APPLIED"])) == [
        ("update_installed", {"current_version": "bundle-a", "target_version": "bundle-b", **production}),
        ("app_launched", {"current_version": "bundle-b", **production}),
    ]
    recovered = lines(HOT_UPDATER_EVENTS["RECOVERED"])  # bundle-b crashed; back to bundle-a
    assert summary(recovered) == [
        ("update_installed", {"current_version": "bundle-a", "target_version": "bundle-b", **production}),
        ("app_crashed", {"current_version": "bundle-b", **production}),
        ("rollback_completed", {"current_version": "bundle-a", **production}),
        ("app_launched", {"current_version": "bundle-a", **production}),
    ]
    assert recovered[1]["error_info"] == {
        "error_code": "ABNORMAL_EXIT",
        "error_message": "the bundle crashed before it was ready; hot-updater recovered",
    }
    assert recovered[2]["rollback_reason"] == "crash"
    assert summary(lines(HOT_UPDATER_EVENTS["RELEASE_ADOPTED"])) == [
        ("update_checked", {"current_version": "bundle-id", **production})
    ]


@pytest.mark.parametrize("name", list(HOT_UPDATER_EVENTS))
def test_every_event_is_the_device_its_os_and_the_time_of_receipt(name: str) -> None:
    body = HOT_UPDATER_EVENTS[name]
    for event in lines(body):
        assert event["device_id"] == body["installId"] and event["device_info"] == {"os": "ios"}
        assert event["timestamp"] == format_timestamp(NOW)  # hot-updater sends no time
        assert "session_id" not in event  # each launch is a session of its own
        metadata = dict(event["metadata"])
        assert metadata["source_type"] == body["type"]
        assert (metadata["appVersion"], metadata["cohort"]) == (body["appVersion"], body["cohort"])
        assert "userId" not in metadata and "username" not in metadata  # the app's users: not kept
        assert metadata.get("sdkVersion") == body["sdkVersion"]
        for kept in ("fingerprintHash", "updateStrategy", "fromReleaseId", "toReleaseId"):
            assert metadata.get(kept) == body.get(kept)


def refusal(body: Any) -> list[str]:
    with pytest.raises(HotUpdaterRefusal) as caught:
        hot_updater.to_events(body, NOW)
    assert caught.value.status == 400
    return [e.field for e in caught.value.errors]


def test_refused_as_hot_updaters_server_refuses() -> None:
    unchanged = HOT_UPDATER_EVENTS["UNCHANGED (server spec)"]
    applied = HOT_UPDATER_EVENTS["UPDATE_APPLIED"]
    assert refusal({**unchanged, "platform": "web"}) == ["platform"]  # the server spec's own refusal
    assert refusal({**unchanged, "deviceId": "d", "orgId": "x"}) == ["deviceId", "orgId"]  # unknown keys
    assert refusal({**unchanged, "type": "LAUNCHED"}) == ["type"]
    assert refusal({**unchanged, "fromBundleId": "b0"}) == ["fromBundleId"]
    assert refusal({**unchanged, "updateStrategy": "fingerprint"}) == ["updateStrategy"]
    assert refusal({k: v for k, v in unchanged.items() if k != "fingerprintHash"}) == ["fingerprintHash"]
    assert refusal({**applied, "updateStrategy": None}) == ["updateStrategy"]
    assert refusal({**applied, "fromBundleId": None}) == ["fromBundleId"]
    assert refusal({**applied, "installId": ""}) == ["installId"]
    assert refusal({**applied, "cohort": 123}) == ["cohort"]
    assert refusal({**applied, "channel": "x" * 1025}) == ["channel"]
    assert refusal({**applied, "userId": None}) == ["userId"]  # optional, but a string when sent
    assert refusal({**applied, "sdkVersion": ""}) == ["sdkVersion"]


def test_what_fits_hot_updater_but_not_the_event_model_is_named_by_its_field() -> None:
    """hot-updater takes ids of up to 1,024 characters; a version is at most 128 here: a 422 naming toBundleId."""
    long_bundle = {**HOT_UPDATER_EVENTS["UNCHANGED"], "toBundleId": "b" * 129}
    drafts = hot_updater.to_events(long_bundle, NOW)
    with pytest.raises(InvalidEvent) as caught:
        line(drafts[0])
    assert [e.field for e in caught.value.errors] == ["toBundleId"]
    assert not isinstance(caught.value, HotUpdaterRefusal)  # the model's refusal: a 422, as for every client


def test_the_hook_form_keeps_its_own_mapping() -> None:
    """An object with `event` is the hook form, even if it also sends a `type` (kept in metadata)."""
    hook = {"event": "notifyAppReady", "deviceId": "d", "status": "STABLE", "bundleId": "b1", "type": "x"}
    assert not hot_updater_analytics.is_analytics_event(hook)
    (launched,) = lines(hook)
    assert launched["event_type"] == "app_launched" and dict(launched["metadata"])["type"] == "x"
