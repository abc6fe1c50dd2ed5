"""The dashboard in a real headless Chromium against a real worker with keys required: every panel shows the API's
figures (and the API's equal the independent computation), live windows move after new events, a wrong or revoked
key is said so, no console errors. Screenshots go to docs/images/dashboard-*.png."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page

from tests.support import expected, expected_drilldown, expected_releases, expected_stability
from tests.support.browser import (
    PANELS,
    Console,
    chromium,
    pairs,
    panel,
    same_figures,
    same_table,
    wait_ready,
)
from tests.support.expected import Window, assert_same, unique
from tests.support.guards import RULES, decisions_of, failing, wait_guard_passes
from tests.support.keys import SECURED, make_key, revoke
from tests.support.live import expected_windows, recent_events
from tests.support.processes import ROOT, Kafka, Worker, unique_name, wait_for
from tests.support.receiver import receiving
from tests.support.scenario import Event, Scenario, rfc3339
from tests.support.worker_api import wait_processed

pytestmark = pytest.mark.e2e

IMAGES = ROOT / "docs" / "images"
TENANT, ORG, APP = "acme", "mobile", "shop"
APP_KEY = f"{TENANT}/{ORG}/{APP}"
WITH_CHARTS = ["live", "adoption", "curves", "active-devices", "performance"]
LIVE_SECONDS = 60  # LIVE_WINDOW_SECONDS's default
LIVE_SHOWN = 15  # the windows the page asks for (panels.js LIVE_WINDOWS)
# Guards evaluated every second, their decisions delivered to the test's own receiver on 127.0.0.1.
GUARDED = {"GUARD_EVALUATION_INTERVAL_SECONDS": "1", "ALERT_WEBHOOK_ALLOW_PRIVATE": "true"}


@dataclass
class Served:
    worker: Worker
    read_key: str
    ingest_key: str
    sent: list[Event]


def history() -> list[Event]:
    """The analytics scenario a day back (so none of it is in the live hour), and twenty minutes of live events
    for the app the page opens; every event carries an id, so that message samples can be checked."""
    past = Scenario(tenants=(TENANT,), orgs=(ORG,), apps=(APP, "chat"), devices_per_app=130, seed=21,
                    now=datetime.now(UTC) - timedelta(days=1)).build()  # fmt: skip
    recent = [{**e, "tenant_id": TENANT, "org_id": ORG} for e in recent_events([APP], 90, seed=5, minutes=20)]
    events = past + sessions(datetime.now(UTC)) + recent
    for i, event in enumerate(events):
        event.setdefault("event_id", f"dashboard-{i}")
    return events


CRASHES = [
    ("JS_FATAL", "TypeError: undefined is not an object"),
    ("JS_FATAL", "RangeError: Maximum call stack size exceeded"),
    ("ABNORMAL_EXIT", "the previous launch ended without a clean exit"),
    ("NATIVE_CRASH", "SIGSEGV"),
    (None, None),  # read `unknown`
]
CRASH_ODDS = {"1.0.0": 0.05, "1.1.0": 0.15, "1.2.0": 0.3}


def sessions(now: datetime) -> list[Event]:
    """Launches and crashes of the app the page opens, on the versions its releases ship, 3 to 28 days back: most
    launches timed, crashes of several kinds (one without code or message), some reported twice."""
    rng = random.Random(28)
    events: list[Event] = []
    for n in range(60):
        for i in range(rng.randint(1, 4)):
            version = rng.choice(list(CRASH_ODDS))
            at = now - timedelta(days=rng.uniform(3, 28))
            base = {"tenant_id": TENANT, "org_id": ORG, "app_id": APP, "device_id": f"stability-{n}",
                    "session_id": f"s-{n}-{i}", "release_info": {"current_version": version}}  # fmt: skip
            launch = {**base, "event_type": "app_launched", "timestamp": rfc3339(at)}
            if rng.random() < 0.8:
                launch["performance_metrics"] = {
                    "launch_duration_seconds": round(rng.lognormvariate(0.3, 0.5), 3)
                }
            events.append(launch)
            if rng.random() < CRASH_ODDS[version]:
                events += crash_reports(rng, base, at)
    return events


def crash_reports(rng: random.Random, base: Event, launched: datetime) -> list[Event]:
    """The crash of a session minutes after its launch, reported once or twice."""
    code, message = rng.choice(CRASHES)
    crash: Event = {**base, "event_type": "app_crashed"}
    if code is not None and message is not None:
        crash["error_info"] = {"error_code": code, "error_message": message}
    reports = range(rng.randint(1, 2))
    return [{**crash, "timestamp": rfc3339(launched + timedelta(minutes=3 + r))} for r in reports]


def send(served: Served, events: list[Event]) -> None:
    for i in range(0, len(events), 500):
        response = requests.post(f"{served.worker.url}/events/batch", json=events[i : i + 500],
                                 headers={"Authorization": f"Bearer {served.ingest_key}"}, timeout=30)  # fmt: skip
        assert response.status_code == 202 and response.json()["rejected"] == [], response.text[:300]
    served.sent += events
    wait_processed(served.worker, len(unique(served.sent)))


@pytest.fixture(scope="module")
def served(kafka: Kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {**SECURED, "RATE_LIMIT_READ_REQUESTS_PER_SECOND": "0", **GUARDED}
    worker = Worker(tmp_path_factory.mktemp("dashboard"), kafka, unique_name("ota-events"),
                    unique_name("ota-group"), env=env)  # fmt: skip
    worker.start()
    try:
        ready = Served(
            worker, make_key(worker, TENANT, "read")["key"], make_key(worker, TENANT, "ingest")["key"], []
        )
        send(ready, history())
        yield ready
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Console]]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    opened = context.new_page()
    console = Console()
    console.watch(opened)
    yield opened, console
    context.close()


def api(served: Served, path: str, key: str | None = None, **params: Any) -> Any:
    response = requests.get(f"{served.worker.url}{path}", params=params,
                            headers={"Authorization": f"Bearer {key or served.read_key}"}, timeout=60)  # fmt: skip
    assert response.status_code == 200, (path, response.text[:300])
    return response.json()["data"]


def sign_in(page: Page, served: Served, key: str) -> None:
    """Type the tenant and the key and press Enter, as a person would."""
    page.goto(f"{served.worker.url}/dashboard")
    page.get_by_label("Tenant").fill(TENANT)
    page.get_by_label("Read key").fill(key)
    page.get_by_label("Read key").press("Enter")


def open_app(page: Page, served: Served, key: str) -> None:
    sign_in(page, served, key)
    pick_app(page)


def pick_app(page: Page) -> None:
    page.wait_for_selector("#scope-form:not([hidden])")
    page.get_by_label("App").select_option(f"{ORG}/{APP}")  # the change loads this app at once
    page.wait_for_function("(app) => document.getElementById('status').textContent.includes(app)", arg=APP)
    wait_ready(page)


def analytics(served: Served, route: str, **extra: Any) -> Any:
    return api(served, f"/analytics/{route}", tenant_id=TENANT, org_id=ORG, app_id=APP, days=30, **extra)


STABILITY_COLUMNS = {
    "version", "sessions", "crashed_sessions", "crash_free_sessions_rate", "devices", "crashed_devices",
    "crash_free_devices_rate", "launch_duration_seconds.p50", "launch_duration_seconds.p95",
    "launch_duration_seconds.samples",
}  # fmt: skip


def columns(rows: list[dict[str, str]]) -> set[str]:
    """The fields a table of the page shows (same_table checks the cells there are, not the ones missing)."""
    return set(rows[0]) if rows else set()


def test_every_panel_shows_the_apis_figures(served: Served, page: tuple[Page, Console]) -> None:
    browser_page, console = page
    open_app(browser_page, served, served.read_key)
    now = datetime.now(UTC)
    window = Window(TENANT, now - timedelta(days=30), now, ORG, APP)
    seen = {name: panel(browser_page, name) for name in PANELS}
    for name in PANELS:
        assert seen[name]["state"] == "ready" and seen[name]["status"].startswith("Updated"), seen[name]
    for name in WITH_CHARTS:
        assert seen[name]["charts"] > 0, f"{name} has no chart"

    adoption = analytics(served, "adoption")
    assert_same(adoption, expected.adoption(served.sent, window))
    same_figures(seen["adoption"]["figures"], adoption, "adoption")
    same_table(seen["adoption"]["tables"]["hourly"], adoption["hourly_installs"], what="hourly")

    releases = analytics(served, "releases")
    assert_same(releases, expected_releases.releases(served.sent, window), "releases")
    gated = []
    for row in releases:
        health = analytics(served, f"releases/{row['version']}/health")
        assert_same(health, expected_releases.health(served.sent, window, row["version"]), "health")
        gated.append({**row, "health": health})
    reasons = {"health.reasons": lambda value: "; ".join(value) or "—"}
    same_table(seen["releases"]["tables"]["releases"], gated, reasons, "releases")
    assert {row["health"]["verdict"] for row in gated} >= {"fail"}  # a gate that bites is on the page
    assert columns(seen["releases"]["tables"]["releases"]) >= {
        "crash_free_sessions_rate",
        "crash_free_devices_rate",
    }
    assert any(0 < row["crash_free_sessions_rate"] < 100 for row in releases), (
        "the crash columns show crashes"
    )
    points = [{"version": r["version"], **p} for r in releases for p in r["adoption_curve"]]
    same_table(seen["curves"]["tables"]["curves"], points, what="curves")

    stability = analytics(served, "stability")
    assert_same(stability, expected_stability.stability(served.sent, window), "stability")
    same_table(seen["stability"]["tables"]["stability"], stability["versions"], what="stability")
    assert columns(seen["stability"]["tables"]["stability"]) == STABILITY_COLUMNS
    crashes = [{"version": v["version"], **c} for v in stability["versions"] for c in v["top_crashes"]]
    assert {c["error_code"] for c in crashes} >= {"JS_FATAL", "ABNORMAL_EXIT", "unknown"}, crashes
    same_table(seen["stability"]["tables"]["crashes"], crashes, what="top crashes")
    assert columns(seen["stability"]["tables"]["crashes"]) == {
        "version", "error_code", "error_message", "sessions", "devices",
    }  # fmt: skip

    versions = analytics(served, "versions")
    assert_same(versions, expected.versions(served.sent, window), "versions")
    same_figures(seen["versions"]["figures"], versions, "versions")
    same_table(seen["versions"]["tables"]["versions"], versions["versions"], what="versions")

    devices = analytics(served, "active-devices")
    assert_same(devices, expected.active_devices(served.sent, window), "active devices")
    same_figures(seen["active-devices"]["figures"], devices, "active devices")
    same_table(seen["active-devices"]["tables"]["daily"], devices["daily_active_devices"], what="daily")

    failures = analytics(served, "failures")
    assert_same(failures, expected.failures(served.sent, window), "failures")
    same_figures(seen["failures"]["figures"], failures, "failures")
    same_table(seen["failures"]["tables"]["breakdown"], failures["breakdown"], what="breakdown")
    messages = analytics(served, "failures/messages", limit=10)
    assert_same(messages, expected_drilldown.failure_messages(served.sent, window, limit=10), "messages")
    same_table(seen["failures"]["tables"]["messages"], messages, what="messages")

    performance = analytics(served, "performance")
    assert_same(performance, expected.performance(served.sent, window), "performance")
    summary = [performance[m] for m in expected.PERFORMANCE]
    rows = [{k: v for k, v in row.items() if k != "name"} for row in seen["performance"]["tables"]["summary"]]
    same_table(rows, summary, what="performance summary")
    same_table(seen["performance"]["tables"]["daily"], performance["daily"], what="performance daily")

    check_live(served, seen["live"])
    apps = api(served, "/analytics/apps", tenant_id=TENANT, days=365)
    assert_same(apps, expected_drilldown.apps(served.sent, Window(TENANT, now - timedelta(days=365), now)))
    options = browser_page.eval_on_selector_all("#app option", "(os) => os.map((o) => o.value)")
    assert options == [f"{a['org_id']}/{a['app_id']}" for a in apps]

    browser_page.screenshot(path=str(IMAGES / "dashboard-overview.png"), full_page=True)
    assert console.errors == []


def live_rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return windows[:LIVE_SHOWN]


LIVE_FORMATS = {name: pairs for name in ("counts", "installs_by_version", "failures_by_error")}


def check_live(served: Served, seen: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's live table is the API's, and the API's is the independent computation."""
    windows = api(served, f"/live/{APP_KEY}/windows", last=LIVE_SHOWN)["windows"]
    assert windows == expected_windows(served.sent, APP_KEY, LIVE_SECONDS)[:LIVE_SHOWN]
    same_table(seen["tables"]["windows"], windows, LIVE_FORMATS, "live windows")
    return list(windows)


