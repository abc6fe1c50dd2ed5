"""hot-updater's own analytics events (its `next` branch, since gronxb/hot-updater#1119), on `/hot-updater/events`
beside the hook form of compat/hot_updater.py.

hot-updater 1.x reports each launch that reaches app-ready through its resolver's `notifyAppReady`, and its
default resolver POSTs the object to `<baseURL>/events` (packages/react-native/src/DefaultResolver.ts), with no
time and no id of its own:

    {"type": "UPDATE_APPLIED", "installId": "...", "fromBundleId": "b1", "toBundleId": "b2", "platform": "ios",
     "appVersion": "1.0.0", "channel": "production", "cohort": "123", "fingerprintHash": null,
     "updateStrategy": "fingerprint", "sdkVersion": "...", "fromReleaseId": null, "toReleaseId": null}

Its server (packages/server/src/analytics/eventInput.ts) takes exactly these keys and answers 204; it refuses an
unknown key, a missing or empty field, a platform other than ios/android, and a shape that does not fit the type
with 400. So does this route (`HotUpdaterRefusal`), naming the field. The mapping (docs/clients.md):
- every report but RELEASE_ADOPTED is one launch that reached app-ready, running `toBundleId`: `app_launched`;
- UPDATE_APPLIED: that launch is the first of a new bundle: `update_installed` from `fromBundleId` to it;
- RECOVERED: the update to `fromBundleId` was installed, crashed before it was ready, and hot-updater went back to
  `toBundleId`: `update_installed` of `fromBundleId`, its `app_crashed` (a session of its own), and
  `rollback_completed` back to `toBundleId` (installs come before rollbacks at the same millisecond);
- RELEASE_ADOPTED: an update check found that the new release ships the bundle already running: `update_checked`;
- UNCHANGED: the launch alone.
`installId` is the device; `platform` its os; `channel` the channel; every event takes the time of receipt. The
rest (appVersion, cohort, fingerprintHash, updateStrategy, sdkVersion, release ids) goes into metadata; `userId`
and `username` are the app's users' identities, which no figure needs: they are not kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ota_stream.compat.base import SOURCE_TYPE, Draft
from ota_stream.models import FieldError, InvalidEvent

TYPES = ("UPDATE_APPLIED", "RECOVERED", "RELEASE_ADOPTED", "UNCHANGED")
TRANSITIONS = frozenset(TYPES[:3])  # these name the bundle they come from and the update strategy
STRATEGIES = ("fingerprint", "appVersion")
PLATFORMS = ("ios", "android")
REQUIRED = ("type", "installId", "toBundleId", "platform", "appVersion", "channel", "cohort")
OPTIONAL = ("userId", "username")
NULLABLE = ("fingerprintHash", "sdkVersion", "fromReleaseId", "toReleaseId")  # fingerprintHash must be sent
KEYS = frozenset({*REQUIRED, *OPTIONAL, *NULLABLE, "fromBundleId", "updateStrategy"})
NOT_KEPT = frozenset({"userId", "username"})
MAX_LENGTH = 1024  # eventInput.ts MAX_EVENT_STRING_LENGTH
CRASH = ("ABNORMAL_EXIT", "the bundle crashed before it was ready; hot-updater recovered")


class HotUpdaterRefusal(InvalidEvent):
    """What hot-updater's own server refuses with 400: the route answers 400 too, naming the field."""

    status = 400


def is_analytics_event(body: Any) -> bool:
    """hot-updater's own event (a `type`) rather than the hook form (an `event`)."""
    return isinstance(body, dict) and "type" in body and "event" not in body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LENGTH:
        raise HotUpdaterRefusal([FieldError(name, f"must be a string of 1 to {MAX_LENGTH} characters")])
    return value


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The body, refused as hot-updater's server refuses it."""
    unknown = sorted(key for key in body if key not in KEYS)
    if unknown:
        raise HotUpdaterRefusal(
            [FieldError(key, "is not a field of hot-updater's events") for key in unknown]
        )
    for name in REQUIRED:
        _text(body, name)
    for name in OPTIONAL:
        if name in body:
            _text(body, name)
    for name in NULLABLE:
        if body.get(name) is not None or (name == "fingerprintHash" and name not in body):
            _text(body, name)
    if body["platform"] not in PLATFORMS:
        raise HotUpdaterRefusal([FieldError("platform", "must be ios or android")])
    kind = body["type"]
    if kind in TRANSITIONS:
        _text(body, "fromBundleId")
        if body.get("updateStrategy") not in STRATEGIES:
            raise HotUpdaterRefusal([FieldError("updateStrategy", "must be fingerprint or appVersion")])
    elif kind == "UNCHANGED":
        for name in ("fromBundleId", "updateStrategy"):
            if name not in body or body[name] is not None:
                raise HotUpdaterRefusal([FieldError(name, "must be null for UNCHANGED")])
    else:
        raise HotUpdaterRefusal([FieldError("type", f"must be one of {', '.join(TYPES)}")])
    return body


def _draft(body: dict[str, Any], received: datetime, event_type: str, version: str, source: str) -> Draft:
    draft = Draft(received)
    draft.put("device_id", body["installId"], "installId")
    draft.put("os", body["platform"], "platform")
    draft.put("channel", body["channel"], "channel")
    draft.timestamp(None, "timestamp")  # hot-updater sends no time: the time of receipt
    draft.put("event_type", event_type, "type")
    draft.put("current_version", version, source)
    draft.keep(SOURCE_TYPE, body["type"])
    for name, value in body.items():
        if name not in REQUIRED and name not in NOT_KEPT and name not in ("fromBundleId", "toBundleId"):
            draft.keep(name, value)
    draft.keep("appVersion", body["appVersion"])
    draft.keep("cohort", body["cohort"])
    return draft


def to_events(body: dict[str, Any], received: datetime) -> list[Draft]:
    """The events one report means, in the order they happened."""
    kind = _checked(body)["type"]
    running: str = body["toBundleId"]
    previous: str = body["fromBundleId"] if kind in TRANSITIONS else ""
    if kind == "RELEASE_ADOPTED":
        return [_draft(body, received, "update_checked", running, "toBundleId")]
    launched = _draft(body, received, "app_launched", running, "toBundleId")
    if kind == "UNCHANGED":
        return [launched]
    if kind == "UPDATE_APPLIED":
        installed = _draft(body, received, "update_installed", previous, "fromBundleId")
        installed.put("target_version", running, "toBundleId")
        return [installed, launched]
    installed = _draft(body, received, "update_installed", running, "toBundleId")  # RECOVERED
    installed.put("target_version", previous, "fromBundleId")
    crashed = _draft(body, received, "app_crashed", previous, "fromBundleId")
    crashed.put("error_code", CRASH[0], "type")
    crashed.put("error_message", CRASH[1], "type")
    rolled_back = _draft(body, received, "rollback_completed", running, "toBundleId")
    rolled_back.put("rollback_reason", "crash", "type")
    return [installed, crashed, rolled_back, launched]
