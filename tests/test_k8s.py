"""Static checks of the Kubernetes base (deploy/k8s/base): no cluster, no kubectl, no process started.

Every manifest is validated against the Kubernetes OpenAPI schemas in strict mode (unknown fields are errors) with
kubernetes-validate, which ships the schemas: nothing is fetched. The rendered base is then checked against the
code it deploys: the settings of ota_stream/config/, the CLI's commands, the Dockerfile, the shutdown timeouts,
and the apply order that deploy/k8s/README.md documents.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
import typing
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from ota_stream import roles
from ota_stream.cli import main as cli
from ota_stream.config import PipelineSettings, variables
from tests.support.k8s import (
    NAMESPACE,
    RENDERED_FIELDS,
    SETTINGS,
    Manifest,
    container_port,
    containers,
    cores,
    dockerfile_runtime,
    documents,
    env_of,
    matches,
    mebibytes,
    only,
    pod_spec,
    references,
    render,
    search,
    settings_of,
)

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
# The oldest Kubernetes the base is for (a StatefulSet's PVC retention policy is on by default from 1.27), and the
# newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")
SECRET = "ota-stream-secrets"
SECRET_SETTINGS = {
    name
    for name, (_, info) in variables().items()
    if SecretStr in (info.annotation, *typing.get_args(info.annotation))
}
# Measured resident memory under load, per process (deploy/k8s/README.md).
WORKER_PEAK_RSS_MIB = 700
INGEST_PROCESS_RSS_MIB = 110
WORKER = {"app.kubernetes.io/component": "worker"}
INGEST = {"app.kubernetes.io/component": "ingest"}
MIGRATE = {"app.kubernetes.io/component": "migrate"}


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    return render(BASE)


@pytest.fixture(scope="module")
def config_maps(objects: list[Manifest]) -> dict[str, dict[str, str]]:
    return {item["metadata"]["name"]: item["data"] for item in objects if item["kind"] == "ConfigMap"}


# --- the manifests and the kustomization --------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_in_strict_mode(version: str) -> None:
    errors = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for item in documents(path):
            try:
                kubernetes_validate.validate(item, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{path.name}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert errors == []


def test_validation_catches_unknown_fields_and_wrong_types(objects: list[Manifest]) -> None:
    """The check above can fail: a misspelt field or a number given as text is refused."""
    statefulset = only(objects, "StatefulSet", **WORKER)
    misspelt = copy.deepcopy(statefulset)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    wrong_type = copy.deepcopy(statefulset)
    wrong_type["spec"]["replicas"] = "3"
    for broken in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_once() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization.keys() <= RENDERED_FIELDS, "tests/support/k8s.py renders only these fields"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert not list(BASE.glob("*.yml")), "name manifests *.yaml"


def test_objects_are_unique_and_labelled(objects: list[Manifest]) -> None:
    keys = [(item["kind"], item["metadata"]["name"]) for item in objects]
    assert len(keys) == len(set(keys))
    for item in objects:
        labels = item["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == labels["app.kubernetes.io/part-of"] == "ota-stream"
        assert "namespace" not in item["metadata"], "the namespace is the overlay's or kubectl's to choose"
    assert all(item["kind"] != "Namespace" for item in objects)


def test_every_container_runs_this_version_of_the_image(objects: list[Manifest]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {container["image"] for item in objects for container in containers(item)}
    assert images == {f"ota-stream:{version}"}


# --- settings -------------------------------------------------------------------------------------------------


def test_every_variable_set_is_a_setting(objects: list[Manifest]) -> None:
    for config_map in (item for item in objects if item["kind"] == "ConfigMap"):
        assert set(config_map["data"]) <= SETTINGS, f"{config_map['metadata']['name']}: not settings"
    for item in objects:
        for container in containers(item):
            env = container.get("env", [])
            names = [variable["name"] for variable in env]
            assert len(names) == len(set(names))
            for position, variable in enumerate(env):
                name = variable["name"]
                later = [other.get("value", "") for other in env[position + 1 :]]
                helper = "fieldRef" in variable.get("valueFrom", {}) and any(
                    name in references(v) for v in later
                )
                assert name in SETTINGS or helper, f"{container['name']}: {name} is not a setting"
                defined = set(names[:position])
                assert references(variable.get("value", "")) <= defined, f"{name}: refers to a later variable"


def test_every_container_environment_validates_as_settings(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    for item in objects:
        if item["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        env = env_of(item, config_maps)
        settings_of(env)
        assert not [value for value in env.values() if "$(" in value], "an unresolved $(VAR)"


def workload(
    objects: list[Manifest],
    config_maps: dict[str, dict[str, str]],
    kind: str,
    role: dict[str, str],
    command: str,
) -> tuple[Manifest, dict[str, str]]:
    """The one `kind` of that role, which must run `ota-stream <command>`, and its container's environment."""
    item = only(objects, kind, **role)
    assert pod_spec(item)["containers"][0]["args"] == [command]
    return item, env_of(item, config_maps)