def test_live_windows_move_after_new_events(served: Served, page: tuple[Page, Console]) -> None:
    browser_page, console = page
    open_app(browser_page, served, served.read_key)
    before = panel(browser_page, "live")
    check_live(served, before)
    now = datetime.now(UTC)
    new = [
        {"tenant_id": TENANT, "org_id": ORG, "app_id": APP, "device_id": f"fresh-{i}", "event_id": f"fresh-{i}",
         "event_type": "update_failed" if i % 3 == 1 else "update_installed", "target_version": "9.9.9",
         "error_code": "E_FRESH", "timestamp": rfc3339(now - timedelta(seconds=i))}
        for i in range(12)
    ]  # fmt: skip
    # fresh-0, the newest, is an install: the newest window shows 9.9.9 wherever a minute starts
    send(served, new)
    want = expected_windows(served.sent, APP_KEY, LIVE_SECONDS)[:LIVE_SHOWN]

    def moved() -> bool:
        rows = panel(browser_page, "live")["tables"]["windows"]
        return len(rows) == len(want) and rows[0]["installs_by_version"] == pairs(
            want[0]["installs_by_version"]
        )

    wait_for(moved, 60, "the live table to show the new events")  # the page refreshes every 5 s by itself
    after = panel(browser_page, "live")
    assert after["tables"]["windows"] != before["tables"]["windows"]
    assert "9.9.9: " in after["tables"]["windows"][0]["installs_by_version"]
    check_live(served, after)
    current = api(served, f"/live/{APP_KEY}/now")
    if current["window"]["start"] == after["figures"]["start"]:  # the same window as the page's last refresh
        same_figures(after["figures"], {**current["window"], "window_seconds": current["window_seconds"]})
    browser_page.locator("#live").screenshot(path=str(IMAGES / "dashboard-live.png"))
    assert console.errors == []


