"""docs/configuration.md is checked against the settings models (ota_stream/config/): each group's section lists
exactly the group's variables, and each default as the model has it. No broker, no worker."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from ota_stream.config import GROUPS, HttpSettings
from ota_stream.config.base import Group

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def sections(text: str) -> dict[str, dict[str, str]]:
    """Each `## ` section of the page: its variables' rows, variable -> the default cell."""
    found: dict[str, dict[str, str]] = {}
    for block in text.split("\n## ")[1:]:
        title, _, body = block.partition("\n")
        found[title.strip()] = {name: default.strip() for name, default in _ROW.findall(body)}
    return found


def shown(value: object) -> str:
    """A default as the page writes it: `true`, `30` (not 30.0), an enum's value, `./var`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Path):
        return value.as_posix() if value.is_absolute() else f"./{value.as_posix()}"
    return str(value)


def problems(group: type[Group], text: str) -> list[str]:
    """How the page's section of `group` differs from the model: variables missing or extra, defaults wrong."""
    documented = sections(text).get(group.title)
    if documented is None:
        return [f"no section '## {group.title}'"]
    variables = group.variables()
    found = [f"{name}: not documented" for name in variables.keys() - documented.keys()]
    found += [
        f"{name}: documented, not a setting of {group.__name__}"
        for name in documented.keys() - variables.keys()
    ]
    for name, info in variables.items():
        cell = documented.get(name)
        if cell is None:
            continue
        if info.default in (None, ""):  # unset or empty: the page says in words what applies then
            if not cell:
                found.append(f"{name}: no default documented")
        elif cell != f"`{shown(info.default)}`":
            found.append(f"{name}: documented default {cell}, the model's is `{shown(info.default)}`")
    return found


@pytest.mark.parametrize("group", GROUPS.values(), ids=lambda group: group.__name__)
def test_each_group_is_documented_as_the_model_defines_it(group: type[Group]) -> None:
    assert problems(group, PAGE.read_text()) == []


def test_no_variable_is_documented_twice_or_in_a_section_of_no_group() -> None:
    documented = {title: rows for title, rows in sections(PAGE.read_text()).items() if rows}
    titles = {group.title for group in GROUPS.values()}
    settings = [name for title, rows in documented.items() if title in titles for name in rows]
    assert len(settings) == len(set(settings))
    assert [title for title in documented if title not in titles] == [
        "Variables of the scripts, not of a worker"
    ]


def test_the_check_finds_a_wrong_default_a_missing_and_an_unknown_variable() -> None:
    text = PAGE.read_text()
    wrong = text.replace("| `SERVER_PORT` | `6400` |", "| `SERVER_PORT` | `6401` |")
    missing = re.sub(r"^\| `SERVER_HOST` .*\n", "", text, flags=re.MULTILINE)
    unknown = text.replace("| `SERVER_HOST` |", "| `SERVER_HOSTNAME` |")
    assert problems(HttpSettings, wrong) == ["SERVER_PORT: documented default `6401`, the model's is `6400`"]
    assert problems(HttpSettings, missing) == ["SERVER_HOST: not documented"]
    assert sorted(problems(HttpSettings, unknown)) == [
        "SERVER_HOST: not documented",
        "SERVER_HOSTNAME: documented, not a setting of HttpSettings",
    ]
