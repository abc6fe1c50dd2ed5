"""hot-updater (gronxb/hot-updater): `POST /hot-updater/events`, one event object; answers 204.

Two forms share the route: hot-updater's own analytics events (`type`, since its 1.x server:
compat/hot_updater_analytics.py), and the form below, of an app that reports what hot-updater's hooks receive.

Before those events existed, hot-updater shipped no telemetry: an app reported what its hooks and resolver
receive, and this route reads those objects as hot-updater types them (packages/react-native/src/wrap.tsx,
`RunUpdateProcessResponse` of `onUpdateProcessCompleted` and `onProgress`; src/native.ts, `NotifyAppReadyResult`;
src/types.ts, `ResolverCheckUpdateParams`; src/error.ts, `HotUpdaterErrorCode`), with `event` naming which one and
the app's context beside it:

    {"event": "updateProcessCompleted", "deviceId": "...", "status": "UPDATE", "id": "<new bundle id>",
     "bundleId": "<running bundle id>", "appVersion": "1.2.0", "platform": "ios", "channel": "production",
     "eventId": "...", "timestamp": 1767225600000}

- `event`: `checkUpdate`, `updateProcessCompleted` (`status` UPDATE | ROLLBACK | UP_TO_DATE, `id`,
  `shouldForceUpdate`, `message`), `notifyAppReady` (`status` STABLE | RECOVERED, `crashedBundleId`), `progress`
  (`progress`, 0 to 1 as onProgress gives it) or `error` (`code`, `message`, `id` of the bundle that failed).
- `deviceId` is required (hot-updater's cohort is not a device id); `orgId`/`appId` optional (else the key).
- Names may be camelCase or snake_case; `timestamp` is epoch milliseconds or RFC 3339, else the time of receipt.
- `notifyAppReady` with `RECOVERED` means that the launch before this one crashed on `crashedBundleId` before it
  was ready, and hot-updater went back to `bundleId`: two events, the rollback and that crash (`to_events`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ota_stream.compat import hot_updater_analytics
from ota_stream.compat.base import SOURCE_TYPE, Draft, absent, choice, require, require_object, snake
from ota_stream.models import FieldError, InvalidEvent

EVENTS = frozenset({"checkUpdate", "updateProcessCompleted", "notifyAppReady", "progress", "error"})
# The crash a recovery reveals: found at the next launch, so an abnormal exit of the crashed bundle.
RECOVERED_CRASH = ("ABNORMAL_EXIT", "the bundle crashed before notifyAppReady; hot-updater recovered")
# HotUpdaterErrorCode -> failure_stage (src/error.ts groups them the same way)
ERROR_STAGES = {
    "DOWNLOAD_FAILED": "download",
    "INCOMPLETE_DOWNLOAD": "download",
    "INSUFFICIENT_DISK_SPACE": "download",
    "EXTRACTION_FORMAT_ERROR": "install",
    "DIRECTORY_CREATION_FAILED": "install",
    "MOVE_OPERATION_FAILED": "install",
    "INVALID_BUNDLE": "verify",
    "SIGNATURE_VERIFICATION_FAILED": "verify",
    "BUNDLE_IN_CRASHED_HISTORY": "verify",
}
CONTEXT = {
    "device_id": "device_id", "tenant_id": "tenant_id", "org_id": "org_id", "app_id": "app_id",
    "event_id": "event_id", "session_id": "session_id", "platform": "os", "channel": "channel",
}  # fmt: skip
HANDLED = {"event", "timestamp", "status", "id", "bundle_id", "progress", "code", "message", *CONTEXT}


def to_events(body: Any, received: datetime) -> list[Draft]:
    """The event of one object, and after it, for a recovery that names the bundle that crashed, that crash.
    hot-updater's own analytics events (a `type`, no `event`) are compat/hot_updater_analytics.py's."""
    if hot_updater_analytics.is_analytics_event(body):
        return hot_updater_analytics.to_events(body, received)
    draft = to_event(body, received)
    sent = {snake(key): key for key in body}  # an object: to_event has checked it
    name = sent.get("crashed_bundle_id", "crashedBundleId")
    if draft.event.get("rollback_reason") == "crash" and not absent(body.get(name)):
        return [draft, _crash(draft, body[name], name)]
    return [draft]


def _crash(recovery: Draft, bundle: Any, source: str) -> Draft:
    """The app_crashed of `bundle` that a recovery reports: the recovery's device, context and time, a session of its
    own (the crashed launch is not the one reporting), its id derived from the recovery's when the app sent one."""
    crash = Draft(recovery.received, metadata=dict(recovery.metadata), _overflow=list(recovery._overflow))
    for name in ("tenant_id", "org_id", "app_id", "device_id", "timestamp", "device_info"):
        if name in recovery.event:
            crash.event[name] = recovery.event[name]
    crash.origin = {k: v for k, v in recovery.origin.items() if k.split(".")[0] in crash.event}
    crash.put("channel", recovery.event.get("release_info", {}).get("channel"), "channel")
    code, message = RECOVERED_CRASH
    crash.put("event_type", "app_crashed", "status")
    crash.put("current_version", bundle, source)
    crash.put("error_code", code, "status")
    crash.put("error_message", message, "status")
    if "event_id" in recovery.event:
        crash.derive_id("hot-updater", "crash", recovery.event["event_id"])
    return crash