def test_a_wrong_key_is_said_so(served: Served, page: tuple[Page, Console]) -> None:
    browser_page, console = page
    sign_in(browser_page, served, f"ota_{'0' * 16}_{'A' * 43}")
    alert = browser_page.get_by_role("alert")
    alert.wait_for()
    assert "401" in alert.inner_text() and "unknown or revoked key" in alert.inner_text()
    assert browser_page.locator("#main").is_hidden()
    browser_page.screenshot(path=str(IMAGES / "dashboard-wrong-key.png"))
    assert console.errors and all("status of 401" in e for e in console.errors), console.errors


def test_a_revoked_key_leaves_stale_figures_marked(served: Served, page: tuple[Page, Console]) -> None:
    browser_page, console = page
    doomed = make_key(served.worker, TENANT, "read")
    open_app(browser_page, served, doomed["key"])
    stored = browser_page.evaluate("() => [sessionStorage.length, localStorage.length, document.cookie]")
    assert stored == [1, 0, ""]  # the key lives in this tab's session only
    revoke(served.worker, doomed["key_id"])
    browser_page.wait_for_function(
        "() => document.getElementById('live').dataset.stale === 'true'", timeout=60_000
    )
    live = panel(browser_page, "live")
    assert live["status"].startswith("Stale: showing the figures of") and "401" in live["status"], live
    assert live["tables"]["windows"], "the last figures stay on the page"
    assert "401" in browser_page.get_by_role("alert").inner_text()
    assert all("status of 401" in e for e in console.errors), console.errors


