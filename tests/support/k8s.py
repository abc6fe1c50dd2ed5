"""Reading the Kubernetes base in deploy/k8s/base without kubectl: render it, resolve a container's environment.

The renderer does what `kustomize build` does with the only fields the base uses (`resources` that are files,
and `images`); tests/test_k8s.py refuses a kustomization with any other field, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import PydanticBaseSettingsSource

from ota_stream.config import GROUPS, Settings, variables
from ota_stream.config.base import Group

RENDERED_FIELDS = {"apiVersion", "kind", "resources", "images"}
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?$")
_BYTES = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

Manifest = dict[str, Any]
NAMESPACE = "ota-test"  # where the tests pretend the base is applied
SETTINGS = set(variables())


def documents(path: Path) -> list[Manifest]:
    """The objects in one YAML file (empty documents dropped)."""
    return [item for item in yaml.safe_load_all(path.read_text()) if item]


def render(base: Path) -> list[Manifest]:
    """`kustomize build base` for a kustomization of resource files and image overrides."""
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    images = {image["name"]: image for image in kustomization.get("images", [])}
    objects = [item for resource in kustomization["resources"] for item in documents(base / resource)]
    for item in objects:
        for container in containers(item):
            name, _, tag = container["image"].partition(":")
            override = images.get(name)
            if override is not None:
                tag = override.get("newTag", tag)
                name = override.get("newName", name)
            container["image"] = f"{name}:{tag}" if tag else name
    return objects


def pod_spec(item: Manifest) -> Manifest:
    assert item["kind"] in WORKLOADS, f"{item['kind']} has no pod template"
    return item["spec"]["template"]["spec"]


def containers(item: Manifest) -> Iterator[Manifest]:
    if item["kind"] in WORKLOADS:
        spec = pod_spec(item)
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def only(objects: list[Manifest], kind: str, **labels: str) -> Manifest:
    """The one object of `kind` whose labels include `labels`."""
    found = [item for item in objects if item["kind"] == kind and matches(labels, item["metadata"]["labels"])]
    assert len(found) == 1, f"expected one {kind} labelled {labels}, found {len(found)}"
    return found[0]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether equality-based `selector` (matchLabels, or a Service's selector) selects `labels`."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def environment(container: Manifest, config_maps: dict[str, dict[str, str]], pod: Manifest) -> dict[str, str]:
    """The variables the container starts with, as the kubelet builds them: envFrom, then env in order, each
    `$(VAR)` expanded from what is defined before it. Secret values are stood in for by `<secret name/key>`."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = _REFERENCE.sub(
                lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
            continue
        source = variable["valueFrom"]
        if "fieldRef" in source:
            env[variable["name"]] = field(pod, source["fieldRef"]["fieldPath"])
        else:
            secret = source["secretKeyRef"]
            env[variable["name"]] = f"<secret {secret['name']}/{secret['key']}>"
    return env


def field(item: Manifest, path: str) -> str:
    """A downward-API field such as `metadata.name` of a pod."""
    value: Any = item
    for part in path.split("."):
        value = value[part]
    return str(value)


def references(value: str) -> set[str]:
    """The variables a value refers to as `$(NAME)`."""
    return set(_REFERENCE.findall(value))


def mebibytes(quantity: str) -> float:
    number, unit = _parse(quantity)
    assert unit != "m", f"{quantity}: not a memory quantity"
    return number * _BYTES[unit] / 2**20


def cores(quantity: str | int) -> float:
    number, unit = _parse(str(quantity))
    assert unit in (None, "m"), f"{quantity}: not a cpu quantity"
    return number / 1000 if unit == "m" else number


def _parse(quantity: str) -> tuple[float, str | None]:
    match = _QUANTITY.match(quantity)
    assert match, f"unsupported quantity {quantity!r}"
    return float(match.group(1)), match.group(2)


def dockerfile_runtime(path: Path) -> dict[str, list[str]]:
    """The arguments of each instruction of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    final = text[[m.start() for m in re.finditer(r"^FROM\s", text, re.MULTILINE)][-1] :]
    found: dict[str, list[str]] = {}
    for line in final.splitlines():
        instruction, _, arguments = line.strip().partition(" ")
        if instruction and not instruction.startswith("#"):
            found.setdefault(instruction.upper(), []).append(arguments.strip())
    return found


def _given_only(
    cls: type[Group],
    settings_cls: type[Any],
    init_settings: PydanticBaseSettingsSource,
    *others: Any,
    **named: Any,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Settings from the values given only, not from this test process's environment."""
    return (init_settings,)


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a process started with `env` reads (variables that are not settings ignored)."""
    groups: dict[str, Group] = {}
    for attribute, group in GROUPS.items():
        fields = {group.variable(name): name for name in group.model_fields}
        values = {fields[name]: value for name, value in env.items() if name in fields}
        manifest = type(group.__name__, (group,), {"settings_customise_sources": classmethod(_given_only)})
        groups[attribute] = manifest(**values)
    return Settings(**groups)  # type: ignore[arg-type]


def pod_of(item: Manifest, ordinal: int = 0, namespace: str = NAMESPACE) -> Manifest:
    """A pod the workload would create, as far as the downward API sees it."""
    name = item["metadata"]["name"] + (f"-{ordinal}" if item["kind"] == "StatefulSet" else "-abcde")
    return {"metadata": {"name": name, "namespace": namespace}}


def env_of(item: Manifest, config_maps: dict[str, dict[str, str]], ordinal: int = 0) -> dict[str, str]:
    (container,) = pod_spec(item)["containers"]
    return environment(container, config_maps, pod_of(item, ordinal))


def search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return match


def container_port(item: Manifest, port: int | str) -> int:
    """A probe's or Service's port, by number or by the name of a container port."""
    (container,) = pod_spec(item)["containers"]
    named = {entry["name"]: entry["containerPort"] for entry in container.get("ports", [])}
    if isinstance(port, str):
        assert port in named, f"{item['metadata']['name']}: no container port named {port}"
        return named[port]
    assert port in named.values()
    return port
