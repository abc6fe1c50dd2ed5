"""Capgo (Cap-go/capacitor-updater): the plugin's `statsUrl`, `POST /capgo/stats`, one stats object or an array.

The object, as the Android plugin builds it (android/src/main/java/ee/forgr/capacitor_updater/CapgoUpdater.java,
`createInfoObject` and `sendStats`): `platform`, `device_id`, `app_id`, `custom_id`, `version_build`,
`version_code`, `version_os`, `version_name`, `old_version_name`, `plugin_version`, `is_emulator`, `is_prod`,
`install_source`, `defaultChannel`, `key_id`, `action`, `timestamp` (epoch milliseconds) and `metadata` (a string
map). Its stats queue is flushed as a JSON array (`flushStatsQueue`). Actions are the ones `sendStats` is called
with there and in CapacitorUpdaterPlugin.java (`set`, `reset`, `download_complete`, `download_10`…`download_90`,
`*_fail`, `app_moved_to_foreground`, …). A self-hosted stats endpoint answers `{"status": "ok"}` (Capgo's docs,
self-hosted/auto-update/stats-endpoint).

Capgo has no notion of an org: the key (or `?org_id=`) supplies it.

Launches and crashes (the plugin's core, core/src/engine/plugin/telemetry.rs): `app_launch_start` and
`app_launch_ready` carry `metadata.launch_started_at` (the process start, epoch ms), which names their launch as a
session, and `app_launch_ready` `metadata.duration_ms` (plugin load to notifyAppReady), its launch duration. The
process exits Android records (`app_crash`, `app_crash_native`, `app_anr`, `app_initialization_failure`; also
`app_crash` for an iOS session that never left the foreground) are sent at the next launch, with the version then
running; they become `app_crashed` with the action as `error_code`. Exits of a process the system reclaimed (low
memory, excessive resource use) and WebView errors are not crashes of the app: activity only.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ota_stream.compat.base import SOURCE_TYPE, Draft, absent, require, require_object

ANSWER = {"status": "ok"}
# Failing actions -> failure_stage (from where CapgoUpdater.java sends them); other `*_fail` actions fail with
# no stage.
FAILURES = {
    "set_fail": "install",
    "update_fail": "install",
    "download_fail": "download",
    "finish_download_fail": "download",
    "low_mem_fail": "download",
    "insufficient_disk_space": "download",
    "unzip_fail": "install",
    "windows_path_fail": "install",
    "canonical_path_fail": "install",
    "directory_path_fail": "install",
    "checksum_fail": "verify",
    "decrypt_fail": "verify",
}
LAUNCHES = frozenset({"app_launch_start", "app_launch_ready", "app_moved_to_foreground"})
CRASHES = frozenset({"app_crash", "app_crash_native", "app_anr", "app_initialization_failure"})
_PROGRESS = re.compile(r"^download_(\d{1,2}|100)$")
HANDLED = {
    "action", "device_id", "app_id", "platform", "version_os", "version_name", "old_version_name",
    "defaultChannel", "timestamp", "metadata", "tenant_id", "org_id",
}  # fmt: skip


def to_events(body: Any, received: datetime) -> list[Draft | Exception]:
    """Each stats object as a draft, or the error that refused it (an array is answered item by item)."""
    items = body if isinstance(body, list) else [body]
    drafts: list[Draft | Exception] = []
    for item in items:
        try:
            drafts.append(to_event(item, received))
        except ValueError as exc:
            drafts.append(exc)
    return drafts


def to_event(body: Any, received: datetime) -> Draft:
    data = require_object(body)
    require(data, "action", "device_id", "app_id")
    action = str(data["action"])
    version = data.get("version_name")
    draft = Draft(received)
    for name in ("device_id", "app_id", "tenant_id", "org_id"):
        draft.put(name, data.get(name), name)
    draft.put("os", data.get("platform"), "platform")
    draft.put("os_version", data.get("version_os"), "version_os")
    draft.put("channel", data.get("defaultChannel"), "defaultChannel")
    draft.timestamp(data.get("timestamp"), "timestamp")
    draft.keep(SOURCE_TYPE, action)
    _action(draft, action, version, data.get("old_version_name"))
    _launch(draft, action, data.get("metadata"))
    if draft.origin.get("release_info.current_version") != "old_version_name":
        draft.keep("old_version_name", data.get("old_version_name"))
    for name, value in data.items():
        if name not in HANDLED:
            draft.keep(name, value)  # custom_id, version_build, version_code, plugin_version, is_prod, ...
    if isinstance(data.get("metadata"), dict):
        for name, value in data["metadata"].items():
            draft.keep(str(name), value)
    else:
        draft.keep("metadata", data.get("metadata"))
    if "timestamp" in draft.origin:  # a precise client time: a resent queue item is the same report
        draft.derive_id("capgo", data.get("app_id"), data["device_id"], action, version, data["timestamp"])
    return draft


def _action(draft: Draft, action: str, version: Any, old_version: Any) -> None:
    """The event type (docs/events.md#event-types) of a Capgo action and which version it names (see the module's
    docstring)."""
    progress = _PROGRESS.match(action)
    if action == "set":
        _typed(draft, "update_installed", target=version, current=old_version)
    elif action == "reset":  # back to the builtin bundle: version_name is what now runs
        _typed(draft, "rollback_completed", current=version)
    elif action == "download_complete":
        _typed(draft, "update_downloaded", target=version)
    elif progress:
        _typed(draft, "update_downloading", target=version)
        draft.put("progress", float(progress.group(1)), "action")
    elif action in FAILURES or action.endswith("_fail"):
        _typed(draft, "update_failed", target=version)
        draft.put("error_code", action, "action")
        draft.put("failure_stage", FAILURES.get(action), "action")
    elif action == "get":
        _typed(draft, "update_checked", current=version)
    elif action in LAUNCHES:
        _typed(draft, "app_launched", current=version)
    elif action in CRASHES:
        _typed(draft, "app_crashed", current=version)
        draft.put("error_code", action, "action")
    else:  # delete, set_next, app_moved_to_background, ...: the device is active; version_name may not run
        _typed(draft, "app_launched")
        draft.keep("version_name", version)


def _launch(draft: Draft, action: str, extra: Any) -> None:
    """What Capgo's metadata says of a launch or a crash: the launch as a session, its duration, the exit."""
    if not isinstance(extra, dict):
        return
    if action in LAUNCHES and not absent(extra.get("launch_started_at")):
        draft.put("session_id", f"launch-{extra['launch_started_at']}", "metadata.launch_started_at")
    if action == "app_launch_ready":
        draft.number("launch_duration_seconds", extra.get("duration_ms"), "metadata.duration_ms", scale=0.001)
    if action in CRASHES:
        draft.put("error_message", extra.get("exit_description"), "metadata.exit_description")


def _typed(draft: Draft, event_type: str, target: Any = None, current: Any = None) -> None:
    draft.put("event_type", event_type, "action")
    draft.put("target_version", target, "version_name")
    draft.put("current_version", current, "version_name" if target is None else "old_version_name")