def test_accessible_basics(served: Served, page: tuple[Page, Console]) -> None:
    browser_page, console = page
    open_app(browser_page, served, served.read_key)
    unlabelled = browser_page.evaluate(
        "() => [...document.querySelectorAll('input, select')].filter((e) => !e.labels.length).map((e) => e.id)"
    )
    assert unlabelled == []
    assert browser_page.evaluate(
        "() => [...document.querySelectorAll('table[data-table]')].every((t) => t.caption)"
    )
    charts = browser_page.eval_on_selector_all(".chart", "(cs) => cs.map((c) => [c.role, c.ariaLabel])")
    assert charts and all(role == "img" and label for role, label in charts), charts
    verdicts = browser_page.eval_on_selector_all(
        "td[data-verdict]", "(cs) => cs.map((c) => getComputedStyle(c, '::before').content)"
    )
    assert verdicts and all(v not in ("none", "normal", "") for v in verdicts)  # a symbol, not colour alone
    browser_page.reload()  # from the top of the page; the key in session storage opens the app again
    wait_ready(browser_page)
    stops = []
    for _ in range(8):
        browser_page.keyboard.press("Tab")
        stops.append(
            browser_page.evaluate("() => document.activeElement.id || document.activeElement.textContent")
        )
    assert stops == ["Skip to the figures", "tenant", "key", "Open", "forget", "app", "days", "Refresh"], (
        stops
    )
    browser_page.evaluate("() => { document.querySelector('#adoption dd').dataset.old = 'yes'; }")
    browser_page.keyboard.press("Enter")  # Refresh, from the keyboard: the figures are drawn anew
    browser_page.wait_for_function("() => !document.querySelector('#adoption dd[data-old]')")
    wait_ready(browser_page)
    assert console.errors == []


