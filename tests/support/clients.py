"""Payloads exactly as the real OTA clients send them (docs/clients.md), written from their public sources, and the
events (docs/events.md) they mean, written by hand from docs/clients.md and the clients' semantics (not by the code
under test).

Sources:
- Airborne: juspay/airborne, airborne_analytics_server/src/common/models.rs (`OtaEventIngestRequest`,
  `OtaEventType`), src/handlers/events.rs (the answer), OTA Analytics.postman_collection.json (tenant_id, numbers
  as text), init-clickhouse.sql (the camelCase names of the iOS form).
- Capgo: Cap-go/capacitor-updater, android/src/main/java/ee/forgr/capacitor_updater/CapgoUpdater.java
  (`createInfoObject`, `sendStats`, `flushStatsQueue` posts a JSON array).
- CodePush: microsoft/code-push-server, api/script/routes/acquisition.ts (`reportStatusDeploy`,
  `reportStatusDownload`), api/script/redis-manager.ts (DeploymentSucceeded / DeploymentFailed); the camelCase
  fields are react-native-code-push's (android/.../CodePushStatusReport: appVersion, deploymentKey, label, status,
  previousDeploymentKey, previousLabelOrAppVersion, clientUniqueId).
- hot-updater: gronxb/hot-updater, packages/react-native/src/wrap.tsx (`onUpdateProcessCompleted`: status
  UPDATE | ROLLBACK | UP_TO_DATE, id, shouldForceUpdate, message), src/native.ts (`NotifyAppReadyResult`),
  src/error.ts (`HotUpdaterErrorCode`), src/types.ts (`ResolverCheckUpdateParams`). Its own analytics events
  (branch `next` at 95d0fa420, since #1119): packages/server/src/analytics/eventInput.ts (the accepted keys and
  refusals), analytics.integration.spec.ts (an UNCHANGED event; platform "web" refused with 400),
  packages/react-native/src/notifyAppReadyAnalytics.spec.ts (UPDATE_APPLIED, RECOVERED, UNCHANGED as the SDK makes
  them), src/DefaultResolver.ts (the body it POSTs: without requestHeaders and requestTimeout, with sdkVersion),
  src/checkForUpdate.ts (`notifyReleaseAdoption`: RELEASE_ADOPTED).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

Payload = dict[str, Any]


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# ---- Airborne ----


def airborne(event_type: str, device: str, **fields: Any) -> Payload:
    """The server's flat snake_case body (models.rs), as its Postman collection sends it."""
    return {
        "org_id": "mobile", "app_id": "air", "device_id": device, "session_id": f"s-{device}",
        "event_type": event_type, "release_id": "release_6677", "current_js_version": "1.0.3",
        "rollout_percentage": 30, "os_version": "16.1", "app_version": "7.5", "device_type": "iOS",
        "network_type": "wifi", **fields,
    }  # fmt: skip


def airborne_android(event_type: str, device: str, **fields: Any) -> Payload:
    """The Android SDK's body: every optional field present, "" where it has no value."""
    return {
        "org_id": "mobile", "app_id": "air", "device_id": device, "session_id": "", "event_type": event_type,
        "release_id": "", "current_js_version": "1.0.3", "target_js_version": "", "rollout_percentage": "",
        "os_version": "", "app_version": "", "device_type": "Android", "network_type": "", "error_code": "",
        "error_message": "", "stack_trace": "", "download_size_bytes": "", "download_time_ms": "",
        "apply_time_ms": "", **fields,
    }  # fmt: skip


def airborne_ios(event_type: str, device: str, at: datetime, **fields: Any) -> Payload:
    """The iOS SDK's camelCase body with an epoch-millisecond timestamp, as a float."""
    return {
        "orgId": "mobile", "appId": "air", "deviceId": device, "eventType": event_type,
        "currentJsVersion": "1.0.3", "osVersion": "17.4", "deviceType": "iOS",
        "timestamp": epoch_ms(at) + 0.0, **fields,
    }  # fmt: skip


# ---- Capgo ----


