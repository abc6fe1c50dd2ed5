// One loader per panel: fetch its routes, then draw figures, a chart and the tables that hold the chart's numbers.

import { STYLES, bar, chart, element, epoch, figures, pairs, table, text } from "./render.js";

function parts(section) {
  return {
    figures: section.querySelector(".figures"),
    chart: section.querySelector(".chart"),
    tables: section.querySelector(".tables"),
  };
}

// A table inside a <details>, for the numbers behind a chart.
function numbers(holder, summary, ...args) {
  const details = element("details");
  details.append(element("summary", {}, summary));
  const inner = element("div");
  details.append(inner);
  holder.append(details);
  return table(inner, ...args);
}

function block(holder) {
  const inner = element("div");
  holder.append(inner);
  return inner;
}

const time = (cell, value) => {
  cell.replaceChildren(element("time", { datetime: value ?? "" }, text(value)));
};

const verdict = (cell, value, row) => {
  cell.dataset.verdict = value ?? "unknown";
  cell.textContent = text(value);
  if (row.reasons?.length) cell.title = row.reasons.join("; ");
};

const reasons = (cell, value) => {
  cell.textContent = value?.length ? value.join("; ") : "—";
};

export async function adoption(api, scope, section) {
  const data = await api.analytics("adoption", scope);
  const { figures: list, chart: plot, tables } = parts(section);
  figures(list, data, [
    ["total_updates", "Updates"],
    ["successful_updates", "Installed"],
    ["failed_updates", "Failed"],
    ["success_rate", "Success rate (%)"],
    ["rollbacks", "Rollbacks"],
    ["unique_devices_updated", "Devices updated"],
  ]);
  const hours = data.hourly_installs;
  chart(plot, "Hourly installs and failures", hours.map((h) => epoch(h.hour)), [
    { label: "Installs", style: STYLES[0], values: hours.map((h) => h.installs) },
    { label: "Failures", style: STYLES[1], values: hours.map((h) => h.failures) },
  ], { yLabel: "events per hour" });
  tables.replaceChildren();
  numbers(tables, "Hourly installs and failures as a table", "hourly", "Installs and failures per UTC hour", [
    ["hour", "Hour (UTC)", time], ["installs", "Installs"], ["failures", "Failures"],
  ], hours);
}

export async function releases(api, scope, section, curvesSection) {
  const rows = await api.analytics("releases", scope);
  const health = await Promise.all(
    rows.map((r) => api.analytics(`releases/${encodeURIComponent(r.version)}/health`, scope)),
  );
  const gated = rows.map((row, i) => ({ ...row, health: health[i] }));
  const { tables } = parts(section);
  table(tables, "releases", "Releases, newest first, with the health gate's verdict", [
    ["version", "Version"],
    ["health.verdict", "Verdict", (cell, value, row) => verdict(cell, value, row.health)],
    ["first_seen", "First seen", time],
    ["devices_attempted", "Attempted"],
    ["devices_installed", "Installed"],
    ["devices_failed", "Failed"],
    ["devices_rolled_back", "Rolled back"],
    ["install_success_rate", "Success rate (%)"],
    ["rollback_rate", "Rollback rate (%)"],
    ["crash_free_sessions_rate", "Crash-free sessions (%)"],
    ["crash_free_devices_rate", "Crash-free devices (%)"],
    ["install_duration_seconds.p50", "Install p50 (s)"],
    ["install_duration_seconds.p95", "Install p95 (s)"],
    ["time_to_50_percent_seconds", "To 50% (s)"],
    ["time_to_90_percent_seconds", "To 90% (s)"],
    ["health.reasons", "Reasons", reasons],
  ], gated);
  curves(rows, parts(curvesSection));
}

// The adoption curves: one line per release, the share of the window's active devices that installed it.
function curves(rows, { chart: plot, tables }) {
  const shown = rows.slice(0, STYLES.length);
  const hours = [...new Set(shown.flatMap((r) => r.adoption_curve.map((p) => p.hour)))].sort();
  const series = shown.map((r, i) => {
    const byHour = new Map(r.adoption_curve.map((p) => [p.hour, p.share_of_active_devices]));
    return { label: r.version, style: STYLES[i], values: hours.map((h) => byHour.get(h) ?? null) };
  });
  chart(plot, "Adoption curves: share of active devices (%) per release", hours.map(epoch), series,
    { yLabel: "% of active devices", spanGaps: true });
  const points = rows.flatMap((r) => r.adoption_curve.map((p) => ({ version: r.version, ...p })));
  tables.replaceChildren();
  numbers(tables, "Adoption curves as a table", "curves", "Cumulative installs per release and hour", [
    ["version", "Version"], ["hour", "Hour (UTC)", time],
    ["devices_installed_cumulative", "Devices installed (cumulative)"],
    ["share_of_active_devices", "Share of active devices (%)"],
  ], points);
}

