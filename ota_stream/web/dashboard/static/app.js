// The page: a read key kept in session storage, an app and a window, the panels, and the live refresh.

import { Api, ApiFailure, Superseded } from "./api.js";
import * as panels from "./panels.js";

const STORE = "ota-stream.dashboard";
const LIVE_SECONDS = 5;
const STALE_SECONDS = 3 * LIVE_SECONDS; // live data older than three refreshes is marked stale
const APPS_DAYS = 365; // the picker lists every app with events in the longest window

const $ = (id) => document.getElementById(id);
const lastGood = new Map(); // section id -> when it last loaded
let api = null;
let scope = null;
let liveRound = 0;

function saved() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE)) ?? {};
  } catch {
    return {};
  }
}

function save(values) {
  sessionStorage.setItem(STORE, JSON.stringify({ ...saved(), ...values }));
}

function clock(date) {
  return `${date.toISOString().slice(11, 19)} UTC`;
}

function describe(error) {
  if (!(error instanceof ApiFailure)) return `The page failed: ${error.message}`;
  if (error.status === 401) return `The key was refused (${error.describe()}). Enter a read key.`;
  if (error.status === 403) return `This key may not read that (${error.describe()}).`;
  if (error.status === 429) return `Too many requests; retrying later (${error.describe()}).`;
  return `A request failed (${error.describe()}).`;
}

function showAlert(message) {
  $("alert").textContent = message;
  $("alert").hidden = !message;
}

// Load one panel (and the sections it also fills); on failure keep its last figures and say they are stale.
async function run(ids, load, ...more) {
  const sections = ids.map($);
  try {
    await load(api, scope, ...sections, ...more);
    const now = new Date();
    for (const section of sections) {
      lastGood.set(section.id, now);
      section.dataset.state = "ready";
      section.dataset.stale = "false";
      section.querySelector(".panel-status").textContent = `Updated ${clock(now)}`;
    }
    return null;
  } catch (error) {
    if (error instanceof Superseded) return null;
    if (!(error instanceof ApiFailure)) console.error(error); // a fault of the page itself
    for (const section of sections) {
      const when = lastGood.get(section.id);
      section.dataset.state = "error";
      section.dataset.stale = String(Boolean(when));
      section.querySelector(".panel-status").textContent = when
        ? `Stale: showing the figures of ${clock(when)}. ${describe(error)}`
        : describe(error);
    }
    return error;
  }
}

async function loadAnalytics() {
  const failed = await Promise.all([
    run(["adoption"], panels.adoption),
    run(["releases", "curves"], panels.releases),
    run(["stability"], panels.stability),
    run(["versions"], panels.versions),
    run(["active-devices"], panels.activeDevices),
    run(["failures"], panels.failures, $("group-by").value),
    run(["performance"], panels.performance),
    loadGuards(),
  ]);
  const first = failed.find(Boolean);
  showAlert(first ? describe(first) : "");
}

// Guards need the admin scope, which a read key lacks: the panel is asked for, never tried on every key.
function loadGuards() {
  const wanted = $("show-guards").checked;
  $("guards").hidden = !wanted;
  return wanted ? run(["guards"], panels.guards) : null;
}

function startLive() {
  const round = ++liveRound;
  const tick = async () => {
    if (round !== liveRound) return;
    const error = await run(["live"], panels.live);
    if (error) showAlert(describe(error));
    if (round === liveRound) setTimeout(tick, LIVE_SECONDS * 1000);
  };
  tick();
}

// Live figures that have not refreshed for STALE_SECONDS say so, whatever the reason (a hung request included).
function watchStaleness() {
  const section = $("live");
  const when = lastGood.get("live");
  if (!api || !when || section.dataset.state !== "ready") return;
  const age = Math.round((Date.now() - when.getTime()) / 1000);
  const stale = age > STALE_SECONDS;
  section.dataset.stale = String(stale);
  section.querySelector(".panel-status").textContent = stale
    ? `Stale: last updated ${clock(when)}, ${age} s ago.`
    : `Updated ${clock(when)}; refreshes every ${LIVE_SECONDS} s.`;
}

async function show() {
  const [org, app] = $("app").value.split("/");
  if (scope) scope.replaced = true; // answers still on their way for the old choice are dropped
  scope = { org, app, days: $("days").value };
  lastGood.clear();
  for (const section of document.querySelectorAll(".panel")) {
    section.dataset.state = "loading";
    section.querySelector(".panel-status").textContent = "Loading…";
  }
  save({ app: $("app").value, days: scope.days });
  $("status").textContent = `Tenant ${api.tenant}, app ${org} / ${app}, the last ${scope.days} days.`;
  $("main").hidden = false;
  startLive();
  await loadAnalytics();
}

function close() {
  api = null;
  if (scope) scope.replaced = true;
  scope = null;
  liveRound += 1;
  lastGood.clear();
  $("main").hidden = true;
  $("scope-form").hidden = true;
  $("status").textContent = "";
}

async function open(tenant, key) {
  close();
  showAlert("");
  api = new Api(tenant, key);
  $("status").textContent = "Loading the apps…";
  let apps;
  try {
    apps = await api.analytics("apps", { days: APPS_DAYS });
  } catch (error) {
    close();
    showAlert(describe(error));
    $("key").focus();
    return;
  }
  save({ tenant, key });
  const picker = $("app");
  picker.replaceChildren(
    ...apps.map((a) => new Option(`${a.org_id} / ${a.app_id} (${a.events} events)`, `${a.org_id}/${a.app_id}`)),
  );
  if (!apps.length) {
    $("status").textContent = `No app of tenant ${tenant} has events in the last ${APPS_DAYS} days.`;
    return;
  }
  const { app, days, guards } = saved();
  if (apps.some((a) => `${a.org_id}/${a.app_id}` === app)) picker.value = app;
  if (days) $("days").value = days;
  $("show-guards").checked = Boolean(guards);
  $("scope-form").hidden = false;
  await show();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  open($("tenant").value.trim(), $("key").value.trim());
});
$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(STORE);
  $("key").value = "";
  close();
  showAlert("");
  $("key").focus();
});
$("scope-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
$("app").addEventListener("change", show);
$("days").addEventListener("change", show);
$("show-guards").addEventListener("change", async () => {
  save({ guards: $("show-guards").checked });
  const error = await loadGuards();
  if (error) showAlert(describe(error));
});
$("group-by").addEventListener("change", () => run(["failures"], panels.failures, $("group-by").value));
setInterval(watchStaleness, 1000);

const { tenant, key } = saved();
if (tenant && key) {
  $("tenant").value = tenant;
  $("key").value = key;
  open(tenant, key);
}
