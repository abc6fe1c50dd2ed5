"""What a worker's and an ingest process's /metrics can expose, from the registries themselves, and the series
that deploy/prometheus/alerts.yml reads: for the tests that check the Grafana queries and the alerting rules
(tests/test_deploy.py, tests/test_prometheus_rules.py, tests/test_alerts.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import Metric

from ota_stream import metrics  # registers our metrics (REGISTRY, and ingest's in metrics.INGEST)

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
# ota_stream.app calls setup_prometheus_sensors(app, pattern="/metrics", name_prefix="faust").
FAUST_PREFIX = "faust"
# What prometheus_client exposes for one metric family of each type (besides the sample names it yields).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry can expose, including families that have no labelled child yet."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def registries() -> list[CollectorRegistry]:
    """Ours (default and ingest) and a fresh one with Faust's sensor metrics."""
    faust_registry = CollectorRegistry()
    FaustMetrics.create(faust_registry, FAUST_PREFIX)
    return [REGISTRY, metrics.INGEST, faust_registry]


def exported_names() -> set[str]:
    return set().union(*(exposed_names(registry) for registry in registries()))


def _families() -> Iterator[Metric]:
    for registry in registries():
        yield from registry.collect()


def label_values() -> dict[tuple[str, str], set[str]]:
    """(series name, label) -> the values our samples carry (every label value is exported from the start)."""
    found: dict[tuple[str, str], set[str]] = {}
    for family in _families():
        for sample in family.samples:
            for label, value in sample.labels.items():
                found.setdefault((sample.name, label), set()).add(value)
    return found


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """Every vector selector of the expression (a ValueError names what does not parse)."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def rule_metrics(rule: dict[str, Any]) -> set[str]:
    return {selector.name for selector in selectors(rule["expr"]) if selector.name is not None}
