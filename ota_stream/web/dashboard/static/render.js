// DOM helpers: figures, tables and charts. Values are printed as the API sent them (`text`), never recomputed.

export const EMPTY = "—";

export function text(value) {
  return value === null || value === undefined ? EMPTY : String(value);
}

export function pick(row, path) {
  return path.split(".").reduce((value, name) => (value == null ? value : value[name]), row);
}

// "k: v, k: v", in the order the API sent them.
export function pairs(map) {
  const entries = Object.entries(map ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : EMPTY;
}

export function element(tag, attributes = {}, content = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.textContent = content;
  return node;
}

// A <dl> of headline figures: fields are [name, label]; each <dd> carries data-field.
export function figures(list, data, fields) {
  list.replaceChildren();
  for (const [name, label] of fields) {
    const item = element("div", { class: "figure" });
    item.append(element("dt", {}, label), element("dd", { "data-field": name }, text(pick(data, name))));
    list.append(item);
  }
}

// A table: columns are [path, label, format?]; each <td> carries data-field=path.
export function table(holder, name, caption, columns, rows) {
  const result = element("table", { "data-table": name });
  result.append(element("caption", {}, caption));
  const head = result.createTHead().insertRow();
  for (const [, label] of columns) head.append(element("th", { scope: "col" }, label));
  const body = result.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const [path, , format] of columns) {
      const cell = line.insertCell();
      cell.dataset.field = path;
      (format ?? plain)(cell, pick(row, path), row);
    }
  }
  if (!rows.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = columns.length;
    cell.className = "none";
    cell.textContent = "No data in this window.";
  }
  holder.replaceChildren(result);
  return result;
}

function plain(cell, value) {
  cell.textContent = text(value);
  if (typeof value === "number") cell.className = "number";
}

// A percentage with a bar as wide as the API's own percentage; the number is the text.
export function bar(cell, value) {
  plain(cell, value);
  const meter = element("span", { class: "bar", "aria-hidden": "true" });
  meter.style.width = `${Math.min(100, Math.max(0, value ?? 0))}%`;
  cell.prepend(meter);
}

export function epoch(iso) {
  return Date.parse(iso) / 1000;
}

// Series are {label, values, style, scale?}; styles differ by dash and point size, not by colour alone.
export const STYLES = [
  { stroke: "#1f5fbf", dash: [], points: 6 },
  { stroke: "#b3261e", dash: [6, 4], points: 8 },
  { stroke: "#2e7d32", dash: [2, 3], points: 5 },
  { stroke: "#6a3d9a", dash: [10, 3, 2, 3], points: 7 },
  { stroke: "#8a5a00", dash: [1, 5], points: 9 },
];

export function chart(holder, label, xs, series, options = {}) {
  holder.replaceChildren();
  holder.setAttribute("role", "img");
  holder.setAttribute("aria-label", `${label}. The same numbers are in the table below.`);
  if (!xs.length || typeof uPlot === "undefined") return null;
  const opts = {
    width: Math.max(280, holder.clientWidth || 600),
    height: 220,
    scales: { x: { time: true } },
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"), // axes in UTC, as the tables
    axes: [{}, { label: options.yLabel ?? "" }, ...(options.axes ?? [])],
    series: [
      {},
      ...series.map(({ label: name, style, scale }) => ({
        label: name,
        scale: scale ?? "y",
        stroke: style.stroke,
        dash: style.dash,
        width: 2,
        points: { show: true, size: style.points, fill: style.stroke },
        spanGaps: options.spanGaps ?? false,
      })),
    ],
    legend: { live: false },
  };
  const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], holder);
  holder.uplot = plot;
  return plot;
}

// Charts follow the width of their panel.
addEventListener("resize", () => {
  for (const holder of document.querySelectorAll(".chart")) {
    holder.uplot?.setSize({ width: Math.max(280, holder.clientWidth), height: 220 });
  }
});
