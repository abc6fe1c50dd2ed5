"""A real headless Chromium (Debian's `chromium`) driven by Playwright, and readers of the dashboard's DOM.

Playwright's own browser download is not used: it drives the system's Chromium through `executable_path`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EMPTY = "—"  # what the page prints for a null
# The page's panels: each says data-state="ready" once its figures are shown.
PANELS = [
    "live", "adoption", "releases", "stability", "curves", "versions", "active-devices", "failures", "performance",
]  # fmt: skip

# Reads one panel: its state, the figures of its <dl> and every table as rows of {data-field: text}.
READ_PANEL = """(id) => {
  const section = document.getElementById(id);
  const figures = Object.fromEntries(
    [...section.querySelectorAll("dd[data-field]")].map((d) => [d.dataset.field, d.textContent]));
  const tables = {};
  for (const table of section.querySelectorAll("table[data-table]")) {
    tables[table.dataset.table] = [...table.tBodies[0].rows]
      .filter((row) => !row.querySelector("td.none"))
      .map((row) => Object.fromEntries([...row.cells].map((c) => [c.dataset.field, c.textContent])));
  }
  return {
    state: section.dataset.state, stale: section.dataset.stale,
    status: section.querySelector(".panel-status").textContent,
    figures, tables, charts: section.querySelectorAll(".chart canvas").length,
  };
}"""


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """Every console error and uncaught exception of a page."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def wait_ready(page: Page, timeout_ms: float = 120_000) -> None:
    """Until every panel has shown its figures."""
    page.wait_for_function(
        "(ids) => ids.every((id) => document.getElementById(id).dataset.state === 'ready')",
        arg=PANELS,
        timeout=timeout_ms,
    )


def panel(page: Page, section: str) -> dict[str, Any]:
    return dict(page.evaluate(READ_PANEL, section))


def shown(value: Any) -> str:
    """A JSON value as the page prints it (JavaScript's String()): 12.0 is "12", null is the dash."""
    if value is None:
        return EMPTY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def pairs(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in mapping.items()) or EMPTY


def pick(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for name in path.split("."):
        value = None if value is None else value.get(name)
    return value


def same_table(
    dom: list[dict[str, str]],
    api: list[dict[str, Any]],
    formats: dict[str, Any] | None = None,
    what: str = "",
) -> None:
    """Each DOM row shows the API's row: every cell's text is the API's value at that cell's data-field."""
    formats = formats or {}
    assert len(dom) == len(api), (what, len(dom), len(api))
    assert dom, f"{what}: an empty table proves nothing"
    for i, (seen, row) in enumerate(zip(dom, api, strict=True)):
        for name, text in seen.items():
            value = pick(row, name)
            want = formats[name](value) if name in formats else shown(value)
            assert text == want, (what, i, name, text, want)


def same_figures(dom: dict[str, str], api: dict[str, Any], what: str = "") -> None:
    assert dom, f"{what}: no figures"
    for name, text in dom.items():
        assert text == shown(pick(api, name)), (what, name, text, pick(api, name))
