"""deploy/prometheus/alerts.yml, the alerting rules for the service itself (docs/alerts.md): well formed as a Prometheus
rule file, every expression parsed by a PromQL parser (promql-parser, the Rust parser's Python binding), reading
only metrics and label values that our processes export, loaded by the compose Prometheus, and covering what the
issue names. tests/test_alerts.py also checks the metric names against a real worker's /metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tests.support.prometheus import (
    RULES,
    alerting_rules,
    exported_names,
    label_values,
    load,
    rule_metrics,
    selectors,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"

RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"critical", "warning"}
# Series Prometheus makes itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# What the issue asks the rules to watch, by the metric each watch reads.
REQUIRED = {
    "worker down": "up",
    "consumer lag growing": "ota_pipeline_consumer_lag",
    "pipeline stalled": "ota_pipeline_stalled",
    "insert retries": "ota_pipeline_insert_retries_total",
    "dead letters": "ota_pipeline_dead_lettered_total",
    "5xx rate": "ota_http_responses_total",
}


def scrape_jobs() -> set[str]:
    return {job["job_name"] for job in load(CONFIG)["scrape_configs"]}


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: rule["alert"])
def test_each_rule_is_well_formed(rule: dict[str, Any]) -> None:
    assert set(rule) <= RULE_KEYS and {"alert", "expr", "labels", "annotations"} <= set(rule)
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
    if "for" in rule:
        assert promql_parser.parse_duration(rule["for"]).total_seconds() > 0
    assert rule["labels"]["severity"] in SEVERITIES
    assert {"summary", "description"} <= set(rule["annotations"])
    for text in rule["annotations"].values():
        assert text.count("{{") == text.count("}}"), text
    assert rule_metrics(rule), "an expression that reads no metric"


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: rule["alert"])
def test_each_rule_reads_what_our_processes_export(rule: dict[str, Any]) -> None:
    exported, values = exported_names(), label_values()
    for selector in selectors(rule["expr"]):
        if selector.name in SYNTHETIC:
            for matcher in selector.matchers.matchers:
                if matcher.name == "job":
                    assert matcher.value in scrape_jobs(), f"{rule['alert']}: no scrape job {matcher.value}"
            continue
        assert selector.name in exported, f"{rule['alert']}: {selector.name} is exported by no process"
        for matcher in selector.matchers.matchers:
            if matcher.op == promql_parser.MatchOp.Equal:
                known = values.get((selector.name, matcher.name), set())
                assert matcher.value in known, (
                    f"{rule['alert']}: {selector.name}{{{matcher.name}}} is {known}"
                )


def test_the_rules_watch_what_the_issue_names() -> None:
    read = set().union(*(rule_metrics(rule) for rule in alerting_rules()))
    assert {watch: metric for watch, metric in REQUIRED.items() if metric not in read} == {}
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names))
    five_xx = [r for r in alerting_rules() if "ota_http_responses_total" in rule_metrics(r)]
    assert any('status_class="5xx"' in rule["expr"] for rule in five_xx)


def test_a_broken_expression_is_refused_by_the_parser() -> None:
    with pytest.raises(ValueError):
        selectors("sum(rate(ota_http_responses_total[5m])")
    assert [s.name for s in selectors('a_total{x="1"} / on (y) b')] == ["a_total", "b"]


def test_the_compose_prometheus_loads_the_rules() -> None:
    mounts = load(COMPOSE)["services"]["prometheus"]["volumes"]
    mounted = {
        target: (ROOT / source).resolve()
        for source, target, *_ in (entry.split(":") for entry in mounts if entry.startswith("./"))
    }
    rule_files = load(CONFIG)["rule_files"]
    assert rule_files and all(mounted.get(path) == RULES for path in rule_files)