def capgo(action: str, device: str, version: str, at: datetime, old: str = "", **fields: Any) -> Payload:
    """One stats object (CapgoUpdater.createInfoObject + sendStats)."""
    return {
        "platform": "android", "device_id": device, "app_id": "com.acme.capgo", "custom_id": "",
        "version_build": "2.3.0", "version_code": "230", "version_os": "14", "version_name": version,
        "old_version_name": old, "plugin_version": "7.4.1", "is_emulator": False, "is_prod": True,
        "install_source": "com.android.vending", "defaultChannel": "production", "action": action,
        "timestamp": epoch_ms(at), **fields,
    }  # fmt: skip


# ---- CodePush ----


def codepush_deploy(
    device: str, label: str | None, status: str | None, previous: str, snake: bool
) -> Payload:
    """A deploy report: camelCase (legacy /reportStatus) or snake_case (v0.1 API); label and status absent for a
    report of the binary now running."""
    body = {"appVersion": "3.1.0", "deploymentKey": "dk-production-abc", "clientUniqueId": device,
            "previousLabelOrAppVersion": previous, "previousDeploymentKey": "dk-production-abc"}  # fmt: skip
    if label is not None:
        body["label"] = label
    if status is not None:
        body["status"] = status
    if snake:
        return {_snake(k): v for k, v in body.items()}
    return body


def codepush_download(device: str, label: str, snake: bool) -> Payload:
    body = {"deploymentKey": "dk-production-abc", "label": label, "clientUniqueId": device}
    return {_snake(k): v for k, v in body.items()} if snake else body


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# ---- hot-updater ----


def hot_updater(event: str, device: str, at: datetime, **fields: Any) -> Payload:
    """One hot-updater object with the app's context (appVersion, platform, channel, cohort, bundleId)."""
    return {
        "event": event, "deviceId": device, "appVersion": "1.2.0", "platform": "ios", "channel": "production",
        "cohort": "42", "timestamp": epoch_ms(at), **fields,
    }  # fmt: skip


# hot-updater's own analytics events, each as hot-updater's own sources make it (see the sources above).
HOT_UPDATER_SDK = "0.0.0-test"  # DefaultResolver sends HOT_UPDATER_SDK_VERSION
HOT_UPDATER_COMMON = {
    "appVersion": "1.0.0", "channel": "production", "cohort": "123", "fingerprintHash": "fingerprint-hash",
    "fromReleaseId": None, "installId": "install-id", "platform": "ios", "sdkVersion": HOT_UPDATER_SDK,
    "toReleaseId": None,
}  # fmt: skip
HOT_UPDATER_EVENTS: dict[str, Payload] = {
    # analytics.integration.spec.ts `event`
    "UNCHANGED (server spec)": {
        "appVersion": "1.0.0", "channel": "production", "cohort": "default", "fingerprintHash": None,
        "fromBundleId": None, "installId": "install-1", "platform": "ios", "toBundleId": "bundle-1",
        "type": "UNCHANGED", "updateStrategy": None, "sdkVersion": "2.0.0",
    },
    # notifyAppReadyAnalytics.spec.ts, "sends UPDATE_APPLIED with transition metadata", through DefaultResolver
    "UPDATE_APPLIED": {
        **HOT_UPDATER_COMMON, "fromBundleId": "bundle-a", "toBundleId": "bundle-b", "type": "UPDATE_APPLIED",
        "updateStrategy": "fingerprint", "userId": "user-123", "username": "alice",
    },
    # "sends RECOVERED with directional ids"
    "RECOVERED": {
        **HOT_UPDATER_COMMON, "fromBundleId": "bundle-b", "toBundleId": "bundle-a", "type": "RECOVERED",
        "updateStrategy": "appVersion",
    },
    # "sends one UNCHANGED event for repeated init calls"
    "UNCHANGED": {
        **HOT_UPDATER_COMMON, "fromBundleId": None, "toBundleId": "bundle-id", "type": "UNCHANGED",
        "updateStrategy": None,
    },
    # checkForUpdate.ts notifyReleaseAdoption: the desired release ships the running bundle
    "RELEASE_ADOPTED": {
        **HOT_UPDATER_COMMON, "fromBundleId": "bundle-id", "toBundleId": "bundle-id", "fromReleaseId": "rel-1",
        "toReleaseId": "rel-2", "type": "RELEASE_ADOPTED", "updateStrategy": "appVersion",
    },
}  # fmt: skip
