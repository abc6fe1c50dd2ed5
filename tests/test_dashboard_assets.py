"""The dashboard's files ship in the wheel (nothing comes from a CDN), uPlot is the vendored npm release with its
licence, and the worker serves only the listed files, with the page's headers, without a key."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from aiohttp.test_utils import make_mocked_request

from ota_stream.auth.keys import KeyScope
from ota_stream.web import dashboard
from ota_stream.web.auth import required_scope
from tests.support.processes import ROOT

PACKAGE_DIR = "ota_stream/web/dashboard/static"


def test_every_asset_is_in_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("ota_stream-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if name.startswith(PACKAGE_DIR)}
    files = dashboard.assets()
    assert {"index.html", "app.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.LICENSE"} <= set(files)
    for name, path in files.items():
        assert shipped[f"{PACKAGE_DIR}/{name}"] == path.read_bytes(), name


def test_the_vendored_uplot_is_the_pinned_release_with_its_licence() -> None:
    vendor = ROOT / PACKAGE_DIR / "vendor"
    version = (vendor / "uPlot.VERSION").read_text().strip()
    script = (ROOT / "scripts" / "vendor-uplot.sh").read_text()
    assert f'VERSION="${{UPLOT_VERSION:-{version}}}"' in script
    banner = (vendor / "uPlot.iife.min.js").read_text()[:120]
    assert re.match(rf"/\*! https://github.com/leeoniya/uPlot \(v{re.escape(version)}\) \*/", banner), banner
    assert (vendor / "uPlot.LICENSE").read_text().startswith("The MIT License (MIT)")


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """Every src/href in the page is this worker's own path (or a data: icon), and the scripts import only
    relative modules."""
    files = dashboard.assets()
    page = files["index.html"].read_text()
    for link in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert link.startswith(("/dashboard/static/", "#", "data:")), link
        if link.startswith("/dashboard/static/"):
            assert link.removeprefix("/dashboard/static/") in files, link
    for name, path in files.items():
        if name.endswith(".js") and not name.startswith("vendor/"):
            for module in re.findall(r'from "([^"]+)"', path.read_text()):
                assert module.startswith("./") and module[2:] in files, (name, module)


def test_the_page_and_its_files_need_no_key_and_the_api_still_does() -> None:
    for path in ("/dashboard", *(f"/dashboard/static/{name}" for name in dashboard.assets())):
        assert required_scope(make_mocked_request("GET", path)) is None, path
    for path in ("/analytics/apps", "/live/acme/mobile/shop/now", "/analytics/releases/1.0/health"):
        assert required_scope(make_mocked_request("GET", path)) is KeyScope.READ, path
