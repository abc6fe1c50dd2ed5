"""CodePush (react-native-code-push with its server URL pointed here): status reports.

Routes and bodies as microsoft/code-push-server reads them (api/script/routes/acquisition.ts,
`reportStatusDeploy` and `reportStatusDownload`): `POST /v0.1/public/codepush/report_status/deploy` and
`…/download`, and the legacy `/reportStatus/deploy` and `/reportStatus/download`; every field is read in camelCase or
snake_case on either path (`req.body.deploymentKey || req.body.deployment_key`).
- deploy: `deploymentKey`, `appVersion` (both required), `label` and `status` (`DeploymentSucceeded` or
  `DeploymentFailed`, api/script/redis-manager.ts; required with a label), `clientUniqueId`,
  `previousLabelOrAppVersion`, `previousDeploymentKey`. Without a label it reports the binary (`appVersion`) now
  running.
- download: `deploymentKey` and `label` (required), `clientUniqueId`.
The server answers `200 OK` (text, `res.sendStatus(200)`).

CodePush has no notion of tenant, org or app: the key (or `?org_id=&app_id=`) supplies them. It sends no time and
no id: the time is the time of receipt, and two identical reports are two reports, as on CodePush's server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ota_stream.compat.base import SOURCE_TYPE, Draft, absent, require_object, snake
from ota_stream.models import FieldError, InvalidEvent

SUCCEEDED, FAILED = "DeploymentSucceeded", "DeploymentFailed"
HANDLED = {"client_unique_id", "label", "status", "previous_label_or_app_version", "app_version"}


def _fields(body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The body with snake_case names, and the name the client sent for each."""
    data: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key, value in require_object(body).items():
        name = snake(key)
        if name not in data or absent(data[name]):  # `a || b`, as the server reads them
            data[name], names[name] = value, key
    return data, names


def _common(data: dict[str, Any], names: dict[str, str], received: datetime, source: str) -> Draft:
    if absent(data.get("client_unique_id")):
        raise InvalidEvent([FieldError("clientUniqueId", "is required: it is the device's id here")])
    draft = Draft(received)
    draft.put("device_id", data["client_unique_id"], names["client_unique_id"])
    draft.timestamp(None, "timestamp")
    draft.keep(SOURCE_TYPE, source)
    for name, value in data.items():
        if name not in HANDLED:
            draft.keep(name, value)  # deployment_key, previous_deployment_key, anything newer
    return draft


def deploy(body: Any, received: datetime) -> Draft:
    data, names = _fields(body)
    missing = [
        FieldError(n, "is required") for n in ("deploymentKey", "appVersion") if absent(data.get(snake(n)))
    ]
    if missing:
        raise InvalidEvent(missing)
    label = data.get("label")
    status = data.get("status")
    if not absent(label) and status not in (SUCCEEDED, FAILED):
        message = f"must be {SUCCEEDED} or {FAILED} in a report of a labelled package"
        raise InvalidEvent([FieldError(names.get("status", "status"), message)])
    draft = _common(data, names, received, str(status) if not absent(label) else "binary_update")
    previous = data.get("previous_label_or_app_version")
    previous_name = names.get("previous_label_or_app_version", "previousLabelOrAppVersion")
    if absent(label):  # the app's binary version now runs
        draft.put("event_type", "app_launched", names["app_version"])
        draft.put("current_version", data["app_version"], names["app_version"])
        draft.keep("previous_label_or_app_version", previous)
        return draft
    draft.keep("app_version", data["app_version"])
    draft.put("target_version", label, names["label"])
    draft.put("current_version", previous, previous_name)
    if status == SUCCEEDED:
        draft.put("event_type", "update_installed", names["status"])
    else:
        draft.put("event_type", "update_failed", names["status"])
        draft.put("error_code", FAILED, names["status"])
        draft.put("failure_stage", "install", names["status"])
    return draft


def download(body: Any, received: datetime) -> Draft:
    data, names = _fields(body)
    require_names = {"deploymentKey": "deployment_key", "label": "label"}
    missing = [FieldError(n, "is required") for n, s in require_names.items() if absent(data.get(s))]
    if missing:
        raise InvalidEvent(missing)
    draft = _common(data, names, received, "download")
    draft.put("event_type", "update_downloaded", names["label"])
    draft.put("target_version", data["label"], names["label"])
    draft.keep("app_version", data.get("app_version"))
    draft.keep("previous_label_or_app_version", data.get("previous_label_or_app_version"))
    return draft