def test_workers_have_every_setting_they_need(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    statefulset, env = workload(objects, config_maps, "StatefulSet", WORKER, "worker")
    settings = settings_of(env)
    assert settings.http.worker_role.value == "process", "ingest runs in ota-stream-ingest"
    assert settings.http.server_host == "0.0.0.0"
    assert "KAFKA_BROKERS" in env and "CLICKHOUSE_URL" in env
    assert urlsplit(settings.clickhouse.dsn(settings.pipeline.data_dir)).scheme in ("http", "https"), (
        "several workers need a server"
    )
    assert env["CLICKHOUSE_PASSWORD"] == f"<secret {SECRET}/CLICKHOUSE_PASSWORD>"
    mounts = {
        mount["name"]: mount["mountPath"] for mount in pod_spec(statefulset)["containers"][0]["volumeMounts"]
    }
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == env["DATA_DIR"], "Faust's state must live on the volume"


def test_ingest_and_migration_have_what_they_need(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    _, env = workload(objects, config_maps, "Deployment", INGEST, "ingest")
    assert int(env["INGEST_PROCESSES"]) >= 1 and env["SERVER_HOST"] == "0.0.0.0" and "KAFKA_BROKERS" in env
    assert "CLICKHOUSE_PASSWORD" not in env, "ingest never touches ClickHouse"

    job, migration = workload(objects, config_maps, "Job", MIGRATE, "migrate")
    assert pod_spec(job)["restartPolicy"] == "Never"
    _, workers = workload(objects, config_maps, "StatefulSet", WORKER, "worker")
    for name in ("CLICKHOUSE_URL", "CLICKHOUSE_DATABASE", "CLICKHOUSE_USERNAME", "CLICKHOUSE_PASSWORD"):
        assert migration[name] == workers[name], f"{name}: the Job must migrate the workers' database"


# Secrets an installation may leave out: SASL is optional, the bootstrap key once keys exist, pseudonymisation.
OPTIONAL_SECRETS = {"KAFKA_SASL_PASSWORD", "ADMIN_API_KEY", "DEVICE_ID_HMAC_KEY"}


def test_secrets_only_by_reference(objects: list[Manifest]) -> None:
    assert {"CLICKHOUSE_PASSWORD", "KAFKA_SASL_PASSWORD"} <= SECRET_SETTINGS
    assert all(item["kind"] != "Secret" for item in objects), "no Secret in the repository"
    for config_map in (item for item in objects if item["kind"] == "ConfigMap"):
        assert not set(config_map["data"]) & SECRET_SETTINGS
    referenced = set()
    for item in objects:
        for container in containers(item):
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if variable["name"] in SECRET_SETTINGS:
                    assert reference is not None, f"{variable['name']} must come from a Secret"
                if reference is not None:
                    assert reference["name"] == SECRET and reference["key"] == variable["name"]
                    assert reference.get("optional", False) == (variable["name"] in OPTIONAL_SECRETS)
                    referenced.add(variable["name"])
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, "name each secret variable: envFrom would take any key"
    missing = sorted(SECRET_SETTINGS - referenced)
    assert not missing, f"{missing}: secret settings no manifest passes (a secretKeyRef to {SECRET})"


# --- Services, probes, image ------------------------------------------------------------------------------------


def test_headless_service_governs_the_statefulset_and_names_each_worker(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    statefulset = only(objects, "StatefulSet", **WORKER)
    headless = [
        item for item in objects if item["kind"] == "Service" and item["spec"].get("clusterIP") == "None"
    ]
    assert [service["metadata"]["name"] for service in headless] == [statefulset["spec"]["serviceName"]]
    (service,) = headless
    assert service["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert service["spec"]["publishNotReadyAddresses"] is True
    (port,) = service["spec"]["ports"]
    for ordinal in (0, 2):
        env = env_of(statefulset, config_maps, ordinal)
        url = urlsplit(env["SERVER_CANONICAL_URL"])
        pod = f"{statefulset['metadata']['name']}-{ordinal}"
        assert url.scheme == "http" and url.hostname == f"{pod}.{service['metadata']['name']}.{NAMESPACE}.svc"
        assert url.port == port["port"]
        assert container_port(statefulset, port["targetPort"]) == int(env["SERVER_PORT"])


def test_services_select_one_workload_and_reach_its_server_port(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    workloads = [item for item in objects if item["kind"] in ("Deployment", "StatefulSet")]
    served = set()
    for service in (item for item in objects if item["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [w for w in workloads if matches(selector, w["spec"]["template"]["metadata"]["labels"])]
        assert len(selected) == 1, f"{service['metadata']['name']} selects {len(selected)} workloads"
        (target,) = selected
        server_port = int(env_of(target, config_maps)["SERVER_PORT"])
        for port in service["spec"]["ports"]:
            assert container_port(target, port["targetPort"]) == server_port
        served.add(target["metadata"]["name"])
    assert served == {item["metadata"]["name"] for item in workloads}


def test_workload_selectors_match_their_pods(objects: list[Manifest]) -> None:
    for item in objects:
        if item["kind"] in ("Deployment", "StatefulSet"):
            assert matches(
                item["spec"]["selector"]["matchLabels"], item["spec"]["template"]["metadata"]["labels"]
            )


def test_probes_call_health_on_the_container_port(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    for item in (item for item in objects if item["kind"] in ("Deployment", "StatefulSet")):
        (container,) = pod_spec(item)["containers"]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container[kind]["httpGet"]
            assert probe["path"] == "/health"
            assert container_port(item, probe["port"]) == int(env_of(item, config_maps)["SERVER_PORT"])
    statefulset = only(objects, "StatefulSet", **WORKER)
    startup = pod_spec(statefulset)["containers"][0]["startupProbe"]
    env = env_of(statefulset, config_maps)
    waits = settings_of(env).kafka.startup_timeout_seconds
    assert startup["periodSeconds"] * startup["failureThreshold"] > waits, "killed while waiting for Kafka"


def test_image_user_port_and_data_folder_match_the_dockerfile(objects: list[Manifest]) -> None:
    runtime = dockerfile_runtime(ROOT / "Dockerfile")
    user, group = runtime["USER"][-1].split(":")
    commands = " ".join(runtime["RUN"])
    uid = int(search(rf"useradd .*--uid (\d+) .*{user}\b", commands).group(1))
    gid = int(search(rf"groupadd .*--gid (\d+) {group}\b", commands).group(1))
    data_dir = search(r"\bDATA_DIR=(\S+)", " ".join(runtime["ENV"])).group(1)
    assert json.loads(runtime["ENTRYPOINT"][-1]) == ["ota-stream"]
    for item in (item for item in objects if item["kind"] in ("Deployment", "StatefulSet", "Job")):
        spec = pod_spec(item)
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True and (context["runAsUser"], context["runAsGroup"]) == (uid, gid)
        assert context.get("fsGroup", gid) == gid
        assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
        for container in containers(item):
            assert "command" not in container, "the image's entrypoint is ota-stream"
            assert container["args"][0] in cli.commands
            for port in container.get("ports", []):
                assert str(port["containerPort"]) in runtime["EXPOSE"][-1].split()
            hardened = container["securityContext"]
            assert (
                hardened["readOnlyRootFilesystem"] is True and hardened["allowPrivilegeEscalation"] is False
            )
            assert hardened["capabilities"]["drop"] == ["ALL"]
            mounted = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            assert "/tmp" in mounted, "a read-only root filesystem needs a writable /tmp"
            if container["args"][0] != "migrate":
                assert data_dir in mounted, "DATA_DIR must be writable"


# --- resources, shutdown, disruptions ---------------------------------------------------------------------------


def test_resources_follow_the_measured_memory(
    objects: list[Manifest], config_maps: dict[str, dict[str, str]]
) -> None:
    for item in objects:
        for container in containers(item):
            resources = container["resources"]
            for key in ("cpu", "memory"):
                assert key in resources["requests"] and key in resources["limits"], (
                    f"{container['name']}: {key}"
                )
            assert mebibytes(resources["requests"]["memory"]) <= mebibytes(resources["limits"]["memory"])
            assert cores(resources["requests"]["cpu"]) <= cores(resources["limits"]["cpu"])
    worker = pod_spec(only(objects, "StatefulSet", **WORKER))["containers"][0]["resources"]
    assert mebibytes(worker["requests"]["memory"]) >= WORKER_PEAK_RSS_MIB
    assert mebibytes(worker["limits"]["memory"]) >= 1.25 * WORKER_PEAK_RSS_MIB
    ingest = only(objects, "Deployment", **INGEST)
    processes = int(env_of(ingest, config_maps)["INGEST_PROCESSES"])
    resources = pod_spec(ingest)["containers"][0]["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= processes * INGEST_PROCESS_RSS_MIB
    assert mebibytes(resources["limits"]["memory"]) >= 2 * processes * INGEST_PROCESS_RSS_MIB


def test_termination_grace_covers_a_clean_shutdown(objects: list[Manifest]) -> None:
    needed = max(
        PipelineSettings.model_fields["shutdown_timeout_seconds"].default, roles.STOP_TIMEOUT_SECONDS
    )
    for item in (item for item in objects if item["kind"] in ("Deployment", "StatefulSet")):
        spec = pod_spec(item)
        (container,) = spec["containers"]
        pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] >= pause + needed


def test_every_workload_has_a_disruption_budget(objects: list[Manifest]) -> None:
    budgets = [item for item in objects if item["kind"] == "PodDisruptionBudget"]
    for item in (item for item in objects if item["kind"] in ("Deployment", "StatefulSet")):
        labels = item["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if matches(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1 and covering[0]["spec"]["maxUnavailable"] == 1
    # One down of at least two leaves a worker serving (the autoscaler's minimum does it for ingest).
    assert only(objects, "StatefulSet", **WORKER)["spec"]["replicas"] >= 2


def test_autoscaler_owns_the_ingest_replica_count(objects: list[Manifest]) -> None:
    ingest = only(objects, "Deployment", **INGEST)
    autoscaler = only(objects, "HorizontalPodAutoscaler", **INGEST)
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", ingest["metadata"]["name"])
    assert "replicas" not in ingest["spec"], "an apply would reset what the autoscaler chose"
    assert 1 < autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]


# --- deploy/k8s/README.md ---------------------------------------------------------------------------------------


def test_readme_applies_the_migration_before_the_workers(objects: list[Manifest]) -> None:
    readme = (K8S / "README.md").read_text()
    job = only(objects, "Job", **MIGRATE)["metadata"]["name"]
    commands = [line.split("#")[0].strip() for line in readme.splitlines() if line.startswith("kubectl ")]

    def step(pattern: str) -> int:
        found = [index for index, command in enumerate(commands) if re.search(pattern, command)]
        assert len(found) == 1, f"{pattern!r}: {len(found)} commands"
        return found[0]

    order = [
        step(rf"delete job {job} "),
        step(r"apply -k deploy/k8s/base -l "),
        step(rf"wait --for=condition=complete .*job/{job}$"),
        step(r"apply -k deploy/k8s/base$"),
    ]
    assert order == sorted(order), "delete the old Job, apply config and Job, wait, then the rest"
    key, values = search(r"-l '([\w./-]+) in \(([\w,]+)\)'", readme).groups()
    chosen = {item["kind"] for item in objects if item["metadata"]["labels"].get(key) in values.split(",")}
    assert chosen == {"ConfigMap", "Job"}, "the first apply must create the settings and the Job, no workload"