// Sessions and crashes per running version, and each version's top crashes: /analytics/stability as it answers.
export async function stability(api, scope, section) {
  const data = await api.analytics("stability", scope);
  const { tables } = parts(section);
  tables.replaceChildren();
  table(block(tables), "stability", "Sessions and crashes per running version, most sessions first", [
    ["version", "Version"],
    ["sessions", "Sessions"],
    ["crashed_sessions", "Crashed sessions"],
    ["crash_free_sessions_rate", "Crash-free sessions (%)", bar],
    ["devices", "Devices"],
    ["crashed_devices", "Crashed devices"],
    ["crash_free_devices_rate", "Crash-free devices (%)", bar],
    ["launch_duration_seconds.p50", "Launch p50 (s)"],
    ["launch_duration_seconds.p95", "Launch p95 (s)"],
    ["launch_duration_seconds.samples", "Launches timed"],
  ], data.versions);
  const crashes = data.versions.flatMap((v) => v.top_crashes.map((crash) => ({ version: v.version, ...crash })));
  table(block(tables), "crashes", "Top crashes of each version (at most 5), by sessions", [
    ["version", "Version"], ["error_code", "Error code"], ["error_message", "Message"],
    ["sessions", "Sessions"], ["devices", "Devices"],
  ], crashes);
}

export async function versions(api, scope, section) {
  const data = await api.analytics("versions", scope);
  const { figures: list, tables } = parts(section);
  figures(list, data, [["total_devices", "Devices with a known version"]]);
  table(tables, "versions", "Current version of the devices active in the window", [
    ["version", "Version"], ["device_count", "Devices"], ["percentage", "Share (%)", bar],
  ], data.versions);
}

export async function activeDevices(api, scope, section) {
  const data = await api.analytics("active-devices", scope);
  const { figures: list, chart: plot, tables } = parts(section);
  figures(list, data, [["total_active_devices", "Active devices in the window"]]);
  const days = data.daily_active_devices;
  chart(plot, "Daily active devices", days.map((d) => epoch(`${d.date}T00:00:00Z`)), [
    { label: "Active devices", style: STYLES[0], values: days.map((d) => d.active_devices) },
  ], { yLabel: "devices" });
  tables.replaceChildren();
  numbers(tables, "Daily active devices as a table", "daily", "Distinct devices per UTC day", [
    ["date", "Day (UTC)", time], ["active_devices", "Active devices"],
  ], days);
}

export async function failures(api, scope, section, groupBy) {
  const [data, messages] = await Promise.all([
    api.analytics("failures", scope, { group_by: groupBy }),
    api.analytics("failures/messages", scope, { limit: 10 }),
  ]);
  const { figures: list, tables } = parts(section);
  figures(list, data, [
    ["total_failures", "Failures"],
    ["failure_rate", "Failure rate (%)"],
    ["affected_devices", "Devices affected"],
    ["rollbacks", "Rollbacks"],
  ]);
  tables.replaceChildren();
  table(block(tables), "breakdown", `Failures by ${data.group_by}`, [
    ["key", data.group_by], ["count", "Failures"], ["affected_devices", "Devices"],
    ["percentage", "Share (%)", bar],
  ], data.breakdown);
  table(block(tables), "messages", "Most frequent error messages", [
    ["error_code", "Error code"], ["error_message", "Message"], ["count", "Failures"],
    ["affected_devices", "Devices"], ["last_seen", "Last seen", time],
  ], messages);
}

const METRICS = [
  ["download_speed_mbps", "Download speed (Mbit/s)"],
  ["download_duration_seconds", "Download duration (s)"],
  ["install_duration_seconds", "Install duration (s)"],
  ["package_size_bytes", "Package size (bytes)"],
];

