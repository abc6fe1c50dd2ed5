"""The documentation stays true to the repository, cheaply (no broker, no worker).

- Every relative link in README.md and docs/*.md points at a file of the repository, and an anchor at a heading.
- No page sends readers outside the repository.
- Every metric and route that the code defines is documented where readers look for it (settings: in
  tests/test_config_docs.py, against the models).
- The README's layout names every top-level directory, and every module and subpackage of `ota_stream`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from ota_stream import metrics
from ota_stream.web.openapi import document

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# Pages other engineers are writing while this test is written: links to them may dangle until they land.
# Empty this set once they are all merged.
ALLOWED_MISSING: frozenset[str] = frozenset()

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*```")


def _prose(text: str) -> str:
    """The page without its fenced code blocks (a shell example may hold `[x](y)` or a `#` comment)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(page.read_text()).splitlines():
        match = _HEADING.match(line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _links(page: Path) -> list[str]:
    return [
        target
        for target in _LINK.findall(_prose(page.read_text()))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        relative = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            if relative not in ALLOWED_MISSING:
                broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {relative}")
    assert not broken, broken


def test_the_allowed_missing_pages_are_linked_from_the_readme() -> None:
    """The set of pages that may be missing lists only pages the README does link (so it can only shrink)."""
    linked = {
        (ROOT / link.partition("#")[0]).resolve().relative_to(ROOT).as_posix() for link in _links(README)
    }
    assert linked >= ALLOWED_MISSING


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_outside_the_repository(page: Path) -> None:
    text = page.read_text()
    for outside in ("../shared", "/work/", "spec.md"):
        assert outside not in text, f"{page.relative_to(ROOT)} mentions {outside}"


def _metric_names() -> set[str]:
    """The exported names of `ota_stream.metrics` (prometheus_client adds `_total` to a counter's name)."""
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name  # no public accessor
            names.add(f"{name}_total" if value._type == "counter" else name)
    return names


def test_every_metric_is_in_metrics_md() -> None:
    names = _metric_names()
    assert "ota_pipeline_stalled" in names and "ota_ingest_accepted_total" in names  # the collection works
    text = (DOCS / "metrics.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, missing


def test_every_route_is_in_api_md() -> None:
    paths = set(document(61, True)["paths"])
    assert "/events" in paths and "/admin/keys" in paths  # the document was read
    text = (DOCS / "api.md").read_text()
    missing = sorted(
        path for path in {*paths, "/openapi.json"} if f"`{path}`" not in text and f" {path}`" not in text
    )
    assert not missing, missing


def _layout() -> str:
    text = README.read_text()
    start = text.index("## Layout")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def _names(text: str, name: str) -> bool:
    """Whether `text` holds `name` as a word (a directory `x/` may go on, as in `x/y/`)."""
    end = "" if name.endswith("/") else r"(?!\w)"
    return re.search(rf"(?<![\w.]){re.escape(name)}{end}", text) is not None


def test_the_readme_layout_matches_the_tree() -> None:
    layout = _layout()
    tracked = _tracked()
    expected: set[str] = set()
    for path in tracked:
        parts = path.split("/")
        if len(parts) > 1:
            expected.add(parts[0] + "/")  # every top-level directory
        if parts[0] == "ota_stream" and parts[-1].endswith(".py") and parts[-1] != "__init__.py":
            if len(parts) == 2:
                expected.add(parts[1])  # a top-level module: `config.py`
            else:
                expected.update(f"{part}/" for part in parts[1:-1])  # its subpackages: `queries/`
                expected.add(parts[-1].removesuffix(".py"))  # a module of a subpackage, by name
    missing = sorted(name for name in expected if not _names(layout, name))
    assert not missing, f"the README's Layout section does not name {missing}"


# The citation looked for, spelt so that this file does not hold it: "spec", a space, the section sign, a number.
SECTION_SIGN = "\N{SECTION SIGN}"
_SPEC_CITATION = re.compile(rf"\bspec {SECTION_SIGN}\s*\d|(?<!\d )(?<!\d){SECTION_SIGN}\s*\d", re.IGNORECASE)


def spec_citations(text: str) -> list[str]:
    """Lines citing a section of the specification, which is not in the repository (an RFC's section, cited after
    the RFC's number, is not one)."""
    return [line.strip() for line in text.splitlines() if _SPEC_CITATION.search(line)]


def test_no_file_cites_the_specification_by_section() -> None:
    """docs/ is the contract, linked by section: a reader cannot follow a citation of a document that is not here."""
    found = []
    for path in _tracked():
        try:
            text = (ROOT / path).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary (images), or deleted in the work tree
        found += [f"{path}: {line}" for line in spec_citations(text)]
    assert not found, "\n".join(found)


def test_the_citation_check_finds_each_form() -> None:
    sign = SECTION_SIGN
    cited = [f"Alerts (spec {sign}10)", f"a draft {sign}1 event", f"Spec {sign}3: round", f"({sign}8)"]
    assert [spec_citations(line) for line in cited] == [[line] for line in cited]
    assert spec_citations(f"Retry-After (RFC 9110 {sign}10.2.3)") == []
