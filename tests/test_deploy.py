"""Static checks of the container deployment: Dockerfile, docker-compose.yml, Prometheus and Grafana files.

Nothing here needs Docker. The compose file is validated against the Compose Specification schema (vendored in
deploy/compose-spec.json, from github.com/compose-spec/compose-spec, schema/compose-spec.json), and the files
are cross-checked against each other, against the metrics a worker's /metrics exports, and against the
ClickHouse migrations.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.support.prometheus import exported_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = ROOT / "deploy" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ota-stream.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"

WORKER_PORT = 6400


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_targets(dashboard: dict[str, Any], datasource_uid: str) -> list[dict[str, Any]]:
    """The queries of every panel that go to the data source `datasource_uid`."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            if datasource.get("uid") == datasource_uid:
                found.append(target)
    return found


# --- docker-compose.yml ---------------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    Draft7Validator.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []
    assert "version" not in compose, "the Compose Specification has no top-level version"


def strings(value: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_compose_file_needs_no_host_environment(compose: dict[str, Any]) -> None:
    """Compose interpolates `$NAME` and `${NAME}` from the host and rejects any other `$`; `$$` is a literal `$`."""
    unescaped = [value for value in strings(compose) if "$" in value.replace("$$", "")]
    assert unescaped == []


def test_compose_runs_the_pipeline(services: dict[str, dict[str, Any]]) -> None:
    assert {
        "kafka",
        "clickhouse",
        "ingest",
        "worker-1",
        "worker-2",
        "prometheus",
        "grafana",
    } <= services.keys()
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        assert worker["command"] == ["worker"] and worker["environment"]["WORKER_ROLE"] == "process"
        assert worker["environment"]["SERVER_CANONICAL_URL"] == f"http://{name}:{WORKER_PORT}"
        assert worker["environment"]["KAFKA_BROKERS"] == "kafka:9092"
        for dependency in ("kafka", "clickhouse"):
            assert worker["depends_on"][dependency]["condition"] == "service_healthy"
    ingest = services["ingest"]
    assert ingest["command"] == ["ingest"] and ingest["environment"]["KAFKA_BROKERS"] == "kafka:9092"
    assert int(ingest["environment"]["INGEST_PROCESSES"]) >= 1
    assert "clickhouse" not in ingest["depends_on"]  # ingest never touches ClickHouse


def volume_entries(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(type, source) of each mount, short or long syntax; a short source without a slash is a named volume."""
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            yield entry["type"], entry.get("source", "")
        else:
            source = entry.split(":")[0]
            is_path = source.startswith((".", "/", "~"))
            yield ("bind" if is_path else "volume"), source


def test_mounted_files_and_build_contexts_exist(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for kind, source in volume_entries(service):
            if kind == "bind":
                assert not source.startswith(("/", "~")), f"{name}: bind mount {source} is outside the repo"
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            elif kind == "volume":
                assert source in declared_volumes, f"{name}: named volume {source} is not declared"
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert context.is_dir(), f"{name}: build context {context} does not exist"
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile} does not exist in {context}"


def test_published_ports_bind_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    published: dict[str, Any] = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                assert isinstance(port, str), f"{name}: port {port} publishes on every interface"
                host_ip = port.split(":")[0] if port.count(":") == 2 else None
            assert host_ip == "127.0.0.1", f"{name}: port {port} is not bound to 127.0.0.1"
            published[name] = port
    assert {"ingest", "worker-1", "worker-2", "prometheus", "grafana"} <= published.keys()


# --- Dockerfile -----------------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The (INSTRUCTION, arguments) of each build stage, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        elif not stages:
            continue  # ARG before the first FROM
        stages[-1].append((instruction, arguments.strip()))
    return stages


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"expected the exec (JSON array) form, got {arguments}"
    return value


def test_dockerfile_is_multi_stage_and_runs_ota_stream_as_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = dict(stages[-1])  # the last occurrence of each instruction wins, as in Docker
    user = final.get("USER", "root").split(":")[0]
    assert user not in ("root", "0"), "the final stage must run as a non-root user"
    command = exec_form(final.get("ENTRYPOINT", "[]")) + exec_form(final.get("CMD", "[]"))
    assert command[:2] == ["ota-stream", "worker"]
    assert str(WORKER_PORT) in final["EXPOSE"].split()

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "ota-stream" in scripts, "the image's entrypoint is the package's console script"


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for stage in dockerfile_stages():
        for instruction, arguments in stage:
            if instruction != "COPY" or arguments.startswith("--from"):
                continue
            *sources, _ = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                assert source not in ignored, f"COPY {source}: excluded by .dockerignore"


# --- Prometheus -----------------------------------------------------------------------------------------------

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
PROMQL_KEYWORDS |= {"unless", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery selectors
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    identifiers = re.findall(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:]|\s*\()", expr)
    return {name for name in identifiers if name.lower() not in PROMQL_KEYWORDS}


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{job="x"}[5m]))) / on (x) b_total'
    assert metric_names(expr) == {"a_bucket", "b_total"}


def test_dashboard_queries_only_metrics_that_workers_export(dashboard: dict[str, Any]) -> None:
    exported = exported_names()

    targets = dashboard_targets(dashboard, "prometheus")
    assert targets, "the dashboard has no Prometheus queries"
    used: set[str] = set()
    for target in targets:
        names = metric_names(target["expr"])
        assert names, f"no metric in {target['expr']!r}"
        used |= names
    assert sorted(used - exported) == []
    assert any(name.startswith("ota_") for name in used) and any(name.startswith("faust_") for name in used)


def test_prometheus_scrapes_every_worker(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    targets: set[str] = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert job.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
        for static in job["static_configs"]:
            targets.update(static["targets"])
    ours = {name for name, service in services.items() if service.get("command") in (["worker"], ["ingest"])}
    assert ours >= {"ingest", "worker-1", "worker-2"}
    assert targets == {f"{name}:{WORKER_PORT}" for name in ours}


# --- Grafana --------------------------------------------------------------------------------------------------


def test_dashboard_uses_provisioned_datasources(dashboard: dict[str, Any]) -> None:
    provisioned = {source["uid"]: source for source in load_yaml(DATASOURCES)["datasources"]}
    assert provisioned["prometheus"]["url"] == "http://prometheus:9090"
    assert provisioned["clickhouse"]["type"] == "grafana-clickhouse-datasource"
    assert provisioned["clickhouse"]["jsonData"]["host"] == "clickhouse"

    used: set[str] = set()
    for panel in dashboard["panels"]:
        for item in [panel, *panel.get("targets", [])]:
            if isinstance(item.get("datasource"), dict):
                used.add(item["datasource"]["uid"])
    assert used == {"prometheus", "clickhouse"}
    assert used <= provisioned.keys()


def test_grafana_mounts_what_its_provisioning_points_to(services: dict[str, dict[str, Any]]) -> None:
    mounts: dict[str, str] = {}  # container path -> host path
    for entry in services["grafana"]["volumes"]:
        source, target = entry.split(":")[:2]
        mounts[target] = source
    providers = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    for provider in providers:
        assert (ROOT / mounts[provider["options"]["path"]]).resolve() == DASHBOARD.parent
    assert (ROOT / mounts["/etc/grafana/provisioning"]).resolve() == GRAFANA / "provisioning"


def test_dashboard_sql_reads_tables_the_migrations_create(
    dashboard: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    created: set[str] = set()
    for migration in (ROOT / "schema").glob("*.sql"):
        created.update(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", migration.read_text(), re.IGNORECASE))
    database = services["worker-1"]["environment"]["CLICKHOUSE_DATABASE"]

    targets = dashboard_targets(dashboard, "clickhouse")
    assert len(targets) >= 3
    for target in targets:
        tables = re.findall(r"\b(?:FROM|JOIN)\s+(?:(\w+)\.)?(\w+)", target["rawSql"], re.IGNORECASE)
        assert tables, f"no table in {target['rawSql']!r}"
        for schema, table in tables:
            assert schema in ("", database), f"{schema}.{table}: not the workers' database {database}"
            assert table in created, f"{table} is not created by schema/*.sql"