export async function performance(api, scope, section) {
  const data = await api.analytics("performance", scope);
  const { chart: plot, tables } = parts(section);
  const days = data.daily;
  chart(plot, "Daily averages: download speed and install duration", days.map((d) => epoch(`${d.date}T00:00:00Z`)), [
    { label: "Avg download speed (Mbit/s)", style: STYLES[0], values: days.map((d) => d.avg_download_speed_mbps) },
    { label: "Avg install duration (s)", style: STYLES[1], scale: "s",
      values: days.map((d) => d.avg_install_duration_seconds) },
  ], { yLabel: "Mbit/s", axes: [{ scale: "s", side: 1, label: "seconds", grid: { show: false } }] });
  tables.replaceChildren();
  table(block(tables), "summary", "Average, median and 95th percentile", [
    ["name", "Measure"], ["avg", "Average"], ["p50", "p50"], ["p95", "p95"], ["samples", "Samples"],
  ], METRICS.map(([field, name]) => ({ field, name, ...data[field] })));
  numbers(tables, "Daily averages as a table", "daily", "Averages per UTC day", [
    ["date", "Day (UTC)", time], ["avg_download_speed_mbps", "Avg download speed (Mbit/s)"],
    ["avg_install_duration_seconds", "Avg install duration (s)"],
  ], days);
}

export const LIVE_WINDOWS = 15;

export async function live(api, scope, section) {
  const [now, recent] = await Promise.all([
    api.live(scope, "now"),
    api.live(scope, "windows", { last: LIVE_WINDOWS }),
  ]);
  const { figures: list, chart: plot, tables } = parts(section);
  const current = now.window;
  figures(list, { ...current, window_seconds: now.window_seconds }, [
    ["start", "Current window from"],
    ["window_seconds", "Window (s)"],
    ["counts.update_installed", "Installs now"],
    ["counts.update_failed", "Failures now"],
    ["active_devices", "Active devices now"],
  ]);
  const windows = recent.windows;
  const oldestFirst = [...windows].reverse();
  chart(plot, "Installs and failures per live window", oldestFirst.map((w) => epoch(w.start)), [
    { label: "Installs", style: STYLES[0], values: oldestFirst.map((w) => w.counts.update_installed ?? 0) },
    { label: "Failures", style: STYLES[1], values: oldestFirst.map((w) => w.counts.update_failed ?? 0) },
  ], { yLabel: "events per window" });
  const show = (cell, value) => { cell.textContent = pairs(value); };
  table(tables, "windows", `The newest ${LIVE_WINDOWS} windows with data, newest first`, [
    ["start", "Start (UTC)", time], ["end", "End (UTC)", time], ["counts", "Events by type", show],
    ["installs_by_version", "Installs by version", show], ["failures_by_error", "Failures by error", show],
    ["active_devices", "Active devices"],
  ], windows);
}

// The app's rollout guards and their decisions (/admin/guards): read with the admin scope, so loaded only when
// the person ticks them (app.js); a key without that scope is told so, like any other refusal.
export async function guards(api, scope, section) {
  const all = await api.forScope(scope, "/admin/guards", { tenant_id: api.tenant });
  const mine = all.filter((g) => g.org_id === scope.org && g.app_id === scope.app);
  const made = await Promise.all(
    mine.map((g) => api.forScope(scope, `/admin/guards/${encodeURIComponent(g.guard_id)}/decisions`)),
  );
  const { tables } = parts(section);
  tables.replaceChildren();
  table(block(tables), "guards", "Guards of this app, oldest first", [
    ["guard_id", "Guard"], ["action", "Action"], ["channel", "Channel"], ["watch_hours", "Watches (h)"],
    ["rules.max_failure_rate", "Max failure rate (%)"], ["rules.max_rollback_rate", "Max rollback rate (%)"],
    ["rules.min_devices", "Min devices"], ["created_at", "Created", time],
  ], mine);
  table(block(tables), "decisions", "Their decisions, by guard, oldest first", [
    ["guard_id", "Guard"], ["version", "Version"], ["decision", "Decision"],
    ["health.verdict", "Verdict", (cell, value, row) => verdict(cell, value, row.health)],
    ["health.devices_attempted", "Attempted"], ["health.failure_rate", "Failure rate (%)"],
    ["decided_at", "Decided", time], ["delivery", "Delivery"], ["delivered_at", "Delivered", time],
    ["health.reasons", "Reasons", reasons],
  ], made.flat());
}