def test_assets_are_the_packages_and_open(served: Served, page: tuple[Page, Console]) -> None:
    """Every file the page loads is served by the worker without a key; measures the page's size and load."""
    browser_page, console = page
    loaded: list[str] = []
    browser_page.on("request", lambda r: loaded.append(r.url))
    browser_page.goto(f"{served.worker.url}/dashboard")
    browser_page.wait_for_load_state("load")
    files = [u for u in loaded if "/dashboard" in u]
    assert all(u.startswith(served.worker.url) for u in loaded), loaded  # nothing from elsewhere
    sizes = browser_page.evaluate(
        """() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
                 .map((e) => [e.name, e.encodedBodySize, e.decodedBodySize])"""
    )
    total = sum(size for _, size, _ in sizes)
    assert len(files) == len(sizes) == 8 and total > 50_000, (files, sizes)
    load_ms = browser_page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    browser_page.get_by_label("Tenant").fill(TENANT)
    browser_page.get_by_label("Read key").fill(served.read_key)
    browser_page.get_by_label("Read key").press("Enter")
    pick_app(browser_page)
    started, before = time.perf_counter(), len(loaded)
    browser_page.reload()  # the key is in session storage: the page opens the app by itself
    wait_ready(browser_page)
    figures_ms = browser_page.evaluate("performance.now()")
    wall_ms = (time.perf_counter() - started) * 1000
    calls = sum(1 for u in loaded[before:] if "/analytics/" in u or "/live/" in u)
    slowest = browser_page.evaluate(
        """() => Math.max(...performance.getEntriesByType('resource')
                   .filter((e) => /[/](analytics|live)[/]/.test(e.name)).map((e) => e.duration))"""
    )
    print(
        f"\ndashboard assets: {len(sizes)} files, {total} bytes; load event {load_ms:.0f} ms; every panel filled "
        f"{figures_ms:.0f} ms after navigation ({wall_ms:.0f} ms wall); {calls} API calls, the slowest "
        f"{slowest:.0f} ms; {len(unique(served.sent))} events stored"
    )
    for path in ("/dashboard", "/dashboard/static/vendor/uPlot.LICENSE"):
        response = requests.get(f"{served.worker.url}{path}", timeout=30)
        assert response.status_code == 200 and "Content-Security-Policy" in response.headers
    missing = requests.get(f"{served.worker.url}/dashboard/static/../../app.py", timeout=30)
    assert missing.status_code == 404
    assert console.errors == []