def to_event(body: Any, received: datetime) -> Draft:
    data: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key, value in require_object(body).items():
        name = snake(key)
        if name in data and data[name] != value:
            raise InvalidEvent([FieldError(key, f"conflicts with {names[name]}; send one of them")])
        data[name], names[name] = value, key
    names.setdefault("device_id", "deviceId")
    require(data, "event", "device_id", sent=names)
    event = choice(data, "event", EVENTS, sent=names)
    draft = Draft(received)
    for name, leaf in CONTEXT.items():
        draft.put(leaf, data.get(name), names.get(name, name))
    draft.timestamp(data.get("timestamp"), names.get("timestamp", "timestamp"))
    running = data.get("bundle_id")
    status = data.get("status")
    draft.keep(SOURCE_TYPE, event if absent(status) else f"{event}:{status}")
    if event == "updateProcessCompleted":
        _completed(draft, data, names)
    elif event == "notifyAppReady":
        recovered = status == "RECOVERED"
        draft.put("event_type", "rollback_completed" if recovered else "app_launched", names["event"])
        draft.put("current_version", running, names.get("bundle_id", "bundleId"))
        if recovered:
            draft.put("rollback_reason", "crash", names["event"])
    elif event == "checkUpdate":
        draft.put("event_type", "update_checked", names["event"])
        draft.put("current_version", running, names.get("bundle_id", "bundleId"))
    elif event == "progress":
        draft.put("event_type", "update_downloading", names["event"])
        draft.number("progress", data.get("progress"), names.get("progress", "progress"), scale=100)
        draft.put("target_version", data.get("id"), names.get("id", "id"))
    else:
        code = data.get("code")
        draft.put("event_type", "update_failed", names["event"])
        draft.put("error_code", code, names.get("code", "code"))
        draft.put("error_message", data.get("message"), names.get("message", "message"))
        draft.put("failure_stage", ERROR_STAGES.get(code) if isinstance(code, str) else None, "code")
        draft.put("target_version", data.get("id"), names.get("id", "id"))
    for name, value in data.items():
        if name not in HANDLED:
            draft.keep(names[name], value)  # appVersion, cohort, fingerprintHash, shouldForceUpdate, ...
    if event != "updateProcessCompleted" and event != "error":
        draft.keep("message", data.get("message"))
    if draft.event.get("release_info", {}).get("current_version") is None:
        draft.keep("bundleId", running)
    return draft


def _completed(draft: Draft, data: dict[str, Any], names: dict[str, str]) -> None:
    status = data.get("status")
    if status not in ("UPDATE", "ROLLBACK", "UP_TO_DATE"):
        raise InvalidEvent(
            [FieldError(names.get("status", "status"), "must be UPDATE, ROLLBACK or UP_TO_DATE")]
        )
    bundle, running = data.get("id"), data.get("bundle_id")
    id_name, running_name = names.get("id", "id"), names.get("bundle_id", "bundleId")
    if status == "UPDATE":
        draft.put("event_type", "update_installed", names["status"])
        draft.put("target_version", bundle, id_name)
        draft.put("current_version", running, running_name)
    elif status == "ROLLBACK":  # `id` is the bundle the app went back to
        draft.put("event_type", "rollback_completed", names["status"])
        draft.put("current_version", bundle, id_name)
        draft.keep("bundleId", running)
    else:
        draft.put("event_type", "update_checked", names["status"])
        draft.put("current_version", running, running_name)
        draft.keep("result", "not_available")
    draft.keep("message", data.get("message"))
