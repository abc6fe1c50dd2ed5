"""What a worker's and an ingest process's /metrics can expose, from the registries themselves, for the tests that
check Grafana queries and Prometheus alerting rules against it (tests/test_deploy.py,
tests/test_prometheus_rules.py)."""

from __future__ import annotations

from collections.abc import Iterator

from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import Metric

from ota_stream import metrics  # registers our metrics (REGISTRY, and ingest's in metrics.INGEST)

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