def test_the_guards_panel_shows_the_apps_guards_and_their_decisions(
    served: Served, page: tuple[Page, Console]
) -> None:
    """Guards are read with the admin scope: ticked with a read+admin key, the panel shows the app's guards and
    their decisions as /admin/guards answers; ticked with a read key, it says the key may not."""
    browser_page, console = page
    worker = served.worker
    admin = make_key(worker, TENANT, "read", "admin")["key"]
    headers = {"Authorization": f"Bearer {admin}"}
    with receiving() as receiver:
        body: dict[str, Any] = {"tenant_id": TENANT, "org_id": ORG, "app_id": APP, "action": "pause",
                                "rules": RULES, "webhook_url": f"{receiver.url}/guard"}  # fmt: skip
        made = requests.post(f"{worker.url}/admin/guards", json=body, headers=headers, timeout=30)
        assert made.status_code == 201, made.text
        guard = {k: v for k, v in made.json()["data"].items() if k != "secret"}
        # The history's releases were first seen over 30 days ago, beyond any guard's watch: a new one fails.
        send(served, [{**event, "tenant_id": TENANT, "org_id": ORG} for event in failing(APP, "7.7.7")])

        def delivered() -> list[dict[str, Any]]:
            found = decisions_of(worker, guard["guard_id"], headers)
            return found if found and all(d["delivery"] == "delivered" for d in found) else []

        wait_for(delivered, 120, "a decision delivered")
        wait_guard_passes(2, worker)  # a whole pass since: every failing version watched is decided
        decisions = wait_for(delivered, 120, "every decision delivered")
        assert "7.7.7" in {d["version"] for d in decisions}
        sent = {p.payload["decision_id"] for p in receiver.at("/guard")}
        assert {d["decision_id"] for d in decisions} == sent
    open_app(browser_page, served, admin)
    browser_page.get_by_label("Rollout guards (a key with the admin scope)").check()
    browser_page.wait_for_function("() => document.getElementById('guards').dataset.state === 'ready'")
    seen = panel(browser_page, "guards")
    same_table(seen["tables"]["guards"], [guard], what="guards")
    reasons = {"health.reasons": lambda value: "; ".join(value) or "—"}
    same_table(seen["tables"]["decisions"], decisions, reasons, "decisions")
    assert columns(seen["tables"]["decisions"]) >= {"version", "decision", "delivery", "health.verdict"}
    browser_page.locator("#guards").screenshot(path=str(IMAGES / "dashboard-guards.png"))
    assert console.errors == []

    # A read key cannot read guards: ticked, the panel says so; the other panels are as before.
    browser_page.get_by_role("button", name="Forget the key").click()
    open_app(browser_page, served, served.read_key)
    browser_page.get_by_label("Rollout guards (a key with the admin scope)").check()
    browser_page.wait_for_function("() => document.getElementById('guards').dataset.state === 'error'")
    assert "403" in panel(browser_page, "guards")["status"]
    assert console.errors and all("status of 403" in e for e in console.errors), console.errors
    assert requests.delete(f"{worker.url}/admin/guards/{guard['guard_id']}", headers=headers, timeout=30).ok
